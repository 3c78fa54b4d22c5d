"""The numerical phantom every simulator and analysis stage works on.

Arrays are ``(z, y, x)``; SI units (s, m, Hz). A 2D phantom has ``z == 1``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class ROI:
    """One labelled region with its reference values (SI units; None when not defined)."""

    label: int
    name: str
    t1_s: float | None = None
    t2_s: float | None = None
    pd: float | None = None


@dataclass
class Phantom:
    """Voxelised tissue properties on a regular grid centred on the isocentre.

    pd: proton density (a.u., 0 outside the object); t1_s, t2_s: relaxation times (s);
    t2prime_s: reversible dephasing time T2' (s, np.inf for none), 1/T2* = 1/T2 + 1/T2';
    offres_hz: chemical-shift frequency offset (Hz, e.g. fat), before any B0 map;
    labels: integer ROI label per voxel (0 = no ROI); rois: label -> ROI;
    voxel_size_m: (dz, dy, dx) in m; field_t: field strength the values belong to (T);
    diffusivity_m2_s: isotropic diffusion coefficient (m^2/s) per voxel, None for none.
    """

    name: str
    field_t: float
    pd: np.ndarray
    t1_s: np.ndarray
    t2_s: np.ndarray
    t2prime_s: np.ndarray
    offres_hz: np.ndarray
    labels: np.ndarray
    rois: dict[int, ROI]
    voxel_size_m: tuple[float, float, float]
    meta: dict = field(default_factory=dict)
    diffusivity_m2_s: np.ndarray | None = None

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self.pd.shape)

    @property
    def fov_m(self) -> tuple[float, float, float]:
        return tuple(n * d for n, d in zip(self.shape, self.voxel_size_m))

    def positions_m(self) -> np.ndarray:
        """Voxel centres, shape (z, y, x, 3), last axis (x, y, z) in m.

        Voxel ``n // 2`` of each axis sits at the isocentre, the convention of a centred
        FFT, so a reconstructed image lands on the phantom voxel for voxel.
        """
        axes = [(np.arange(n) - n // 2) * d for n, d in zip(self.shape, self.voxel_size_m)]
        zz, yy, xx = np.meshgrid(*axes, indexing="ij")
        return np.stack([xx, yy, zz], axis=-1)
