"""Noise level and Cramer-Rao bounds of fitted parameters.

For Gaussian noise of standard deviation sigma on every sample, the covariance of any
unbiased estimate is at least sigma^2 (J^T J)^-1 (Cramer-Rao bound; J the model's Jacobian
at the true parameters). Evaluated at the fitted parameters it is the usual per-voxel
uncertainty of a least-squares fit.
"""

from __future__ import annotations

from scipy.stats import chi2

from harmoniq.backend import get_array_module
from harmoniq.fitting.smallmatrix import inverse_diagonal


def noise_sigma_from_residuals(rss, n_samples: int, n_params: int) -> float:
    """Noise SD from the fitted voxels' residual sums of squares, robust to outliers.

    RSS / sigma^2 follows chi^2 with N - P degrees of freedom, so
    sigma^2 = median(RSS) / median(chi^2_{N-P}).
    """
    xp = get_array_module(rss)
    dof = n_samples - n_params
    return float(xp.sqrt(xp.nanmedian(rss) / chi2.ppf(0.5, dof)))


def crlb_sd(jtj, sigma):
    """Cramer-Rao standard deviations, one (V,) array per parameter: sigma sqrt(diag (J^T J)^-1)."""
    xp = get_array_module(jtj[0][0])
    return [sigma * xp.sqrt(d) for d in inverse_diagonal(jtj)]
