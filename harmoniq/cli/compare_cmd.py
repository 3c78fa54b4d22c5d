"""`harmoniq compare PROTOCOL[,PROTOCOL...] --scanners ... -o DIR`: the cross-scanner report."""

from __future__ import annotations

from pathlib import Path

import click

from harmoniq.cli.options import (combination_option, device_option, echo_json, filter_option, force_option,
                                  json_option, method_option, names, out_option)
from harmoniq.errors import HarmoniqError


def scanner_names(value: str) -> list[str]:
    """'all', a field strength ('3t', '1.5t') or a comma-separated list of simulated scanners.

    'all' and a field strength name the site scanners; the imperfection-free reference models
    (``ideal-*``, for accuracy checks) are compared only when named.
    """
    from harmoniq.simulation.scanner_model import list_scanner_models, load_scanner_model

    known = list_scanner_models()
    sites = [n for n in known if not n.startswith("ideal-")]
    if value == "all":
        return sites
    if value.lower() in ("3t", "1.5t"):
        field = float(value[:-1])
        return [n for n in sites if abs(load_scanner_model(n).field_t - field) < 0.2]
    chosen = names(value)
    for n in chosen:
        if n not in known:
            raise HarmoniqError(f"--scanners: {n!r} is not a simulated scanner; known: {', '.join(known)}")
    if len(chosen) < 2:
        raise HarmoniqError("--scanners: a comparison needs at least two scanners")
    return chosen


def report(comparison, out: Path, as_json: bool, **extra) -> None:
    """Write the ROI table (``derivatives/harmoniq/metrics.tsv`` + data dictionary) and the report of
    ``comparison`` into the BIDS dataset ``out``; print the summary (or JSON)."""
    from harmoniq.analysis.compare import write_metrics
    from harmoniq.analysis.report import summary_lines, write_report
    from harmoniq.bids.layout import DERIVATIVES

    table, _ = write_metrics(comparison, out / DERIVATIVES / "metrics.tsv")
    html = write_report(comparison, out)
    lines = summary_lines(comparison)
    if as_json:
        arms = sorted({r.arm for r in comparison.rows})
        echo_json({"report": html, "metrics": table, "summary_lines": lines, **extra,
                   "summary": {p: {arm: comparison.summary(arm, p) for arm in arms} for p in comparison.ranges},
                   "rows": comparison.rows})
        return
    for line in lines:
        click.echo(line)
    click.echo(f"report: {html}\nmetrics: {table}")


@click.command("compare")
@click.argument("protocols")
@click.option("--scanners", default="3t", show_default=True,
              help="Simulated scanners (`harmoniq scanners list`): 'all', '3t', '1.5t' or a comma-separated list.")
@click.option("--phantom", default="nist", show_default=True)
@click.option("--variants", type=click.Choice(["none", "site"]), default="site", show_default=True,
              help="'site' adds the arm where each scanner runs its site variant (with its own recon choices).")
@click.option("--matrix", type=int, default=64, show_default=True, help="Protocol matrix used for the simulation.")
@click.option("--seed", type=int, default=0, show_default=True, help="Noise seed of the first scanner (the k-th gets seed + k).")
@click.option("--no-noise", is_flag=True, help="Simulate without noise: only systematic differences remain.")
@method_option
@combination_option
@filter_option
@device_option
@out_option("Output folder: a BIDS dataset (maps in derivatives/harmoniq, with metrics.tsv), report.html and plots.",
            folder=True)
@force_option
@json_option
def command(protocols, scanners, phantom, variants, matrix, seed, no_noise, method, combination, kspace_filter, device,
            out, force, as_json):
    """Run PROTOCOLS (comma-separated) on simulated scanners, harmonized and as site variants; write the report.

    --method, --combination and --filter apply to the harmonized arm; the site arm uses each vendor's variant.
    """
    from harmoniq.analysis.compare import compare
    from harmoniq.cli.run_cmd import pipeline_runs
    from harmoniq.experiments import run_comparison
    from harmoniq.progress import Progress
    from harmoniq.protocols import ReconOptions, load_protocol

    chosen = names(protocols)
    arms = ("harmonized", "site") if variants == "site" else ("harmonized",)
    models = scanner_names(scanners)
    runs = len(arms) * len(models) * sum(pipeline_runs(load_protocol(p)) for p in chosen)
    recon = ReconOptions(method, combination, kspace_filter)
    with Progress(runs, "compare", unit="run") as progress:
        measurements = run_comparison(chosen, models, out, phantom=phantom, arms=arms, matrix=matrix, seed=seed,
                                      noise=not no_noise, device=device, recon=recon, progress=progress,
                                      force=force)
    report(compare(measurements, noise=not no_noise), Path(out), as_json)
