"""Write an :class:`ImageSeries` as NIfTI-1 (``.nii.gz``) plus a BIDS-style JSON sidecar.

Orientation: ISMRMRD positions and directions are patient coordinates LPS (+x left, +y
posterior, +z head) in mm; NIfTI's affine maps voxel (i, j, k) to RAS (+x right, +y
anterior, +z head) in mm. So ``affine_ras_mm = diag(-1, -1, 1, 1) @ affine_lps`` with lengths
in mm; the data axes are (x, y, z[, volume]), the transpose of our (volume, z, y, x).
Sidecar keys follow BIDS in BIDS units (s, deg, T); ``HarmoniqProvenance`` records the
SHA-256 of the inputs, the reconstruction and the harmoniq version.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import nibabel as nib
import numpy as np

from harmoniq import __version__
from harmoniq.atomic import output_files, sidecar_of, sidecar_text
from harmoniq.errors import HarmoniqError
from harmoniq.io.image_series import ImageSeries

STAGE = "recon"
"""The stage recorded in the sidecar of a reconstructed image."""
LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])
CONTRAST_DIMENSIONS = ("inversion_time", "echo_time", "flip_angle", "none")
GRE_SEQUENCE_TYPES = ("gre", "flash", "spgr", "ffe", "fl")


def sha256_file(path: str | Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def nifti_affine(affine_lps_m: np.ndarray) -> np.ndarray:
    """NIfTI affine (RAS, mm) from our voxel -> LPS (m) affine."""
    scaled = affine_lps_m.copy()
    scaled[:3, :] *= 1e3
    return LPS_TO_RAS @ scaled


def sidecar_path(nifti_path: str | Path) -> Path:
    """``x.nii.gz`` -> ``x.json`` (and ``x.nii`` -> ``x.json``)."""
    path = Path(nifti_path)
    if not path.name.endswith((".nii.gz", ".nii")):
        raise HarmoniqError(f"{path}: an image output must end in .nii.gz or .nii")
    return sidecar_of(path)


def contrast_dimension(series: ImageSeries) -> str:
    """What the series varies: the header's ``ContrastDimension`` user parameter, else inferred
    from which counter has several values and which parameter list matches it."""
    header = series.header
    declared = header.user_parameters.get("ContrastDimension")
    if declared in CONTRAST_DIMENSIONS:
        return declared
    _, n_set, _, n_contrast = series.data.shape[:4]
    if n_contrast > 1:
        return "echo_time"
    if n_set > 1:
        for name, values in (("inversion_time", header.ti_s), ("flip_angle", header.flip_deg),
                             ("echo_time", header.te_s)):
            if len(set(values)) > 1:
                return name
    return "none"


def _per_volume(series: ImageSeries, values: tuple, counter: str):
    """One value per volume indexed by ``counter`` when the list has one per index, else the
    single value (None when the list is empty)."""
    if not values:
        return None
    n = series.data.shape[("repetition", "set", "phase", "contrast").index(counter)]
    if n > 1 and len(values) >= n and len(set(values[:n])) > 1:
        return [float(values[idx[counter]]) for idx in series.volume_index()]
    return float(values[0])


def sidecar(series: ImageSeries, inputs: dict[str, str | Path]) -> dict:
    """BIDS sidecar for ``series``; ``inputs`` maps a role ('raw', 'seq') to a file path."""
    header = series.header
    dimension = contrast_dimension(series)
    echo_counter = "set" if dimension == "echo_time" and series.data.shape[3] == 1 else "contrast"
    out: dict[str, object] = {}
    if header.tr_s:
        out["RepetitionTime"] = header.tr_s[0]
        if header.sequence_type and header.sequence_type.lower() in GRE_SEQUENCE_TYPES:
            out["RepetitionTimeExcitation"] = header.tr_s[0]
    fields = (("EchoTime", header.te_s, echo_counter), ("InversionTime", header.ti_s, "set"),
              ("FlipAngle", header.flip_deg, "set"))
    for key, values, counter in fields:
        value = _per_volume(series, values, counter)
        if value is not None:
            out[key] = value
    user = header.user_parameters
    for key, name in (("RefocusingFlipAngle", "RefocusingFlipAngle"),
                      ("SpoilingRFPhaseIncrement", "RFSpoilingIncrement")):
        if name in user:
            out[key] = float(user[name])
    if header.field_t is not None:
        out["MagneticFieldStrength"] = round(header.field_t, 4)
    if header.vendor:
        out["Manufacturer"] = header.vendor
    if header.model:
        out["ManufacturersModelName"] = header.model
    out["ContrastDimension"] = dimension
    out["HarmoniqProvenance"] = {
        "inputs": {role: {"file": Path(p).name, "sha256": sha256_file(p)} for role, p in inputs.items()},
        "recon": series.recon,
        "version": __version__,
    }
    return out


def write_nifti(series: ImageSeries, path: str | Path, *, inputs: dict[str, str | Path],
                complex_output: bool = False, force: bool = False) -> tuple[Path, Path]:
    """Write ``series`` to ``path`` (.nii.gz) and its JSON sidecar, together or not at all.

    An existing image or sidecar that recon did not write is kept (HarmoniqError) unless ``force``.

    Magnitude (float32) by default, complex64 with ``complex_output``. A multi-volume
    series becomes a 4D image with one sidecar value per volume where parameters vary.
    """
    path = Path(path)
    json_path = sidecar_path(path)
    meta = sidecar(series, inputs)
    volumes = series.volumes()
    data = volumes.astype(np.complex64) if complex_output else np.abs(volumes).astype(np.float32)
    data = np.transpose(data, (3, 2, 1, 0))
    if data.shape[-1] == 1:
        data = data[..., 0]
    image = nib.Nifti1Image(data, nifti_affine(series.affine_lps_m))
    image.header.set_xyzt_units("mm", "sec")
    with output_files(path, json_path, stage=STAGE, force=force) as (image_tmp, json_tmp):
        nib.save(image, image_tmp)
        json_tmp.write_text(sidecar_text(meta, STAGE), encoding="utf-8")
    return path, json_path
