"""Reading a ``.pge`` file back, and checking it against a GE profile (layout:
:mod:`harmoniq.scanners.pge`)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from harmoniq.errors import HarmoniqError
from harmoniq.scanners.pge.model import (
    INT_LIMITS, COL_DURATION, COL_GRAD, COL_PARENT, COL_RF_AMP, COL_SEGMENT, COL_TRIGGER, DURATION_TOL_S, MARKER,
    ParentBlock, PgeADC, PgeFile, PgeGradient, PgeRF, PgeSegment,
)


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
        n = self.int("i32", what, 1, INT_LIMITS["i32"][1])
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
        n = r.int("i32", f"parent block {p} ADC samples", 1, INT_LIMITS["i32"][1])
        dwell, delay = r.f32(f"parent block {p} ADC timing", 2)
        adc = PgeADC(n, float(dwell), float(delay))
    if r.int("i16", f"parent block {p} trigger type", 0, 1):  # serialize.m:253-259
        r.take("i4", 1, f"parent block {p} trigger channel")
        r.f32(f"parent block {p} trigger timing", 2)
    return ParentBlock(p, duration, rf, grads, adc)


def _read_segment(r: _Reader, i: int, n_parents: int) -> PgeSegment:
    r.int("i16", f"segment {i} id", i, i)
    n = r.int("i16", f"segment {i} block count", 1, INT_LIMITS["i16"][1])
    ids = tuple(int(v) for v in r.take("i2", n, f"segment {i} parent block ids"))
    bad = [v for v in ids if not -1 <= v <= n_parents]
    if bad:
        raise HarmoniqError(f"{r.source}: .pge segment {i} names parent block {bad[0]}; valid: -1 to {n_parents}")
    energy_row = r.int("i32", f"segment {i} largest-energy row", 1, INT_LIMITS["i32"][1])
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
    n_parents = r.int("i16", "number of parent blocks", 0, INT_LIMITS["i16"][1])
    parents = tuple(_read_parent(r, p) for p in range(1, n_parents + 1))
    n_segments = r.int("i16", "number of segments", 1, INT_LIMITS["i16"][1])
    segments = tuple(_read_segment(r, i, n_parents) for i in range(1, n_segments + 1))
    rows = r.int("i32", "number of loop rows", 1, INT_LIMITS["i32"][1])
    columns = r.int("i16", "number of loop columns", COL_TRIGGER + 1, INT_LIMITS["i16"][1])
    loop = r.take("f4", rows * columns, "loop").reshape(rows, columns).astype(np.float32)
    if not np.all(np.isfinite(loop)):
        raise HarmoniqError(f"{source}: .pge loop holds values that are not finite; valid: finite numbers")
    _check_loop(loop, segments, parents, source)
    power, b1, grad, slew, duration = r.f32("safety header", 5)
    readouts = r.int("i32", "number of readouts", 0, rows)
    gain = r.int("i32", "readouts for the receive gain", 0, INT_LIMITS["i32"][1])
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
