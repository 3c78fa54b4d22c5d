"""Small pypulseq sequences for the simulator tests (each in the regime of its closed form)."""

from __future__ import annotations

import math

import numpy as np
import pypulseq as pp

from harmoniq.phantoms.base import Phantom
from harmoniq.simulation.coils import LoopArray
from harmoniq.simulation.fields import B0Model, B1Model
from harmoniq.simulation.scanner_model import NoiseModel, ScannerModel

HARD_PULSE_S = 40e-6
HALF_PULSE_S = HARD_PULSE_S / 2
DWELL_S = 20e-6
SAMPLE_LEAD_S = 20e-6  # from the start of a one-sample ADC block to its sample
SAMPLE_TAIL_S = 10e-6  # from the sample to the end of that block


def system(**overrides) -> pp.Opts:
    settings = dict(max_grad=40, grad_unit="mT/m", max_slew=150, slew_unit="T/m/s", rf_ringdown_time=0,
                    rf_dead_time=0, adc_dead_time=0)
    settings.update(overrides)
    return pp.Opts(**settings)


def ideal_scanner(b1: float = 1.0, field_t: float = 3.0) -> ScannerModel:
    """No B0 offset, uniform transmit scale ``b1``, one channel, no gradient delays."""
    return ScannerModel(name="ideal", profile="ideal", vendor="none", model="none", field_t=field_t, description="",
                        b0=B0Model(), b1=B1Model(centre=b1, edge=b1), coils=LoopArray(1, 1, 0.2, 0.05, 0.0, 0.0),
                        noise=NoiseModel(1.0, 0.0, 0.0), gradient_delays_s=(0.0, 0.0, 0.0),
                        raw_data_conjugated=False)


def uniform_phantom(shape=(1, 1, 1), t1=1.0, t2=0.1, t2prime=np.inf, voxel_m=(1e-3, 1e-3, 1e-3)) -> Phantom:
    ones = np.ones(shape)
    return Phantom(name="uniform", field_t=3.0, pd=ones, t1_s=t1 * ones, t2_s=t2 * ones,
                   t2prime_s=t2prime * ones, offres_hz=0 * ones, labels=ones.astype(int), rois={},
                   voxel_size_m=voxel_m)


def _hard(flip_deg: float, sys, phase_deg: float = 0.0, use: str = "excitation"):
    return pp.make_block_pulse(math.radians(flip_deg), duration=HARD_PULSE_S, phase_offset=math.radians(phase_deg),
                               system=sys, use=use)


def _sample(seq, sys, phase_rad: float = 0.0):
    """A block with one ADC sample ``SAMPLE_LEAD_S`` after its start (``SAMPLE_TAIL_S`` before its end)."""
    seq.add_block(pp.make_adc(1, dwell=DWELL_S, delay=SAMPLE_LEAD_S - DWELL_S / 2, system=sys, phase_offset=phase_rad))


def _delay(seq, seconds: float) -> None:
    if seconds > 1e-9:
        seq.add_block(pp.make_delay(round(seconds * 1e5) * 1e-5))


def fid_train(flip_deg: float, tr: float, te: float, repetitions: int, spoil_area: float = 0.0,
              rf_spoil_deg: float = 0.0) -> pp.Sequence:
    """Hard pulses every ``tr``; one sample ``te`` after each pulse centre; optional spoiler on z."""
    sys = system()
    seq = pp.Sequence(sys)
    phase = increment = 0.0
    spoiler = pp.make_trapezoid("z", area=spoil_area, duration=1e-3, system=sys) if spoil_area else None
    for _ in range(repetitions):
        seq.add_block(_hard(flip_deg, sys, phase))
        _delay(seq, te - HALF_PULSE_S - SAMPLE_LEAD_S)
        _sample(seq, sys, math.radians(phase))
        rest = tr - te - HALF_PULSE_S - SAMPLE_TAIL_S
        if spoiler is not None:
            seq.add_block(spoiler)
            rest -= 1e-3
        _delay(seq, rest)
        increment += rf_spoil_deg
        phase = (phase + increment) % 360.0
    return seq


