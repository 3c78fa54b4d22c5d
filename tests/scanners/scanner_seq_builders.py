"""Small pypulseq sequences for the scanner-check tests.

``clean_gre`` is a 2D gradient echo built with the limits harmonized over all six shipped
profiles: TRID on the first block of every TR, LIN set before it is incremented. ``add_probe_segment`` appends one more segment whose
middle block holds the events under test, so a test changes exactly one thing.
``write_gre_example`` follows pypulseq's ``examples/scripts/write_gre.py`` with pypulseq's
default (Siemens) rasters.
"""

from __future__ import annotations

import numpy as np
import pypulseq as pp

from harmoniq.scanners import harmonize, list_profiles

def harmonized_system() -> pp.Opts:
    return harmonize(list_profiles()).to_pypulseq_opts()


def clean_gre(n_lines: int = 4, system: pp.Opts | None = None, trid: bool = True) -> pp.Sequence:
    """2D GRE, 64 readout samples of 40 us, TR 10 ms, valid on every shipped profile."""
    system = system or harmonized_system()
    seq = pp.Sequence(system)
    fov, nx, thickness = 256e-3, 64, 5e-3
    rf, gz, _ = pp.make_sinc_pulse(flip_angle=np.deg2rad(15), duration=2e-3, slice_thickness=thickness,
                                   apodization=0.5, time_bw_product=4, system=system, return_gz=True,
                                   delay=system.rf_dead_time, use="excitation")
    gx = pp.make_trapezoid("x", flat_area=nx / fov, flat_time=2.56e-3, rise_time=60e-6, system=system)
    adc = pp.make_adc(num_samples=nx, duration=gx.flat_time, delay=gx.rise_time, system=system)
    gx_pre = pp.make_trapezoid("x", area=-gx.area / 2, duration=1e-3, system=system)
    gz_reph = pp.make_trapezoid("z", area=-gz.area / 2, duration=1e-3, system=system)
    gz_spoil = pp.make_trapezoid("z", area=4 / thickness, system=system)
    spoil_block = pp.calc_duration(gz_spoil)
    # one phase-encode timing for every line (GE plays each TRID instance with its first one's timing)
    gy_max = pp.make_trapezoid("y", area=(n_lines / 2) / fov, duration=1e-3, system=system)
    tr = 10e-3
    for line in range(n_lines):
        labels = [pp.make_label("TRID", "SET", 1)] if trid else []
        if line == 0:
            labels.append(pp.make_label("LIN", "SET", 0))
        seq.add_block(rf, gz, *labels)
        gy = pp.scale_grad(gy_max, (line - n_lines / 2) / (n_lines / 2))
        seq.add_block(gx_pre, gy, gz_reph)
        seq.add_block(gx, adc)
        used = sum(seq.block_durations[b] for b in list(seq.block_events)[-3:])
        seq.add_block(gz_spoil, pp.make_delay(tr - used), pp.make_label("LIN", "INC", 1))
        assert tr - used >= spoil_block
    return seq


def add_probe_segment(seq: pp.Sequence, *events, trid: int = 2) -> int:
    """Append [TRID label + 200 us delay] [events] [200 us delay]; return the probe block id."""
    seq.add_block(pp.make_delay(200e-6), pp.make_label("TRID", "SET", trid))
    seq.add_block(*events)
    probe = next(reversed(seq.block_events))
    seq.add_block(pp.make_delay(200e-6))
    return probe


def write_gre_example(n_lines: int = 16, n_repeats: int = 1) -> pp.Sequence:
    """pypulseq's write_gre.py example (64 x n_lines, TR 10 ms, repeated n_repeats times)
    with its own system limits: 5 blocks per TR."""
    system = pp.Opts(max_grad=28, grad_unit="mT/m", max_slew=150, slew_unit="T/m/s",
                     rf_ringdown_time=20e-6, rf_dead_time=100e-6, adc_dead_time=10e-6)
    seq = pp.Sequence(system)
    fov, nx, thickness, te, tr = 256e-3, 64, 3e-3, 4.3e-3, 10e-3
    rf, gz, _ = pp.make_sinc_pulse(flip_angle=np.deg2rad(10), duration=3e-3, slice_thickness=thickness,
                                   apodization=0.42, time_bw_product=4, system=system, return_gz=True,
                                   delay=system.rf_dead_time, use="excitation")
    gx = pp.make_trapezoid("x", flat_area=nx / fov, flat_time=3.2e-3, system=system)
    adc = pp.make_adc(num_samples=nx, duration=gx.flat_time, delay=gx.rise_time, system=system)
    gx_pre = pp.make_trapezoid("x", area=-gx.area / 2, duration=1e-3, system=system)
    gz_reph = pp.make_trapezoid("z", area=-gz.area / 2, duration=1e-3, system=system)
    gx_spoil = pp.make_trapezoid("x", area=2 * nx / fov, system=system)
    gz_spoil = pp.make_trapezoid("z", area=4 / thickness, system=system)
    raster = seq.grad_raster_time
    delay_te = np.ceil((te - pp.calc_duration(gx_pre) - gz.fall_time - gz.flat_time / 2
                        - pp.calc_duration(gx) / 2) / raster) * raster
    delay_tr = np.ceil((tr - pp.calc_duration(gz) - pp.calc_duration(gx_pre) - pp.calc_duration(gx)
                        - delay_te) / raster) * raster
    rf_phase, rf_inc = 0.0, 0.0
    for line in [*range(n_lines)] * n_repeats:
        rf.phase_offset = adc.phase_offset = np.deg2rad(rf_phase)
        rf_inc = (rf_inc + 117) % 360
        rf_phase = (rf_phase + rf_inc) % 360
        seq.add_block(rf, gz)
        gy = pp.make_trapezoid("y", area=(line - n_lines / 2) / fov, duration=pp.calc_duration(gx_pre),
                               system=system)
        seq.add_block(gx_pre, gy, gz_reph)
        seq.add_block(pp.make_delay(delay_te))
        seq.add_block(gx, adc)
        gy.amplitude = -gy.amplitude
        seq.add_block(pp.make_delay(delay_tr), gx_spoil, gy, gz_spoil)
    return seq
