"""Small versions of pypulseq's example sequences (imr-framework/pypulseq, tag v1.5.0.post1,
``examples/scripts/write_<name>.py``), rewritten with a smaller matrix: the .seq files a new
user reconstructs first. Parameters are those of the examples unless noted; each function
writes ``path`` and returns it."""

from __future__ import annotations

import math
from copy import copy

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


def _sinc(system, flip_rad, duration, thickness, **options):
    """Slice-selective sinc excitation (apodization 0.5, time-bandwidth 4 unless given)."""
    options = {"apodization": 0.5, "time_bw_product": 4, "delay": system.rf_dead_time, "use": "excitation"} | options
    return pp.make_sinc_pulse(flip_angle=flip_rad, duration=duration, slice_thickness=thickness, system=system,
                              return_gz=True, **options)


def _rf_spoil_phases(count: int, increment_deg: float = 117.0):
    """RF-spoiling phases (rad) of ``count`` excitations: quadratic with increment 117 deg."""
    phase = inc = 0.0
    for _ in range(count):
        yield math.radians(phase)
        inc = (inc + increment_deg) % 360.0
        phase = (phase + inc) % 360.0


def gre_label(path, n: int = 32):
    """write_gre_label.py: 224 mm FOV, 3 mm slice, 7 deg, TE 4.3 ms, TR 10 ms, LIN/SLC labels,
    REV set once, phase encoding from +k to -k."""
    fov, thickness, te, tr = 224e-3, 3e-3, 4.3e-3, 10e-3
    system = pp.Opts(max_grad=28, grad_unit="mT/m", max_slew=150, slew_unit="T/m/s", rf_ringdown_time=20e-6,
                     rf_dead_time=100e-6, adc_dead_time=10e-6)
    seq = pp.Sequence(system)
    rf, gz, _ = _sinc(system, math.radians(7), 3e-3, thickness)
    dk = 1 / fov
    gx = pp.make_trapezoid("x", flat_area=n * dk, flat_time=3.2e-3, system=system)
    adc = pp.make_adc(num_samples=n, duration=gx.flat_time, delay=gx.rise_time, system=system)
    gx_pre = pp.make_trapezoid("x", area=-gx.area / 2, duration=1e-3, system=system)
    gz_reph = pp.make_trapezoid("z", area=-gz.area / 2, duration=1e-3, system=system)
    gx_spoil = pp.make_trapezoid("x", area=2 * n * dk, system=system)
    gz_spoil = pp.make_trapezoid("z", area=4 / thickness, system=system)
    raster = seq.grad_raster_time
    delay_te = math.ceil((te - pp.calc_duration(gx_pre) - gz.fall_time - gz.flat_time / 2
                          - pp.calc_duration(gx) / 2) / raster) * raster
    delay_tr = math.ceil((tr - pp.calc_duration(gz) - pp.calc_duration(gx_pre) - pp.calc_duration(gx)
                          - delay_te) / raster) * raster
    seq.add_block(pp.make_label(label="REV", type="SET", value=1))
    for line, phase in zip(range(n), _rf_spoil_phases(n)):
        rf.phase_offset = adc.phase_offset = phase
        seq.add_block(rf, gz)
        gy_pre = pp.make_trapezoid("y", area=-(line - n / 2) * dk, duration=pp.calc_duration(gx_pre), system=system)
        seq.add_block(gx_pre, gy_pre, gz_reph)
        seq.add_block(pp.make_delay(delay_te))
        seq.add_block(gx, adc)
        labels = ([pp.make_label(type="INC", label="LIN", value=1)] if line != n - 1 else
                  [pp.make_label(type="SET", label="LIN", value=0), pp.make_label(type="INC", label="SLC", value=1)])
        seq.add_block(pp.make_delay(delay_tr), gx_spoil, pp.scale_grad(gy_pre, -1), gz_spoil, *labels)
    seq.set_definition("FOV", [fov, fov, thickness])
    seq.set_definition("Name", "gre_label")
    seq.write(str(path))
    return path


def _epi_readout(system, n: int, fov: float, dwell: float = 4e-6):
    """Readout gradient, ADC and blip duration of write_epi(_label).py (no ramp sampling)."""
    dk = 1 / fov
    readout_time = n * dwell
    flat_time = math.ceil(readout_time * 1e5) * 1e-5
    gx = pp.make_trapezoid("x", system=system, amplitude=n * dk / readout_time, flat_time=flat_time)
    adc = pp.make_adc(num_samples=n, duration=readout_time,
                      delay=gx.rise_time + flat_time / 2 - (readout_time - dwell) / 2)
    blip_s = math.ceil(2 * math.sqrt(dk / system.max_slew) / 10e-6) * 10e-6
    return gx, adc, blip_s


