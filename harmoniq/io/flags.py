"""ISMRMRD acquisition flags: 1-based bit numbers (flag N is set when ``flags & (1 << (N - 1))``)."""

from __future__ import annotations

import numpy as np

NOISE = 19
PARALLEL_CALIBRATION = 20
PARALLEL_CALIBRATION_AND_IMAGING = 21
REVERSE = 22
NAVIGATION = 23
NOT_IMAGING = (
    NOISE,
    PARALLEL_CALIBRATION,
    NAVIGATION,
    24,  # phase correction
    26,  # high-priority feedback
    27,  # dummy scan
    28,  # real-time feedback
    29,  # surface-coil correction scan
    30,  # phase stabilisation reference
    31,  # phase stabilisation
)
"""Flags of acquisitions that are not imaging k-space lines."""


def has_flag(flags: np.ndarray, flag: int) -> np.ndarray:
    """Boolean array: which entries of ``flags`` (uint64) have the 1-based ``flag`` set."""
    return (np.asarray(flags, dtype=np.uint64) & np.uint64(1 << (flag - 1))) != 0


def has_any_flag(flags: np.ndarray, numbers) -> np.ndarray:
    """Boolean array: which entries of ``flags`` have at least one of ``numbers`` set."""
    bits = np.uint64(sum(1 << (n - 1) for n in numbers))
    return (np.asarray(flags, dtype=np.uint64) & bits) != 0
