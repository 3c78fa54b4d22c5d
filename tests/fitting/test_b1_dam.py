"""Double-angle B1: closed form, valid range, error propagation against Monte Carlo, errors."""

import numpy as np
import pytest

from harmoniq.errors import HarmoniqError
from harmoniq.fitting import fit_b1_dam

FLIPS = np.radians([60.0, 120.0])


def dam_images(b1, m0=100.0):
    """S(a) = M0 sin(a_eff) (TR >> T1), magnitude."""
    return np.abs(m0 * np.sin(FLIPS[:, None] * np.asarray(b1)[None, :]))[:, None, None, :]


def test_b1_recovered_exactly_inside_the_valid_range_flagged_outside():
    b1 = np.array([0.1, 0.5, 0.8, 1.0, 1.2, 1.4])
    maps = fit_b1_dam(dam_images(b1), FLIPS)
    inside = (b1 * 60 >= 10) & (b1 * 60 <= 80)
    assert np.allclose(maps["B1"][0, 0][inside], b1[inside], rtol=1e-12)
    assert np.allclose(maps["M0"][0, 0][inside], 100.0, rtol=1e-12)
    assert maps["out_of_range"][0, 0].tolist() == (~inside).tolist()
    # the flip order does not matter
    swapped = fit_b1_dam(dam_images(b1)[::-1], FLIPS[::-1])
    assert np.allclose(swapped["B1"][0, 0][inside], b1[inside], rtol=1e-12)


def test_error_propagation_matches_monte_carlo():
    draws, sigma, b1 = 4000, 2.0, 0.9
    rng = np.random.default_rng(8)
    clean = dam_images(np.full(draws, b1))
    noisy = clean + rng.normal(0, sigma, clean.shape)
    maps = fit_b1_dam(noisy, FLIPS, noise_sigma=sigma)
    print(f"B1 0.9, SNR 50: SD {maps['B1'].std():.4f}, propagated {np.median(maps['B1_crlb']):.4f}")
    assert abs(maps["B1"].mean() / b1 - 1) < 0.005
    assert np.median(maps["B1_crlb"]) == pytest.approx(maps["B1"].std(ddof=1), rel=0.1)


@pytest.mark.parametrize("flips", [np.radians([60.0, 100.0]), np.radians([60.0, 120.0, 180.0])])
def test_not_a_double_angle_pair_raises(flips):
    with pytest.raises(HarmoniqError, match="double-angle pair"):
        fit_b1_dam(np.ones((flips.size, 1, 2, 2)), flips)
