"""NIfTI-1 files with BIDS JSON sidecars: image series written and read back as
:class:`ImageSeries`, single-volume maps written and read.

Orientation: ISMRMRD positions and directions are patient coordinates LPS (+x left, +y
posterior, +z head) in mm; NIfTI's affine maps voxel (i, j, k) to RAS (+x right, +y
anterior, +z head) in mm. So ``affine_ras_mm = diag(-1, -1, 1, 1) @ affine_lps`` with lengths
in mm; the data axes are (x, y, z[, volume]), the transpose of our (volume, z, y, x).
Sidecar keys follow BIDS in BIDS units (s, deg, T); ``HarmoniqProvenance`` records the
SHA-256 of the inputs, the reconstruction and the harmoniq version. A series is written as one
4D file (list-valued keys) or as a BIDS file collection (one file per volume, scalar keys);
reading either back turns the sidecar's BIDS keys into the :class:`AcquisitionHeader` (SI
units), checking that every value is a finite number and that per-volume lists have one value
per volume. Every file declares mm and s as its units and the same qform and sform (code 1,
scanner coordinates).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import nibabel as nib
import numpy as np

from harmoniq import __version__
from harmoniq.atomic import output_files, sidecar_of, sidecar_text
from harmoniq.bids.layout import collection_files, collection_name
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
#: Nominal magnet field strengths (T) of clinical and research MR systems; BIDS
#: ``MagneticFieldStrength`` is the nominal value (BIDS 1.10, "Magnetic Resonance Imaging >
#: Scanner Hardware"), while a header may give the value from the Larmor frequency
#: (63.5 MHz / 42.577 MHz/T = 1.4914 T).
NOMINAL_FIELDS_T = (0.55, 1.0, 1.5, 3.0, 5.0, 7.0, 9.4, 10.5, 11.7)
SIMULATED_KEY = "SimulatedScanner"
"""Sidecar key naming the simulated scanner (absent for a real scanner's data)."""


def nominal_field_t(field_t: float) -> float:
    """The nominal field strength (T) within 2 % of ``field_t``, else ``field_t`` to 0.01 T."""
    nearest = min(NOMINAL_FIELDS_T, key=lambda f: abs(f - field_t))
    return nearest if abs(nearest - field_t) <= 0.02 * nearest else round(field_t, 2)


def nifti_image(data: np.ndarray, affine_ras_mm: np.ndarray) -> nib.Nifti1Image:
    """A NIfTI-1 image in mm and s whose qform and sform are the same affine (code 1: scanner)."""
    image = nib.Nifti1Image(data, affine_ras_mm)
    image.set_qform(affine_ras_mm, code=1)
    image.set_sform(affine_ras_mm, code=1)
    image.header.set_xyzt_units("mm", "sec")
    return image


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
    out.update(scanner_keys(header))
    out["ContrastDimension"] = dimension
    out["HarmoniqProvenance"] = {
        "inputs": {role: {"file": Path(p).name, "sha256": sha256_file(p)} for role, p in inputs.items()},
        "recon": series.recon,
        "version": __version__,
    }
    return out


def scanner_keys(header: AcquisitionHeader) -> dict:
    """BIDS scanner keys: nominal field, vendor, model, and the simulated scanner's name if any."""
    out = {}
    if header.field_t is not None:
        out["MagneticFieldStrength"] = nominal_field_t(header.field_t)
    if header.vendor:
        out["Manufacturer"] = header.vendor
    if header.model:
        out["ManufacturersModelName"] = header.model
    if SIMULATED_KEY in header.user_parameters:
        out[SIMULATED_KEY] = str(header.user_parameters[SIMULATED_KEY])
    return out


def write_collection(series: ImageSeries, folder: str | Path, prefix: str, suffix: str, entity: str | None, *,
                     inputs: dict[str, str | Path], extra: dict | None = None, force: bool = False) -> list[Path]:
    """Write ``series`` as a BIDS file collection ``<prefix>_<entity>-<k>_<suffix>.nii.gz`` (k = 1..n, one
    volume each, its sidecar with scalar values; no entity for a single volume) + sidecars, all or none.

    extra: keys added to every sidecar (e.g. ``PulseSequenceType``). Returns the image paths, in order.
    """
    folder = Path(folder)
    meta = {**sidecar(series, inputs), **(extra or {})}
    volumes = series.volumes()
    volumes = (np.abs(volumes) if np.iscomplexobj(volumes) else volumes).astype(np.float32)  # real: signed images
    n = volumes.shape[0]
    entity = entity if n > 1 else None
    paths = [folder / collection_name(prefix, entity, k + 1, suffix) for k in range(n)]
    affine = nifti_affine(series.affine_lps_m)
    with output_files(*paths, *map(sidecar_path, paths), stage=STAGE, force=force) as temps:
        for k, (image_tmp, json_tmp) in enumerate(zip(temps, temps[n:])):
            scalar = {key: (value[k] if isinstance(value, list) else value) for key, value in meta.items()}
            nib.save(nifti_image(np.ascontiguousarray(volumes[k].transpose(2, 1, 0)), affine), image_tmp)
            json_tmp.write_text(sidecar_text(scalar, STAGE), encoding="utf-8")
    return paths


def write_image_series(series: ImageSeries, path: str | Path, *, inputs: dict[str, str | Path],
                complex_output: bool = False, force: bool = False, extra: dict | None = None) -> tuple[Path, Path]:
    """Write ``series`` to ``path`` (.nii.gz) and its JSON sidecar, together or not at all.

    An existing image or sidecar that recon did not write is kept (HarmoniqError) unless ``force``.

    Magnitude (float32) of complex images by default, complex64 with ``complex_output``; real
    images (signed, phase) as they are. A multi-volume series becomes a 4D image with one sidecar
    value per volume where parameters vary; extra: keys added to the sidecar.
    """
    path = Path(path)
    json_path = sidecar_path(path)
    meta = {**sidecar(series, inputs), **(extra or {})}
    volumes = series.volumes()
    if complex_output:
        data = volumes.astype(np.complex64)
    else:
        data = (np.abs(volumes) if np.iscomplexobj(volumes) else volumes).astype(np.float32)
    data = np.transpose(data, (3, 2, 1, 0))
    if data.shape[-1] == 1:
        data = data[..., 0]
    image = nifti_image(data, nifti_affine(series.affine_lps_m))
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
    if isinstance(sidecar.get(SIMULATED_KEY), str):
        user[SIMULATED_KEY] = sidecar[SIMULATED_KEY]
    field_t = sidecar.get("MagneticFieldStrength")
    matrix = tuple(int(n) for n in shape_zyx[::-1])
    fov = tuple(n * v for n, v in zip(matrix, voxel_m))
    return AcquisitionHeader(
        encoded_matrix=matrix, encoded_fov_m=fov, recon_matrix=matrix, recon_fov_m=fov, trajectory="cartesian",
        vendor=sidecar.get("Manufacturer"), model=sidecar.get("ManufacturersModelName"),
        field_t=None if field_t is None else _numbers(side, "MagneticFieldStrength", field_t, 1, False)[0],
        user_parameters=user, **timing)


def read_image_series(path: str | Path) -> ImageSeries:
    """Read a 3D or 4D NIfTI and its sidecar back as an :class:`ImageSeries` (volumes on the set
    axis); ``path`` may be any file of a BIDS file collection (``..._inv-2_IRT1.nii.gz``): then
    every file of the collection is read, in index order, each sidecar's scalars giving one value
    per volume."""
    path = Path(path)
    files = collection_files(path) if path.is_file() else [path]
    if len(files) == 1:
        data, affine = load_nifti(path)
        data = data[..., None] if data.ndim == 3 else data
        side = read_sidecar(path, required=True)
    else:
        data, affine, side = _read_collection(files)
    volumes = np.ascontiguousarray(data.transpose(3, 2, 1, 0))  # (volume, z, y, x)
    affine_lps = lps_affine(affine)
    voxel = tuple(float(np.linalg.norm(affine_lps[:3, i])) for i in range(3))
    header = header_from_sidecar(side, sidecar_path(files[0]), volumes.shape[0], volumes.shape[1:], voxel)
    return ImageSeries(volumes[None, :, None, None], affine_lps, header, source=files[0],
                       sha256=sha256_file(files[0]) if len(files) == 1 else _collection_sha256(files))


def _read_collection(files: list[Path]) -> tuple[np.ndarray, np.ndarray, dict]:
    """(data (x, y, z, volume), affine, sidecar with a list wherever the files' values differ)."""
    arrays, sidecars, affine = [], [], None
    for f in files:
        data, file_affine = load_nifti(f)
        if data.ndim != 3 or (affine is not None and (data.shape != arrays[0].shape
                                                      or not np.allclose(file_affine, affine))):
            raise HarmoniqError(f"{f}: every file of a collection must be one 3D volume on the grid of {files[0].name}")
        arrays.append(data)
        affine = file_affine
        sidecars.append(read_sidecar(f, required=True))
    merged = {}
    for key in sidecars[0]:
        values = [s.get(key) for s in sidecars]
        merged[key] = values if any(v != values[0] for v in values) else values[0]
    return np.stack(arrays, axis=-1), affine, merged


def _collection_sha256(files: list[Path]) -> str:
    """One SHA-256 for a file collection: of its files' SHA-256s, in order."""
    import hashlib

    return hashlib.sha256("".join(sha256_file(f) for f in files).encode()).hexdigest()


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
            image = nifti_image(np.ascontiguousarray(data.transpose(2, 1, 0)), nifti_affine(affine_lps_m))
            nib.save(image, str(image_tmp))
            json_tmp.write_text(sidecar_text({**sidecar, "Units": units}, FIT_STAGE), encoding="utf-8")