def epi_label(path, n: int = 32, n_slices: int = 2):
    """write_epi_label.py: 220 mm FOV, 3 mm slices, 90 deg, three navigator lines (NAV, REV,
    SEG labels) before each slice's echo train, LIN/SLC/REP labels; two slices and one
    repetition instead of seven and four; no trigger."""
    fov, thickness, navigators = 220e-3, 3e-3, 3
    system = pp.Opts(max_grad=32, grad_unit="mT/m", max_slew=130, slew_unit="T/m/s", rf_ringdown_time=30e-6,
                     rf_dead_time=100e-6)
    seq = pp.Sequence(system)
    rf, gz, _ = _sinc(system, math.pi / 2, 3e-3, thickness)
    dk = 1 / fov
    gx, adc, blip_s = _epi_readout(system, n, fov)
    gx_pre = pp.make_trapezoid("x", system=system, area=-gx.area / 2, duration=8e-4)
    gz_reph = pp.make_trapezoid("z", system=system, area=-gz.area / 2, duration=8e-4)
    gy_pre = pp.make_trapezoid("y", system=system, area=n / 2 * dk, duration=8e-4)
    gy = pp.make_trapezoid("y", system=system, area=-dk, duration=blip_s)
    gz_spoil = pp.make_trapezoid("z", system=system, area=dk * n * 4)
    seq.add_block(pp.make_label(type="SET", label="SLC", value=0))
    for s in range(n_slices):
        rf.freq_offset = gz.amplitude * thickness * (s - (n_slices - 1) / 2)
        rf.phase_offset = -rf.freq_offset * pp.calc_rf_center(rf)[0]
        seq.add_block(rf, gz)
        seq.add_block(gx_pre, gz_reph, pp.make_label(type="SET", label="NAV", value=1),
                      pp.make_label(type="SET", label="LIN", value=round(n / 2)))
        for nav in range(navigators):
            seq.add_block(gx, adc, pp.make_label(type="SET", label="REV", value=gx.amplitude < 0),
                          pp.make_label(type="SET", label="SEG", value=gx.amplitude < 0),
                          pp.make_label(type="SET", label="AVG", value=nav + 1 == 3))
            if nav + 1 != navigators:
                seq.add_block(pp.make_delay(pp.calc_duration(gy)))
            gx.amplitude = -gx.amplitude
        seq.add_block(gy_pre, pp.make_label(type="SET", label="LIN", value=0),
                      pp.make_label(type="SET", label="NAV", value=0), pp.make_label(type="SET", label="AVG", value=0))
        for _ in range(n):
            seq.add_block(pp.make_label(type="SET", label="REV", value=gx.amplitude < 0),
                          pp.make_label(type="SET", label="SEG", value=gx.amplitude < 0))
            seq.add_block(gx, adc)
            seq.add_block(gy, pp.make_label(type="INC", label="LIN", value=1))
            gx.amplitude = -gx.amplitude
        seq.add_block(gz_spoil, pp.make_delay(0.1), pp.make_label(type="INC", label="SLC", value=1))
        if (navigators + n) % 2:
            gx.amplitude = -gx.amplitude
    seq.set_definition("FOV", [fov, fov, thickness * n_slices])
    seq.set_definition("Name", "epi_lbl")
    seq.write(str(path))
    return path


def epi_se(path, n: int = 32):
    """write_epi_se.py: 256 mm FOV, 3 mm slice, 90 deg sinc and 180 deg block pulse between
    z spoilers, TE 60 ms, readout 0.32 ms per line; no FOV definition (as in the example)."""
    fov, te, pre_time = 256e-3, 60e-3, 8e-4
    system = pp.Opts(max_grad=32, grad_unit="mT/m", max_slew=130, slew_unit="T/m/s", rf_ringdown_time=20e-6,
                     rf_dead_time=100e-6, adc_dead_time=20e-6)
    seq = pp.Sequence(system)
    rf, gz, _ = _sinc(system, math.pi / 2, 3e-3, 3e-3)
    dk = 1 / fov
    gx = pp.make_trapezoid("x", system=system, flat_area=n * dk, flat_time=3.2e-4)
    adc = pp.make_adc(num_samples=n, system=system, duration=gx.flat_time, delay=gx.rise_time)
    gz_reph = pp.make_trapezoid("z", system=system, area=-gz.area / 2, duration=pre_time)
    gx_pre = pp.make_trapezoid("x", system=system, area=gx.area / 2 - dk / 2, duration=pre_time)
    gy_pre = pp.make_trapezoid("y", system=system, area=n / 2 * dk, duration=pre_time)
    gy = pp.make_trapezoid("y", system=system, area=dk,
                           duration=math.ceil(2 * math.sqrt(dk / system.max_slew) / 10e-6) * 10e-6)
    rf180 = pp.make_block_pulse(flip_angle=math.pi, delay=system.rf_dead_time, system=system, duration=500e-6,
                                use="refocusing")
    gz_spoil = pp.make_trapezoid("z", system=system, area=gz.area * 2, duration=3 * pre_time)
    to_centre = (n / 2 + 0.5) * pp.calc_duration(gx) + n / 2 * pp.calc_duration(gy)
    rf_centre = rf.delay + pp.calc_rf_center(rf)[0]
    rf180_centre = rf180.delay + pp.calc_rf_center(rf180)[0]
    delay_te1 = te / 2 - pp.calc_duration(gz) + rf_centre - pre_time - pp.calc_duration(gz_spoil) - rf180_centre
    delay_te2 = te / 2 - pp.calc_duration(rf180) + rf180_centre - pp.calc_duration(gz_spoil) - to_centre
    raster = system.grad_raster_time
    seq.add_block(rf, gz)
    seq.add_block(gx_pre, gy_pre, gz_reph)
    seq.add_block(pp.make_delay(round(delay_te1 / raster) * raster))
    seq.add_block(gz_spoil)
    seq.add_block(rf180)
    seq.add_block(gz_spoil)
    seq.add_block(pp.make_delay(round(delay_te2 / raster) * raster))
    for _ in range(n):
        seq.add_block(gx, adc)
        seq.add_block(gy)
        gx.amplitude = -gx.amplitude
    seq.add_block(pp.make_delay(1e-4))
    seq.write(str(path))
    return path


