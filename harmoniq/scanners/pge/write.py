"""Writing a ``.pge`` file from a ``.seq`` (layout and rules: :mod:`harmoniq.scanners.pge`)."""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from harmoniq.errors import HarmoniqError
from harmoniq.scanners.ge import trid_starts
from harmoniq.scanners.pge.model import (
    FLOAT32_MAX, IDENTITY_ROTATION, INT_LIMITS, COL_ADC_PHASE, COL_DURATION, COL_FREQ, COL_GRAD, COL_PARENT, COL_RF_AMP,
    COL_RF_PHASE, COL_SEGMENT, HEATING_WINDOW_BLOCKS, LOOP_COLUMNS, LOOP_NAMES, MARKER,
)
from harmoniq.scanners.seqtables import sequence_tables, shape_samples
from harmoniq.seqfile import DETECT_RF_USE, read_seq


class _Writer:
    """Little-endian fields with the format's limits checked (one HarmoniqError per field)."""

    def __init__(self, source: str):
        self.source, self.parts = source, []

    def int(self, kind: str, value, field: str) -> None:
        lo, hi = INT_LIMITS[kind]
        values = np.atleast_1d(np.asarray(value))
        if values.size and (values.min() < lo or values.max() > hi):
            bad = values[(values < lo) | (values > hi)][0]
            raise HarmoniqError(f"{self.source}: .pge field {field} = {bad} does not fit its {kind}; "
                                f"valid: {lo} to {hi} (pge2 serialize.m)")
        self.parts.append(values.astype("<i2" if kind == "i16" else "<i4").tobytes())

    def fits_f32(self, value, field: str) -> np.ndarray:
        """``value`` as float64, raising when a value is no finite float32."""
        values = np.atleast_1d(np.asarray(value, dtype=np.float64))
        bad = ~np.isfinite(values) | (np.abs(values) > FLOAT32_MAX)
        if bad.any():
            raise HarmoniqError(f"{self.source}: .pge field {field} = {values[bad][0]} is no float32; "
                                f"valid: finite, |x| <= {FLOAT32_MAX:.4g}")
        return values

    def f32(self, value, field: str) -> None:
        self.parts.append(self.fits_f32(value, field).astype("<f4").tobytes())

    def bytes(self) -> bytes:
        return b"".join(self.parts)


def _timing_codes(seq, tables) -> dict[str, np.ndarray]:
    """Per block and channel a code of the event's timing and shape (0: no event); equal codes
    play alike once the loop's amplitude is applied."""
    keys: dict[tuple, int] = {}

    def code(key) -> int:
        return keys.setdefault(key, len(keys) + 1)

    def lookup(table: dict[int, tuple]) -> np.ndarray:
        out = np.zeros(max(table, default=0) + 1, dtype=np.int64)
        for eid, key in table.items():
            out[eid] = code(key)
        return out

    def ns(*values) -> tuple:
        return tuple(int(round(float(v) * 1e9)) for v in values)

    # trapezoid: rise, flat, fall, delay; RF: magnitude, phase and time shapes, centre, delay;
    # ADC: samples, dwell, delay
    grad = {gid: ("trap", *ns(*d[1:5])) for gid, d in seq.grad_library.data.items()}
    rf = {rid: ("rf", int(d[1]), int(d[2]), int(d[3]), *ns(d[4], d[5])) for rid, d in seq.rf_library.data.items()}
    adc = {aid: ("adc", int(d[0]), *ns(d[1], d[2])) for aid, d in seq.adc_library.data.items()}
    g = lookup(grad)
    return {"rf": lookup(rf)[tables.rf], "gx": g[tables.grad[:, 0]], "gy": g[tables.grad[:, 1]],
            "gz": g[tables.grad[:, 2]], "adc": lookup(adc)[tables.adc]}


def _unsupported(seq, source: str) -> None:
    """Refuse what the .pge cannot carry: ppm offsets, ADC phase modulation, extensions
    other than labels (rotations, triggers)."""
    for rid, d in seq.rf_library.data.items():
        if float(d[6]) or float(d[7]):
            raise HarmoniqError(f"{source}: RF event {rid} has a ppm frequency/phase offset; the .pge loop "
                                "carries Hz and rad only (pulseg getdynamics.m): give offsets in Hz")
    for aid, d in seq.adc_library.data.items():
        if float(d[3]) or float(d[4]) or int(d[7]):
            raise HarmoniqError(f"{source}: ADC event {aid} has a ppm offset or phase modulation; the .pge "
                                "carries one ADC frequency (Hz) and phase (rad) per block")
    other = sorted(set(seq.extension_string_idx) - {"LABELSET", "LABELINC"})
    if other:
        raise HarmoniqError(f"{source}: extension(s) {', '.join(other)} are not written to .pge files; "
                            "valid: labels only")


