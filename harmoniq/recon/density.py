"""Density compensation: the k-space area (volume in 3D) around each sample, in grid cells.

``coord`` holds sigpy coordinates (readout, sample, ndim): k times the field of view, so a
Cartesian grid has one sample per cell of area 1. The first rule that fits every readout of
``coord`` gives the weights:

- ``spokes``: each readout runs straight through k = 0 (radial, UTE centre-out). Sample j at
  signed position ``s_j`` along its line owns the interval ``[a_j, b_j]`` between the midpoints
  to its neighbours (half a step beyond the end samples, cut at 0 where the line has no
  samples on the other side). The part of it on each half-line sweeps the angular cell
  ``Omega`` of that half-line's direction: area ``Omega / d (b^d - a^d)`` in d dimensions.
  ``Omega`` is half the angle to the neighbouring directions in 2D and the direction's
  spherical Voronoi area in 3D (``scipy.spatial.SphericalVoronoi``). For M evenly spaced full
  spokes sampled every ``dr`` this is the ring ``pi ((r + dr/2)^2 - (r - dr/2)^2) / (2 M)``,
  and ``pi (dr/2)^2 / M`` for the centre sample.
- ``lines``: each readout runs along one and the same axis at a fixed position across it
  (ramp-sampled EPI): the sample spacing along the line (centred differences, one-sided at
  the ends) times the spacing of the line positions across it (centred differences along
  each axis across; 1 cell along an axis where all lines share one position), divided by the
  number of lines at that position. Fully sampled Cartesian lines get 1.
- ``pipe-menon``: anything else (spirals, stack of stars): the Pipe-Menon iteration
  ``w <- w / (G G^H w)`` (Pipe and Menon, Magn Reson Med 1999;41:179-186) with sigpy's
  ``pipe_menon_dcf`` on a grid oversampled by 2 (Zwart et al., Magn Reson Med
  2012;67:701-710), divided by its value for a Cartesian grid of that oversampled size and
  by ``2^ndim``; within ~5 % of the sampled area (0.955 on a Cartesian grid).
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import SphericalVoronoi

from harmoniq.backend import get_array_module, to_numpy

TOLERANCE = 1e-2
"""Grid cells: how far a sample may lie off its readout's line (or a line's position may vary)."""
PIPE_MENON_OVERSAMPLING = 2
PIPE_MENON_ITERATIONS = 10
"""Pipe-Menon iterations: on radial test data the gridding error stops improving after 10."""


def density_rule(coord) -> str:
    """The rule ('spokes', 'lines' or 'pipe-menon') :func:`density_compensation` applies to ``coord``."""
    k = to_numpy(coord).astype(np.float64)
    if _spoke_positions(k) is not None:
        return "spokes"
    return "lines" if _line_axis(k) is not None else "pipe-menon"


def density_compensation(coord, shape):
    """Density weights ``w`` (coord.shape[:-1], grid cells) of sigpy coordinates ``coord``
    (readout, sample, ndim; NumPy or CuPy, returned alike) of an image of ``shape``."""
    rule = density_rule(coord)
    if rule == "pipe-menon":
        return _pipe_menon(coord, shape)
    k = to_numpy(coord).astype(np.float64)
    weights = spoke_areas(k) if rule == "spokes" else line_areas(k)
    return get_array_module(coord).asarray(weights.astype(coord.dtype))


def spoke_areas(k: np.ndarray) -> np.ndarray:
    """Area (volume) of each sample of readouts straight through k = 0 (see the module)."""
    s, direction = _spoke_positions(k)
    ndim = k.shape[-1]
    descending = s[:, -1] < s[:, 0]
    s = np.where(descending[:, None], s[:, ::-1], s)
    edges = np.concatenate([s[:, :1] - (s[:, 1:2] - s[:, :1]) / 2, (s[:, 1:] + s[:, :-1]) / 2,
                            s[:, -1:] + (s[:, -1:] - s[:, -2:-1]) / 2], axis=1)
    positive, negative = s[:, -1] > TOLERANCE, s[:, 0] < -TOLERANCE
    edges = np.clip(edges, np.where(negative, -np.inf, 0)[:, None], np.where(positive, np.inf, 0)[:, None])
    halves = np.concatenate([direction[positive], -direction[negative]])
    cells = np.zeros((2, len(k)))
    cells[0, positive], cells[1, negative] = np.split(_angular_cells(halves), [int(positive.sum())])
    reach = np.maximum(edges, 0) ** ndim, np.maximum(-edges, 0) ** ndim  # |s|^d on each half-line
    areas = (cells[0, :, None] * np.diff(reach[0], axis=1) - cells[1, :, None] * np.diff(reach[1], axis=1)) / ndim
    return np.where(descending[:, None], areas[:, ::-1], areas)


def line_areas(k: np.ndarray) -> np.ndarray:
    """Area (volume) of each sample of readouts along one axis (see the module)."""
    axis = _line_axis(k)
    along = np.abs(np.gradient(k[..., axis], axis=1))
    across = np.delete(k[:, 0], axis, axis=-1)
    cells = np.rint(across / TOLERANCE).astype(np.int64)
    width = np.ones(len(k))
    for i in range(across.shape[-1]):
        _, index, count = np.unique(cells[:, i], return_inverse=True, return_counts=True)
        if count.size > 1:
            width *= np.gradient(np.bincount(index, weights=across[:, i]) / count)[index]
    _, index, count = np.unique(cells, axis=0, return_inverse=True, return_counts=True)
    return along * (width / count[index.ravel()])[:, None]


def _spoke_positions(k: np.ndarray):
    """(signed positions (readout, sample), unit directions (readout, ndim)) of the readouts
    along lines through k = 0 towards their farthest sample, or None unless every readout lies
    on such a line with strictly monotonic samples."""
    if k.ndim != 3 or k.shape[1] < 2:
        return None
    radius = np.linalg.norm(k, axis=-1)
    far = k[np.arange(len(k)), np.argmax(radius, axis=1)]
    length = np.linalg.norm(far, axis=-1)
    if np.any(length < TOLERANCE):
        return None
    direction = far / length[:, None]
    s = np.einsum("rsd,rd->rs", k, direction)
    off_line = np.linalg.norm(k - s[..., None] * direction[:, None], axis=-1)
    step = np.diff(s, axis=1)
    monotonic = np.all(step > 0, axis=1) | np.all(step < 0, axis=1)
    if off_line.max() > TOLERANCE or not monotonic.all() or not _directions_span(direction, k.shape[-1]):
        return None
    return s, direction


def _directions_span(direction: np.ndarray, ndim: int) -> bool:
    """True when the readout directions span the space (in 3D: a spherical Voronoi exists)."""
    return ndim == 2 or np.linalg.matrix_rank(direction, tol=1e-6) == 3 and len(_unique_rows(direction)[0]) >= 4


def _angular_cells(directions: np.ndarray) -> np.ndarray:
    """Angle (2D, rad) or solid angle (3D, sr) owned by each unit direction: half the angles to
    the neighbouring directions, or the spherical Voronoi area; shared by equal directions."""
    unique, index, count = _unique_rows(directions)
    if directions.shape[-1] == 2:
        angle = np.mod(np.arctan2(unique[:, 1], unique[:, 0]), 2 * np.pi)
        order = np.argsort(angle)
        gap = np.diff(np.concatenate([angle[order], angle[order[:1]] + 2 * np.pi]))
        cell = np.empty(len(angle))
        cell[order] = (gap + np.roll(gap, 1)) / 2
    else:
        unique /= np.linalg.norm(unique, axis=-1, keepdims=True)
        cell = SphericalVoronoi(unique, radius=1.0).calculate_areas()
    return cell[index] / count[index]


def _unique_rows(directions: np.ndarray):
    """(unique directions, index of each row, count of each unique one), equal to 1e-6."""
    _, first, index, count = np.unique(np.rint(directions * 1e6).astype(np.int64), axis=0, return_index=True,
                                       return_inverse=True, return_counts=True)
    return directions[first].copy(), index.ravel(), count


def _line_axis(k: np.ndarray):
    """The one axis every readout runs along with strictly monotonic samples and a fixed
    position across, or None."""
    if k.ndim != 3 or k.shape[1] < 2:
        return None
    varies = np.ptp(k, axis=1) > TOLERANCE  # (readout, ndim)
    if not np.all(varies.sum(axis=1) == 1) or not np.all(varies == varies[0]):
        return None
    axis = int(np.argmax(varies[0]))
    step = np.diff(k[..., axis], axis=1)
    return axis if np.all(np.all(step > 0, axis=1) | np.all(step < 0, axis=1)) else None


def _pipe_menon(coord, shape):
    """Pipe-Menon weights in grid cells (see the module) on the device of ``coord``."""
    import sigpy as sp
    from sigpy.mri import pipe_menon_dcf

    device = sp.get_device(coord)
    ndim = coord.shape[-1]
    grid = [int(n * PIPE_MENON_OVERSAMPLING) for n in shape]
    weights = pipe_menon_dcf(coord * PIPE_MENON_OVERSAMPLING, grid, device=device, max_iter=PIPE_MENON_ITERATIONS,
                             show_pbar=False)
    xp = device.xp
    cells = xp.stack(xp.meshgrid(*[xp.arange(-4, 4, dtype=coord.dtype)] * ndim, indexing="ij"), axis=-1)
    unit = pipe_menon_dcf(cells, [8] * ndim, device=device, max_iter=PIPE_MENON_ITERATIONS,
                          show_pbar=False)[(4,) * ndim]
    return weights / (unit * PIPE_MENON_OVERSAMPLING**ndim)