def epi_se_rs(path, n: int = 32):
    """write_epi_se_rs.py: 250 mm FOV, 3 mm slice, fat saturation, spin echo (TE 40 ms) with
    the refocusing slice gradient merged into its spoilers, ramp-sampled readouts (0.42 ms) with
    blips split over the line ends, partial Fourier 0.75; one slice instead of three."""
    fov, thickness, te, readout_time, partial = 250e-3, 3e-3, 40e-3, 4.2e-4, 0.75
    system = pp.Opts(max_grad=32, grad_unit="mT/m", max_slew=130, slew_unit="T/m/s", rf_ringdown_time=30e-6,
                     rf_dead_time=100e-6)
    seq = pp.Sequence(system)
    sat_hz = -3.45e-6 * 2.89 * system.gamma  # fat at -3.45 ppm, B0 2.89 T (the example's numbers)
    rf_fs = pp.make_gauss_pulse(flip_angle=math.radians(110), system=system, duration=8e-3, bandwidth=abs(sat_hz),
                                freq_offset=sat_hz, delay=system.rf_dead_time, use="saturation")
    gz_fs = pp.make_trapezoid("z", system=system, delay=pp.calc_duration(rf_fs), area=1 / 1e-4)
    rf, gz, gz_reph = _sinc(system, math.pi / 2, 2e-3, thickness)
    rf180, gz180, _ = _sinc(system, math.pi, 2e-3, thickness, phase_offset=math.pi / 2, use="refocusing")
    _, t1, a1 = pp.make_extended_trapezoid_area(channel="z", grad_start=0, grad_end=gz180.amplitude,
                                                area=1.5 * gz.area, system=system)
    _, t2, a2 = pp.make_extended_trapezoid_area(channel="z", grad_start=gz180.amplitude, grad_end=0,
                                                area=-gz_reph.area + 1.5 * gz.area, system=system)
    if gz180.delay > t1[3] - gz180.rise_time:
        gz180.delay -= t1[3] - gz180.rise_time
    else:
        rf180.delay += (t1[3] - gz180.rise_time) - gz180.delay
    gz180n = pp.make_extended_trapezoid(channel="z", system=system, amplitudes=np.array([*a1, *a2]),
                                        times=np.array([*t1, *t1[3] + gz180.flat_time + t2]) + gz180.delay)
    dk = 1 / fov
    blip_s = math.ceil(2 * math.sqrt(dk / system.max_slew) / 10e-6 / 2) * 10e-6 * 2
    gy = pp.make_trapezoid("y", system=system, area=-dk, duration=blip_s)
    gx = pp.make_trapezoid("x", system=system, area=n * dk + blip_s**2 / 4 * system.max_slew,
                           duration=readout_time + blip_s)
    actual = gx.area - gx.amplitude / gx.rise_time * blip_s**2 / 8 - gx.amplitude / gx.fall_time * blip_s**2 / 8
    gx.amplitude = gx.amplitude / actual * n * dk
    gx.area = gx.amplitude * (gx.flat_time + gx.rise_time / 2 + gx.fall_time / 2)
    gx.flat_area = gx.amplitude * gx.flat_time
    dwell = math.floor(dk / gx.amplitude * 1e7) * 1e-7
    samples = math.floor(readout_time / dwell / 4) * 4
    adc = pp.make_adc(num_samples=samples, dwell=dwell, delay=blip_s / 2)
    adc.delay = round((gx.rise_time + gx.flat_time / 2 - dwell * (samples / 2)) * 1e6) * 1e-6
    gy_parts = pp.split_gradient_at(grad=gy, time_point=blip_s / 2, system=system)
    blip_up, blip_down, _ = pp.align(right=gy_parts[0], left=[gy_parts[1], gx])
    blip_downup = pp.add_gradients((blip_down, blip_up), system=system)
    lines_pre, lines_post = round(partial * n / 2 - 1), round(n / 2 + 1)
    gx_pre = pp.make_trapezoid("x", system=system, area=-gx.area / 2)
    gy_pre = pp.make_trapezoid("y", system=system, area=lines_pre * dk)
    gx_pre, gy_pre = pp.align(right=gx_pre, left=gy_pre)
    gy_pre = pp.make_trapezoid("y", system=system, area=gy_pre.area, duration=pp.calc_duration(gx_pre, gy_pre))
    raster = system.grad_raster_time
    rf_centre = rf.delay + pp.calc_rf_center(rf)[0]
    rf180_centre = rf180.delay + pp.calc_rf_center(rf180)[0]
    delay_te1 = math.ceil((te / 2 - pp.calc_duration(rf, gz) + rf_centre - rf180_centre) / raster) * raster
    delay_te2 = math.ceil((te / 2 - pp.calc_duration(rf180, gz180n) + rf180_centre
                           - (lines_pre + 0.5) * pp.calc_duration(gx)) / raster) * raster
    delay_te2 += pp.calc_duration(rf180, gz180n)
    gx_pre.delay = delay_te2 - pp.calc_duration(gx_pre)
    gy_pre.delay = pp.calc_duration(rf180)
    seq.add_block(rf_fs, gz_fs)
    seq.add_block(rf, gz)
    seq.add_block(pp.make_delay(delay_te1))
    seq.add_block(rf180, gz180n, pp.make_delay(delay_te2), gx_pre, gy_pre)
    lines = lines_pre + lines_post
    for line in range(1, lines + 1):
        blip = blip_up if line == 1 else blip_down if line == lines else blip_downup
        seq.add_block(gx, blip, adc)
        gx.amplitude = -gx.amplitude
    seq.set_definition("FOV", [fov, fov, thickness])
    seq.set_definition("Name", "epi")
    seq.write(str(path))
    return path


