"""Partial-volume rasteriser on simple scenes with closed-form answers; CuPy agrees with NumPy."""

import math

import numpy as np
import pytest

from harmoniq.backend import gpu_available
from harmoniq.phantoms.grid import make_grid
from harmoniq.phantoms.rasterize import Scene, rasterize
from harmoniq.phantoms.shapes import Ellipsoid, sphere
from harmoniq.phantoms.tissues import BACKGROUND, Tissue

WATER = Tissue("water", pd=1.0, t1_s=1.0, t2_s=0.1)
OIL = Tissue("oil", pd=0.5, t1_s=0.3, t2_s=0.05, offres_hz=-400.0)


def test_sphere_volume_and_dominant_tissue():
    """sum(PD) * voxel volume -> 4/3 pi r^3; a voxel's T1 is the tissue with the largest f * PD."""
    grid = make_grid(40, 0.1, 3, 0.005, "test")
    scene = Scene((BACKGROUND, WATER), ((sphere((0.003, -0.002, 0.001), 0.03), 1),))
    maps = rasterize(scene, grid, supersample=4)
    assert maps.pd.sum() * math.prod(grid.voxel_size_m) == pytest.approx(4 / 3 * math.pi * 0.03**3, rel=2e-3)
    inside = maps.pd > 0
    assert np.all(maps.t1_s[inside] == 1.0) and np.all(np.isinf(maps.t1_s[~inside]))


def test_mixed_voxel_takes_pd_weighted_dominant_tissue():
    """Oil (PD 0.5) fills x < 1 mm, water (PD 1) the rest. The 1 cm voxel centred on x = 0 has
    sub-samples at x = -4, -2, 0, 2, 4 mm (5 per axis): 3/5 oil, 2/5 water, so its PD is
    0.6 * 0.5 + 0.4 * 1 = 0.7 and its T1 is water's (0.4 * 1 > 0.6 * 0.5) although oil fills more."""
    grid = make_grid((8, 8), 0.08, 2, 0.005, "test")
    oil_half_space = Ellipsoid((-0.499, 0.0, 0.0), (0.5, 1.0, 1.0))
    scene = Scene((BACKGROUND, WATER, OIL), ((Ellipsoid((0.0, 0.0, 0.0), (1.0, 1.0, 1.0)), 1), (oil_half_space, 2)))
    maps = rasterize(scene, grid, supersample=5)
    row = (0, 4)
    assert maps.pd[row][4] == pytest.approx(0.7, rel=1e-12)
    assert maps.t1_s[row][4] == WATER.t1_s and maps.offres_hz[row][4] == 0.0
    assert maps.pd[row][3] == OIL.pd and maps.offres_hz[row][3] == OIL.offres_hz
    assert maps.labels[row][4] == 0 and maps.labels[row][3] == 2 and maps.labels[row][6] == 1


@pytest.mark.gpu
@pytest.mark.skipif(not gpu_available(), reason="needs CuPy and a CUDA device")
def test_cupy_matches_numpy():
    import cupy

    grid = make_grid(32, 0.1, 3, 0.005, "test")
    scene = Scene((BACKGROUND, WATER, OIL), ((sphere((0, 0, 0), 0.04), 1), (sphere((0.01, 0, 0), 0.015), 2)))
    cpu, gpu = rasterize(scene, grid, 4, np), rasterize(scene, grid, 4, cupy)
    for field in ("pd", "t1_s", "labels", "offres_hz"):
        np.testing.assert_array_equal(getattr(cpu, field), getattr(gpu, field))
