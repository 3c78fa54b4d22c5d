"""MOLLI-style Look-Locker T1 (Messroghli et al., MRM 2004;52:141).

Single-shot readouts at inversion times TI_k (several inversions, images merged and sorted by
TI) sample an apparent recovery, fitted with three parameters:

    S(TI) = A - B exp(-TI/T1*),   T1 = T1* (B/A - 1)   (the Look-Locker correction).

The fit is the inversion-recovery fit (:func:`harmoniq.fitting.inversion_recovery.fit_t1_ir`:
variable projection, polarity restoration of magnitude data) with a = A, b = -B, T1* its
rate's inverse. The correction is exact only for a continuous readout (Deichmann and Haase,
J Magn Reson 1992;96:608); in MOLLI it is approximate.

Known bias, reported not corrected: MOLLI under-estimates T1, more for long T1, high heart
rates (incomplete recovery between inversions), short T2 and large readout flips (the bSSFP
readout's saturation). Messroghli et al. 2004 found T1 within a few percent of the
inversion-recovery reference for T1 below about 1000 ms at 40-100 bpm and a heart-rate
dependent under-estimation for longer T1 (phantom study, their Figs. 4-5); at 3 T every MOLLI
scheme under-estimated phantom T1, most for long T1 and high heart rates (McDiarmid et al.,
QIMS 2015;5:503). With the shipped FLASH readout (7 deg, 60 bpm, 5(3)3): -4 % at 350 ms to -11 % at
2 s by brute-force propagation through the .seq (tests/sequences/test_molli_sequence.py).

Cramer-Rao: the covariance of (A, B, T1*) is sigma^2 (J^T J)^-1 with J = [1, -e, -B TI e / T1*^2],
e = exp(-TI/T1*); sd(T1) = sigma sqrt(g^T (J^T J)^-1 g) with g = dT1/d(A, B, T1*) =
(-T1* B/A^2, T1*/A, B/A - 1).
"""

from __future__ import annotations

import numpy as np

from harmoniq.backend import get_array_module
from harmoniq.errors import HarmoniqError
from harmoniq.fitting.inversion_recovery import fit_t1_ir
from harmoniq.fitting.maps import ParameterMaps
from harmoniq.fitting.smallmatrix import ldl, ldl_solve, normal_matrix

MODEL = "t1-molli"
TI_INCREMENT_S = 0.08
"""TI increment between the inversions (Messroghli et al. 2004: 80 ms)."""
TI_FIRST_S = 0.1
"""The shortest TI (Messroghli et al. 2004: 100 ms)."""


def molli_inversion_times(heart_rate_bpm: float, scheme=(5, 3, 3), ti_first_s: float = TI_FIRST_S,
                          ti_increment_s: float = TI_INCREMENT_S) -> list[np.ndarray]:
    """Inversion times (s) of each inversion's images for a MOLLI ``scheme`` (images, recovery
    beats, images, ...; 5(3)3 by default): image k after inversion j at ti_first + j increment + k RR."""
    if not (np.isfinite(heart_rate_bpm) and 20 <= heart_rate_bpm <= 200) or len(scheme) % 2 != 1:
        raise HarmoniqError(f"t1-molli: heart rate {heart_rate_bpm} bpm / scheme {tuple(scheme)} is not valid; give "
                            "20-200 bpm and a scheme (images, pause beats, images, ...) with an odd number of entries")
    rr = 60.0 / heart_rate_bpm
    return [ti_first_s + j * ti_increment_s + rr * np.arange(n) for j, n in enumerate(scheme[::2])]


def _t1_crlb(ti, a, b_minus, t1_star, sigma):
    """sd(T1) from (J^T J)^-1 of (A, B, T1*) per voxel (flattened arrays)."""
    xp = get_array_module(a)
    t = xp.asarray(ti)[:, None]
    e = xp.exp(-t / t1_star)
    jac = [xp.ones_like(e), -e, -b_minus * t * e / t1_star**2]
    grad = [-t1_star * b_minus / a**2, t1_star / a, b_minus / a - 1]
    with np.errstate(divide="ignore", invalid="ignore"):
        x = ldl_solve(ldl(normal_matrix(jac)), grad)
        return sigma * xp.sqrt(sum(g * v for g, v in zip(grad, x)))


def fit_t1_molli(images, ti_s, *, mask=None, noise_sigma=None) -> ParameterMaps:
    """T1 (s) with the Look-Locker correction from a MOLLI series (images sorted or not).

    images: (n_TI, *spatial), magnitude or complex; ti_s: each image's time after its
    inversion (s). Maps: T1, T1_star (s), A, B, residual, T1_crlb (SD, s), out_of_range, mask.
    """
    ir = fit_t1_ir(images, ti_s, mask=mask, noise_sigma=noise_sigma)
    xp = get_array_module(ir["T1"])
    a, b_minus, t1_star = ir["a"], -ir["b"], ir["T1"]
    keep = ir["mask"]
    with np.errstate(divide="ignore", invalid="ignore"):
        t1 = t1_star * (b_minus / a - 1)
    maps = {"T1": t1, "T1_star": t1_star, "A": a, "B": b_minus, "residual": ir["residual"]}
    sigma = ir.info["noise_sigma"]
    if sigma is not None:
        crlb = xp.full(t1.shape, xp.nan)
        ti = np.asarray(ti_s, dtype=float).reshape(-1)  # J^T J sums over samples: their order does not matter
        crlb[keep] = _t1_crlb(ti, a[keep], b_minus[keep], t1_star[keep], sigma)
        maps["T1_crlb"] = crlb
    maps["out_of_range"] = ir["out_of_range"] | (keep & ~(t1 > 0))
    maps["mask"] = keep
    units = {"T1": "s", "T1_star": "s", "A": "a.u.", "B": "a.u.", "residual": "a.u.", "T1_crlb": "s",
             "out_of_range": "bool", "mask": "bool"}
    info = {
        "model": "S(TI) = A - B exp(-TI/T1*), T1 = T1* (B/A - 1) (Messroghli et al., MRM 2004;52:141)",
        "data": ir.info["data"],
        "InversionTime": [float(v) for v in np.asarray(ti_s, dtype=float).reshape(-1)],
        "valid_T1star_range_s": ir.info["valid_T1_range_s"],
        "known_bias": "T1 under-estimated: more for long T1, high heart rate, short T2 and large readout flips "
                      "(Messroghli et al. 2004); not corrected",
        "noise_sigma": sigma,
    }
    return ParameterMaps(model=MODEL, maps=maps, units=units, info=info)
