"""Slice profile of a sinc excitation, measured through the engine by a readout along z."""

import math

import numpy as np
import pytest
from sim_sequences import ideal_scanner, slice_profile, uniform_phantom

from harmoniq.simulation.engine import EngineOptions, run
from harmoniq.simulation.spins import SpinModel, SpinSampling
from harmoniq.simulation.timeline import compile_sequence

THICKNESS = 5e-3
FOV = 4 * THICKNESS
SAMPLES = 128


def _profile(flip_deg):
    """|Mxy(z)| per voxel: the readout samples k_j, inverted by the exact adjoint DFT."""
    timeline = compile_sequence(slice_profile(flip_deg, THICKNESS, FOV, SAMPLES), 3.0)
    phantom = uniform_phantom(shape=(SAMPLES, 1, 1), t1=100.0, t2=100.0, voxel_m=(FOV / SAMPLES, 1e-3, 1e-3))
    spins = SpinModel(phantom, ideal_scanner(), timeline, SpinSampling(per_voxel=(1, 1, 1)))
    signal = run(timeline, spins, np.ones((1, SAMPLES, 1, 1)), options=EngineOptions(double_precision=True))[0][0]
    k = timeline.trajectory[0][:, 2]
    z = spins.voxel_z
    voxel_volume_mm3 = FOV / SAMPLES * 1e-6 * 1e9
    profile = (signal[None, :] * np.exp(2j * np.pi * np.outer(z, k))).sum(axis=1) / SAMPLES / voxel_volume_mm3
    return z, np.abs(profile), timeline


def _fwhm(z, m):
    half = m.max() / 2
    above = np.flatnonzero(m >= half)
    i0, i1 = above[0], above[-1]
    left = np.interp(half, [m[i0 - 1], m[i0]], [z[i0 - 1], z[i0]])
    right = np.interp(half, [m[i1 + 1], m[i1]], [z[i1 + 1], z[i1]])
    return right - left, 0.5 * (left + right)


@pytest.mark.parametrize("flip_deg", [10.0, 90.0])
def test_sinc_profile_width_equals_slice_thickness(flip_deg):
    z, m, _ = _profile(flip_deg)
    width, centre = _fwhm(z, m)
    assert width == pytest.approx(THICKNESS, rel=0.05 if flip_deg < 45 else 0.12)
    assert abs(centre) < 0.02 * THICKNESS
    assert m.max() == pytest.approx(math.sin(math.radians(flip_deg)), rel=0.005)


def test_small_tip_profile_is_the_fourier_transform_of_the_pulse():
    # small-tip approximation (Pauly et al., JMR 1989;81:43): |Mxy(z)| = |2 pi sum B1(t) dt exp(-2i pi G z t)|
    z, m, timeline = _profile(10.0)
    pulse = timeline.pulses[0]
    t = np.cumsum(pulse.shape.dt_s) - pulse.shape.dt_s / 2
    offsets = pulse.gradient[2] * z
    fourier = np.abs(2 * np.pi * (pulse.shape.b1_hz * pulse.shape.dt_s * np.exp(-2j * np.pi * np.outer(offsets, t))).sum(1))
    # sin(a) vs a at 10 degrees: 0.5 %; allow 1 % of the peak everywhere
    assert np.abs(m - fourier).max() < 0.01 * fourier.max()
