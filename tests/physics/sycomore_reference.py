"""Reference signals from the sycomore package's regular EPG (an independent C++ implementation
with diffusion: Guillaume et al., https://github.com/lamyj/sycomore, ``src/sycomore/epg/Regular.cpp``).

Units in and out: s, rad, m^2/s, rad/m (a gradient moment is gamma x area, gamma of sycomore).
"""

import cmath
import math

import sycomore
from sycomore.units import T, m, rad, s

GAMMA = sycomore.gamma.magnitude  # rad/s/T


def _model(t1: float, t2: float, diffusivity: float, moment_rad_m: float):
    area = moment_rad_m / GAMMA  # T s / m
    model = sycomore.epg.Regular(sycomore.Species(t1 * s, t2 * s, diffusivity * m**2 / s),
                                 unit_gradient_area=area * T / m * s)
    return model, area


def spoiled_gre(flip: float, tr: float, t1: float, t2: float, increment: float, pulses: int, diffusivity: float,
                moment_rad_m: float) -> complex:
    """F0 right after the last of ``pulses`` hard pulses with phases increment n (n + 1) / 2 (receiver
    following them); between pulses a constant gradient of moment ``moment_rad_m`` fills the TR."""
    model, area = _model(t1, t2, diffusivity, moment_rad_m)
    phase = 0.0
    for n in range(pulses):
        phase = increment * n * (n + 1) / 2
        model.apply_pulse(flip * rad, phase * rad)
        if n < pulses - 1:
            model.apply_time_interval(tr * s, area / tr * T / m)
    return complex(model.echo) * cmath.exp(-1j * phase)


def spin_echo(esp: float, t1: float, t2: float, diffusivity: float, moment_rad_m: float) -> complex:
    """Echo of a 90x - 180y pair at ESP, each half of the echo spacing a constant gradient of moment
    ``moment_rad_m`` (two crushers filling their intervals)."""
    model, area = _model(t1, t2, diffusivity, moment_rad_m)
    half = esp / 2
    model.apply_pulse(math.pi / 2 * rad, 0 * rad)
    model.apply_time_interval(half * s, area / half * T / m)
    model.apply_pulse(math.pi * rad, math.pi / 2 * rad)
    model.apply_time_interval(half * s, area / half * T / m)
    return complex(model.echo)
