"""Variable-flip-angle (DESPOT1) T1 from spoiled gradient echoes, with B1 and spoiling.

The flip angle of every voxel is the nominal one times the relative transmit field B1 (a
map, or 1); T1 and M0 come from linear or nonlinear DESPOT1 (:mod:`harmoniq.fitting.despot1`).
Imperfect RF spoiling biases both; ``spoiling`` corrects T1 for the sequence's actual phase
increment and TR with extended phase graphs (Preibisch and Deichmann, MRM 2009;61:125), see
:mod:`harmoniq.fitting.vfa_spoiling`.

Valid range (ours): the Ernst angle arccos(E1) lies between the smallest and the largest
effective flip angle, i.e. T1 in [-TR/ln cos(a_max), -TR/ln cos(a_min)] per voxel; there the
flip angles bracket the signal maximum, as DESPOT1's optimal pairs do (Deoni 2003).
"""

from __future__ import annotations

import numpy as np

from harmoniq.backend import get_array_module
from harmoniq.errors import HarmoniqError
from harmoniq.fitting.despot1 import fit_despot1, valid_t1_range
from harmoniq.fitting.engine import assemble, rms_residual, uncertainties
from harmoniq.fitting.maps import ParameterMaps, gather_voxels, per_voxel_map
from harmoniq.fitting.vfa_spoiling import Spoiling, correct_t1, correct_t1_with_t2

MODEL = "t1-vfa"
METHODS = ("linear", "nonlinear")


def _check(flip_rad, tr_s, method):
    flips = np.asarray(flip_rad, dtype=float).reshape(-1)
    if flips.size < 2 or np.unique(flips).size != flips.size or np.any(flips <= 0) or np.any(flips >= np.pi / 2):
        raise HarmoniqError(
            f"t1-vfa: flip angles {np.degrees(flips).round(3).tolist()} deg are not valid; give at least 2 "
            "distinct angles in (0, 90) deg"
        )
    if not (np.isfinite(tr_s) and tr_s > 0):
        raise HarmoniqError(f"t1-vfa: repetition time {tr_s} s is not valid; give TR > 0 s")
    if method not in METHODS:
        raise HarmoniqError(f"t1-vfa: method {method!r} is not valid; choose one of {', '.join(METHODS)}")
    return flips


def fit_t1_vfa(
    images,
    flip_rad,
    tr_s: float,
    *,
    b1=1.0,
    method: str = "nonlinear",
    spoiling: Spoiling | None = None,
    t2=None,
    mask=None,
    noise_sigma=None,
) -> ParameterMaps:
    """Fit T1 (s) and M0 to spoiled gradient echoes at several flip angles.

    images: (n_flip, *spatial), magnitude taken; flip_rad: nominal flip angles (rad);
    tr_s: TR (s); b1: relative transmit field (map of spatial shape, or a number);
    method: 'linear' or 'nonlinear' DESPOT1; spoiling: correct T1 for imperfect RF
    spoiling (None: ideal spoiling assumed); t2: T2 (s, map of spatial shape) for that correction
    (None: ``spoiling.t2_s`` everywhere). Maps: T1, M0, residual, T1_crlb and M0_crlb
    (nonlinear only), out_of_range, mask; T1_uncorrected too when ``spoiling`` is given.
    """
    flips = _check(flip_rad, tr_s, method)
    voxels = gather_voxels(images, flips.size, MODEL, mask)
    xp = get_array_module(voxels.data)
    b1_v = per_voxel_map(b1, voxels, "t1-vfa: the B1 map")
    flip_eff = xp.asarray(flips)[:, None] * b1_v[None, :]
    m0, t1, rss, result = fit_despot1(voxels.data, flip_eff, tr_s, method)
    values = {"T1": t1, "M0": m0, "residual": rms_residual(rss, flips.size)}
    units = {"T1": "s", "M0": "a.u.", "residual": "a.u.", "T1_crlb": "s", "M0_crlb": "a.u.", "T1_uncorrected": "s"}
    info = {
        "model": "S = M0 sin(a)(1-E1)/(1-E1 cos a), a = B1 x nominal flip; DESPOT1 " + method,
        "FlipAngle": np.degrees(flips).tolist(),
        "RepetitionTimeExcitation": float(tr_s),
        "b1_map": not np.isscalar(b1),
    }
    if result is not None:
        sds, info["noise_sigma"] = uncertainties(rss, result.variances, flips.size, noise_sigma)
        if sds is not None:
            values.update(M0_crlb=sds[0], T1_crlb=sds[1] * t1**2)  # sd(T1) = sd(R1) / R1^2
    if spoiling is not None:
        values["T1_uncorrected"] = t1
        if t2 is None:
            values["T1"] = correct_t1(t1, b1_v, flips, tr_s, spoiling, method)
        else:
            values["T1"] = correct_t1_with_t2(t1, b1_v, per_voxel_map(t2, voxels, "t1-vfa: the T2 map"), flips, tr_s,
                                              spoiling, method)
        info["spoiling_correction"] = {
            "SpoilingRFPhaseIncrement": float(np.degrees(spoiling.increment_rad)),
            "T2": "per voxel from the T2 map" if t2 is not None else f"assumed {spoiling.t2_s} s everywhere",
            "assumed_T2_s": None if t2 is not None else spoiling.t2_s,
            "assumed_diffusion_m2_s": spoiling.diffusion_m2_s,
            "spoiler_moment_rad_per_m": spoiling.spoiler_rad_m,
            "method": "EPG lookup of apparent vs true T1 (Preibisch and Deichmann, MRM 2009;61:125)",
        }
    t1_lo, t1_hi = valid_t1_range(flips, b1_v, tr_s)
    info["valid_T1_range"] = "Ernst angle within the effective flip angles"
    out_of_range = (values["T1"] < t1_lo) | (values["T1"] > t1_hi)
    if result is not None:
        out_of_range |= ~result.converged
    return assemble(MODEL, voxels, values, units, out_of_range, info)
