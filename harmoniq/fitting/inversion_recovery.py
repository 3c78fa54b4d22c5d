"""Inversion-recovery T1 from magnitude or complex images.

Model (Barral et al., MRM 2010;64:1057):  S(TI) = a + b exp(-TI/T1). With an ideal
inversion and full recovery b = -2a; the inversion efficiency is reported as -b/a (2 for a
perfect inversion) and M0 as a (the fully recovered signal).

Magnitude data lose the sign of the samples before the null. Polarity restoration (Barral):
with the TIs sorted, the samples before the smallest magnitude are negative, the smallest one
itself either sign; both candidates are fitted to convergence and the one with the smaller
residual is kept (choosing on the coarse grid alone picks the wrong sign near the null).
Complex data carry the sign: the common phase phi = arg(sum S^2)/2 is removed (sign chosen
so that the longest TI is positive) and the real part is fitted; the imaginary part counts
in the residual.

Fit: reduced-dimension grid search over T1 (a, b linear) then Levenberg-Marquardt on
(a, b, T1) from the best grid point, all voxels at once.

Valid range (ours): T1 in [TI_(2) / 3, 2 TI_max], TI_(2) the second-shortest TI. Then at
least two TIs still see the exponential (exp(-TI/T1) >= e^-3 = 5 %), which the three
parameters need to separate b from T1, and the longest TI sees at least 39 % of the recovery
(1 - exp(-TI_max/T1)), the curvature that separates T1 from a. Outside, T1 is poorly
determined and the voxel is flagged.
"""

from __future__ import annotations

import numpy as np

from harmoniq.backend import get_array_module
from harmoniq.errors import HarmoniqError
from harmoniq.fitting.engine import assemble, rms_residual, solve_chunked, uncertainties
from harmoniq.fitting.maps import ParameterMaps, gather_voxels
from harmoniq.fitting.varpro import grid_search, grid_value, log_grid

MODEL = "t1-ir"
N_GRID = 32
MAX_ITER = 20  # from the parabolic grid start the winning candidate converges in 3-6 steps;
# the losing polarity candidate may wander: capping it saves time, the slow rest is flagged


def valid_t1_range(ti_s) -> tuple[float, float]:
    """(T1_min, T1_max) in s that the TIs determine well: [TI_(2) / 3, 2 TI_max]."""
    ti = np.sort(np.asarray(ti_s, dtype=float))
    return float(ti[1] / 3), float(2 * ti[-1])


def ir_signal(ti_s, t1_s, a=1.0, b=-2.0):
    """a + b exp(-TI/T1), broadcasting (signal of the model, for tests and simulation)."""
    xp = get_array_module(t1_s, ti_s)
    return a + b * xp.exp(-xp.asarray(ti_s) / t1_s)


def _check_ti(ti_s) -> np.ndarray:
    ti = np.asarray(ti_s, dtype=float).reshape(-1)
    if ti.size < 3 or not np.all(np.isfinite(ti)) or np.any(ti <= 0) or np.unique(ti).size != ti.size:
        raise HarmoniqError(
            f"t1-ir: inversion times {ti.tolist()} s are not valid; give at least 3 distinct positive TIs "
            "(the model has 3 parameters)"
        )
    return ti


def _model(ti):
    """a + b exp(-TI/T1) and its Jacobian in (a, b, T1)."""
    xp = get_array_module(ti)

    def model(params, aux):
        a, b, t1 = params
        e = xp.exp(-ti[:, None] / t1)
        return a + b * e, [xp.ones_like(e), e, b * e * ti[:, None] / t1**2]

    return model


