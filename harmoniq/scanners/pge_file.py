"""GE's ``.pge`` file, the binary the pge2 interpreter plays: written from a ``.seq`` and read back.

Format: HarmonizedMRI/pge2 ``matlab/+pge2/serialize.m`` (commit 9832606, April 2026; line
numbers below), which serializes the PulSeg object of HarmonizedMRI/pulseg
``matlab/+pulseg/fromSeq.m`` (TRID -> segments -> parent blocks -> loop) with the loop
columns of ``private/getdynamics.m``. Written from those rules; no code is taken over.

Byte order: serialize.m:47 opens the file with ``fopen(fn, 'wb')``; ``b`` is the binary-mode
letter of the permission, so the machine format stays the native one (MATLAB/Octave ``fopen``
documentation), little-endian on every platform MATLAB runs on, whatever the line's comment
says. The int16 47 written first (serialize.m:49) lets a reader tell: we write little-endian
and read either order. Types: i16 = int16, i32 = int32, f32 = IEEE float32; units SI (s, Hz,
Hz/m, rad) as in the ``.seq``.

    i16 47                                                              (49)
    i16 parent blocks; per parent block p = 1, 2, ... (52-55, 124-147):
        i32 p; f32 block duration (s); RF; Gx; Gy; Gz; ADC; i16 trigger type (0: 144 forces it)
        RF (149-186, 286-322): i16 0 none | 1 regular raster | 2 corner points; unless 0:
            i16 1 (complex); i32 n; f32 raster t[1]-t[0] (s); [2 only: f32 t[n] (s)];
            f32 |signal|/max|signal| [n]; f32 angle(signal) [n] (rad); f32 shape duration (s);
            f32 delay (s); f32 energy sum(mag[:-1]^2 diff(t)) (s)
        gradient (189-238): i16 0 none | 1 trapezoid | 2 regular raster | 3 corner points;
            1: f32 delay, rise, flat, fall (s);  2: f32 delay; i32 n; f32 raster; f32 w/max|w| [n];
            3: f32 delay; i32 n; f32 0; f32 t[n] (s); f32 w/max|w| [n]
        ADC (240-251): i16 0 | 1; 1: i32 samples; f32 dwell (s); f32 delay (s)
    i16 segments; per segment (262-284): i16 id (1, 2, ... in increasing TRID); i16 blocks;
        i16 parent block per block (0: constant pure delay, -1: variable pure delay);
        i32 first row (1-based) of the instance with the largest gradient energy; i16 has gradients
    i32 rows (= blocks); i16 columns (23); f32 loop[rows][columns], row-major  (64-68)
    f32 1 (RF power, unused); f32 max B1 (Hz); f32 max gradient (Hz/m); f32 max slew (Hz/m/s);
    f32 duration (s); i32 readouts; i32 readouts that set the receive gain (1);
    i32 rows in the gradient-heating window of at most 40,000 blocks             (86-107)

Loop columns (getdynamics.m), 1-based: 1 segment, 2 parent block, 3 RF amplitude (Hz),
4 RF phase (rad), 5 frequency offset (Hz; the ADC's in a block with an ADC), 6/8/10 gradient
x/y/z amplitude (Hz/m), 7/9/11 gradient energy ((Hz/m)^2 s: A^2 (rise/3 + flat + fall/3) for a
trapezoid), 12 ADC phase (rad), 13 block duration (s), 14 physiological trigger, 15-23
rotation matrix (row-major; identity: harmoniq writes no rotations). Played waveform of a block
= its parent block's normalized shape x the row's amplitude (pge2 ``getsegmentinstance.m``).

Segments (fromSeq.m): an instance starts at each TRID label; segment ids follow increasing
TRID; a block without RF, gradient or ADC events is a pure delay (0; -1 where its duration
changes between instances), other blocks become parent blocks in order of first appearance.
Checked against pulseg's own output for pge2's 2D GRE example (``tests/ge/test_pge_file.py``).

Where harmoniq departs from the MATLAB path, on purpose: every instance's events must have the
timing and shapes of the segment's first instance (else pge2 plays other gradients than the
file's, issue 11); parent blocks are shared only by blocks with equal timing and shapes; a
segment's "largest energy" row sums the three gradient energies (columns 7, 9, 11) as
serialize.m:267 documents (fromSeq.m sums columns 11-13: z energy, ADC phase, duration). The
max slew is the largest slew of the piecewise-linear waveforms; pge2.check samples them every
4 us, which gives the same value for trapezoid ramps of 8 us or longer. Only trapezoid
gradients are written (all harmoniq builds); the reader decodes every gradient type.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from harmoniq.errors import HarmoniqError
from harmoniq.scanners.ge import _shape, _trid_starts
from harmoniq.scanners.seqtables import sequence_tables
from harmoniq.seqfile import DETECT_RF_USE, read_seq

MARKER = 47  # serialize.m:49
LOOP_COLUMNS = 23  # getdynamics.m: 14 values + a 3x3 rotation
HEATING_WINDOW_BLOCKS = 40_000  # serialize.m:26 NMAXBLOCKSFORGRADHEATCHECK
DURATION_TOL_S = 1e-7  # pge2 check.m: timing tolerance, the interpreter's eps
_LIMITS = {"i16": (-(2**15), 2**15 - 1), "i32": (-(2**31), 2**31 - 1)}
_F32_MAX = float(np.finfo(np.float32).max)
_IDENTITY = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0)
COL_SEGMENT, COL_PARENT, COL_RF_AMP, COL_RF_PHASE, COL_FREQ = 0, 1, 2, 3, 4
COL_GRAD = [5, 7, 9]  # amplitudes; energies follow each
COL_ADC_PHASE, COL_DURATION, COL_TRIGGER = 11, 12, 13
LOOP_NAMES = ("segment", "parent block", "RF amplitude", "RF phase", "frequency offset", "gradient x",
              "gradient x energy", "gradient y", "gradient y energy", "gradient z", "gradient z energy",
              "ADC phase", "block duration", "trigger", *(f"rotation {k}" for k in range(1, 10)))


# --- the decoded file -------------------------------------------------------------------


@dataclass(frozen=True)
class PgeRF:
    """RF shape of a parent block: ``kind`` 1 (regular raster) or 2 (corner points),
    ``raster_s``, ``times_s`` (corner points only, else empty), ``magnitude`` (max 1) and
    ``phase`` (rad) per sample, ``shape_duration_s``, ``delay_s``, ``energy_s``."""

    kind: int
    raster_s: float
    times_s: np.ndarray
    magnitude: np.ndarray
    phase: np.ndarray
    shape_duration_s: float
    delay_s: float
    energy_s: float


@dataclass(frozen=True)
class PgeGradient:
    """Gradient shape of a parent block on one axis: ``kind`` 1 trapezoid (``rise_s``,
    ``flat_s``, ``fall_s``), 2 regular raster (``raster_s``) or 3 corner points (``times_s``);
    ``waveform`` normalized to max |w| = 1 (kinds 2 and 3); ``delay_s``."""

    kind: int
    delay_s: float
    rise_s: float = 0.0
    flat_s: float = 0.0
    fall_s: float = 0.0
    raster_s: float = 0.0
    times_s: np.ndarray = field(default_factory=lambda: np.zeros(0))
    waveform: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def corners(self) -> tuple[np.ndarray, np.ndarray]:
        """Block-relative times (s) and unit-amplitude values of the played waveform."""
        if self.kind == 1:
            t = np.cumsum([0.0, self.rise_s, self.flat_s, self.fall_s]) + self.delay_s
            return t, np.array([0.0, 1.0, 1.0, 0.0])
        if self.kind == 2:
            return self.delay_s + (np.arange(self.waveform.size) + 0.5) * self.raster_s, self.waveform
        return self.delay_s + self.times_s, self.waveform


@dataclass(frozen=True)
class PgeADC:
    """ADC window of a parent block: samples, dwell (s), delay (s)."""

    num_samples: int
    dwell_s: float
    delay_s: float


@dataclass(frozen=True)
class ParentBlock:
    """One parent block: ``id`` (1-based), ``duration_s``, events (None where absent);
    ``grads`` is (x, y, z)."""

    id: int
    duration_s: float
    rf: PgeRF | None
    grads: tuple
    adc: PgeADC | None


@dataclass(frozen=True)
class PgeSegment:
    """One segment definition: ``id``, the parent block of each block (0: constant delay,
    -1: variable delay), the 1-based loop row of its largest-energy instance, and whether it
    plays any gradient."""

    id: int
    block_ids: tuple
    energy_row: int
    has_gradients: bool


@dataclass(frozen=True)
class PgeFile:
    """A decoded ``.pge`` file. ``loop`` is (rows, columns) float32, one row per block (see
    the module docstring for the columns); ``byte_order`` is '<' or '>'."""

    byte_order: str
    parent_blocks: tuple
    segments: tuple
    loop: np.ndarray
    max_rf_power: float
    max_b1_hz: float
    max_grad_hz_per_m: float
    max_slew_hz_per_m_per_s: float
    duration_s: float
    n_readouts: int
    n_gain_readouts: int
    n_heating_rows: int

    def instances(self) -> list[tuple[int, int]]:
        """(segment id, first row from 0) of every segment instance, in playing order."""
        out, row = [], 0
        while row < self.loop.shape[0]:
            seg = self.segments[int(self.loop[row, COL_SEGMENT]) - 1]
            out.append((seg.id, row))
            row += len(seg.block_ids)
        return out

    def played_gradient(self, row: int, axis: int) -> tuple[np.ndarray, np.ndarray]:
        """Block-relative corner times (s) and values (Hz/m) the interpreter plays on ``axis``
        (0, 1, 2) in loop row ``row`` (from 0): parent shape x the row's amplitude; empty if none."""
        parent = int(self.loop[row, COL_PARENT])
        grad = self.parent_blocks[parent - 1].grads[axis] if parent > 0 else None
        if grad is None:
            return np.zeros(0), np.zeros(0)
        t, w = grad.corners()
        return t, w * float(self.loop[row, COL_GRAD[axis]])

    def summary(self) -> dict:
        """Counts and safety values for reports (SI units)."""
        counts: dict[int, int] = {}
        for seg_id, _ in self.instances():
            counts[seg_id] = counts.get(seg_id, 0) + 1
        return {
            "parent_blocks": len(self.parent_blocks),
            "segments": [{"id": s.id, "blocks": len(s.block_ids), "instances": counts.get(s.id, 0)}
                         for s in self.segments],
            "rows": int(self.loop.shape[0]),
            "max_b1_hz": self.max_b1_hz, "max_grad_hz_per_m": self.max_grad_hz_per_m,
            "max_slew_hz_per_m_per_s": self.max_slew_hz_per_m_per_s, "duration_s": self.duration_s,
            "readouts": self.n_readouts, "heating_window_rows": self.n_heating_rows,
        }


