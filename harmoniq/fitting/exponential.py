"""Mono-exponential decay: spin-echo T2 and multi-echo gradient-echo T2*.

Model:  S(TE) = S0 exp(-TE/T2) [+ c]   (magnitude data; the optional offset c absorbs a
noise floor or a slowly decaying component). S0 is the signal extrapolated to TE = 0 (it
still carries the T1 and PD weighting of the sequence). Fit: variable projection (S0 and c
linear, :mod:`harmoniq.fitting.varpro`): the projection energy on a grid of 1/T2, then
safeguarded Newton steps on it, all voxels at once.

Valid range (ours): T2 in [TE_(2) / 3, 2 TE_max], TE_(2) the second-shortest TE: at least two
echoes keep more than 5 % of S0 (exp(-TE/T2) >= e^-3), and the last echo has decayed by at
least 39 % (1 - exp(-TE_max/T2)); outside, the voxel is flagged. The same holds with T2* for
gradient echoes.
"""

from __future__ import annotations

import numpy as np

from harmoniq.backend import get_array_module
from harmoniq.errors import HarmoniqError
from harmoniq.fitting.decay import decay_grid, decay_moments
from harmoniq.fitting.engine import assemble, map_chunks, rms_residual, uncertainties
from harmoniq.fitting.maps import ParameterMaps, gather_voxels
from harmoniq.fitting.varpro import VarProFit, fit_rate

N_GRID = 32


def valid_decay_range(te_s) -> tuple[float, float]:
    """(T_min, T_max) in s well determined by the echo times: [TE_(2) / 3, 2 TE_max]."""
    te = np.sort(np.asarray(te_s, dtype=float))
    return float(te[1] / 3), float(2 * te[-1])


def _check_te(te_s, n_params: int, what: str) -> np.ndarray:
    te = np.asarray(te_s, dtype=float).reshape(-1)
    if te.size < n_params or not np.all(np.isfinite(te)) or np.any(te <= 0) or np.unique(te).size != te.size:
        raise HarmoniqError(
            f"{what}: echo times {te.tolist()} s are not valid; give at least {n_params} distinct positive "
            f"echo times (the model has {n_params} parameters)"
        )
    return te


def fit_exponential(
    images, te_s, *, name: str, model: str, offset: bool = False, mask=None, noise_sigma=None
) -> ParameterMaps:
    """Fit S0 exp(-TE/T) [+ c] and name the decay time ``name`` ('T2' or 'T2star').

    images: (n_TE, *spatial), magnitude taken; te_s: echo times (s). Maps: ``name`` (s),
    S0, [offset], residual (RMS), ``name``_crlb and S0_crlb (SD), out_of_range, mask.
    """
    n_params = 3 if offset else 2
    te = _check_te(te_s, n_params, model)
    voxels = gather_voxels(images, te.size, model, mask)
    xp = get_array_module(voxels.data)
    te_x = xp.asarray(te)
    t_lo, t_hi = valid_decay_range(te)
    grid = decay_grid(te_x, t_lo / 5, 5 * t_hi, N_GRID, offset)
    moments = decay_moments(te_x, offset)

    def fit_chunk(part) -> VarProFit:
        data = xp.abs(voxels.data[:, part]).astype(xp.float64, copy=False)
        return fit_rate(moments, data, {}, grid.start(data))

    result = VarProFit.concatenate(map_chunks(fit_chunk, voxels.count, xp))
    t = 1.0 / result.rate
    s0 = result.amplitudes[0]
    values = {name: t, "S0": s0, "residual": rms_residual(result.rss, te.size)}
    if offset:
        values["offset"] = result.amplitudes[1]
    sds, sigma = uncertainties(result.rss, result.variances, te.size, noise_sigma)
    if sds is not None:
        values.update({f"{name}_crlb": sds[-1] * t**2, "S0_crlb": sds[0]})  # sd(T) = sd(R) / R^2
    units = {name: "s", "S0": "a.u.", "offset": "a.u.", "residual": "a.u.", f"{name}_crlb": "s", "S0_crlb": "a.u."}
    info = {
        "model": f"S(TE) = S0 exp(-TE/{name})" + (" + c" if offset else "") + ", variable projection: grid + safeguarded Newton",
        "EchoTime": te.tolist(),
        f"valid_{name}_range_s": [t_lo, t_hi],
        "noise_sigma": sigma,
    }
    return assemble(model, voxels, values, units, (t < t_lo) | (t > t_hi) | ~result.converged, info)


def fit_t2_se(images, te_s, *, offset: bool = False, mask=None, noise_sigma=None) -> ParameterMaps:
    """Spin-echo T2 (s) from a series of single-echo (or ideal-refocusing) spin echoes."""
    return fit_exponential(images, te_s, name="T2", model="t2-se", offset=offset, mask=mask, noise_sigma=noise_sigma)


def fit_t2star(images, te_s, *, offset: bool = False, mask=None, noise_sigma=None) -> ParameterMaps:
    """T2* (s) from the echoes of a multi-echo gradient echo."""
    return fit_exponential(images, te_s, name="T2star", model="t2star", offset=offset, mask=mask, noise_sigma=noise_sigma)
