"""Isochromats (spins) that represent a phantom inside a simulated scanner.

Every phantom voxel is split into ``(sz, sy, sx)`` spins on a regular sub-grid, so the
spins of the whole phantom lie on a separable grid: positions are three 1D axes, and the
phase of a gradient moment k, exp(-2i pi k.r), is an outer product of three 1D factors.

A 2D phantom (one voxel along z) stands for an object that is uniform along z: its spins
fill the slabs that the sequence's slice-selective pulses excite (each slice thickness
plus ``slab_margin`` of it on both sides), ``per_slice_thickness`` spins per thickness, so
slices get their true profile and slice-axis crushers and spoilers act on a distribution
of phases. Spoiling by gradients needs several spins per cycle of the largest spoiler
moment across a slice: a crusher of n cycles per slice thickness is sampled without
aliasing with more than 2 n spins per thickness (16 spins: up to 7 cycles).

Reversible dephasing (T2') is a Lorentzian distribution of frequencies inside a voxel
(Yablonskiy and Haacke, MRM 1994;32:749): the K spins of a voxel get the offsets
tan(pi ((k + 1/2)/K - 1/2)) / (2 pi T2'), k = 0..K-1, in a fixed shuffled order.

Spins are handed out in chunks of whole voxel rows (along y) to keep memory bounded.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from harmoniq.errors import HarmoniqError

_SHUFFLE_SEED = 20240901


@dataclass(frozen=True)
class SpinSampling:
    """Spins per voxel ``(z, y, x)``; for 2D phantoms, spins per slice thickness along z."""

    per_voxel: tuple[int, int, int] = (2, 1, 1)
    per_slice_thickness: int = 16
    slab_margin: float = 0.5

    def __post_init__(self):
        if len(self.per_voxel) != 3 or min(self.per_voxel) < 1 or self.per_slice_thickness < 1:
            raise HarmoniqError(f"spin sampling: per_voxel={self.per_voxel} needs three integers >= 1 and "
                                f"per_slice_thickness={self.per_slice_thickness} an integer >= 1")


@dataclass
class SpinChunk:
    """The spins of voxel rows [row0, row1): per-spin arrays (Zs, Ys, Xs), voxel arrays (vz, vy, vx)."""

    row0: int
    row1: int
    x_m: np.ndarray
    y_m: np.ndarray
    z_m: np.ndarray
    r1: np.ndarray
    r2: np.ndarray
    df_hz: np.ndarray
    b1: np.ndarray
    weight: np.ndarray  # voxel level: pd * voxel volume (mm^3) / spins per voxel
    voxel_r2: np.ndarray
    voxel_df_hz: np.ndarray

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.r1.shape


class SpinModel:
    """Spins of ``phantom`` inside ``scanner`` for the slabs of ``timeline`` (see module doc)."""

    def __init__(self, phantom, scanner, timeline, sampling: SpinSampling = SpinSampling()):
        self.phantom = phantom
        self.scanner = scanner
        nz, ny, nx = phantom.shape
        dz, dy, dx = phantom.voxel_size_m
        sz, sy, sx = sampling.per_voxel
        self.voxel_x = (np.arange(nx) - nx // 2) * dx
        self.voxel_y = (np.arange(ny) - ny // 2) * dy
        slabs = _excited_slabs(timeline, sampling) if nz == 1 else []
        if slabs:
            z_spins, spacing = _slab_axis(slabs, sampling.per_slice_thickness)
            self.voxel_z = np.zeros(1)
            self.sub = (z_spins.size, sy, sx)
            spin_dz = spacing
        else:
            self.voxel_z = (np.arange(nz) - nz // 2) * dz
            z_spins = _sub_axis(self.voxel_z, dz, sz)
            self.sub = (sz, sy, sx)
            spin_dz = dz / sz
        self.z_m = z_spins
        self.x_m = _sub_axis(self.voxel_x, dx, sx)
        self.y_all = _sub_axis(self.voxel_y, dy, sy)
        self.spin_volume_mm3 = spin_dz * dy / sy * dx / sx * 1e9
        self.pattern = _lorentz_pattern(self.sub)
        self.field_ratio = scanner.field_t / phantom.field_t if phantom.field_t else 1.0

    @property
    def n_spins(self) -> int:
        return self.z_m.size * self.y_all.size * self.x_m.size

    @property
    def voxel_shape(self) -> tuple[int, int, int]:
        return (self.voxel_z.size, self.voxel_y.size, self.voxel_x.size)

    def voxel_positions(self, rows=slice(None)) -> np.ndarray:
        zz, yy, xx = np.meshgrid(self.voxel_z, self.voxel_y[rows], self.voxel_x, indexing="ij")
        return np.stack([xx, yy, zz], axis=-1)

    def row_chunks(self, max_spins: int) -> list[tuple[int, int]]:
        """Voxel-row ranges with at most ``max_spins`` spins each (one row at least)."""
        per_row = self.n_spins // self.voxel_y.size
        rows = max(1, max_spins // max(per_row, 1))
        ny = self.voxel_y.size
        return [(r, min(ny, r + rows)) for r in range(0, ny, rows)]

    def chunk(self, row0: int, row1: int, dtype=np.float64) -> SpinChunk:
        """Per-spin tissue, field and transmit arrays of voxel rows [row0, row1)."""
        sz, sy, sx = self.sub
        p = self.phantom
        rows = slice(row0, row1)
        pd = p.pd[:, rows]
        tissue = {name: getattr(p, name)[:, rows] for name in ("t1_s", "t2_s", "t2prime_s", "offres_hz")}
        empty = ~(pd > 0) | ~np.isfinite(tissue["t1_s"]) | ~(tissue["t1_s"] > 0) | ~(tissue["t2_s"] > 0)
        t1 = np.where(empty, 1.0, tissue["t1_s"])
        t2 = np.where(empty, 1.0, tissue["t2_s"])
        t2p = np.where(empty | ~(tissue["t2prime_s"] > 0), np.inf, tissue["t2prime_s"])
        chem = np.where(empty, 0.0, tissue["offres_hz"]) * self.field_ratio
        y = self.y_all[row0 * sy: row1 * sy]
        zz, yy, xx = np.meshgrid(self.z_m, y, self.x_m, indexing="ij")
        positions = np.stack([xx, yy, zz], axis=-1)

        def spread(voxel):  # voxel (vz, vy, vx) -> spins (Zs, Ys, Xs)
            return np.repeat(np.repeat(np.repeat(voxel, sz, 0), sy, 1), sx, 2)

        reps = (row1 - row0, self.voxel_x.size)
        lorentz = np.tile(self.pattern, (pd.shape[0],) + reps) / (2 * math.pi * spread(t2p))
        df = self.scanner.b0_hz(positions) + spread(chem) + lorentz
        voxel_positions = self.voxel_positions(rows)
        return SpinChunk(
            row0=row0, row1=row1, x_m=self.x_m, y_m=y, z_m=self.z_m,
            r1=spread(1.0 / t1).astype(dtype), r2=spread(1.0 / t2).astype(dtype), df_hz=df.astype(dtype),
            b1=self.scanner.b1_scale(positions).astype(dtype),
            weight=(np.where(empty, 0.0, pd) * self.spin_volume_mm3),
            voxel_r2=1.0 / t2, voxel_df_hz=self.scanner.b0_hz(voxel_positions) + chem)

    def summary(self) -> dict:
        """Ranges over all spins of the frequency offset (Hz) and transmit scale, and the voxel
        maps of R2 (1/s) and frequency offset (Hz) without the T2' spread."""
        df_lo = b1_lo = np.inf
        df_hi = b1_hi = -np.inf
        r2, df = [], []
        for row0, row1 in self.row_chunks(1 << 18):
            c = self.chunk(row0, row1)
            df_lo, df_hi = min(df_lo, float(c.df_hz.min())), max(df_hi, float(c.df_hz.max()))
            b1_lo, b1_hi = min(b1_lo, float(c.b1.min())), max(b1_hi, float(c.b1.max()))
            r2.append(c.voxel_r2)
            df.append(c.voxel_df_hz)
        return {"df_range_hz": (df_lo, df_hi), "b1_range": (b1_lo, b1_hi),
                "voxel_r2": np.concatenate(r2, axis=1), "voxel_df_hz": np.concatenate(df, axis=1)}

    def position_ranges(self) -> np.ndarray:
        """(3, 2) min/max of spin positions along x, y, z."""
        return np.array([[a.min(), a.max()] for a in (self.x_m, self.y_all, self.z_m)])