# --- writing ----------------------------------------------------------------------------


class _Writer:
    """Little-endian fields with the format's limits checked (one HarmoniqError per field)."""

    def __init__(self, source: str):
        self.source, self.parts = source, []

    def int(self, kind: str, value, field: str) -> None:
        lo, hi = _LIMITS[kind]
        values = np.atleast_1d(np.asarray(value))
        if values.size and (values.min() < lo or values.max() > hi):
            bad = values[(values < lo) | (values > hi)][0]
            raise HarmoniqError(f"{self.source}: .pge field {field} = {bad} does not fit its {kind}; "
                                f"valid: {lo} to {hi} (pge2 serialize.m)")
        self.parts.append(values.astype("<i2" if kind == "i16" else "<i4").tobytes())

    def fits_f32(self, value, field: str) -> np.ndarray:
        """``value`` as float64, raising when a value is no finite float32."""
        values = np.atleast_1d(np.asarray(value, dtype=np.float64))
        bad = ~np.isfinite(values) | (np.abs(values) > _F32_MAX)
        if bad.any():
            raise HarmoniqError(f"{self.source}: .pge field {field} = {values[bad][0]} is no float32; "
                                f"valid: finite, |x| <= {_F32_MAX:.4g}")
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
    starts, trids = _trid_starts(tables)
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
    rf_peak = _per_id(rf_lib, lambda d: abs(float(d[0])) * np.max(np.abs(_shape(seq, int(d[1])))))
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
    loop[:, 14:] = _IDENTITY
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


