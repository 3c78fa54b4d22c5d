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


def saturation_recovery(flip, tr, t1, m0=100.0):
    """The spoiled steady state M0 sin a (1 - E1) / (1 - E1 cos a), E1 = exp(-TR/T1) (Ernst and
    Anderson, Rev Sci Instrum 1966;37:93)."""
    e1 = np.exp(-tr / t1)
    return m0 * np.sin(flip) * (1 - e1) / (1 - e1 * np.cos(flip))


def test_finite_tr_with_t1_recovers_b1_where_tr_much_longer_than_t1_does_not():
    tr = 5.0
    t1 = np.array([0.1, 0.5, 1.0, 2.0, 2.5, 4.0])  # NIST T1 plate to water and beyond
    b1 = np.array([0.8, 1.0, 1.1, 0.9, 1.0, 1.2])
    images = saturation_recovery(FLIPS[:, None] * b1[None, :], tr, t1[None, :])[:, None, None, :]
    fitted = fit_b1_dam(images, FLIPS, tr_s=tr, t1=t1[None, None, :])
    assert np.allclose(fitted["B1"][0, 0], b1, rtol=2e-4)  # the E1 table is linear in E1, step 0.01
    assert np.allclose(fitted["M0"][0, 0], 100.0, rtol=2e-4)
    closed = fit_b1_dam(images, FLIPS)["B1"][0, 0]
    assert closed[-3] / b1[-3] - 1 > 0.03  # TR >> T1 misreads T1 = 2 s by > 3 % at TR 5 s
    with pytest.raises(HarmoniqError, match="repetition time"):
        fit_b1_dam(images, FLIPS, t1=1.0)


def test_joint_vfa_and_dam_fit_converges_to_b1_and_t1():
    from harmoniq.fitting.vfa_dam import fit_t1_vfa_with_dam

    vfa_flips, vfa_tr, dam_tr = np.radians([3.0, 20.0]), 0.015, 5.0
    t1 = np.array([0.25, 0.5, 1.0, 1.5, 2.0])
    b1 = np.array([0.9, 1.1, 1.0, 0.95, 1.05])
    vfa = saturation_recovery(vfa_flips[:, None] * b1[None, :], vfa_tr, t1[None, :])[:, None, None, :]
    dam = saturation_recovery(FLIPS[:, None] * b1[None, :], dam_tr, t1[None, :])[:, None, None, :]
    maps = fit_t1_vfa_with_dam(vfa, vfa_flips, vfa_tr, dam, FLIPS, dam_tr)
    print("rounds", maps.info["joint_b1_rounds"], "B1", maps["B1"][0, 0], "T1", maps["T1"][0, 0])
    assert np.allclose(maps["B1"][0, 0], b1, rtol=5e-4)
    assert np.allclose(maps["T1"][0, 0], t1, rtol=2e-3)
    assert maps.info["joint_b1_rounds"] < 8  # converged (B1 changes <= 1e-3), measured: 4 rounds
