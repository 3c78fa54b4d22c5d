"""The steps every voxel-wise fit shares: chunks in threads, uncertainty, map assembly."""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from harmoniq.backend import get_array_module
from harmoniq.fitting.maps import ParameterMaps, Voxels, chunks
from harmoniq.fitting.uncertainty import noise_sigma_from_residuals

CHUNK = 16384  # voxels per chunk: the (N, chunk) working arrays stay within the L2/L3 caches


def _usable_cpus() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def map_chunks(func: Callable, n: int, xp) -> list:
    """``func(slice)`` over voxel chunks, in threads on the CPU (NumPy releases the GIL in its
    array operations), one after another on the GPU (CuPy queues on one stream)."""
    parts = chunks(n, CHUNK)
    workers = min(_usable_cpus(), len(parts)) if xp is np else 1
    if workers <= 1:
        return [func(part) for part in parts]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(func, parts))


def uncertainties(rss, variances: list, n_samples: int, noise_sigma=None) -> tuple[list | None, float | None]:
    """Cramer-Rao SDs sigma sqrt(v) from the unit-noise variances v per parameter, and sigma.

    ``noise_sigma`` None: estimated from the residuals of all fitted voxels; when the
    samples leave no residual degrees of freedom there is no estimate and no map (None, None).
    """
    xp = get_array_module(rss)
    n_params = len(variances)
    if noise_sigma is None and n_samples <= n_params:
        return None, None
    sigma = noise_sigma_from_residuals(rss, n_samples, n_params) if noise_sigma is None else float(noise_sigma)
    return [sigma * xp.sqrt(v) for v in variances], sigma


def rms_residual(rss, n_samples: int):
    """Root-mean-square residual per voxel, in signal units: sqrt(RSS / N)."""
    xp = get_array_module(rss)
    return xp.sqrt(rss / n_samples)


def assemble(model: str, voxels: Voxels, values: dict, units: dict, out_of_range, info: dict) -> ParameterMaps:
    """Scatter per-voxel results into a :class:`ParameterMaps`.

    ``out_of_range``: the model's flags (outside the valid range, fit not converged); every
    non-finite value also marks its voxel (flagged, never silently wrong).
    """
    xp = get_array_module(voxels.data)
    bad = out_of_range.copy()
    for v in values.values():
        bad |= ~xp.isfinite(v)
    maps = {name: voxels.scatter(v) for name, v in values.items()}
    maps["out_of_range"] = voxels.scatter(bad, fill=False)
    maps["mask"] = voxels.mask()
    units = dict(units, out_of_range="bool", mask="bool")
    return ParameterMaps(model=model, maps=maps, units=units, info=info)
