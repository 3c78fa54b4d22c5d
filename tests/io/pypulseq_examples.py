"""Small versions of pypulseq's example sequences (imr-framework/pypulseq, tag v1.5.0.post1,
``examples/scripts/write_gre.py`` and ``write_epi.py``), rewritten with a smaller matrix: the
.seq files a new user reconstructs first. Parameters are those of the examples unless noted."""

from __future__ import annotations

import math

import numpy as np
import pypulseq as pp


def gre(path, n: int = 32):
    """write_gre.py: 256 mm FOV, 3 mm slice, 10 deg, TR 12 ms, TE 5 ms, RF spoiling 117 deg,
    readout flat_area = n / FOV over 3.2 ms (k = 0 between samples n/2 - 1 and n/2)."""
    fov, thickness, te, tr = 256e-3, 3e-3, 5e-3, 12e-3
    system = pp.Opts(max_grad=28, grad_unit="mT/m", max_slew=150, slew_unit="T/m/s", rf_ringdown_time=20e-6,
                     rf_dead_time=100e-6, adc_dead_time=10e-6)
    seq = pp.Sequence(system)
    rf, gz, _ = pp.make_sinc_pulse(flip_angle=math.radians(10), duration=3e-3, slice_thickness=thickness,
                                   apodization=0.42, time_bw_product=4, system=system, return_gz=True,
                                   delay=system.rf_dead_time, use="excitation")
    dk = 1 / fov
    gx = pp.make_trapezoid("x", flat_area=n * dk, flat_time=3.2e-3, system=system)
    adc = pp.make_adc(num_samples=n, duration=gx.flat_time, delay=gx.rise_time, system=system)
    gx_pre = pp.make_trapezoid("x", area=-gx.area / 2, duration=1e-3, system=system)
    gz_reph = pp.make_trapezoid("z", area=-gz.area / 2, duration=1e-3, system=system)
    gx_spoil = pp.make_trapezoid("x", area=2 * n * dk, system=system)
    gz_spoil = pp.make_trapezoid("z", area=4 / thickness, system=system)
    raster = seq.grad_raster_time
    delay_te = math.ceil((te - (pp.calc_duration(gz, rf) - pp.calc_rf_center(rf)[0] - rf.delay)
                          - pp.calc_duration(gx_pre) - pp.calc_duration(gx) / 2 - pp.eps) / raster) * raster
    delay_tr = math.ceil((tr - pp.calc_duration(gz, rf) - pp.calc_duration(gx_pre) - pp.calc_duration(gx)
                          - delay_te) / raster) * raster
    rf_phase = rf_inc = 0.0
    for area in (np.arange(n) - n / 2) * dk:
        rf.phase_offset = adc.phase_offset = math.radians(rf_phase)
        rf_inc = (rf_inc + 117) % 360.0
        rf_phase = (rf_phase + rf_inc) % 360.0
        seq.add_block(rf, gz)
        gy_pre = pp.make_trapezoid("y", area=area, duration=pp.calc_duration(gx_pre), system=system)
        seq.add_block(gx_pre, gy_pre, gz_reph)
        seq.add_block(pp.make_delay(delay_te))
        seq.add_block(gx, adc)
        seq.add_block(pp.make_delay(delay_tr), gx_spoil, pp.scale_grad(gy_pre, -1), gz_spoil)
    seq.set_definition("FOV", [fov, fov, thickness])
    seq.set_definition("Name", "gre")
    seq.write(str(path))
    return path


def epi(path, n: int = 32):
    """write_epi.py: 220 mm FOV, 3 mm slice, 90 deg, dwell 4 us, no ramp sampling, readouts of
    alternating polarity with phase blips; one slice instead of three; no FOV definition (as
    in the example)."""
    fov, thickness = 220e-3, 3e-3
    system = pp.Opts(max_grad=32, grad_unit="mT/m", max_slew=130, slew_unit="T/m/s", rf_ringdown_time=30e-6,
                     rf_dead_time=100e-6)
    seq = pp.Sequence(system)
    rf, gz, _ = pp.make_sinc_pulse(flip_angle=math.pi / 2, system=system, duration=3e-3,
                                   slice_thickness=thickness, apodization=0.5, time_bw_product=4,
                                   return_gz=True, delay=system.rf_dead_time, use="excitation")
    dk = 1 / fov
    dwell = 4e-6
    readout_time = n * dwell
    flat_time = math.ceil(readout_time * 1e5) * 1e-5
    gx = pp.make_trapezoid("x", system=system, amplitude=n * dk / readout_time, flat_time=flat_time)
    adc = pp.make_adc(num_samples=n, duration=readout_time,
                      delay=gx.rise_time + flat_time / 2 - (readout_time - dwell) / 2)
    gx_pre = pp.make_trapezoid("x", system=system, area=-gx.area / 2, duration=8e-4)
    gz_reph = pp.make_trapezoid("z", system=system, area=-gz.area / 2, duration=8e-4)
    gy_pre = pp.make_trapezoid("y", system=system, area=-n / 2 * dk, duration=8e-4)
    blip = pp.make_trapezoid("y", system=system, area=dk,
                             duration=math.ceil(2 * math.sqrt(dk / system.max_slew) / 10e-6) * 10e-6)
    seq.add_block(rf, gz)
    seq.add_block(gx_pre, gy_pre, gz_reph)
    for line in range(n):
        seq.add_block(pp.scale_grad(gx, -1) if line % 2 else gx, adc)
        seq.add_block(blip)
    seq.write(str(path))
    return path
