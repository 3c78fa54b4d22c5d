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
from harmoniq.seqfile.rf_rotation import flip_angles

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
