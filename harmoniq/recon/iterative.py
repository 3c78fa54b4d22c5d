"""Model-based reconstructions of one frame with sigpy apps (SENSE, L1-wavelet, total variation).

All solve ``min_x 1/2 || W^(1/2) (F S x - y) ||^2 + lambda R(x)`` for the image ``x``
(z, y, x) from k-space ``y`` (coil, k2, k1, k0), sensitivities ``S`` and the sampling mask
``W``: ``R = ||x||^2`` with conjugate gradient (SENSE: Pruessmann et al., Magn Reson Med
1999;42:952-962), ``||Psi x||_1`` with Daubechies-4 wavelets or ``||grad x||_1`` (compressed
sensing: Lustig et al., Magn Reson Med 2007;58:1182-1195). sigpy's centred orthonormal FFT
is our convention (:mod:`harmoniq.io.fourier`).
"""

from __future__ import annotations

from harmoniq.backend import get_array_module

SENSE_LAMBDA = 1e-2
CS_LAMBDA = 5e-3
SENSE_ITERATIONS = 15
CS_ITERATIONS = 60


def _squeeze_2d(k, maps, mask):
    """Drop a singleton k2 axis (sigpy's 2D wavelets and TV want 2D images)."""
    if k.shape[1] == 1:
        return k[:, 0], maps[:, 0], mask[0]
    return k, maps, mask


def _sigpy_device(x):
    import sigpy as sp

    return sp.Device(-1 if get_array_module(x).__name__ == "numpy" else 0)


def _scale(k):
    """Data scale so that the regularisation weights are relative to the signal level."""
    xp = get_array_module(k)
    return float(xp.sqrt(xp.mean(xp.abs(k[k != 0]) ** 2))) if bool((k != 0).any()) else 1.0


def reconstruct_frame(k, maps, mask, method: str, *, lamda: float | None = None, iterations: int | None = None):
    """Image (z, y, x) of one frame by ``method``: 'sense', 'cs' (L1-wavelet) or 'tv'.

    ``k`` (coil, k2, k1, k0) with zeros where not sampled; ``maps`` (coil, z, y, x);
    ``mask`` (k2, k1) bool. ``lamda`` is relative to the RMS of the measured samples.
    """
    from sigpy.mri.app import L1WaveletRecon, SenseRecon, TotalVariationRecon

    xp = get_array_module(k)
    three_d = k.shape[1] > 1
    weights = xp.asarray(mask, dtype=xp.float32)[:, :, None]
    y, mps, w = _squeeze_2d(k, maps, weights)
    scale = _scale(y)
    device = _sigpy_device(k)
    if method == "sense":
        app = SenseRecon(y / scale, mps, lamda=SENSE_LAMBDA if lamda is None else lamda, weights=w,
                         max_iter=iterations or SENSE_ITERATIONS, device=device, show_pbar=False)
    elif method == "cs":
        app = L1WaveletRecon(y / scale, mps, lamda=CS_LAMBDA if lamda is None else lamda, weights=w,
                             max_iter=iterations or CS_ITERATIONS, device=device, show_pbar=False)
    else:
        app = TotalVariationRecon(y / scale, mps, lamda=CS_LAMBDA if lamda is None else lamda, weights=w,
                                  max_iter=iterations or CS_ITERATIONS, device=device, show_pbar=False)
    image = app.run() * scale
    return image if three_d else image[None]
