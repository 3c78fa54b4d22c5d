"""pge2's timing and safety rules, checked on the timeline the GE interpreter plays.

Played timeline (``private/getsegmentinstance.m``): every segment instance starts with
``segment_dead_time`` (12 us) and ends with ``segment_ringdown_time`` (105 us), so a block starts
``12 us + 117 us x (instances before its own)`` later than in the file.

Rules and their sources (HarmonizedMRI/pge2 ``matlab/+pge2/``, HarmonizedMRI/SequenceExamples-GE
``pge2/``):

- guard intervals: RF occupies [start - 72 us, end + 56 us], ADC [start - 40 us, end + 0 us]
  (``opts.m``: rf_dead_time, rf_ringdown_time, adc_dead_time, adc_ringdown_time); the intervals of
  two RF/ADC events must not overlap (``docs/pge2-sequence-design-rules.md``, "RF/ADC dead- and
  ringdown-times"). The interpreter's ``psd_rf_wait``/``psd_grd_wait`` shift RF and ADC alike
  (equal in ``2DGRE/main.m``), so they leave the intervals' order unchanged and are not modelled.
- RF ringdown inside its segment: the last RF sample + ``psd_rf_wait`` + 56 us ends before the
  instance's last block ends (``private/getsegmentinstance.m`` asserts it; ``psd_rf_wait`` is
  scanner-specific, 100 us in ``2DGRE/main.m``).
- variable delays: a pure-delay block whose duration changes between instances needs a hardware
  WAIT pulse, so its start must not fall inside a guard interval (design rules, "Strict rule").
- peak B1: at most ``b1_max`` = 0.25 G (``opts.m`` asserts it is below 1 G and "typically this
  limit is 0.25 or a bit smaller"; ``2DGRE/main.m`` uses 0.25 G); ``private/checksegment.m``.
- safety window: the interpreter estimates gradient and RF power from the first 40,000 blocks; the
  rest of the sequence must not exceed that level (``pge2/README.md``, "Gradient and RF subsystem
  protection"). Checked as: the mean RF power and the mean squared gradient of every later run of
  40,000 blocks is at most that of the first 40,000 blocks.
- .pge fields: parent-block count, segment count and blocks per segment are written as int16
  (``serialize.m``), at most 32,767 each.
"""

from __future__ import annotations

import numpy as np

from harmoniq.constants import PYPULSEQ_GAMMA_HZ_PER_T
from harmoniq.scanners.report import Violation
from harmoniq.scanners.seqtables import SequenceTables, shape_samples

SEGMENT_DEAD_TIME_NS = 12_000  # pge2 opts.m: arg.segment_dead_time = 12e-6
SEGMENT_RINGDOWN_TIME_NS = 105_000  # pge2 opts.m: arg.segment_ringdown_time = 105e-6
RF_DEAD_NS, RF_RINGDOWN_NS = 72_000, 56_000  # pge2 opts.m: rf_dead_time, rf_ringdown_time
ADC_DEAD_NS, ADC_RINGDOWN_NS = 40_000, 0  # pge2 opts.m: adc_dead_time, adc_ringdown_time
PSD_RF_WAIT_NS = 100_000  # SequenceExamples-GE pge2/2DGRE/main.m: psd_rf_wait = 100e-6 (scanner-specific)
B1_MAX_T = 25e-6  # pge2 opts.m / SequenceExamples-GE pge2/2DGRE/main.m: b1_max = 0.25 G
SAFETY_WINDOW_BLOCKS = 40_000  # SequenceExamples-GE pge2/README.md: "the first 40,000 blocks"
INT16_MAX = 32_767  # pge2 serialize.m: fwrite(..., 'int16')
_DESIGN_RULES = "SequenceExamples-GE pge2/docs/pge2-sequence-design-rules.md"


def played_start_ns(tables: SequenceTables, starts: np.ndarray) -> np.ndarray:
    """Start of every block (ns) on the interpreter's timeline; ``starts``: instance-opening blocks."""
    before = np.searchsorted(starts, np.arange(len(tables.block_ids)), side="right")
    overhead = SEGMENT_DEAD_TIME_NS * before + SEGMENT_RINGDOWN_TIME_NS * np.maximum(before - 1, 0)
    return tables.start_ns + overhead


def _violation(rule: str, tables: SequenceTables, i: int, value, limit, text: str) -> Violation:
    block = int(tables.block_ids[i])
    return Violation(rule, block, float(tables.start_ns[i]) / 1e9, value, limit, f"block {block}: {text}")