def inversion_recovery(ti: float, tr: float, te: float, repetitions: int) -> pp.Sequence:
    """Hard 180 - TI - hard 90 - sample at TE - spoiler - rest of TR (inversion to inversion)."""
    sys = system()
    seq = pp.Sequence(sys)
    spoiler = pp.make_trapezoid("z", area=2e3, duration=2e-3, system=sys)
    for _ in range(repetitions):
        seq.add_block(_hard(180, sys, use="inversion"))
        seq.add_block(spoiler)
        _delay(seq, ti - HARD_PULSE_S - 2e-3)
        seq.add_block(_hard(90, sys))
        _delay(seq, te - HALF_PULSE_S - SAMPLE_LEAD_S)
        _sample(seq, sys)
        seq.add_block(spoiler)
        _delay(seq, tr - ti - HALF_PULSE_S - te - SAMPLE_TAIL_S - 2e-3)
    return seq


def cpmg(esp: float, echoes: int, refocus_deg: float = 180.0, crusher_area: float = 0.0) -> pp.Sequence:
    """90x, then 180y pulses at ESP/2 + n ESP, one sample at every echo; crushers around each 180."""
    sys = system()
    seq = pp.Sequence(sys)
    crusher = pp.make_trapezoid("z", area=crusher_area, duration=1e-3, system=sys) if crusher_area else None
    crush_s = 1e-3 if crusher is not None else 0.0
    seq.add_block(_hard(90, sys))
    _delay(seq, esp / 2 - HARD_PULSE_S - crush_s)
    for _ in range(echoes):
        if crusher is not None:
            seq.add_block(crusher)
        seq.add_block(_hard(refocus_deg, sys, phase_deg=90.0, use="refocusing"))
        if crusher is not None:
            seq.add_block(crusher)
        _delay(seq, esp / 2 - HALF_PULSE_S - crush_s - SAMPLE_LEAD_S)
        _sample(seq, sys)
        _delay(seq, esp / 2 - HALF_PULSE_S - crush_s - SAMPLE_TAIL_S)
    return seq


def bssfp(flip_deg: float, tr: float, repetitions: int) -> pp.Sequence:
    """Balanced SSFP without gradients: alternating-phase hard pulses, one sample at TR/2."""
    sys = system()
    seq = pp.Sequence(sys)
    for n in range(repetitions):
        phase = 180.0 * (n % 2)
        seq.add_block(_hard(flip_deg, sys, phase))
        _delay(seq, tr / 2 - HALF_PULSE_S - SAMPLE_LEAD_S)
        _sample(seq, sys, math.radians(phase))
        _delay(seq, tr / 2 - HALF_PULSE_S - SAMPLE_TAIL_S)
    return seq


def slice_profile(flip_deg: float, thickness: float, fov: float, samples: int) -> pp.Sequence:
    """Sinc excitation (time-bandwidth 4, Hamming-apodised) then a readout along the slice axis."""
    sys = system(rf_dead_time=100e-6, rf_ringdown_time=20e-6, adc_dead_time=10e-6)
    seq = pp.Sequence(sys)
    rf, gz, gz_rephase = pp.make_sinc_pulse(math.radians(flip_deg), duration=3e-3, slice_thickness=thickness,
                                            apodization=0.5, time_bw_product=4, system=sys, return_gz=True, delay=100e-6,
                                            use="excitation")
    read = pp.make_trapezoid("z", flat_area=samples / fov, flat_time=samples * 40e-6, system=sys)
    adc = pp.make_adc(samples, duration=read.flat_time, delay=read.rise_time, system=sys)
    prephase = pp.make_trapezoid("z", area=-read.area / 2 + gz_rephase.area, duration=8e-3, system=sys)
    seq.add_block(rf, gz)
    seq.add_block(prephase)
    seq.add_block(read, adc)
    return seq


def echo_signals(seq, phantom: Phantom, scanner: ScannerModel | None = None, sampling=None) -> np.ndarray:
    """First sample of every readout, for a uniform receive coil, per unit of magnetisation."""
    from harmoniq.simulation.engine import EngineOptions, run
    from harmoniq.simulation.spins import SpinModel, SpinSampling
    from harmoniq.simulation.timeline import compile_sequence

    scanner = scanner or ideal_scanner()
    timeline = compile_sequence(seq, scanner.field_t, scanner.gradient_delays_s)
    spins = SpinModel(phantom, scanner, timeline, sampling or SpinSampling(per_voxel=(1, 1, 1)))
    coils = np.ones((1,) + spins.voxel_shape)
    out = run(timeline, spins, coils, options=EngineOptions(double_precision=True))
    total = float(phantom.pd.sum()) * np.prod(phantom.voxel_size_m) * 1e9
    return np.array([s[0, 0] for s in out]) / total