# --- reading ----------------------------------------------------------------------------


class _Reader:
    """Fields of one byte order, each read checked against the bytes left and its valid range."""

    def __init__(self, data: bytes, source: str, order: str):
        self.data, self.source, self.order, self.pos = data, source, order, 0

    def take(self, code: str, count: int, what: str) -> np.ndarray:
        dtype = np.dtype(self.order + code)
        size = dtype.itemsize * count
        if self.pos + size > len(self.data):
            raise HarmoniqError(f"{self.source}: truncated .pge: {what} needs {size} bytes at byte {self.pos}, "
                                f"{len(self.data) - self.pos} left; write the file again")
        out = np.frombuffer(self.data, dtype=dtype, count=count, offset=self.pos)
        self.pos += size
        return out

    def f32(self, what: str, count: int = 1):
        out = self.take("f4", count, what).astype(np.float64)
        if not np.all(np.isfinite(out)):
            raise HarmoniqError(f"{self.source}: .pge field {what} at byte {self.pos} is not finite; "
                                "valid: finite numbers")
        return float(out[0]) if count == 1 else out

    def int(self, kind: str, what: str, lo: int, hi: int) -> int:
        value = int(self.take("i2" if kind == "i16" else "i4", 1, what)[0])
        if not lo <= value <= hi:
            raise HarmoniqError(f"{self.source}: .pge field {what} = {value} at byte {self.pos}; valid: {lo} to {hi}")
        return value

    def samples(self, what: str) -> int:
        """A sample count, no larger than the float32 values left could hold."""
        n = self.int("i32", what, 1, _LIMITS["i32"][1])
        if 4 * n > len(self.data) - self.pos:
            raise HarmoniqError(f"{self.source}: truncated .pge: {what} = {n} needs {4 * n} bytes at byte {self.pos}, "
                                f"{len(self.data) - self.pos} left; write the file again")
        return n


