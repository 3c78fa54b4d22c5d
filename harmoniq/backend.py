"""NumPy / CuPy array-module selection.

CuPy is never imported at module import time: a machine without a GPU installs, imports and
tests everything. Code takes ``xp = get_array_module(x)`` from its input and stays agnostic.
"""

from __future__ import annotations

import numpy as np

from harmoniq.errors import HarmoniqError
from harmoniq.names import DEVICES


def _cupy():
    try:
        import cupy
    except ImportError as exc:  # pragma: no cover - depends on the machine
        raise HarmoniqError(
            "device 'gpu' needs CuPy and a CUDA device: install 'harmoniq[gpu]' or use --device cpu"
        ) from exc
    try:
        cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:  # pragma: no cover - depends on the machine
        raise HarmoniqError(f"device 'gpu': CuPy found no usable CUDA device ({exc}); use --device cpu") from exc
    return cupy


def gpu_available() -> bool:
    """True when CuPy imports and sees at least one CUDA device."""
    try:
        _cupy()
    except HarmoniqError:
        return False
    return True


def get_array_module(*arrays):
    """Return ``cupy`` if any argument is a CuPy array, else ``numpy``."""
    for a in arrays:
        if type(a).__module__.split(".")[0] == "cupy":
            import cupy

            return cupy
    return np


def xp_for_device(device: str):
    """Array module for ``device`` ('cpu' or 'gpu'); a clear error for anything else."""
    if device == "cpu":
        return np
    if device == "gpu":
        return _cupy()
    raise HarmoniqError(f"device={device!r} is not valid; choose one of {', '.join(DEVICES)}")


def to_device(array, device: str):
    """Copy ``array`` to ``device``."""
    xp = xp_for_device(device)
    return xp.asarray(array)


def to_numpy(array) -> np.ndarray:
    """Return a NumPy array whatever the input's module."""
    if type(array).__module__.split(".")[0] == "cupy":
        return array.get()
    return np.asarray(array)
