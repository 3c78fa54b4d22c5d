"""Event makers shared by the sequence families: rasters, labels, slice selection, readout.

Every time that reaches a block is rounded onto the harmonized grid here (block raster for
block durations and delays, RF raster for RF delays), so the builders stay short, linear
scripts of events in the style of pypulseq's examples.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np
import pypulseq as pp

from harmoniq.errors import HarmoniqError

#: Counters that the raw-data sorter reads (see harmoniq.io): every readout sets all of them.
COUNTERS = ("LIN", "PAR", "SLC", "SET", "ECO", "REP", "AVG")


def ns(t: float) -> int:
    """Time in integer nanoseconds (exact raster arithmetic)."""
    return int(round(t * 1e9))


def on_raster(t: float, raster: float, mode: str = "ceil") -> float:
    """Round time ``t`` (s) onto ``raster`` (s): 'ceil', 'floor' or 'nearest'."""
    q = ns(t) / ns(raster)
    k = {"ceil": math.ceil, "floor": math.floor, "nearest": round}[mode](q - 1e-9 if mode == "ceil" else q)
    return k * ns(raster) * 1e-9


def label_set(label: str, value: int) -> SimpleNamespace:
    """Absolute label assignment (never INC: a readout's counters never depend on history)."""
    return pp.make_label(label=label, type="SET", value=int(value))


def readout_labels(**counters: int) -> list[SimpleNamespace]:
    """SET events for every counter of :data:`COUNTERS` (missing ones are 0)."""
    unknown = set(counters) - set(COUNTERS)
    if unknown:
        raise ValueError(f"unknown counters {sorted(unknown)}")
    return [label_set(c, counters.get(c, 0)) for c in COUNTERS]


def trid(value: int) -> SimpleNamespace:
    """TRID label that opens one segment instance (GE interpreter; ignored elsewhere)."""
    return label_set("TRID", value)


def delay(duration: float, system: pp.Opts) -> SimpleNamespace:
    """Pure delay rounded to the nearest block raster."""
    return pp.make_delay(on_raster(duration, system.block_duration_raster, "nearest"))


def rf_centre(rf: SimpleNamespace) -> float:
    """Time (s) of the RF centre from the start of its block."""
    return rf.delay + pp.calc_rf_center(rf)[0]


def slice_select(
    flip_rad: float,
    duration: float,
    thickness: float,
    tbw: float,
    system: pp.Opts,
    use: str,
    phase: float = 0.0,
    offset_m: float = 0.0,
):
    """Windowed sinc pulse with its slice-select trapezoid and the rephaser area.

    The RF carries the frequency offset ``G_ss * offset_m`` (Hz) that moves the slice to
    ``offset_m`` along the slice axis. Returns (rf, gz, rephase_area [1/m]).
    """
    rf, gz, gz_reph = pp.make_sinc_pulse(
        flip_angle=flip_rad,
        duration=duration,
        slice_thickness=thickness,
        apodization=0.5,
        time_bw_product=tbw,
        phase_offset=phase,
        delay=system.rf_dead_time,
        system=system,
        return_gz=True,
        use=use,
    )
    rf.freq_offset = gz.amplitude * offset_m
    return rf, gz, gz_reph.area


@dataclass
class Readout:
    """Cartesian readout: flat-top gradient with the ADC centred on k = 0.

    Sample ``i`` (0-based, sampled at ``adc.delay + (i + 1/2) dwell``) lies at
    ``k_x = (i - n/2) * delta_k``; ``prephase_area`` is the x moment (1/m) that must precede
    the readout so that sample ``n/2`` is at k_x = 0. ``centre_time`` is the time of that
    sample from the start of the readout block.
    """

    gx: SimpleNamespace
    adc: SimpleNamespace
    prephase_area: float
    centre_time: float

    @property
    def duration(self) -> float:
        return pp.calc_duration(self.gx, self.adc)


def make_readout(n: int, fov: float, dwell: float, system: pp.Opts) -> Readout:
    """Readout of ``n`` samples over ``fov`` (m) with ADC ``dwell`` (s)."""
    delta_k = 1.0 / fov
    amplitude = delta_k / dwell  # Hz/m: k advances delta_k per dwell
    adc_time = n * dwell
    if amplitude > system.max_grad:
        raise HarmoniqError(
            f"readout: dwell {dwell * 1e6:g} us at FOV {fov * 1e3:g} mm needs "
            f"{amplitude / system.gamma * 1e3:.1f} mT/m, above the harmonized maximum "
            f"{system.max_grad / system.gamma * 1e3:.1f} mT/m; lengthen the dwell"
        )
    rise = on_raster(amplitude / system.max_slew, system.grad_raster_time)
    # the ADC needs its dead time before and after it inside the flat top's block
    flat = on_raster(adc_time + 2 * system.adc_dead_time, system.grad_raster_time)
    gx = pp.make_trapezoid("x", amplitude=amplitude, rise_time=rise, flat_time=flat, system=system)
    adc_delay = rise + on_raster((flat - adc_time) / 2, system.adc_raster_time, "floor")
    adc = pp.make_adc(num_samples=n, dwell=dwell, delay=adc_delay, system=system)
    centre_time = adc_delay + (n // 2 + 0.5) * dwell
    # x moment of gx from its start up to the centre sample: ramp + flat part
    prephase_area = -(amplitude * rise / 2 + amplitude * (centre_time - rise))
    return Readout(gx=gx, adc=adc, prephase_area=prephase_area, centre_time=centre_time)


def trapezoid_for_area(channel: str, area: float, system: pp.Opts, duration: float | None = None):
    """Shortest trapezoid of ``area`` (1/m), or one of the given ``duration`` (s)."""
    if duration is None:
        return pp.make_trapezoid(channel, area=area, system=system)
    return pp.make_trapezoid(channel, area=area, duration=duration, system=system)


def encode_template(channel: str, areas, system: pp.Opts, duration: float | None = None):
    """Trapezoid of the largest ``|area|`` (1/m) among ``areas``: the one timing every line shares.

    The GE interpreter plays each instance of a segment with its first instance's gradient
    timing and only a per-instance amplitude (HarmonizedMRI/pge2 ``getsegmentinstance.m``;
    SequenceExamples-GE ``pge2/docs/pge2-sequence-design-rules.md``), so every encode of a
    TRID is this trapezoid scaled by :func:`scaled`.
    """
    peak = max((abs(a) for a in areas), default=0.0)
    return trapezoid_for_area(channel, peak, system, duration)


def scaled(template: SimpleNamespace, area: float) -> SimpleNamespace:
    """``template`` with its timing kept and amplitude scaled to ``area`` (1/m):
    amplitude = area / (flat + (rise + fall) / 2)."""
    if template.area == 0:
        return copy.copy(template)
    grad = pp.scale_grad(template, area / template.area)
    grad.area = area  # scale_grad scales amplitude and flat area only
    return grad


def shortest_common_duration(areas: list[float], system: pp.Opts) -> float:
    """Duration (s) of the slowest of the shortest trapezoids with the given areas."""
    durations = [pp.calc_duration(pp.make_trapezoid("x", area=a, system=system)) for a in areas if a != 0]
    return max(durations, default=system.grad_raster_time)


def phase_areas(n: int, fov: float) -> np.ndarray:
    """Phase-encode areas (1/m) for lines 0..n-1: ``(i - n/2) / fov``; line n/2 is k = 0."""
    return (np.arange(n) - n // 2) / fov


def rf_spoil_phases(count: int, increment_deg: float) -> np.ndarray:
    """Quadratic RF-spoiling phases (rad): phi_j = inc * j (j + 1) / 2 (Zur et al., MRM 1991)."""
    j = np.arange(count)
    return np.deg2rad(np.mod(increment_deg * j * (j + 1) / 2, 360.0))
