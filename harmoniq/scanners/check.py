"""Check any Pulseq sequence (a .seq path or an in-memory pypulseq Sequence) against one
scanner profile or against harmonized limits.

Times are compared as integer nanoseconds (``round(t * 1e9)``), so a raster test has no
float noise. Maximum-type limits (gradient, slew, frequency offsets) allow a relative
tolerance of :data:`REL_TOL`, above the 6-significant-digit rounding of the .seq writer.
Rules and their ids are listed in :data:`harmoniq.scanners.report.RULES`.

GE segment rules (pge2 interpreter, HarmonizedMRI/SequenceExamples-GE ``pge2/README.md``):
a segment instance starts at every block that carries a TRID label and runs to the next
such block (or the end). Gradients must be zero at each segment start and end. The rules on
the timeline GE plays (instances, guard intervals, nerve stimulation...) are in
:mod:`harmoniq.scanners.ge` and :mod:`harmoniq.scanners.ge_rules`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from harmoniq.constants import PYPULSEQ_GAMMA_HZ_PER_T
from harmoniq.errors import HarmoniqError
from harmoniq.scanners.ge import interpret
from harmoniq.scanners.harmonize import HarmonizedLimits
from harmoniq.scanners.profiles import ScannerProfile, SystemLimits, load_profile
from harmoniq.scanners.report import RULES, CheckReport, Violation
from harmoniq.scanners.seqtables import SequenceTables, sequence_tables
from harmoniq.seqfile import read_seq

REL_TOL = 1e-4
# Gradient values below this fraction of the target's maximum gradient count as zero.
ZERO_GRAD_FRACTION = 1e-6
COUNTER_LABELS = ("SLC", "SEG", "REP", "AVG", "SET", "ECO", "PHS", "LIN", "PAR", "ACQ")
_AXES = "xyz"
_DECLARED = {
    "GradientRasterTime": "grad_raster_time",
    "RadiofrequencyRasterTime": "rf_raster_time",
    "AdcRasterTime": "adc_raster_time",
    "BlockDurationRaster": "block_duration_raster",
}


@dataclass(frozen=True)
class _Target:
    name: str
    limits: SystemLimits
    fields_t: tuple[float, ...]


def check(seq_or_path, profile: ScannerProfile | HarmonizedLimits | str | os.PathLike) -> CheckReport:
    """Check a sequence against a scanner profile (object, shipped name or TOML path) or
    against :class:`HarmonizedLimits`; returns a :class:`CheckReport` with every violation.

    >>> report = check("gre.seq", "ge-premier-3t")          # doctest: +SKIP
    >>> print(report.to_text())                             # doctest: +SKIP
    """
    seq, source = _load_sequence(seq_or_path)
    target = _resolve_target(profile)
    zero_tol = ZERO_GRAD_FRACTION * target.limits.max_grad * PYPULSEQ_GAMMA_HZ_PER_T
    tables = sequence_tables(seq, zero_tol)
    violations = []
    for rule in _CHECKS:
        violations.extend(rule(tables, target))
    played = None
    if target.limits.trid_segments and len(tables.block_ids):
        played = interpret(seq, tables)
        violations.extend(played.violations)
        played = played.to_dict()
    order = list(RULES)
    violations.sort(key=lambda v: (v.block or 0, order.index(v.rule)))
    total_ns = int(tables.start_ns[-1] + tables.duration_ns[-1]) if len(tables.block_ids) else 0
    return CheckReport(target.name, source, len(tables.block_ids), total_ns / 1e9, violations, played)


def _load_sequence(seq_or_path):
    """(Sequence, source name) of a .seq path (read by :func:`read_seq`) or a loaded Sequence."""
    if isinstance(seq_or_path, (str, os.PathLike)):
        return read_seq(seq_or_path), str(Path(seq_or_path))
    if not hasattr(seq_or_path, "block_events"):
        raise HarmoniqError(
            f"check: expected a .seq path or a pypulseq Sequence, got {type(seq_or_path).__name__}"
        )
    return seq_or_path, "<in-memory sequence>"


def _resolve_target(profile) -> _Target:
    if isinstance(profile, HarmonizedLimits):
        return _Target(profile.name, profile.limits, profile.fields_t)
    if not isinstance(profile, ScannerProfile):
        profile = load_profile(profile)
    return _Target(profile.name, profile.limits, (profile.field_t,))


# --- helpers ---------------------------------------------------------------------------


def _us(ns) -> str:
    """Nanoseconds as microseconds for messages."""
    return f"{ns / 1e3:g} us"


def _record(rule: str, tables: SequenceTables, i: int, value, limit, text: str) -> Violation:
    block = int(tables.block_ids[i])
    start = float(tables.start_ns[i]) / 1e9
    value = None if value is None else float(value)
    return Violation(rule, block, start, value, limit, f"block {block} at {start * 1e3:.3f} ms: {text}")


def _per_event(rule: str, tables: SequenceTables, ids: np.ndarray, bad: dict[int, float], limit: float,
               describe: Callable[[float], str]) -> list[Violation]:
    """One violation per block whose event id (in ``ids``) is a key of ``bad`` (id -> value)."""
    if not bad:
        return []
    hits = np.flatnonzero(np.isin(ids, np.fromiter(bad, dtype=np.int64)))
    return [_record(rule, tables, i, bad[int(ids[i])], limit, describe(bad[int(ids[i])])) for i in hits]


def _off_grid(times_ns: np.ndarray, raster_ns: int):
    """First time (ns) in ``times_ns`` that is not a multiple of ``raster_ns``, or None."""
    off = np.flatnonzero(np.asarray(times_ns) % raster_ns)
    return int(times_ns[off[0]]) if off.size else None


# --- rules -----------------------------------------------------------------------------


def _declared_raster(tables: SequenceTables, target: _Target) -> list[Violation]:
    raster = target.limits.raster_ns()
    out = []
    for key, name in _DECLARED.items():
        declared, own = tables.declared_ns[key], raster[name]
        if declared % own:
            out.append(Violation("declared_raster", None, None, declared / 1e9, own / 1e9,
                                 f"[DEFINITIONS] {key} = {_us(declared)} is not a multiple of {_us(own)}"))
    return out


def _block_raster(tables: SequenceTables, target: _Target) -> list[Violation]:
    raster = target.limits.raster_ns()["block_duration_raster"]
    return [
        _record("block_raster", tables, i, tables.duration_ns[i] / 1e9, raster / 1e9,
                f"duration {_us(tables.duration_ns[i])} is not a multiple of {_us(raster)}")
        for i in np.flatnonzero(tables.duration_ns % raster)
    ]


def _grad_raster(tables: SequenceTables, target: _Target) -> list[Violation]:
    raster = target.limits.raster_ns()["grad_raster_time"]
    bad = {}
    for gid, event in tables.grad_events.items():
        t = _off_grid(event.raster_times_ns, raster)
        if t is not None:
            bad[gid] = t / 1e9
    out = []
    for axis in range(3):
        out += _per_event("grad_raster", tables, tables.grad[:, axis], bad, raster / 1e9,
                          lambda v, a=_AXES[axis]: f"gradient {a} time {_us(v * 1e9)} is off the {_us(raster)} raster")
    return out


def _rf_raster(tables: SequenceTables, target: _Target) -> list[Violation]:
    """RF delay and shape end on the raster; the samples of an explicitly timed shape on the
    raster or at the centre of a raster interval (Pulseq's convention for sampled pulses)."""
    raster = target.limits.raster_ns()["rf_raster_time"]
    bad = {}
    for rid, event in tables.rf_events.items():
        t = _off_grid(np.array([event.delay_ns, event.end_ns]), raster)
        if t is None:
            half = _off_grid(2 * event.sample_times_ns, raster)
            t = None if half is None else half // 2
        if t is not None:
            bad[rid] = t / 1e9
    return _per_event("rf_raster", tables, tables.rf, bad, raster / 1e9,
                      lambda v: f"RF time {_us(v * 1e9)} is off the {_us(raster)} raster")


def _adc_rasters(tables: SequenceTables, target: _Target) -> list[Violation]:
    raster = target.limits.raster_ns()
    dwell_ns, delay_ns = raster["adc_raster_time"], raster["adc_delay_raster"]
    dwell = {aid: e.dwell_ns / 1e9 for aid, e in tables.adc_events.items() if e.dwell_ns % dwell_ns}
    delay = {aid: e.delay_ns / 1e9 for aid, e in tables.adc_events.items() if e.delay_ns % delay_ns}
    return _per_event("adc_dwell", tables, tables.adc, dwell, dwell_ns / 1e9,
                      lambda v: f"ADC dwell {v * 1e9:g} ns is not a multiple of {dwell_ns} ns") + _per_event(
        "adc_delay_raster", tables, tables.adc, delay, delay_ns / 1e9,
        lambda v: f"ADC delay {_us(v * 1e9)} is off the {_us(delay_ns)} raster")


def _rf_dead_and_ringdown(tables: SequenceTables, target: _Target) -> list[Violation]:
    lim = target.limits
    dead, ringdown = round(lim.rf_dead_time * 1e9), round(lim.rf_ringdown_time * 1e9)
    has_rf = tables.rf > 0
    delay = tables.per_block(tables.rf, tables.rf_events, "delay_ns", 0)
    tail = tables.duration_ns - tables.per_block(tables.rf, tables.rf_events, "end_ns", 0)
    out = [
        _record("rf_dead_time", tables, i, delay[i] / 1e9, dead / 1e9,
                f"RF delay {_us(delay[i])} is shorter than the RF dead time {_us(dead)}")
        for i in np.flatnonzero(has_rf & (delay < dead))
    ]
    out += [
        _record("rf_ringdown", tables, i, tail[i] / 1e9, ringdown / 1e9,
                f"{_us(tail[i])} from RF end to block end is shorter than the ringdown time {_us(ringdown)}")
        for i in np.flatnonzero(has_rf & (tail < ringdown))
    ]
    return out


def _adc_dead_time(tables: SequenceTables, target: _Target) -> list[Violation]:
    dead = round(target.limits.adc_dead_time * 1e9)
    delay = tables.per_block(tables.adc, tables.adc_events, "delay_ns", 0)
    after = tables.duration_ns - tables.per_block(tables.adc, tables.adc_events, "end_ns", 0)
    gap = np.minimum(delay, after)
    return [
        _record("adc_dead_time", tables, i, gap[i] / 1e9, dead / 1e9,
                f"ADC delay {_us(delay[i])} / time after the ADC {_us(after[i])} is shorter than the "
                f"ADC dead time {_us(dead)}")
        for i in np.flatnonzero((tables.adc > 0) & (gap < dead))
    ]


def _gradient_limits(tables: SequenceTables, target: _Target) -> list[Violation]:
    lim = target.limits
    out = []
    for rule, attribute, limit, unit, scale in (
        ("grad_amplitude", "peak", lim.max_grad, "mT/m", 1e3),
        ("grad_slew", "peak_slew", lim.max_slew, "T/m/s", 1.0),
    ):
        bad = {gid: getattr(e, attribute) / PYPULSEQ_GAMMA_HZ_PER_T for gid, e in tables.grad_events.items()}
        bad = {gid: v for gid, v in bad.items() if v > limit * (1 + REL_TOL)}
        for axis in range(3):
            out += _per_event(rule, tables, tables.grad[:, axis], bad, limit,
                              lambda v, a=_AXES[axis], u=unit, s=scale, r=rule:
                              f"gradient {a} {r[5:]} {v * s:.6g} {u} exceeds {limit * s:.6g} {u}")
    return out


def _adc_samples(tables: SequenceTables, target: _Target) -> list[Violation]:
    lim = target.limits
    events = tables.adc_events
    over = {aid: e.num_samples for aid, e in events.items()
            if lim.adc_samples_limit is not None and e.num_samples > lim.adc_samples_limit}
    indivisible = {aid: e.num_samples for aid, e in events.items() if e.num_samples % lim.adc_samples_divisor}
    return _per_event("adc_samples_limit", tables, tables.adc, over, lim.adc_samples_limit,
                      lambda v: f"{v} ADC samples exceed the limit of {lim.adc_samples_limit}") + _per_event(
        "adc_samples_divisor", tables, tables.adc, indivisible, lim.adc_samples_divisor,
        lambda v: f"{v} ADC samples are not divisible by {lim.adc_samples_divisor}")


def _freq_offsets(tables: SequenceTables, target: _Target) -> list[Violation]:
    """|offset + ppm * 1e-6 * gamma * B0| at every target field strength."""
    lim = target.limits
    out = []
    for rule, events, ids, limit, what in (
        ("rf_freq_offset", tables.rf_events, tables.rf, lim.max_rf_freq_offset, "RF"),
        ("adc_freq_offset", tables.adc_events, tables.adc, lim.max_adc_freq_offset, "ADC"),
    ):
        if limit is None:
            continue
        worst = {
            eid: max(abs(e.freq_offset_hz + e.freq_ppm * 1e-6 * PYPULSEQ_GAMMA_HZ_PER_T * b0) for b0 in target.fields_t)
            for eid, e in events.items()
        }
        bad = {eid: v for eid, v in worst.items() if v > limit * (1 + REL_TOL)}
        out += _per_event(rule, tables, ids, bad, limit,
                          lambda v, w=what, lim_hz=limit: f"|{w} frequency offset| {v / 1e3:.6g} kHz exceeds "
                                                          f"{lim_hz / 1e3:.6g} kHz")
    return out


def _label_ops(tables: SequenceTables, label: str) -> np.ndarray:
    """Per block: True where the block carries an operation on ``label``."""
    ext_ids = [eid for eid, ops in tables.labels.items() if any(op.label == label for op in ops)]
    return np.isin(tables.ext, np.asarray(ext_ids, dtype=np.int64))


def _ge_segments(tables: SequenceTables, target: _Target) -> list[Violation]:
    lim = target.limits
    n = len(tables.block_ids)
    if not lim.trid_segments or n == 0:
        return []
    has_trid = _label_ops(tables, "TRID")
    out = []
    if not has_trid[0]:
        out.append(_record("ge_trid_first_block", tables, 0, None, None,
                           "the first block carries no TRID label, so no GE segment starts there"))
    starts = np.union1d([0], np.flatnonzero(has_trid))
    ends = np.append(starts[1:] - 1, n - 1)
    out += _segment_edges(tables, target, starts, ends)
    return out


def _segment_edges(tables, target, starts, ends) -> list[Violation]:
    """Gradients must be zero at the first block's start and the last block's end."""
    tol = ZERO_GRAD_FRACTION * target.limits.max_grad * PYPULSEQ_GAMMA_HZ_PER_T
    at_start = np.zeros(len(tables.block_ids))
    at_end = np.zeros(len(tables.block_ids))
    for axis in range(3):
        ids = tables.grad[:, axis]
        first = np.where(tables.per_block(ids, tables.grad_events, "start_ns", -1) == 0,
                         np.abs(tables.per_block(ids, tables.grad_events, "first", 0.0)), 0.0)
        last = np.where(tables.per_block(ids, tables.grad_events, "end_ns", -1) == tables.duration_ns,
                        np.abs(tables.per_block(ids, tables.grad_events, "last", 0.0)), 0.0)
        at_start, at_end = np.maximum(at_start, first), np.maximum(at_end, last)
    out = []
    for where, blocks, values in (("start", starts, at_start), ("end", ends, at_end)):
        for i in blocks[values[blocks] > tol]:
            g = values[i] / PYPULSEQ_GAMMA_HZ_PER_T
            out.append(_record("ge_segment_grad_edges", tables, i, g, 0.0,
                               f"gradient {g * 1e3:.6g} mT/m at the segment {where}; it must be zero"))
    return out


def _labels_initialised(tables: SequenceTables, target: _Target) -> list[Violation]:
    if not target.limits.labels_must_be_initialised:
        return []
    initialised: set[str] = set()
    out = []
    for i in np.flatnonzero(tables.ext):
        ops = tables.labels.get(int(tables.ext[i]), ())
        initialised |= {op.label for op in ops if op.kind == "SET"}
        for op in ops:
            if op.kind == "INC" and op.label in COUNTER_LABELS and op.label not in initialised:
                out.append(_record("label_uninitialised", tables, i, None, None,
                                   f"counter {op.label} is incremented before it was ever SET"))
    return out


_CHECKS = (
    _declared_raster,
    _block_raster,
    _grad_raster,
    _rf_raster,
    _adc_rasters,
    _rf_dead_and_ringdown,
    _adc_dead_time,
    _gradient_limits,
    _adc_samples,
    _freq_offsets,
    _ge_segments,
    _labels_initialised,
)
