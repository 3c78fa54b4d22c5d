"""Diffusion in the extended phase graphs, against a closed form and an independent implementation.

1. Spin echo: two crushers filling the two halves of the echo spacing attenuate the echo by
   exp(-b D) with the Stejskal-Tanner b = (gamma G delta)^2 (Delta - delta/3) = (2/3) (ESP/2) dk^2
   (Stejskal and Tanner, J Chem Phys 1965;42:288; delta = Delta = ESP/2); the sycomore package's
   EPG gives the same echo.
2. RF-spoiled steady state of the t1-vfa protocol (TR 15 ms, 3 and 20 deg, increments 50, 117 and
   150 deg, NIST sphere 1 at 3 T) with water's diffusivity, against the regular EPG of the sycomore
   package (``sycomore_reference.py``), which implements its diffusion operator in C++ from
   Weigel, JMRI 2015;41:266 independently of this project.
"""

import math
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import sycomore_reference  # noqa: E402

from harmoniq.simulation.epg import cpmg, spoiled_gre  # noqa: E402

D_WATER = 2.0e-9  # m^2/s, free water near room temperature (Holz et al., PCCP 2000;2:4740: 2.023e-9 at 20 degC)


@pytest.mark.parametrize("diffusivity", [0.5e-9, 2.0e-9, 3.0e-9])
def test_spin_echo_crushers_attenuate_by_exp_minus_b_d(diffusivity):
    esp, dk = 0.02, 2 * math.pi / 20e-6  # one cycle per 20 um in each 10 ms half
    plain = cpmg(1, esp, 1.0, 0.1, math.pi)[0]
    damped = cpmg(1, esp, 1.0, 0.1, math.pi, diffusion_m2_s=diffusivity, crusher_rad_m=dk)[0]
    b = (2 / 3) * (esp / 2) * dk**2
    assert abs(damped) / abs(plain) == pytest.approx(math.exp(-b * diffusivity), rel=1e-9)
    assert b * diffusivity > 0.1  # a visible attenuation, not a rounding
    reference = sycomore_reference.spin_echo(esp, 1.0, 0.1, diffusivity, dk)
    assert abs(damped) == pytest.approx(abs(reference), rel=1e-6)
    assert abs(reference) == pytest.approx(math.exp(-esp / 0.1 - b * diffusivity), rel=1e-6)


@pytest.mark.parametrize("increment_deg", [50.0, 117.0, 150.0])
@pytest.mark.parametrize("flip_deg", [3.0, 20.0])
def test_rf_spoiled_steady_state_with_diffusion_agrees_with_sycomore(increment_deg, flip_deg):
    tr, t1, t2, pulses = 0.015, 1.989, 1.465, 300  # t1-vfa's TR; NIST sphere 1 at 3 T
    dk = 2 * math.pi / 1e-3  # one cycle per mm per TR
    flip, increment = math.radians(flip_deg), math.radians(increment_deg)
    reference = abs(sycomore_reference.spoiled_gre(flip, tr, t1, t2, increment, pulses, D_WATER, dk))
    epg = abs(spoiled_gre(flip, tr, t1, t2, phase_increment_rad=increment, n_pulses=pulses,
                          diffusion_m2_s=D_WATER, spoiler_rad_m=dk))
    without = abs(spoiled_gre(flip, tr, t1, t2, phase_increment_rad=increment, n_pulses=pulses))
    print(f"{flip_deg} deg, {increment_deg} deg: EPG {epg:.8f}, sycomore {reference:.8f}, no diffusion {without:.8f}")
    assert epg == pytest.approx(reference, rel=1e-6)  # measured: within 1e-11
    assert abs(without / reference - 1) > 0.05  # diffusion matters here
