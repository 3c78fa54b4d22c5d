"""MP2RAGE: the UNI image and its lookup-table T1 (Marques et al., NeuroImage 2010;49:1271).

One cycle of length TR_MP2RAGE: an adiabatic inversion (efficiency eff: Mz -> -eff Mz), then two
blocks of n gradient echoes (flips a1, a2, spacing TR) whose k-space centre is excited at TI1 and
TI2 (TI: from the inversion to the excitation of the centre, which ``n_before`` excitations of
its block precede; n/2 for linear ordering). Every step maps Mz -> p Mz + q:

    relaxation for t:                 p = E(t) = exp(-t/T1),  q = 1 - E(t)
    m excitations a, each + TR:       p = (cos a E1)^m,       q = (1 - E1)(1 - (cos a E1)^m)/(1 - cos a E1)

Composing the steps of a cycle gives the steady state Mz = q/(1 - p) before the inversion
(Marques 2010, appendix); the signals are S_k = M0 sin(a_k) Mz(centre_k). The free intervals are
TA = TI1 - n_before TR, TB = TI2 - TI1 - n TR, TC = TR_MP2RAGE - TI2 - (n - n_before) TR.
With a relative transmit field B1 both flips are B1 a_k (the adiabatic inversion is not).

UNI = Re(S1* S2)/(|S1|^2 + |S2|^2) lies in [-1/2, 1/2] and is free of M0, receive field and
T2*. T1 follows from the lookup table UNI(T1) on its monotonic range (the one containing the
table's maximum and minimum); with a B1 map, from the table of each voxel's B1 (Marques and
Gruetter, PLoS One 2013;8:e69294). The inversion efficiency is 0.96 (the pulse of Marques 2010)
unless the sequence's own pulse is given: then eff(B1) = -cos(flip of that pulse at B1), from a
spinor integration of its waveform (a hyperbolic secant is 0.9975 at B1 = 1 and 0.973 at 0.8).

Uncertainty (signed INV1, INV2 given, noise SD sigma on each): sd(UNI) = sigma |grad UNI|,
dUNI/dS1 = (S2 - 2 S1 UNI)/(S1^2 + S2^2) (and 1 <-> 2), sd(T1) = sd(UNI) / |dUNI/dT1|.
Valid range: T1 inside the monotonic range of the table (ends excluded); voxels outside are
flagged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from harmoniq.backend import get_array_module
from harmoniq.errors import HarmoniqError
from harmoniq.fitting.engine import assemble
from harmoniq.fitting.maps import ParameterMaps, gather_voxels, per_voxel_map

MODEL = "t1-mp2rage"
INVERSION_EFFICIENCY = 0.96
"""Adiabatic inversion efficiency assumed by the MP2RAGE lookup table (Marques et al. 2010)."""
T1_GRID_S = np.arange(0.05, 5.0 + 1e-9, 0.005)
B1_GRID = np.arange(0.5, 1.5 + 1e-9, 0.01)


@dataclass(frozen=True)
class Mp2rageTiming:
    """The sequence parameters the signal depends on (SI units: s, rad)."""

    tr_mp2rage_s: float
    tr_gre_s: float
    ti_s: tuple[float, float]
    flip_rad: tuple[float, float]
    n_excitations: int
    n_before: int | None = None
    inversion_efficiency: float = INVERSION_EFFICIENCY

    def __post_init__(self):
        n, nb = self.n_excitations, self.before
        ti1, ti2 = self.ti_s
        free = (ti1 - nb * self.tr_gre_s, ti2 - ti1 - n * self.tr_gre_s, self.tr_mp2rage_s - ti2 - (n - nb) * self.tr_gre_s)
        if n < 1 or not 0 <= nb < n or min(free) < 0 or not all(0 < a < math.pi / 2 for a in self.flip_rad):
            raise HarmoniqError(
                f"t1-mp2rage: timing (TR_MP2RAGE {self.tr_mp2rage_s} s, TR {self.tr_gre_s} s, TI {list(self.ti_s)} s, "
                f"{n} excitations, {nb} before the centre) is not valid; the blocks must fit between the inversions "
                "(TI1 >= n_before TR, TI2 - TI1 >= n TR, TR_MP2RAGE - TI2 >= (n - n_before) TR) and flips lie in (0, 90) deg")

    @property
    def before(self) -> int:
        """Excitations of a block before its k-space centre (n/2 when not given)."""
        return self.n_excitations // 2 if self.n_before is None else self.n_before

    @property
    def free_intervals_s(self) -> tuple[float, float, float]:
        """(TA, TB, TC): inversion to first block, between the blocks, last block to the next inversion."""
        n, nb, tr = self.n_excitations, self.before, self.tr_gre_s
        ti1, ti2 = self.ti_s
        return ti1 - nb * tr, ti2 - ti1 - n * tr, self.tr_mp2rage_s - ti2 - (n - nb) * tr


def _relax(t, t1, xp):
    e = xp.exp(-t / t1)
    return e, 1 - e


def _pulses(m, flip, e1):
    c = np.cos(flip) * e1 if np.ndim(flip) == 0 else get_array_module(flip).cos(flip) * e1
    p = c**m
    return p, (1 - e1) * (1 - p) / (1 - c)


def _then(first, second):
    """The affine map ``second`` after ``first``: Mz -> p2 (p1 Mz + q1) + q2."""
    return second[0] * first[0], second[0] * first[1] + second[1]


def mp2rage_signals(t1_s, timing: Mp2rageTiming, b1=1.0, m0=1.0):
    """(S1, S2): signed INV1 and INV2 signals at T1 (s, array) and relative B1 (broadcasting)."""
    xp = get_array_module(t1_s, b1)
    t1 = xp.asarray(t1_s, dtype=float)
    a1, a2 = (b1 * a for a in timing.flip_rad)
    n, nb = timing.n_excitations, timing.before
    ta, tb, tc = timing.free_intervals_s
    e1 = xp.exp(-timing.tr_gre_s / t1)
    invert = (-timing.inversion_efficiency, 0.0)
    to_centre1 = _then(_then(invert, _relax(ta, t1, xp)), _pulses(nb, a1, e1))
    to_centre2 = _then(_then(_then(to_centre1, _pulses(n - nb, a1, e1)), _relax(tb, t1, xp)), _pulses(nb, a2, e1))
    cycle = _then(_then(to_centre2, _pulses(n - nb, a2, e1)), _relax(tc, t1, xp))
    mz = cycle[1] / (1 - cycle[0])  # steady state just before the inversion
    s1 = m0 * xp.sin(a1) * (to_centre1[0] * mz + to_centre1[1])
    s2 = m0 * xp.sin(a2) * (to_centre2[0] * mz + to_centre2[1])
    return s1, s2


def uni(s1, s2):
    """UNI = Re(S1* S2) / (|S1|^2 + |S2|^2), in [-1/2, 1/2]."""
    xp = get_array_module(s1, s2)
    with np.errstate(divide="ignore", invalid="ignore"):
        return xp.real(xp.conj(s1) * s2) / (xp.abs(s1) ** 2 + xp.abs(s2) ** 2)


def lookup_table(timing: Mp2rageTiming, b1: float = 1.0, t1_grid_s=T1_GRID_S) -> tuple[np.ndarray, np.ndarray]:
    """(T1 (s), UNI) on the monotonic range of UNI(T1): from the table's maximum to its minimum."""
    t1 = np.asarray(t1_grid_s, dtype=float)
    values = uni(*mp2rage_signals(t1, timing, b1))
    lo, hi = sorted((int(np.argmax(values)), int(np.argmin(values))))
    return t1[lo:hi + 1], values[lo:hi + 1]


