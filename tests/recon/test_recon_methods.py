"""Recon building blocks on a noise-free numerical object seen by smooth synthetic coils."""

import numpy as np
import pytest
from sigpy.mri.app import EspiritCalib

from harmoniq.io.fourier import image_to_k, k_to_image
from harmoniq.io.reference_tools import nrmse
from harmoniq.recon import coils
from harmoniq.recon.grappa import grappa
from harmoniq.recon.iterative import reconstruct_frame
from harmoniq.recon.partial_fourier import pocs
from harmoniq.recon.sampling import acceleration, partial_fourier_extent

N = 64


def _object():
    y, x = np.mgrid[:N, :N] - N // 2
    obj = ((x / 24.0) ** 2 + (y / 20.0) ** 2 < 1).astype(float)
    obj += 0.5 * (((x - 6) / 6.0) ** 2 + (y / 9.0) ** 2 < 1)
    smooth_phase = np.exp(1j * (0.02 * x + 0.01 * y))
    return (obj * smooth_phase)[None].astype(np.complex64)  # (z=1, y, x)


def _coil_maps(n_coils=8):
    y, x = (np.mgrid[:N, :N] - N // 2) / N
    maps = []
    for c in range(n_coils):
        angle = 2 * np.pi * c / n_coils
        cy, cx = 0.6 * np.sin(angle), 0.6 * np.cos(angle)
        maps.append(np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / 0.18) * np.exp(1j * angle))
    return np.array(maps)[:, None].astype(np.complex64)  # (coil, 1, y, x)


@pytest.fixture(scope="module")
def data():
    obj, maps = _object(), _coil_maps()
    return obj, maps, image_to_k(obj[None] * maps)  # k: (coil, 1, y, x)