def _sub_axis(centres: np.ndarray, size: float, n: int) -> np.ndarray:
    """Sub-voxel positions: n evenly spaced points inside each voxel of the axis."""
    offsets = ((np.arange(n) + 0.5) / n - 0.5) * size
    return (centres[:, None] + offsets[None, :]).reshape(-1)


def _lorentz_pattern(sub: tuple[int, int, int]) -> np.ndarray:
    """Lorentzian quantiles tan(pi ((k + 1/2)/K - 1/2)) in a fixed shuffled order, shape ``sub``."""
    n = int(np.prod(sub))
    quantiles = np.tan(np.pi * ((np.arange(n) + 0.5) / n - 0.5))
    order = np.random.default_rng(_SHUFFLE_SEED).permutation(n)
    return quantiles[order].reshape(sub)


def _excited_slabs(timeline, sampling: SpinSampling) -> list[tuple[float, float, float]]:
    """(low, high, thickness) in m of the z-slabs of slice-selective excitation/refocusing pulses."""
    slabs = set()
    for pulse in timeline.pulses:
        g = pulse.gradient
        if abs(g[2]) < 1e-3 or pulse.use in ("inversion", "saturation", "preparation"):
            continue
        centre = -pulse.freq_hz / g[2]
        thickness = pulse.shape.bandwidth_hz / abs(g[2])
        half = thickness * (0.5 + sampling.slab_margin)
        slabs.add((round(centre - half, 9), round(centre + half, 9), round(thickness, 9)))
    return sorted(slabs)


def _slab_axis(slabs, per_thickness: int) -> tuple[np.ndarray, float]:
    """Spin positions along z covering the union of the slabs, one spacing for all."""
    spacing = min(s[2] for s in slabs) / per_thickness
    merged: list[list[float]] = []
    for low, high, _ in slabs:
        if merged and low <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], high)
        else:
            merged.append([low, high])
    axis = [low + (np.arange(int(math.ceil((high - low) / spacing))) + 0.5) * spacing for low, high in merged]
    z = np.concatenate(axis)
    if z.size > 1 << 16:
        raise HarmoniqError(f"sequence: its slice-selective pulses span {z.size} spin planes along z "
                            "(slices far apart or very thin); lower per_slice_thickness or use a 3D phantom")
    return z, spacing