def _invert(table_t1, table_uni, values, xp):
    """T1 of each UNI value on one monotonic table (NaN outside it)."""
    t1, u = xp.asarray(table_t1), xp.asarray(table_uni)
    if u[-1] < u[0]:
        t1, u = t1[::-1], u[::-1]
    return xp.interp(values, u, t1, left=xp.nan, right=xp.nan), xp.interp(values, u, xp.gradient(u, t1))


def _images_to_uni(data, xp):
    """UNI (V,) and the signed (S1, S2) (or None) from (2, V) INV1/INV2 or a (1, V) UNI image."""
    if data.shape[0] == 1:
        return data[0].real.astype(xp.float64), None
    s1, s2 = data[0], data[1]
    return uni(s1, s2), (s1, s2)


def inversion_efficiency_of(rf, raster_s: float):
    """The efficiency eff(B1) = -Mz after the pulse (Mz = 1 before) of inversion pulse ``rf`` (a
    pypulseq RF event) at relative transmit field B1, by spinor integration of its waveform on
    resonance (:func:`harmoniq.seqfile.rf_rotation.flip_angles`); relaxation during it neglected."""
    import copy

    from harmoniq.seqfile.rf_rotation import flip_angles

    def efficiency(b1: float) -> float:
        scaled = copy.copy(rf)
        scaled.signal = rf.signal * b1
        return float(-np.cos(flip_angles(scaled, raster_s, np.zeros(1))[0]))

    return efficiency


