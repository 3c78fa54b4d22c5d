"""`harmoniq batch STUDY.toml [--scheduler ADDRESS] [--workers N] -o DIR`."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from harmoniq.cli.options import device_option, echo_json, force_option, json_option, out_option, workers_option


@click.command("batch")
@click.argument("study", type=click.Path(dir_okay=False))
@click.option("--scheduler", default=None, help="Address of a dask.distributed scheduler (default: a local cluster).")
@workers_option(2, "the datasets (without --scheduler)")
@device_option
@out_option("Output folder: a BIDS dataset (sub-<subject>/ses-<site>/..., derivatives/harmoniq with metrics.tsv) "
            "and report.html.", folder=True)
@force_option
@json_option
def command(study, scheduler, workers, device, out, force, as_json):
    """Run every dataset of STUDY; finished stages are reused, failures are listed, the rest go on."""
    from harmoniq.batch import load_study, run_batch, summary
    from harmoniq.cli.compare_cmd import report

    plan = load_study(study)
    result = run_batch(plan, out, scheduler=scheduler, workers=workers, device=device,
                       force=force)  # one bar: the datasets
    comparison = summary(plan, result)
    failed = dict(sorted(result.failed.items()))
    done = {"datasets": len(plan.datasets), "done": len(result.runs), "failed": failed}
    if comparison.rows:
        report(comparison, Path(out), as_json, **done)
    elif as_json:
        echo_json(done)
    if not as_json:
        click.echo(f"{len(result.runs)} of {len(plan.datasets)} datasets done")
    for key, reason in failed.items():
        click.echo(f"FAILED {key}: {reason}", err=True)
    sys.exit(1 if failed else 0)
