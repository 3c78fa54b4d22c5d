"""`harmoniq compare PROTOCOL[,PROTOCOL...] --scanners ... -o DIR`: the cross-scanner report."""

from __future__ import annotations

from pathlib import Path

import click

from harmoniq.cli.options import (combination_option, device_option, echo_json, filter_option, force_option,
                                  json_option, method_option, names, out_option, workers_option)
from harmoniq.errors import HarmoniqError


def scanner_names(value: str) -> list[str]:
    """'all', a field strength ('3t', '1.5t') or a comma-separated list of simulated scanners
    (shipped names or scanner model TOML files).

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
        if n not in known and not Path(n).is_file():
            raise HarmoniqError(f"--scanners: {n!r} is not a simulated scanner; known: {', '.join(known)}, or a "
                                "scanner model TOML file")
    if len(chosen) < 2:
        raise HarmoniqError("--scanners: a comparison needs at least two scanners")
    return chosen


def report(comparison, out: Path, as_json: bool, ablation=(), not_rerun=(), **extra) -> None:
    """Write the ROI table (``derivatives/harmoniq/metrics.tsv`` + data dictionary) and the report of
    ``comparison`` into the BIDS dataset ``out``; print the summary, the ablation table (rows of
    :mod:`harmoniq.analysis.ablation`, and the effects it did not rerun) and the published figures
    beside the simulated ones (or JSON)."""
    from harmoniq.analysis.ablation import ablation_lines
    from harmoniq.analysis.compare import write_metrics
    from harmoniq.analysis.published import published_lines, published_rows
    from harmoniq.analysis.report import summary_lines, write_report
    from harmoniq.bids.layout import DERIVATIVES

    table, _ = write_metrics(comparison, out / DERIVATIVES / "metrics.tsv")
    published = published_rows(comparison)
    html = write_report(comparison, out, ablation, published, not_rerun)
    lines = summary_lines(comparison)
    if as_json:
        arms = sorted({r.arm for r in comparison.rows})
        echo_json({"report": html, "metrics": table, "summary_lines": lines, **extra,
                   "summary": {p: {arm: comparison.summary(arm, p) for arm in arms} for p in comparison.ranges},
                   "rows": comparison.rows, "ablation": list(ablation), "ablation_not_rerun": list(not_rerun),
                   "published": published})
        return
    for line in [*lines, *ablation_lines(list(ablation), list(not_rerun)), *published_lines(published)]:
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
@click.option("--ablation/--no-ablation", default=True, show_default=True,
              help="Also rerun the comparison noise-free with each modelled effect off in turn and report each "
                   "effect's contribution to CoV and bias (resumable, in OUT/sourcedata/ablation/).")
@click.option("--ablation-effects", default=None, metavar="LIST",
              help="Comma-separated effects the ablation turns off (default: b1, transmit-calibration, "
                   "temperature, b0, coils, recon; gradient-delays and diffusion only when named).")
@method_option
@combination_option
@filter_option
@device_option
@workers_option(1, "the comparison's and the ablation's runs, one scanner and arm per task (1: in this process)")
@out_option("Output folder: a BIDS dataset (maps in derivatives/harmoniq, with metrics.tsv), report.html and plots.",
            folder=True)
@force_option
@json_option
def command(protocols, scanners, phantom, variants, matrix, seed, no_noise, ablation, ablation_effects, method,
            combination, kspace_filter, device, workers, out, force, as_json):
    """Run PROTOCOLS (comma-separated) on simulated scanners, harmonized and as site variants; write the report.

    --method, --combination and --filter apply to the harmonized arm; the site arm uses each vendor's variant.
    Prints the published multi-site figures beside the simulated CoV and, unless --no-ablation, the ablation
    table (each modelled effect off in turn, noise-free).
    """
    from harmoniq.analysis.ablation import ablation_rows
    from harmoniq.analysis.compare import compare
    from harmoniq.experiments import ABLATION_EFFECTS, ablation_plan, not_rerun, run_ablation, run_comparison
    from harmoniq.pipeline import pipeline_runs
    from harmoniq.progress import Progress
    from harmoniq.protocols import ReconOptions, load_protocol

    chosen = names(protocols)
    arms = ("harmonized", "site") if variants == "site" else ("harmonized",)
    models = scanner_names(scanners)
    effects = tuple(names(ablation_effects)) if ablation_effects else ABLATION_EFFECTS
    plan, skipped = ablation_plan(chosen, arms, effects) if ablation else ([], [])

    def count(protos, arms_here):
        return len(arms_here) * len(models) * sum(pipeline_runs(load_protocol(p)) for p in protos)

    runs = count(chosen, arms) * (2 if ablation and not no_noise else 1) + sum(count(p, a) for _, p, a in plan)
    recon = ReconOptions(method, combination, kspace_filter)
    options = dict(phantom=phantom, arms=arms, matrix=matrix, seed=seed, device=device, recon=recon, force=force)
    with Progress(runs, "compare", unit="run") as progress:
        measurements = run_comparison(chosen, models, out, noise=not no_noise, workers=workers, progress=progress,
                                      **options)
        comparison = compare(measurements, noise=not no_noise)
        rows = []
        if ablation:
            reruns = run_ablation(chosen, models, out, effects=effects, baseline=measurements if no_noise else None,
                                  workers=workers, progress=progress, **options)
            rows = ablation_rows({name: compare(m, noise=False) for name, m in reruns.items()}, comparison)
    report(comparison, Path(out), as_json, rows, not_rerun(skipped, effects) if ablation else [])
