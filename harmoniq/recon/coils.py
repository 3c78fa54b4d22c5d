"""Coil sensitivities and coil combination; images are (coil, z, y, x), NumPy or CuPy.

- root-sum-of-squares: ``sqrt(sum_c |x_c|^2)`` (Roemer et al., Magn Reson Med 1990;16:192-225);
- adaptive: the locally dominant coil eigenvector (Walsh et al., Magn Reson Med
  2000;43:682-690), found by power iteration on smoothed coil products (Inati et al., Proc
  ISMRM 2014;4407), which needs no coil x coil matrix per voxel;
- ESPIRiT maps from the ACS block (Uecker et al., Magn Reson Med 2014;71:990-1001);
- sensitivity-weighted combination ``sum_c conj(S_c) x_c / sum_c |S_c|^2``.
"""

from __future__ import annotations

import numpy as np
from threadpoolctl import threadpool_limits

from harmoniq.backend import get_array_module

ESPIRIT_KERNEL = 6
ESPIRIT_THRESHOLD = 0.05
ESPIRIT_CROP = 0.95
ESPIRIT_POWER_ITERATIONS = 30
ESPIRIT_CALIBRATION_SIZE = 24
"""Largest calibration region per axis (the 24 x 24 of Uecker et al. 2014 and BART's ecalib):
a longer region, e.g. a whole readout, lets noise into the signal space and the maps lose
their support mask."""


def _box_filter(x, size: int):
    """Moving average over the last three axes (sizes clipped to each axis)."""
    xp = get_array_module(x)
    if xp is np:
        from scipy.ndimage import uniform_filter
    else:  # pragma: no cover - GPU only
        from cupyx.scipy.ndimage import uniform_filter
    sizes = [1] * (x.ndim - 3) + [min(size, n) for n in x.shape[-3:]]
    return uniform_filter(x.real, sizes, mode="nearest") + 1j * uniform_filter(x.imag, sizes, mode="nearest")


def rss(images, coil_axis: int = 0):
    """Root-sum-of-squares magnitude over ``coil_axis``."""
    xp = get_array_module(images)
    return xp.sqrt(xp.sum(xp.abs(images) ** 2, axis=coil_axis))


def adaptive_maps(images, smoothing: int = 5, iterations: int = 5):
    """Walsh adaptive coil maps (coil, z, y, x) by Inati's power iteration.

    Starting from ``v`` = the coil-summed signal direction, repeat: combined image
    ``rho = sum_c conj(v_c) x_c``; maps ``v = smooth(x conj(rho)) / ||smooth(x conj(rho))||``.
    The global phase is referenced to the coil with the largest signal.
    """
    xp = get_array_module(images)
    total = xp.sum(images, axis=(1, 2, 3))
    v = (total / xp.linalg.norm(total))[:, None, None, None] * xp.ones_like(images)
    for _ in range(iterations):
        rho = xp.sum(xp.conj(v) * images, axis=0)
        v = _box_filter(images * xp.conj(rho)[None], smoothing)
        v = v / xp.maximum(xp.sqrt(xp.sum(xp.abs(v) ** 2, axis=0)), 1e-30)
    reference = int(xp.argmax(xp.sum(xp.abs(images) ** 2, axis=(1, 2, 3))))
    return v * xp.exp(-1j * xp.angle(v[reference]))[None]


def _calibration_gram(acs_k, widths):
    """Kernel Gram correlation C (coil, coil, 2w2-1, 2w1-1, 2w0-1) of the ESPIRiT signal space.

    Rows of the calibration (Hankel) matrix are all ``widths`` blocks of the ACS k-space;
    ``V`` spans its right singular vectors with singular value > threshold * max (found as
    eigenvectors of the normal matrix). ``C(d) = sum_{m - m' = d} (V V^H)[(c, m), (c', m')]``.
    """
    xp = get_array_module(acs_k)
    n_coils = acs_k.shape[0]
    blocks = xp.lib.stride_tricks.sliding_window_view(acs_k, widths, axis=(1, 2, 3))
    n_kernel = int(np.prod(widths))
    mat = xp.moveaxis(blocks, 0, 3).reshape(-1, n_coils * n_kernel)
    eigvals, eigvecs = xp.linalg.eigh(mat.conj().T @ mat)
    keep = eigvals > (ESPIRIT_THRESHOLD ** 2) * eigvals[-1]
    v = eigvecs[:, keep]
    q = (v.conj() @ v.T).reshape(n_coils, *widths, n_coils, *widths)
    gram = xp.zeros((n_coils, n_coils, *[2 * w - 1 for w in widths]), dtype=q.dtype)
    for m in np.ndindex(*widths):
        block = q[(slice(None), *m)][:, :, ::-1, ::-1, ::-1]
        gram[(slice(None), slice(None), *[slice(a, a + w) for a, w in zip(m, widths)])] += block
    return gram


