"""Density weights (harmoniq.recon.density) against closed-form sample areas, scipy's Voronoi
cells of the samples and sigpy's Pipe-Menon iteration."""

import numpy as np
import pytest
from scipy.spatial import ConvexHull, Voronoi
from sigpy.mri import pipe_menon_dcf

from harmoniq.recon.density import density_compensation, density_rule

N = 32
GOLDEN_ANGLE = np.pi * (3 - np.sqrt(5))
"""rad: the golden angle, 137.5 deg (Winkelmann et al., IEEE Trans Med Imaging 2007;26:68-76, use 111.25
deg over 180 deg; any uneven steps do here)."""


def _spokes(angles, radii) -> np.ndarray:
    """(spoke, sample, (ky, kx)) samples at signed ``radii`` (grid cells) along each angle (rad)."""
    return np.stack([np.sin(angles)[:, None] * radii, np.cos(angles)[:, None] * radii], -1).astype(np.float32)


def _voronoi_areas(points: np.ndarray) -> np.ndarray:
    """Area of each point's Voronoi cell (scipy / Qhull), NaN for the open ones at the edge."""
    tessellation = Voronoi(points)
    areas = np.full(len(points), np.nan)
    for i, region in enumerate(tessellation.point_region):
        vertices = tessellation.regions[region]
        if vertices and -1 not in vertices:
            areas[i] = ConvexHull(tessellation.vertices[vertices]).volume
    return areas


def _unit_pipe_menon(coord, shape) -> np.ndarray:
    """sigpy's Pipe-Menon weights on a grid oversampled by 2, divided by their value on a
    Cartesian grid of that size and by 2^2: grid cells of the image."""
    cells = np.stack(np.meshgrid(*[np.arange(-8, 8)] * 2, indexing="ij"), -1).astype(np.float32)
    unit = pipe_menon_dcf(cells, (16, 16), max_iter=10, show_pbar=False)[8, 8]
    return pipe_menon_dcf(2 * coord, [2 * n for n in shape], max_iter=10, show_pbar=False) / (4 * unit)


def test_full_spokes_get_their_share_of_the_ring():
    # M spokes over 180 deg sampled every 1/2 cell from -N/2 to N/2 - 1/2: the sample at radius r > 0
    # owns 1/(2 M) of the ring pi ((r + 1/4)^2 - (r - 1/4)^2) = pi r, the centre one 1/M of the disc pi / 16
    spokes = 50
    radii = np.arange(-N, N) / 2
    coord = _spokes(np.pi * np.arange(spokes) / spokes, radii)
    weights = density_compensation(coord, (N, N))
    assert density_rule(coord) == "spokes" and weights.dtype == np.float32
    ring = np.where(radii == 0, np.pi / 16 / spokes, np.pi * np.abs(radii) / (2 * spokes))
    np.testing.assert_allclose(weights, np.broadcast_to(ring, weights.shape), rtol=1e-5)
    # together: half discs of radius N/2 - 1/4 (positive halves) and N/2 + 1/4 (negative halves)
    assert weights.sum() == pytest.approx(np.pi / 2 * ((N / 2 - 0.25) ** 2 + (N / 2 + 0.25) ** 2), rel=1e-5)
    # sigpy's Pipe-Menon iteration agrees on average over the spokes (measured within 1.5 % for
    # 4 <= |k| <= 14, single samples within 5.4 %)
    middle = (np.abs(radii) >= 4) & (np.abs(radii) <= 14)
    pipe_menon = _unit_pipe_menon(coord, (N, N))[:, middle]
    np.testing.assert_allclose(pipe_menon.mean(axis=0), ring[middle], rtol=0.03)
    np.testing.assert_allclose(pipe_menon, np.broadcast_to(ring[middle], pipe_menon.shape), rtol=0.08)


def test_golden_angle_spokes_get_the_voronoi_cells():
    # centre-out spokes at uneven angles, samples from 1/2 to N/2: each sample's cell between the
    # midway rays to its neighbouring spokes, against the Voronoi cell of the samples (measured
    # within 0.4 % for radii 3-12; the Voronoi cell has straight sides where ours has arcs)
    radii = np.arange(1, N + 1) / 2
    coord = _spokes(GOLDEN_ANGLE * np.arange(40), radii)
    weights = density_compensation(coord, (N, N))
    voronoi = _voronoi_areas(coord.reshape(-1, 2).astype(np.float64)).reshape(weights.shape)
    middle = (radii >= 3) & (radii <= 12)
    assert not np.isnan(voronoi[:, middle]).any()
    np.testing.assert_allclose(weights[:, middle], voronoi[:, middle], rtol=0.01)
    # the whole sampled ring from 1/4 to N/2 + 1/4
    assert weights.sum() == pytest.approx(np.pi * ((N / 2 + 0.25) ** 2 - 0.25**2), rel=1e-5)


