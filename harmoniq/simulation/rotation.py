"""Spin rotations of RF pulses for many spins at once: tables of Cayley-Klein parameters (a, b).

The convention (a, b), their action on the magnetisation and the per-step integrator
:func:`~harmoniq.seqfile.rf_rotation.rotate_steps` are those of
:mod:`harmoniq.seqfile.rf_rotation`, shared with the slice profiles of ``sequences``.

A pulse played with a constant gradient rotates a spin by a function of only two numbers,
its offset u = df + gamma/2pi G.r (Hz) and its transmit scale b1: :class:`RotationTable`
computes that function once on a grid (linear in u, Chebyshev in b1) and interpolates it
for every spin. The fast phase ramp of free precession through the pulse is taken out
before interpolating (a = a~ exp(i pi u T), b = b~ exp(i pi u (T - 2 tc))), so the table
stays smooth. Pulses with time-varying gradients are integrated per spin
(:func:`rotate_steps`).
"""

from __future__ import annotations

import math

import numpy as np

from harmoniq.backend import get_array_module
from harmoniq.seqfile.rf_rotation import rotate_steps

U_POINTS_PER_INVERSE_DURATION = 64
"""Offset grid spacing of a table: 1 / (64 T) for a pulse of duration T."""

B1_NODES = 12
"""Chebyshev nodes over the transmit-scale range (exact for a uniform B1: one node)."""

MAX_TABLE_POINTS = 1 << 20


def _merge_constant_steps(b1_hz: np.ndarray, dt_s: np.ndarray):
    """Join runs of equal samples (exact for a constant field)."""
    change = np.concatenate(([True], b1_hz[1:] != b1_hz[:-1]))
    starts = np.flatnonzero(change)
    durations = np.add.reduceat(dt_s, starts)
    return b1_hz[starts], durations


def _chebyshev_nodes(lo: float, hi: float, n: int) -> np.ndarray:
    k = np.arange(n)
    return 0.5 * (lo + hi) + 0.5 * (hi - lo) * np.cos(np.pi * (k + 0.5) / n)


def _barycentric_weights(nodes: np.ndarray, x, xp):
    """Lagrange weights (len(x), n) of Chebyshev nodes of the first kind at points ``x``."""
    n = nodes.size
    k = np.arange(n)
    w = (-1.0) ** k * np.sin(np.pi * (k + 0.5) / n)
    nodes_x = xp.asarray(nodes)
    diff = x[:, None] - nodes_x[None, :]
    exact = xp.abs(diff) < 1e-14
    diff = xp.where(exact, 1.0, diff)
    terms = xp.asarray(w)[None, :] / diff
    terms = xp.where(exact.any(axis=1, keepdims=True), exact.astype(terms.dtype), terms)
    return terms / terms.sum(axis=1, keepdims=True)


class RotationTable:
    """Rotation of one pulse shape on an (offset, b1) grid, interpolated per spin.

    u_range_hz: (min, max) offsets the spins will have in the pulse's frame;
    b1_range: (min, max) transmit scales.
    """

    def __init__(self, b1_hz, dt_s, center_s: float, u_range_hz, b1_range):
        self.duration_s = float(np.sum(dt_s))
        self.center_s = float(center_s)
        du = 1.0 / (U_POINTS_PER_INVERSE_DURATION * self.duration_s)
        lo, hi = float(u_range_hz[0]) - 2 * du, float(u_range_hz[1]) + 2 * du
        n_u = max(2, int(math.ceil((hi - lo) / du)) + 1)
        b1_lo, b1_hi = (float(v) for v in b1_range)
        n_b1 = 1 if b1_hi - b1_lo < 1e-9 else B1_NODES
        if n_u * n_b1 > MAX_TABLE_POINTS:
            raise ValueError(f"a rotation table of {n_u} x {n_b1} points is too large; step the spins instead")
        self.u = np.linspace(lo, hi, n_u)
        self.b1_nodes = np.array([0.5 * (b1_lo + b1_hi)]) if n_b1 == 1 else _chebyshev_nodes(b1_lo, b1_hi, n_b1)
        values, durations = _merge_constant_steps(np.asarray(b1_hz), np.asarray(dt_s))
        a, b = rotate_steps(values, durations, self.u[None, :], self.b1_nodes[:, None])
        ramp_a, ramp_b = self._ramps(self.u, np)
        self.a = a * np.conj(ramp_a)[None, :]  # (b1 nodes, u)
        self.b = b * np.conj(ramp_b)[None, :]

    def _ramps(self, u, xp):
        return (xp.exp(1j * math.pi * u * self.duration_s),
                xp.exp(1j * math.pi * u * (self.duration_s - 2 * self.center_s)))

    def b1_weights(self, b1_scale):
        """Interpolation weights (nodes, spins) of transmit scales ``b1_scale`` (any shape)."""
        xp = get_array_module(b1_scale)
        if self.b1_nodes.size == 1:
            return xp.ones((1, b1_scale.size))
        return _barycentric_weights(self.b1_nodes, b1_scale.reshape(-1), xp).T

    def lookup(self, u_hz, weights):
        """(a, b) for spins with offsets ``u_hz`` and b1 interpolation ``weights`` (see :meth:`b1_weights`)."""
        xp = get_array_module(u_hz)
        shape = u_hz.shape
        u = u_hz.reshape(-1)
        position = (u - self.u[0]) / (self.u[1] - self.u[0])
        i = xp.clip(xp.floor(position).astype(xp.int64), 0, self.u.size - 2)
        frac = xp.clip(position - i, 0.0, 1.0)
        ta, tb = xp.asarray(self.a), xp.asarray(self.b)
        a = xp.zeros(u.shape, dtype=xp.complex128)
        b = xp.zeros(u.shape, dtype=xp.complex128)
        for node in range(self.b1_nodes.size):
            w0, w1 = weights[node] * (1 - frac), weights[node] * frac
            a += ta[node, i] * w0 + ta[node, i + 1] * w1
            b += tb[node, i] * w0 + tb[node, i + 1] * w1
        ramp_a, ramp_b = self._ramps(u, xp)
        return (a * ramp_a).reshape(shape), (b * ramp_b).reshape(shape)


def rotation_factors(a, b, phase_rad: float, frame_rad: float, dtype):
    """Products of (a, b) that rotate (Mxy, Mz) (module doc), with the pulse phase and frame:
    conj(a)^2, conj(b)^2, conj(a) conj(b), conj(a) b and |a|^2 - |b|^2.

    The pulse phase psi turns b into b exp(-i psi); the frequency offset's frame rotation
    multiplies a and b by exp(i frame).
    """
    xp = get_array_module(a)
    frame = complex(np.exp(1j * frame_rad))
    a = a * frame
    b = b * (frame * complex(np.exp(-1j * phase_rad)))
    ca, cb = a.conj(), b.conj()
    return ((ca * ca).astype(dtype), (cb * cb).astype(dtype), (ca * cb).astype(dtype), (ca * b).astype(dtype),
            (xp.abs(a) ** 2 - xp.abs(b) ** 2).astype(xp.float32 if dtype == xp.complex64 else xp.float64))
