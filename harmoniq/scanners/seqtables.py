"""Flat tables of a pypulseq Sequence: one row per block, one record per distinct event.

Every event in the sequence's libraries is decoded once (shapes decompressed once per
event), block timing becomes integer nanoseconds (``round(t * 1e9)``) so raster tests are
exact, and per-block quantities are gathered with NumPy indexing. This is what makes a
check of ~20,000 blocks take well under a second, where decoding every block with
``Sequence.get_block`` would take many seconds. Gradient amplitudes are in Hz/m (the
unit of the .seq file), times in ns.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pypulseq.decompress_shape import decompress_shape
from pypulseq.supported_labels_rf_use import get_supported_labels

from harmoniq.seqfile import block_table


@dataclass(frozen=True)
class RFEvent:
    """One RF library event: block-relative delay and end (ns), the sample times of an
    explicitly timed shape (block-relative ns; empty for a regularly sampled shape),
    frequency offset (Hz) and its field-proportional part (ppm)."""

    delay_ns: int
    end_ns: int
    sample_times_ns: np.ndarray
    freq_offset_hz: float
    freq_ppm: float


@dataclass(frozen=True)
class ADCEvent:
    """One ADC library event: delay, dwell and end of sampling (ns), samples, offsets."""

    delay_ns: int
    dwell_ns: int
    num_samples: int
    end_ns: int
    freq_offset_hz: float
    freq_ppm: float


@dataclass(frozen=True)
class GradEvent:
    """One gradient library event on one axis.

    raster_times_ns: block-relative times that must lie on the gradient raster (trapezoid
    corners, extended-trapezoid points, start and end of a regularly sampled waveform);
    peak (Hz/m) and peak_slew (Hz/m/s) of the piecewise-linear waveform; start_ns/end_ns:
    block-relative start and end of the event; first/last: the values there (Hz/m);
    busy_end_ns: block-relative time after which the waveform stays zero, or -1 if it is
    zero throughout.
    """

    raster_times_ns: np.ndarray
    start_ns: int
    end_ns: int
    peak: float
    peak_slew: float
    first: float
    last: float
    busy_end_ns: int


@dataclass(frozen=True)
class LabelEvent:
    """One label operation: kind 'SET' or 'INC', label name ('LIN', 'TRID'...), value."""

    kind: str
    label: str
    value: float


@dataclass(frozen=True)
class SequenceTables:
    """Blocks in file order (``block_ids`` are the 1-based ids of the file) and their events.

    ``rf``, ``adc``, ``ext`` (n,) and ``grad`` (n, 3) hold library ids per block (0: none);
    ``declared_ns`` the sequence's declared rasters in ns, keyed like [DEFINITIONS].
    """

    block_ids: np.ndarray
    start_ns: np.ndarray
    duration_ns: np.ndarray
    rf: np.ndarray
    grad: np.ndarray
    adc: np.ndarray
    ext: np.ndarray
    declared_ns: dict[str, int]
    rf_events: dict[int, RFEvent]
    grad_events: dict[int, GradEvent]
    adc_events: dict[int, ADCEvent]
    labels: dict[int, tuple[LabelEvent, ...]]

    def per_block(self, ids: np.ndarray, events: dict, attribute: str, empty: int | float) -> np.ndarray:
        """Gather ``attribute`` of the events referenced by ``ids`` (``empty`` where id 0).

        The result is int64 when ``empty`` is an int (times in ns), else float64.
        """
        dtype = np.int64 if isinstance(empty, int) else np.float64
        lookup = np.full(max(events, default=0) + 1, empty, dtype=dtype)
        for key, event in events.items():
            lookup[key] = getattr(event, attribute)
        return lookup[ids]


def _ns(seconds) -> np.ndarray | int:
    """Seconds -> integer nanoseconds, rounded to the nearest."""
    if np.ndim(seconds):
        return np.rint(np.asarray(seconds, dtype=np.float64) * 1e9).astype(np.int64)
    return int(round(float(seconds) * 1e9))


def shape_samples(seq, shape_id: int) -> np.ndarray:
    """Decompressed samples of shape ``shape_id`` of ``seq``'s shape library."""
    data = seq.shape_library.data[shape_id]
    return decompress_shape(_Compressed(int(data[0]), np.asarray(data[1:], dtype=np.float64)))


@dataclass
class _Compressed:
    num_samples: int
    data: np.ndarray