def _read_rf(r: _Reader, p: int) -> PgeRF | None:
    kind = r.int("i16", f"parent block {p} RF type", 0, 2)
    if kind == 0:
        return None
    complex_flag = r.int("i16", f"parent block {p} RF complex flag", 0, 1)
    n = r.samples(f"parent block {p} RF samples")
    raster = r.f32(f"parent block {p} RF raster")
    times = np.atleast_1d(r.f32(f"parent block {p} RF times", n)) if kind == 2 else np.zeros(0)
    magnitude = np.atleast_1d(r.f32(f"parent block {p} RF magnitude", n))
    phase = np.atleast_1d(r.f32(f"parent block {p} RF phase", n)) if complex_flag else np.zeros(n)
    shape_duration, delay, energy = r.f32(f"parent block {p} RF timing", 3)
    return PgeRF(kind, raster, times, magnitude, phase, float(shape_duration), float(delay), float(energy))


def _read_gradient(r: _Reader, p: int, axis: str) -> PgeGradient | None:
    what = f"parent block {p} gradient {axis}"
    kind = r.int("i16", f"{what} type", 0, 3)
    if kind == 0:
        return None
    if kind == 1:
        delay, rise, flat, fall = r.f32(f"{what} timing", 4)
        return PgeGradient(1, float(delay), rise_s=float(rise), flat_s=float(flat), fall_s=float(fall))
    delay = r.f32(f"{what} delay")
    n = r.samples(f"{what} samples")
    raster = r.f32(f"{what} raster")
    times = np.atleast_1d(r.f32(f"{what} times", n)) if kind == 3 else np.zeros(0)
    waveform = np.atleast_1d(r.f32(f"{what} waveform", n))
    return PgeGradient(kind, delay, raster_s=raster, times_s=times, waveform=waveform)


