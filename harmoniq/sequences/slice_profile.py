"""The CPMG slice profile of a .seq file: flip angles across the slice of its own RF pulses.

A pulse played under a slice gradient gz (Hz/m) puts a spin at z off resonance by gz z
(Hz, about the slice's own centre); its flip angle is that of the Cayley-Klein product of
the pulse's samples (:func:`harmoniq.seqfile.rf_rotation.flip_angles`, the simulator's
integrator). A multi-echo spin echo's fitter needs the excitation and refocusing flips at
every z across the slice relative to their nominal values (Lebel and Wilman, MRM
2010;64:1005): :func:`cpmg_profile` reads both pulses from the file and returns those factors.
"""

from __future__ import annotations

import math

import numpy as np

from harmoniq.errors import HarmoniqError
from harmoniq.seqfile import read_seq, walk_blocks
from harmoniq.seqfile.rf_rotation import flip_angles, rf_steps, rotate_steps

PROFILE_POINTS = 32
PROFILE_HALF_WIDTH = 1.0  # sampled from -1 to +1 slice thickness: past the excitation's edges


def _first_pulse(seq, use: str):
    """The first RF event of ``use`` and the amplitude (Hz/m) of its trapezoid slice gradient (0 if none)."""
    for block in walk_blocks(seq):
        if block.rf is not None and getattr(block.rf, "use", "") == use:
            gz = block.grads[2]
            return block.rf, float(gz.amplitude) if gz is not None and gz.type == "trap" else 0.0
    raise HarmoniqError(f"slice profile: the sequence has no {use} pulse; a CPMG train needs one")


def cpmg_profile(seq_path) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """(excitation factors, refocusing factors): flip / nominal flip at ``PROFILE_POINTS``
    positions across the excited slice of the multi-echo spin echo in ``seq_path``.

    The nominal angles are the file's FlipAngle and RefocusingFlipAngle definitions; the
    first excitation and refocusing pulses are played at the centre of their slice.
    """
    seq = read_seq(seq_path)
    definitions = seq.definitions
    missing = [k for k in ("SliceThickness", "FlipAngle", "RefocusingFlipAngle") if k not in definitions]
    if missing:
        raise HarmoniqError(f"slice profile: {seq_path} lacks the definition(s) {', '.join(missing)}; "
                            "give the .seq file harmoniq built for this protocol")
    thickness = float(np.ravel(definitions["SliceThickness"])[0])
    z = np.linspace(-PROFILE_HALF_WIDTH, PROFILE_HALF_WIDTH, PROFILE_POINTS) * thickness
    factors = []
    for use, key in (("excitation", "FlipAngle"), ("refocusing", "RefocusingFlipAngle")):
        rf, gz = _first_pulse(seq, use)
        flips = flip_angles(rf, seq.rf_raster_time, gz * z)
        factors.append(tuple(flips / math.radians(float(np.ravel(definitions[key])[0]))))
    return factors[0], factors[1]



def _area_after(grad, t_s: float) -> float:
    """Zeroth moment (1/m) of a pypulseq gradient (Hz/m) from ``t_s`` (s, block time) to its end."""
    if grad is None:
        return 0.0
    if grad.type == "trap":
        times = grad.delay + np.cumsum([0.0, grad.rise_time, grad.flat_time, grad.fall_time])
        amps = np.array([0.0, grad.amplitude, grad.amplitude, 0.0])
    else:
        times, amps = grad.delay + np.asarray(grad.tt, dtype=float), np.asarray(grad.waveform, dtype=float)
    points = np.union1d(times, [t_s])
    points = points[points >= t_s]
    return float(np.trapezoid(np.interp(points, times, amps, left=0.0, right=0.0), points))


def excitation_profiles(seq_path, b1_scales, longitudinal: bool = False) -> list:
    """Transverse magnetisation at the echo (complex, M0 = 1 before the pulse), shape
    (len(b1_scales), ``PROFILE_POINTS``), across the slice of each distinct excitation pulse of
    ``seq_path`` played at relative transmit field ``b1_scales``; ordered by the pulses' peak
    amplitude (a double-angle map: a, then 2a). ``longitudinal``: each entry is the pair
    (transverse, Mz after the pulse = |a|^2 - |b|^2, real).

    Each pulse is integrated with the simulator's Cayley-Klein stepping
    (:func:`harmoniq.seqfile.rf_rotation.rotate_steps`): Mxy = -2 conj(a) conj(b) from Mz = 1
    (module doc there), then the slice-axis moment k from the pulse's end to its readout turns
    it by exp(-2i pi k z). Pulses are told apart by their peak amplitude and slice gradient;
    the first of each followed by a readout is used.
    """
    seq = read_seq(seq_path)
    if "SliceThickness" not in seq.definitions:
        raise HarmoniqError(f"slice profile: {seq_path} lacks the definition SliceThickness; "
                            "give the .seq file harmoniq built for this protocol")
    thickness = float(np.ravel(seq.definitions["SliceThickness"])[0])
    z = np.linspace(-PROFILE_HALF_WIDTH, PROFILE_HALF_WIDTH, PROFILE_POINTS) * thickness
    scales = np.asarray(b1_scales, dtype=np.float64)[:, None] * np.ones(PROFILE_POINTS)
    profiles, pending = {}, None
    for block in walk_blocks(seq):
        rf, gz = block.rf, block.grads[2]
        if rf is not None and getattr(rf, "use", "") == "excitation":
            amplitude = float(gz.amplitude) if gz is not None and gz.type == "trap" else 0.0
            key = (round(float(np.max(np.abs(rf.signal))), 6), round(amplitude, 3))
            pending = None if key in profiles else [key, rf, amplitude, _area_after(gz, rf.delay + rf.shape_dur)]
        elif pending is not None and block.adc is not None:
            key, pulse, amplitude, moment = pending
            values, dt = rf_steps(pulse, seq.rf_raster_time)
            a, b = rotate_steps(np.conj(values), dt, amplitude * z * np.ones_like(scales), scales)
            mxy = -2 * np.conj(a) * np.conj(b) * np.exp(-2j * np.pi * moment * z)
            profiles[key] = (mxy, np.abs(a) ** 2 - np.abs(b) ** 2) if longitudinal else mxy
            pending = None
        elif pending is not None:
            pending[3] += _area_after(gz, 0.0)
    if not profiles:
        raise HarmoniqError(f"slice profile: {seq_path} has no excitation pulse followed by a readout")
    return [profiles[key] for key in sorted(profiles)]
