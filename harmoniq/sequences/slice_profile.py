"""Flip angle across the slice of a played RF pulse, and the CPMG profile of a .seq file.

A pulse B1(t) (Hz) played under a slice gradient puts a spin at z off resonance by
gz z - f_offset (Hz); its rotation is the product of the Cayley-Klein rotations of the
pulse's samples (hard-pulse approximation; Pauly et al., IEEE Trans Med Imaging
1991;10:53), and the flip angle is 2 arcsin |beta|. A multi-echo spin echo's fitter needs
the excitation and refocusing flips at every z across the slice relative to their nominal
values (Lebel and Wilman, MRM 2010;64:1005): :func:`cpmg_profile` reads both pulses from
the file and returns those factors.
"""

from __future__ import annotations

import math

import numpy as np
import pypulseq as pp

from harmoniq.errors import HarmoniqError

PROFILE_POINTS = 32
PROFILE_HALF_WIDTH = 1.0  # sampled from -1 to +1 slice thickness: past the excitation's edges


def flip_profile(rf, gz_hz_per_m: float, z_m: np.ndarray) -> np.ndarray:
    """Flip angle (rad) at positions ``z_m`` (m) of pulse ``rf`` played under ``gz_hz_per_m`` (Hz/m)."""
    signal = np.asarray(rf.signal, dtype=np.complex128)
    t = np.asarray(rf.t, dtype=np.float64)
    dt = np.diff(np.concatenate(([0.0], t[:-1] + np.diff(t) / 2, [rf.shape_dur])))
    offset = gz_hz_per_m * z_m - rf.freq_offset  # Hz in the frame of the pulse
    a = np.ones_like(z_m, dtype=np.complex128)
    b = np.zeros_like(a)
    for b1, step in zip(signal, dt):
        field = np.stack([np.full_like(z_m, b1.real), np.full_like(z_m, b1.imag), offset])
        norm = np.sqrt((field**2).sum(axis=0))
        angle = 2 * math.pi * step * norm
        n = field / np.where(norm > 0, norm, 1.0)
        aj = np.cos(angle / 2) - 1j * n[2] * np.sin(angle / 2)
        bj = -1j * (n[0] + 1j * n[1]) * np.sin(angle / 2)
        a, b = aj * a - np.conj(bj) * b, bj * a + np.conj(aj) * b
    return 2 * np.arcsin(np.clip(np.abs(b), 0.0, 1.0))


def _first_pulse(seq: pp.Sequence, use: str):
    for block_id in seq.block_events:
        block = seq.get_block(block_id)
        if block.rf is not None and getattr(block.rf, "use", "") == use:
            gz = block.gz.amplitude if block.gz is not None and block.gz.type == "trap" else 0.0
            return block.rf, float(gz)
    raise HarmoniqError(f"slice profile: the sequence has no {use} pulse; a CPMG train needs one")


def cpmg_profile(seq_path) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """(excitation factors, refocusing factors): flip / nominal flip at ``PROFILE_POINTS``
    positions across the excited slice of the multi-echo spin echo in ``seq_path``.

    The nominal angles are the file's FlipAngle and RefocusingFlipAngle definitions; the
    first excitation and refocusing pulses are played at the centre of their slice.
    """
    seq = pp.Sequence()
    try:
        seq.read(str(seq_path))
    except Exception as exc:  # pypulseq raises bare exceptions on malformed files
        raise HarmoniqError(f"slice profile: cannot read {seq_path} as a Pulseq file ({exc})") from exc
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
        rf.freq_offset = 0.0  # the profile about the slice's own centre
        factors.append(tuple(flip_profile(rf, gz, z) / math.radians(float(np.ravel(definitions[key])[0]))))
    return factors[0], factors[1]