def example_gre(n: int = 32, fov: float = 256e-3, labels: bool = False) -> pp.Sequence:
    """A spoiled GRE written like pypulseq's ``write_gre.py`` example (optionally with LIN labels)."""
    thickness, tr, te, alpha, spoil_inc = 3e-3, 12e-3, 5e-3, 10.0, 117.0
    sys = system(max_grad=28, rf_ringdown_time=20e-6, rf_dead_time=100e-6, adc_dead_time=10e-6)
    seq = pp.Sequence(sys)
    rf, gz, _ = pp.make_sinc_pulse(math.radians(alpha), duration=3e-3, slice_thickness=thickness, apodization=0.42,
                                   time_bw_product=4, system=sys, return_gz=True, delay=sys.rf_dead_time,
                                   use="excitation")
    dk = 1 / fov
    gx = pp.make_trapezoid("x", flat_area=n * dk, flat_time=3.2e-3, system=sys)
    adc = pp.make_adc(n, duration=gx.flat_time, delay=gx.rise_time, system=sys)
    gx_pre = pp.make_trapezoid("x", area=-gx.area / 2, duration=1e-3, system=sys)
    gz_reph = pp.make_trapezoid("z", area=-gz.area / 2, duration=1e-3, system=sys)
    phase_areas = (np.arange(n) - n / 2) * dk
    gx_spoil = pp.make_trapezoid("x", area=2 * n * dk, system=sys)
    gz_spoil = pp.make_trapezoid("z", area=4 / thickness, system=sys)
    raster = sys.grad_raster_time
    delay_te = math.ceil((te - pp.calc_duration(gx_pre) - gz.fall_time - gz.flat_time / 2
                          - pp.calc_duration(gx) / 2) / raster) * raster
    delay_tr = math.ceil((tr - pp.calc_duration(gz) - pp.calc_duration(gx_pre) - pp.calc_duration(gx)
                          - delay_te) / raster) * raster
    rf_phase = rf_inc = 0.0
    for i in range(n):
        rf.phase_offset = adc.phase_offset = math.radians(rf_phase)
        rf_inc = (rf_inc + spoil_inc) % 360.0
        rf_phase = (rf_phase + rf_inc) % 360.0
        seq.add_block(rf, gz)
        gy_pre = pp.make_trapezoid("y", area=phase_areas[i], duration=pp.calc_duration(gx_pre), system=sys)
        seq.add_block(gx_pre, gy_pre, gz_reph)
        seq.add_block(pp.make_delay(delay_te))
        seq.add_block(gx, adc, *([pp.make_label(type="SET", label="LIN", value=i)] if labels else []))
        gy_pre.amplitude = -gy_pre.amplitude
        seq.add_block(pp.make_delay(delay_tr), gx_spoil, gy_pre, gz_spoil)
    seq.set_definition("FOV", [fov, fov, thickness])
    seq.set_definition("Name", "gre")
    if labels:
        seq.set_definition("Matrix", [n, n, 1])
        seq.set_definition("TR", tr)
        seq.set_definition("TE", [te])
        seq.set_definition("FlipAngle", [alpha])
    return seq


def radial_gre(n: int = 32, spokes: int = 24, fov: float = 256e-3) -> pp.Sequence:
    """A radial spoiled GRE (one spoke per TR, angles over 180 degrees), like pypulseq's radial example."""
    thickness = 5e-3
    sys = system(max_grad=28, rf_ringdown_time=20e-6, rf_dead_time=100e-6, adc_dead_time=10e-6)
    seq = pp.Sequence(sys)
    rf, gz, gz_reph = pp.make_sinc_pulse(math.radians(10), duration=2e-3, slice_thickness=thickness,
                                         apodization=0.5, time_bw_product=4, system=sys, return_gz=True,
                                         delay=sys.rf_dead_time, use="excitation")
    dk = 1 / fov
    gx = pp.make_trapezoid("x", flat_area=n * dk, flat_time=3.2e-3, system=sys)
    adc = pp.make_adc(n, duration=gx.flat_time, delay=gx.rise_time, system=sys)
    gx_pre = pp.make_trapezoid("x", area=-gx.area / 2, duration=1.5e-3, system=sys)
    spoil = pp.make_trapezoid("z", area=4 / thickness, duration=2e-3, system=sys)
    for i in range(spokes):
        phi = math.pi * i / spokes
        seq.add_block(rf, gz)
        seq.add_block(*pp.rotate(gx_pre, gz_reph, angle=phi, axis="z"))
        seq.add_block(*pp.rotate(gx, adc, angle=phi, axis="z"))
        seq.add_block(spoil, pp.make_delay(5e-3))
    seq.set_definition("FOV", [fov, fov, thickness])
    seq.set_definition("Name", "radial")
    return seq


