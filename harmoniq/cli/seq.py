"""`harmoniq seq build|check`: one .seq per protocol for all targets, and per-vendor checks."""

from __future__ import annotations

import json
import os
import sys

import click

from harmoniq.errors import HarmoniqError


@click.group()
def seq():
    """Build and check Pulseq .seq files."""


def _scanner_list(value: str | None) -> list[str] | None:
    if value is None or value == "all":
        return None
    return [v.strip() for v in value.split(",") if v.strip()]


@seq.command("build")
@click.argument("protocols", nargs=-1, required=True)
@click.option("--scanners", default=None, help="Comma-separated target scanners, or 'all' (default: the protocol's targets).")
@click.option("-o", "--outdir", default=".", show_default=True, type=click.Path(file_okay=False), help="Output folder.")
@click.option("--force", is_flag=True, help="Replace existing files of the same names that this command did not write.")
def build_cmd(protocols, scanners, outdir, force):
    """Build PROTOCOLS (shipped names, paths, or 'all') into DIR/<name>.seq + DIR/<name>.json."""
    from harmoniq.protocols import list_protocols, load_protocol
    from harmoniq.sequences.export import export

    names = list_protocols() if protocols == ("all",) else list(protocols)
    loaded = [load_protocol(name) for name in names]  # every input is checked before anything is written
    for protocol in loaded:
        seq_path, json_path = export(protocol, outdir, _scanner_list(scanners), force=force)
        side = json.loads(json_path.read_text())
        checked = ", ".join(f"{k}: {'ok' if v['ok'] else 'FAIL'}" for k, v in side["checks"].items())
        click.echo(f"{seq_path}  sha256 {side['seq']['sha256'][:16]}…  {side['total_duration_s'] / 60:.1f} min  [{checked}]")


@seq.command("check")
@click.argument("seqfile", type=click.Path(dir_okay=False))
@click.option("--scanner", "scanner_names", required=True, help="Scanner profile name(s), comma-separated, or 'all'.")
@click.option("--json", "as_json", is_flag=True, help="Print the full report as JSON.")
def check_cmd(seqfile, scanner_names, as_json):
    """Check SEQFILE against scanner profiles. Exit 0: passes, 1: violations, 2: unusable input."""
    from harmoniq.scanners import check, list_profiles, load_profile

    names = list_profiles() if scanner_names == "all" else [s.strip() for s in scanner_names.split(",")]
    profiles = [load_profile(n) for n in names]
    if not os.path.isfile(seqfile):
        raise HarmoniqError(f"{seqfile}: no such .seq file")
    reports = {p.name: check(seqfile, p) for p in profiles}
    if as_json:
        click.echo(json.dumps({name: r.to_dict() for name, r in reports.items()}, indent=2))
    else:
        for report in reports.values():
            click.echo(report.to_text())
    sys.exit(0 if all(r.ok for r in reports.values()) else 1)