def _fast_spin_echo(seq, system, n: int, echoes: int, phase_lines: list[list[float]], fov: float):
    """Echo trains of write_tse.py / write_haste.py: 90 deg excitation (phase 90 deg), 180 deg
    refocusing pulses (phase 0) on one slice-select level, readouts between read spoilers;
    ``phase_lines``: the k_y (in units of 1/FOV) of each echo, one list per train, None for a
    train without ADC. 5 mm slice, TE 12 ms, 6.4 ms sampling, TR 2 s, extended trapezoids
    with 250 us ramps, read spoiler 1x and slice spoiler 0.5x the excitation moment."""
    d_g, thickness, te, tr, sampling = 250e-6, 5e-3, 12e-3, 2.0, 6.4e-3
    readout_time = sampling + 2 * system.adc_dead_time
    t_exwd = 2.5e-3 + system.rf_ringdown_time + system.rf_dead_time
    t_refwd = 2e-3 + system.rf_ringdown_time + system.rf_dead_time
    t_sp = 0.5 * (te - readout_time - t_refwd)
    t_spex = 0.5 * (te - t_exwd - t_refwd)
    rf_ex, gz, _ = _sinc(system, math.pi / 2, 2.5e-3, thickness, phase_offset=math.pi / 2)
    gs_ex = pp.make_trapezoid("z", system=system, amplitude=gz.amplitude, flat_time=t_exwd, rise_time=d_g)
    rf_ref, _, _ = _sinc(system, math.pi, 2e-3, thickness, phase_offset=0.0, use="refocusing")
    gs_ref = pp.make_trapezoid("z", system=system, amplitude=gs_ex.amplitude, flat_time=t_refwd, rise_time=d_g)
    gs_spr = pp.make_trapezoid("z", system=system, area=gs_ex.area / 2 * 1.5, duration=t_sp, rise_time=d_g)
    gs_spex = pp.make_trapezoid("z", system=system, area=gs_ex.area / 2 * 0.5, duration=t_spex, rise_time=d_g)
    dk = 1 / fov
    gr_acq = pp.make_trapezoid("x", system=system, flat_area=n * dk, flat_time=readout_time, rise_time=d_g)
    adc = pp.make_adc(num_samples=n, duration=sampling, delay=system.adc_dead_time, system=system)
    gr_spr = pp.make_trapezoid("x", system=system, area=gr_acq.area, duration=t_sp, rise_time=d_g)
    gr_preph = pp.make_trapezoid("x", system=system, area=gr_acq.area / 2 + gr_spr.area, duration=t_spex,
                                 rise_time=d_g)

    def ramp(channel, trap, start, end):
        times = np.array([0, trap.rise_time, trap.rise_time + trap.flat_time,
                          trap.rise_time + trap.flat_time + trap.fall_time])
        return pp.make_extended_trapezoid(channel=channel, times=times,
                                          amplitudes=np.array([start, trap.amplitude, trap.amplitude, end]))

    def flat(channel, amplitude, duration):
        return pp.make_extended_trapezoid(channel=channel, times=np.array([0, duration]),
                                          amplitudes=np.array([amplitude, amplitude]))

    gs1 = pp.make_extended_trapezoid(channel="z", times=np.array([0, gs_ex.rise_time]),
                                     amplitudes=np.array([0, gs_ex.amplitude]))
    gs2 = flat("z", gs_ex.amplitude, gs_ex.flat_time)
    gs3 = ramp("z", gs_spex, gs_ex.amplitude, gs_ref.amplitude)
    gs4 = flat("z", gs_ref.amplitude, gs_ref.flat_time)
    gs5 = ramp("z", gs_spr, gs_ref.amplitude, 0)
    gs7 = ramp("z", gs_spr, 0, gs_ref.amplitude)
    gr5 = ramp("x", gr_spr, 0, gr_acq.amplitude)
    gr6 = flat("x", gr_acq.amplitude, readout_time)
    gr7 = ramp("x", gr_spr, gr_acq.amplitude, 0)
    train_s = (pp.calc_duration(gs1) + pp.calc_duration(gs2) + pp.calc_duration(gs3)
               + echoes * (pp.calc_duration(gs4) + pp.calc_duration(gs5) + pp.calc_duration(gs7) + readout_time)
               + pp.calc_duration(gs4) + pp.calc_duration(gs5))
    delay_tr = pp.make_delay(system.grad_raster_time * round((tr - train_s) / system.grad_raster_time))
    for lines in phase_lines:
        seq.add_block(gs1)
        seq.add_block(rf_ex, gs2)
        seq.add_block(gs3, gr_preph)
        for echo in range(echoes):
            area = 0.0 if lines is None else lines[echo] * dk
            seq.add_block(rf_ref, gs4)
            seq.add_block(gr5, pp.make_trapezoid("y", system=system, area=area, duration=t_sp, rise_time=d_g), gs5)
            seq.add_block(gr6, adc) if lines is not None else seq.add_block(gr6)
            seq.add_block(gr7, pp.make_trapezoid("y", system=system, area=-area, duration=t_sp, rise_time=d_g), gs7)
        seq.add_block(gs4)
        seq.add_block(gs5)
        seq.add_block(delay_tr)


