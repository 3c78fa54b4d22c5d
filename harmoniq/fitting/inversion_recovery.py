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

Fit: variable projection (a, b linear, :mod:`harmoniq.fitting.varpro`): the projection energy
on a grid of 1/T1, then safeguarded Newton steps on it, all voxels at once.

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
from harmoniq.fitting.decay import decay_grid, decay_moments
from harmoniq.fitting.engine import assemble, map_chunks, rms_residual, uncertainties
from harmoniq.fitting.maps import ParameterMaps, gather_voxels
from harmoniq.fitting.varpro import VarProFit, fit_rate, maximise, solution

MODEL = "t1-ir"
N_GRID = 32


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


def _polarity_candidates(data):
    """The two sign restorations of magnitude samples sorted by TI: negative up to and
    including the smallest sample, or up to and excluding it."""
    xp = get_array_module(data)
    position = xp.arange(data.shape[0])[:, None]
    null = xp.argmin(data, axis=0)
    return [xp.where(position <= null, -data, data), xp.where(position < null, -data, data)]


def _align_phase(data):
    """Real signed signals from complex ones: remove phi = arg(sum S^2)/2, last TI positive.

    Returns the real parts (N, V) and the energy of the imaginary parts (V,), which the real
    fit cannot explain and adds to the residual."""
    xp = get_array_module(data)
    phase = 0.5 * xp.angle((data**2).sum(axis=0))
    rotated = data * xp.exp(-1j * phase)
    rotated *= xp.where(rotated[-1].real < 0, -1.0, 1.0)
    return rotated.real.astype(xp.float64), (rotated.imag**2).sum(axis=0)


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
    rows = None if np.array_equal(order, np.arange(ti.size)) else xp.asarray(order)
    ti_sorted = xp.asarray(ti[order])
    magnitude = not xp.iscomplexobj(voxels.data)
    grid = decay_grid(ti_sorted, float(ti.min()) / 10, 10 * float(ti.max()), n_grid, offset=True)
    moments = decay_moments(ti_sorted, offset=True)

    def fit_chunk(part) -> VarProFit:
        chunk = voxels.data[:, part] if rows is None else voxels.data[:, part][rows]
        if not magnitude:
            signed, unexplained = _align_phase(chunk)
            fit = fit_rate(moments, signed, {}, grid.start(signed))
            fit.rss = fit.rss + unexplained
            return fit
        first, second = _polarity_candidates(xp.abs(chunk).astype(xp.float64, copy=False))
        rate_1, rss_1, converged_1 = maximise(moments, first, {}, grid.start(first))
        rate_2, rss_2, converged_2 = maximise(moments, second, {}, grid.start(second))
        second_wins = rss_2 < rss_1  # both candidates to convergence, the smaller residual wins
        signed = xp.where(second_wins, second, first)
        return solution(moments, signed, {}, xp.where(second_wins, rate_2, rate_1), xp.where(second_wins, converged_2, converged_1))

    result = VarProFit.concatenate(map_chunks(fit_chunk, voxels.count, xp))
    b, a = result.amplitudes
    t1 = 1.0 / result.rate
    sds, sigma = uncertainties(result.rss, result.variances, ti.size if magnitude else 2 * ti.size - 1, noise_sigma)
    with np.errstate(divide="ignore", invalid="ignore"):
        values = {
            "T1": t1,
            "M0": a.copy(),  # with every voxel fitted the maps are views of these arrays: one each
            "inversion_efficiency": -b / a,
            "a": a,
            "b": b,
            "residual": rms_residual(result.rss, ti.size),
        }
    if sds is not None:
        values.update(T1_crlb=sds[2] * t1**2, M0_crlb=sds[1])  # sd(T1) = sd(R1) / R1^2
    t1_lo, t1_hi = valid_t1_range(ti)
    out_of_range = (t1 < t1_lo) | (t1 > t1_hi) | ~result.converged
    units = {"T1": "s", "M0": "a.u.", "inversion_efficiency": "1", "a": "a.u.", "b": "a.u.", "residual": "a.u.", "T1_crlb": "s", "M0_crlb": "a.u."}
    info = {
        "model": "S(TI) = a + b exp(-TI/T1), variable projection: grid + safeguarded Newton (Barral et al., MRM 2010;64:1057)",
        "data": "magnitude with polarity restoration" if magnitude else "complex, common phase removed",
        "InversionTime": ti.tolist(),
        "valid_T1_range_s": [t1_lo, t1_hi],
        "noise_sigma": sigma,
    }
    return assemble(MODEL, voxels, values, units, out_of_range, info)
