"""The same fits on CuPy arrays give the NumPy results (skipped without a CUDA device)."""

import math

import numpy as np
import pytest

from harmoniq.backend import gpu_available
from harmoniq.fitting import (fit_b1_afi, fit_b1_bloch_siegert, fit_b1_dam, fit_t1_ir, fit_t1_molli, fit_t1_mp2rage,
                              fit_t1_vfa, fit_t2_mese, fit_t2_se)
from harmoniq.fitting.bloch_siegert import FermiPulse
from harmoniq.fitting.mp2rage import Mp2rageTiming, mp2rage_signals
from harmoniq.simulation.epg import cpmg

pytestmark = pytest.mark.gpu


@pytest.fixture(scope="module")
def cupy():
    if not gpu_available():
        pytest.skip("needs CuPy and a CUDA device")
    import cupy

    return cupy


def _same(cupy, fit, images, *args, on_device=(), **kwargs):
    ref = fit(images, *args, **kwargs)
    moved = {k: cupy.asarray(v) for k, v in kwargs.items() if k in on_device}
    got = fit(cupy.asarray(images), *args, **{**kwargs, **moved})
    for name, value in ref.maps.items():
        assert isinstance(got.maps[name], cupy.ndarray), name
        assert np.allclose(cupy.asnumpy(got.maps[name]), value, rtol=1e-5, equal_nan=True), name


def test_models_on_cupy(cupy):
    rng = np.random.default_rng(0)
    ti = np.array([0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 3.2])
    t1 = rng.uniform(0.1, 3.0, (1, 8, 8))
    _same(cupy, fit_t1_ir, np.abs(1 - 2 * np.exp(-ti[:, None, None, None] / t1)) + rng.normal(0, 0.01, (7, 1, 8, 8)), ti)
    te = 0.01 * np.arange(1, 9)
    _same(cupy, fit_t2_se, np.exp(-te[:, None, None, None] / (t1 / 10)) + rng.normal(0, 0.01, (8, 1, 8, 8)), te)
    flips, tr = np.radians([3.0, 10.0, 20.0]), 0.015
    e1 = np.exp(-tr / t1)
    vfa = np.sin(flips[:, None, None, None]) * (1 - e1) / (1 - e1 * np.cos(flips[:, None, None, None]))
    _same(cupy, fit_t1_vfa, vfa, flips, tr)
    _same(cupy, fit_b1_dam, np.abs(np.sin(np.radians([50.0, 100.0])[:, None, None, None] * np.ones((1, 8, 8)))), np.radians([50.0, 100.0]))
    train = np.moveaxis(np.abs(cpmg(10, 0.01, 1.0, t1 / 10, math.radians(160))), -1, 0)
    _same(cupy, fit_t2_mese, train, te[:1] * np.arange(1, 11), math.radians(160))


def test_new_models_on_cupy(cupy):
    rng = np.random.default_rng(0)
    t1 = rng.uniform(0.3, 3.0, (1, 8, 8))
    b1 = rng.uniform(0.8, 1.2, (1, 8, 8))
    timing = Mp2rageTiming(5.0, 0.007, (0.7, 2.5), (math.radians(4), math.radians(5)), 160)
    inv = np.stack(mp2rage_signals(t1, timing, b1, m0=100.0)) + rng.normal(0, 0.05, (2, 1, 8, 8))
    _same(cupy, fit_t1_mp2rage, inv, timing, noise_sigma=0.05)
    _same(cupy, fit_t1_mp2rage, inv, timing, b1=b1, on_device=("b1",))
    flip = math.radians(60) * b1
    s1 = np.sin(flip)
    _same(cupy, fit_b1_afi, np.stack([s1, s1 * (1 + 5 * np.cos(flip)) / (5 + np.cos(flip))]), math.radians(60),
          (0.02, 0.1), noise_sigma=0.01)
    phi = FermiPulse().k_bs() * (1e-5 * b1) ** 2
    _same(cupy, fit_b1_bloch_siegert, 50 * np.exp(1j * np.stack([phi, -phi])), 1e-5, noise_sigma=0.5)
    ti = np.array([0.1, 1.1, 2.1, 3.1, 4.1, 0.18, 1.18, 2.18])
    molli = np.abs(1 - 1.9 * np.exp(-ti[:, None, None, None] / (0.9 * t1))) + rng.normal(0, 0.01, (8, 1, 8, 8))
    _same(cupy, fit_t1_molli, molli, ti)
