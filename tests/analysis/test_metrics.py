"""Agreement metrics against published worked examples and independent formulas."""

import numpy as np
import pytest

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
