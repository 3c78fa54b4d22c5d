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


def noise_only_cov(means, sds, counts) -> np.ndarray:
    """Per-subject CoV across raters that measurement noise alone would give, as a fraction.

    ``sds``: per-voxel noise SD of the estimate (e.g. its Cramer-Rao bound; not the ROI's SD,
    which also holds spatial structure). Each rater's ROI mean then carries the standard error
    sd / sqrt(n) of its n voxels; with no true difference between raters their SD is about
    sqrt(mean_r(sd_r^2 / n_r)), divided by the mean. Voxel noise correlated by filtering makes
    this a lower estimate.
    """
    m, s, n = (_matrix(a, name) for a, name in ((means, "means"), (sds, "sds"), (counts, "counts")))
    return np.sqrt(np.mean(s**2 / n, axis=1)) / np.abs(m.mean(axis=1))


def noise_only_cov_bound(n_raters: int, level: float = 0.975) -> float:
    """Factor on :func:`noise_only_cov` below which the CoV of ``n_raters`` noisy means stays with
    probability ``level``: sqrt(chi2_level(k - 1) / (k - 1)) (sample SD of k Gaussian values)."""
    from scipy.stats import chi2

    return float(np.sqrt(chi2.ppf(level, n_raters - 1) / (n_raters - 1)))


def relative_bias(values, reference) -> np.ndarray:
    """(measured - reference) / reference, elementwise; reference: one per subject (broadcast over
    raters) or one per (subject, rater) (each rater's own reference, e.g. its phantom temperature)."""
    x = np.asarray(values, dtype=float)
    ref = np.asarray(reference, dtype=float)
    if ref.shape != x.shape:
        ref = ref.reshape(-1, *([1] * (x.ndim - 1)))
    return (x - ref) / ref


def icc_2_1(values) -> float:
    """ICC(2,1): (MSR - MSE) / (MSR + (k-1) MSE + k (MSC - MSE) / n); nan where that is 0 / 0 (no variance)."""
    x = _matrix(values)
    n, k = x.shape
    grand = x.mean()
    ss_rows = k * np.sum((x.mean(axis=1) - grand) ** 2)
    ss_cols = n * np.sum((x.mean(axis=0) - grand) ** 2)
    ss_err = np.sum((x - grand) ** 2) - ss_rows - ss_cols
    msr, msc, mse = ss_rows / (n - 1), ss_cols / (k - 1), ss_err / ((n - 1) * (k - 1))
    denominator = msr + (k - 1) * mse + k * (msc - mse) / n
    return float((msr - mse) / denominator) if denominator != 0 else float("nan")


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
    """Lin's CCC: 2 s_ab / (s_a^2 + s_b^2 + (mean_a - mean_b)^2), population moments; nan where that is
    0 / 0 (two identical constant series)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    s_ab = np.mean((a - a.mean()) * (b - b.mean()))
    denominator = a.var() + b.var() + (a.mean() - b.mean()) ** 2
    return float(2 * s_ab / denominator) if denominator != 0 else float("nan")


def repeatability_coefficient(values) -> float:
    """2.77 x within-subject SD, from repeated measures (rows: subjects, columns: repeats)."""
    x = _matrix(values)
    return float(2.77 * np.sqrt(np.mean(x.var(axis=1, ddof=1))))
