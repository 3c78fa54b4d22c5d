"""`harmoniq run PROTOCOL --scanner NAME -o DIR`: every stage of one protocol."""

from __future__ import annotations

import click

from harmoniq.cli.options import (combination_option, device_option, echo_json, filter_option, force_option,
                                  json_option, method_option, out_option)


@click.command("run")
@click.argument("protocol")
@click.option("--phantom", default="nist", show_default=True, help="Phantom for a simulated run.")
@click.option("--scanner", default=None, help="Simulated scanner (see `harmoniq scanners list`).")
@click.option("--raw", type=click.Path(dir_okay=False), default=None, help="A site's ISMRMRD raw file instead of a simulation.")
@click.option("--matrix", type=int, default=None, help="Change the protocol's matrix (e.g. 64 for a quick simulation).")
@click.option("--seed", type=int, default=0, show_default=True, help="Simulation noise seed.")
@click.option("--no-noise", is_flag=True, help="Simulate without noise.")
@method_option
@combination_option
@filter_option
@device_option
@out_option("Output folder: one subfolder per protocol.", folder=True)
@force_option
@json_option
def command(protocol, phantom, scanner, raw, matrix, seed, no_noise, method, combination, kspace_filter, device, out,
            force, as_json):
    """Export, simulate (or read RAW), reconstruct and fit PROTOCOL; finished stages are reused."""
    from harmoniq.pipeline import pipeline_runs, run
    from harmoniq.progress import Progress
    from harmoniq.protocols import ReconOptions, load_protocol

    loaded = load_protocol(protocol)
    recon = ReconOptions(method, combination, kspace_filter)
    with Progress(pipeline_runs(loaded), f"run {loaded.name}", unit="run") as progress:
        result = run(loaded, out, phantom=phantom, scanner=scanner, raw=raw, matrix=matrix, seed=seed,
                     noise=not no_noise, device=device, recon=recon, progress=progress,
                     force=force)
    maps = {name: result.map_path(name) for name in (result.maps.maps if result.maps else {})}
    if as_json:
        echo_json({"protocol": result.protocol.name, "folder": result.folder, "computed": result.computed,
                   "seq": result.seq, "raw": result.raw, "image": result.image, "maps": maps})
        return
    click.echo(f"{result.folder}: computed {', '.join(result.computed) or 'nothing (all stages up to date)'}")
    for name, path in maps.items():
        click.echo(f"  {name:20s} {path}")
