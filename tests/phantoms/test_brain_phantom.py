"""Procedural brain: determinism, tissue volume fractions, field-dependent values, T2', fat shift."""

import numpy as np
import pytest

from harmoniq.phantoms import make_phantom

GAMMA_HZ_PER_T = 42.577478518e6  # CODATA 2018


def tissue_fractions(phantom):
    """Fraction of the intracranial volume (CSF + GM + WM) whose dominant tissue is each one."""
    volume = {r.name: int(np.sum(phantom.t1_s == r.t1_s)) for r in phantom.rois.values()}
    icv = volume["CSF"] + volume["grey matter"] + volume["white matter"]
    return {name: v / icv for name, v in volume.items() if name != "fat"}


@pytest.mark.parametrize("ndim,matrix", [(2, 256), (3, 64)])
@pytest.mark.parametrize("seed", [0, 1])
def test_volume_fractions_plausible(ndim, matrix, seed):
    """Adults: CSF 19 % (third decade) to 34 % (over 80) of the intracranial volume (Yamada et al.,
    Eur Radiol 2023); grey matter a little above white matter."""
    fractions = tissue_fractions(make_phantom("brain", matrix=matrix, ndim=ndim, seed=seed))
    assert 0.12 <= fractions["CSF"] <= 0.30
    assert 0.36 <= fractions["grey matter"] <= 0.52
    assert 0.30 <= fractions["white matter"] <= 0.46
    assert fractions["grey matter"] > fractions["white matter"]


def test_deterministic_by_seed():
    a, b, c = (make_phantom("brain", matrix=96, seed=s) for s in (7, 7, 8))
    for field in ("pd", "t1_s", "t2_s", "t2prime_s", "offres_hz", "labels"):
        assert np.array_equal(getattr(a, field), getattr(b, field))
    assert not np.array_equal(a.pd, c.pd)


@pytest.mark.parametrize("field", [1.5, 3.0])
def test_fat_offresonance_is_minus_3p4_ppm(field):
    phantom = make_phantom("brain", matrix=64, field_t=field)
    fat = phantom.labels == next(k for k, r in phantom.rois.items() if r.name == "fat")
    assert fat.any()
    np.testing.assert_allclose(phantom.offres_hz[fat], -3.4e-6 * GAMMA_HZ_PER_T * field, rtol=1e-12)
    water = (phantom.labels > 0) & ~fat
    assert np.all(phantom.offres_hz[water] == 0.0)


def test_t2prime_reproduces_published_t2star_at_1p5t_and_halves_at_3t():
    low = make_phantom("brain", matrix=64, field_t=1.5)
    high = make_phantom("brain", matrix=64, field_t=3.0)
    t2star_ms = {"CSF": 58.0, "grey matter": 69.0, "white matter": 61.0, "fat": 58.0}
    for roi in low.rois.values():
        t2prime = low.t2prime_s[low.labels == roi.label]
        t2star = 1.0 / (1.0 / roi.t2_s + 1.0 / t2prime)
        np.testing.assert_allclose(t2star * 1e3, t2star_ms[roi.name], rtol=1e-12)
        high_roi = next(r for r in high.rois.values() if r.name == roi.name)
        np.testing.assert_allclose(high.t2prime_s[high.labels == high_roi.label], t2prime[0] / 2, rtol=1e-12)


def test_values_follow_the_field():
    # Rooney et al. MRM 2007 fit (WM, GM), CSF 4.47 s; fat 350 ms (1.5 T), 382 ms (3 T); rounded to 0.1 ms
    t1_ms = {1.5: {"CSF": 4470.0, "grey matter": 998.3, "white matter": 680.6, "fat": 350.0},
             3.0: {"CSF": 4470.0, "grey matter": 1295.5, "white matter": 886.9, "fat": 382.0}}
    for field, expected in t1_ms.items():
        phantom = make_phantom("brain", matrix=64, field_t=field)
        assert {r.name: round(r.t1_s * 1e3, 1) for r in phantom.rois.values()} == expected
