"""`harmoniq compare PROTOCOL[,PROTOCOL...] --scanners ... -o DIR`: the cross-scanner report."""

from __future__ import annotations

from pathlib import Path

import click

from harmoniq.names import DEVICES
from harmoniq.errors import HarmoniqError


def scanner_names(value: str) -> list[str]:
    """'all', a field strength ('3t', '1.5t') or a comma-separated list of simulated scanners."""
    from harmoniq.simulation.scanner_model import list_scanner_models, load_scanner_model

    known = list_scanner_models()
    if value == "all":
        return known
    if value.lower() in ("3t", "1.5t"):
        field = float(value[:-1])
        return [n for n in known if abs(load_scanner_model(n).field_t - field) < 0.2]
    names = [v.strip() for v in value.split(",") if v.strip()]
    for n in names:
        if n not in known:
            raise HarmoniqError(f"--scanners: {n!r} is not a simulated scanner; known: {', '.join(known)}")
    if len(names) < 2:
        raise HarmoniqError("--scanners: a comparison needs at least two scanners")
    return names


@click.command("compare")
@click.argument("protocols")
@click.option("--scanners", default="3t", show_default=True, help="'all', '3t', '1.5t' or a comma-separated list.")
@click.option("--phantom", default="nist", show_default=True)
@click.option("--variants", type=click.Choice(["none", "site"]), default="site", show_default=True,
              help="'site' adds the arm where each scanner runs its site variant.")
@click.option("--matrix", type=int, default=64, show_default=True, help="Protocol matrix used for the simulation.")
@click.option("--seed", type=int, default=0, show_default=True, help="Noise seed of the first scanner (the k-th gets seed + k).")
@click.option("--no-noise", is_flag=True, help="Simulate without noise: only systematic differences remain.")
@click.option("--device", type=click.Choice(DEVICES), default="cpu", show_default=True)
@click.option("-o", "--outdir", required=True, type=click.Path(file_okay=False))
def command(protocols, scanners, phantom, variants, matrix, seed, no_noise, device, outdir):
    """Run PROTOCOLS (comma-separated) on simulated scanners, harmonized and as site variants; write the report."""
    from harmoniq.analysis.compare import compare, write_csv
    from harmoniq.analysis.report import summary_lines, write_report
    from harmoniq.experiments import run_comparison

    names = [p.strip() for p in protocols.split(",") if p.strip()]
    arms = ("harmonized", "site") if variants == "site" else ("harmonized",)
    measurements = run_comparison(names, scanner_names(scanners), outdir, phantom=phantom, arms=arms, matrix=matrix,
                                  seed=seed, noise=not no_noise, device=device)
    result = compare(measurements, noise=not no_noise)
    out = Path(outdir)
    write_csv(result, out / "metrics.csv")
    report = write_report(result, out)
    for line in summary_lines(result):
        click.echo(line)
    click.echo(f"report: {report}\nmetrics: {out / 'metrics.csv'}")
