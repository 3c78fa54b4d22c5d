"""Isotropic diffusion for the isochromat engine, applied to configuration orders.

The spins of a 3D voxel sit on one period L of the largest spoiler lobe along one axis
(:mod:`harmoniq.simulation.spins`), so the stored magnetisation of a voxel is a Fourier
series m(u) = sum_n c_n exp(2i pi n u / L) along that axis: order n carries the
wavenumber p_n = n / L (cycles/m). The other axes hold one spin per voxel; a pathway's
moment along them is taken as locked to the resolved axis, p_n = (n / L) * lobe / lobe_a
(lobe: the signed moment of the largest interval between RF pulses, a its resolved axis),
exact when every interval plays the same moment vector (Cartesian RF-spoiled gradient
echoes with rewound encodes).

The engine stores M without the moment K(t) gathered since its last update; the true
wavenumber of order n is 2 pi (p_n - K(t)). Bloch-Torrey with a uniform diffusivity D damps
each Fourier component by exp(-4 pi^2 D int |p_n - K(t)|^2 dt) (Torrey, Phys Rev 1956;104:563;
the EPG form, Weigel, JMRI 2015;41:266, eqs. 24-26). Over the intervals between two updates

    int |p - K|^2 dt = T |p|^2 - 2 p.A + B,   T = sum tau_i,  A = sum (tau_i K_i + int k dt),
    B = sum (tau_i |K_i|^2 + 2 K_i . int k dt + int |k|^2 dt),

K_i the moment at the start of interval i and k(t) the moment within it (the compiled
integrals of :class:`harmoniq.simulation.timeline.Free`). Longitudinal orders see no
gradient: exp(-4 pi^2 D T |p_n|^2). Applied per voxel by an FFT along the spin axis.
Units: s, m, cycles/m, m^2/s.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class DiffusionLine:
    """How the spins of a voxel resolve configuration orders: ``axis`` (0 x, 1 y, 2 z), spins
    ``n`` per voxel on one period ``length_m``, ``ratio`` = lobe / lobe[axis] (3,)."""

    axis: int
    n: int
    length_m: float
    ratio: np.ndarray

    def orders_cycles_per_m(self) -> np.ndarray:
        """p_n along the resolved axis (cycles/m) in FFT order, shape (n,)."""
        return np.fft.fftfreq(self.n) * self.n / self.length_m


class DiffusionState:
    """The intervals gathered since the engine's last update, and their damping of one chunk.

    d_spin: diffusivity per spin (Zs, Ys, Xs) in m^2/s (the same for every spin of a voxel).
    """

    def __init__(self, line: DiffusionLine, d_spin, xp):
        self.xp = xp
        self.line = line
        self.spin_axis = 2 - line.axis  # arrays are (z, y, x)
        shape = list(d_spin.shape)
        shape[self.spin_axis: self.spin_axis + 1] = [shape[self.spin_axis] // line.n, line.n]
        self.split = tuple(shape)
        lead = [slice(None)] * len(shape)
        lead[self.spin_axis + 1] = slice(0, 1)
        values = np.unique(np.asarray(d_spin)[np.asarray(d_spin) > 0])
        if values.size <= 1:  # one diffusivity (spins of empty voxels carry no weight): a scalar
            self.d_voxel = float(values[0] if values.size else 0.0) * (4 * math.pi**2)
        else:
            self.d_voxel = xp.asarray(d_spin).reshape(self.split)[tuple(lead)] * (4 * math.pi**2)
        p = line.orders_cycles_per_m()
        view = [1] * len(shape)
        view[self.spin_axis + 1] = line.n
        self.p = xp.asarray(p).reshape(view)
        self.p2 = self.p**2 * float(line.ratio @ line.ratio)
        self.reset()

    def reset(self):
        self.t = 0.0
        self.a = np.zeros(3)
        self.b = 0.0

    def hold(self, duration_s: float, k_pending: np.ndarray, k_int=None, k2_int: float = 0.0):
        """Add an interval of ``duration_s`` starting with pending moment ``k_pending`` (cycles/m)
        during which the gradients add k(t) with integrals ``k_int``, ``k2_int`` (none: k = 0)."""
        k_int = np.zeros(3) if k_int is None else k_int
        self.t += duration_s
        self.a = self.a + duration_s * k_pending + k_int
        self.b += duration_s * float(k_pending @ k_pending) + 2 * float(k_pending @ k_int) + k2_int

    def apply(self, mxy, mz):
        """Damp the stored transverse (complex) and longitudinal (real) magnetisation; reset."""
        xp = self.xp
        if self.t == 0.0 and self.b == 0.0:
            return mxy, mz
        axis = self.spin_axis + 1
        exponent = self.t * self.p2 - 2 * self.p * float(self.line.ratio @ self.a) + self.b
        transverse = xp.exp(-self.d_voxel * exponent)
        longitudinal = xp.exp(-self.d_voxel * (self.t * self.p2))
        shape = mxy.shape
        if self.line.n == 1:
            factor = transverse.reshape(-1)[0] if transverse.size == 1 else transverse.reshape(shape)
            mxy = mxy * factor.astype(mxy.dtype)
        else:
            spectrum = xp.fft.fft(mxy.reshape(self.split), axis=axis) * transverse
            mxy = xp.fft.ifft(spectrum, axis=axis).reshape(shape).astype(mxy.dtype)
            spectrum = xp.fft.fft(mz.reshape(self.split), axis=axis) * longitudinal
            mz = xp.fft.ifft(spectrum, axis=axis).real.reshape(shape).astype(mz.dtype)
        self.reset()
        return mxy, mz
