"""Shepp-Logan head phantom with a tissue (and so T1, T2, T2', PD) for every ellipsoid.

Geometry: the 3D modified Shepp-Logan phantom as tabulated in SigPy (``sigpy.shepp_logan``),
which extends the 2D ellipses of Shepp & Logan (IEEE Trans Nucl Sci 1974;21:21) with Toft's
contrast-enhanced amplitudes (Toft, PhD thesis, DTU 1996) to ellipsoids along z, following the
3D phantom of Schabel (MATLAB Central 2006). Coordinates are in units of half the smallest side
of the field of view; ellipsoid k holds the points p with |(M_k^T p - c_k) / a_k| <= 1, where
M_k is the intrinsic z-x-z Euler rotation of its angles (phi, theta, psi) and the centre c_k is
given in the rotated frame (the convention of those tables). A 2D slice is the plane z = 0,
where ellipsoids 6 and 7 (centred at z = 0.25) do not appear.

Tissues replace the additive grey levels: each ellipsoid is painted over the previous ones
with its own tissue -- 1 (skull ring) fat, 2 (brain) white matter, 3-4 (dark ellipses) CSF,
5-7 (bright blobs) grey matter, 8-10 (small dots) CSF -- so every region has one tissue's
values from :mod:`harmoniq.phantoms.tissues`.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

from harmoniq.backend import xp_for_device
from harmoniq.phantoms.base import Phantom
from harmoniq.phantoms.grid import make_grid
from harmoniq.phantoms.nist_values import check_field
from harmoniq.phantoms.rasterize import Scene, build_phantom
from harmoniq.phantoms.shapes import Ellipsoid
from harmoniq.phantoms.tissues import BACKGROUND, brain_tissue

DEFAULT_FOV_M = 0.24

# tissue, semi-axes (a, b, c), centre in the rotated frame (x0, y0, z0), Euler angles (phi, theta, psi) deg
ELLIPSOIDS = (
    ("fat", (0.6900, 0.920, 0.810), (0.0, 0.0, 0.0), (0.0, 0.0, 0.0)),
    ("wm", (0.6624, 0.874, 0.780), (0.0, -0.0184, 0.0), (0.0, 0.0, 0.0)),
    ("csf", (0.1100, 0.310, 0.220), (0.22, 0.0, 0.0), (-18.0, 0.0, 10.0)),
    ("csf", (0.1600, 0.410, 0.280), (-0.22, 0.0, 0.0), (18.0, 0.0, 10.0)),
    ("gm", (0.2100, 0.250, 0.410), (0.0, 0.35, -0.15), (0.0, 0.0, 0.0)),
    ("gm", (0.0460, 0.046, 0.050), (0.0, 0.1, 0.25), (0.0, 0.0, 0.0)),
    ("gm", (0.0460, 0.046, 0.050), (0.0, -0.1, 0.25), (0.0, 0.0, 0.0)),
    ("csf", (0.0460, 0.046, 0.050), (-0.08, -0.605, 0.0), (0.0, 0.0, 0.0)),
    ("csf", (0.0230, 0.023, 0.020), (0.0, -0.606, 0.0), (0.0, 0.0, 0.0)),
    ("csf", (0.0230, 0.023, 0.020), (0.06, -0.605, 0.0), (0.0, 0.0, 0.0)),
)

TISSUE_ORDER = ("fat", "wm", "csf", "gm")


def shepp_logan_solids(unit_m: float) -> list[tuple[str, Ellipsoid]]:
    """(tissue key, ellipsoid in m) for every table entry, lengths scaled by ``unit_m``."""
    solids = []
    for tissue, axes, offset, angles in ELLIPSOIDS:
        m = Rotation.from_euler("ZXZ", angles, degrees=True).as_matrix()
        centre = m @ (unit_m * np.asarray(offset))
        solids.append(
            (tissue, Ellipsoid(tuple(centre.tolist()), tuple(unit_m * a for a in axes), tuple(map(tuple, m.tolist()))))
        )
    return solids


def make_shepp_logan(
    matrix=64,
    field_t: float = 3.0,
    ndim: int = 2,
    fov_m=DEFAULT_FOV_M,
    slice_thickness_m: float = 0.005,
    supersample: int = 4,
    device: str = "cpu",
) -> Phantom:
    """Shepp-Logan phantom with tissue values at ``field_t`` (see module docstring).

    Example: ``make_shepp_logan(128, field_t=1.5)``.
    """
    field_t = check_field(field_t, "Shepp-Logan phantom")
    grid = make_grid(matrix, fov_m, ndim, slice_thickness_m, "Shepp-Logan phantom")
    unit_m = min(grid.fov_m[a] for a in grid.spatial_axes) / 2
    index = {key: i for i, key in enumerate(TISSUE_ORDER, 1)}
    tissues = (BACKGROUND, *(brain_tissue(key, field_t) for key in TISSUE_ORDER))
    solids = tuple((solid, index[key]) for key, solid in shepp_logan_solids(unit_m))
    meta = {"phantom": "shepp-logan", "unit_m": unit_m, "tissue_per_ellipsoid": [e[0] for e in ELLIPSOIDS]}
    return build_phantom(
        "shepp-logan", field_t, Scene(tissues, solids), grid, supersample, xp_for_device(device), meta
    )
