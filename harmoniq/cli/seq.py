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
@out_option("Output folder: <protocol>.seq and <protocol>.json (+ <protocol>.pge for GE targets).", folder=True,
            default=".")
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
                      "pge": str(seq_path.with_suffix(".pge")) if "pge" in side else None,
                      "checks": {name: check["ok"] for name, check in side["checks"].items()}})
    if as_json:
        echo_json(built)
        return
    for b in built:
        checked = ", ".join(f"{k}: {'ok' if ok else 'FAIL'}" for k, ok in b["checks"].items())
        pge = f"  + {b['pge']}" if b["pge"] else ""
        click.echo(f"{b['seq']}{pge}  sha256 {b['sha256'][:16]}…  {b['duration_s'] / 60:.1f} min  [{checked}]")


@seq.command("check")
@click.argument("seqfile", type=click.Path(dir_okay=False))
@click.option("--profile", "profile_names", default=None,
              help="Hardware profile name(s) or profile files, comma-separated, or 'all' "
                   "(required for a .seq; for a .pge: GE profiles, optional, 'all': every GE profile).")
@json_option
def check_cmd(seqfile, profile_names, as_json):
    """Check SEQFILE (.seq, or GE's .pge: decoded) against hardware profiles.
    Exit 0: passes, 1: violations, 2: unusable input."""
    from harmoniq.scanners import check, load_profile

    loaded = [load_profile(n) for n in _profile_names(profile_names)] if profile_names else []
    if seqfile.endswith(".pge"):  # 'all': every GE profile
        _check_pge(seqfile, [p for p in loaded if p.vendor == "GE" or profile_names != "all"], as_json)
    if not loaded:
        raise HarmoniqError(f"seq check {seqfile}: give --profile NAME (harmoniq profiles list) for a .seq file")
    if not os.path.isfile(seqfile):
        raise HarmoniqError(f"{seqfile}: no such .seq file")
    reports = {p.name: check(seqfile, p) for p in loaded}
    if as_json:
        echo_json({name: r.to_dict() for name, r in reports.items()})
    else:
        for report in reports.values():
            click.echo(report.to_text())
    sys.exit(0 if all(r.ok for r in reports.values()) else 1)


def _check_pge(path: str, profiles: list, as_json: bool) -> None:
    """Decode a .pge, report its segments and instances, check it against GE ``profiles``; exit."""
    from harmoniq.scanners.pge import check_pge, read_pge

    pge = read_pge(path)
    report = {"file": path, **pge.summary(), "checks": {p.name: check_pge(pge, p) for p in profiles}}
    if as_json:
        echo_json(report)
    else:
        segments = ", ".join(f"{s['id']}: {s['blocks']} blocks x {s['instances']}" for s in report["segments"])
        click.echo(f"{path}: {report['parent_blocks']} parent blocks, {report['rows']} blocks, "
                   f"{report['duration_s']:.1f} s; segments {segments}")
        for name, problems in report["checks"].items():
            click.echo(f"{name}: " + ("ok" if not problems else "; ".join(problems)))
    sys.exit(1 if any(report["checks"].values()) else 0)
