"""Nerve stimulation of one GE segment over all its instances, as pge2 checks it.

pge2 (HarmonizedMRI/pge2 ``private/getsegmentinstance.m``) plays every instance of a segment
with the first instance's waveforms scaled by that instance's amplitudes, samples them on the
4 us grid at dead time + dt/2 + k dt and runs ``pns.m`` on each instance; ``checksegment.m``
stops above 80 %. The peak over instances is found here without playing every instance:

- Stimulation is linear in the waveform: events whose amplitude is the same in every instance
  form one fixed waveform, convolved once per axis; each event whose amplitude changes adds
  amplitude x its own response, evaluated only where such responses are non-zero.
- At each sample the channel-combined stimulation ``sqrt(sum_axis (b + A r)^2)`` is a convex
  function of the instance's amplitude vector A, so its maximum over the instances lies on a
  vertex of their convex hull: only instances on (or within rounding of) the hull are evaluated.
  Instances are ordered by their amplitude vectors (lexicographic), and the first one that
  reaches the maximum is a vertex too (an instance off the vertices is a convex combination of
  vertices that all reach it, the least of them no later in that order), so ties resolve as
  over all instances. Dropped directions (:data:`RANK_TOL`) and the boundary margin
  (:data:`BOUNDARY_TOL`) bound any difference to about 1e-12 of the peak.
- The result depends only on the sampled waveforms, the amplitudes and the coil, so it is kept
  by a digest of those: the same segment checked for a second GE profile is not recomputed.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass

import numpy as np
from scipy.spatial import ConvexHull, QhullError
from threadpoolctl import threadpool_limits

from harmoniq.constants import PYPULSEQ_GAMMA_HZ_PER_T
from harmoniq.scanners import ge_rules, pns
from harmoniq.scanners.seqtables import SequenceTables, shape_samples

SEGMENT_DEAD_TIME_S = ge_rules.SEGMENT_DEAD_TIME_NS / 1e9  # 12 us, pge2 opts.m
#: Instances whose amplitude vectors span more affine dimensions than this are all evaluated
#: (the hull's size grows quickly with the dimension).
MAX_HULL_DIM = 6
#: Relative singular value below which an amplitude direction counts as absent (float noise).
RANK_TOL = 1e-12
#: Instances within this fraction of the amplitude range of the hull boundary are kept (covers
#: the hull's own rounding, about 1e-15 of the range).
BOUNDARY_TOL = 1e-12
#: Samples (instances x grid points) evaluated at once.
CHUNK_SAMPLES = 1 << 18
#: Segments whose results are kept (each a few numbers per coil).
CACHE_SIZE = 256


@dataclass(frozen=True)
class PnsPeak:
    """Largest stimulation (percent) of one segment on one coil: where (block position) and in
    which instance (position of its first block)."""

    percent: float = 0.0
    block: int = -1
    instance: int = -1


def _corners(seq, gid: int) -> tuple[np.ndarray, np.ndarray]:
    """Block-relative corner times (s) and unit-amplitude values of gradient event ``gid``."""
    data = seq.grad_library.data[gid]
    if seq.grad_library.type[gid] == "t":
        rise, flat, fall, delay = (float(v) for v in data[1:5])
        return delay + np.array([0.0, rise, rise + flat, rise + flat + fall]), np.array([0.0, 1.0, 1.0, 0.0])
    raster = float(seq.grad_raster_time)
    values = shape_samples(seq, int(data[3]))
    time_id = int(data[4])
    times = shape_samples(seq, time_id) * raster if time_id > 0 else (np.arange(values.size) + 0.5) * raster
    return float(data[5]) + times, values


def hull_rows(points: np.ndarray) -> np.ndarray:
    """Ascending indices of the rows of ``points`` (n, m) on or within :data:`BOUNDARY_TOL` of the
    boundary of their convex hull; all rows where the hull cannot be formed (too many dimensions
    or too few points)."""
    every = np.arange(points.shape[0])
    centred = points - points.mean(axis=0)
    u, s, _ = np.linalg.svd(centred, full_matrices=False)
    rank = int(np.count_nonzero(s > RANK_TOL * s[0])) if s.size and s[0] > 0 else 0
    if rank == 0 or rank > MAX_HULL_DIM or points.shape[0] <= rank + 1:
        return every
    coords = u[:, :rank] * s[:rank]
    tol = BOUNDARY_TOL * float(np.max(np.abs(coords)))
    if rank == 1:
        x = coords[:, 0]
        return np.flatnonzero((x <= x.min() + tol) | (x >= x.max() - tol))
    try:
        hull = ConvexHull(coords)
    except QhullError:
        return every
    height = np.max(coords @ hull.equations[:, :-1].T + hull.equations[:, -1], axis=1)
    keep = height >= -tol
    keep[hull.vertices] = True
    return np.flatnonzero(keep)


@dataclass(frozen=True)
class _Waveforms:
    """A segment's first-instance gradient events on the 4 us grid of ``n`` samples: per event its
    axis and samples ``wave`` at grid[lo:hi] (unit amplitude), and the distinct per-instance
    amplitude rows (T/m, one column per event)."""

    n: int
    axis: np.ndarray
    spans: tuple[tuple[int, int, np.ndarray], ...]
    amp: np.ndarray

    def digest(self, coil: pns.Coil) -> bytes:
        h = hashlib.blake2b(digest_size=32)
        h.update(repr((self.n, coil, pns.GRAD_UPDATE_TIME_S, self.amp.shape)).encode())
        h.update(self.axis.tobytes())
        h.update(self.amp.tobytes())
        for lo, hi, wave in self.spans:
            h.update(np.array([lo, hi], dtype=np.int64).tobytes())
            h.update(wave.tobytes())
        return h.digest()


_CACHE: dict[bytes, tuple[float, int, int]] = {}
_CACHE_LOCK = threading.Lock()


def _cached_peak(w: _Waveforms, coil: pns.Coil) -> tuple[float, int, int]:
    """:func:`_peak` of ``w`` on ``coil``, computed once per distinct input."""
    key = w.digest(coil)
    with _CACHE_LOCK:
        hit = _CACHE.get(key)
    if hit is not None:
        return hit
    result = _peak(w, coil)
    with _CACHE_LOCK:
        if len(_CACHE) >= CACHE_SIZE:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[key] = result
    return result


def _peak(w: _Waveforms, coil: pns.Coil) -> tuple[float, int, int]:
    """(percent, grid sample, amplitude row) of the largest stimulation on ``coil``; grid sample
    -1 when the segment stimulates nowhere."""
    dt = pns.GRAD_UPDATE_TIME_S
    varies = np.ptp(w.amp, axis=0) > 0
    fixed = np.zeros((3, w.n))
    for (lo, hi, wave), a, scale, var in zip(w.spans, w.axis, w.amp[0], varies):
        if not var:
            fixed[a, lo:hi] += scale * wave
    tail = pns.impulse_response(coil, dt).size + 2
    base = pns.axis_response(fixed, coil, dt)
    local, responses = [], {}
    for e in np.flatnonzero(varies):
        lo, hi, wave = w.spans[e]
        hi_r = min(w.n, hi + tail)
        padded = np.zeros(hi_r - lo)
        padded[: hi - lo] = wave
        key = padded.tobytes()  # events of one shape at one grid offset share their response
        if key not in responses:
            responses[key] = pns.axis_response(padded, coil, dt)
        local.append((e, lo, hi_r, responses[key]))
    active = (np.unique(np.concatenate([np.arange(lo, hi) for _, lo, hi, _ in local]))
              if local else np.zeros(0, dtype=np.int64))
    quiet = np.ones(w.n, dtype=bool)
    quiet[active] = False
    fixed_total = pns.total(base)
    best = (0.0, -1, -1)
    if quiet.any():
        k = int(np.argmax(np.where(quiet, fixed_total, -1.0)))
        best = (float(fixed_total[k]), k, 0)
    if not local:
        return best
    response = np.zeros((len(local), active.size))
    for row, (_, lo, hi, r) in enumerate(local):
        response[row, np.searchsorted(active, lo):np.searchsorted(active, hi)] = r
    events = [e for e, *_ in local]
    with threadpool_limits(limits=1, user_api="blas"):  # small products: threads only wait on each other
        return _largest_over_instances(w.amp[:, events], w.axis[events], base, active, response, best)


def _largest_over_instances(var_amp: np.ndarray, var_axis: np.ndarray, base: np.ndarray, active: np.ndarray,
                            response: np.ndarray, best: tuple[float, int, int]) -> tuple[float, int, int]:
    """``best`` or a larger stimulation sqrt(sum_axis (base + amplitudes @ responses)^2) at the grid
    samples ``active``, over the amplitude rows ``var_amp`` (one column per changing event, on
    axis ``var_axis``) on their convex hull; ties keep the lowest row, then the first sample."""
    candidates = hull_rows(var_amp)
    var_amp = var_amp[candidates]
    step = max(1, CHUNK_SAMPLES // max(1, active.size))
    for c0 in range(0, candidates.size, step):
        per_axis = [base[a, active] + var_amp[c0:c0 + step, var_axis == a] @ response[var_axis == a]
                    if np.any(var_axis == a) else base[a, active] for a in range(3)]
        combined = pns.total(per_axis)
        r, k = np.unravel_index(int(np.argmax(combined)), combined.shape)
        if combined[r, k] > best[0]:
            best = (float(combined[r, k]), int(active[k]), int(candidates[c0 + r]))
    return best


def segment_pns(seq, tables: SequenceTables, fs: int, fe: int, rows: list[int],
                coils: dict[str, pns.Coil]) -> dict[str, PnsPeak]:
    """Peak stimulation per coil over the instances starting at ``rows`` of the segment whose
    first instance spans blocks [fs, fe): the first instance's waveforms on pge2's 4 us grid
    (``getsegmentinstance.m``: samples at dead time + dt/2 + k dt), scaled per instance."""
    dt = pns.GRAD_UPDATE_TIME_S
    tic = SEGMENT_DEAD_TIME_S + np.concatenate(([0.0], np.cumsum(tables.duration_ns[fs:fe]) / 1e9))
    grid = np.arange(SEGMENT_DEAD_TIME_S + dt / 2, tic[-1] + 1e-12, dt)
    events = [(j, axis) for j in range(fe - fs) for axis in range(3) if tables.grad[fs + j, axis]]
    peaks = {name: PnsPeak() for name in coils}
    if not events:
        return peaks
    amp = np.array([[seq.grad_library.data[int(tables.grad[r + j, a])][0] if tables.grad[r + j, a] else 0.0
                     for j, a in events] for r in rows]) / PYPULSEQ_GAMMA_HZ_PER_T  # T/m
    amp, first_row = np.unique(amp, axis=0, return_index=True)
    spans = []
    for j, a in events:
        times, values = _corners(seq, int(tables.grad[fs + j, a]))
        lo = max(0, int(np.searchsorted(grid, tic[j] + times[0])) - 1)
        hi = min(grid.size, int(np.searchsorted(grid, tic[j] + times[-1])) + 1)
        spans.append((lo, hi, np.interp(grid[lo:hi] - tic[j], times, values, left=0.0, right=0.0)))
    waveforms = _Waveforms(grid.size, np.array([a for _, a in events]), tuple(spans), amp)
    for name, coil in coils.items():
        percent, k, row = _cached_peak(waveforms, coil)
        if k >= 0:
            j = min(fe - fs - 1, int(np.searchsorted(tic, grid[k], side="right")) - 1)
            instance = rows[int(first_row[row])]
            peaks[name] = PnsPeak(percent, instance + j, instance)
    return peaks
