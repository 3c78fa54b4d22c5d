"""Double-angle B1 mapping (Insko and Bolinger, J Magn Reson A 1993;103:82).

Two images at nominal flips a and 2a with TR >> T1 give S(2a)/S(a) = 2 cos(a_eff), so
a_eff = arccos(S(2a) / (2 S(a))) and the relative transmit field is B1 = a_eff / a.
M0 (in image units, with the sequence's T2/T2* weighting) = S(a) / sin(a_eff).

The fit is exactly determined (two samples, two unknowns): there is no residual. The
uncertainty follows from the noise SD sigma of both images by error propagation:
sd(a_eff) = sigma sqrt(1 + r^2) / (2 S(a) sin a_eff), r = S(2a)/S(a).

Valid range (ours): a_eff in [10, 80] deg. Below, the ratio is insensitive to the angle;
above, S(2a) nears zero and magnitude images cannot tell a_eff from 180 deg - a_eff.
"""

from __future__ import annotations

import math

import numpy as np

from harmoniq.backend import get_array_module
from harmoniq.errors import HarmoniqError
from harmoniq.fitting.engine import assemble
from harmoniq.fitting.maps import ParameterMaps, gather_voxels

MODEL = "b1-dam"
VALID_FLIP_RAD = (math.radians(10.0), math.radians(80.0))


def fit_b1_dam(images, flip_rad, *, mask=None, noise_sigma=None) -> ParameterMaps:
    """Relative B1 from images at flips (a, 2a) (rad, either order); magnitude taken.

    Maps: B1 (relative, 1 = nominal), flip_effective (rad, at the smaller nominal flip),
    M0, B1_crlb (when ``noise_sigma`` is given: the SD by error propagation), out_of_range,
    mask.
    """
    flips = np.asarray(flip_rad, dtype=float).reshape(-1)
    if flips.size != 2 or not np.isclose(flips.max(), 2 * flips.min(), rtol=1e-3) or flips.min() <= 0:
        raise HarmoniqError(
            f"b1-dam: flip angles {np.degrees(flips).round(3).tolist()} deg are not a double-angle pair; "
            "give two images at a and 2a (a > 0)"
        )
    voxels = gather_voxels(images, 2, MODEL, mask)
    xp = get_array_module(voxels.data)
    data = xp.abs(voxels.data).astype(xp.float64)
    single, double = (data[0], data[1]) if flips[0] < flips[1] else (data[1], data[0])
    alpha = float(flips.min())
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = double / single
        flip_eff = xp.arccos(ratio / 2)
        m0 = single / xp.sin(flip_eff)
        values = {"B1": flip_eff / alpha, "flip_effective": flip_eff, "M0": m0}
        if noise_sigma is not None:
            sd_flip = float(noise_sigma) * xp.sqrt(1 + ratio**2) / (2 * single * xp.sin(flip_eff))
            values["B1_crlb"] = sd_flip / alpha
    out_of_range = ~((flip_eff >= VALID_FLIP_RAD[0]) & (flip_eff <= VALID_FLIP_RAD[1]))
    units = {"B1": "1", "flip_effective": "rad", "M0": "a.u.", "B1_crlb": "1"}
    info = {
        "model": "S(2a)/S(a) = 2 cos(a_eff), TR >> T1 (Insko and Bolinger 1993)",
        "FlipAngle": np.degrees(flips).tolist(),
        "valid_flip_effective_deg": [math.degrees(v) for v in VALID_FLIP_RAD],
        "noise_sigma": None if noise_sigma is None else float(noise_sigma),
    }
    return assemble(MODEL, voxels, values, units, out_of_range, info)
