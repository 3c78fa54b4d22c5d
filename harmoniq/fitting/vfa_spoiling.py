"""T1 correction for imperfect RF spoiling in variable-flip-angle mapping.

RF spoiling with a quadratic phase increment leaves residual transverse coherences, so the
steady state differs from the ideal formula and DESPOT1 returns an apparent T1 that depends
on the increment, TR, the flip angles and B1 (Preibisch and Deichmann, MRM 2009;61:125).
Diffusion through the spoiler moment damps the coherences the increment leaves (Weigel,
JMRI 2015;41:266): with water's diffusivity and the spoiler of a 3D VFA protocol it moves the
apparent T1 of long-T1 spheres from -25 % to +12 % at 3 T, so the correction needs the
sequence's own moment per TR (:func:`spoiler_moment_rad_m`, read from its .seq) and a
diffusivity (an assumption of the study; free water at 20 degC by default, Holz et al.,
PCCP 2000;2:4740). The EPG spreads that moment over the TR; the sequence plays it as lobes.
The correction simulates the measured sequence with extended phase graphs
(:func:`harmoniq.simulation.epg.spoiled_gre`) on a grid of true T1 and B1, fits the
simulated signals exactly as the data were fitted, and inverts the resulting map
apparent T1 -> true T1 voxel by voxel (linear interpolation in log T1 and in B1). With a
T2 per voxel (a T2 map of the same object) it does so at ``N_T2`` T2 values spanning the map and
interpolates each voxel's true T1 linearly in log T2 (:func:`correct_t1_with_t2`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from harmoniq.backend import get_array_module
from harmoniq.fitting.despot1 import fit_despot1
from harmoniq.simulation.epg import spoiled_gre

N_T1 = 16
N_T2 = 6
B1_STEP = 0.1
WATER_20C_M2_S = 2.023e-9  # Holz et al., PCCP 2000;2:4740, Table 1


def spoiler_moment_rad_m(seq_path) -> float:
    """|gamma int G dt| (rad/m) between consecutive RF pulse centres of the .seq (the median
    over its TRs): the moment each TR adds to a coherence, spoilers and readout together."""
    import numpy as np

    from harmoniq.seqfile import read_seq
    from harmoniq.simulation.timeline import Free, Pulse, compile_sequence

    timeline = compile_sequence(read_seq(seq_path), 3.0)  # moments do not depend on the field
    k, moments = None, []
    for event in timeline.events:
        if isinstance(event, Pulse):
            if k is not None:
                moments.append(float(np.linalg.norm(k + event.k_halves[0])))
            k = event.k_halves[1].copy()
        elif isinstance(event, Free) and k is not None:
            k = k + event.k
    return 2 * math.pi * float(np.median(moments)) if moments else 0.0


@dataclass(frozen=True)
class Spoiling:
    """The RF spoiling of the measured sequence.

    increment_rad: quadratic phase increment (e.g. 117 deg); t2_s: the T2 assumed in the
    simulation (a choice of ours; the correction depends strongly on it for long T2 without
    diffusion); diffusion_m2_s and spoiler_rad_m: the diffusivity (m^2/s) and the spoiler's
    moment per TR (rad/m), which damp the coherences the increment leaves (Weigel 2015;
    :func:`harmoniq.simulation.epg.spoiled_gre`).
    """

    increment_rad: float
    t2_s: float = 0.1
    diffusion_m2_s: float = 0.0
    spoiler_rad_m: float = 0.0


def _pulses_to_steady_state(flips, b1_max: float, tr_s: float, t1_max: float) -> int:
    """Pulses for the slowest approach to steady state to decay by e^-8.

    The longitudinal magnetisation approaches its steady state with the apparent
    1/T1* = 1/T1 - ln(cos a)/TR (smallest flip, longest T1).
    """
    rate = 1 / t1_max - math.log(math.cos(min(flips) * b1_max)) / tr_s
    return int(min(4000, max(200, math.ceil(8 / (rate * tr_s)))))


def apparent_t1_table(flips, tr_s: float, spoiling: Spoiling, t1_grid, b1_grid, method: str):
    """Apparent T1 (T1 grid x B1 grid) that DESPOT1 returns for EPG-simulated signals."""
    xp = get_array_module(t1_grid)
    n_pulses = _pulses_to_steady_state(flips, float(b1_grid.max()), tr_s, float(t1_grid.max()))
    flips_x = xp.asarray(flips)[:, None, None]
    signal = xp.abs(
        spoiled_gre(
            flips_x, tr_s, t1_grid[None, :, None], spoiling.t2_s, b1=b1_grid[None, None, :],
            phase_increment_rad=spoiling.increment_rad, n_pulses=n_pulses, max_orders=None,
            diffusion_m2_s=spoiling.diffusion_m2_s, spoiler_rad_m=spoiling.spoiler_rad_m,
        )
    )
    n = len(flips)
    flip_eff = (flips_x * b1_grid[None, None, :]) * xp.ones_like(signal)
    _, t1_app, _, _ = fit_despot1(signal.reshape(n, -1), flip_eff.reshape(n, -1), tr_s, method)
    return t1_app.reshape(t1_grid.size, b1_grid.size)


def correct_t1(t1_apparent, b1, flips, tr_s: float, spoiling: Spoiling, method: str):
    """True T1 (V,) from apparent DESPOT1 T1 (V,) at relative B1 (V,); NaN outside the table."""
    xp = get_array_module(t1_apparent)
    b1 = xp.broadcast_to(xp.asarray(b1, dtype=xp.float64), t1_apparent.shape)
    finite = xp.isfinite(t1_apparent) & (t1_apparent > 0) & xp.isfinite(b1) & (b1 > 0)
    if not bool(finite.any()):
        return xp.where(finite, t1_apparent, xp.nan)
    lo = max(float(t1_apparent[finite].min()) / 2, 5 * tr_s)
    hi = min(float(t1_apparent[finite].max()) * 2, 20.0)
    t1_grid = xp.exp(xp.linspace(math.log(lo), math.log(max(hi, 2 * lo)), N_T1))
    b_lo, b_hi = float(b1[finite].min()), float(b1[finite].max())
    n_b1 = max(2, math.ceil((b_hi - b_lo) / B1_STEP) + 1)
    b1_grid = xp.linspace(b_lo, max(b_hi, b_lo + 1e-3), n_b1)
    table = apparent_t1_table(flips, tr_s, spoiling, t1_grid, b1_grid, method)
    log_app = xp.log(xp.where(finite, t1_apparent, 1.0))
    per_column = []
    for j in range(n_b1):
        column = xp.log(table[:, j])
        order = xp.argsort(column)
        per_column.append(xp.interp(log_app, column[order], xp.log(t1_grid)[order], left=xp.nan, right=xp.nan))
    per_column = xp.stack(per_column)
    position = xp.clip((xp.where(finite, b1, b_lo) - b_lo) / (b1_grid[1] - b1_grid[0]), 0, n_b1 - 1)
    left = xp.clip(xp.floor(position).astype(int), 0, n_b1 - 2)
    weight = position - left
    columns = xp.arange(t1_apparent.size)
    log_true = (1 - weight) * per_column[left, columns] + weight * per_column[left + 1, columns]
    return xp.where(finite, xp.exp(log_true), xp.nan)


def correct_t1_with_t2(t1_apparent, b1, t2, flips, tr_s: float, spoiling: Spoiling, method: str):
    """:func:`correct_t1` with T2 (s) per voxel (V,) instead of ``spoiling.t2_s`` (used where T2 is
    not finite and positive): true T1 at ``N_T2`` log-spaced T2 values, interpolated in log T2."""
    xp = get_array_module(t1_apparent)
    t2 = xp.asarray(t2, dtype=xp.float64)
    t2 = xp.where(xp.isfinite(t2) & (t2 > 0), t2, spoiling.t2_s)
    lo, hi = math.log(float(t2.min())), math.log(float(t2.max()))
    nodes = xp.linspace(lo, max(hi, lo + 1e-6), N_T2 if hi > lo else 2)
    per_node = xp.stack([correct_t1(t1_apparent, b1, flips, tr_s, replace(spoiling, t2_s=math.exp(float(node))), method)
                         for node in nodes])
    position = xp.clip((xp.log(t2) - nodes[0]) / (nodes[1] - nodes[0]), 0, nodes.size - 1)
    left = xp.clip(xp.floor(position).astype(int), 0, nodes.size - 2)
    weight = position - left
    columns = xp.arange(t1_apparent.size)
    log_true = (1 - weight) * xp.log(per_node[left, columns]) + weight * xp.log(per_node[left + 1, columns])
    return xp.exp(log_true)
