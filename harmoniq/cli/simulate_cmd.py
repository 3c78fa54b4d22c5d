"""`harmoniq simulate SEQ --phantom NAME --scanner NAME -o RAW.h5
[--slice-offset-mm X,Y,Z] [--slice-angles-deg A,B,C]`: a .seq run in a simulated scanner."""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import click

from harmoniq.cli.options import device_option, echo_json, force_option, json_option, out_option
from harmoniq.errors import HarmoniqError


def _triplet(text: str, option: str) -> tuple[float, float, float]:
    """Three comma-separated numbers such as ``15,-10,20``."""
    try:
        values = tuple(float(part) for part in text.split(","))
    except ValueError:
        values = ()
    if len(values) != 3 or not all(math.isfinite(v) for v in values):
        raise HarmoniqError(f"{option}={text!r} is not valid; give three comma-separated numbers, e.g. 15,-10,20")
    return values


@click.command("simulate")
@click.argument("seq", type=click.Path(dir_okay=False))
@click.option("--phantom", required=True, help="Phantom name (see `harmoniq phantoms list`).")
@click.option("--scanner", required=True, help="Simulated scanner (see `harmoniq scanners list`) or model TOML file.")
@click.option("--matrix", type=int, default=64, show_default=True, help="Phantom grid (voxels per axis).")
@click.option("--spins-per-voxel", type=int, default=None,
              help="In-plane spins per voxel along each axis (default: chosen from the sequence's spoiler moments).")
@click.option("--slice-offset-mm", default="0,0,0", show_default=True,
              help="Slice or slab centre X,Y,Z in patient coordinates (LPS: +x left, +y posterior, +z head), mm.")
@click.option("--slice-angles-deg", default="0,0,0", show_default=True,
              help="Turn the axial read/phase/slice axes by A about x, then B about y, then C about z (deg); "
                   "a tilted slice uses a 3D phantom.")
@click.option("--seed", type=int, default=0, show_default=True, help="Noise seed (same seed, same file).")
@click.option("--no-noise", is_flag=True, help="Write noise-free data (no noise scans).")
@click.option("--format", "container", type=click.Choice(["ismrmrd", "mrd2"]), default="ismrmrd", show_default=True,
              help="Raw data container: ISMRMRD v1 HDF5 or MRD v2 (mrd-python's binary format).")
@device_option
@out_option("Raw data file to write (.h5; .mrd with --format mrd2).", folder=False)
@force_option
@json_option
def command(seq, phantom, scanner, matrix, spins_per_voxel, slice_offset_mm, slice_angles_deg, seed, no_noise,
            container, device, out, force, as_json):
    """Simulate the Pulseq file SEQ on a phantom inside a simulated scanner; write ISMRMRD raw data."""
    from harmoniq.io.ismrmrd_writer import write_ismrmrd
    from harmoniq.simulation import SpinSampling, simulate
    from harmoniq.simulation.prescription import Prescription

    prescription = Prescription.from_angles(_triplet(slice_offset_mm, "--slice-offset-mm"),
                                            _triplet(slice_angles_deg, "--slice-angles-deg"))
    sampling = SpinSampling(per_voxel=None if spins_per_voxel is None else (2, spins_per_voxel, spins_per_voxel))
    with warnings.catch_warnings(record=True) as notes:
        warnings.simplefilter("always", UserWarning)
        raw = simulate(seq, phantom, scanner, matrix=matrix, seed=seed, noise=not no_noise, device=device,
                       sampling=sampling, prescription=prescription, progress=True)  # one bar: the events
    for note in notes:  # what the simulator inferred, one line each; other libraries' notes as they were
        if "harmoniq" in Path(note.filename).parts:
            click.echo(f"warning: {seq}: {note.message}", err=True)
        else:
            warnings.showwarning(note.message, note.category, note.filename, note.lineno)
    write_ismrmrd(out, raw, force=force, container=container)
    if as_json:
        echo_json({"raw": out, "readouts": len(raw.signals), "channels": raw.scanner.coils.channels,
                   "scanner": raw.scanner.name, "phantom": raw.phantom_name, "prescription": prescription.describe()})
        return
    click.echo(f"{out}: {len(raw.signals)} readouts x {raw.scanner.coils.channels} channels "
               f"({raw.scanner.name}, phantom {raw.phantom_name}); {prescription.describe()}")
