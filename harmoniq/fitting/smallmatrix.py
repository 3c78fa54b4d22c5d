"""Linear algebra of many small independent systems, one per voxel.

A P x P matrix of per-voxel values is a nested list of P x P arrays (V,) (or scalars); a
vector is a list of P arrays. Every operation is a handful of whole-array operations (no
Python loop over voxels), on NumPy or CuPy alike.
"""

from __future__ import annotations

import numpy as np

from harmoniq.backend import get_array_module


def column_dot(a, b):
    """Per-voxel sum over samples of a * b for (N, V) arrays, in one pass: (V,)."""
    return get_array_module(a).einsum("nv,nv->v", a, b)


def normal_matrix(jac):
    """J^T J as nested lists of (V,) arrays, from the P Jacobian columns (N, V)."""
    n = len(jac)
    jtj = [[None] * n for _ in range(n)]
    for i in range(n):
        for j in range(i + 1):
            jtj[i][j] = jtj[j][i] = column_dot(jac[i], jac[j])
    return jtj


def ldl(a):
    """Square-root-free Cholesky factors of symmetric matrices: a = L D L^T.

    Returns (L, 1/D): L unit lower triangular (entries below the diagonal, nested lists),
    1/D the reciprocal diagonal; NaN where a is not positive definite (the solutions are
    then NaN too).
    """
    xp = get_array_module(*(v for row in a for v in row))
    n = len(a)
    low = [[None] * n for _ in range(n)]
    diag, inv_d = [None] * n, [None] * n
    for j in range(n):
        d = a[j][j]
        for k in range(j):
            d = d - low[j][k] * low[j][k] * diag[k]
        diag[j] = d
        with np.errstate(divide="ignore", invalid="ignore"):
            inv_d[j] = xp.where(d > 0, 1.0 / d, xp.nan)
        for i in range(j + 1, n):
            s = a[i][j]
            for k in range(j):
                s = s - low[i][k] * low[j][k] * diag[k]
            low[i][j] = s * inv_d[j]
    return low, inv_d


def ldl_solve(factors, b):
    """x with L D L^T x = b, from :func:`ldl`'s factors; b a list of P arrays."""
    low, inv_d = factors
    n = len(b)
    y = []
    for i in range(n):
        s = b[i]
        for k in range(i):
            s = s - low[i][k] * y[k]
        y.append(s)
    x = [None] * n
    for i in reversed(range(n)):
        s = y[i] * inv_d[i]
        for k in range(i + 1, n):
            s = s - low[k][i] * x[k]
        x[i] = s
    return x


def inverse_diagonal(a):
    """Diagonal of a^-1 for symmetric positive definite a, one (V,) array per row (NaN where singular).

    With a = L D L^T: (a^-1)_ii = sum_k (L^-1)_ki^2 / D_k, one forward substitution per column.
    """
    low, inv_d = ldl(a)
    n = len(a)
    inv = [[None] * n for _ in range(n)]  # L^-1, unit lower triangular
    for j in range(n):
        inv[j][j] = 1.0
        for i in range(j + 1, n):
            s = -low[i][j]
            for k in range(j + 1, i):
                s = s - low[i][k] * inv[k][j]
            inv[i][j] = s
    return [sum(inv[k][i] ** 2 * inv_d[k] for k in range(i, n)) for i in range(n)]
