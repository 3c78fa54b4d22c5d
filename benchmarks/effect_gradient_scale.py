"""Gradient non-linearity (local scale 0.9-1.1) and eddy currents (0.99: 1 % of a spoiler's moment
lost) on the VFA T1 of the t1-vfa protocols: a local gradient scale s multiplies every spoiler
moment by s, so the spoiler's diffusion damping changes; the DESPOT1 T1 of the EPG steady state
(with diffusion) at scale s against s = 1.

    .venv/bin/python benchmarks/effect_gradient_scale.py

Spoiler moment per TR of the built t1-vfa .seq: 2316 cycles/m (x) and 708.75 cycles/m (z), read
from its blocks between excitations. NIST T1 plate (NiCl2) at 3 T, version 1 (Stupic et al., MRM
2021, as in harmoniq.phantoms.nist_values); D = 2.0e-9 m^2/s (water near 20 degC, Holz et al.,
PCCP 2000). Geometry (positions, voxel volume) scales every image of a series alike and cancels in
the two-flip ratio; only the diffusion damping of the spoiler depends on the gradient amplitude.
"""

from __future__ import annotations

import math

from harmoniq.phantoms.nist_values import sphere_values_s
from harmoniq.simulation.epg import spoiled_gre

DK_RAD_M = 2 * math.pi * math.hypot(2316.0, 708.75)
D_M2_S = 2.0e-9
PULSES = 600
PROTOCOLS = {  # name: (flips deg, TR s, increment deg)
    "t1-vfa": ((3.0, 20.0), 0.015, 117.0),
    "t1-vfa ge (VENUS native)": ((6.0, 20.0), 0.018, 115.4),
    "t1-vfa siemens (VENUS native)": ((6.0, 20.0), 0.018, 50.0),
}


def despot1_t1(s1: float, s2: float, a1: float, a2: float, tr: float) -> float:
    """Two-point DESPOT1: slope E1 of S/sin(a) against S/tan(a), T1 = -TR / ln E1 (s)."""
    y1, y2, x1, x2 = s1 / math.sin(a1), s2 / math.sin(a2), s1 / math.tan(a1), s2 / math.tan(a2)
    return -tr / math.log((y2 - y1) / (x2 - x1))


def apparent_t1(t1: float, t2: float, flips, tr: float, inc: float, scale: float) -> float:
    a1, a2 = (math.radians(f) for f in flips)
    s = [abs(spoiled_gre(a, tr, t1, t2, phase_increment_rad=math.radians(inc), n_pulses=PULSES,
                         diffusion_m2_s=D_M2_S, spoiler_rad_m=scale * DK_RAD_M)) for a in (a1, a2)]
    return despot1_t1(s[0], s[1], a1, a2, tr)


def main() -> None:
    spheres = sphere_values_s("t1", 3.0)[:7]  # spheres 1-7: T1 1989..247 ms, the VFA design range
    for name, (flips, tr, inc) in PROTOCOLS.items():
        for scale in (0.9, 0.95, 0.99, 1.05, 1.1):
            worst = max(abs(apparent_t1(t1, t2, flips, tr, inc, scale) / apparent_t1(t1, t2, flips, tr, inc, 1.0) - 1)
                        for t1, t2 in spheres)
            print(f"{name}: gradient scale {scale:.2f}: max |T1 change| over spheres 1-7 {100 * worst:.2f} %")


if __name__ == "__main__":
    main()