class GuardIntervals:
    """The RF/ADC guard intervals of a file on the played timeline, sorted by start (ns)."""

    def __init__(self, tables: SequenceTables, played: np.ndarray):
        parts = []
        for ids, events, before, after in ((tables.rf, tables.rf_events, RF_DEAD_NS, RF_RINGDOWN_NS),
                                           (tables.adc, tables.adc_events, ADC_DEAD_NS, ADC_RINGDOWN_NS)):
            rows = np.flatnonzero(ids)
            start = played[rows] + tables.per_block(ids[rows], events, "delay_ns", 0) - before
            end = played[rows] + tables.per_block(ids[rows], events, "end_ns", 0) + after
            parts.append((start, end, rows))
        start, end, rows = (np.concatenate(x) for x in zip(*parts))
        order = np.lexsort((end, start))
        self.start, self.end, self.block = start[order], end[order], rows[order]
        self.reach = np.maximum.accumulate(self.end) if self.end.size else self.end
        # position of the interval that reaches furthest so far (the one a later start may hit)
        k = np.arange(self.end.size)
        self.owner = np.maximum.accumulate(np.where(self.end == self.reach, k, 0)) if k.size else k

    def covering(self, times: np.ndarray) -> np.ndarray:
        """Per time the position of an interval with start < time < end, or -1."""
        if not self.end.size:
            return np.full(len(times), -1)
        pos = np.searchsorted(self.start, times, side="left") - 1
        hit = (pos >= 0) & (self.reach[np.maximum(pos, 0)] > times)
        return np.where(hit, self.owner[np.maximum(pos, 0)], -1)


def guard_overlaps(tables: SequenceTables, guards: GuardIntervals) -> list[Violation]:
    """One violation per RF/ADC event whose guard interval starts inside an earlier one's."""
    if guards.start.size < 2:
        return []
    hit = np.flatnonzero(guards.start[1:] < guards.reach[:-1]) + 1
    out = []
    for k in hit:
        i, j = int(guards.block[k]), int(guards.block[guards.owner[k - 1]])
        overlap = float(guards.reach[k - 1] - guards.start[k]) / 1e9
        out.append(_violation(
            "ge_guard_overlap", tables, i, overlap, 0.0,
            f"its RF/ADC dead-time interval overlaps the RF/ADC ringdown interval of block "
            f"{int(tables.block_ids[j])} by {overlap * 1e6:.3g} us (RF 72/56 us, ADC 40/0 us: pge2 opts.m, "
            f"{_DESIGN_RULES})"))
    return out


def rf_ringdown_in_segment(tables: SequenceTables, starts: np.ndarray) -> list[Violation]:
    """RF end + psd_rf_wait + RF ringdown before the end of the RF's segment instance."""
    rows = np.flatnonzero(tables.rf)
    rows = rows[rows >= starts[0]] if len(starts) else rows[:0]
    if not rows.size:
        return []
    instance = np.searchsorted(starts, rows, side="right") - 1
    ends = np.append(starts[1:], len(tables.block_ids))[instance]
    end_ns = np.append(tables.start_ns, tables.start_ns[-1] + tables.duration_ns[-1])[ends]
    ringdown = (tables.start_ns[rows] + tables.per_block(tables.rf[rows], tables.rf_events, "end_ns", 0)
                + PSD_RF_WAIT_NS + RF_RINGDOWN_NS)
    return [_violation("ge_rf_ringdown_segment_end", tables, int(i), float(late) / 1e9, 0.0,
                       f"the RF ringdown (RF end + psd_rf_wait 100 us + 56 us) runs {late / 1e3:g} us past the end "
                       f"of its segment instance (pge2 private/getsegmentinstance.m, opts.m)")
            for i, late in zip(rows, ringdown - end_ns) if late >= 0]


def variable_delays(tables: SequenceTables, starts, ends, trids, played, guards: GuardIntervals,
                    pure_delay: np.ndarray) -> list[Violation]:
    """Pure-delay blocks whose duration changes between instances must start outside every guard
    interval (the interpreter plays them with a WAIT pulse)."""
    out = []
    for trid in np.unique(trids):
        rows = [(s, e) for s, e, t in zip(starts, ends, trids) if t == trid]
        size = rows[0][1] - rows[0][0]
        first = np.array([s for s, e in rows if e - s == size])
        for j in range(size):
            blocks = first + j
            if not pure_delay[blocks].all() or np.unique(tables.duration_ns[blocks]).size < 2:
                continue
            inside = guards.covering(played[blocks])
            for i, k in zip(blocks[inside >= 0], inside[inside >= 0]):
                other = int(tables.block_ids[guards.block[k]])
                out.append(_violation(
                    "ge_variable_delay", tables, int(i), None, None,
                    f"delay of variable duration (TRID {int(trid)}) starts inside the RF/ADC dead or ringdown "
                    f"interval of block {other}; GE plays it with a WAIT pulse that must not overlap them "
                    f"({_DESIGN_RULES})"))
    return out