def _tse_system():
    return pp.Opts(max_grad=32, grad_unit="mT/m", max_slew=130, slew_unit="T/m/s", rf_ringdown_time=100e-6,
                   rf_dead_time=100e-6, adc_dead_time=10e-6)


def tse(path, n: int = 32, echoes: int = 8):
    """write_tse.py: 256 mm FOV, trains of ``echoes`` echoes (16 in the example) after one
    train without ADC, lines interleaved across trains with the centre line in the middle of
    the echo train (the example's ordering); no FOV definition (as in the example)."""
    system = _tse_system()
    seq = pp.Sequence(system)
    trains = n // echoes
    steps = np.arange(1, echoes * trains + 1) - 0.5 * echoes * trains - 1
    if echoes % 2 == 0:
        steps = np.roll(steps, -round(trains / 2))
    order = steps.reshape((trains, echoes), order="F").T
    _fast_spin_echo(seq, system, n, echoes, [None] + [list(order[:, t]) for t in range(trains)], 256e-3)
    seq.write(str(path))
    return path


def haste(path, n: int = 32, lines_before: int = 4):
    """write_haste.py: one echo train of n/2 + ``lines_before`` echoes (8 in the example for
    64 lines), k_y from -lines_before/FOV upwards (half Fourier), 170 T/m/s, 30 mT/m, 256 mm
    FOV; no FOV definition (as in the example)."""
    system = pp.Opts(max_grad=30, grad_unit="mT/m", max_slew=170, slew_unit="T/m/s", rf_ringdown_time=100e-6,
                     rf_dead_time=100e-6, adc_dead_time=10e-6)
    seq = pp.Sequence(system)
    echoes = n // 2 + lines_before
    _fast_spin_echo(seq, system, n, echoes, [list(np.arange(-lines_before, echoes - lines_before))], 256e-3)
    seq.write(str(path))
    return path


