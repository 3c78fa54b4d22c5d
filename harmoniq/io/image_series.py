"""Reconstructed images with their geometry, acquisition header and reconstruction record."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from harmoniq.io.header import AcquisitionHeader
from harmoniq.io.kspace import OTHER_DIMS


@dataclass
class ImageSeries:
    """Complex images ``data`` (repetition, set, phase, contrast, z, y, x).

    ``affine_lps_m`` (4x4) maps voxel indices (x, y, z) to ISMRMRD patient coordinates (LPS,
    m). ``recon`` records what the reconstruction did (method, whether ``auto`` chose it,
    coil combination, parameters), for the sidecar's provenance. A series read back from a
    NIfTI file (:func:`harmoniq.io.nifti.read_image_series`) has its volumes along the set
    axis, one header value per volume where they vary, and ``source``/``sha256`` of the file.
    """

    data: np.ndarray
    affine_lps_m: np.ndarray
    header: AcquisitionHeader
    recon: dict = field(default_factory=dict)
    source: Path | None = None
    sha256: str | None = None

    @property
    def spatial_shape(self) -> tuple[int, int, int]:
        """(z, y, x)."""
        return tuple(self.data.shape[4:])

    @property
    def n_volumes(self) -> int:
        return int(np.prod(self.data.shape[:4]))

    def volume_axes(self) -> list[str]:
        """Names of the (repetition, set, phase, contrast) axes longer than 1, in order."""
        return [name for name, n in zip(OTHER_DIMS, self.data.shape[:4]) if n > 1]

    def volumes(self) -> np.ndarray:
        """Images as (volume, z, y, x): the leading axes flattened in C order."""
        return self.data.reshape(-1, *self.data.shape[4:])

    def volume_index(self) -> list[dict[str, int]]:
        """For each volume of :meth:`volumes`, its (repetition, set, phase, contrast) indices."""
        return [dict(zip(OTHER_DIMS, idx)) for idx in np.ndindex(*self.data.shape[:4])]
