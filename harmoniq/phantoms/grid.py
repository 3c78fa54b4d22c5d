"""The voxel grid a phantom is rasterised on: shape (z, y, x), voxel size in m, 2D or 3D.

Voxel ``n // 2`` of each axis sits at the isocentre (as in ``Phantom.positions_m``). A 2D grid
is one slice (z == 1) whose voxel depth is the slice thickness; its shapes are sampled in the
plane z = 0 only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from harmoniq.errors import HarmoniqError

MAX_VOXELS = 2**25
"""Largest grid accepted (33.5 million voxels, e.g. 320^3): the five float64 property maps
then take about 1.3 GB."""

MIN_MATRIX = 4


@dataclass(frozen=True)
class Grid:
    shape: tuple[int, int, int]
    voxel_size_m: tuple[float, float, float]
    ndim: int

    @property
    def fov_m(self) -> tuple[float, float, float]:
        return tuple(n * d for n, d in zip(self.shape, self.voxel_size_m))

    @property
    def spatial_axes(self) -> tuple[int, ...]:
        """Array axes that carry space in this grid: (1, 2) in 2D, (0, 1, 2) in 3D."""
        return (1, 2) if self.ndim == 2 else (0, 1, 2)

    def axes_m(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Voxel-centre coordinates (z, y, x) in m along each axis; z = [0] in 2D."""
        axes = [(np.arange(n) - n // 2) * d for n, d in zip(self.shape, self.voxel_size_m)]
        if self.ndim == 2:
            axes[0] = np.zeros(1)
        return tuple(axes)


def _per_axis(value, ndim: int, name: str, what: str) -> tuple:
    if np.ndim(value) == 0:
        return (value,) * ndim
    value = tuple(value)
    if len(value) != ndim:
        raise HarmoniqError(
            f"{what}: {name}={value!r} has {len(value)} entries; give one number or {ndim} "
            f"({'y, x' if ndim == 2 else 'z, y, x'}) for ndim={ndim}"
        )
    return value


def make_grid(matrix, fov_m, ndim: int, slice_thickness_m: float, what: str) -> Grid:
    """Check the caller's grid request and build the Grid.

    matrix: int or (y, x) / (z, y, x) voxel counts; fov_m: float or per-axis field of view in m;
    slice_thickness_m: voxel depth of a 2D grid (m).
    """
    if ndim not in (2, 3):
        raise HarmoniqError(f"{what}: ndim={ndim!r} is not valid; choose 2 (one slice) or 3 (volume)")
    counts = _per_axis(matrix, ndim, "matrix", what)
    for n in counts:
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < MIN_MATRIX:
            raise HarmoniqError(f"{what}: matrix={matrix!r} is not valid; each size must be an integer >= {MIN_MATRIX}")
    fovs = _per_axis(fov_m, ndim, "fov_m", what)
    for f in fovs:
        if not isinstance(f, (int, float, np.floating, np.integer)) or not math.isfinite(f) or f <= 0:
            raise HarmoniqError(f"{what}: fov_m={fov_m!r} is not valid; give positive lengths in m (e.g. 0.22)")
    if ndim == 2:
        if not (math.isfinite(slice_thickness_m) and slice_thickness_m > 0):
            raise HarmoniqError(
                f"{what}: slice_thickness_m={slice_thickness_m!r} is not valid; give a positive length in m"
            )
        counts = (1, *counts)
        voxel = (float(slice_thickness_m), *(f / n for f, n in zip(fovs, counts[1:])))
    else:
        voxel = tuple(f / n for f, n in zip(fovs, counts))
    total = math.prod(int(n) for n in counts)
    if total > MAX_VOXELS:
        raise HarmoniqError(
            f"{what}: matrix={matrix!r} gives {total} voxels, above the limit of {MAX_VOXELS} "
            f"(e.g. 320^3); use a smaller matrix"
        )
    return Grid(tuple(int(n) for n in counts), tuple(float(v) for v in voxel), ndim)
