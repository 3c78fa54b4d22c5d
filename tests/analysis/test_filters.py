"""k-space filters: window shapes and their effect on a point source."""

import numpy as np
import pytest

from harmoniq.errors import HarmoniqError
from harmoniq.io.fourier import image_to_k, k_to_image
from harmoniq.recon.filters import apply_filter, window


def test_windows_are_one_at_the_centre_and_match_their_formulas():
    n = 64
    u = (np.arange(n) - n // 2) / (n / 2)
    np.testing.assert_allclose(window("hamming", n), 0.54 + 0.46 * np.cos(np.pi * u))
    assert window("hanning", n)[n // 2] == 1.0 and window("hanning", n)[0] == pytest.approx(0.0)
    assert window("fermi", n)[n // 2] == pytest.approx(1.0, abs=1e-9)
    assert window("none", n).sum() == n


def test_filter_widens_a_point_source_as_the_window_predicts():
    image = np.zeros((1, 64, 64), complex)
    image[0, 32, 32] = 1.0
    k = image_to_k(image, axes=(-2, -1))
    blurred = k_to_image(apply_filter(k, "hamming"), axes=(-2, -1))
    profile = np.abs(blurred[0, 32])
    # Hamming main lobe: neighbour / peak = 0.23 / 0.54 for this sampling
    assert profile[33] / profile[32] == pytest.approx(0.23 / 0.54, rel=1e-6)
    assert apply_filter(k, "none") is k
    with pytest.raises(HarmoniqError, match="recon filter 'gauss' is unknown"):
        apply_filter(k, "gauss")
