"""Grid search for models linear in their amplitudes (variable projection).

A model s(theta) = B(theta) c with one nonlinear parameter theta and L linear amplitudes c
(e.g. a + b exp(-TI/T1): B = [1, exp(-TI/T1)]) has, for fixed theta, the closed-form
least-squares residual ||y||^2 - ||Q(theta)^T y||^2 with Q the orthonormal basis of B's
columns (Golub and Pereyra, SIAM J Numer Anal 1973;10:413; Barral et al., MRM
2010;64:1057). Evaluating it on a grid of theta for all voxels is a few matrix products.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from harmoniq.backend import get_array_module, to_numpy
from harmoniq.fitting.levmar import cholesky_solve, column_dot, normal_matrix


@dataclass
class GridFit:
    """Per voxel: ``index`` of the best grid point, its ``rss`` and amplitudes (list of L (V,)),
    and ``position``: the fractional index of the projection's maximum from a parabola through
    the best point and its neighbours (a start for the refinement several times closer)."""

    index: object
    rss: object
    amplitudes: list
    position: object


def grid_search(data, basis) -> GridFit:
    """Best grid point per voxel; ``data`` (N, V), ``basis`` (G, N, L) for G grid values."""
    xp = get_array_module(data)
    q = xp.asarray(np.linalg.qr(to_numpy(basis))[0])  # small (G, N, L): on the host
    projection = sum((q[:, :, k] @ data) ** 2 for k in range(q.shape[2]))
    index = xp.argmax(projection, axis=0)
    energy = column_dot(data, data)
    rss = energy - projection[index, xp.arange(index.size)]
    columns = [basis[index, :, k].T for k in range(basis.shape[2])]
    amplitudes = cholesky_solve(normal_matrix(columns), [column_dot(c, data) for c in columns])
    centre = xp.clip(index, 1, projection.shape[0] - 2)
    voxel = xp.arange(index.size)
    below, here, above = (projection[centre + k, voxel] for k in (-1, 0, 1))
    curvature = below - 2 * here + above
    with np.errstate(divide="ignore", invalid="ignore"):
        offset = xp.where(curvature < 0, 0.5 * (below - above) / curvature, 0.0)
    position = centre + xp.clip(xp.nan_to_num(offset), -1.0, 1.0)
    return GridFit(index=index, rss=xp.maximum(rss, 0.0), amplitudes=amplitudes, position=position)


def grid_value(grid, position):
    """The log-spaced ``grid`` at fractional index ``position`` (interpolated in log)."""
    xp = get_array_module(position)
    lo = xp.clip(xp.floor(position).astype(int), 0, grid.size - 2)
    w = position - lo
    return xp.exp((1 - w) * xp.log(grid[lo]) + w * xp.log(grid[lo + 1]))


def log_grid(lo: float, hi: float, n: int, xp):
    """``n`` values spaced evenly in log between ``lo`` and ``hi``."""
    return xp.exp(xp.linspace(math.log(lo), math.log(hi), n))
