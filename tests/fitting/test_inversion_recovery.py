"""Inversion-recovery T1: NIST reference values, Monte Carlo against the Cramer-Rao bound,
scipy's curve_fit as an independent fitter, complex data, and input errors."""

import numpy as np
import pytest
from scipy.optimize import curve_fit

from harmoniq.errors import HarmoniqError
from harmoniq.fitting import fit_t1_ir
from harmoniq.fitting.inversion_recovery import valid_t1_range
from harmoniq.phantoms.nist_values import PLATES, sphere_values_s

CHALLENGE_TI = np.array([0.05, 0.4, 1.1, 2.5])  # ISMRM 2020 T1 challenge protocol
EIGHT_TI = np.array([0.03, 0.06, 0.12, 0.25, 0.5, 1.0, 2.0, 3.0])


def magnitude_ir(ti, t1, a=1.0, b=-1.95):
    return np.abs(a + b * np.exp(-np.asarray(ti)[:, None] / np.asarray(t1)[None, :]))


def nist_t1():
    return np.array([t1 for field in (1.5, 3.0) for plate in PLATES for t1, _ in sphere_values_s(plate, field)])


@pytest.mark.parametrize("ti", [CHALLENGE_TI, EIGHT_TI], ids=["challenge-4TI", "8TI"])
def test_nist_values_recovered_within_half_percent_or_flagged(ti):
    t1 = nist_t1()
    images = magnitude_ir(ti, t1, a=1000.0, b=-1950.0)[:, None, None, :]
    maps = fit_t1_ir(images, ti)
    fitted = maps["T1"][0, 0]
    lo, hi = valid_t1_range(ti)
    inside = (t1 >= lo) & (t1 <= hi)
    assert np.all(np.abs(fitted[inside] / t1[inside] - 1) < 0.005)
    assert np.array_equal(maps["out_of_range"][0, 0], ~inside)
    assert np.allclose(maps["inversion_efficiency"][0, 0][inside], 1.95, rtol=1e-3)
    if ti is CHALLENGE_TI:  # T1 < 400/3 ms: 6 NiCl2 + 2 MnCl2 spheres per field are flagged
        assert lo == pytest.approx(0.4 / 3) and (~inside).sum() == 16
    else:
        assert inside.all()


def test_outside_the_range_is_flagged_not_silently_wrong():
    t1 = np.array([0.005, 0.2, 1.0, 12.0])
    maps = fit_t1_ir(magnitude_ir(EIGHT_TI, t1)[:, None, None, :], EIGHT_TI)
    assert maps["out_of_range"][0, 0].tolist() == [True, False, False, True]
    assert maps["mask"].all()


def test_complex_data_with_arbitrary_phase():
    rng = np.random.default_rng(3)
    t1 = np.geomspace(0.05, 3.0, 40)
    phase = rng.uniform(-np.pi, np.pi, t1.size)
    signed = 1.0 - 1.9 * np.exp(-EIGHT_TI[:, None] / t1[None, :])
    maps = fit_t1_ir((signed * np.exp(1j * phase))[:, None, None, :], EIGHT_TI)
    assert np.allclose(maps["T1"][0, 0], t1, rtol=1e-6)
    assert "complex" in maps.info["data"]


def _crlb_t1(ti, t1, a, b, sigma):
    """sigma^2 (J^T J)^-1 for |a + b exp(-TI/T1)|, J by central differences (independent of the fitter)."""
    p = np.array([a, b, t1])
    jac = []
    for i in range(3):
        h = np.zeros(3)
        h[i] = 1e-6 * max(abs(p[i]), 1.0)
        up = np.abs(p[0] + h[0] + (p[1] + h[1]) * np.exp(-ti / (p[2] + h[2])))
        down = np.abs(p[0] - h[0] + (p[1] - h[1]) * np.exp(-ti / (p[2] - h[2])))
        jac.append((up - down) / (2 * h[i]))
    jac = np.array(jac).T
    return sigma * np.sqrt(np.linalg.inv(jac.T @ jac)[2, 2])


