"""Diffusion in the extended phase graphs, against a closed form and an independent solver.

1. Spin echo: two crushers filling the two halves of the echo spacing attenuate the echo by
   exp(-b D) with the Stejskal-Tanner b = (gamma G delta)^2 (Delta - delta/3) = (2/3) (ESP/2) dk^2
   (Stejskal and Tanner, J Chem Phys 1965;42:288; delta = Delta = ESP/2).
2. RF-spoiled steady state: a Bloch-Torrey solver written here in the spatial domain
   (magnetisation on a periodic line, each TR split into substeps of gradient phase and heat-
   kernel diffusion applied by FFT, Strang splitting; RF as explicit 3D rotations) against
   :func:`harmoniq.simulation.epg.spoiled_gre` with diffusion.
"""

import math

import numpy as np
import pytest

from harmoniq.simulation.epg import cpmg, spoiled_gre

D_WATER = 2.0e-9  # m^2/s, free water near room temperature (Holz et al., PCCP 2000;2:4740: 2.023e-9 at 20 degC)


@pytest.mark.parametrize("diffusivity", [0.5e-9, 2.0e-9, 3.0e-9])
def test_spin_echo_crushers_attenuate_by_exp_minus_b_d(diffusivity):
    esp, dk = 0.02, 2 * math.pi / 20e-6  # one cycle per 20 um in each 10 ms half
    plain = cpmg(1, esp, 1.0, 0.1, math.pi)[0]
    damped = cpmg(1, esp, 1.0, 0.1, math.pi, diffusion_m2_s=diffusivity, crusher_rad_m=dk)[0]
    b = (2 / 3) * (esp / 2) * dk**2
    assert abs(damped) / abs(plain) == pytest.approx(math.exp(-b * diffusivity), rel=1e-9)
    assert b * diffusivity > 0.1  # a visible attenuation, not a rounding


def _rotation(alpha: float, phi: float) -> np.ndarray:
    """Rotation by alpha about the transverse axis (cos phi, sin phi, 0) (Rodrigues' formula)."""
    n = np.array([math.cos(phi), math.sin(phi), 0.0])
    cross = np.array([[0, -n[2], n[1]], [n[2], 0, -n[0]], [-n[1], n[0], 0]])
    return np.eye(3) + math.sin(alpha) * cross + (1 - math.cos(alpha)) * cross @ cross


def bloch_torrey_spgr(flip, tr, t1, t2, increment, pulses, diffusivity, dk, substeps=16, per_wavelength=128):
    """|mean Mxy| after the last pulse; the spoiler's moment dk (rad/m) spread over each TR.

    The line holds ``substeps`` spoiler wavelengths, so every substep's phase ramp (dk/substeps)
    is a whole number of cycles across it and the FFT's wavenumbers are exact.
    """
    n = substeps * per_wavelength
    length = substeps * 2 * math.pi / dk
    x = np.arange(n) * length / n
    q = 2 * math.pi * np.fft.fftfreq(n, length / n)
    half = np.exp(-diffusivity * q * q * tr / substeps / 2)
    ramp = np.exp(-1j * dk / substeps * x)
    m = np.zeros((3, n))
    m[2] = 1.0
    e1, e2 = math.exp(-tr / t1), math.exp(-tr / t2)
    phase = 0.0
    for p in range(pulses):
        phase = (phase + p * increment) % (2 * math.pi)
        m = _rotation(flip, phase) @ m
        if p == pulses - 1:
            break
        mxy = (m[0] + 1j * m[1]) * e2
        mz = 1 + (m[2] - 1) * e1
        for _ in range(substeps):
            mxy, mz = np.fft.ifft(np.fft.fft(mxy) * half), np.fft.ifft(np.fft.fft(mz) * half).real
            mxy = mxy * ramp
            mxy, mz = np.fft.ifft(np.fft.fft(mxy) * half), np.fft.ifft(np.fft.fft(mz) * half).real
        m = np.stack([mxy.real, mxy.imag, mz])
    return abs(np.mean(m[0] + 1j * m[1]))


@pytest.mark.parametrize("increment_deg", [50.0, 117.0, 150.0])
def test_rf_spoiled_steady_state_with_diffusion_agrees_with_a_bloch_torrey_solver(increment_deg):
    flip, tr, t1, t2, pulses = math.radians(20.0), 0.015, 1.989, 1.465, 300  # NIST sphere 1 at 3 T
    dk = 2 * math.pi / 1e-3  # one cycle per mm per TR
    increment = math.radians(increment_deg)
    reference = bloch_torrey_spgr(flip, tr, t1, t2, increment, pulses, D_WATER, dk)
    epg = abs(spoiled_gre(flip, tr, t1, t2, phase_increment_rad=increment, n_pulses=pulses,
                          diffusion_m2_s=D_WATER, spoiler_rad_m=dk))
    without = abs(spoiled_gre(flip, tr, t1, t2, phase_increment_rad=increment, n_pulses=pulses))
    print(f"{increment_deg} deg: EPG {epg:.6f}, Bloch-Torrey {reference:.6f}, no diffusion {without:.6f}")
    assert epg == pytest.approx(reference, rel=0.01)
    assert abs(without / reference - 1) > 0.02  # diffusion matters here
