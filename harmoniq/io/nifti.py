"""NIfTI-1 files with BIDS JSON sidecars: image series written and read back as
:class:`ImageSeries`, single-volume maps written and read.

Orientation: ISMRMRD positions and directions are patient coordinates LPS (+x left, +y
posterior, +z head) in mm; NIfTI's affine maps voxel (i, j, k) to RAS (+x right, +y
anterior, +z head) in mm. So ``affine_ras_mm = diag(-1, -1, 1, 1) @ affine_lps`` with lengths
in mm; the data axes are (x, y, z[, volume]), the transpose of our (volume, z, y, x).
Sidecar keys follow BIDS in BIDS units (s, deg, T); ``HarmoniqProvenance`` records the
SHA-256 of the inputs, the reconstruction and the harmoniq version. Reading a series back
turns the sidecar's BIDS keys into the :class:`AcquisitionHeader` (SI units), checking that
every value is a finite number and that per-volume lists have one value per volume.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import nibabel as nib
import numpy as np

from harmoniq import __version__
from harmoniq.atomic import output_files, sidecar_of, sidecar_text
from harmoniq.errors import HarmoniqError
from harmoniq.io.header import AcquisitionHeader
from harmoniq.io.image_series import ImageSeries
from harmoniq.names import CONTRAST_DIMENSIONS
from harmoniq.provenance import sha256_file

STAGE = "recon"
"""The stage recorded in the sidecar of a reconstructed image."""
FIT_STAGE = "fit"
"""The stage recorded in the sidecars of fitted maps."""
LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])
GRE_SEQUENCE_TYPES = ("gre", "flash", "spgr", "ffe", "fl")
#: sidecar key -> (header field, per volume)
_SIDECAR_TIMING = {"EchoTime": ("te_s", True), "InversionTime": ("ti_s", True), "FlipAngle": ("flip_deg", True),
                   "RepetitionTimeExcitation": ("tr_s", True), "RepetitionTime": ("tr_s", False)}
#: sidecar key -> header user parameter
_SIDECAR_USER = {"RefocusingFlipAngle": "RefocusingFlipAngle", "SpoilingRFPhaseIncrement": "RFSpoilingIncrement"}


def nifti_affine(affine_lps_m: np.ndarray) -> np.ndarray:
    """NIfTI affine (RAS, mm) from our voxel -> LPS (m) affine."""
    scaled = affine_lps_m.copy()
    scaled[:3, :] *= 1e3
    return LPS_TO_RAS @ scaled


def lps_affine(affine_ras_mm: np.ndarray) -> np.ndarray:
    """Our voxel -> LPS (m) affine from a NIfTI affine (RAS, mm): the inverse of :func:`nifti_affine`."""
    lps = LPS_TO_RAS @ np.asarray(affine_ras_mm, dtype=float)
    lps[:3, :] *= 1e-3
    return lps


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


def write_image_series(series: ImageSeries, path: str | Path, *, inputs: dict[str, str | Path],
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


def load_nifti(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(data (x, y, z[, volume]), NIfTI affine) of an image file."""
    if not path.is_file():
        raise HarmoniqError(f"{path}: image not found; give an existing .nii.gz file")
    try:
        image = nib.load(str(path))
        data = np.asanyarray(image.dataobj)
    except Exception as exc:  # nibabel raises many types for a corrupt file
        raise HarmoniqError(f"{path}: not a readable NIfTI image ({type(exc).__name__}: {exc})") from exc
    if data.ndim not in (3, 4):
        raise HarmoniqError(f"{path}: image has {data.ndim} dimensions; expected 3 (x, y, z) or 4 (x, y, z, volume)")
    return data, image.affine


def read_sidecar(path: str | Path, required: bool) -> dict:
    """The JSON sidecar of image ``path`` ({} when absent and not ``required``)."""
    side = sidecar_path(path)
    if not side.is_file():
        if required:
            raise HarmoniqError(f"{side}: sidecar not found; the fit reads its sequence parameters from it")
        return {}
    try:
        sidecar = json.loads(side.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise HarmoniqError(f"{side}: sidecar is not valid JSON ({exc})") from exc
    if not isinstance(sidecar, dict):
        raise HarmoniqError(f"{side}: sidecar must be a JSON object of BIDS keys")
    return sidecar


def _numbers(side: Path, key: str, value, n_volumes: int, per_volume: bool) -> tuple[float, ...]:
    """A sidecar value as finite numbers: one, or (``per_volume``) one per volume."""
    values = value if isinstance(value, list) else [value]
    ok = values and all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in values)
    if not ok or (len(values) > 1 and (not per_volume or len(values) != n_volumes)):
        count = f"one per volume ({n_volumes})" if per_volume else "one"
        raise HarmoniqError(f"{side}: {key}={value!r} is not valid; give finite numbers (BIDS units: s, deg), {count}")
    return tuple(float(v) for v in values)