def _rf_event(seq, data) -> RFEvent:
    _amplitude, mag_id, _phase_id, time_id, _center, delay, freq_ppm, _phase_ppm, freq_offset = data[:9]
    delay_ns = _ns(delay)
    raster_ns = _ns(seq.rf_raster_time)
    if time_id > 0:
        times = _ns(shape_samples(seq, int(time_id)) * seq.rf_raster_time) + delay_ns
        # The shape ends at the last sample time rounded up to the raster, as in pypulseq.
        shape_end = -(-(times[-1] - delay_ns) // raster_ns) * raster_ns
    else:
        times = np.zeros(0, dtype=np.int64)
        shape_end = int(seq.shape_library.data[int(mag_id)][0]) * raster_ns
    return RFEvent(delay_ns, delay_ns + shape_end, times, float(freq_offset), float(freq_ppm))


def _adc_event(data) -> ADCEvent:
    num_samples, dwell, delay, freq_ppm, _phase_ppm, freq_offset = data[:6]
    delay_ns, dwell_ns = _ns(delay), _ns(dwell)
    n = int(num_samples)
    return ADCEvent(delay_ns, dwell_ns, n, delay_ns + _ns(n * dwell), float(freq_offset), float(freq_ppm))


def _trap_event(data, zero_tol: float) -> GradEvent:
    amplitude, rise, flat, fall, delay = (float(v) for v in data[:5])
    corners = _ns(np.cumsum([delay, rise, flat, fall]))
    active = abs(amplitude) > zero_tol
    slews = [abs(amplitude) / t if t > 0 else (np.inf if active else 0.0) for t in (rise, fall)]
    busy_end = int(corners[-1]) if active else -1
    return GradEvent(corners, int(corners[0]), int(corners[-1]), abs(amplitude), max(slews), 0.0, 0.0, busy_end)


def _arbitrary_event(seq, data, zero_tol: float) -> GradEvent:
    """Arbitrary gradient or extended trapezoid, linear between its samples."""
    amplitude, first, last, shape_id, time_id, delay = data[:6]
    wave = float(amplitude) * shape_samples(seq, int(shape_id))
    raster = seq.grad_raster_time
    if time_id > 0:  # extended trapezoid: explicit sample times, first/last are the end samples
        t = shape_samples(seq, int(time_id)) * raster
        t_full, v_full = t, wave
        raster_times = _ns(t + delay)
    else:  # regular sampling at the interval centres (-1: oversampled, at half intervals)
        step = raster if time_id == 0 else raster / 2
        n_intervals = len(wave) if time_id == 0 else (len(wave) + 1) // 2
        t_end = n_intervals * raster
        t_full = np.concatenate(([0.0], (np.arange(len(wave)) + (0.5 if time_id == 0 else 1.0)) * step, [t_end]))
        v_full = np.concatenate(([first], wave, [last]))
        raster_times = _ns(np.array([delay, delay + t_end]))
    dt = np.diff(t_full)
    dv = np.abs(np.diff(v_full))
    # A step (two samples at one time) has infinite slew unless it is no step at all.
    slew = np.where(dt > 0, dv / np.where(dt > 0, dt, 1.0), np.where(dv > zero_tol, np.inf, 0.0))
    nonzero = np.flatnonzero(np.abs(v_full) > zero_tol)
    if nonzero.size == 0:
        busy_end = -1
    else:
        busy_end = _ns(delay + t_full[min(nonzero[-1] + 1, len(t_full) - 1)])
    return GradEvent(raster_times, _ns(delay + t_full[0]), _ns(delay + t_full[-1]), float(np.max(np.abs(v_full))),
                     float(np.max(slew, initial=0.0)), float(first), float(last), busy_end)


def _label_events(seq) -> dict[int, tuple[LabelEvent, ...]]:
    """Extension-list id -> label operations of that list, in the order they were added."""
    names = get_supported_labels()
    kinds = {}
    for kind in ("LABELSET", "LABELINC"):
        if kind in seq.extension_string_idx:
            kinds[seq.get_extension_type_ID(kind)] = kind
    libraries = {"LABELSET": seq.label_set_library, "LABELINC": seq.label_inc_library}
    out = {}
    for ext_id in seq.extensions_library.data:
        ops, next_id = [], ext_id
        while next_id:
            ext_type, ref, next_id = (int(v) for v in seq.extensions_library.data[next_id][:3])
            if ext_type in kinds:
                value, label_index = libraries[kinds[ext_type]].data[ref][:2]
                ops.append(LabelEvent(kinds[ext_type][5:], names[int(label_index) - 1], float(value)))
        out[ext_id] = tuple(reversed(ops))
    return out


def sequence_tables(seq, zero_tol: float) -> SequenceTables:
    """Decode ``seq`` (a pypulseq Sequence) into :class:`SequenceTables`.

    ``zero_tol`` (Hz/m): gradient values at or below it count as zero.
    """
    table = block_table(seq)
    events = table.events
    duration_ns = _ns(table.duration_s)
    start_ns = np.concatenate(([0], np.cumsum(duration_ns)[:-1])).astype(np.int64) if len(table) else duration_ns
    grad_events = {
        gid: _trap_event(data, zero_tol) if seq.grad_library.type[gid] == "t" else _arbitrary_event(seq, data, zero_tol)
        for gid, data in seq.grad_library.data.items()
    }
    declared = {
        "GradientRasterTime": _ns(seq.grad_raster_time),
        "RadiofrequencyRasterTime": _ns(seq.rf_raster_time),
        "AdcRasterTime": _ns(seq.adc_raster_time),
        "BlockDurationRaster": _ns(seq.block_duration_raster),
    }
    return SequenceTables(
        block_ids=table.block_ids,
        start_ns=start_ns,
        duration_ns=duration_ns,
        rf=events[:, 0],
        grad=events[:, 1:4],
        adc=events[:, 4],
        ext=events[:, 5],
        declared_ns=declared,
        rf_events={rid: _rf_event(seq, data) for rid, data in seq.rf_library.data.items()},
        grad_events=grad_events,
        adc_events={aid: _adc_event(data) for aid, data in seq.adc_library.data.items()},
        labels=_label_events(seq),
    )
