"""Extended phase graphs (EPG), vectorised over a batch of (T1, T2, B1) at once.

The magnetisation of a voxel whose spins are dephased by unit gradient lobes is written as
configuration states (Weigel, JMRI 2015;41:266):

    F+_k, F-_k (transverse, dephasing order k >= 0),  Z_k (longitudinal),  F+_0 = conj(F-_0).

A state array has shape ``(3, K, batch)``: rows F+, F-, Z, K dephasing orders, the batch
last (contiguous, so every operator is a few whole-array operations). Three
operators act on it:

- :func:`rf`: a rotation by flip angle a about an axis at phase phi in the transverse plane
  (Weigel eq. 15), the same 3x3 matrix for every order k;
- :func:`relax`: F *= exp(-t/T2), Z_k *= exp(-t/T1), Z_0 += M0 (1 - exp(-t/T1));
- :func:`shift`: one unit of gradient dephasing, F+_k -> F+_{k+1}, F-_k -> F-_{k-1};
- :func:`diffuse`: isotropic diffusion during an interval tau in which a constant gradient
  moves every state by one unit dk (rad/m) (Weigel, JMRI 2015;41:266, eqs. 24-26; the same
  b-values as the ``diffusion`` operator of the sycomore package,
  ``src/sycomore/epg/operators.txx``): F+_k *= exp(-D tau ((k + dk/2)^2 + dk^2/12)),
  F-_k *= exp(-D tau ((k - dk/2)^2 + dk^2/12)), Z_k *= exp(-D tau k^2), k = order * dk.

Two sequences are built from them: a CPMG echo train (:func:`cpmg`) and an RF-spoiled
gradient-echo train (:func:`spoiled_gre`, Preibisch and Deichmann, MRM 2009;61:125). Every
function takes NumPy or CuPy arrays and returns arrays of the same module. Units: s, rad.
"""

from __future__ import annotations

import math

import numpy as np

from harmoniq.backend import get_array_module


def _batch(xp, *values):
    """Broadcast scalars/arrays to one flat float64 batch on the array module ``xp``."""
    arrays = xp.broadcast_arrays(*[xp.asarray(v, dtype=xp.float64) for v in values])
    return [a.reshape(-1) for a in arrays], arrays[0].shape


def empty_states(batch: int, n_orders: int, xp=np, m0: float = 1.0):
    """Thermal equilibrium: Z_0 = m0, every other state 0; shape (3, n_orders, batch)."""
    states = xp.zeros((3, n_orders, batch), dtype=xp.complex128)
    states[2, 0] = m0
    return states


def rf_matrix(flip_rad, phase_rad):
    """Weigel's RF rotation matrix T(a, phi), shape (3, 3, ...), acting on (F+, F-, Z).

    T = [[cos^2(a/2),            e^{2i phi} sin^2(a/2), -i e^{i phi} sin a],
         [e^{-2i phi} sin^2(a/2), cos^2(a/2),            i e^{-i phi} sin a],
         [-i/2 e^{-i phi} sin a,  i/2 e^{i phi} sin a,   cos a]]
    """
    xp = get_array_module(flip_rad, phase_rad)
    a, phi = xp.broadcast_arrays(xp.asarray(flip_rad, dtype=xp.float64), xp.asarray(phase_rad, dtype=xp.float64))
    c2 = xp.cos(a / 2) ** 2
    s2 = xp.sin(a / 2) ** 2
    sa = xp.sin(a)
    e = xp.exp(1j * phi)
    ec = xp.conj(e)
    return xp.stack(
        [
            xp.stack([c2 + 0j, e**2 * s2, -1j * e * sa]),
            xp.stack([ec**2 * s2, c2 + 0j, 1j * ec * sa]),
            xp.stack([-0.5j * ec * sa, 0.5j * e * sa, xp.cos(a) + 0j]),
        ]
    )


def rf(states, flip_rad, phase_rad=0.0):
    """Apply an instantaneous RF pulse; ``flip_rad`` is a scalar or one angle per batch element."""
    t = rf_matrix(flip_rad, phase_rad).reshape(3, 3, 1, -1)
    fp, fm, z = states
    return t[:, 0] * fp + t[:, 1] * fm + t[:, 2] * z


def relax(states, e1, e2, m0: float = 1.0):
    """Relaxation with E1 = exp(-t/T1), E2 = exp(-t/T2) (scalars or shape (batch,)), towards m0."""
    out = states.copy()
    out[0:2] *= e2
    out[2] *= e1
    out[2, 0] += m0 * (1.0 - e1)
    return out


def shift(states):
    """One unit of gradient dephasing: F+_k -> F+_{k+1}, F-_k -> F-_{k-1}; highest order lost."""
    xp = get_array_module(states)
    out = xp.empty_like(states)
    out[0, 1:] = states[0, :-1]
    out[1, :-1] = states[1, 1:]
    out[1, -1] = 0
    out[0, 0] = xp.conj(out[1, 0])
    out[2] = states[2]
    return out


def diffusion_factors(n_orders: int, d_m2_s, tau_s: float, dk_rad_m: float):
    """Damping (3, n_orders, batch) of F+, F-, Z over an interval ``tau_s`` whose gradient
    dephases by ``dk_rad_m`` (module doc); ``d_m2_s`` scalar or (batch,) diffusivity (m^2/s)."""
    xp = get_array_module(d_m2_s)
    k = (xp.arange(n_orders, dtype=xp.float64) * dk_rad_m)[:, None]
    d = xp.reshape(xp.asarray(d_m2_s, dtype=xp.float64), (1, -1))
    b_plus = tau_s * ((k + dk_rad_m / 2) ** 2 + dk_rad_m**2 / 12)
    b_minus = tau_s * ((k - dk_rad_m / 2) ** 2 + dk_rad_m**2 / 12)
    return xp.exp(-xp.stack([b_plus, b_minus, tau_s * k * k]) * d)


