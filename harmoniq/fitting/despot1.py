"""DESPOT1: the spoiled gradient-echo signal and its linear and nonlinear fits.

Signal with ideal spoiling (flip a = B1 * nominal flip, E1 = exp(-TR/T1)):

    S(a) = M0 sin(a) (1 - E1) / (1 - E1 cos a)

Linear DESPOT1 (Deoni et al., MRM 2003;49:515): S/sin a = E1 S/tan a + M0 (1 - E1), a
straight line whose slope is E1. The nonlinear fit refines (M0, T1) by Levenberg-Marquardt
from the linear estimate. Arrays are sample-major: data and effective flips (N, V).
"""

from __future__ import annotations

import numpy as np

from harmoniq.backend import get_array_module
from harmoniq.fitting.engine import solve_chunked

def spgr_signal(flip_rad, tr_s: float, t1_s, m0=1.0):
    """Ideal-spoiling steady state M0 sin a (1 - E1) / (1 - E1 cos a), broadcasting."""
    xp = get_array_module(flip_rad, t1_s)
    e1 = xp.exp(-tr_s / xp.asarray(t1_s))
    return m0 * xp.sin(flip_rad) * (1 - e1) / (1 - e1 * xp.cos(flip_rad))


def valid_t1_range(flip_eff_rad, tr_s: float):
    """Per-voxel (T1_min, T1_max): Ernst angle between the smallest and largest flip (N, V)."""
    xp = get_array_module(flip_eff_rad)
    with np.errstate(divide="ignore", invalid="ignore"):
        t1_min = -tr_s / xp.log(xp.cos(flip_eff_rad.max(axis=0)))
        t1_max = -tr_s / xp.log(xp.cos(flip_eff_rad.min(axis=0)))
    return xp.where(flip_eff_rad.max(axis=0) >= np.pi / 2, 0.0, t1_min), t1_max


def despot1_linear(data, flip_eff_rad, tr_s: float):
    """Closed-form DESPOT1 per voxel: (M0, T1) from the regression of S/sin a on S/tan a.

    ``data`` and ``flip_eff_rad``: (N, V). T1 is NaN where the slope E1 is not in (0, 1).
    """
    xp = get_array_module(data)
    y = data / xp.sin(flip_eff_rad)
    x = data / xp.tan(flip_eff_rad)
    xc = x - x.mean(axis=0)
    yc = y - y.mean(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        e1 = (xc * yc).sum(axis=0) / (xc**2).sum(axis=0)
        ok = (e1 > 0) & (e1 < 1)
        e1 = xp.where(ok, e1, xp.nan)
        m0 = (y.mean(axis=0) - e1 * x.mean(axis=0)) / (1 - e1)
        t1 = -tr_s / xp.log(e1)
    return m0, t1


def _model(tr_s: float):
    """Prediction and Jacobian in (M0, T1); aux["flip"] is voxel-major (V, N)."""

    def model(params, aux):
        xp = get_array_module(params[0])
        m0, t1 = params
        flip = aux["flip"].T
        e1 = xp.exp(-tr_s / t1)
        sa, ca = xp.sin(flip), xp.cos(flip)
        den = 1 - e1 * ca
        f = sa * (1 - e1) / den
        df_de1 = sa * (ca - 1) / den**2
        return m0 * f, [f, m0 * df_de1 * e1 * tr_s / t1**2]

    return model


def _initial(tr_s: float):
    def initial(data, aux):
        xp = get_array_module(data)
        flip = aux["flip"].T
        m0, t1 = despot1_linear(data, flip, tr_s)
        bad = ~xp.isfinite(t1) | ~xp.isfinite(m0)
        t1 = xp.where(bad, 1.0, t1)
        m0 = xp.where(bad, data.max(axis=0) / spgr_signal(flip, tr_s, 1.0).max(axis=0), m0)
        return [([m0, t1], data)]

    return initial


def fit_despot1(data, flip_eff_rad, tr_s: float, method: str):
    """(M0, T1, rss, least-squares result or None for 'linear'); data and flips (N, V)."""
    xp = get_array_module(data)
    if method == "linear":
        m0, t1 = despot1_linear(data, flip_eff_rad, tr_s)
        pred = spgr_signal(flip_eff_rad, tr_s, t1, m0)
        return m0, t1, ((data - pred) ** 2).sum(axis=0), None
    result = solve_chunked(
        _model(tr_s),
        _initial(tr_s),
        data,
        {"flip": xp.ascontiguousarray(flip_eff_rad.T)},
        lower=[None, tr_s / 100],
        upper=[None, tr_s * 1e5],
    )
    return result.params[0], result.params[1], result.rss, result
