"""`harmoniq seq build|check`: one .seq per protocol for all target profiles, and per-vendor checks."""

from __future__ import annotations

import json
import os
import sys

import click

from harmoniq.cli.options import echo_json, force_option, json_option, names, out_option
from harmoniq.errors import HarmoniqError


@click.group()
def seq():
    """Build and check Pulseq .seq files against hardware profiles (`harmoniq profiles list`)."""


def _profile_names(value: str) -> list[str]:
    """Every shipped profile for 'all', else the comma-separated names."""
    from harmoniq.scanners.profiles import list_profiles

    return list_profiles() if value == "all" else names(value)


@seq.command("build")
@click.argument("protocols", nargs=-1, required=True)
@click.option("--profiles", "profile_names", default=None,
              help="Comma-separated hardware profiles to build for, or 'all' (default: the protocol's targets).")
@out_option("Output folder: <protocol>.seq and <protocol>.json.", folder=True, default=".")
@force_option
@json_option
def build_cmd(protocols, profile_names, out, force, as_json):
    """Build PROTOCOLS (shipped names, paths, or 'all') into OUT/<name>.seq + OUT/<name>.json."""
    from harmoniq.protocols import list_protocols, load_protocol
    from harmoniq.sequences.export import export

    loaded = [load_protocol(name) for name in (list_protocols() if protocols == ("all",) else protocols)]
    targets = None if profile_names is None else _profile_names(profile_names)  # None: each protocol's own
    built = []
    for protocol in loaded:  # every input was checked above, before anything is written
        seq_path, json_path = export(protocol, out, targets, force=force)
        side = json.loads(json_path.read_text())
        built.append({"protocol": protocol.name, "seq": str(seq_path), "sidecar": str(json_path),
                      "sha256": side["seq"]["sha256"], "duration_s": side["total_duration_s"],
                      "checks": {name: check["ok"] for name, check in side["checks"].items()}})
    if as_json:
        echo_json(built)
        return
    for b in built:
        checked = ", ".join(f"{k}: {'ok' if ok else 'FAIL'}" for k, ok in b["checks"].items())
        click.echo(f"{b['seq']}  sha256 {b['sha256'][:16]}…  {b['duration_s'] / 60:.1f} min  [{checked}]")


@seq.command("check")
@click.argument("seqfile", type=click.Path(dir_okay=False))
@click.option("--profile", "profile_names", required=True,
              help="Hardware profile name(s) or profile files, comma-separated, or 'all'.")
@json_option
def check_cmd(seqfile, profile_names, as_json):
    """Check SEQFILE against hardware profiles. Exit 0: passes, 1: violations, 2: unusable input."""
    from harmoniq.scanners import check, load_profile

    loaded = [load_profile(n) for n in _profile_names(profile_names)]
    if not os.path.isfile(seqfile):
        raise HarmoniqError(f"{seqfile}: no such .seq file")
    reports = {p.name: check(seqfile, p) for p in loaded}
    if as_json:
        echo_json({name: r.to_dict() for name, r in reports.items()})
    else:
        for report in reports.values():
            click.echo(report.to_text())
    sys.exit(0 if all(r.ok for r in reports.values()) else 1)
