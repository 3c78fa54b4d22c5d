"""NIfTI images with their JSON sidecars: read a series, read a map, write a map (atomically).

NIfTI data axes are (x, y, z[, volume]); our arrays are (volume, z, y, x): the transpose.
The sidecar of ``x.nii.gz`` (or ``x.nii``) is ``x.json`` (BIDS keys, BIDS units).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np

from harmoniq.atomic import atomic_path, write_text_atomic
from harmoniq.errors import HarmoniqError
from harmoniq.io.nifti import sha256_file, sidecar_path


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
        except json.JSONDecodeError as exc:
            raise HarmoniqError(f"{side}: sidecar is not valid JSON ({exc})") from exc
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


def write_map(path, data, affine, sidecar: dict) -> None:
    """Write a (z, y, x) map (float32, or uint8 for booleans) and its sidecar, atomically."""
    data = np.asarray(data)
    data = data.astype(np.uint8) if data.dtype == bool else data.astype(np.float32)
    with atomic_path(path) as tmp:
        nib.save(nib.Nifti1Image(np.ascontiguousarray(data.transpose(2, 1, 0)), affine), str(tmp))
    write_text_atomic(sidecar_path(path), json.dumps(sidecar, indent=2, sort_keys=True) + "\n")
