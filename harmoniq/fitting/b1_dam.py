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
magnetisation m_k(z; B1) at the echo and the longitudinal c_k(z; B1) right after the pulse
(from M0 = 1) across the slice of both pulses on the grid ``B1_GRID`` (the .seq's own pulses and
slice rephasing, :func:`harmoniq.sequences.slice_profile.excitation_profiles`), the fit inverts
R(B1) = |sum_z m_2(z; B1) M_2(z)| / |sum_z m_1(z; B1) M_1(z)| instead (slice profiles in DAM:
Stollberger and Wach, MRM 1996;35:246), and M0 = S(a) / |mean_z m_1 M_1|.

Finite TR: each position z of a spoiled train at TR recovers to the saturation-recovery steady
state M_k(z) = (1 - E1) / (1 - E1 c_k(z)) before every pulse, E1 = exp(-TR/T1) (the spoiled
steady state, Ernst and Anderson, Rev Sci Instrum 1966;37:93; for a hard pulse
S(a) ~ sin a (1 - E1) / (1 - E1 cos a)), so R depends on T1 too. Without a T1 (``t1=None``)
M_k = 1 (TR >> T1); with a T1 map (e.g. from a variable-flip-angle fit, iterated with it:
:mod:`harmoniq.fitting.vfa_dam`) R(B1, E1) is tabulated on ``E1_GRID`` and interpolated
linearly in E1 per voxel.
"""

from __future__ import annotations

import math

import numpy as np

from harmoniq.backend import get_array_module
from harmoniq.errors import HarmoniqError
from harmoniq.fitting.engine import CHUNK, assemble
from harmoniq.fitting.maps import ParameterMaps, chunks, gather_voxels, per_voxel_map

MODEL = "b1-dam"
VALID_FLIP_RAD = (math.radians(10.0), math.radians(80.0))
B1_GRID = np.linspace(0.05, 2.0, 196)
"""Relative B1 values (step 0.01) at which slice profiles are tabulated."""
E1_GRID = np.linspace(0.0, 0.9, 91)
"""E1 = exp(-TR/T1) values of the finite-TR table (step 0.01; larger E1, T1 > 9.5 TR, clipped)."""
TABLE_CHUNK = 2048  # voxels per chunk of the per-voxel (chunk, B1 grid) ratio rows


def _ratio_table(profile, e1_grid):
    """(B1 grid, R (E1, B1), |mean_z m_1 M_1| (E1, B1)) on the falling branch of R (up to the
    first B1 where R stops falling at any E1), from the two pairs (m_k, c_k), each (B1_GRID, z)."""
    e1 = np.asarray(e1_grid, dtype=float)[:, None, None]
    single, double = (np.abs(np.mean(np.asarray(m)[None] * (1 - e1) / (1 - e1 * np.asarray(c).real[None]), axis=-1))
                      for m, c in profile)
    ratio = double / single
    rising = np.any(np.diff(ratio, axis=1) >= 0, axis=0)
    end = int(np.argmax(rising)) + 1 if np.any(rising) else ratio.shape[1]
    return B1_GRID[:end], ratio[:, :end], single[:, :end]


def _point_profile(alpha: float):
    """The (m, c) pairs of two hard pulses a and 2a: sin and cos of B1 x flip, one position."""
    return [(np.sin(k * alpha * B1_GRID)[:, None] + 0j, np.cos(k * alpha * B1_GRID)[:, None]) for k in (1, 2)]


def fit_b1_dam(images, flip_rad, *, slice_profile=None, tr_s: float | None = None, t1=None, mask=None,
               noise_sigma=None) -> ParameterMaps:
    """Relative B1 from images at flips (a, 2a) (rad, either order); magnitude taken.

    slice_profile: None (hard pulses) or, for the pulses a and 2a, two pairs (m, c): the
    transverse magnetisation (complex, M0 = 1) at the echo and Mz right after the pulse, each
    (len(B1_GRID), z) at relative B1 ``B1_GRID``. t1: T1 (s; a number or a map of the images'
    spatial shape; non-finite voxels: TR >> T1) with ``tr_s`` the TR (s); None: TR >> T1. Without
    either, the closed form.

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
    if t1 is not None and not (tr_s is not None and math.isfinite(tr_s) and tr_s > 0):
        raise HarmoniqError(f"b1-dam: repetition time {tr_s} s is not valid; a fit with T1 needs TR > 0 s")
    voxels = gather_voxels(images, 2, MODEL, mask)
    xp = get_array_module(voxels.data)
    rows = (0, 1) if flips[0] < flips[1] else (1, 0)  # (a, 2a)
    alpha = float(flips.min())
    names = ["B1", "flip_effective", "M0"] + (["B1_crlb"] if noise_sigma is not None else [])
    values = {name: xp.empty(voxels.count) for name in names}
    out_of_range = xp.empty(voxels.count, dtype=bool)

    table = None
    if slice_profile is not None or t1 is not None:
        profile = _point_profile(alpha) if slice_profile is None else slice_profile
        table = [xp.asarray(t) for t in _ratio_table(profile, E1_GRID if t1 is not None else [0.0])]
        e1_voxel = xp.zeros(voxels.count)
        if t1 is not None:
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                e1_voxel = xp.nan_to_num(xp.exp(-tr_s / per_voxel_map(t1, voxels, "b1-dam: the T1 map")), nan=0.0)
            e1_voxel = xp.clip(e1_voxel, 0.0, float(E1_GRID[-1]))

    def profile_fit(part):
        """Per voxel, the row R(B1) at its E1 (linear in E1), inverted on its falling branch."""
        grid, ratio_table, single_table = table
        single, double = (xp.abs(voxels.data[k, part]).astype(xp.float64, copy=False) for k in rows)
        step = float(E1_GRID[1] - E1_GRID[0])
        position = e1_voxel[part] / step
        low = xp.clip(xp.floor(position).astype(int), 0, max(ratio_table.shape[0] - 2, 0))
        high = xp.minimum(low + 1, ratio_table.shape[0] - 1)
        w = (position - low)[:, None]
        ratio_row = (1 - w) * ratio_table[low] + w * ratio_table[high]  # (n, B1 grid)
        single_row = (1 - w) * single_table[low] + w * single_table[high]
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = double / single
            j = xp.sum(ratio_row > ratio[:, None], axis=1)  # the falling row crosses the ratio in (j - 1, j)
            inside = (j > 0) & (j < grid.size) & xp.isfinite(ratio)
            j = xp.clip(j, 1, grid.size - 1)[:, None]
            r0, r1 = (xp.take_along_axis(ratio_row, j + d, axis=1)[:, 0] for d in (-1, 0))
            s0, s1 = (xp.take_along_axis(single_row, j + d, axis=1)[:, 0] for d in (-1, 0))
            frac = (r0 - ratio) / (r0 - r1)
            b1 = xp.where(inside, grid[j[:, 0] - 1] + frac * (grid[1] - grid[0]), xp.nan)
            values["B1"][part] = b1
            values["flip_effective"][part] = b1 * alpha
            values["M0"][part] = single / (s0 + frac * (s1 - s0))
            if noise_sigma is not None:
                slope = (r1 - r0) / (grid[1] - grid[0])
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

    for part in chunks(voxels.count, CHUNK if table is None else TABLE_CHUNK):
        (closed_form if table is None else profile_fit)(part)
    units = {"B1": "1", "flip_effective": "rad", "M0": "a.u.", "B1_crlb": "1"}
    pulses = "hard pulses" if slice_profile is None else "the .seq's slice profiles"
    info = {
        "model": ("S(2a)/S(a) = 2 cos(a_eff), TR >> T1 (Insko and Bolinger 1993)" if table is None else
                  f"S(2a)/S(a) = |sum_z m_2(z; B1) M_2(z)| / |sum_z m_1(z; B1) M_1(z)|, {pulses}, " +
                  ("M_k = (1 - E1) / (1 - E1 c_k(z)), E1 = exp(-TR/T1) from the T1 map" if t1 is not None
                   else "TR >> T1")),
        "FlipAngle": np.degrees(flips).tolist(),
        "valid_flip_effective_deg": [math.degrees(v) for v in VALID_FLIP_RAD],
        "noise_sigma": None if noise_sigma is None else float(noise_sigma),
    }
    if t1 is not None:
        info["RepetitionTimeExcitation"] = float(tr_s)
    return assemble(MODEL, voxels, values, units, out_of_range, info)
