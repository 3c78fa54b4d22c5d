"""The spin rotation an RF event plays: its waveform as steps, and their Cayley-Klein product.

One convention for the whole package (the simulator's and the slice profiles'): the engine
integrates dM/dt = gamma M x B (gamma > 0), and a rotation is the SU(2) matrix
Q = [[a, b], [-conj(b), conj(a)]] acting on (Mxy = Mx + i My, Mz) as

    Mxy' = conj(a)^2 Mxy - conj(b)^2 conj(Mxy) - 2 conj(a) conj(b) Mz
    Mz'  = (|a|^2 - |b|^2) Mz + 2 Re(conj(a) b Mxy)

One step of duration dt in the field w = 2 pi (Re B1, Im B1, u) rad/s (B1 and the offset u
in Hz) is a = cos(phi/2) + i sin(phi/2) w_z/|w|, b = i sin(phi/2) (w_x - i w_y)/|w|,
phi = |w| dt; steps compose as a = a2 a1 - b2 conj(b1), b = a2 b1 + b2 conj(a1). The flip
angle is 2 arcsin |b|.

A Pulseq RF event's ``signal`` (Hz) and frequency offset follow the receive sense: the B1
played in this convention is conj(signal) and a spin's offset is gamma/2pi G.r minus the
event's frequency offset (Hz). These (a, b) are the complex conjugates of (alpha, -beta) of
Pauly et al. (IEEE TMI 1991;10:53); |b| = |beta|.
"""

from __future__ import annotations

import math

import numpy as np

from harmoniq.backend import get_array_module


def rf_steps(rf, raster_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Piecewise-constant steps (complex values in Hz, durations in s) of a pypulseq RF event.

    Samples on the raster centres are the steps themselves (the Pulseq definition); other
    time shapes (e.g. a block pulse given by its two corners) are piecewise linear and are
    sampled at the centres of the RF raster ``raster_s``.
    """
    t = np.asarray(rf.t, dtype=np.float64)
    signal = np.asarray(rf.signal, dtype=np.complex128)
    if t.size > 1:
        dt = float(np.median(np.diff(t)))
        if np.allclose(np.diff(t), dt, atol=1e-10) and abs(t[0] - dt / 2) < 1e-10:
            return signal, np.full(t.size, dt)
    n = max(1, int(round(rf.shape_dur / raster_s)))
    mid = (np.arange(n) + 0.5) * rf.shape_dur / n
    values = np.interp(mid, t, signal.real) + 1j * np.interp(mid, t, signal.imag)
    return values, np.full(n, rf.shape_dur / n)


def rotate_steps(b1_hz, dt_s, offset_hz, b1_scale):
    """Cayley-Klein (a, b) of a pulse for each spin, by stepping through its samples.

    b1_hz (steps,) complex Hz, the played B1 (module doc); dt_s (steps,) s; b1_scale (...);
    offset_hz: the spins' offsets in Hz, an array (...) or, for time-varying gradients, a
    function of the step number returning one. Returns a, b with the broadcast shape of the spins.
    """
    offset_of = offset_hz if callable(offset_hz) else (lambda step: offset_hz)
    xp = get_array_module(offset_of(0), b1_scale)
    a = b = None
    for step, (value, dt) in enumerate(zip(b1_hz, dt_s)):
        wz = 2 * math.pi * offset_of(step)
        wxy = 2 * math.pi * complex(value) * b1_scale
        norm = xp.sqrt(wz * wz + (wxy * wxy.conj()).real)
        half = 0.5 * norm * float(dt)
        safe = xp.where(norm > 0, norm, 1.0)
        sinc = xp.where(norm > 0, xp.sin(half) / safe, 0.5 * float(dt))
        a_step = xp.cos(half) + 1j * sinc * wz
        b_step = 1j * sinc * wxy.conj()
        if a is None:
            a, b = a_step, b_step
        else:
            a, b = a_step * a - b_step * b.conj(), a_step * b + b_step * a.conj()
    return a, b


def flip_angles(rf, raster_s: float, offset_hz) -> np.ndarray:
    """Flip angle (rad) of pypulseq RF event ``rf`` (RF raster ``raster_s``) for spins at
    ``offset_hz`` (Hz, any shape) from its carrier: gamma/2pi G.r minus its frequency offset."""
    values, dt = rf_steps(rf, raster_s)
    offset = np.asarray(offset_hz, dtype=np.float64)
    _, b = rotate_steps(np.conj(values), dt, offset, np.ones_like(offset))
    return 2 * np.arcsin(np.clip(np.abs(b), 0.0, 1.0))
