"""Isochromats (spins) that represent a phantom inside a simulated scanner.

Every phantom voxel is split into ``(sz, sy, sx)`` spins on a regular sub-grid, so the
spins of the whole phantom lie on a separable grid: positions are three 1D axes, and the
phase of a gradient moment k, exp(-2i pi k.r), is an outer product of three 1D factors.

A 2D phantom (one voxel along z) stands for an object that is uniform along z: its spins
fill the slabs that the sequence's slice-selective pulses excite (each slice thickness
plus ``slab_margin`` of it on both sides), ``per_slice_thickness`` spins per thickness, so
slices get their true profile and slice-axis crushers and spoilers act on a distribution
of phases.

How many spins gradient spoiling needs (the rule used when the counts are not given).
A gradient lobe of q cycles across a sub-voxel span writes the phase 2 pi q u on the
spins at fractions u of the span; a pathway that has gathered q cycles in all sums to
zero over N equally spaced spins of uniform weight unless q is a multiple of N (a
configuration order that aliases to 0). So the spins of one span must outnumber the
cycles any pathway can gather while it still carries signal: C, the largest sum of
|zeroth moment| between the centres of consecutive RF pulses (per axis, the moment
from a pulse's centre to the start of the next) over any window of
``ln(1/tolerance) T2_max`` (T2_max the longest T2 of the phantom; 1 % by default). A
window ends only with an interval that long by itself: across a shorter gap (the fill of
a spin-echo TR) long-T2 coherences survive, e.g. exp(-2.7 s / 1.5 s) = 17 % for water,
and the next train's crushers add to their orders.
An RF-spoiled steady state keeps configuration orders alive for several T2 (Preibisch
and Deichmann, MRM 2009;61:125), e.g. 84 TRs of 10 ms for water with T2 = 1.5 s.

- 2D slab: ``C_z + 1`` spins per slice thickness (at least 16, for the slice profile).
  In-plane, the through-slice sum does not cancel the low orders (the excited profile is
  not band-limited, and its slab is cut at the margins): a spoiled gradient echo whose
  readout plus spoiler leaves c = 4.55 cycles per voxel per TR (gre-demo) kept order 2 at
  9.09 = 0.09 cycles per voxel with one spin per voxel, a ghost near the echo that cost
  NRMSE 0.10 against ideal dephasing. So the in-plane axis with the larger moment per RF
  interval (c >= 1 cycle per voxel), where coherences live through more than
  ``STEADY_STATE_INTERVALS`` such lobes, gets ``IN_PLANE_SPINS`` = 3 spins on ONE period of that
  moment (voxel/c, as in 3D below): orders 1 and 2 cancel exactly (gre-demo NRMSE 0.0032
  with 3, 4 or 6; 0.10 with 2, which leaves the even orders). Below one cycle, one spin per voxel.
- 3D: the spins of a voxel sit along the axis with the largest moment per RF interval,
  c cycles per voxel, on ONE period of that moment (a span of voxel/c around the voxel
  centre): every distinct phase of that lobe is sampled once, so N = ceil(C / c) + 1
  spins cancel every order below N exactly, where a uniform grid over the whole voxel
  would need c times more. The other axes keep one spin per voxel. When the intervals play
  different moments that are whole multiples of one lobe (actual flip-angle imaging: TR2's
  spoiler n times TR1's), c is that common lobe: a span of one period of the largest lobe
  would see the smaller lobes as a fraction of a cycle and leave their orders unspoiled.

A uniform grid would alias configuration orders that are multiples of its spins per
cycle, which shows as stripes in gradient-spoiled gradient echoes. The total is capped at
``max_spins`` (run time grows with it); a sequence that needs more gets fewer spins per
voxel and a warning naming the order up to which spoiling is exact.

Diffusion (3D phantoms) shortens the life of a coherence as well: the pathway that gains
one lobe dk (rad/m) per interval tau is damped by exp(-D tau dk^2 m^3 / 3) after m intervals
(:mod:`harmoniq.simulation.diffusion`), so the window is also capped at the m where that
reaches the tolerance cubed, D the slowest diffusivity of the phantom.

Reversible dephasing (T2') is a Lorentzian distribution of frequencies inside a voxel
(Yablonskiy and Haacke, MRM 1994;32:749): the K spins of a voxel get the offsets
tan(pi ((k + 1/2)/K - 1/2)) / (2 pi T2'), k = 0..K-1, in a fixed shuffled order.

Spins are handed out in chunks of whole voxel rows (along y) to keep memory bounded.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np

from harmoniq.errors import HarmoniqError
from harmoniq.simulation.diffusion import DiffusionLine
from harmoniq.simulation.timeline import Free, Pulse

_SHUFFLE_SEED = 20240901


MIN_PER_SLICE_THICKNESS = 16
"""Spins per slice thickness that resolve a slice profile (and 2-cycle crushers) at least."""

IN_PLANE_SPINS = 3
STEADY_STATE_INTERVALS = 4
"""A 2D slab gets IN_PLANE_SPINS only where coherences outlive this many in-plane lobes (an RF-spoiled
steady state: gre-demo's live through 83); spin echoes with TR >> T2 (3 lobes) and the double-angle
pair (2) keep one spin per voxel, as their round trips were validated with."""
"""In-plane spins of a 2D slab's voxel over one period of its largest in-plane lobe: orders 1 and 2
cancel exactly (module doc)."""


@dataclass(frozen=True)
class SpinSampling:
    """Spins per voxel ``(z, y, x)`` spread evenly over each voxel; for 2D phantoms, spins per
    slice thickness along z. ``None`` derives the count from the sequence (module doc), with
    at most ``max_spins`` spins in all; ``tolerance`` is the signal fraction below which a
    configuration order may alias.
    """

    per_voxel: tuple[int, int, int] | None = None
    per_slice_thickness: int | None = None
    slab_margin: float = 0.5
    tolerance: float = 0.01
    max_spins: int = 1 << 23

    def __post_init__(self):
        if self.per_voxel is not None and (len(self.per_voxel) != 3 or min(self.per_voxel) < 1):
            raise HarmoniqError(f"spin sampling: per_voxel={self.per_voxel} needs three integers >= 1 (or None)")
        if self.per_slice_thickness is not None and self.per_slice_thickness < 1:
            raise HarmoniqError(f"spin sampling: per_slice_thickness={self.per_slice_thickness} needs an "
                                "integer >= 1 (or None)")
        if not 0 < self.tolerance < 1 or self.max_spins < 1:
            raise HarmoniqError(f"spin sampling: tolerance={self.tolerance} must lie in (0, 1) and "
                                f"max_spins={self.max_spins} be >= 1")


@dataclass(frozen=True)
class SpoilingDemand:
    """Per axis (x, y, z), in cycles per voxel (per slice thickness for a 2D slab's z):
    ``per_interval`` the largest moment between two RF pulses, ``window`` the largest sum of
    such moments inside the life of a coherence (module doc)."""

    per_interval: np.ndarray
    window: np.ndarray
    lobe_cycles_per_m: np.ndarray = field(default_factory=lambda: np.zeros(3))  # signed, the largest interval's
    period: np.ndarray = field(default_factory=lambda: np.zeros(3))  # the common lobe (module doc)


MAX_LOBE_RATIO = 16
"""Largest ratio of an interval's moment to the common lobe the spins resolve (AFI: TR2/TR1)."""
LOBE_MULTIPLE_TOLERANCE = 1e-3
"""How far (in lobes) a moment may sit from a whole multiple of the common lobe."""


def common_lobe(cycles: np.ndarray) -> float:
    """The largest c = max(cycles) / m (m = 1 .. MAX_LOBE_RATIO) of which every moment in ``cycles``
    (cycles per voxel along one axis) is a whole multiple; max(cycles) when there is none."""
    top = float(np.max(cycles, initial=0.0))
    for m in range(1, MAX_LOBE_RATIO + 1):
        units = np.asarray(cycles) / (top / m) if top > 0 else np.zeros(1)
        if np.all(np.abs(units - np.round(units)) <= LOBE_MULTIPLE_TOLERANCE):
            return top / m
    return top


def spoiling_demand(timeline, phantom, tolerance: float, slab_thickness_m: float | None) -> SpoilingDemand:
    """What the gradients of ``timeline`` ask of the spin grid of ``phantom`` (module doc)."""
    moments, signed, times = [], [], []
    k, t = np.zeros(3), 0.0
    for event in timeline.events:
        if isinstance(event, Free):
            k, t = k + event.k, t + event.duration_s
        elif isinstance(event, Pulse):
            moments.append(np.abs(k))
            signed.append(k)
            times.append(t + event.shape.center_s)
            k, t = event.k_halves[1].copy(), t + event.duration_s
    dz, dy, dx = phantom.voxel_size_m
    size = np.array([dx, dy, slab_thickness_m or dz])
    if len(times) < 2:
        return SpoilingDemand(np.zeros(3), np.zeros(3))
    cycles = np.array(moments[1:]) * size  # interval i: pulse i -> pulse i + 1
    axis = int(np.argmax(cycles.max(axis=0)))
    lobe = np.array(signed[1:])[int(np.argmax(cycles[:, axis]))]
    t2 = phantom.t2_s[(phantom.pd > 0) & np.isfinite(phantom.t2_s)]
    lifetime = math.log(1.0 / tolerance) * (float(t2.max()) if t2.size else 0.0)
    lifetime = min(lifetime, _diffusion_lifetime(phantom, tolerance, lobe, float(np.median(np.diff(times))))
                   if slab_thickness_m is None else lifetime)
    starts = np.asarray(times[:-1])
    ends = np.searchsorted(starts, starts + lifetime, side="right")
    gaps = np.flatnonzero(np.diff(times) > lifetime)  # intervals after which no coherence is left
    ends = np.minimum(ends, gaps[np.minimum(np.searchsorted(gaps, np.arange(starts.size)), gaps.size - 1)] + 1
                      if gaps.size else ends)
    running = np.vstack([np.zeros(3), np.cumsum(cycles, axis=0)])
    window = (running[ends] - running[np.arange(starts.size)]).max(axis=0)
    period = np.array([common_lobe(cycles[:, a]) for a in range(3)])
    return SpoilingDemand(cycles.max(axis=0), window, lobe, period)


def _diffusivity(phantom) -> np.ndarray | None:
    """The phantom's diffusivity map (m^2/s), checked against its grid; None for none."""
    d = phantom.diffusivity_m2_s
    if d is not None and np.shape(d) != phantom.pd.shape:
        raise HarmoniqError(f"phantom {phantom.name!r}: diffusivity_m2_s has shape {np.shape(d)}; it needs the "
                            f"grid's shape {phantom.pd.shape} (or None for no diffusion)")
    return d


def _diffusion_lifetime(phantom, tolerance: float, lobe_cycles_per_m: np.ndarray, interval_s: float) -> float:
    """Time (s) after which diffusion has damped the pathway gaining ``lobe`` every ``interval_s``
    below ``tolerance`` (module doc); inf without diffusion."""
    d = _diffusivity(phantom)
    dk = 2 * math.pi * float(np.linalg.norm(lobe_cycles_per_m))
    if d is None or dk == 0 or interval_s <= 0:
        return math.inf
    d_min = float(np.min(d[phantom.pd > 0], initial=math.inf))
    if not d_min > 0 or not math.isfinite(d_min):
        return math.inf
    # tolerance^3: aliased orders of an RF-spoiled train add up over its pathways; the cube root
    # makes the margin cheap (measured: 117 and 50 deg within 0.2 % of the EPG at 1 % tolerance)
    return interval_s * (9 * math.log(1 / tolerance) / (d_min * interval_s * dk**2)) ** (1 / 3)


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
    diffusivity: np.ndarray | None = None  # per spin (m^2/s); None: no diffusion

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
        self.voxel_x = (np.arange(nx) - nx // 2) * dx
        self.voxel_y = (np.arange(ny) - ny // 2) * dy
        slabs = _excited_slabs(timeline, sampling.slab_margin) if nz == 1 else []
        thinnest = min(s[2] for s in slabs) if slabs else None
        self.demand = spoiling_demand(timeline, phantom, sampling.tolerance, thinnest)
        if slabs:
            extent = sum(high - low for low, high in _merged(slabs)) / thinnest  # slab length in thicknesses
            (sy, sx), spans = _in_plane_counts(sampling, self.demand)
            per_thickness = _per_slice_thickness(sampling, self.demand, extent * ny * nx * sy * sx)
            z_spins, spin_dz = _slab_axis(slabs, per_thickness)
            self.voxel_z = np.zeros(1)
            self.sub = (z_spins.size, sy, sx)
        else:
            self.voxel_z = (np.arange(nz) - nz // 2) * dz
            (sz, sy, sx), spans = _voxel_counts(sampling, self.demand, nz * ny * nx)
            z_spins = _sub_axis(self.voxel_z, dz * spans[2], sz)
            self.sub = (sz, sy, sx)
            spin_dz = dz / sz
        self.z_m = z_spins
        self.diffusion_line = None if slabs else _diffusion_line(phantom, self.demand, self.sub, spans)
        self.x_m = _sub_axis(self.voxel_x, dx * spans[0], sx)
        self.y_all = _sub_axis(self.voxel_y, dy * spans[1], sy)
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
            voxel_r2=1.0 / t2, voxel_df_hz=self.scanner.b0_hz(voxel_positions) + chem,
            diffusivity=None if self.diffusion_line is None else
            spread(np.where(empty, 0.0, p.diffusivity_m2_s[:, rows])).astype(dtype))

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


def _diffusion_line(phantom, demand: SpoilingDemand, sub, spans) -> DiffusionLine | None:
    """The axis along which a 3D phantom's spins resolve configuration orders, for diffusion
    (:mod:`harmoniq.simulation.diffusion`); None when the phantom has no diffusivity."""
    d = _diffusivity(phantom)
    if d is None or not np.any(d[phantom.pd > 0] > 0):
        return None
    axis = int(np.argmax(demand.per_interval))
    lobe = demand.lobe_cycles_per_m
    ratio = lobe / lobe[axis] if lobe[axis] != 0 else np.eye(3)[axis]
    voxel = phantom.voxel_size_m[2 - axis]
    return DiffusionLine(axis, int(sub[2 - axis]), voxel * spans[axis], ratio)


def _sub_axis(centres: np.ndarray, span: float, n: int) -> np.ndarray:
    """Sub-voxel positions: n evenly spaced points over ``span`` (m) centred on each voxel centre."""
    offsets = ((np.arange(n) + 0.5) / n - 0.5) * span
    return (centres[:, None] + offsets[None, :]).reshape(-1)


def _in_plane_counts(sampling: SpinSampling, demand: SpoilingDemand):
    """In-plane spins per voxel (y, x) of a 2D slab and the voxel fraction (x, y, z) they span:
    as given, else :data:`IN_PLANE_SPINS` over one period of the larger in-plane moment per RF
    interval when it reaches one cycle per voxel, else one (module doc)."""
    if sampling.per_voxel is not None:
        return tuple(sampling.per_voxel[1:]), (1.0, 1.0, 1.0)
    axis = int(np.argmax(demand.per_interval[:2]))  # x or y
    period = float(demand.per_interval[axis])  # cycles per voxel
    if period < 1.0 or demand.window[axis] <= STEADY_STATE_INTERVALS * period:
        return (1, 1), (1.0, 1.0, 1.0)
    counts, spans = [1, 1], [1.0, 1.0, 1.0]
    counts[axis], spans[axis] = IN_PLANE_SPINS, 1.0 / period
    return (counts[1], counts[0]), tuple(spans)


def _per_slice_thickness(sampling: SpinSampling, demand: SpoilingDemand, spins_per_unit: float) -> int:
    """Spins per slice thickness of a 2D slab: as given, else C_z + 1 (at least 16), capped."""
    if sampling.per_slice_thickness is not None:
        return sampling.per_slice_thickness
    needed = max(MIN_PER_SLICE_THICKNESS, math.ceil(demand.window[2]) + 1)
    allowed = max(MIN_PER_SLICE_THICKNESS, int(sampling.max_spins / spins_per_unit))
    if needed > allowed:
        _warn_capped(needed - 1, allowed - 1, "cycles per slice thickness", sampling.max_spins)
    return min(needed, allowed)


def _voxel_counts(sampling: SpinSampling, demand: SpoilingDemand, n_voxels: int):
    """Spins per voxel (z, y, x) and the voxel fraction (x, y, z) they span (module doc)."""
    if sampling.per_voxel is not None:
        return tuple(sampling.per_voxel), (1.0, 1.0, 1.0)
    axis = int(np.argmax(demand.per_interval))  # x, y, z
    if demand.window[axis] == 0:
        return (1, 1, 1), (1.0, 1.0, 1.0)
    period = max(float(demand.period[axis]), 1.0)  # cycles per voxel of the common lobe
    needed = math.ceil(demand.window[axis] / period) + 1
    allowed = max(1, sampling.max_spins // n_voxels)
    if needed > allowed:
        _warn_capped(needed - 1, allowed - 1, "lobes", sampling.max_spins)
    counts = [1, 1, 1]
    counts[axis] = min(needed, allowed)
    spans = [1.0, 1.0, 1.0]
    spans[axis] = 1.0 / period
    return (counts[2], counts[1], counts[0]), tuple(spans)


def _warn_capped(needed: float, resolved: float, unit: str, cap: int) -> None:
    warnings.warn(f"spin sampling: gradient spoiling needs {needed:.0f} {unit} resolved, max_spins={cap} allows "
                  f"{resolved:.0f}; configuration orders beyond that alias (raise max_spins for an exact result)",
                  stacklevel=3)


def _lorentz_pattern(sub: tuple[int, int, int]) -> np.ndarray:
    """Lorentzian quantiles tan(pi ((k + 1/2)/K - 1/2)) in a fixed shuffled order, shape ``sub``."""
    n = int(np.prod(sub))
    quantiles = np.tan(np.pi * ((np.arange(n) + 0.5) / n - 0.5))
    order = np.random.default_rng(_SHUFFLE_SEED).permutation(n)
    return quantiles[order].reshape(sub)


def _excited_slabs(timeline, slab_margin: float) -> list[tuple[float, float, float]]:
    """(low, high, thickness) in m of the z-slabs of slice-selective excitation/refocusing pulses."""
    slabs = set()
    for pulse in timeline.pulses:
        g = pulse.gradient
        if abs(g[2]) < 1e-3 or pulse.use in ("inversion", "saturation", "preparation"):
            continue
        centre = -pulse.freq_hz / g[2]
        thickness = pulse.shape.bandwidth_hz / abs(g[2])
        half = thickness * (0.5 + slab_margin)
        slabs.add((round(centre - half, 9), round(centre + half, 9), round(thickness, 9)))
    return sorted(slabs)


def _merged(slabs) -> list[list[float]]:
    """The union of the slabs as disjoint [low, high] intervals."""
    merged: list[list[float]] = []
    for low, high, _ in slabs:
        if merged and low <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], high)
        else:
            merged.append([low, high])
    return merged


def _slab_axis(slabs, per_thickness: int) -> tuple[np.ndarray, float]:
    """Spin positions along z covering the union of the slabs, one spacing for all."""
    spacing = min(s[2] for s in slabs) / per_thickness
    axis = [low + (np.arange(int(math.ceil((high - low) / spacing))) + 0.5) * spacing for low, high in _merged(slabs)]
    z = np.concatenate(axis)
    if z.size > 1 << 16:
        raise HarmoniqError(f"sequence: its slice-selective pulses span {z.size} spin planes along z "
                            "(slices far apart or very thin); lower per_slice_thickness or use a 3D phantom")
    return z, spacing
