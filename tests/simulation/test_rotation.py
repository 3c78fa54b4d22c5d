"""RF rotations (Cayley-Klein tables and per-spin stepping) against an ODE solution of the Bloch equation."""

import math

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from harmoniq.seqfile.rf_rotation import rotate_steps
from harmoniq.simulation.rotation import RotationTable, rotation_factors


def _bloch_ode(b1_hz, dt, offset_hz, b1_scale, m0):
    """dM/dt = gamma M x B in the rotating frame, B1 piecewise constant, integrated by scipy."""
    edges = np.concatenate(([0.0], np.cumsum(dt)))

    def rhs(t, m):
        i = min(np.searchsorted(edges, t, side="right") - 1, len(dt) - 1)
        w = 2 * np.pi * np.array([b1_scale * b1_hz[i].real, b1_scale * b1_hz[i].imag, offset_hz])
        return np.cross(m, w)

    return solve_ivp(rhs, (0, edges[-1]), m0, rtol=1e-10, atol=1e-12, max_step=dt.min() / 2).y[:, -1]


def _apply(a, b, m, phase=0.0, frame=0.0):
    ca2, cb2, cacb, cab, dz = (np.asarray(f) for f in rotation_factors(np.array([a]), np.array([b]), phase, frame,
                                                                     np.complex128))
    mxy = m[0] + 1j * m[1]
    new = ca2 * mxy - cb2 * np.conj(mxy) - 2 * cacb * m[2]
    mz = dz * m[2] + 2 * (cab * mxy).real
    return np.array([new.real[0], new.imag[0], mz[0]])


@pytest.fixture
def pulse():
    n = 200
    t = (np.arange(n) + 0.5) / n - 0.5
    shape = np.sinc(4 * t) * (0.54 + 0.46 * np.cos(2 * np.pi * t)) * np.exp(0.3j * np.pi * t)  # with a phase ramp
    dt = np.full(n, 10e-6)
    return shape * (math.pi / 2) / (2 * np.pi * np.abs(shape.sum()) * 10e-6), dt


@pytest.mark.parametrize("offset_hz, b1_scale", [(0.0, 1.0), (350.0, 0.8), (-900.0, 1.2)])
def test_stepping_matches_bloch_ode(pulse, offset_hz, b1_scale):
    b1, dt = pulse
    m0 = np.array([0.3, -0.2, 0.9])
    a, b = rotate_steps(b1, dt, np.array([offset_hz]), np.array([b1_scale]))
    np.testing.assert_allclose(_apply(a[0], b[0], m0), _bloch_ode(b1, dt, offset_hz, b1_scale, m0), atol=1e-7)


def test_phase_offset_rotates_the_rotation_axis(pulse):
    b1, dt = pulse
    m0 = np.array([0.0, 0.0, 1.0])
    psi = 0.7
    a, b = rotate_steps(b1, dt, np.array([120.0]), np.array([1.0]))
    expected = _bloch_ode(b1 * np.exp(1j * psi), dt, 120.0, 1.0, m0)
    np.testing.assert_allclose(_apply(a[0], b[0], m0, phase=psi), expected, atol=1e-7)


def test_table_interpolation_matches_stepping(pulse):
    b1, dt = pulse
    rng = np.random.default_rng(0)
    u = rng.uniform(-3000, 3000, 500)
    scale = rng.uniform(0.7, 1.3, 500)
    table = RotationTable(b1, dt, center_s=1e-3, u_range_hz=(-3000, 3000), b1_range=(0.7, 1.3))
    a_t, b_t = table.lookup(u, table.b1_weights(scale))
    a_s, b_s = rotate_steps(b1, dt, u, scale)
    assert np.abs(a_t - a_s).max() < 2e-3
    assert np.abs(b_t - b_s).max() < 2e-3