@pytest.mark.parametrize("t1", [0.1, 0.3, 1.0, 2.0])
def test_monte_carlo_snr50_bias_and_sd_versus_cramer_rao(t1):
    draws, sigma = 5000, 1.0 / 50  # SNR 50 relative to M0 = 1
    rng = np.random.default_rng(int(t1 * 1000))
    clean = (1.0 - 1.95 * np.exp(-EIGHT_TI / t1))[:, None]
    noisy = np.abs(clean + sigma * (rng.standard_normal((EIGHT_TI.size, draws)) + 1j * rng.standard_normal((EIGHT_TI.size, draws))))
    maps = fit_t1_ir(noisy[:, None, None, :].astype(np.float64), EIGHT_TI)
    est = maps["T1"][0, 0]
    bound = _crlb_t1(EIGHT_TI, t1, 1.0, -1.95, sigma)
    bias = est.mean() / t1 - 1
    sd_ratio = est.std(ddof=1) / bound
    print(f"T1 {t1} s: bias {bias * 100:.3f} %, SD/CRLB {sd_ratio:.3f}")
    assert abs(bias) < 0.01
    assert abs(sd_ratio - 1) < 0.2
    # the per-voxel uncertainty map (noise SD estimated from the residuals) agrees with the bound
    assert np.median(maps["T1_crlb"]) == pytest.approx(bound, rel=0.1)
    assert maps.info["noise_sigma"] == pytest.approx(sigma, rel=0.05)


def test_null_on_a_sample_magnitude_exceeds_the_bound_complex_meets_it():
    """T1 = 1.5 s puts the null (T1 ln 1.95 = 1.0 s) on TI = 1 s: magnitude data there are
    Rician with an ambiguous sign, so the Gaussian bound does not hold; complex data meet it."""
    t1, draws, sigma = 1.5, 2000, 1.0 / 50
    rng = np.random.default_rng(7)
    clean = (1.0 - 1.95 * np.exp(-EIGHT_TI / t1))[:, None] * np.exp(0.7j)
    noisy = clean + sigma * (rng.standard_normal((EIGHT_TI.size, draws)) + 1j * rng.standard_normal((EIGHT_TI.size, draws)))
    bound = _crlb_t1(EIGHT_TI, t1, 1.0, -1.95, sigma)
    complex_sd = fit_t1_ir(noisy[:, None, None, :], EIGHT_TI)["T1"].std(ddof=1) / bound
    magnitude_sd = fit_t1_ir(np.abs(noisy)[:, None, None, :], EIGHT_TI)["T1"].std(ddof=1) / bound
    print(f"SD/CRLB at the null: complex {complex_sd:.3f}, magnitude {magnitude_sd:.3f}")
    assert abs(complex_sd - 1) < 0.1
    assert magnitude_sd > 1.2


def test_agrees_with_scipy_curve_fit_per_voxel():
    rng = np.random.default_rng(11)
    t1 = rng.uniform(0.1, 2.5, 40)
    clean = 1.0 - 1.95 * np.exp(-EIGHT_TI[:, None] / t1[None, :])
    noisy = np.abs(clean + rng.normal(0, 0.02, clean.shape))
    maps = fit_t1_ir(noisy[:, None, None, :], EIGHT_TI)

    def model(ti, a, b, t1_):
        return np.abs(a + b * np.exp(-ti / t1_))

    for v in range(t1.size):
        popt, _ = curve_fit(model, EIGHT_TI, noisy[:, v], p0=(1.0, -1.95, t1[v]))
        assert maps["T1"][0, 0, v] == pytest.approx(popt[2], rel=0.005)


def test_nan_voxels_are_masked_and_the_rest_fitted():
    t1 = np.array([0.5, 1.0, 1.5])
    images = magnitude_ir(EIGHT_TI, t1)[:, None, None, :]
    images[3, 0, 0, 1] = np.nan
    maps = fit_t1_ir(images, EIGHT_TI)
    assert maps["mask"][0, 0].tolist() == [True, False, True]
    assert np.isnan(maps["T1"][0, 0, 1])
    assert np.allclose(maps["T1"][0, 0, [0, 2]], t1[[0, 2]], rtol=1e-6)


@pytest.mark.parametrize(
    "images,ti,mask,fragment",
    [
        (np.ones((3, 1, 2, 2)), EIGHT_TI, None, r"expected \(8, \*spatial\)"),
        (np.ones((2, 1, 2, 2)), [0.1, 0.1], None, "at least 3 distinct positive"),
        (np.ones((3, 1, 2, 2)), [0.1, -0.2, 1.0], None, "at least 3 distinct positive"),
        (np.zeros((8, 1, 2, 2)), EIGHT_TI, None, "no voxel to fit"),
        (np.full((8, 1, 2, 2), np.nan), EIGHT_TI, None, "no voxel to fit"),
        (np.ones((8, 1, 2, 2)), EIGHT_TI, np.ones((2, 2), bool), "mask has shape"),
    ],
)
def test_bad_input_raises_one_clear_error(images, ti, mask, fragment):
    with pytest.raises(HarmoniqError, match=fragment):
        fit_t1_ir(images, ti, mask=mask)