def radial_gre(path, n: int = 32, spokes: int = 64, dummies: int = 4):
    """write_radial_gre.py: 260 mm FOV, 3 mm slice, 10 deg, TE 8 ms, TR 20 ms, spokes over
    180 deg rotated about z with pp.rotate, prephaser -area/2 - dk/2; 4 dummy spokes instead of
    20, 64 spokes for 32 samples (60 for 64 in the example: fewer streaks)."""
    fov, thickness, te, tr = 260e-3, 3e-3, 8e-3, 20e-3
    system = pp.Opts(max_grad=28, grad_unit="mT/m", max_slew=120, slew_unit="T/m/s", rf_ringdown_time=20e-6,
                     rf_dead_time=100e-6, adc_dead_time=10e-6)
    seq = pp.Sequence(system)
    rf, gz, _ = _sinc(system, math.radians(10), 4e-3, thickness)
    dk = 1 / fov
    gx = pp.make_trapezoid("x", flat_area=n * dk, flat_time=6.4e-3 / 5, system=system)
    adc = pp.make_adc(num_samples=n, duration=gx.flat_time, delay=gx.rise_time, system=system)
    gx_pre = pp.make_trapezoid("x", area=-gx.area / 2 - dk / 2, duration=2e-3, system=system)
    gz_reph = pp.make_trapezoid("z", area=-gz.area / 2, duration=2e-3, system=system)
    gx_spoil = pp.make_trapezoid("x", area=0.5 * n * dk, system=system)
    gz_spoil = pp.make_trapezoid("z", area=4 / thickness, system=system)
    raster = seq.grad_raster_time
    delay_te = math.ceil((te - pp.calc_duration(gx_pre) - gz.fall_time - gz.flat_time / 2
                          - pp.calc_duration(gx) / 2) / raster) * raster
    delay_tr = math.ceil((tr - pp.calc_duration(gx_pre) - pp.calc_duration(gz) - pp.calc_duration(gx)
                          - delay_te) / raster) * raster
    for i, phase in zip(range(-dummies, spokes + 1), _rf_spoil_phases(dummies + spokes + 1)):
        rf.phase_offset = adc.phase_offset = phase
        seq.add_block(rf, gz)
        phi = math.pi / spokes * (i - 1)
        seq.add_block(*pp.rotate(gx_pre, gz_reph, angle=phi, axis="z"))
        seq.add_block(pp.make_delay(delay_te))
        seq.add_block(*pp.rotate(gx, adc, angle=phi, axis="z") if i > 0 else pp.rotate(gx, angle=phi, axis="z"))
        seq.add_block(*pp.rotate(gx_spoil, gz_spoil, pp.make_delay(delay_tr), angle=phi, axis="z"))
    seq.set_definition("FOV", [fov, fov, thickness])
    seq.set_definition("Name", "gre_rad")
    seq.write(str(path))
    return path


def ute(path, n: int = 32, spokes: int = 64):
    """write_ute.py: 250 mm FOV, 3 mm slice, 10 deg half-pulse pairs (slice gradient sign
    alternating), half-echo centre-out spokes over 360 deg, readout 2x oversampled over
    2.56 ms, TR 10 ms, 100 T/m/s; 64 spokes for 32 samples (32 for 64 in the example: fewer
    streaks)."""
    fov, thickness, tr, duration, oversampling = 250e-3, 3e-3, 10e-3, 2.56e-3, 2
    system = pp.Opts(max_grad=28, grad_unit="mT/m", max_slew=100, slew_unit="T/m/s", rf_ringdown_time=20e-6,
                     rf_dead_time=100e-6, adc_dead_time=10e-6)
    seq = pp.Sequence(system)
    rf, gz, gz_reph = _sinc(system, math.radians(10), 1e-3, thickness, time_bw_product=2, center_pos=1)
    samples = round(oversampling * n)
    asymmetry = pp.round_half_up(samples / 2) / samples * 2
    dk = 1 / fov / (1 + asymmetry)
    ro_area = n * dk
    gx = pp.make_trapezoid("x", flat_area=ro_area, flat_time=duration, system=system)
    adc = pp.make_adc(num_samples=samples, duration=gx.flat_time, delay=gx.rise_time, system=system)
    gx_pre = pp.make_trapezoid("x", area=-(gx.area - ro_area) / 2 - gx.amplitude * adc.dwell / 2
                               - ro_area / 2 * (1 - asymmetry), system=system)
    gx_spoil = pp.make_trapezoid("x", area=0.2 * n * dk, system=system)
    raster = seq.grad_raster_time
    delay_tr = math.ceil((tr - pp.calc_duration(gx_pre, gz_reph) - pp.calc_duration(gz) - pp.calc_duration(gx))
                         / raster) * raster
    if pp.calc_duration(gz_reph) > pp.calc_duration(gx_pre):
        gx_pre.delay = pp.calc_duration(gz_reph) - pp.calc_duration(gx_pre)

    def turned(grad, phi):
        cos, sin = copy(grad), copy(grad)
        cos.amplitude, sin.amplitude, sin.channel = grad.amplitude * math.cos(phi), grad.amplitude * math.sin(phi), "y"
        return cos, sin

    phases = _rf_spoil_phases(2 * spokes)
    for i in range(spokes):
        for _ in range(2):
            rf.phase_offset = adc.phase_offset = next(phases)
            gz.amplitude, gz_reph.amplitude = -gz.amplitude, -gz_reph.amplitude
            seq.add_block(rf, gz)
            phi = 2 * math.pi / spokes * i
            seq.add_block(*turned(gx_pre, phi), gz_reph)
            seq.add_block(*turned(gx, phi), adc)
            seq.add_block(*turned(gx_spoil, phi), pp.make_delay(delay_tr))
    seq.set_definition("FOV", [fov, fov, thickness])
    seq.set_definition("Name", "UTE")
    seq.write(str(path))
    return path


