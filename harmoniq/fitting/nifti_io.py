"""NIfTI images with their JSON sidecars: read a series, read a map, write maps (all or nothing).

NIfTI data axes are (x, y, z[, volume]); our arrays are (volume, z, y, x): the transpose.
The sidecar of ``x.nii.gz`` (or ``x.nii``) is ``x.json`` (BIDS keys, BIDS units).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np

from harmoniq.atomic import output_files, sidecar_text
from harmoniq.errors import HarmoniqError
from harmoniq.io.nifti import sha256_file, sidecar_path


STAGE = "fit"
"""The stage recorded in the sidecar of every fitted map."""


@dataclass
class NiftiSeries:
    """An image series: data (volume, z, y, x), the NIfTI affine, sidecar dict, file sha256."""

    path: Path
    data: np.ndarray
    affine: np.ndarray
    sidecar: dict
    sha256: str


def read_series(path, need_sidecar: bool = True) -> NiftiSeries:
    """Read a 3D or 4D NIfTI as (volume, z, y, x) with its sidecar ({} if absent and not needed)."""
    path = Path(path)
    side = sidecar_path(path)
    if not path.is_file():
        raise HarmoniqError(f"{path}: image not found; give an existing .nii.gz file")
    try:
        image = nib.load(str(path))
        data = np.asanyarray(image.dataobj)
    except Exception as exc:  # nibabel raises many types for a corrupt file
        raise HarmoniqError(f"{path}: not a readable NIfTI image ({exc})") from exc
    if data.ndim not in (3, 4):
        raise HarmoniqError(f"{path}: image has {data.ndim} dimensions; expected 3 (x, y, z) or 4 (x, y, z, volume)")
    data = data[..., None] if data.ndim == 3 else data
    sidecar = {}
    if side.is_file():
        try:
            sidecar = json.loads(side.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise HarmoniqError(f"{side}: sidecar is not valid JSON ({exc})") from exc
        if not isinstance(sidecar, dict):
            raise HarmoniqError(f"{side}: sidecar holds a JSON {type(sidecar).__name__}; a sidecar is a JSON object of keys")
    elif need_sidecar:
        raise HarmoniqError(f"{side}: sidecar not found; the fit reads its sequence parameters from it")
    return NiftiSeries(path, np.ascontiguousarray(data.transpose(3, 2, 1, 0)), image.affine, sidecar, sha256_file(path))


def read_map(path, shape: tuple, what: str) -> NiftiSeries:
    """Read a single-volume map (e.g. B1, mask) that must have spatial ``shape`` (z, y, x)."""
    series = read_series(path, need_sidecar=False)
    if series.data.shape[0] != 1 or series.data.shape[1:] != tuple(shape):
        raise HarmoniqError(
            f"{path}: {what} has shape (volume, z, y, x) = {series.data.shape}; expected one volume of the "
            f"image's shape (z, y, x) = {tuple(shape)}"
        )
    series.data = series.data[0]
    return series


def write_maps(maps: list[tuple[Path, np.ndarray, dict]], affine, *, force: bool = False) -> None:
    """Write (path, (z, y, x) map, sidecar) triples: float32 (uint8 for booleans) + JSON, all or none.

    An existing map or sidecar that a fit did not write is kept (HarmoniqError) unless ``force``.
    """
    paths = [Path(path) for path, _, _ in maps]
    with output_files(*paths, *map(sidecar_path, paths), stage=STAGE, force=force) as temps:
        for (_, data, sidecar), image_tmp, json_tmp in zip(maps, temps, temps[len(paths):]):
            data = np.asarray(data)
            data = data.astype(np.uint8) if data.dtype == bool else data.astype(np.float32)
            nib.save(nib.Nifti1Image(np.ascontiguousarray(data.transpose(2, 1, 0)), affine), str(image_tmp))
            json_tmp.write_text(sidecar_text(sidecar, STAGE), encoding="utf-8")


def write_map(path, data, affine, sidecar: dict, *, force: bool = False) -> None:
    """Write one (z, y, x) map and its sidecar together (see :func:`write_maps`)."""
    write_maps([(path, data, sidecar)], affine, force=force)
