"""`harmoniq recon RAW -o OUT.nii.gz`: raw data (ISMRMRD v1 HDF5 or stream, MRD v2, Siemens twix)
-> NIfTI image + JSON sidecar."""

from __future__ import annotations

import warnings

import click

from harmoniq.cli.options import (combination_option, device_option, echo_json, filter_option, force_option,
                                  json_option, method_option, out_option)


@click.command("recon")
@click.argument("raw", type=click.Path(dir_okay=False))
@out_option("Output image (.nii.gz); the sidecar goes next to it (.json).", folder=False)
@click.option("--seq", "seq_path", type=click.Path(exists=True, dir_okay=False),
              help="The .seq file the data were acquired with: places every readout by its trajectory, gives "
                   "geometry, slices and sidecar timing the raw data lack; its SHA-256 goes into the provenance.")
@method_option
@combination_option
@filter_option
@device_option
@click.option("--complex", "complex_output", is_flag=True, help="Write complex images instead of magnitude.")
@click.option("--no-prewhiten", "no_prewhiten", is_flag=True,
              help="Do not whiten the coils with the noise scans' covariance.")
@click.option("--group", default="dataset", show_default=True, help="ISMRMRD dataset group in the file.")
@force_option
@json_option
def command(raw, out, seq_path, method, combination, kspace_filter, device, complex_output, no_prewhiten, group,
            force, as_json):
    """Reconstruct raw data RAW (ISMRMRD v1 HDF5 or stream, MRD v2, Siemens twix .dat) into a NIfTI image
    with a BIDS sidecar."""
    from harmoniq.io.nifti import write_image_series
    from harmoniq.io.reader import read_ismrmrd
    from harmoniq.protocols import ReconOptions
    from harmoniq.recon.reconstruct import reconstruct

    options = ReconOptions(method, combination, kspace_filter)
    with warnings.catch_warnings(record=True) as notes:
        warnings.simplefilter("always", UserWarning)
        kspace = read_ismrmrd(raw, group, seq=seq_path, prewhiten_noise=not no_prewhiten)
    for note in notes:
        click.echo(f"warning: {note.message}", err=True)
    series = reconstruct(kspace, options, device=device, progress=True)  # one bar: the frames
    inputs = {"raw": raw, **({"seq": seq_path} if seq_path else {})}
    image_path, json_path = write_image_series(series, out, inputs=inputs, complex_output=complex_output, force=force)
    volumes = series.volumes().shape[0]
    if as_json:
        echo_json({"image": image_path, "sidecar": json_path, "volumes": volumes, "recon": series.recon})
        return
    click.echo(f"{image_path} ({series.recon['method']}, {volumes} volume(s)); {json_path}")