def diffuse(states, factors):
    """Apply :func:`diffusion_factors` to the states (before the interval's :func:`shift`)."""
    return states * factors


def cpmg(etl: int, esp_s: float, t1_s, t2_s, refocus_rad, excite_rad=math.pi / 2, b1=1.0, diffusion_m2_s=0.0,
         crusher_rad_m: float = 0.0):
    """Echo amplitudes of a CPMG train, shape (*batch, etl), complex.

    Excitation ``excite_rad`` about x at t = 0, refocusing pulses about y at (n - 1/2) ESP,
    echo n at n ESP; a crusher pair dephases by one unit on each side of every refocusing
    pulse. ``refocus_rad`` is a scalar or one angle per echo; every flip angle is scaled by
    the relative transmit field ``b1``. With ideal 180s the echoes are exp(-n ESP/T2) (times
    sin of the excitation angle); with refocusing a the second echo is
    sin^4(a/2) exp(-2ESP/T2) + sin^2(a)/2 exp(-ESP/T2) exp(-ESP/T1) (excitation 90).
    ``t1_s``, ``t2_s``, ``b1``, ``diffusion_m2_s`` broadcast together to the batch shape.
    Diffusion (m^2/s): each half echo spacing is one crusher of ``crusher_rad_m`` (rad/m)
    spread over it (:func:`diffuse`); one echo then has b = (2/3) (ESP/2) dk^2, the
    Stejskal-Tanner value of two lobes filling their intervals.
    """
    xp = get_array_module(t1_s, t2_s, b1, refocus_rad, diffusion_m2_s)
    (t1, t2, scale, diffusivity), shape = _batch(xp, t1_s, t2_s, b1, diffusion_m2_s)
    refocus = xp.broadcast_to(xp.asarray(refocus_rad, dtype=xp.float64), (etl,))
    e1 = xp.exp(-0.5 * esp_s / t1)
    e2 = xp.exp(-0.5 * esp_s / t2)
    states = empty_states(t1.size, 2 * etl + 2, xp)
    damping = diffusion_factors(states.shape[1], diffusivity, 0.5 * esp_s, crusher_rad_m)
    states = rf(states, excite_rad * scale, 0.0)
    echoes = xp.empty((etl, t1.size), dtype=xp.complex128)
    for n in range(etl):
        states = shift(diffuse(relax(states, e1, e2), damping))
        states = rf(states, refocus[n] * scale, math.pi / 2)
        states = shift(diffuse(relax(states, e1, e2), damping))
        echoes[n] = states[0, 0]
    return xp.moveaxis(echoes, 0, -1).reshape(shape + (etl,))


def spoiled_gre(
    flip_rad,
    tr_s: float,
    t1_s,
    t2_s,
    b1=1.0,
    phase_increment_rad: float = math.radians(117.0),
    n_pulses: int = 400,
    perfect_spoiling: bool = False,
    max_orders: int | None = None,
    diffusion_m2_s=0.0,
    spoiler_rad_m: float = 0.0,
):
    """Signal right after the last of ``n_pulses`` RF pulses of a spoiled GRE train, complex.

    Pulse n (n = 0, 1, ...) has phase phi_n = phi_{n-1} + n * increment (quadratic RF
    spoiling), the receiver follows it; a spoiler gradient dephases by one unit each TR.
    ``perfect_spoiling`` zeroes the transverse states each TR instead, which gives the ideal
    formula sin(a)(1-E1)/(1-E1 cos a) at steady state. Start: Mz = M0 = 1. The number of
    dephasing orders kept is ``max_orders`` (default: all that T2, and diffusion within one
    TR, leave above 1e-8).
    Diffusion (m^2/s): the spoiler's moment per TR ``spoiler_rad_m`` (rad/m, gamma times its
    gradient area) is taken as spread over the whole TR (:func:`diffuse`).
    ``flip_rad``, ``t1_s``, ``t2_s``, ``b1``, ``diffusion_m2_s`` broadcast together to the batch shape.
    """
    xp = get_array_module(flip_rad, t1_s, t2_s, b1, diffusion_m2_s)
    (flip, t1, t2, scale, diffusivity), shape = _batch(xp, flip_rad, t1_s, t2_s, b1, diffusion_m2_s)
    if max_orders is None:
        longest_t2 = float(xp.max(t2)) if t2.size else 0.0
        max_orders = int(min(n_pulses, math.ceil(-math.log(1e-8) * longest_t2 / tr_s))) + 2
        slowest = float(xp.min(diffusivity)) * tr_s * spoiler_rad_m**2 if diffusivity.size else 0.0
        if slowest > 0:  # diffusion damps order n by exp(-D TR (n dk)^2) every TR
            max_orders = min(max_orders, int(math.ceil(math.sqrt(-math.log(1e-8) / slowest))) + 2)
    e1 = xp.exp(-tr_s / t1)
    e2 = xp.exp(-tr_s / t2)
    states = empty_states(t1.size, max(max_orders, 2), xp)
    damping = diffusion_factors(states.shape[1], diffusivity, tr_s, spoiler_rad_m)
    alpha = flip * scale
    phase = 0.0
    for n in range(n_pulses):
        phase = (phase + n * phase_increment_rad) % (2 * math.pi)
        states = rf(states, alpha, phase)
        if n == n_pulses - 1:
            break
        states = relax(states, e1, e2)
        if perfect_spoiling:
            states[0:2] = 0
        else:
            states = shift(diffuse(states, damping))
    return (states[0, 0] * np.exp(-1j * phase)).reshape(shape)
