"""How the GE interpreter (pge2) plays a .seq: segments, instance equality, played timing, k-space.

Sources (HarmonizedMRI/pge2, ``matlab/+pge2/``; HarmonizedMRI/SequenceExamples-GE ``pge2/``):

- A segment instance starts at every block with a TRID label and runs to the next one; the
  first instance of each TRID is the segment definition (``pge2/README.md``, PulSeg ``fromSeq.m``).
- Every instance is played with the block durations, gradient timings (rise, flat, fall, delay)
  and shapes of the segment's first instance; only gradient amplitudes, RF/ADC phases and
  frequencies and pure-delay durations change per instance (``private/getsegmentinstance.m``
  builds each instance from the parent blocks and the per-instance amplitudes of the loop;
  ``pge2/docs/pge2-sequence-design-rules.md`` names per-line gradient timing as discouraged).
- Each instance lasts ``segment_dead_time`` + its blocks + ``segment_ringdown_time``
  (``private/getsegmentinstance.m``: ``S.duration``) with 12 us and 105 us (``opts.m``).

The played area of a gradient is its own amplitude times the unit-amplitude area of the
first instance's event, so a readout's played k-space position differs from the file's by the
sum of (played - written) areas since the last excitation, sign-reversed at each refocusing.

Nerve stimulation per segment (``pns.m`` on the first instance's waveforms scaled per instance,
:mod:`harmoniq.scanners.ge_pns`) fails above 80 % (``private/checksegment.m``); the other rules
on the played timeline (guard intervals, variable delays, peak B1, the 40,000-block window, .pge
fields) are in :mod:`harmoniq.scanners.ge_rules`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
from pypulseq.supported_labels_rf_use import get_supported_rf_uses

from harmoniq.scanners import ge_rules, pns
from harmoniq.scanners.ge_pns import PnsPeak, segment_pns
from harmoniq.scanners.report import Violation
from harmoniq.scanners.seqtables import SequenceTables, shape_samples
from harmoniq.scanners.timeline import MeasuredTiming

SEGMENT_DEAD_TIME_S = ge_rules.SEGMENT_DEAD_TIME_NS / 1e9  # 12 us, pge2 opts.m
SEGMENT_RINGDOWN_TIME_S = ge_rules.SEGMENT_RINGDOWN_TIME_NS / 1e9  # 105 us, pge2 opts.m
RULE_SOURCE = "pge2 private/getsegmentinstance.m"
#: Largest played-vs-written k-space offset of a readout, in 1/FOV (issue 11 acceptance).
KSPACE_TOL_FOV = 0.01


@dataclass(frozen=True)
class Segment:
    """One segment (TRID): its blocks per instance, instance count, and the first instance's
    duration in the file and as played (with the interpreter's per-instance dead and ringdown times), s."""

    trid: int
    n_blocks: int
    n_instances: int
    duration_s: float
    played_duration_s: float


@dataclass
class Interpretation:
    """Result of playing a sequence as pge2 does.

    ``kspace_error_fov``: largest |played - written| k-space position of any ADC, per axis, in
    units of 1/FOV of that axis (FOV from [DEFINITIONS], 1 m where absent);
    ``tr_s``/``te_s``/``ti_s``: measured on the file's timeline, ``played_*`` on the timeline GE
    plays (12 us before and 105 us after every segment instance), s; TR is the median time from
    inversion to inversion (else excitation to excitation), TE/TI the distinct values.
    """

    segments: list[Segment]
    kspace_error_fov: float
    tr_s: float | None
    played_tr_s: float | None
    te_s: list[float] = field(default_factory=list)
    ti_s: list[float] = field(default_factory=list)
    played_te_s: list[float] = field(default_factory=list)
    played_ti_s: list[float] = field(default_factory=list)
    played_duration_s: float = 0.0
    #: peak stimulation (percent of threshold) per GE coil model of :data:`pns.COILS`, weights [1 1 1]
    pns_percent: dict[str, float] = field(default_factory=dict)
    violations: list[Violation] = field(default_factory=list)

    def to_dict(self) -> dict:
        out = asdict(self)
        out.pop("violations")
        return out


#: Shapes equal to this (unit-amplitude) precision are one shape; the .seq writes 6-9 digits.
SHAPE_TOL = 1e-6


def _shape_keys(seq) -> dict[int, bytes]:
    """Per shape id its decompressed samples rounded to :data:`SHAPE_TOL` (0 and -1: regular raster)."""
    keys = {0: b"", -1: b"half"}
    for sid in seq.shape_library.data:
        keys[sid] = np.round(shape_samples(seq, sid) / SHAPE_TOL).astype(np.int64).tobytes()
    return keys


def _timing_keys(seq) -> tuple[dict, dict, dict]:
    """Per library id the timing that must match inside a segment (amplitudes, phases excluded)."""
    shape = _shape_keys(seq)
    grad = {}
    for gid, data in seq.grad_library.data.items():
        if seq.grad_library.type[gid] == "t":
            grad[gid] = ("t",) + tuple(int(round(float(v) * 1e9)) for v in data[1:5])
        else:
            grad[gid] = ("g", shape[int(data[3])], shape[int(data[4])], int(round(float(data[5]) * 1e9)))
    rf = {rid: (shape[int(d[1])], shape[int(d[2])], shape[int(d[3])], int(round(float(d[5]) * 1e9)))
          for rid, d in seq.rf_library.data.items()}
    adc = {aid: (int(d[0]), int(round(float(d[1]) * 1e9)), int(round(float(d[2]) * 1e9)))
           for aid, d in seq.adc_library.data.items()}
    return grad, rf, adc


def _unit_areas(seq) -> dict[int, float]:
    """Area (s) of each gradient event at unit amplitude: trapezoid flat + (rise + fall) / 2;
    a sampled shape integrated over its sample times."""
    raster = float(seq.grad_raster_time)
    out = {}
    for gid, data in seq.grad_library.data.items():
        if seq.grad_library.type[gid] == "t":
            out[gid] = float(data[2]) + (float(data[1]) + float(data[3])) / 2
            continue
        wave = shape_samples(seq, int(data[3]))
        time_id = int(data[4])
        if time_id > 0:
            out[gid] = float(np.trapezoid(wave, shape_samples(seq, time_id) * raster))
        else:
            out[gid] = float(np.sum(wave) * raster)
    return out


def trid_starts(tables: SequenceTables) -> tuple[np.ndarray, np.ndarray]:
    """Block positions that open a segment instance and their TRID values."""
    trid_of_ext = {eid: int(op.value) for eid, ops in tables.labels.items() for op in ops if op.label == "TRID"}
    starts = [i for i, e in enumerate(tables.ext) if int(e) in trid_of_ext]
    return np.asarray(starts, dtype=np.int64), np.asarray([trid_of_ext[int(tables.ext[i])] for i in starts])


def _fov(seq) -> np.ndarray:
    fov = np.ones(3)
    given = np.atleast_1d(np.asarray(seq.definitions.get("FOV", []), dtype=np.float64))
    fov[: min(3, given.size)] = given[:3]
    return fov


def interpret(seq, tables: SequenceTables) -> Interpretation:
    """Play ``seq`` as pge2 does: segments, per-block instance violations, played timing and
    the largest played-vs-written k-space error of any readout."""
    n = len(tables.block_ids)
    starts, trids = trid_starts(tables)
    grad_key, rf_key, adc_key = _timing_keys(seq)
    unit = _unit_areas(seq)
    amp = {gid: float(d[0]) for gid, d in seq.grad_library.data.items()}
    rf_use = seq.rf_library.type
    fov = _fov(seq)
    ends = np.append(starts[1:], n)
    first: dict[int, tuple[int, int]] = {}
    counts: dict[int, int] = {}
    violations: list[Violation] = []
    worst, worst_block = 0.0, -1

    def timing_key(duration_ns: int, rf: int, gx: int, gy: int, gz: int, adc: int) -> tuple:
        g = (grad_key.get(gx), grad_key.get(gy), grad_key.get(gz))
        r, a = rf_key.get(rf), adc_key.get(adc)
        pure_delay = r is None and a is None and all(x is None for x in g)
        return ("delay",) if pure_delay else (duration_ns, r, g, a)

    # blocks with equal event ids share a key: one key per distinct row, one label per distinct key
    ids = np.column_stack((tables.duration_ns, tables.rf, tables.grad, tables.adc)).astype(np.int64)
    distinct, row_of_block = np.unique(ids, axis=0, return_inverse=True)
    keys = [timing_key(*row) for row in distinct.tolist()]
    label_of_key: dict[tuple, int] = {}
    key_labels = [label_of_key.setdefault(k, len(label_of_key)) for k in keys]
    row_of_block = row_of_block.reshape(-1).tolist()
    label = [key_labels[r] for r in row_of_block]

    def key(i: int) -> tuple:
        return keys[row_of_block[i]]

    adc_ids, rf_ids, grad_ids = tables.adc.tolist(), tables.rf.tolist(), tables.grad.tolist()

    def flag(i: int, trid: int, first_block: int, text: str) -> None:
        block = int(tables.block_ids[i])
        violations.append(Violation(
            "ge_segment_instance", block, float(tables.start_ns[i]) / 1e9, None, None,
            f"block {block} (TRID {trid}): {text} than in the segment's first instance (block {first_block}); "
            f"GE plays every instance with the first instance's timing ({RULE_SOURCE})"))

    for s, e, trid in zip(starts, ends, trids):
        trid = int(trid)
        counts[trid] = counts.get(trid, 0) + 1
        if trid not in first:
            first[trid] = (int(s), int(e))
            continue
        fs, fe = first[trid]
        if e - s != fe - fs:
            flag(int(s), trid, int(tables.block_ids[fs]), f"{e - s} blocks instead of {fe - fs}, other blocks")
            continue
        dk = np.zeros(3)
        for j in range(e - s):
            i, i0 = int(s + j), int(fs + j)
            if label[i] != label[i0]:
                k, k0 = key(i), key(i0)
                what = "other block duration" if k[0] != k0[0] else "other event timing or shape"
                flag(i, trid, int(tables.block_ids[i0]), what)
            if adc_ids[i]:
                off = float(np.max(np.abs(dk) * fov))
                if off > worst:
                    worst, worst_block = off, i
            use = rf_use.get(rf_ids[i]) if rf_ids[i] else None
            if use == "r":
                dk = -dk
            elif use is not None and use != "i":
                dk = np.zeros(3)
            for axis, g, g0 in zip(range(3), grad_ids[i], grad_ids[i0]):
                if g and g0:
                    dk[axis] += amp[g] * (unit[g0] - unit[g])
    if worst > KSPACE_TOL_FOV:
        block = int(tables.block_ids[worst_block])
        violations.append(Violation(
            "ge_played_kspace", block, float(tables.start_ns[worst_block]) / 1e9, worst, KSPACE_TOL_FOV,
            f"block {block}: the readout lands {worst:.3g}/FOV from the file's k-space position when played "
            f"with each segment's first-instance gradient timing ({RULE_SOURCE})"))
    peaks = {name: PnsPeak() for name in pns.COILS}
    for trid, (fs, fe) in first.items():
        rows = [int(s) for s, e, t in zip(starts, ends, trids) if int(t) == trid and e - s == fe - fs]
        for name, peak in segment_pns(seq, tables, fs, fe, rows, pns.COILS).items():
            if peak.percent > pns.NORMAL_MODE_PERCENT:
                block, first_block = int(tables.block_ids[peak.block]), int(tables.block_ids[peak.instance])
                violations.append(Violation(
                    "ge_pns", block, float(tables.start_ns[peak.block]) / 1e9, peak.percent,
                    pns.NORMAL_MODE_PERCENT,
                    f"block {block} (TRID {trid}, instance from block {first_block}): nerve stimulation "
                    f"{peak.percent:.1f} % of the {name.upper()} coil's threshold exceeds the "
                    f"{pns.NORMAL_MODE_PERCENT:g} % normal-mode limit (pge2 private/checksegment.m, pns.m)"))
            if peak.percent > peaks[name].percent:
                peaks[name] = peak
    played = ge_rules.played_start_ns(tables, starts)
    guards = ge_rules.GuardIntervals(tables, played)
    pure_delay = (tables.rf == 0) & (tables.adc == 0) & np.all(tables.grad == 0, axis=1)
    parents = {label[i] for s, e in first.values() for i in range(s, e) if not pure_delay[i]}
    violations += ge_rules.guard_overlaps(tables, guards)
    violations += ge_rules.rf_ringdown_in_segment(tables, starts)
    violations += ge_rules.variable_delays(tables, starts, ends, trids, played, guards, pure_delay)
    violations += ge_rules.peak_b1(seq, tables)
    violations += ge_rules.safety_window(seq, tables)
    violations += ge_rules.pge_fields(tables, len(parents), first, int(starts[0]) if len(starts) else 0)
    dead_ringdown = SEGMENT_DEAD_TIME_S + SEGMENT_RINGDOWN_TIME_S
    segments = []
    for trid, (s, e) in first.items():
        duration = float(np.sum(tables.duration_ns[s:e])) / 1e9
        segments.append(Segment(trid, e - s, counts[trid], duration, duration + dead_ringdown))
    total = float(np.sum(tables.duration_ns)) / 1e9 + dead_ringdown * len(starts)
    written, played_timing = (_timeline(seq, tables, t).summary() for t in (tables.start_ns, played))
    return Interpretation(
        segments=segments, kspace_error_fov=worst, tr_s=written["tr_s"], played_tr_s=played_timing["tr_s"],
        te_s=written["te_s"], ti_s=written["ti_s"], played_te_s=played_timing["te_s"],
        played_ti_s=played_timing["ti_s"], played_duration_s=total,
        pns_percent={name: peak.percent for name, peak in peaks.items()}, violations=violations,
    )


_RF_USE = {use[0]: use for use in get_supported_rf_uses()}  # the .seq stores a use's first letter


def _timeline(seq, tables: SequenceTables, start_ns: np.ndarray) -> MeasuredTiming:
    """RF centres (library ``center`` after the delay) and ADC centre samples (n//2 + 1/2 dwell
    after the delay) with blocks starting at ``start_ns``."""
    rows = np.flatnonzero(tables.rf)
    centre = {rid: float(d[5]) + float(d[4]) for rid, d in seq.rf_library.data.items()}
    rf_time = start_ns[rows] / 1e9 + np.array([centre[int(r)] for r in tables.rf[rows]])
    rf_use = [_RF_USE.get(seq.rf_library.type.get(int(r), "u"), "undefined") for r in tables.rf[rows]]
    rows = np.flatnonzero(tables.adc)
    adc = {aid: (e.delay_ns + (e.num_samples // 2 + 0.5) * e.dwell_ns) / 1e9 for aid, e in tables.adc_events.items()}
    adc_time = start_ns[rows] / 1e9 + np.array([adc[int(a)] for a in tables.adc[rows]])
    return MeasuredTiming(rf_time, rf_use, adc_time)