def peak_b1(seq, tables: SequenceTables) -> list[Violation]:
    """RF peak amplitude (T) at most :data:`B1_MAX_T` (pge2 ``private/checksegment.m``)."""
    peak = {rid: float(d[0]) / PYPULSEQ_GAMMA_HZ_PER_T for rid, d in seq.rf_library.data.items()}
    bad = {rid for rid, b1 in peak.items() if b1 > B1_MAX_T * (1 + 1e-9)}
    return [_violation("ge_peak_b1", tables, int(i), peak[int(tables.rf[i])], B1_MAX_T,
                       f"RF peak {peak[int(tables.rf[i])] * 1e6:.4g} uT exceeds pge2's b1_max "
                       f"{B1_MAX_T * 1e6:g} uT (0.25 G; pge2 opts.m, private/checksegment.m)")
            for i in np.flatnonzero(np.isin(tables.rf, list(bad)))] if bad else []


def _rf_energy(seq) -> dict[int, float]:
    """Per RF event: integral of |B1|^2 over the pulse (T^2 s)."""
    raster = float(seq.rf_raster_time)
    out = {}
    for rid, d in seq.rf_library.data.items():
        mag = shape_samples(seq, int(d[1]))
        out[rid] = (float(d[0]) / PYPULSEQ_GAMMA_HZ_PER_T) ** 2 * float(np.sum(mag ** 2)) * raster
    return out


def _grad_energy(seq) -> dict[int, float]:
    """Per gradient event: integral of G^2 over the event ((T/m)^2 s); a trapezoid
    A^2 (flat + (rise + fall) / 3), a sampled shape sum(g^2) x raster."""
    raster = float(seq.grad_raster_time)
    out = {}
    for gid, d in seq.grad_library.data.items():
        amp2 = (float(d[0]) / PYPULSEQ_GAMMA_HZ_PER_T) ** 2
        if seq.grad_library.type[gid] == "t":
            out[gid] = amp2 * (float(d[2]) + (float(d[1]) + float(d[3])) / 3)
        else:
            out[gid] = amp2 * float(np.sum(shape_samples(seq, int(d[3])) ** 2)) * raster
    return out


def safety_window(seq, tables: SequenceTables, window: int = SAFETY_WINDOW_BLOCKS) -> list[Violation]:
    """Mean RF power and mean squared gradient of every run of ``window`` blocks at most those of
    the first run (the interpreter's estimate covers only the first 40,000 blocks)."""
    n = len(tables.block_ids)
    if n <= window:
        return []
    rf_e, g_e = _rf_energy(seq), _grad_energy(seq)
    energy = {"RF power": np.array([rf_e.get(int(r), 0.0) for r in tables.rf])}
    g = np.zeros(n)
    for axis in range(3):
        g += np.array([g_e.get(int(x), 0.0) for x in tables.grad[:, axis]])
    energy["gradient power"] = g
    time = np.concatenate(([0], np.cumsum(tables.duration_ns))) / 1e9
    out = []
    for what, e in energy.items():
        cum = np.concatenate(([0.0], np.cumsum(e)))
        power = (cum[window:] - cum[:-window]) / (time[window:] - time[:-window])
        over = np.flatnonzero(power[1:] > power[0] * (1 + 1e-6)) + 1
        if over.size:
            a = int(over[np.argmax(power[over])])
            ratio = float(power[a] / power[0]) if power[0] > 0 else float("inf")
            out.append(_violation(
                "ge_safety_window", tables, a + window - 1, ratio, 1.0,
                f"the {window} blocks ending here carry {ratio:.3g} x the mean {what} of the first {window} "
                f"blocks, the only ones GE's power estimate covers (SequenceExamples-GE pge2/README.md)"))
    return out


def pge_fields(tables: SequenceTables, n_parent_blocks: int, segments: dict[int, tuple[int, int]],
               first_block: int) -> list[Violation]:
    """Counts and ids the .pge file stores as int16 (``serialize.m``) within 32,767."""
    checks = [("parent blocks", n_parent_blocks), ("segments", len(segments))]
    checks += [(f"blocks in segment TRID {t}", e - s) for t, (s, e) in segments.items()]
    return [_violation("ge_pge_fields", tables, first_block, float(value), float(INT16_MAX),
                       f"{what} = {value} exceeds the .pge file's int16 field (at most {INT16_MAX}; pge2 serialize.m)")
            for what, value in checks if not 0 <= value <= INT16_MAX]
