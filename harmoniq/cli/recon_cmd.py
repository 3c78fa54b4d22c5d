"""`harmoniq recon RAW.h5 -o OUT.nii.gz`: ISMRMRD raw data -> NIfTI image + JSON sidecar."""

from __future__ import annotations

import click

from harmoniq.io.nifti import write_image_series
from harmoniq.io.reader import read_ismrmrd
from harmoniq.names import COIL_COMBINATIONS, DEVICES, RECON_METHODS
from harmoniq.protocols import ReconOptions
from harmoniq.recon.reconstruct import reconstruct


@click.command("recon")
@click.argument("raw", type=click.Path(dir_okay=False))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help="Output image (.nii.gz); the sidecar goes next to it (.json).")
@click.option("--seq", "seq_path", type=click.Path(exists=True, dir_okay=False),
              help="The .seq file the data were acquired with: sorts raw data without usable counters, gives "
                   "the trajectory of non-Cartesian data; its SHA-256 goes into the provenance.")
@click.option("--method", type=click.Choice(RECON_METHODS), default="auto", show_default=True)
@click.option("--combination", type=click.Choice(COIL_COMBINATIONS), default="auto", show_default=True,
              help="Coil combination for fft, grappa and nufft.")
@click.option("--device", type=click.Choice(DEVICES), default="cpu", show_default=True)
@click.option("--complex", "complex_output", is_flag=True, help="Write complex images instead of magnitude.")
@click.option("--group", default="dataset", show_default=True, help="ISMRMRD dataset group in the file.")
@click.option("--force", is_flag=True, help="Replace existing files of the same names that this command did not write.")
def command(raw, output, seq_path, method, combination, device, complex_output, group, force):
    """Reconstruct ISMRMRD raw data RAW into a NIfTI image with a BIDS sidecar."""
    kspace = read_ismrmrd(raw, group, seq=seq_path)
    series = reconstruct(kspace, ReconOptions(method, combination), device=device, progress=True)
    inputs = {"raw": raw, **({"seq": seq_path} if seq_path else {})}
    image_path, json_path = write_image_series(series, output, inputs=inputs, complex_output=complex_output, force=force)
    click.echo(f"{image_path} ({series.recon['method']}, {series.volumes().shape[0]} volume(s)); {json_path}")
