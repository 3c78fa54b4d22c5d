"""Sorted Cartesian k-space with its sampling mask, calibration lines, geometry and header.

Layout (fixed, so every stage can rely on it)::

    data: (repetition, set, phase, contrast, slice, coil, k2, k1, k0), complex64
    mask: (repetition, set, phase, contrast, slice, k2, k1), bool: which lines were sampled

Averages are already averaged. The k-space centre is at index ``n // 2`` of k2, k1 and k0
(see :mod:`harmoniq.io.fourier` for the image convention). Geometry is in the ISMRMRD
patient coordinate system (LPS: +x to the patient's left, +y posterior, +z head), metres.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from harmoniq.errors import HarmoniqError
from harmoniq.io.header import AcquisitionHeader

OTHER_DIMS = ("repetition", "set", "phase", "contrast")
"""Names of the leading axes of :attr:`KSpace.data`, before ``slice``."""


@dataclass
class KSpace:
    """Cartesian raw data sorted by the ISMRMRD counters.

    ``calibration``/``calibration_mask`` hold the parallel-imaging calibration lines (flags
    20 and 21) on the same grid as ``data``, or ``None`` when the file flags none.
    ``slice_position_m``: (slice, 3) centre of each slice (LPS, m); ``read_dir``,
    ``phase_dir``, ``slice_dir``: unit vectors (LPS). ``noise_covariance``: the coil noise
    covariance of the noise scans, scaled to the imaging dwell time (``None`` without noise
    scans); ``prewhitened``: the data were whitened with it.
    ``readout_oversampling_removed``: the readout was cropped to the recon field of view.
    """

    data: np.ndarray
    mask: np.ndarray
    header: AcquisitionHeader
    slice_position_m: np.ndarray
    read_dir: np.ndarray
    phase_dir: np.ndarray
    slice_dir: np.ndarray
    calibration: np.ndarray | None = None
    calibration_mask: np.ndarray | None = None
    noise_covariance: np.ndarray | None = None
    prewhitened: bool = False
    readout_oversampling_removed: bool = False

    def __post_init__(self):
        shape = np.shape(self.data)
        if len(shape) != 9:
            raise HarmoniqError(f"k-space data of shape {shape}: expected 9 axes (repetition, set, phase, contrast, "
                                "slice, coil, k2, k1, k0)")
        expected = shape[:5] + shape[6:8]
        if tuple(np.shape(self.mask)) != expected:
            raise HarmoniqError(f"k-space mask of shape {np.shape(self.mask)}: expected {expected}, the data's shape "
                                "without the coil and k0 axes")

    @property
    def n_coils(self) -> int:
        return self.data.shape[-4]

    @property
    def grid_shape(self) -> tuple[int, int, int]:
        """(k2, k1, k0) matrix of the sorted data."""
        return tuple(self.data.shape[-3:])

    @property
    def other_shape(self) -> tuple[int, ...]:
        """Sizes of the (repetition, set, phase, contrast) axes."""
        return tuple(self.data.shape[:4])

    @property
    def voxel_size_m(self) -> tuple[float, float, float]:
        """(dz, dy, dx) of the image this k-space gives, from the encoded field of view.

        For 2D multi-slice data dz is the slice spacing when several slices have distinct
        positions, else the slice thickness (the encoded z field of view).
        """
        _, fov_y, fov_z = self.header.encoded_fov_m
        fov_x = (self.header.recon_fov_m if self.readout_oversampling_removed else self.header.encoded_fov_m)[0]
        n2, n1, n0 = self.grid_shape
        dx = fov_x / n0
        dz = fov_z / n2
        if n2 == 1 and self.slice_position_m.shape[0] > 1:
            steps = np.diff(self.slice_position_m @ self.slice_dir)
            if np.all(np.abs(steps) > 0):
                dz = float(np.median(np.abs(steps)))
        return (float(dz), float(fov_y / n1), float(dx))

    def with_data(self, data, mask=None) -> "KSpace":
        """Copy with new ``data`` (and ``mask``), the header and geometry unchanged."""
        return replace(self, data=data, mask=self.mask if mask is None else mask)


def image_geometry(kspace: KSpace) -> tuple[np.ndarray, np.ndarray]:
    """(affine, slice order) of the image grid: ``affine`` (4x4) maps voxel indices (x, y, z)
    to LPS positions in m; ``slice order`` sorts 2D slices along ``slice_dir``.

    Voxel ``n // 2`` of x and y (and of z for 3D) is the slice or slab centre; for 2D
    multi-slice data voxel z = k is the k-th slice in space.
    """
    dz, dy, dx = kspace.voxel_size_m
    n2, n1, n0 = kspace.grid_shape
    along = kspace.slice_position_m @ kspace.slice_dir
    order = np.argsort(along, kind="stable")
    rotation = np.stack([kspace.read_dir * dx, kspace.phase_dir * dy, kspace.slice_dir * dz], axis=1)
    centre_voxel = np.array([n0 // 2, n1 // 2, n2 // 2 if n2 > 1 else 0])
    affine = np.eye(4)
    affine[:3, :3] = rotation
    affine[:3, 3] = kspace.slice_position_m[order[0]] - rotation @ centre_voxel
    return affine, order
