"""k-space apodization filters, as vendor reconstructions apply them by default.

A filter multiplies k-space by a window along k1 and k0 (applied here to the complex
image through its 2D FFT, which is the same linear operation). ``none`` leaves the image
unchanged. Windows (n samples, u = (i - n/2) / (n/2) in [-1, 1)):
hamming: 0.54 + 0.46 cos(pi u); hanning: 0.5 + 0.5 cos(pi u);
fermi: 1 / (1 + exp((|u| - 0.9) / 0.04)) (radius 0.9, width 0.04 of k_max).
"""

from __future__ import annotations

import numpy as np

from harmoniq.backend import get_array_module
from harmoniq.errors import HarmoniqError
from harmoniq.io.fourier import image_to_k, k_to_image

FILTERS = ("none", "hamming", "hanning", "fermi")


def window(name: str, n: int, xp=np) -> np.ndarray:
    """1D window of ``n`` samples centred on sample n//2 (k = 0)."""
    u = (xp.arange(n) - n // 2) / (n / 2)
    if name == "hamming":
        return 0.54 + 0.46 * xp.cos(np.pi * u)
    if name == "hanning":
        return 0.5 + 0.5 * xp.cos(np.pi * u)
    if name == "fermi":
        return 1.0 / (1.0 + xp.exp((xp.abs(u) - 0.9) / 0.04))
    if name == "none":
        return xp.ones(n)
    raise HarmoniqError(f"recon filter {name!r} is unknown; choose one of {', '.join(FILTERS)}")


def apply_filter(images, name: str):
    """Apodize complex ``images`` (..., y, x) in k-space with window ``name`` on both axes."""
    if name == "none":
        return images
    xp = get_array_module(images)
    ny, nx = images.shape[-2:]
    w = window(name, ny, xp)[:, None] * window(name, nx, xp)[None, :]
    k = image_to_k(images, axes=(-2, -1))
    return k_to_image(k * w, axes=(-2, -1)).astype(images.dtype)
