"""k-space apodization filters, as vendor reconstructions apply them by default.

A filter multiplies k-space by a window along k1 and k0, before any coil combination.
``none`` leaves the data unchanged. Windows (n samples, u = (i - n/2) / (n/2) in [-1, 1)):
hamming: 0.54 + 0.46 cos(pi u); hanning: 0.5 + 0.5 cos(pi u);
fermi: 1 / (1 + exp((|u| - 0.9) / 0.04)) (radius 0.9, width 0.04 of k_max).
"""

from __future__ import annotations

import numpy as np

from harmoniq.backend import get_array_module
from harmoniq.errors import HarmoniqError
from harmoniq.names import RECON_FILTERS


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
    raise HarmoniqError(f"recon filter {name!r} is unknown; choose one of {', '.join(RECON_FILTERS)}")


def apply_filter(kspace, name: str):
    """Apodize ``kspace`` (..., k1, k0) with window ``name`` on both axes."""
    if name == "none":
        return kspace
    xp = get_array_module(kspace)
    n1, n0 = kspace.shape[-2:]
    w = window(name, n1, xp)[:, None] * window(name, n0, xp)[None, :]
    return (kspace * w).astype(kspace.dtype)