def _segments(tables, source: str):
    """Segment of every instance, instance starts/lengths, and per segment its first start and
    block count (pulseg fromSeq.m: segments in increasing TRID)."""
    n = len(tables.block_ids)
    starts, trids = trid_starts(tables)
    if not starts.size or starts[0] != 0:
        raise HarmoniqError(f"{source}: block {tables.block_ids[0] if n else 1} carries no TRID label; "
                            "a .pge needs a TRID label on the first block of every segment instance (pge2)")
    lengths = np.diff(np.append(starts, n))
    unique, seg_of_instance = np.unique(trids, return_inverse=True)
    first = np.array([int(np.flatnonzero(seg_of_instance == i)[0]) for i in range(unique.size)])
    n_blocks = lengths[first]
    bad = np.flatnonzero(lengths != n_blocks[seg_of_instance])
    if bad.size:
        k = int(bad[0])
        raise HarmoniqError(
            f"{source}: block {tables.block_ids[starts[k]]} (TRID {trids[k]}) opens an instance of "
            f"{lengths[k]} blocks; the segment's first instance has {n_blocks[seg_of_instance[k]]} "
            "(pge2 needs equal blocks)")
    return starts, lengths, seg_of_instance, starts[first], n_blocks


def _per_id(library: dict, value) -> np.ndarray:
    """Lookup array (index: library id, 0 -> 0.0) of ``value(data)`` for every event of ``library``."""
    out = np.zeros(max(library, default=0) + 1)
    for eid, data in library.items():
        out[eid] = value(data)
    return out


@dataclass
class _Plan:
    """What the file holds, before encoding: parent-block rows, segments, loop, safety values."""

    parent_rows: list
    segment_blocks: list
    energy_rows: list
    loop: np.ndarray
    starts: np.ndarray
    lengths: np.ndarray
    max_slew: float