def mprage(path, matrix=(12, 16, 16), ti: float = 0.11, tr_out: float = 0.25):
    """write_mprage.py: 3D, FOV (192, 240, 256) mm along (x, y, z), readout along z (5.02 ms),
    inner phase encoding along x, outer along y with one inversion (hyperbolic secant) per
    outer step, 7 deg block pulses, read spoiler 3x k_max, LIN/PAR labels; matrix (12, 16, 16)
    instead of (48, 60, 64), TI 0.11 s and outer TR 0.25 s (1.1 and 2.5 s in the example) to
    keep the simulation short; no FOV definition (as in the example)."""
    system = pp.Opts(max_grad=24, grad_unit="mT/m", max_slew=100, slew_unit="T/m/s", rf_ringdown_time=20e-6,
                     rf_dead_time=100e-6, adc_dead_time=10e-6)
    seq = pp.Sequence(system)
    ro_dur = 5017.6e-6
    fov = np.array([192, 240, 256]) * 1e-3
    n1, n2, n3 = 2, 0, 1  # readout z, inner phase encoding x, outer y
    rf = pp.make_block_pulse(flip_angle=math.radians(7), system=system, duration=100e-6, delay=system.rf_dead_time,
                             use="excitation")
    rf180 = pp.make_adiabatic_pulse(pulse_type="hypsec", system=system, duration=10.24e-3, dwell=1e-5,
                                    delay=system.rf_dead_time, use="inversion")
    dk = 1 / fov
    axis = "xyz"
    gro = pp.make_trapezoid(channel=axis[n1], amplitude=matrix[n1] * dk[n1] / ro_dur, system=system,
                            flat_time=math.ceil((ro_dur + system.adc_dead_time) / system.grad_raster_time)
                            * system.grad_raster_time)
    adc = pp.make_adc(num_samples=matrix[n1], duration=ro_dur, delay=gro.rise_time, system=system)
    gro_pre = pp.make_trapezoid(channel=axis[n1], system=system,
                                area=-gro.amplitude * (adc.dwell * (adc.num_samples / 2 + 0.5) + 0.5 * gro.rise_time))
    gpe1 = pp.make_trapezoid(channel=axis[n2], area=-dk[n2] * (matrix[n2] / 2), system=system)
    gpe2 = pp.make_trapezoid(channel=axis[n3], area=-dk[n3] * (matrix[n3] / 2), system=system)
    gsl_sp = pp.make_trapezoid(channel=axis[n3], area=np.max(dk * matrix) * 4, duration=10e-3, system=system)
    gro1, _ = pp.split_gradient_at(grad=gro, time_point=gro.rise_time + gro.flat_time)
    gro_sp = pp.make_extended_trapezoid_area(channel=gro.channel, grad_start=gro.amplitude, grad_end=0,
                                             area=dk[n1] / 2 * matrix[n1] * 3, system=system)[0]
    rf.delay = pp.calc_duration(gro_sp, gpe1, gpe2)
    gro_pre, _, _ = pp.align(right=[gro_pre, gpe1, gpe2])
    gro1.delay = pp.calc_duration(gro_pre)
    adc.delay = gro1.delay + gro.rise_time
    gro1 = pp.add_gradients(grads=[gro1, gro_pre], system=system)
    tr_inner = pp.calc_duration(rf) + pp.calc_duration(gro1)
    pe1_steps = (np.arange(matrix[n2]) - matrix[n2] / 2) / matrix[n2] * 2
    pe2_steps = (np.arange(matrix[n3]) - matrix[n3] / 2) / matrix[n3] * 2
    raster = system.block_duration_raster
    ti_delay = round((ti - np.flatnonzero(pe1_steps == 0)[0] * tr_inner
                      - (pp.calc_duration(rf180) - pp.calc_rf_center(rf180)[0] - rf180.delay)
                      - rf.delay - pp.calc_rf_center(rf)[0]) / raster) * raster
    tr_out_delay = round((tr_out - tr_inner * matrix[n2] - ti_delay - pp.calc_duration(rf180)) / raster) * raster
    for j in range(matrix[n3]):
        seq.add_block(rf180)
        seq.add_block(pp.make_delay(ti_delay), gsl_sp)
        gpe2je = pp.scale_grad(grad=gpe2, scale=pe2_steps[j])
        gpe2jr = pp.scale_grad(grad=gpe2, scale=-pe2_steps[j])
        for i, phase in zip(range(matrix[n2]), _rf_spoil_phases(matrix[n2])):
            rf.phase_offset = adc.phase_offset = phase
            if i == 0:
                seq.add_block(rf)
            else:
                seq.add_block(rf, gro_sp, pp.scale_grad(grad=gpe1, scale=-pe1_steps[i - 1]), gpe2jr,
                              pp.make_label(type="INC", label="PAR", value=1))
            seq.add_block(adc, gro1, pp.scale_grad(grad=gpe1, scale=pe1_steps[i]), gpe2je)
        seq.add_block(gro_sp, pp.make_delay(tr_out_delay), pp.make_label(type="SET", label="PAR", value=0),
                      pp.make_label(type="INC", label="LIN", value=1))
    seq.write(str(path))
    return path