def fit_t1_mp2rage(images, timing: Mp2rageTiming, *, b1=None, mask=None, noise_sigma=None,
                   efficiency_of_b1=None) -> ParameterMaps:
    """T1 (s) and UNI from MP2RAGE images.

    images: (2, *spatial) INV1, INV2 (complex, or real with their sign), or (1, *spatial) a UNI
    image in [-1/2, 1/2]; b1: relative transmit field map (spatial shape) or None (B1 = 1);
    efficiency_of_b1: the inversion efficiency as a function of B1 (e.g. the pulse's own,
    :func:`inversion_efficiency_of`) for each table, instead of ``timing.inversion_efficiency``.
    Maps: T1, UNI, T1_crlb (INV1/INV2 with ``noise_sigma``), out_of_range, mask.
    """
    if efficiency_of_b1 is not None:
        tables = {}

        def table(b1_value: float = 1.0):
            if b1_value not in tables:
                at = replace(timing, inversion_efficiency=efficiency_of_b1(b1_value))
                tables[b1_value] = lookup_table(at, b1_value)
            return tables[b1_value]
    else:
        def table(b1_value: float = 1.0):
            return lookup_table(timing, b1_value)

    xp = get_array_module(images)
    n = int(xp.asarray(images).shape[0]) if xp.asarray(images).ndim > 1 else 0
    voxels = gather_voxels(images, 1 if n == 1 else 2, MODEL, mask)
    values_uni, signed = _images_to_uni(voxels.data, xp)
    t1 = xp.full(voxels.count, xp.nan)
    slope = xp.full(voxels.count, xp.nan)
    if b1 is None:
        t1, slope = _invert(*table(), values_uni, xp)
    else:
        b1_v = per_voxel_map(b1, voxels, "t1-mp2rage: the B1 map")
        position = (b1_v - B1_GRID[0]) / (B1_GRID[1] - B1_GRID[0])
        lower = xp.floor(position)
        weight = position - lower
        for k in range(B1_GRID.size - 1):  # voxels between rows k and k+1: blend the two tables' T1
            inside = lower == k
            if not bool(inside.any()):
                continue
            (t_lo, s_lo), (t_hi, s_hi) = (_invert(*table(float(B1_GRID[j])), values_uni[inside], xp)
                                          for j in (k, k + 1))
            w = weight[inside]
            t1[inside] = (1 - w) * t_lo + w * t_hi
            slope[inside] = (1 - w) * s_lo + w * s_hi
    values = {"T1": t1, "UNI": values_uni}
    if signed is not None and noise_sigma is not None:
        s1, s2 = (xp.real(s).astype(xp.float64) for s in signed)  # the phase-sensitive parts
        with np.errstate(divide="ignore", invalid="ignore"):
            energy = s1 * s1 + s2 * s2
            grad = xp.sqrt((s2 - 2 * s1 * values_uni) ** 2 + (s1 - 2 * s2 * values_uni) ** 2) / energy
            values["T1_crlb"] = float(noise_sigma) * grad / xp.abs(slope)
    info = {
        "model": "UNI = Re(S1* S2)/(|S1|^2+|S2|^2), lookup table on its monotonic range (Marques et al., NeuroImage "
                 "2010;49:1271)" + ("; B1-corrected tables (Marques and Gruetter, PLoS One 2013)" if b1 is not None else ""),
        "RepetitionTimePreparation": timing.tr_mp2rage_s,
        "RepetitionTimeExcitation": timing.tr_gre_s,
        "InversionTime": list(timing.ti_s),
        "FlipAngle": [math.degrees(a) for a in timing.flip_rad],
        "NumberShots": timing.n_excitations,
        "inversion_efficiency": (timing.inversion_efficiency if efficiency_of_b1 is None
                                 else "the .seq inversion pulse's, per B1 (spinor integration)"),
        "b1_map": b1 is not None,
        "noise_sigma": None if noise_sigma is None else float(noise_sigma),
    }
    return assemble(MODEL, voxels, values, {"T1": "s", "UNI": "1", "T1_crlb": "s"}, ~xp.isfinite(t1), info)
