"""EPI N/2 ghost correction from navigator readouts.

Lines read towards -k (reversed, flipped before sorting) and lines read towards +k see
gradient delays and eddy currents with opposite sign: after the readout FFT, a reversed
line's profile carries an extra phase phi(x) ~ a + b x against a forward line's, which puts
an N/2 ghost into the image. Navigator readouts without phase encoding (ky = 0), of both
polarities, measure it: phi(x) = arg sum_coils conj(P_c(x)) Q_c(x), P forward and Q reversed
navigators (averaged per polarity), fitted by a straight line weighted by |sum_c conj(P) Q|
where the profile has signal; reversed imaging lines are multiplied by exp(-i phi(x)) (the
linear phase correction of Bruder et al., Magn Reson Med 1992;23:311-323).
"""

from __future__ import annotations

import numpy as np

from harmoniq.io.fourier import image_to_k, k_to_image

SIGNAL_FRACTION = 0.1
"""Profile positions with |sum conj(P) Q| above this fraction of its maximum enter the fit."""


def navigator_phase(forward: np.ndarray, reversed_: np.ndarray) -> np.ndarray:
    """(n0,) multiplier exp(-i phi(x)) for reversed lines, from forward and reversed navigator
    k-space lines (coil, n0), both already flipped into k order and centred."""
    product = np.sum(np.conj(k_to_image(forward, axes=(-1,))) * k_to_image(reversed_, axes=(-1,)), axis=0)
    weight = np.abs(product)
    x = np.arange(product.size) - product.size // 2
    used = weight > SIGNAL_FRACTION * weight.max()
    if used.sum() < 2:
        return np.ones(product.size, np.complex64)
    phase = np.unwrap(np.angle(product[used]))
    slope, offset = np.polyfit(x[used], phase, 1, w=weight[used])
    return np.exp(-1j * (offset + slope * x)).astype(np.complex64)


def correct_reversed(rows: np.ndarray, multiplier: np.ndarray) -> np.ndarray:
    """Reversed lines (..., n0) in k order with the navigator phase removed (per line: (..., n0)
    multipliers broadcast against ``rows``)."""
    return image_to_k(k_to_image(rows, axes=(-1,)) * multiplier, axes=(-1,)).astype(np.complex64)