def _read_parent(r: _Reader, p: int) -> ParentBlock:
    r.int("i32", f"parent block {p} id", p, p)
    duration = r.f32(f"parent block {p} duration")
    rf = _read_rf(r, p)
    grads = tuple(_read_gradient(r, p, axis) for axis in "xyz")
    adc = None
    if r.int("i16", f"parent block {p} ADC flag", 0, 1):
        n = r.int("i32", f"parent block {p} ADC samples", 1, _LIMITS["i32"][1])
        dwell, delay = r.f32(f"parent block {p} ADC timing", 2)
        adc = PgeADC(n, float(dwell), float(delay))
    if r.int("i16", f"parent block {p} trigger type", 0, 1):  # serialize.m:253-259
        r.take("i4", 1, f"parent block {p} trigger channel")
        r.f32(f"parent block {p} trigger timing", 2)
    return ParentBlock(p, duration, rf, grads, adc)


def _read_segment(r: _Reader, i: int, n_parents: int) -> PgeSegment:
    r.int("i16", f"segment {i} id", i, i)
    n = r.int("i16", f"segment {i} block count", 1, _LIMITS["i16"][1])
    ids = tuple(int(v) for v in r.take("i2", n, f"segment {i} parent block ids"))
    bad = [v for v in ids if not -1 <= v <= n_parents]
    if bad:
        raise HarmoniqError(f"{r.source}: .pge segment {i} names parent block {bad[0]}; valid: -1 to {n_parents}")
    energy_row = r.int("i32", f"segment {i} largest-energy row", 1, _LIMITS["i32"][1])
    has_gradients = bool(r.int("i16", f"segment {i} gradient flag", 0, 1))
    return PgeSegment(i, ids, energy_row, has_gradients)


def _check_loop(loop: np.ndarray, segments: tuple, parents_of: tuple, source: str) -> None:
    """Every instance names a segment and, block by block, that segment's parent blocks, with
    their durations (pure delays excepted)."""
    row, n = 0, loop.shape[0]
    while row < n:
        seg_id = loop[row, COL_SEGMENT]
        if seg_id != int(seg_id) or not 1 <= seg_id <= len(segments):
            raise HarmoniqError(f"{source}: .pge loop row {row + 1} names segment {seg_id:g}; "
                                f"valid: 1 to {len(segments)}")
        ids = segments[int(seg_id) - 1].block_ids
        rows = loop[row:row + len(ids)]
        if rows.shape[0] < len(ids) or np.any(rows[:, COL_PARENT] != ids) or np.any(rows[:, COL_SEGMENT] != seg_id):
            raise HarmoniqError(f"{source}: .pge loop rows {row + 1}-{row + len(ids)} do not follow segment "
                                f"{int(seg_id)}'s definition (parent blocks {list(ids)})")
        parents = np.asarray(ids) > 0
        durations = np.array([parents_of[p - 1].duration_s for p in np.asarray(ids)[parents]])
        off = np.flatnonzero(np.abs(rows[parents, COL_DURATION] - durations) > DURATION_TOL_S)
        if off.size:
            raise HarmoniqError(f"{source}: .pge loop row {row + int(np.flatnonzero(parents)[off[0]]) + 1} lasts "
                                f"{rows[parents, COL_DURATION][off[0]]:.7g} s, its parent block "
                                f"{durations[off[0]]:.7g} s; "
                                "only pure delays may change duration")
        row += len(ids)


