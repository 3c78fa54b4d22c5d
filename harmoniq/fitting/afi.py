"""Actual flip-angle imaging (AFI) B1 mapping (Yarnykh, MRM 2007;57:192).

Two spoiled gradient echoes interleaved with repetition times TR1 < TR2 (one excitation of
flip a per TR). With perfect spoiling and TR1, TR2 << T1 the signal ratio is

    r = S2/S1 = (1 + n cos a)/(n + cos a),   n = TR2/TR1,

so a = arccos((r n - 1)/(n - r)) and the relative transmit field is B1 = a / a_nominal.
The exact steady state (Yarnykh 2007, eq. 2) is, with E_k = exp(-TR_k/T1),

    S1 ~ sin a (1 - E2 + (1 - E1) E2 cos a) / (1 - E1 E2 cos^2 a)
    S2 ~ sin a (1 - E1 + (1 - E2) E1 cos a) / (1 - E1 E2 cos^2 a);

the closed-form inversion neglects the first-order terms in TR/T1 (its bias, stated in
``info``, is what the published method carries).

The fit is exactly determined: no residual. With the noise SD sigma of both images the
uncertainty follows by error propagation: sd(r) = sigma sqrt(1 + r^2) / S1 and
d cos(a)/dr = (n^2 - 1)/(n - r)^2, so sd(a) = sd(r) (n^2 - 1) / ((n - r)^2 sin a).

Valid range (ours): a_eff in [20, 85] deg. Below 20 deg r differs from 1 by less than
(n - 1) a^2 / (2(n + 1)) < 4 % (n = 5) and noise dominates; at 90 deg r = 1/n and beyond
magnitude images no longer separate a from 180 deg - a.
"""

from __future__ import annotations

import math

import numpy as np

from harmoniq.backend import get_array_module
from harmoniq.errors import HarmoniqError
from harmoniq.fitting.engine import assemble
from harmoniq.fitting.maps import ParameterMaps, gather_voxels

MODEL = "b1-afi"
VALID_FLIP_RAD = (math.radians(20.0), math.radians(85.0))


def afi_ratio(flip_rad, tr_ratio):
    """r = S2/S1 = (1 + n cos a)/(n + cos a) of ideal AFI (TR << T1), n = TR2/TR1."""
    xp = get_array_module(flip_rad)
    c = xp.cos(flip_rad)
    return (1 + tr_ratio * c) / (tr_ratio + c)


def _check(flip_rad, tr_s) -> tuple[float, float]:
    tr = np.asarray(tr_s, dtype=float).reshape(-1)
    if tr.size != 2 or not np.all(np.isfinite(tr)) or tr[0] <= 0 or tr[1] <= tr[0]:
        raise HarmoniqError(
            f"b1-afi: repetition times {tr.tolist()} s are not valid; give (TR1, TR2) with 0 < TR1 < TR2, "
            "one per volume")
    flip = float(np.asarray(flip_rad, dtype=float).reshape(-1)[0])
    if not (0 < flip < math.pi / 2):
        raise HarmoniqError(f"b1-afi: flip angle {math.degrees(flip):.3g} deg is not valid; give one in (0, 90) deg")
    return flip, float(tr[1] / tr[0])


def fit_b1_afi(images, flip_rad: float, tr_s, *, mask=None, noise_sigma=None) -> ParameterMaps:
    """Relative B1 from the AFI pair (S1 at TR1, S2 at TR2); magnitude taken.

    images: (2, *spatial); flip_rad: nominal flip (rad); tr_s: (TR1, TR2) in s.
    Maps: B1 (relative, 1 = nominal), flip_effective (rad), B1_crlb (when ``noise_sigma`` is
    given: the SD by error propagation), out_of_range, mask.
    """
    flip, n = _check(flip_rad, tr_s)
    voxels = gather_voxels(images, 2, MODEL, mask)
    xp = get_array_module(voxels.data)
    s1, s2 = (xp.abs(voxels.data[k]).astype(xp.float64, copy=False) for k in (0, 1))
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = s2 / s1
        cos_eff = (ratio * n - 1) / (n - ratio)
        flip_eff = xp.arccos(cos_eff)
        values = {"B1": flip_eff / flip, "flip_effective": flip_eff}
        if noise_sigma is not None:
            sin_eff = xp.sqrt(1 - cos_eff * cos_eff)
            sd_ratio = float(noise_sigma) * xp.sqrt(1 + ratio * ratio) / s1
            values["B1_crlb"] = sd_ratio * (n * n - 1) / ((n - ratio) ** 2 * sin_eff) / flip
    out_of_range = ~((flip_eff >= VALID_FLIP_RAD[0]) & (flip_eff <= VALID_FLIP_RAD[1]))
    info = {
        "model": "S2/S1 = (1 + n cos a)/(n + cos a), n = TR2/TR1, perfect spoiling, TR << T1 (Yarnykh, MRM 2007;57:192)",
        "FlipAngle": math.degrees(flip),
        "RepetitionTimeExcitation": [float(v) for v in np.asarray(tr_s, dtype=float).reshape(-1)],
        "valid_flip_effective_deg": [math.degrees(v) for v in VALID_FLIP_RAD],
        "known_bias": "first order in TR/T1: the closed form neglects T1 relaxation during TR1 and TR2",
        "noise_sigma": None if noise_sigma is None else float(noise_sigma),
    }
    return assemble(MODEL, voxels, values, {"B1": "1", "flip_effective": "rad", "B1_crlb": "1"}, out_of_range, info)