def ir_spin_echo(n: int = 128, inversion_times=(0.05, 0.1, 0.2, 0.4, 0.8, 1.2, 1.6, 2.4), tr: float = 3.0,
                 te: float = 15e-3, fov: float = 0.22, thickness: float = 5e-3) -> pp.Sequence:
    """Inversion-recovery spin echo: non-selective inversion, sinc 90/180 with crushers, one line per TR."""
    sys = system(max_grad=32, rf_ringdown_time=20e-6, rf_dead_time=100e-6, adc_dead_time=10e-6)
    seq = pp.Sequence(sys)
    inversion = pp.make_block_pulse(math.pi, duration=1e-3, system=sys, delay=sys.rf_dead_time, use="inversion")
    rf90, gz90, gz90_reph = pp.make_sinc_pulse(math.pi / 2, duration=3e-3, slice_thickness=thickness,
                                               apodization=0.5, time_bw_product=4, system=sys, return_gz=True,
                                               delay=sys.rf_dead_time, use="excitation")
    rf180, gz180, _ = pp.make_sinc_pulse(math.pi, duration=3e-3, slice_thickness=thickness, apodization=0.5,
                                         time_bw_product=4, phase_offset=math.pi / 2, system=sys, return_gz=True,
                                         delay=sys.rf_dead_time, use="refocusing")
    dk = 1 / fov
    gx = pp.make_trapezoid("x", flat_area=n * dk, flat_time=6.4e-3, system=sys)
    adc = pp.make_adc(n, duration=gx.flat_time, delay=gx.rise_time, system=sys)
    gx_pre = pp.make_trapezoid("x", area=gx.area / 2, duration=2e-3, system=sys)
    crusher = pp.make_trapezoid("z", area=2 / thickness, duration=1.5e-3, system=sys)
    spoiler = pp.make_trapezoid("z", area=8 / thickness, duration=3e-3, system=sys)
    half_90 = pp.calc_duration(gz90) - pp.calc_rf_center(rf90)[0] - rf90.delay
    centre_180 = pp.calc_rf_center(rf180)[0] + rf180.delay
    inv_centre = inversion.delay + inversion.shape_dur / 2
    for set_index, ti in enumerate(inversion_times):
        for line in range(n):
            start = sum(seq.block_durations.values())
            gy = pp.make_trapezoid("y", area=(line - n // 2) * dk, duration=2e-3, system=sys)
            seq.add_block(inversion)
            seq.add_block(spoiler)
            _delay(seq, ti - (pp.calc_duration(inversion) - inv_centre) - 3e-3 - pp.calc_rf_center(rf90)[0]
                   - rf90.delay)
            seq.add_block(rf90, gz90)
            seq.add_block(gx_pre, gy, gz90_reph)
            _delay(seq, te / 2 - half_90 - 2e-3 - 1.5e-3 - centre_180)
            seq.add_block(crusher)
            seq.add_block(rf180, gz180)
            seq.add_block(crusher)
            _delay(seq, te / 2 - (pp.calc_duration(gz180) - centre_180) - 1.5e-3 - pp.calc_duration(gx) / 2)
            seq.add_block(gx, adc, pp.make_label(type="SET", label="LIN", value=line),
                          pp.make_label(type="SET", label="SET", value=set_index))
            seq.add_block(spoiler)
            _delay(seq, tr - (sum(seq.block_durations.values()) - start))
    seq.set_definition("FOV", [fov, fov, thickness])
    seq.set_definition("Matrix", [n, n, 1])
    seq.set_definition("Name", "ir-se")
    seq.set_definition("TR", tr)
    seq.set_definition("TE", [te])
    seq.set_definition("TI", list(inversion_times))
    seq.set_definition("FlipAngle", [90.0])
    seq.set_definition("ContrastDimension", "inversion_time")
    return seq
