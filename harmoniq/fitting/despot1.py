"""DESPOT1: the spoiled gradient-echo signal and its linear and nonlinear fits.

Signal with ideal spoiling (flip a = B1 * nominal flip, E1 = exp(-TR/T1)):

    S(a) = M0 sin(a) (1 - E1) / (1 - E1 cos a)

Linear DESPOT1 (Deoni et al., MRM 2003;49:515): S/sin a = E1 S/tan a + M0 (1 - E1), a
straight line whose slope is E1. The nonlinear fit minimises the squared residual of S itself:
M0 is linear, so it maximises the projection energy over R1 = 1/T1 by safeguarded Newton
steps from the linear estimate (:mod:`harmoniq.fitting.varpro`). Arrays are sample-major:
data and effective flips (N, V).
"""

from __future__ import annotations

import numpy as np

from harmoniq.backend import get_array_module
from harmoniq.fitting.engine import map_chunks
from harmoniq.fitting.varpro import Moments, VarProFit, fit_rate

# the search bracket of T1 / TR for the nonlinear fit
T1_BRACKET = (0.01, 1e5)


def spgr_signal(flip_rad, tr_s: float, t1_s, m0=1.0):
    """Ideal-spoiling steady state M0 sin a (1 - E1) / (1 - E1 cos a), broadcasting."""
    xp = get_array_module(flip_rad, t1_s)
    e1 = xp.exp(-tr_s / xp.asarray(t1_s))
    return m0 * xp.sin(flip_rad) * (1 - e1) / (1 - e1 * xp.cos(flip_rad))


def valid_t1_range(flip_rad, b1, tr_s: float):
    """Per-voxel (T1_min, T1_max) in s: the Ernst angle arccos(E1) between the smallest and the
    largest effective flip B1 x nominal flip; ``flip_rad`` nominal (N,), ``b1`` (V,)."""
    xp = get_array_module(b1)
    a_min, a_max = float(np.min(flip_rad)) * b1, float(np.max(flip_rad)) * b1
    with np.errstate(divide="ignore", invalid="ignore"):
        t1_min = xp.where(a_max >= np.pi / 2, 0.0, -tr_s / xp.log(xp.cos(a_max)))
        t1_max = -tr_s / xp.log(xp.cos(a_min))
    return t1_min, t1_max


def despot1_linear(data, flip_eff_rad, tr_s: float):
    """Closed-form DESPOT1 per voxel: (M0, T1) from the regression of S/sin a on S/tan a.

    ``data`` and ``flip_eff_rad``: (N, V). T1 is NaN where the slope E1 is not in (0, 1).
    """
    xp = get_array_module(data)
    return _linear(data, xp.sin(flip_eff_rad), xp.cos(flip_eff_rad), tr_s)


def _linear(data, sin_a, cos_a, tr_s: float):
    xp = get_array_module(data)
    with np.errstate(divide="ignore", invalid="ignore"):
        y = data / sin_a
        x = y * cos_a
        xc = x - x.mean(axis=0)
        yc = y - y.mean(axis=0)
        e1 = (xc * yc).sum(axis=0) / (xc**2).sum(axis=0)
        ok = (e1 > 0) & (e1 < 1)
        e1 = xp.where(ok, e1, xp.nan)
        m0 = (y.mean(axis=0) - e1 * x.mean(axis=0)) / (1 - e1)
        t1 = -tr_s / xp.log(e1)
    return m0, t1


def _moments(tr_s: float):
    """Moments of f(R1) = sin a (1 - E1) / (1 - E1 cos a), E1 = exp(-TR R1), per voxel.

    With u = 1 / (1 - E1 cos a): df/dE1 = sin a (cos a - 1) u^2 and d2f/dE1^2 = 2 cos a u df/dE1;
    with dE1/dR1 = -TR E1 and d2E1/dR1^2 = TR^2 E1 the chain rule gives the derivatives in R1.
    aux: "sin", "cos" of the effective flips and "slope" = sin a (cos a - 1), (N, V).
    """

    def moments(rate, data, aux) -> Moments:
        xp = get_array_module(data)
        e1 = xp.exp(-tr_s * rate)
        u = aux["cos"] * e1
        xp.subtract(1.0, u, out=u)
        xp.reciprocal(u, out=u)
        f = aux["sin"] * u
        f *= 1.0 - e1
        f_e = aux["slope"] * u  # df/dE1
        f_e *= u
        f_ee = aux["cos"] * u  # d2f/dE1^2 / 2
        f_ee *= f_e
        d1, d2 = -tr_s * e1, tr_s**2 * e1  # dE1/dR1, d2E1/dR1^2

        def dot(a, b):
            return xp.einsum("nv,nv->v", a, b)

        f_e_f, f_e_y = dot(f_e, f), dot(f_e, data)
        return Moments(
            gram=[[dot(f, f)]],
            gram_d=[[d1 * f_e_f]],
            gram_dd=[[d1 * d1 * dot(f_e, f_e)]],
            gram_d2=[[2 * d1 * d1 * dot(f_ee, f) + d2 * f_e_f]],
            proj=[dot(f, data)],
            proj_d=[d1 * f_e_y],
            proj_d2=[2 * d1 * d1 * dot(f_ee, data) + d2 * f_e_y],
        )

    return moments


def fit_despot1(data, flip_eff_rad, tr_s: float, method: str):
    """(M0, T1, rss, the :class:`VarProFit` or None for 'linear'); data and flips (N, V), the
    magnitude of the data is fitted."""
    xp = get_array_module(data)
    if method == "linear":
        data = xp.abs(data).astype(xp.float64, copy=False)
        m0, t1 = despot1_linear(data, flip_eff_rad, tr_s)
        pred = spgr_signal(flip_eff_rad, tr_s, t1, m0)
        return m0, t1, ((data - pred) ** 2).sum(axis=0), None
    moments = _moments(tr_s)
    low, high = 1.0 / (T1_BRACKET[1] * tr_s), 1.0 / (T1_BRACKET[0] * tr_s)

    def fit_chunk(part) -> VarProFit:
        d = xp.abs(data[:, part]).astype(xp.float64, copy=False)
        sin_a, cos_a = xp.sin(flip_eff_rad[:, part]), xp.cos(flip_eff_rad[:, part])
        _, t1 = _linear(d, sin_a, cos_a, tr_s)
        start = xp.clip(xp.nan_to_num(1.0 / t1, nan=1.0), low, high)  # no linear estimate: R1 = 1/s
        aux = {"sin": sin_a, "cos": cos_a, "slope": sin_a * (cos_a - 1.0)}
        return fit_rate(moments, d, aux, (start, xp.full_like(start, low), xp.full_like(start, high)))

    result = VarProFit.concatenate(map_chunks(fit_chunk, data.shape[1], xp))
    return result.amplitudes[0], 1.0 / result.rate, result.rss, result
