"""Peripheral nerve stimulation as the GE interpreter's check computes it (HarmonizedMRI/pge2 ``pns.m``).

IEC 60601-2-33:2022 Eq. AA.21 nerve impulse response: a slew impulse at time 0 adds
``dt / S_min * c / (c + tau)^2`` to the stimulation at ``tau`` (kept for tau <= 20 c). Per axis
``p(t) = 100 w (s * f)(t)`` with s = dG/dt (T/m/s) on the 4 us raster, total ``sqrt(sum p^2)`` in
percent of the threshold; S_min = rheobase / alpha (T/m/s). pge2's ``checksegment.m`` stops
above 80 % (normal mode).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.signal import oaconvolve

GRAD_UPDATE_TIME_S = 4e-6  # pge2 matlab/+pge2/opts.m: arg.GRAD_UPDATE_TIME
NORMAL_MODE_PERCENT = 80.0  # pge2 matlab/+pge2/private/checksegment.m: "PNS exceeds normal mode (80%)"
DEFAULT_WEIGHTS = (1.0, 1.0, 1.0)  # pge2 pns.m / checksegment.m: arg.PNSwt = [1 1 1]
#: Kernel lengths convolved past the last slew sample. Overlap-add (scipy ``oaconvolve``) cuts the
#: input into blocks of a length set by the kernel alone (about 12 kernel lengths here) once the
#: input is more than a block long, and each block's output ends a kernel length after it: a
#: margin of more than a block and a kernel keeps every block that holds slew, the blocks' output
#: and the sum of neighbours unchanged; all later blocks are zero.
TAIL_KERNELS = 32


@dataclass(frozen=True)
class Coil:
    """Gradient coil nerve model: chronaxie (s), rheobase (T/s) and effective length alpha (m)."""

    name: str
    chronaxie_s: float
    rheobase: float
    alpha: float

    @property
    def smin(self) -> float:
        """Threshold slew rate (T/m/s) for a ramp of infinite duration: rheobase / alpha."""
        return self.rheobase / self.alpha


#: pge2 matlab/+pge2/opts.m coil table (values from the scanner's GRSubsystemHWO.xml).
COILS = {
    "hrmw": Coil("hrmw", 642.4e-6, 17.9, 0.310),  # SIGNA Premier, HRMW
    "xrm": Coil("xrm", 334e-6, 23.4, 0.333),  # MR750, XRM
}
#: The SIGNA Artist's coil is not in that table, so a file for GE is checked on every coil here.


def impulse_response(coil: Coil, dt: float = GRAD_UPDATE_TIME_S) -> np.ndarray:
    """f(tau) = dt / S_min * c / (c + tau)^2 at tau = dt, 2 dt, ... 20 c (pge2 ``pns.m``)."""
    c = coil.chronaxie_s
    tau = dt * np.arange(1, int(np.floor(20 * c / dt + 1e-9)) + 1)
    return dt / coil.smin * c / (c + tau) ** 2


def axis_response(g: np.ndarray, coil: Coil, dt: float = GRAD_UPDATE_TIME_S) -> np.ndarray:
    """Per-axis stimulation (percent, weight 1) of gradients ``g`` (..., n) in T/m on raster dt.

    The slew is convolved only up to :data:`TAIL_KERNELS` kernel lengths past its last non-zero
    sample; the rest of the output is zero."""
    g = np.asarray(g, dtype=np.float64)
    slew = np.diff(g, axis=-1) / dt
    kernel = impulse_response(coil, dt)
    n = g.shape[-1]
    out = np.zeros(g.shape)
    moving = np.flatnonzero(np.any(slew != 0, axis=tuple(range(slew.ndim - 1))))
    if moving.size == 0:
        return out
    keep = min(slew.shape[-1], int(moving[-1]) + 1 + TAIL_KERNELS * kernel.size)
    full = 100.0 * oaconvolve(slew[..., :keep], kernel.reshape((1,) * (g.ndim - 1) + (-1,)), axes=-1)
    m = min(n, full.shape[-1])
    out[..., :m] = full[..., :m]
    return out


def total(per_axis, weights=DEFAULT_WEIGHTS) -> np.ndarray:
    """Channel-combined stimulation sqrt(sum_i (w_i p_i)^2) of the three axes ``per_axis`` (an
    array (3, ...) or three arrays that broadcast), summed in axis order x, y, z."""
    x, y, z = per_axis
    acc = (weights[0] * np.asarray(x, dtype=np.float64)) ** 2
    acc = acc + (weights[1] * np.asarray(y, dtype=np.float64)) ** 2
    acc += (weights[2] * np.asarray(z, dtype=np.float64)) ** 2
    return np.sqrt(acc, out=acc)
