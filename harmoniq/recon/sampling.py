"""What a sampling mask says: acceleration, lattice origin, partial Fourier extent, ACS block."""

from __future__ import annotations

import math

import numpy as np


def _outer_gaps(mask_1d: np.ndarray) -> np.ndarray:
    """Gaps between consecutive sampled lines on either side of the centre run (ACS excluded)."""
    lines = np.flatnonzero(mask_1d)
    start, stop = centre_run(mask_1d)
    below, above = lines[lines < start], lines[lines >= stop]
    return np.concatenate([np.diff(below), np.diff(above)])


def acceleration(mask_1d: np.ndarray) -> int:
    """Regular undersampling factor along one axis: the most common gap between sampled lines
    outside the fully sampled centre (1 when fully sampled)."""
    gaps = _outer_gaps(mask_1d)
    if gaps.size == 0:
        return 1
    values, counts = np.unique(gaps, return_counts=True)
    return int(values[np.argmax(counts)])


def is_regular(mask_1d: np.ndarray) -> bool:
    """True when the sampled lines outside the centre are equally spaced (GRAPPA/SENSE-friendly)."""
    gaps = _outer_gaps(mask_1d)
    return gaps.size == 0 or bool(np.all(gaps == gaps[0]))


def lattice_origin(mask_1d: np.ndarray, factor: int) -> int:
    """Residue ``r`` (mod ``factor``) of the regularly sampled lines: the most populated class."""
    counts = [int(mask_1d[r::factor].sum()) for r in range(factor)]
    return int(np.argmax(counts))


def centre_run(mask_1d: np.ndarray) -> tuple[int, int]:
    """[start, stop) of the contiguous run of sampled lines through the centre ``n // 2``."""
    n = mask_1d.size
    centre = n // 2
    if not mask_1d[centre]:
        return centre, centre
    start, stop = centre, centre + 1
    while start > 0 and mask_1d[start - 1]:
        start -= 1
    while stop < n and mask_1d[stop]:
        stop += 1
    return start, stop


def partial_fourier_extent(mask_1d: np.ndarray) -> tuple[int, int] | None:
    """[first, last+1) of the sampled extent when it is asymmetric about ``n // 2`` by more than
    1/16 of the matrix (partial Fourier), else None."""
    lines = np.flatnonzero(mask_1d)
    n = mask_1d.size
    if lines.size == 0:
        return None
    below, above = n // 2 - lines[0], lines[-1] - n // 2
    if abs(below - above) <= max(1, math.ceil(n / 16)):
        return None
    return int(lines[0]), int(lines[-1]) + 1
