"""`harmoniq simulate SEQ --phantom NAME --scanner NAME -o RAW.h5`."""

from __future__ import annotations

import click

from harmoniq.backend import DEVICES


@click.command("simulate")
@click.argument("seq", type=click.Path(dir_okay=False))
@click.option("--phantom", required=True, help="Phantom name (see `harmoniq phantoms`).")
@click.option("--scanner", required=True, help="Simulated scanner name or model TOML file.")
@click.option("--matrix", type=int, default=64, show_default=True, help="Phantom grid (voxels per axis).")
@click.option("--spins-per-voxel", type=int, default=1, show_default=True,
              help="Spins per voxel along each in-plane axis (2-4 for gradient-spoiled steady states).")
@click.option("--seed", type=int, default=0, show_default=True, help="Noise seed (same seed, same file).")
@click.option("--no-noise", is_flag=True, help="Write noise-free data (noise scans are zeros).")
@click.option("--device", type=click.Choice(DEVICES), default="cpu", show_default=True)
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="ISMRMRD .h5 to write.")
def command(seq, phantom, scanner, matrix, spins_per_voxel, seed, no_noise, device, output):
    """Simulate the Pulseq file SEQ on a phantom inside a simulated scanner; write ISMRMRD raw data."""
    from harmoniq.io.ismrmrd_writer import write_ismrmrd
    from harmoniq.simulation import SpinSampling, simulate

    sampling = SpinSampling(per_voxel=(2, spins_per_voxel, spins_per_voxel))
    raw = simulate(seq, phantom, scanner, matrix=matrix, seed=seed, noise=not no_noise, device=device,
                   sampling=sampling, progress=True)
    write_ismrmrd(output, raw)
    click.echo(f"{output}: {len(raw.signals)} readouts x {raw.scanner.coils.channels} channels "
               f"({raw.scanner.name}, phantom {raw.phantom_name})")
