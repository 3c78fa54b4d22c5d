"""Double-angle B1 mapping (Insko and Bolinger, J Magn Reson A 1993;103:82).

Two images at nominal flips a and 2a with TR >> T1 give S(2a)/S(a) = 2 cos(a_eff), so
a_eff = arccos(S(2a) / (2 S(a))) and the relative transmit field is B1 = a_eff / a.
M0 (in image units, with the sequence's T2/T2* weighting) = S(a) / sin(a_eff).

The fit is exactly determined (two samples, two unknowns): there is no residual. The
uncertainty follows from the noise SD sigma of both images by error propagation:
sd(a_eff) = sigma sqrt(1 + r^2) / (2 S(a) sin a_eff), r = S(2a)/S(a).

Valid range (ours): a_eff in [10, 80] deg. Below, the ratio is insensitive to the angle;
above, S(2a) nears zero and magnitude images cannot tell a_eff from 180 deg - a_eff.

Slice profile: a 2D slice-selective pulse flips spins across the slice by less than its
nominal angle at the edges, so S(2a)/S(a) = 2 cos(a) no longer holds (on an ideal scanner the
closed form reads B1 about 0.91 for a time-bandwidth-4 sinc). Given the transverse
magnetisation m_k(z; B1) at the echo across the slice of both pulses on the grid ``B1_GRID``
(the .seq's own pulses and slice rephasing,
:func:`harmoniq.sequences.slice_profile.excitation_profiles`), the fit inverts the ratio
R(B1) = |sum_z m_2(z; B1)| / |sum_z m_1(z; B1)| instead (TR >> T1; slice profiles in DAM:
Stollberger and Wach, MRM 1996;35:246), and M0 = S(a) / |mean_z m_1(z; B1)|.
"""

from __future__ import annotations

import math

import numpy as np

from harmoniq.backend import get_array_module
from harmoniq.errors import HarmoniqError
from harmoniq.fitting.engine import CHUNK, assemble
from harmoniq.fitting.maps import ParameterMaps, chunks, gather_voxels

MODEL = "b1-dam"
VALID_FLIP_RAD = (math.radians(10.0), math.radians(80.0))
B1_GRID = np.linspace(0.05, 2.0, 196)
"""Relative B1 values (step 0.01) at which slice profiles are tabulated."""


def _profile_table(slice_profile):
    """(B1 grid, R(B1), |mean_z m_1|) on the monotone branch of R (R falls with B1 up to its
    first minimum), from the transverse magnetisation (B1_GRID, z) of the pulses a and 2a."""
    single, double = (np.abs(np.mean(np.asarray(m), axis=-1)) for m in slice_profile)
    ratio = double / single
    end = int(np.argmax(np.diff(ratio) >= 0)) + 1 if np.any(np.diff(ratio) >= 0) else ratio.size
    return B1_GRID[:end], ratio[:end], single[:end]


def fit_b1_dam(images, flip_rad, *, slice_profile=None, mask=None, noise_sigma=None) -> ParameterMaps:
    """Relative B1 from images at flips (a, 2a) (rad, either order); magnitude taken.

    slice_profile: None (the closed form) or the transverse magnetisation (complex, M0 = 1)
    across the slice of the pulses a and 2a, two arrays (len(B1_GRID), z), at relative B1 ``B1_GRID``.

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
    rows = (0, 1) if flips[0] < flips[1] else (1, 0)  # (a, 2a)
    alpha = float(flips.min())
    names = ["B1", "flip_effective", "M0"] + (["B1_crlb"] if noise_sigma is not None else [])
    values = {name: xp.empty(voxels.count) for name in names}
    out_of_range = xp.empty(voxels.count, dtype=bool)

    table = None if slice_profile is None else [xp.asarray(t) for t in _profile_table(slice_profile)]

    def profile_fit(part):
        """Invert the tabulated R(B1) (falling: interpolate on the reversed table)."""
        grid, ratio_table, single_table = table
        single, double = (xp.abs(voxels.data[k, part]).astype(xp.float64, copy=False) for k in rows)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = double / single
            b1 = xp.interp(ratio, ratio_table[::-1], grid[::-1], left=xp.nan, right=xp.nan)
            values["B1"][part] = b1
            values["flip_effective"][part] = b1 * alpha
            values["M0"][part] = single / xp.interp(b1, grid, single_table)
            if noise_sigma is not None:
                slope = xp.interp(b1, grid, xp.gradient(ratio_table, grid))
                values["B1_crlb"][part] = float(noise_sigma) * xp.sqrt(1 + ratio * ratio) / (single * xp.abs(slope))
        flip_eff = b1 * alpha
        out_of_range[part] = ~((flip_eff >= VALID_FLIP_RAD[0]) & (flip_eff <= VALID_FLIP_RAD[1]))

    def closed_form(part):
        single, double = (xp.abs(voxels.data[k, part]).astype(xp.float64, copy=False) for k in rows)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = double / single
            cos_eff = 0.5 * ratio
            flip_eff = xp.arccos(cos_eff)
            sin_eff = xp.sqrt(1 - cos_eff * cos_eff)  # sin(arccos x), without a second transcendental
            values["flip_effective"][part] = flip_eff
            values["B1"][part] = flip_eff / alpha
            values["M0"][part] = single / sin_eff
            if noise_sigma is not None:
                values["B1_crlb"][part] = float(noise_sigma) * xp.sqrt(1 + ratio * ratio) / (2 * alpha * single * sin_eff)
        out_of_range[part] = ~((flip_eff >= VALID_FLIP_RAD[0]) & (flip_eff <= VALID_FLIP_RAD[1]))

    for part in chunks(voxels.count, CHUNK):  # small temporaries stay in cache; cheaper than threads
        (closed_form if table is None else profile_fit)(part)
    units = {"B1": "1", "flip_effective": "rad", "M0": "a.u.", "B1_crlb": "1"}
    info = {
        "model": ("S(2a)/S(a) = 2 cos(a_eff), TR >> T1 (Insko and Bolinger 1993)" if table is None else
                  "S(2a)/S(a) = |sum_z m_2(z; B1)| / |sum_z m_1(z; B1)|, the .seq's slice profiles, TR >> T1"),
        "FlipAngle": np.degrees(flips).tolist(),
        "valid_flip_effective_deg": [math.degrees(v) for v in VALID_FLIP_RAD],
        "noise_sigma": None if noise_sigma is None else float(noise_sigma),
    }
    return assemble(MODEL, voxels, values, units, out_of_range, info)
