"""`harmoniq run PROTOCOL --phantom NAME --scanner NAME -o DIR`: every stage of one protocol."""

from __future__ import annotations

import click

from harmoniq.names import DEVICES


@click.command("run")
@click.argument("protocol")
@click.option("--phantom", default="nist", show_default=True, help="Phantom for a simulated run.")
@click.option("--scanner", default=None, help="Simulated scanner (see `harmoniq scanners list`).")
@click.option("--raw", type=click.Path(dir_okay=False), default=None, help="A site's ISMRMRD raw file instead of a simulation.")
@click.option("--matrix", type=int, default=None, help="Change the protocol's matrix (e.g. 64 for a quick simulation).")
@click.option("--seed", type=int, default=0, show_default=True, help="Simulation noise seed.")
@click.option("--no-noise", is_flag=True, help="Simulate without noise.")
@click.option("--device", type=click.Choice(DEVICES), default="cpu", show_default=True)
@click.option("-o", "--outdir", required=True, type=click.Path(file_okay=False), help="Output folder.")
def command(protocol, phantom, scanner, raw, matrix, seed, no_noise, device, outdir):
    """Export, simulate (or read RAW), reconstruct and fit PROTOCOL; finished stages are reused."""
    from harmoniq.pipeline import run

    result = run(protocol, outdir, phantom=phantom, scanner=scanner, raw=raw, matrix=matrix, seed=seed,
                 noise=not no_noise, device=device, progress=True)
    click.echo(f"{result.folder}: computed {', '.join(result.computed) or 'nothing (all stages up to date)'}")
    for name, path in sorted(result.maps.items()):
        if name.endswith("map"):
            click.echo(f"  {name:24s} {path}")