def header_from_sidecar(sidecar: dict, side: Path, n_volumes: int, shape_zyx: tuple, voxel_m: tuple) -> AcquisitionHeader:
    """The acquisition header a BIDS sidecar describes (SI units; angles in degrees as in BIDS)."""
    timing: dict[str, tuple] = {}
    for key, (name, per_volume) in _SIDECAR_TIMING.items():
        if key in sidecar and name not in timing:
            timing[name] = _numbers(side, key, sidecar[key], n_volumes, per_volume)
    user = {name: _numbers(side, key, sidecar[key], n_volumes, False)[0]
            for key, name in _SIDECAR_USER.items() if key in sidecar}
    dimension = sidecar.get("ContrastDimension", "none")
    if dimension not in CONTRAST_DIMENSIONS:
        raise HarmoniqError(f"{side}: ContrastDimension={dimension!r}; valid are {', '.join(CONTRAST_DIMENSIONS)}")
    user["ContrastDimension"] = dimension
    field_t = sidecar.get("MagneticFieldStrength")
    matrix = tuple(int(n) for n in shape_zyx[::-1])
    fov = tuple(n * v for n, v in zip(matrix, voxel_m))
    return AcquisitionHeader(
        encoded_matrix=matrix, encoded_fov_m=fov, recon_matrix=matrix, recon_fov_m=fov, trajectory="cartesian",
        vendor=sidecar.get("Manufacturer"), model=sidecar.get("ManufacturersModelName"),
        field_t=None if field_t is None else _numbers(side, "MagneticFieldStrength", field_t, 1, False)[0],
        user_parameters=user, **timing)


def read_image_series(path: str | Path) -> ImageSeries:
    """Read a 3D or 4D NIfTI and its sidecar back as an :class:`ImageSeries` (volumes on the set axis)."""
    path = Path(path)
    data, affine = load_nifti(path)
    data = data[..., None] if data.ndim == 3 else data
    volumes = np.ascontiguousarray(data.transpose(3, 2, 1, 0))  # (volume, z, y, x)
    affine_lps = lps_affine(affine)
    voxel = tuple(float(np.linalg.norm(affine_lps[:3, i])) for i in range(3))
    header = header_from_sidecar(read_sidecar(path, required=True), sidecar_path(path), volumes.shape[0],
                                 volumes.shape[1:], voxel)
    return ImageSeries(volumes[None, :, None, None], affine_lps, header, source=path, sha256=sha256_file(path))


def read_map(path: str | Path, shape_zyx: tuple, what: str) -> tuple[np.ndarray, dict]:
    """A single-volume map (B1, mask, ...) of spatial shape (z, y, x), and its sidecar ({} if none)."""
    path = Path(path)
    data, _ = load_nifti(path)
    data = np.ascontiguousarray((data[..., None] if data.ndim == 3 else data).transpose(3, 2, 1, 0))
    if data.shape[0] != 1 or data.shape[1:] != tuple(shape_zyx):
        raise HarmoniqError(f"{path}: {what} has shape (volume, z, y, x) = {data.shape}; expected one volume of the "
                            f"image's shape (z, y, x) = {tuple(shape_zyx)}")
    return data[0], read_sidecar(path, required=False)


def write_maps(maps: list[tuple[Path, np.ndarray, dict, str]], affine_lps_m: np.ndarray, *,
               force: bool = False) -> None:
    """Write (path, (z, y, x) map, sidecar, units) tuples: float32 (uint8 for booleans) + JSON, all
    or none (:func:`harmoniq.atomic.output_files`).

    ``units`` is recorded as the sidecar's ``Units``; the NIfTI header says mm and s. An
    existing map or sidecar that a fit did not write is kept (HarmoniqError) unless ``force``.
    """
    paths = [Path(path) for path, *_ in maps]
    with output_files(*paths, *map(sidecar_path, paths), stage=FIT_STAGE, force=force) as temps:
        for (_, data, sidecar, units), image_tmp, json_tmp in zip(maps, temps, temps[len(paths):]):
            data = np.asarray(data)
            data = data.astype(np.uint8) if data.dtype == bool else data.astype(np.float32)
            image = nib.Nifti1Image(np.ascontiguousarray(data.transpose(2, 1, 0)), nifti_affine(affine_lps_m))
            image.header.set_xyzt_units("mm", "sec")
            nib.save(image, str(image_tmp))
            json_tmp.write_text(sidecar_text({**sidecar, "Units": units}, FIT_STAGE), encoding="utf-8")