def test_ramp_sampled_lines_get_the_gradient_times_the_dwell():
    # EPI lines along x one cell apart, every second one reversed, sampled every dwell (time unit) over a
    # trapezoid of 5.3 dwells ramps and 20 flat, 1 cell per dwell on the flat top; the area along the line
    # is dk/dt * dwell = G(t) (exact wherever k is quadratic or linear over a sample and its neighbours)
    ramp, flat = 5.3, 20.0
    t = np.arange(0.5, 2 * ramp + flat)
    gradient = np.clip(np.minimum(t, 2 * ramp + flat - t) / ramp, 0, 1)
    down = np.maximum(t - ramp - flat, 0)  # time into the ramp down
    k = np.where(t < ramp, t**2 / (2 * ramp), ramp / 2 + np.minimum(t - ramp, flat) + down - down**2 / (2 * ramp))
    k -= ramp / 2 + flat / 2
    lines = np.arange(-N // 2, N // 2)
    kx = np.where((lines % 2 == 0)[:, None], k, -k)
    coord = np.stack([np.broadcast_to(lines[:, None], kx.shape), kx], -1).astype(np.float32)
    weights = density_compensation(coord, (N, N))
    assert density_rule(coord) == "lines"
    smooth = np.array([not any(abs(knot - time) < 1 for knot in (ramp, ramp + flat)) for time in t])
    smooth[[0, -1]] = False  # the end samples: one-sided differences
    np.testing.assert_allclose(weights[:, smooth], np.broadcast_to(gradient[smooth], (N, smooth.sum())), rtol=1e-4)


def test_cartesian_lines_weigh_one_cell():
    # partial Fourier (20 of 32 lines), the k_y = 0 line acquired twice: half a cell each
    kx = np.arange(-N // 2, N // 2)
    lines = np.concatenate([np.arange(-4, 16), [0]])
    coord = np.stack(np.broadcast_arrays(lines[:, None], kx[None]), -1).astype(np.float32)
    weights = density_compensation(coord, (N, N))
    np.testing.assert_array_equal(weights, np.where((lines == 0)[:, None], 0.5, np.ones_like(weights)))
    # 3D: lines along x on a (k_z, k_y) grid
    kz, ky = np.meshgrid(np.arange(-4, 4), np.arange(-8, 8), indexing="ij")
    across = np.stack([kz.ravel(), ky.ravel()], -1)
    coord3 = np.concatenate([np.broadcast_to(across[:, None], (len(across), N, 2)),
                             np.broadcast_to(kx[None, :, None], (len(across), N, 1))], -1).astype(np.float32)
    np.testing.assert_array_equal(density_compensation(coord3, (8, 16, N)), 1.0)


def test_3d_spokes_fill_the_ball():
    # centre-out spokes along 400 spiral directions on the sphere (nearly even), 1/2 cell apart: the
    # volumes add up to the sampled ball and each is near its shell's share 4 pi r^2 dr / 400 (measured
    # within 6.3 %: the directions' spherical Voronoi cells differ)
    n = 400
    z = 1 - (2 * np.arange(n) + 1) / n
    phi = GOLDEN_ANGLE * np.arange(n)
    directions = np.stack([z, np.sqrt(1 - z**2) * np.sin(phi), np.sqrt(1 - z**2) * np.cos(phi)], -1)
    radii = np.arange(1, 17) / 2
    coord = (directions[:, None] * radii[:, None]).astype(np.float32)
    weights = density_compensation(coord, (16, 16, 16))
    assert weights.sum() == pytest.approx(4 / 3 * np.pi * (8.25**3 - 0.25**3), rel=1e-4)
    np.testing.assert_allclose(weights[:, 2:-1], np.broadcast_to(4 * np.pi * radii[2:-1] ** 2 * 0.5 / n, (n, 13)),
                               rtol=0.1)


def test_other_trajectories_get_pipe_menon():
    # a two-arm Archimedean spiral (neither spokes nor lines): sigpy's iteration, near the samples'
    # Voronoi cells in the middle of k-space (measured: median 1.2 %, at most 16 %)
    t = np.linspace(0, 1, 600)
    arms = [np.stack([np.sin(a + 24 * np.pi * t), np.cos(a + 24 * np.pi * t)], -1) * (14 * t)[:, None]
            for a in (0, np.pi)]
    coord = np.stack(arms).astype(np.float32)
    assert density_rule(coord) == "pipe-menon"
    weights = density_compensation(coord, (N, N))
    voronoi = _voronoi_areas(coord.reshape(-1, 2).astype(np.float64)).reshape(weights.shape)
    radius = np.linalg.norm(coord, axis=-1)
    middle = (radius > 3) & (radius < 11)
    assert np.median(np.abs(weights[middle] / voronoi[middle] - 1)) < 0.04
