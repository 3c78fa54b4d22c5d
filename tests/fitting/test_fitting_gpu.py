"""The same fits on CuPy arrays give the NumPy results (skipped without a CUDA device)."""

import math

import numpy as np
import pytest

from harmoniq.backend import gpu_available
from harmoniq.fitting import fit_b1_dam, fit_t1_ir, fit_t1_vfa, fit_t2_mese, fit_t2_se
from harmoniq.simulation.epg import cpmg

pytestmark = pytest.mark.gpu


@pytest.fixture(scope="module")
def cupy():
    if not gpu_available():
        pytest.skip("needs CuPy and a CUDA device")
    import cupy

    return cupy


def _same(cupy, fit, images, *args, **kwargs):
    ref = fit(images, *args, **kwargs)
    got = fit(cupy.asarray(images), *args, **kwargs)
    for name, value in ref.maps.items():
        assert isinstance(got.maps[name], cupy.ndarray)
        # the Newton iterations stop within ~2e-6 of the optimum (varpro), on either device
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
