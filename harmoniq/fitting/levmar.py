"""Levenberg-Marquardt least squares for many small independent problems at once.

Each voxel v has data y_v (N samples) and parameters p_v (P of them, a handful). Arrays are
sample-major: data and predictions (N, V), parameters a list of P arrays (V,), so every sum
over samples is a sum of N contiguous rows. One iteration solves, for every voxel at once,

    (J^T J + lambda diag(J^T J)) dp = J^T (y - f(p))

with a Cholesky factorisation written as whole-array operations (no Python loop over voxels;
NumPy or CuPy), accepts the step where the residual sum of squares drops and adapts lambda
per voxel (Marquardt, J SIAM 1963;11:431). Converged voxels leave the active set. The
Cramer-Rao bound of unbiased estimates under Gaussian noise sigma is sigma^2 (J^T J)^-1.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from harmoniq.backend import get_array_module

Model = Callable[[list, dict], tuple]


@dataclass
class LeastSquaresResult:
    """Per voxel: params (list of P (V,)), rss (V,), jtj (P x P nested lists of (V,)), converged."""

    params: list
    rss: object
    jtj: list
    converged: object


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


def cholesky_solve(a, b):
    """Solve a x = b for symmetric positive definite a given as nested lists of (V,) arrays.

    a: P x P nested lists, b: list of P arrays; returns the list of P solution arrays
    (NaN where a is not positive definite).
    """
    xp = get_array_module(b[0])
    n = len(b)
    low = [[None] * n for _ in range(n)]
    for i in range(n):
        for j in range(i + 1):
            s = a[i][j]
            for k in range(j):
                s = s - low[i][k] * low[j][k]
            low[i][j] = xp.sqrt(xp.where(s > 0, s, xp.nan)) if i == j else s / low[j][j]
    y = []
    for i in range(n):
        s = b[i]
        for k in range(i):
            s = s - low[i][k] * y[k]
        y.append(s / low[i][i])
    x = [None] * n
    for i in reversed(range(n)):
        s = y[i]
        for k in range(i + 1, n):
            s = s - low[k][i] * x[k]
        x[i] = s / low[i][i]
    return x


def inverse_diagonal(jtj):
    """Diagonal of (J^T J)^-1, one (V,) array per parameter (NaN where singular)."""
    xp = get_array_module(jtj[0][0])
    n = len(jtj)
    out = []
    for i in range(n):
        unit = [xp.full_like(jtj[0][0], 1.0 if k == i else 0.0) for k in range(n)]
        out.append(cholesky_solve(jtj, unit)[i])
    return out


def _rss(data, pred):
    resid = data - pred
    return column_dot(resid, resid)


def levenberg_marquardt(
    model: Model,
    params: list,
    data,
    aux: dict | None = None,
    *,
    lower: list | None = None,
    upper: list | None = None,
    max_iter: int = 50,
    xtol: float = 1e-7,
    ftol: float = 1e-10,
) -> LeastSquaresResult:
    """Minimise ||data - f(p)||^2 for every voxel; ``data`` (N, V), ``params`` list of P (V,).

    ``model(params, aux) -> (prediction (N, V), [dF/dp_i (N, V) for each i])``, with ``aux``
    a dict of per-voxel side arrays (first axis V), subset with the voxels. ``lower``/``upper``
    clip each parameter (None: unbounded). A voxel has converged when an accepted step
    changes no parameter by more than ``xtol`` relative or the residual sum of squares by
    no more than ``ftol`` relative, or when no step helps any more.
    """
    xp = get_array_module(data)
    n = len(params)
    lower = lower or [None] * n
    upper = upper or [None] * n
    out = [xp.asarray(p, dtype=data.dtype).copy() for p in params]
    out_rss = xp.zeros(data.shape[1], dtype=data.dtype)
    out_jtj = [[xp.zeros(data.shape[1], dtype=data.dtype) for _ in range(n)] for _ in range(n)]
    converged = xp.zeros(data.shape[1], dtype=bool)
    # the working set, compressed once a fifth of it has finished (copies cost time too)
    active = xp.arange(data.shape[1])
    running = xp.ones(data.shape[1], dtype=bool)
    p = [v.copy() for v in out]
    y = data
    side = dict(aux or {})
    pred, jac = model(p, side)
    rss = _rss(y, pred)
    lam = xp.full(rss.shape, 1e-3, dtype=data.dtype)
    for iteration in range(max_iter):
        resid = y - pred
        jtj = normal_matrix(jac)
        grad = [column_dot(j, resid) for j in jac]
        damped = [[jtj[i][k] * (1.0 + lam) if i == k else jtj[i][k] for k in range(n)] for i in range(n)]
        step = [xp.nan_to_num(s, nan=0.0, posinf=0.0, neginf=0.0) for s in cholesky_solve(damped, grad)]
        trial = []
        for i in range(n):
            t = p[i] + step[i]
            if lower[i] is not None or upper[i] is not None:
                t = xp.clip(t, lower[i], upper[i])
            trial.append(t)
        pred_t, jac_t = model(trial, side)
        rss_t = _rss(y, pred_t)
        better = (rss_t < rss) & running
        rel_step = xp.zeros_like(rss)
        for s, v in zip(step, p):
            rel_step = xp.maximum(rel_step, xp.abs(s) / xp.maximum(xp.abs(v), 1e-300))
        small = (rel_step < xtol) | (rss - rss_t <= ftol * rss_t)
        settled = (better & small) | (~better & (lam > 1e10)) | (rel_step == 0)
        done = (settled | (iteration == max_iter - 1)) & running
        p = [xp.where(better, t, v) for t, v in zip(trial, p)]
        pred = xp.where(better, pred_t, pred)
        jac = [xp.where(better, jt, j) for jt, j in zip(jac_t, jac)]
        rss = xp.where(better, rss_t, rss)
        lam = xp.where(better, xp.maximum(lam * 0.1, 1e-12), lam * 10.0)
        finished = active[done]
        for i in range(n):
            out[i][finished] = p[i][done]
        out_rss[finished] = rss[done]
        final_jtj = normal_matrix([j[:, done] for j in jac])
        for i in range(n):
            for k in range(n):
                out_jtj[i][k][finished] = final_jtj[i][k]
        converged[finished] = settled[done]
        running &= ~done
        n_running = int(running.sum())
        if n_running == 0:
            break
        if n_running > 0.8 * running.size:
            continue
        keep = running
        running = running[keep]
        active = active[keep]
        p = [v[keep] for v in p]
        y = y[:, keep]
        pred = pred[:, keep]
        jac = [j[:, keep] for j in jac]
        rss, lam = rss[keep], lam[keep]
        side = {k: v[keep] for k, v in side.items()}
    return LeastSquaresResult(params=out, rss=out_rss, jtj=out_jtj, converged=converged)