def _image_operator(gram, shape, x_slice, n_kernel):
    """ESPIRiT image-space operator (coil, coil, z, y, chunk x) for the readout columns ``x_slice``.

    ``G_cc'(r) = (1 / W) sum_d C_cc'(d) exp(+2 pi i d . r / N)`` with ``r`` measured from voxel
    ``n // 2`` (our centred convention); the readout axis is transformed by an explicit DFT so
    the operator can be built a readout chunk at a time.
    """
    xp = get_array_module(gram)
    n2, n1, n0 = shape
    h2, h1, h0 = [(s - 1) // 2 for s in gram.shape[2:]]
    d0 = xp.arange(-h0, h0 + 1)
    x0 = xp.arange(x_slice.start, x_slice.stop) - n0 // 2
    dft0 = xp.exp(2j * np.pi * d0[:, None] * x0[None, :] / n0).astype(gram.dtype)
    partial = gram @ dft0
    grid = xp.zeros((*gram.shape[:2], n2, n1, partial.shape[-1]), dtype=gram.dtype)
    idx2 = xp.arange(-h2, h2 + 1) % n2
    idx1 = xp.arange(-h1, h1 + 1) % n1
    for a, i2 in enumerate(idx2.tolist()):
        grid[:, :, i2, idx1] += partial[:, :, a]
    return xp.fft.fftshift(xp.fft.ifftn(grid, axes=(2, 3)), axes=(2, 3)) * (n2 * n1 / n_kernel)


def _dominant_eigenvector(operator, iterations: int):
    """Power iteration on Hermitian (coil, coil) matrices stacked on the trailing axes of
    ``operator`` (coil, coil, ...): returns (vector (coil, ...), eigenvalue (...))."""
    xp = get_array_module(operator)

    def apply(v):
        out = operator[:, 0] * v[0]
        for c in range(1, v.shape[0]):
            out += operator[:, c] * v[c]
        return out

    v = xp.ones(operator.shape[1:], dtype=operator.dtype)
    for _ in range(iterations):
        v = apply(v)
        v /= xp.maximum(xp.sqrt(xp.sum(xp.abs(v) ** 2, axis=0)), 1e-30)
    eigenvalue = xp.real(xp.sum(xp.conj(v) * apply(v), axis=0))
    return v, eigenvalue


def kernel_width_for(n: int, kernel_width: int = ESPIRIT_KERNEL) -> int:
    """Calibration kernel width along an axis of ``n`` calibration samples: ``kernel_width``, at most
    n // 2. A kernel longer than half the calibration region along an axis (a thin 3D slab: 6 of 8
    partitions, 4 of 6, 3 of 4) leaves no voxel whose eigenvalue passes the crop, so the maps and
    the combined image vanish; at n // 2 or less the maps match the true coils
    (tests/recon/test_recon_methods.py)."""
    return max(1, min(kernel_width, n // 2))


def espirit_maps(acs_k, shape: tuple[int, int, int], *, kernel_width: int = ESPIRIT_KERNEL,
                 iterations: int = ESPIRIT_POWER_ITERATIONS, max_chunk_elements: int = 1 << 26):
    """ESPIRiT maps (coil, z, y, x) of matrix ``shape`` from ACS k-space (coil, c2, c1, c0).

    The central ``ESPIRIT_CALIBRATION_SIZE`` samples of each ACS axis are used. One set of
    maps: per voxel the dominant eigenvector of the image-space operator of the calibration
    kernels, kept where its eigenvalue exceeds ``ESPIRIT_CROP`` (Uecker et al.
    2014). The operator is built from the coil x coil kernel correlation (coil^2 FFTs), not
    kernel by kernel as ``sigpy.mri.app.EspiritCalib`` does, which makes it several times
    faster; the tests check both agree. Phases are referenced to the first coil.
    On the CPU the dense linear algebra runs on one BLAS thread: a threaded eigensolver sums in
    a thread-count-dependent order, and the same data must give the same bits on a laptop and
    on a one-thread cluster worker.
    """
    if get_array_module(acs_k) is np:
        with threadpool_limits(limits=1, user_api="blas"):
            return _espirit_maps(acs_k, shape, kernel_width, iterations, max_chunk_elements)
    return _espirit_maps(acs_k, shape, kernel_width, iterations, max_chunk_elements)


def _espirit_maps(acs_k, shape, kernel_width, iterations, max_chunk_elements):
    xp = get_array_module(acs_k)
    acs_k = acs_k[(slice(None), *[slice(n // 2 - min(n, ESPIRIT_CALIBRATION_SIZE) // 2,
                                        n // 2 - min(n, ESPIRIT_CALIBRATION_SIZE) // 2
                                        + min(n, ESPIRIT_CALIBRATION_SIZE)) for n in acs_k.shape[1:]])]
    widths = tuple(kernel_width_for(n, kernel_width) for n in acs_k.shape[1:])
    gram = _calibration_gram(acs_k.astype(xp.complex64), widths)
    n_coils = acs_k.shape[0]
    n2, n1, n0 = shape
    chunk = max(1, max_chunk_elements // (n_coils * n_coils * n2 * n1))
    maps = xp.zeros((n_coils, n2, n1, n0), dtype=xp.complex64)
    for start in range(0, n0, chunk):
        x_slice = slice(start, min(start + chunk, n0))
        vec, eigenvalue = _dominant_eigenvector(_image_operator(gram, shape, x_slice, int(np.prod(widths))),
                                                iterations)
        vec *= xp.conj(vec[:1] / xp.maximum(xp.abs(vec[:1]), 1e-30))
        maps[..., x_slice] = vec * (eigenvalue > ESPIRIT_CROP)
    return maps


def combine(images, maps):
    """Sensitivity-weighted combination ``sum_c conj(S_c) x_c / sum_c |S_c|^2`` (0 where S = 0)."""
    xp = get_array_module(images)
    norm = xp.sum(xp.abs(maps) ** 2, axis=0)
    combined = xp.sum(xp.conj(maps) * images, axis=0)
    return xp.where(norm > 0, combined / xp.where(norm > 0, norm, 1), 0)