def _undersample(k, r=2, acs=20):
    mask = np.zeros((1, N), bool)
    mask[0, ::r] = True
    mask[0, N // 2 - acs // 2:N // 2 + acs // 2] = True
    return k * mask[None, :, :, None], mask, k[:, :, N // 2 - acs // 2:N // 2 + acs // 2]


def test_sampling_description():
    mask = np.zeros(N, bool)
    mask[1::3] = True
    mask[28:36] = True
    assert acceleration(mask) == 3
    partial = np.zeros(N, bool)
    partial[20:] = True
    assert partial_fourier_extent(partial) == (20, N) and partial_fourier_extent(np.ones(N, bool)) is None


@pytest.mark.parametrize("r", [2, 3])
def test_grappa_recovers_fully_sampled_kspace(data, r):
    _, _, k = data
    measured, mask, acs = _undersample(k, r=r, acs=24)
    filled = grappa(measured, mask, acs, (1, r))
    assert np.linalg.norm(filled - k) / np.linalg.norm(k) < 0.03
    zero_filled_error = np.linalg.norm(measured - k) / np.linalg.norm(k)
    assert zero_filled_error > 0.1


def test_grappa_3d_two_directions(data):
    obj, maps, _ = data
    volume = np.repeat(obj, 16, axis=0) * np.hanning(18)[1:-1, None, None]  # (z=16, y, x)
    k = image_to_k(volume[None] * maps)
    mask = np.zeros((16, N), bool)
    mask[::2, ::2] = True
    mask[4:12, N // 2 - 10:N // 2 + 10] = True
    acs = k[:, 4:12, N // 2 - 10:N // 2 + 10]
    filled = grappa(k * mask[None, :, :, None], mask, acs, (2, 2), blocks=(2, 2))
    assert np.linalg.norm(filled - k) / np.linalg.norm(k) < 0.05


def test_espirit_maps_agree_with_sigpy(data):
    _, _, k = data
    acs = k[:, :, N // 2 - 12:N // 2 + 12, N // 2 - 12:N // 2 + 12]
    ours = coils.espirit_maps(acs, (1, N, N))[:, 0]
    padded = np.zeros((k.shape[0], N, N), np.complex64)
    padded[:, N // 2 - 12:N // 2 + 12, N // 2 - 12:N // 2 + 12] = acs[:, 0]
    theirs = EspiritCalib(padded, calib_width=24, kernel_width=6, thresh=coils.ESPIRIT_THRESHOLD, crop=0.95,
                          max_iter=30, show_pbar=False).run()
    both = (np.linalg.norm(ours, axis=0) > 0) & (np.linalg.norm(theirs, axis=0) > 0)
    agreement = np.abs(np.sum(np.conj(ours) * theirs, axis=0))[both]
    assert both.mean() > 0.3 and agreement.min() > 0.999


def test_espirit_and_adaptive_maps_match_true_coils_in_object(data):
    obj, maps, k = data
    truth = maps / np.linalg.norm(maps, axis=0)
    inside = np.abs(obj[0]) > 0.5
    espirit = coils.espirit_maps(k[:, :, N // 2 - 12:N // 2 + 12], (1, N, N))
    adaptive = coils.adaptive_maps(k_to_image(k))
    for estimate in (espirit, adaptive):
        agreement = np.abs(np.sum(np.conj(estimate) * truth, axis=0))[0][inside]
        assert agreement.min() > 0.98


def test_combinations_return_object_times_coil_norm(data):
    obj, maps, k = data
    images = k_to_image(k)
    expected = np.abs(obj) * np.linalg.norm(maps, axis=0)
    np.testing.assert_allclose(coils.rss(images), expected, atol=1e-5)
    normalised = maps / np.linalg.norm(maps, axis=0)
    np.testing.assert_allclose(np.abs(coils.combine(images, normalised)), expected, atol=1e-5)


@pytest.mark.parametrize("method", ["sense", "cs"])
def test_model_based_recon_with_true_maps(data, method):
    obj, maps, k = data
    measured, mask, _ = _undersample(k, r=2, acs=8)
    normalised = maps / np.linalg.norm(maps, axis=0)
    image = reconstruct_frame(measured, normalised, mask, method, iterations=100)
    truth = np.abs(obj) * np.linalg.norm(maps, axis=0)
    error = nrmse(image, truth)
    assert error < 0.05
    assert nrmse(coils.rss(k_to_image(measured)), truth) > 3 * error  # zero-filled aliases


def test_pocs_restores_partial_fourier(data):
    obj, _, _ = data
    k = image_to_k(obj)
    first = 3 * N // 8  # 62.5 % of k1 sampled
    measured = k.copy()
    measured[:, :first] = 0
    restored = pocs(measured, {-2: (first, N)}, iterations=20)
    zero_filled = nrmse(k_to_image(measured), np.abs(obj))
    assert nrmse(k_to_image(restored), np.abs(obj)) < zero_filled / 3


@pytest.mark.parametrize("partitions", [4, 6, 8])
def test_espirit_maps_of_a_thin_slab_cover_the_object(data, partitions):
    """A thin 3D slab (4 partitions; b1-afi: 6, t1-vfa: 8): the kernel is narrowed along the slab, so the
    maps keep their support and match the true coils (a 6-wide kernel left none of these voxels)."""
    obj, maps, _ = data
    z = np.linspace(-0.2, 0.2, partitions)[:, None, None]
    slab_maps = maps * (1 + z)[None]  # (coil, 4, y, x): a gentle through-slab variation
    k = image_to_k(np.repeat(obj, partitions, axis=0)[None] * slab_maps)
    truth = slab_maps / np.linalg.norm(slab_maps, axis=0)
    inside = np.repeat(np.abs(obj) > 0.5, partitions, axis=0)
    espirit = coils.espirit_maps(k[:, :, N // 2 - 12:N // 2 + 12, N // 2 - 12:N // 2 + 12], (partitions, N, N))
    agreement = np.abs(np.sum(np.conj(espirit) * truth, axis=0))[inside]
    assert coils.kernel_width_for(partitions) == partitions // 2 and coils.kernel_width_for(24) == coils.ESPIRIT_KERNEL
    assert np.mean(agreement > 0.98) > 0.99
