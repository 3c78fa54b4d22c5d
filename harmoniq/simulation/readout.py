"""The signal of one ADC event: a sum over voxels of a DFT-like product.

At the echo sample t_r of an ADC (the sample nearest to k = 0) the spins of every voxel
are summed with their exact phases into X_v. From there to sample j the voxel evolves as

    s_c(t_j) = sum_v S_c(v) X_v exp(-(t_j - t_r) z_v) exp(-2i pi (k_j - k_r).r_v),
    z_v = R2_v + 2i pi df_v,

S_c the coil sensitivities. The decay/off-resonance factor is not separable in space, so
it is written by time segmentation (Sutton, Noll and Fessler, IEEE TMI 2003;22:178) with
L nodes tau_l and least-squares coefficients B fitted to the phantom's own z values,

    exp(-t z) ~= sum_l B_l(t) exp(-tau_l z),

with L raised until the worst relative error is below 1e-4. What is left is a DFT over the
voxel grid, separable in x, y, z: axes along which k does not move during the ADC are summed
first; one moving axis (Cartesian readouts) is one matrix product; two or three (radial,
spiral) are successive contractions over the moving axes. Inside one ADC window spins
sit at their voxel centres and T2' dephasing is frozen at its value at t_r.
"""

from __future__ import annotations

import threading

import numpy as np

from harmoniq.backend import get_array_module

SEGMENT_TOLERANCE = 1e-4
SEGMENT_COUNTS = (1, 2, 3, 4, 6, 8, 10, 12, 16, 20, 24, 32)


class TimeSegmentation:
    """Least-squares time-segmentation coefficients for a set of z = R2 + 2i pi df values."""

    def __init__(self, r2: np.ndarray, df_hz: np.ndarray, max_values: int = 2048):
        z = np.unique(np.round(np.asarray(r2).ravel(), 2) + 2j * np.pi * np.round(np.asarray(df_hz).ravel(), 2))
        if z.size > max_values:
            z = z[np.linspace(0, z.size - 1, max_values).astype(int)]
        self.z = z
        self._cache: dict = {}
        self._lock = threading.Lock()

    def coefficients(self, dt_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Nodes tau (L,) and coefficients B (J, L) for sample offsets ``dt_s`` (J,)."""
        key = np.round(dt_s, 12).tobytes()
        with self._lock:
            if key not in self._cache:
                self._cache[key] = self._fit(dt_s)
            return self._cache[key]

    def _fit(self, dt_s: np.ndarray):
        target = np.exp(-np.outer(self.z, dt_s))  # (values, J)
        lo, hi = float(dt_s.min()), float(dt_s.max())
        for count in SEGMENT_COUNTS:
            nodes = np.array([0.0]) if count == 1 else np.linspace(lo, hi, count)
            basis = np.exp(-np.outer(self.z, nodes))  # (values, L)
            coef, *_ = np.linalg.lstsq(basis, target, rcond=None)
            error = np.abs(basis @ coef - target).max() / max(np.abs(target).max(), 1e-30)
            if error < SEGMENT_TOLERANCE:
                break
        return nodes, np.ascontiguousarray(coef.T)


def encode(x, voxel_axes, coils, r2, df_hz, dt_s, dk, segmentation: TimeSegmentation):
    """Coil signals (C, J) of voxel magnetisation ``x`` (vz, vy, vx) over one ADC.

    voxel_axes: (x, y, z) 1D voxel-centre positions (m); coils (C, vz, vy, vx); r2, df_hz
    voxel maps; dt_s (J,) sample times from the echo sample; dk (J, 3) moments from it.
    """
    xp = get_array_module(x)
    nodes, coef = segmentation.coefficients(dt_s)
    coef = xp.asarray(coef)
    decay = xp.exp(-xp.asarray(nodes)[:, None, None, None] * (r2 + 2j * np.pi * df_hz)[None])
    y = (x[None] * decay).astype(x.dtype)  # (L, vz, vy, vx)
    moving = [a for a in range(3) if np.ptp(dk[:, a]) * max(np.ptp(voxel_axes[a]), 1e-9) > 1e-9]
    n_c, n_l = coils.shape[0], y.shape[0]
    if not moving:
        summed = coils.reshape(n_c, -1) @ y.reshape(n_l, -1).T  # (C, L)
        return (summed @ coef.T).astype(xp.complex64)
    if len(moving) == 1:
        axis = 3 - moving[0]  # array axis (z, y, x) of the moving spatial axis, without the batch axis
        n_a = coils.shape[axis]
        s_t = xp.moveaxis(coils, axis, 0).reshape(n_a, n_c, -1)  # (a, C, m)
        y_t = xp.moveaxis(y, axis, 0).reshape(n_a, n_l, -1).transpose(0, 2, 1)  # (a, m, L)
        per_position = s_t @ y_t  # (a, C, L)
        kernel = xp.asarray(np.exp(-2j * np.pi * np.outer(dk[:, moving[0]], voxel_axes[moving[0]])))  # (J, a)
        h = (kernel @ per_position.reshape(n_a, -1)).reshape(-1, n_c, n_l)  # (J, C, L)
        return xp.einsum("jcl,jl->cj", h, coef).astype(xp.complex64)
    signal = coils[:, None] * y[None]  # (C, L, vz, vy, vx)
    static = tuple(4 - a for a in range(3) if a not in moving)
    if static:
        signal = signal.sum(axis=static, keepdims=True)
    for a in moving:  # contract one moving axis after the other; J joins as the last axis
        phase = xp.asarray(np.exp(-2j * np.pi * np.outer(voxel_axes[a], dk[:, a])))  # (n_a, J)
        if a == moving[0]:
            signal = xp.moveaxis(signal, 4 - a, -1) @ phase  # (C, L, ., ., J)
        else:
            # axes processed earlier sat after this one, so it is still at array position 4 - a
            signal = (xp.moveaxis(signal, 4 - a, -2) * phase).sum(axis=-2)
    signal = signal.reshape(n_c, n_l, -1, signal.shape[-1]).sum(axis=2)  # (C, L, J)
    return xp.einsum("clj,jl->cj", signal, coef).astype(xp.complex64)
