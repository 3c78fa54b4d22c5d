"""`harmoniq batch STUDY.toml [--scheduler ADDRESS] [--workers N] -o DIR`."""

from __future__ import annotations

import sys
from pathlib import Path

import click


@click.command("batch")
@click.argument("study", type=click.Path(dir_okay=False))
@click.option("--scheduler", default=None, help="Address of a dask.distributed scheduler (default: a local cluster).")
@click.option("--workers", type=int, default=2, show_default=True, help="Worker processes of the local cluster.")
@click.option("-o", "--outdir", required=True, type=click.Path(file_okay=False))
def command(study, scheduler, workers, outdir):
    """Run every dataset of STUDY; finished stages are reused, failures are listed, the rest go on."""
    from harmoniq.analysis.compare import write_csv
    from harmoniq.analysis.report import summary_lines, write_report
    from harmoniq.batch import load_study, run_batch, summary

    plan = load_study(study)
    result = run_batch(plan, outdir, scheduler=scheduler, workers=workers)
    comparison = summary(plan, result)
    out = Path(outdir)
    if comparison.rows:
        write_csv(comparison, out / "metrics.csv")
        click.echo(f"report: {write_report(comparison, out)}")
        for line in summary_lines(comparison):
            click.echo(line)
    click.echo(f"{len(result.runs)} of {len(plan.datasets)} datasets done")
    for key, reason in sorted(result.failed.items()):
        click.echo(f"FAILED {key}: {reason}", err=True)
    sys.exit(1 if result.failed else 0)
