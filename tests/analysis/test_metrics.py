"""Agreement metrics against published worked examples and independent formulas."""

import numpy as np
import pytest

from harmoniq.analysis import metrics
from harmoniq.analysis.metrics import bland_altman, cov_across_raters, icc_2_1, lins_ccc, repeatability_coefficient
from harmoniq.errors import HarmoniqError

# Shrout & Fleiss 1979, Table 2: 6 targets rated by 4 judges; ICC(2,1) = 0.29 in the paper
SHROUT_FLEISS = [[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]]


def test_icc_reproduces_shrout_and_fleiss():
    assert icc_2_1(SHROUT_FLEISS) == pytest.approx(0.2898, abs=5e-4)


def test_icc_is_one_for_identical_raters_and_falls_with_a_rater_offset():
    truth = np.linspace(100, 2000, 14)
    same = np.stack([truth] * 3, axis=1)
    assert icc_2_1(same) == pytest.approx(1.0)
    shifted = same + np.array([0, 0, 300.0])  # absolute agreement penalises a constant offset
    assert icc_2_1(shifted) < 0.99


def test_lins_ccc_matches_its_definition_and_limits():
    rng = np.random.default_rng(0)
    a = rng.normal(1000, 300, 200)
    b = 1.05 * a + rng.normal(0, 30, 200)
    pearson = np.corrcoef(a, b)[0, 1]
    # CCC = Pearson r x bias-correction factor C_b (Lin 1989, eq. 3)
    v = b.std() / a.std()
    u = (a.mean() - b.mean()) / np.sqrt(a.std() * b.std())
    assert lins_ccc(a, b) == pytest.approx(pearson * 2 / (v + 1 / v + u**2), rel=1e-12)
    assert lins_ccc(a, a) == pytest.approx(1.0)


def test_bland_altman_and_cov_and_repeatability():
    a = np.array([100.0, 200.0, 300.0, 400.0])
    ba = bland_altman(a, a + [1.0, 3.0, 1.0, 3.0])
    assert ba.bias == pytest.approx(2.0)
    assert ba.upper - ba.bias == pytest.approx(1.96 * np.std([1, 3, 1, 3], ddof=1))
    cov = cov_across_raters([[99.0, 101.0], [198.0, 202.0]])
    np.testing.assert_allclose(cov, [np.sqrt(2) / 100, np.sqrt(8) / 200])
    assert repeatability_coefficient([[10.0, 12.0], [20.0, 22.0]]) == pytest.approx(2.77 * np.sqrt(2.0))


def test_bad_tables_are_rejected():
    with pytest.raises(HarmoniqError, match="shape"):
        icc_2_1([1.0, 2.0, 3.0])
    with pytest.raises(HarmoniqError, match="NaN"):
        cov_across_raters([[1.0, np.nan], [2.0, 3.0]])


def test_noise_only_cov_predicts_the_spread_of_noisy_roi_means():
    """3 scanners with no true difference: ROI means of n noisy voxels each. The variance of their
    sample SD averages the predicted (noise-only CoV x mean)^2, and about 97.5 % of draws stay below the bound."""
    rng = np.random.default_rng(3)
    truth, n, sds = 1000.0, 9, np.array([20.0, 30.0, 25.0])
    voxels = truth + sds[None, :, None] * rng.standard_normal((20000, 3, n))
    means, sd = voxels.mean(axis=2), voxels.std(axis=2, ddof=1)
    predicted = metrics.noise_only_cov(means, sd, np.full(means.shape, n))
    observed = metrics.cov_across_raters(means)
    np.testing.assert_allclose(np.mean(observed**2), np.mean(predicted**2), rtol=0.03)
    exact = metrics.noise_only_cov(means, np.broadcast_to(sds, means.shape), np.full(means.shape, n))
    below_exact = np.mean(observed <= metrics.noise_only_cov_bound(3) * exact)  # true standard errors
    below = np.mean(observed <= metrics.noise_only_cov_bound(3) * predicted)  # SDs estimated from 9 voxels
    assert 0.965 < below_exact < 0.985 and 0.94 < below < 0.975, (below_exact, below)