def decode_pge(data: bytes, source: str = "<.pge bytes>") -> PgeFile:
    """Decode ``.pge`` bytes (either byte order); HarmoniqError (one line) if they are not one."""
    if len(data) < 2:
        raise HarmoniqError(f"{source}: truncated .pge: {len(data)} bytes; a .pge starts with the int16 {MARKER}")
    order = next((o for o in "<>" if int(np.frombuffer(data, o + "i2", 1)[0]) == MARKER), None)
    if order is None:
        raise HarmoniqError(f"{source}: not a .pge file: it starts with bytes {data[:2].hex()}, a .pge with the "
                            f"int16 {MARKER} (pge2 serialize.m)")
    r = _Reader(data, source, order)
    r.pos = 2
    n_parents = r.int("i16", "number of parent blocks", 0, _LIMITS["i16"][1])
    parents = tuple(_read_parent(r, p) for p in range(1, n_parents + 1))
    n_segments = r.int("i16", "number of segments", 1, _LIMITS["i16"][1])
    segments = tuple(_read_segment(r, i, n_parents) for i in range(1, n_segments + 1))
    rows = r.int("i32", "number of loop rows", 1, _LIMITS["i32"][1])
    columns = r.int("i16", "number of loop columns", COL_TRIGGER + 1, _LIMITS["i16"][1])
    loop = r.take("f4", rows * columns, "loop").reshape(rows, columns).astype(np.float32)
    if not np.all(np.isfinite(loop)):
        raise HarmoniqError(f"{source}: .pge loop holds values that are not finite; valid: finite numbers")
    _check_loop(loop, segments, parents, source)
    power, b1, grad, slew, duration = r.f32("safety header", 5)
    readouts = r.int("i32", "number of readouts", 0, rows)
    gain = r.int("i32", "readouts for the receive gain", 0, _LIMITS["i32"][1])
    heating = r.int("i32", "rows of the heating window", 0, rows)
    peaks = (float(loop[:, COL_RF_AMP].max()), float(np.abs(loop[:, COL_GRAD]).max()))
    if (b1, grad) != peaks:  # serialize.m:71-88 writes the loop's peaks
        raise HarmoniqError(f"{source}: .pge header max B1 {b1:g} Hz / gradient {grad:g} Hz/m differ from the loop's "
                            f"peaks {peaks[0]:g} Hz / {peaks[1]:g} Hz/m; the file is damaged")
    if r.pos != len(data):
        raise HarmoniqError(f"{source}: {len(data) - r.pos} bytes after the end of the .pge (byte {r.pos}); "
                            "the file is damaged or not a .pge")
    return PgeFile(order, parents, segments, loop, float(power), float(b1), float(grad), float(slew),
                   float(duration), readouts, gain, heating)


def read_pge(path: str | os.PathLike) -> PgeFile:
    """Decode the ``.pge`` file at ``path`` (see :func:`decode_pge`)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise HarmoniqError(f"{path}: cannot read the .pge file ({exc.strerror or exc}); "
                            "give an existing file") from exc
    return decode_pge(data, str(path))


def check_pge(pge: PgeFile, profile) -> list[str]:
    """What in ``pge`` exceeds the GE ``profile`` (a :class:`~harmoniq.scanners.ScannerProfile`):
    the header's peak gradient (T/m) and slew (T/m/s) against the profile's, within
    :data:`harmoniq.scanners.check.REL_TOL`. One line per violation; empty when it passes."""
    from harmoniq.constants import PYPULSEQ_GAMMA_HZ_PER_T
    from harmoniq.scanners.check import REL_TOL

    if profile.vendor != "GE":
        raise HarmoniqError(f"profile {profile.name}: a .pge file plays on GE scanners only; give a GE profile")
    limits = profile.limits
    out = []
    for what, value, limit, unit, scale in (
        ("peak gradient", pge.max_grad_hz_per_m / PYPULSEQ_GAMMA_HZ_PER_T, limits.max_grad, "mT/m", 1e3),
        ("peak slew", pge.max_slew_hz_per_m_per_s / PYPULSEQ_GAMMA_HZ_PER_T, limits.max_slew, "T/m/s", 1.0),
    ):
        if value > limit * (1 + REL_TOL):
            out.append(f"{what} {value * scale:.6g} {unit} exceeds {profile.name}'s {limit * scale:.6g} {unit}")
    return out
