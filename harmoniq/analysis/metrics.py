"""Agreement metrics for multi-site quantitative maps.

Rows are subjects (e.g. phantom spheres), columns are raters (scanners or sites).
Definitions: coefficient of variation across raters; ICC(2,1), two-way random effects,
absolute agreement, single rater (Shrout & Fleiss, Psychol Bull 1979;86:420, with the mean
squares of McGraw & Wong, Psychol Methods 1996;1:30); Bland-Altman bias and 95 % limits of
agreement (Bland & Altman, Lancet 1986;i:307); Lin's concordance correlation coefficient
(Lin, Biometrics 1989;45:255); repeatability coefficient 2.77 x within-subject SD.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from harmoniq.errors import HarmoniqError


def _matrix(values, name: str = "values") -> np.ndarray:
    x = np.asarray(values, dtype=float)
    if x.ndim != 2 or x.shape[0] < 2 or x.shape[1] < 2:
        raise HarmoniqError(f"{name}: need a (subjects, raters) table with at least 2 x 2 entries, got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise HarmoniqError(f"{name}: the table holds NaN or infinite values")
    return x


def cov_across_raters(values) -> np.ndarray:
    """Per-subject coefficient of variation across raters: SD (ddof=1) / mean, as a fraction."""
    x = _matrix(values)
    return x.std(axis=1, ddof=1) / np.abs(x.mean(axis=1))


def relative_bias(values, reference) -> np.ndarray:
    """(measured - reference) / reference, elementwise, reference broadcast over raters."""
    x = np.asarray(values, dtype=float)
    ref = np.asarray(reference, dtype=float).reshape(-1, *([1] * (x.ndim - 1)))
    return (x - ref) / ref


def icc_2_1(values) -> float:
    """ICC(2,1): (MSR - MSE) / (MSR + (k-1) MSE + k (MSC - MSE) / n)."""
    x = _matrix(values)
    n, k = x.shape
    grand = x.mean()
    ss_rows = k * np.sum((x.mean(axis=1) - grand) ** 2)
    ss_cols = n * np.sum((x.mean(axis=0) - grand) ** 2)
    ss_err = np.sum((x - grand) ** 2) - ss_rows - ss_cols
    msr, msc, mse = ss_rows / (n - 1), ss_cols / (k - 1), ss_err / ((n - 1) * (k - 1))
    return float((msr - mse) / (msr + (k - 1) * mse + k * (msc - mse) / n))


@dataclass(frozen=True)
class BlandAltman:
    """Bias (mean of b - a) and 95 % limits of agreement (bias -+ 1.96 SD of the differences)."""

    bias: float
    lower: float
    upper: float


def bland_altman(a, b) -> BlandAltman:
    """Bland-Altman statistics of method ``b`` against method ``a``."""
    d = np.asarray(b, dtype=float) - np.asarray(a, dtype=float)
    sd = d.std(ddof=1)
    return BlandAltman(float(d.mean()), float(d.mean() - 1.96 * sd), float(d.mean() + 1.96 * sd))


def lins_ccc(a, b) -> float:
    """Lin's CCC: 2 s_ab / (s_a^2 + s_b^2 + (mean_a - mean_b)^2), population moments."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    s_ab = np.mean((a - a.mean()) * (b - b.mean()))
    return float(2 * s_ab / (a.var() + b.var() + (a.mean() - b.mean()) ** 2))


def repeatability_coefficient(values) -> float:
    """2.77 x within-subject SD, from repeated measures (rows: subjects, columns: repeats)."""
    x = _matrix(values)
    return float(2.77 * np.sqrt(np.mean(x.var(axis=1, ddof=1))))
