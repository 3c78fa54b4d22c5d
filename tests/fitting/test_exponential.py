"""Mono-exponential T2 and T2*: NIST reference values, Monte Carlo against the Cramer-Rao bound,
scipy's curve_fit, the offset model, and input errors."""

import numpy as np
import pytest
from scipy.optimize import curve_fit

from harmoniq.errors import HarmoniqError
from harmoniq.fitting import fit_t2_se, fit_t2star
from harmoniq.fitting.exponential import valid_decay_range
from harmoniq.phantoms.nist_values import PLATES, sphere_values_s

SE_TE = np.array([0.01, 0.02, 0.04, 0.08, 0.16, 0.32])  # single-echo spin-echo series
TRAIN_TE = 0.01 * np.arange(1, 11)


def nist_t2():
    return np.array([t2 for field in (1.5, 3.0) for plate in PLATES for _, t2 in sphere_values_s(plate, field)])


def test_nist_t2_recovered_within_half_percent_or_flagged():
    t2 = nist_t2()
    images = (800.0 * np.exp(-SE_TE[:, None] / t2[None, :]))[:, None, None, :]
    maps = fit_t2_se(images, SE_TE)
    lo, hi = valid_decay_range(SE_TE)
    assert (lo, hi) == pytest.approx((0.02 / 3, 0.64))
    inside = (t2 >= lo) & (t2 <= hi)
    fitted = maps["T2"][0, 0]
    assert np.all(np.abs(fitted[inside] / t2[inside] - 1) < 0.005)
    assert np.array_equal(maps["out_of_range"][0, 0], ~inside)
    assert 0 < (~inside).sum() < t2.size  # both plates reach outside this protocol at some sphere
    assert np.allclose(maps["S0"][0, 0][inside], 800.0, rtol=1e-3)


@pytest.mark.parametrize("t2", [0.05, 0.1, 0.2])
def test_monte_carlo_snr50_bias_and_sd_versus_cramer_rao(t2):
    draws, sigma = 2000, 1.0 / 50
    rng = np.random.default_rng(int(t2 * 1000))
    clean = np.exp(-TRAIN_TE / t2)[:, None]
    noise = rng.standard_normal((TRAIN_TE.size, draws)) + 1j * rng.standard_normal((TRAIN_TE.size, draws))
    noisy = np.abs(clean + sigma * noise)
    maps = fit_t2_se(noisy[:, None, None, :], TRAIN_TE)
    est = maps["T2"][0, 0]
    e = np.exp(-TRAIN_TE / t2)
    jac = np.stack([e, e * TRAIN_TE / t2**2], axis=1)
    bound = sigma * np.sqrt(np.linalg.inv(jac.T @ jac)[1, 1])
    bias, sd_ratio = est.mean() / t2 - 1, est.std(ddof=1) / bound
    print(f"T2 {t2} s: bias {bias * 100:.3f} %, SD/CRLB {sd_ratio:.3f}")
    assert abs(bias) < 0.01
    assert abs(sd_ratio - 1) < 0.2
    assert np.median(maps["T2_crlb"]) == pytest.approx(bound, rel=0.1)


@pytest.mark.parametrize("offset", [False, True])
def test_agrees_with_scipy_curve_fit_per_voxel(offset):
    rng = np.random.default_rng(5)
    t2 = rng.uniform(0.02, 0.15, 30)
    clean = 2.0 * np.exp(-TRAIN_TE[:, None] / t2[None, :]) + (0.1 if offset else 0.0)
    noisy = clean + rng.normal(0, 0.02, clean.shape)
    maps = fit_t2_se(noisy[:, None, None, :], TRAIN_TE, offset=offset)

    def model(te, s0, t, *c):
        return s0 * np.exp(-te / t) + (c[0] if c else 0.0)

    for v in range(t2.size):
        p0 = (2.0, t2[v]) + ((0.1,) if offset else ())
        popt, _ = curve_fit(model, TRAIN_TE, noisy[:, v], p0=p0)
        assert maps["T2"][0, 0, v] == pytest.approx(popt[1], rel=0.005)


def test_offset_model_recovers_a_noise_floor():
    t2 = np.array([0.03, 0.06, 0.09])
    images = (np.exp(-TRAIN_TE[:, None] / t2) + 0.05)[:, None, None, :]
    with_offset = fit_t2_se(images, TRAIN_TE, offset=True)
    without = fit_t2_se(images, TRAIN_TE)
    assert np.allclose(with_offset["T2"][0, 0], t2, rtol=1e-6)
    assert np.allclose(with_offset["offset"][0, 0], 0.05, rtol=1e-6)
    assert np.all(without["T2"][0, 0] > 1.05 * t2)  # the floor biases the plain model upwards


def test_t2star_from_multi_echo_gre():
    te = 0.003 + 0.004 * np.arange(8)
    t2s = np.array([0.01, 0.025, 0.05])
    maps = fit_t2star((np.exp(-te[:, None] / t2s) * np.exp(1j * 0.3))[:, None, None, :], te)
    assert maps.model == "t2star"
    assert np.allclose(maps["T2star"][0, 0], t2s, rtol=1e-6)
    assert maps.units["T2star"] == "s"


@pytest.mark.parametrize(
    "te,offset,fragment",
    [([0.01], False, "at least 2 distinct positive"), ([0.01, 0.02], True, "at least 3 distinct"), ([0.0, 0.01, 0.02], False, "positive")],
)
def test_bad_echo_times_raise_one_clear_error(te, offset, fragment):
    with pytest.raises(HarmoniqError, match=fragment):
        fit_t2_se(np.ones((len(te), 1, 2, 2)), te, offset=offset)