def _plan(seq, tables, source: str) -> _Plan:
    n = len(tables.block_ids)
    starts, lengths, seg_of_instance, first_start, n_blocks = _segments(tables, source)
    seg_row = np.repeat(seg_of_instance, lengths)
    def_row = first_start[seg_row] + np.arange(n) - np.repeat(starts, lengths)
    codes = _timing_codes(seq, tables)
    has_event = np.any(np.stack(list(codes.values())) > 0, axis=0)
    dur = tables.duration_ns
    # A block without events is a pure delay (parent 0), whatever it lasts: pulseg fromSeq.m as its
    # output shows (pge2 scanner/fov_prescription/gre2d.mat: 0 s and 20 us empty blocks are parent 0).
    pure = ~has_event
    differs = ~np.all(np.stack([codes[c] == codes[c][def_row] for c in codes]), axis=0)
    differs |= ~pure & (dur != dur[def_row])
    if differs.any():
        i = int(np.flatnonzero(differs)[0])
        raise HarmoniqError(
            f"{source}: block {tables.block_ids[i]} differs from block {tables.block_ids[def_row[i]]} of the segment's "
            "first instance in events, timing, shapes or duration; pge2 plays every instance with the first "
            "instance's (only amplitudes, phases and pure delays may change)")
    variable = np.zeros(n, dtype=bool)
    np.logical_or.at(variable, def_row, pure & (dur != dur[def_row]))
    keys: dict[tuple, int] = {}
    parent_rows, segment_blocks = [], []
    parent_of_row = np.zeros(n)
    for s, nb in zip(first_start, n_blocks):
        ids = []
        for r in range(int(s), int(s + nb)):
            if pure[r]:
                ids.append(-1 if variable[r] else 0)
                continue
            key = (int(dur[r]), *(int(codes[c][r]) for c in codes))
            if key not in keys:
                keys[key] = len(keys) + 1
                parent_rows.append(r)
            ids.append(keys[key])
        segment_blocks.append(ids)
        parent_of_row[s:s + nb] = ids
    loop = np.zeros((n, LOOP_COLUMNS))
    loop[:, COL_SEGMENT] = seg_row + 1
    loop[:, COL_PARENT] = parent_of_row[def_row]
    rf_lib, adc_lib, grad_lib = seq.rf_library.data, seq.adc_library.data, seq.grad_library.data
    rf_peak = _per_id(rf_lib, lambda d: abs(float(d[0])) * np.max(np.abs(shape_samples(seq, int(d[1])))))
    loop[:, COL_RF_AMP] = rf_peak[tables.rf]
    loop[:, COL_RF_PHASE] = _per_id(rf_lib, lambda d: float(d[9]))[tables.rf]
    rf_freq = _per_id(rf_lib, lambda d: float(d[8]))[tables.rf]
    loop[:, COL_FREQ] = np.where(tables.adc > 0, _per_id(adc_lib, lambda d: float(d[5]))[tables.adc], rf_freq)
    amp = _per_id(grad_lib, lambda d: float(d[0]))
    energy = _per_id(grad_lib, lambda d: float(d[0]) ** 2 * (float(d[1]) / 3 + float(d[2]) + float(d[3]) / 3))
    for axis, col in enumerate(COL_GRAD):
        loop[:, col] = amp[tables.grad[:, axis]]
        loop[:, col + 1] = energy[tables.grad[:, axis]]
    loop[:, COL_ADC_PHASE] = _per_id(adc_lib, lambda d: float(d[6]))[tables.adc]
    loop[:, COL_DURATION] = [seq.block_durations[int(b)] for b in tables.block_ids]
    loop[:, 14:] = IDENTITY_ROTATION
    per_instance = np.add.reduceat(loop[:, [6, 8, 10]].sum(axis=1), starts)
    energy_rows = []
    for i in range(len(first_start)):
        mine = np.flatnonzero(seg_of_instance == i)
        best = mine[int(np.argmax(per_instance[mine]))]
        energy_rows.append(int(starts[best]) + 1 if per_instance[best] > 0 else 1)  # fromSeq.m: default row 1
    used = np.unique(tables.grad[tables.grad > 0])
    max_slew = max((tables.grad_events[int(g)].peak_slew for g in used), default=0.0)
    return _Plan(parent_rows, segment_blocks, energy_rows, loop, starts, lengths, max_slew)


def _heating_rows(starts: np.ndarray, lengths: np.ndarray, n: int) -> int:
    """Rows of whole instances from the start within :data:`HEATING_WINDOW_BLOCKS` (serialize.m:96-106)."""
    row = 1
    for length in lengths:
        if row >= min(n, HEATING_WINDOW_BLOCKS):
            break
        row += int(length)
        if row > HEATING_WINDOW_BLOCKS:
            row -= int(length)
            break
    return row - 1


def _write_rf(w: _Writer, rf, p: int) -> None:
    if rf is None:
        w.int("i16", 0, f"parent block {p} RF type")
        return
    signal, t = np.asarray(rf.signal, dtype=np.complex128), np.asarray(rf.t, dtype=np.float64)
    tiny = 10 * np.finfo(np.float64).eps
    regular = t.size > 3 and bool(np.all(np.diff(t, 2) < tiny))  # serialize.m:163
    if t.size < 2 or (regular and t[0] <= tiny) or (not regular and abs(t[0]) >= tiny):
        raise HarmoniqError(f"{w.source}: parent block {p}: RF samples must be a regular raster from t > 0 or "
                            "corner points from t = 0, at least 2 (pge2 serialize.m)")
    magnitude = np.abs(signal) / np.max(np.abs(signal))
    w.int("i16", [1 if regular else 2, 1], f"parent block {p} RF type and complex flag")
    w.int("i32", t.size, f"parent block {p} RF samples")
    w.f32(t[1] - t[0], f"parent block {p} RF raster")
    if not regular:
        w.f32(t, f"parent block {p} RF times")
    w.f32(magnitude, f"parent block {p} RF magnitude")
    w.f32(np.angle(signal), f"parent block {p} RF phase")
    w.f32([rf.shape_dur, rf.delay, np.sum(magnitude[:-1] ** 2 * np.diff(t))], f"parent block {p} RF timing")


