"""Autocalibration (ACS) k-space for GRAPPA kernels and coil-sensitivity maps.

The ACS block is the largest fully sampled block around the k-space centre, taken from the
union of the imaging lines and the calibration lines (ISMRMRD flags 20/21). When one frame
has no such block because its acceleration is spread over repetitions (interleaved
patterns, as in TSENSE/TGRAPPA: Kellman et al., Magn Reson Med 2001;45:846-852; Breuer et
al., Magn Reson Med 2005;53:981-985), the repetitions are merged first.
"""

from __future__ import annotations

import numpy as np

from harmoniq.errors import HarmoniqError
from harmoniq.io.kspace import KSpace
from harmoniq.recon.sampling import centre_run

MIN_ACS_LINES = 8
"""Fewest fully sampled lines (per accelerated axis) accepted as a calibration block."""
SAME_SCAN_MODES = ("embedded", "interleaved")
"""Calibration modes whose calibration lines are samples of the imaging scan itself."""


def _merged(data, mask, calibration, calibration_mask):
    """Calibration lines where present, else imaging lines; (k, mask)."""
    if calibration is None:
        return data, mask
    use_cal = calibration_mask[..., None, :, :, None]
    return np.where(use_cal, calibration, data), mask | calibration_mask


def with_calibration_lines(kspace: KSpace) -> KSpace:
    """``kspace`` with the calibration-only lines (flag 20) added to the imaging data when they
    belong to the same scan (calibration mode embedded or interleaved): more measured samples
    for every method. Separate reference scans (another contrast) are left out."""
    if kspace.calibration is None or kspace.header.calibration_mode not in SAME_SCAN_MODES:
        return kspace
    data, mask = _merged(kspace.data, kspace.mask, kspace.calibration, kspace.calibration_mask)
    return kspace.with_data(data, mask)


def _centre_block(mask_2d: np.ndarray) -> tuple[slice, slice]:
    """(k2, k1) slices of the fully sampled block through the centre of a (k2, k1) mask:
    the centre runs along each axis, shrunk symmetrically until every line inside is sampled."""
    n2, n1 = mask_2d.shape
    s2, s1 = slice(*centre_run(mask_2d[:, n1 // 2])), slice(*centre_run(mask_2d[n2 // 2]))
    while not mask_2d[s2, s1].all():
        shrink2 = int(s2.stop - s2.start > 2)
        s2 = slice(s2.start + shrink2, s2.stop - shrink2)
        s1 = slice(s1.start + 1, s1.stop - 1)
    return s2, s1


def _block_ok(mask_2d, s2, s1) -> bool:
    n2 = mask_2d.shape[0]
    return (s1.stop - s1.start) >= MIN_ACS_LINES and (n2 == 1 or (s2.stop - s2.start) >= MIN_ACS_LINES
                                                      or (s2.stop - s2.start) == n2)


def acs(kspace: KSpace, frame: tuple[int, int, int, int], slice_index: int) -> np.ndarray:
    """ACS k-space (coil, c2, c1, k0) of one (repetition, set, phase, contrast) frame and slice."""
    rep, st, ph, con = frame
    pick = (slice(None), st, ph, con, slice_index)
    cal = None if kspace.calibration is None else kspace.calibration[pick]
    cal_mask = None if kspace.calibration_mask is None else kspace.calibration_mask[pick]
    k_all, m_all = _merged(kspace.data[pick], kspace.mask[pick], cal, cal_mask)
    k, m = k_all[rep], m_all[rep]
    s2, s1 = _centre_block(m)
    if not _block_ok(m, s2, s1):
        counts = m_all.sum(axis=0)
        k = (k_all * m_all[:, None, :, :, None]).sum(axis=0) / np.maximum(counts, 1)[None, :, :, None]
        m = counts > 0
        s2, s1 = _centre_block(m)
        if not _block_ok(m, s2, s1):
            raise HarmoniqError(f"k-space frame {frame}, slice {slice_index}: no fully sampled calibration block "
                                f"of at least {MIN_ACS_LINES} lines around the centre; acquire ACS lines or use "
                                "--method fft")
    return np.ascontiguousarray(k[:, s2, s1, :])
