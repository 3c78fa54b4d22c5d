"""One nonlinear parameter and linear amplitudes: variable projection by safeguarded Newton.

A model s(R) = B(R) c with one nonlinear parameter R (a relaxation rate, 1/s, in every model
here) and L linear amplitudes c has, for fixed R, the least-squares amplitudes c = G^-1 g
(G = B^T B, g = B^T y) and the residual ||y||^2 - P(R), where P = g^T G^-1 g is the energy of
the projection of y on the columns of B (Golub and Pereyra, SIAM J Numer Anal 1973;10:413;
Barral et al., MRM 2010;64:1057 for inversion recovery). The fit maximises P(R), a 1-D
problem per voxel, for all voxels at once:

- start: P on a grid of R (one matrix product), the best grid point refined by a parabola;
  its two neighbours bracket the maximum;
- Newton steps R <- R - P'/P'', with P' and P'' in closed form from the moments below; a step
  that leaves the bracket, or meets P'' >= 0, bisects the bracket instead, and the sign of P'
  shrinks the bracket (safeguarded Newton: Press et al., Numerical Recipes, 3rd ed., 2007,
  section 9.4). A voxel is done when its Newton step s is below ``tol`` x R, and the step is
  applied. Newton's relative error after that step is about k (s/R)^2, k = R |P'''| / (2 |P''|)
  (quadratic convergence); k stays below 2 for the models here, so the default ``tol`` of
  1e-3 leaves R within about 2e-6 of the optimum, far below the noise of any map;
- solution: c, the residual and the Cramer-Rao variances at the final R (one more pass).

With H = B'^T B, K = B'^T B', M = B''^T B, g' = B'^T y, g'' = B''^T y (' = d/dR):

    P'  = 2 (g'.c - c^T H c)
    P'' = 2 (g''.c + h^T G^-1 h - c^T M c - c^T K c),   h = g' - (H + H^T) c

The Jacobian of s in (c, R) is [B, B' c], so J^T J = [[G, H^T c], [c^T H, c^T K c]] and the
Cramer-Rao bound is sigma^2 diag (J^T J)^-1.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, fields

import numpy as np

from harmoniq.backend import get_array_module, to_numpy
from harmoniq.fitting.smallmatrix import column_dot, inverse_diagonal, ldl, ldl_solve

TOLERANCE = 1e-3  # the last Newton step, relative to R (R is then within ~2e-6 of the optimum)
MAX_ITER = 30
BLAS_BLOCK = 1 << 18  # OpenBLAS runs a product below 2^18 multiply-adds on the calling thread


@dataclass
class Moments:
    """Per-voxel moments of the basis B (N x L), its derivatives in R and the data y at one R.

    ``gram`` B^T B, ``gram_d`` B'^T B (entry i, j: <B'_i, B_j>), ``gram_dd`` B'^T B',
    ``gram_d2`` B''^T B: L x L nested lists; ``proj`` B^T y, ``proj_d`` B'^T y, ``proj_d2``
    B''^T y: lists of L. Entries are (V,) arrays, or 0.0 where zero for every voxel.
    """

    gram: list
    gram_d: list
    gram_dd: list
    gram_d2: list
    proj: list
    proj_d: list
    proj_d2: list


MomentsFunction = Callable[[object, object, dict], Moments]


@dataclass
class VarProFit:
    """Per voxel: ``rate`` R (1/s), ``amplitudes`` (list of L), ``rss``, ``variances``: the
    diagonal of (J^T J)^-1 over (c..., R), the Cramer-Rao variances for unit noise SD (list
    of L + 1), and ``converged`` (the last Newton step met the tolerance)."""

    rate: object
    amplitudes: list
    rss: object
    variances: list
    converged: object

    @staticmethod
    def concatenate(parts: list) -> VarProFit:
        """The fits of consecutive voxel chunks as one."""
        xp = get_array_module(parts[0].rss)

        def join(values):
            if isinstance(values[0], list):
                return [xp.concatenate(arrays) for arrays in zip(*values)]
            return xp.concatenate(values)

        return VarProFit(**{f.name: join([getattr(p, f.name) for p in parts]) for f in fields(VarProFit)})


def log_grid(lo: float, hi: float, n: int, xp):
    """``n`` values spaced evenly in log between ``lo`` and ``hi``."""
    return xp.exp(xp.linspace(math.log(lo), math.log(hi), n))


class Grid:
    """Start and bracket of R from the projection energy on a log-spaced grid of rates.

    ``rate_min``, ``rate_max`` (1/s), ``n`` points; ``basis(rates)`` gives the model's B at
    each grid rate, (G, N, L). The orthonormal bases Q (B = Q R) are computed once, with the
    columns that are the same at every rate (e.g. a constant) first: their share of
    P = ||Q^T y||^2 is the same at every grid point, so only the other columns are projected,
    in single precision (it only chooses the start).
    """

    def __init__(self, rate_min: float, rate_max: float, n: int, basis: Callable, xp):
        self.rates = log_grid(rate_min, rate_max, n, xp)
        self.log_step = math.log(rate_max / rate_min) / (n - 1)
        b = to_numpy(basis(self.rates)).astype(np.float64)
        fixed = [bool(np.all(b[:, :, k] == b[:1, :, k])) for k in range(b.shape[2])]
        order = np.argsort(np.logical_not(fixed), kind="stable")
        q = np.linalg.qr(b[:, :, order])[0][:, :, sum(fixed) :]  # (G, N, varying), small: on the host
        self.n_rates, n_samples, self.n_columns = q.shape
        # columns: the first varying basis vector at every grid rate, then the second, ...
        self.projector = xp.asarray(np.ascontiguousarray(q.transpose(1, 2, 0).reshape(n_samples, -1), dtype=np.float32))

    def start(self, data):
        """(R0, low, high) per voxel for ``data`` (N, V): the parabolic vertex through the best
        grid point and its neighbours, and the neighbours themselves (the grid's ends at its
        edges)."""
        xp = get_array_module(data)
        n_voxels, g = data.shape[1], self.n_rates
        peak = float(xp.abs(data).max())  # scaled to 1: single precision neither overflows nor underflows
        samples = (data.T * (1.0 / peak if peak > 0 else 1.0)).astype(xp.float32)
        coefficients = xp.empty((n_voxels, self.projector.shape[1]), dtype=xp.float32)
        block = max(1, BLAS_BLOCK // self.projector.size) if xp is np else n_voxels
        for first in range(0, n_voxels, block):
            xp.matmul(samples[first : first + block], self.projector, out=coefficients[first : first + block])
        coefficients *= coefficients
        energy = coefficients[:, :g]
        for k in range(1, self.n_columns):
            energy = energy + coefficients[:, k * g : (k + 1) * g]
        energy = xp.ascontiguousarray(energy).reshape(-1)
        best = xp.argmax(energy.reshape(n_voxels, g), axis=1)
        centre = xp.clip(best, 1, g - 2)
        flat = centre + g * xp.arange(n_voxels)
        below, here, above = (energy[flat + k].astype(data.dtype) for k in (-1, 0, 1))
        curvature = below - 2 * here + above
        with np.errstate(divide="ignore", invalid="ignore"):
            offset = xp.where(curvature < 0, 0.5 * (below - above) / curvature, 0.0)
        position = centre + xp.clip(xp.nan_to_num(offset), -1.0, 1.0)
        low = self.rates[xp.maximum(best - 1, 0)]
        high = self.rates[xp.minimum(best + 1, g - 1)]
        return xp.clip(self.rates[0] * xp.exp(self.log_step * position), low, high), low, high


def fit_rate(moments: MomentsFunction, data, aux: dict, start, **options) -> VarProFit:
    """:func:`maximise` from ``start``, then :func:`solution` at the maximum."""
    rate, _, converged = maximise(moments, data, aux, start, **options)
    return solution(moments, data, aux, rate, converged)


def maximise(moments: MomentsFunction, data, aux: dict, start, *, tol: float = TOLERANCE, max_iter: int = MAX_ITER):
    """Maximise the projection energy P(R) per voxel by safeguarded Newton steps.

    ``moments(rate, data, aux)`` gives the :class:`Moments` at ``rate`` (V,); ``data`` (N, V);
    ``aux``: per-voxel side arrays (voxel axis last), subset with the voxels still running;
    ``start``: (R0, low, high) with low <= R0 <= high (e.g. from :meth:`Grid.start`).
    Returns per voxel R, the residual sum of squares there (to second order in the last
    step) and ``converged``. Voxels whose maximum lies at an end of the bracket (the bracket
    closes on it) or that do not meet the tolerance in ``max_iter`` steps keep their last R,
    with ``converged`` False.
    """
    xp = get_array_module(data)
    rate, low, high = (xp.asarray(v, dtype=data.dtype) for v in start)
    energy = column_dot(data, data)
    out_rate, out_rss = rate.copy(), xp.empty_like(energy)
    converged = xp.zeros(rate.shape, dtype=bool)
    index = xp.arange(rate.size)
    running = xp.ones(rate.shape, dtype=bool)
    for iteration in range(max_iter):
        m = moments(rate, data, aux)
        c, h, dc = _amplitudes(m)
        p, dp = _dot(m.proj, c), 2 * (_dot(m.proj_d, c) - _quadratic(m.gram_d, c))
        d2p = 2 * (_dot(m.proj_d2, c) + _dot(h, dc) - _quadratic(m.gram_d2, c) - _quadratic(m.gram_dd, c))
        with np.errstate(divide="ignore", invalid="ignore"):
            step = -dp / d2p
        rising = dp > 0
        low = xp.where(rising, rate, low)
        high = xp.where(rising, high, rate)
        trial = rate + step
        inside = (d2p < 0) & (trial >= low) & (trial <= high)
        settled = inside & (xp.abs(step) <= tol * rate)
        finished = running & (settled | (high <= low * (1 + tol)) | (iteration == max_iter - 1))
        if bool(finished.any()):
            done = xp.flatnonzero(finished)
            s = xp.where(settled, step, 0.0)[done]
            out_rate[index[done]] = rate[done] + s
            out_rss[index[done]] = energy[done] - p[done] - 0.5 * dp[done] * s
            converged[index[done]] = settled[done]
            running[done] = False
            n_running = int(running.sum())
            if n_running == 0:
                break
            if n_running <= 0.75 * running.size:  # compress the working set (copies cost too)
                keep = xp.flatnonzero(running)
                index, energy, running = index[keep], energy[keep], running[keep]
                data = xp.take(data, keep, axis=1)
                aux = {k: xp.take(v, keep, axis=-1) for k, v in aux.items()}
                rate, low, high, trial, inside = rate[keep], low[keep], high[keep], trial[keep], inside[keep]
        bisect = xp.flatnonzero(~inside)
        rate = trial
        rate[bisect] = xp.sqrt(low[bisect] * high[bisect])
    return out_rate, out_rss, converged


def solution(moments: MomentsFunction, data, aux: dict, rate, converged) -> VarProFit:
    """Amplitudes, residual sum of squares and Cramer-Rao variances at ``rate``, per voxel."""
    xp = get_array_module(data)
    m = moments(rate, data, aux)
    factors = ldl(m.gram)
    c = ldl_solve(factors, m.proj)
    n = len(c)
    htc = [_dot([row[i] for row in m.gram_d], c) for i in range(n)]  # H^T c
    jtj = [[m.gram[i][j] for j in range(n)] + [htc[i]] for i in range(n)] + [htc + [_quadratic(m.gram_dd, c)]]
    jtj = [[xp.broadcast_to(xp.asarray(v), rate.shape) for v in row] for row in jtj]
    rss = xp.maximum(column_dot(data, data) - _dot(m.proj, c), 0.0)
    return VarProFit(rate=rate, amplitudes=c, rss=rss, variances=inverse_diagonal(jtj), converged=converged)


def _amplitudes(m: Moments):
    """c = G^-1 g, h = g' - (H + H^T) c and c' = G^-1 h."""
    n = len(m.proj)
    factors = ldl(m.gram)
    c = ldl_solve(factors, m.proj)
    symmetric = [[_sum((m.gram_d[i][k], m.gram_d[k][i])) for k in range(n)] for i in range(n)]  # H + H^T
    h = [_sum((m.proj_d[i], _mul(-1.0, _dot(symmetric[i], c)))) for i in range(n)]
    return c, h, ldl_solve(factors, h)


def _is_zero(x) -> bool:
    return isinstance(x, float) and x == 0.0


def _mul(a, b):
    """a * b, skipping the work where either is a structural 0.0."""
    return 0.0 if _is_zero(a) or _is_zero(b) else a * b


def _sum(terms):
    total = 0.0
    for t in terms:
        if not _is_zero(t):
            total = t if _is_zero(total) else total + t
    return total


def _dot(a: list, b: list):
    return _sum(_mul(x, y) for x, y in zip(a, b))


def _quadratic(matrix: list, c: list):
    """c^T A c for an L x L nested list A."""
    return _sum(_mul(_mul(matrix[i][j], c[i]), c[j]) for i in range(len(c)) for j in range(len(c)))
