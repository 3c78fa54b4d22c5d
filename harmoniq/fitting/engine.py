"""The steps every voxel-wise fit shares: chunked least squares, uncertainty, map assembly."""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from harmoniq.backend import get_array_module
from harmoniq.fitting.levmar import LeastSquaresResult, levenberg_marquardt
from harmoniq.fitting.maps import ParameterMaps, Voxels, chunks
from harmoniq.fitting.uncertainty import crlb_sd, noise_sigma_from_residuals

CHUNK = 32768


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


def solve_chunked(
    model: Callable,
    initial: Callable,
    data,
    aux: dict | None = None,
    *,
    lower: list | None = None,
    upper: list | None = None,
    max_iter: int = 50,
) -> LeastSquaresResult:
    """Levenberg-Marquardt over voxel chunks (bounded memory, cache-friendly).

    ``initial(data, aux) -> [(params, data), ...]``: one or more candidate starts for a
    chunk, each with the data to fit (an initialiser may transform it, e.g. one candidate
    per IR polarity); per voxel the candidate with the smallest final residual is kept;
    ``model(params, aux) -> (prediction, jacobian)``; ``aux``: per-voxel side arrays
    (first axis V) such as effective flip angles, sliced with the chunk.
    """
    xp = get_array_module(data)
    aux = aux or {}

    def fit_chunk(part):
        sub = {k: v[part] for k, v in aux.items()}
        best = None
        for params, fitted in initial(data[:, part], sub):
            fit = levenberg_marquardt(model, params, fitted, sub, lower=lower, upper=upper, max_iter=max_iter)
            best = fit if best is None else _keep_better(best, fit)
        return best

    parts = map_chunks(fit_chunk, data.shape[1], xp)
    n = len(parts[0].params)
    return LeastSquaresResult(
        params=[xp.concatenate([r.params[i] for r in parts]) for i in range(n)],
        rss=xp.concatenate([r.rss for r in parts]),
        jtj=[[xp.concatenate([r.jtj[i][j] for r in parts]) for j in range(n)] for i in range(n)],
        converged=xp.concatenate([r.converged for r in parts]),
    )


def _keep_better(old: LeastSquaresResult, new: LeastSquaresResult) -> LeastSquaresResult:
    xp = get_array_module(old.rss)
    take = new.rss < old.rss
    n = len(old.params)
    return LeastSquaresResult(
        params=[xp.where(take, a, b) for a, b in zip(new.params, old.params)],
        rss=xp.where(take, new.rss, old.rss),
        jtj=[[xp.where(take, new.jtj[i][j], old.jtj[i][j]) for j in range(n)] for i in range(n)],
        converged=xp.where(take, new.converged, old.converged),
    )


def uncertainties(result: LeastSquaresResult, names: list[str], n_samples: int, noise_sigma=None) -> tuple[dict, float | None]:
    """Cramer-Rao SD per parameter (``<name>_crlb``) and the noise SD used.

    ``noise_sigma`` None: estimated from the residuals of all fitted voxels; when the
    samples leave no residual degrees of freedom there is no estimate and no map.
    """
    if noise_sigma is None and n_samples <= len(names):
        return {}, None
    sigma = noise_sigma_from_residuals(result.rss, n_samples, len(names)) if noise_sigma is None else float(noise_sigma)
    sds = crlb_sd(result.jtj, sigma)
    return {f"{name}_crlb": sd for name, sd in zip(names, sds)}, sigma


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
