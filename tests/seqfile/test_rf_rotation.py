"""The one RF integrator against the closed form of a rectangular pulse."""

import math
import warnings

import numpy as np
import pypulseq as pp
import pytest

from harmoniq.seqfile.rf_rotation import flip_angles, rf_steps

RASTER_S = 1e-6


@pytest.mark.parametrize("flip_deg, freq_offset_hz", [(90.0, 0.0), (180.0, 0.0), (30.0, 1500.0)])
def test_block_pulse_flip_matches_the_rotation_about_the_effective_field(flip_deg, freq_offset_hz):
    duration = 1e-3
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rf = pp.make_block_pulse(flip_angle=math.radians(flip_deg), duration=duration, freq_offset=freq_offset_hz)
    values, dt = rf_steps(rf, RASTER_S)
    assert dt.sum() == pytest.approx(duration) and np.ptp(np.abs(values)) < 1e-9 * np.abs(values).max()
    u = np.linspace(-5e3, 5e3, 41)  # offsets from the carrier, Hz
    b1 = math.radians(flip_deg) / (2 * math.pi * duration)  # Hz
    field = np.hypot(b1, u)
    expected = 2 * np.arcsin(np.sin(math.pi * field * duration) * b1 / field)
    np.testing.assert_allclose(flip_angles(rf, RASTER_S, u), np.abs(expected), atol=1e-9)