def t1_mprage_2d(path, n: int = 32, n_slices: int = 3):
    """write_2Dt1_mprage.py: 220 mm FOV, three 5 mm slices 15 mm apart (RF frequency offsets),
    each line after a 90 deg block preparation pulse and spoilers, TI 140 ms, TE 13 ms,
    TR 65 ms, 12 deg sinc excitation, 6.4 ms readout; delays rounded to the 10 us raster (the
    example's are not, which pypulseq's writer refuses); no FOV definition (as in the example)."""
    system = pp.Opts(max_grad=32, grad_unit="mT/m", max_slew=130, slew_unit="T/m/s", grad_raster_time=10e-6,
                     rf_ringdown_time=10e-6, rf_dead_time=100e-6)
    seq = pp.Sequence(system)
    fov, thickness, gap = 220e-3, 5e-3, 15e-3
    positions = np.linspace(-n_slices * gap / 2, n_slices * gap / 2, n_slices)
    rf, gz, _ = _sinc(system, math.radians(12), 2e-3, thickness)
    rf90 = pp.make_block_pulse(flip_angle=math.pi / 2, system=system, duration=500e-6, delay=system.rf_dead_time,
                               use="preparation")
    dk = 1 / fov
    gx = pp.make_trapezoid("x", system=system, flat_area=n * dk, flat_time=6.4e-3)
    adc = pp.make_adc(num_samples=n, duration=gx.flat_time, delay=gx.rise_time)
    areas = (np.arange(n) - n / 2) * dk
    gy_pre = pp.make_trapezoid("y", system=system, area=areas[-1], duration=2e-3)
    gx_pre = pp.make_trapezoid("x", system=system, area=-gx.area / 2, duration=2e-3)
    gz_reph = pp.make_trapezoid("z", system=system, area=-gz.area / 2, duration=2e-3)
    spoilers = [pp.make_trapezoid(c, system=system, area=gz.area * 4, duration=3.2e-3) for c in "xyz"]
    te, ti, tr = 13e-3, 140e-3, 65e-3

    def delay(seconds):
        return pp.make_delay(round(seconds / system.block_duration_raster) * system.block_duration_raster)

    delay_te = delay(te - pp.calc_duration(rf) / 2 - pp.calc_duration(gy_pre) - pp.calc_duration(gx) / 2)
    delay_ti = delay(ti - pp.calc_duration(rf90) / 2 - pp.calc_duration(spoilers[0]))
    delay_tr = delay(tr - pp.calc_duration(rf) / 2 - pp.calc_duration(gx) / 2 - pp.calc_duration(gy_pre) - te)
    for z in positions:
        rf.freq_offset = gz.amplitude * z
        for area in areas:
            seq.add_block(rf90)
            seq.add_block(*spoilers)
            seq.add_block(delay_ti)
            seq.add_block(rf, gz)
            seq.add_block(gx_pre, pp.make_trapezoid("y", system=system, area=area, duration=2e-3), gz_reph)
            seq.add_block(delay_te)
            seq.add_block(gx, adc)
            seq.add_block(spoilers[0], pp.make_trapezoid("y", system=system, area=-area, duration=2e-3))
            seq.add_block(delay_tr)
    seq.set_definition("Name", "2D T1 MPRAGE")
    seq.write(str(path))
    return path