def _initial(ti, t1_grid, magnitude: bool):
    """Grid starts: one for signed data, one per polarity restoration for magnitude data."""
    xp = get_array_module(ti)
    basis = xp.stack([xp.ones((t1_grid.size, ti.size)), xp.exp(-ti[None, :] / t1_grid[:, None])], axis=2)

    def start(signed):
        fit = grid_search(signed, basis)
        return [fit.amplitudes[0], fit.amplitudes[1], grid_value(t1_grid, fit.position)], signed

    def initial(data, aux):
        if not magnitude:
            return [start(data)]
        position = xp.arange(ti.size)[:, None]
        null = xp.argmin(data, axis=0)[None, :]
        return [start(data * xp.where(position <= null, -1.0, 1.0)), start(data * xp.where(position < null, -1.0, 1.0))]

    return initial


def _align_phase(data):
    """Real signed signals from complex ones: remove phi = arg(sum S^2)/2, last TI positive."""
    xp = get_array_module(data)
    phase = 0.5 * xp.angle((data**2).sum(axis=0))
    rotated = data * xp.exp(-1j * phase)
    rotated *= xp.where(rotated[-1].real < 0, -1.0, 1.0)
    return rotated.real.copy(), (rotated.imag**2).sum(axis=0)


def fit_t1_ir(images, ti_s, *, mask=None, noise_sigma=None, n_grid: int = N_GRID) -> ParameterMaps:
    """Fit T1 (s), M0 (a.u.), inversion efficiency -b/a, a, b to an IR series.

    images: (n_TI, *spatial), magnitude (real) or complex (dtype decides); ti_s: inversion
    times (s); mask: optional boolean (spatial); noise_sigma: image noise SD for the
    Cramer-Rao maps (default: estimated from the residuals). Returns maps T1, M0,
    inversion_efficiency, a, b, residual (RMS, signal units), T1_crlb, M0_crlb (SD),
    out_of_range, mask.
    """
    ti = _check_ti(ti_s)
    voxels = gather_voxels(images, ti.size, MODEL, mask)
    xp = get_array_module(voxels.data)
    order = np.argsort(ti)
    ti_sorted = xp.asarray(ti[order])
    data = voxels.data[xp.asarray(order)]
    magnitude = not xp.iscomplexobj(data)
    extra_rss = 0.0
    if magnitude:
        data = xp.abs(data).astype(xp.float64)
    else:
        data, extra_rss = _align_phase(data)
    t1_lo, t1_hi = valid_t1_range(ti)
    t1_grid = log_grid(ti.min() / 10, 10 * ti.max(), n_grid, xp)
    result = solve_chunked(
        _model(ti_sorted),
        _initial(ti_sorted, t1_grid, magnitude),
        data,
        lower=[None, None, float(ti.min()) / 100],
        upper=[None, None, float(ti.max()) * 100],
        max_iter=MAX_ITER,
    )
    a, b, t1 = result.params
    result.rss = result.rss + extra_rss
    sds, sigma = uncertainties(result, ["a", "b", "T1"], ti.size if magnitude else 2 * ti.size - 1, noise_sigma)
    with np.errstate(divide="ignore", invalid="ignore"):
        values = {
            "T1": t1,
            "M0": a,
            "inversion_efficiency": -b / a,
            "a": a,
            "b": b,
            "residual": rms_residual(result.rss, ti.size),
        }
    if sds:
        values.update(T1_crlb=sds["T1_crlb"], M0_crlb=sds["a_crlb"])
    out_of_range = (t1 < t1_lo) | (t1 > t1_hi) | ~result.converged
    units = {"T1": "s", "M0": "a.u.", "inversion_efficiency": "1", "a": "a.u.", "b": "a.u.", "residual": "a.u.", "T1_crlb": "s", "M0_crlb": "a.u."}
    info = {
        "model": "S(TI) = a + b exp(-TI/T1), reduced-dimension grid + Levenberg-Marquardt (Barral et al., MRM 2010;64:1057)",
        "data": "magnitude with polarity restoration" if magnitude else "complex, common phase removed",
        "InversionTime": ti.tolist(),
        "valid_T1_range_s": [t1_lo, t1_hi],
        "noise_sigma": sigma,
    }
    return assemble(MODEL, voxels, values, units, out_of_range, info)
