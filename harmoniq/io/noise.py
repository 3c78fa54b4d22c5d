"""Coil noise covariance from noise scans, and prewhitening.

With noise samples ``n`` (coil, samples), the covariance is ``Psi = n n^H / (N - 1)``.
The noise variance of a sample scales with the receiver bandwidth, i.e. with 1/dwell, so
a covariance measured with dwell ``t_noise`` becomes ``Psi * t_noise / t_data`` for data
sampled with dwell ``t_data``. Prewhitening multiplies the coil vector by ``L^-1`` where
``Psi = L L^H`` (Cholesky): the whitened noise then has identity covariance (unit variance
per complex sample), so images come out in units of the noise standard deviation
(Pruessmann et al., Magn Reson Med 2001;46:638-651; Kellman & McVeigh, Magn Reson Med
2005;54:1439-1447).
"""

from __future__ import annotations

import numpy as np

from harmoniq.errors import HarmoniqError


def noise_covariance(noise: np.ndarray, source: str = "noise scans") -> np.ndarray:
    """Coil covariance of ``noise`` (coil, samples): ``n n^H / (N - 1)``; ``source`` names the input."""
    n_samples = noise.shape[-1]
    if n_samples < 2:
        raise HarmoniqError(f"{source}: {n_samples} noise sample(s) per coil; a covariance needs at least 2")
    centred = noise - noise.mean(axis=-1, keepdims=True)
    # einsum's own loop, not BLAS: the sum order, hence the bits, do not depend on the thread count
    return np.einsum("ck,dk->cd", centred, centred.conj()) / (n_samples - 1)


def whitening_matrix(covariance: np.ndarray, source: str = "noise scans") -> np.ndarray:
    """``L^-1`` with ``covariance = L L^H``; applied to coil vectors it whitens the noise."""
    try:
        lower = np.linalg.cholesky(covariance)
    except np.linalg.LinAlgError as exc:
        raise HarmoniqError(f"{source}: the coil noise covariance is not positive definite "
                            "(a dead or duplicated channel?); reconstruct with --no-prewhiten") from exc
    return np.linalg.inv(lower)


def prewhiten(data: np.ndarray, matrix: np.ndarray, coil_axis: int) -> np.ndarray:
    """Apply the whitening ``matrix`` (coil, coil) along ``coil_axis`` of ``data``."""
    moved = np.moveaxis(data, coil_axis, -1)
    return np.moveaxis(moved @ matrix.T.astype(data.dtype), -1, coil_axis)
