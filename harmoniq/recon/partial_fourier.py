"""Partial Fourier by projection onto convex sets (POCS), per coil.

Haacke et al., J Magn Reson 1991;92:126-145. A phase map from the symmetrically sampled
centre (Hamming-filtered) constrains the image; iterate ``x <- |x| exp(i phi)``, go to
k-space, restore the measured samples, come back.
"""

from __future__ import annotations

import numpy as np

from harmoniq.backend import get_array_module
from harmoniq.io.fourier import image_to_k, k_to_image


def _symmetric_window(n: int, first: int, stop: int):
    """Hamming window over the part of [first, stop) that is symmetric about n // 2."""
    half = min(n // 2 - first, stop - 1 - n // 2)
    window = np.zeros(n)
    window[n // 2 - half:n // 2 + half + 1] = np.hamming(2 * half + 1)
    return window


def pocs(k, extents, iterations: int = 10):
    """Fill the unsampled partial-Fourier side of ``k`` (..., k2, k1, k0).

    ``extents``: ``{axis: (first, stop)}`` sampled range per partially sampled axis
    (-3 for k2, -2 for k1). Measured samples inside the extents are kept unchanged.
    """
    xp = get_array_module(k)
    keep = xp.ones(k.shape[-3:], dtype=bool)
    window = xp.ones(k.shape[-3:], dtype=xp.float32)
    for axis, (first, stop) in extents.items():
        n = k.shape[axis]
        shape = [1, 1, 1]
        shape[axis] = n
        inside = np.zeros(n, bool)
        inside[first:stop] = True
        keep = keep & xp.asarray(inside).reshape(shape)
        window = window * xp.asarray(_symmetric_window(n, first, stop), dtype=xp.float32).reshape(shape)
    phase = xp.exp(1j * xp.angle(k_to_image(k * window)))
    measured = k * keep
    x = k_to_image(measured)
    for _ in range(iterations):
        estimate = image_to_k(xp.abs(x) * phase)
        x = k_to_image(xp.where(keep, measured, estimate))
    return xp.where(keep, measured, image_to_k(xp.abs(x) * phase)).astype(k.dtype)