def _write_trapezoid(w: _Writer, g, p: int, axis: str) -> None:
    if g is None:
        w.int("i16", 0, f"parent block {p} gradient {axis} type")
        return
    w.int("i16", 1, f"parent block {p} gradient {axis} type")
    w.f32([g.delay, g.rise_time, g.flat_time, g.fall_time], f"parent block {p} gradient {axis} timing")


def _write_adc(w: _Writer, adc, p: int) -> None:
    if adc is None:
        w.int("i16", 0, f"parent block {p} ADC flag")
        return
    w.int("i16", 1, f"parent block {p} ADC flag")
    w.int("i32", adc.num_samples, f"parent block {p} ADC samples")
    w.f32([adc.dwell, adc.delay], f"parent block {p} ADC timing")


def write_pge(seq_or_path) -> bytes:
    """The ``.pge`` bytes of a ``.seq`` path or a pypulseq Sequence (module docstring: layout).

    Raises HarmoniqError (one line) when the sequence cannot be played as pge2 segments or a
    value does not fit its field.
    """
    source = str(seq_or_path) if isinstance(seq_or_path, (str, os.PathLike)) else "<in-memory sequence>"
    return _serialize(read_seq(seq_or_path), source)


def pge_bytes(seq_path: str | os.PathLike, source: str) -> bytes:
    """:func:`write_pge` of a ``.seq`` file harmoniq has just written (read without the text
    check); ``source`` names it in messages."""
    import pypulseq as pp

    seq = pp.Sequence()
    seq.read(str(seq_path), detect_rf_use=DETECT_RF_USE)
    return _serialize(seq, source)


def _serialize(seq, source: str) -> bytes:
    _unsupported(seq, source)
    arbitrary = sorted(gid for gid, kind in seq.grad_library.type.items() if kind != "t")
    if arbitrary:
        raise HarmoniqError(f"{source}: gradient event {arbitrary[0]} is an arbitrary gradient or extended "
                            "trapezoid; harmoniq writes .pge files of trapezoid gradients only")
    tables = sequence_tables(seq, 0.0)
    if not len(tables.block_ids):
        raise HarmoniqError(f"{source}: the sequence has no blocks; a .pge needs at least one segment")
    plan = _plan(seq, tables, source)
    w = _Writer(source)
    w.int("i16", MARKER, "marker")
    w.int("i16", len(plan.parent_rows), "number of parent blocks")
    for p, row in enumerate(plan.parent_rows, start=1):
        block = seq.get_block(int(tables.block_ids[row]))
        w.int("i32", p, "parent block id")
        w.f32(block.block_duration, f"parent block {p} duration")
        _write_rf(w, block.rf, p)
        for axis in "xyz":
            _write_trapezoid(w, getattr(block, f"g{axis}"), p, axis)
        _write_adc(w, block.adc, p)
        w.int("i16", 0, f"parent block {p} trigger type")  # serialize.m:144
    w.int("i16", len(plan.segment_blocks), "number of segments")
    for i, (ids, energy_row) in enumerate(zip(plan.segment_blocks, plan.energy_rows), start=1):
        w.int("i16", [i, len(ids)], f"segment {i} id and block count")
        w.int("i16", ids, f"segment {i} parent block ids")
        w.int("i32", energy_row, f"segment {i} largest-energy row")
        has_grad = any(p > 0 and tables.grad[plan.parent_rows[p - 1]].any() for p in ids)
        w.int("i16", int(has_grad), f"segment {i} gradient flag")
    n = plan.loop.shape[0]
    w.int("i32", n, "number of loop rows (blocks)")
    w.int("i16", LOOP_COLUMNS, "number of loop columns")
    for col, name in enumerate(LOOP_NAMES):  # name the column of a value that does not fit
        w.fits_f32(plan.loop[:, col], f"loop column {col + 1} ({name})")
    w.f32(plan.loop.ravel(), "loop")
    w.f32([1.0, plan.loop[:, COL_RF_AMP].max(), np.abs(plan.loop[:, COL_GRAD]).max(), plan.max_slew,
           plan.loop[:, COL_DURATION].sum()], "safety header")
    w.int("i32", [int(np.count_nonzero(tables.adc)), 1, _heating_rows(plan.starts, plan.lengths, n)],
          "readout counts and heating window")
    return w.bytes()
