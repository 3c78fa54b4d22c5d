"""Procedurally generated head: scalp fat, skull, CSF, folded cortex, white matter, deep grey
matter and ventricles, from analytic solids only (nothing is downloaded), deterministic by seed.

Axes: +x left-right, +y anterior, +z superior; the 2D slice is the axial plane z = 0, through
the lateral ventricles and the deep grey matter.

Construction (lengths for seed-scale 1; each seed scales the head by 0.97-1.03 and the
ventricles by 0.85-1.2, and draws the surface fields):

- head: ellipsoid of semi-axes 74 x 94 x 80 mm; nested copies shrunk by fixed thicknesses give
  5 mm of scalp fat, 6 mm of skull (no signal) and 2 mm of subarachnoid CSF; every layer shares
  one smooth low-order deformation of about +-3 % of the radius (``SphereWaves``, frequencies
  1.5-3);
- cortex: the pial surface is the next ellipsoid (semi-axes minus 13 mm) carved by sulci, narrow
  CSF grooves perpendicular to the surface along the zero lines of a random field of gyral
  frequency (14-22 rad, about 20 mm between folds), 10 % of the radius deep; the white-matter
  surface lies 20 % of the radius further in and recedes another 10 % under every sulcus. This
  smooth ribbon (about 12-20 mm) stands for the folded cortex: thicker than the real 2.5 mm
  because its folds are far coarser, it gives a plausible grey-matter volume (about 42 % of the
  intracranial volume, white matter 35-40 %, CSF 16-23 %; adults: CSF 19 % in the third decade
  to 34 % above 80 years, Yamada et al., Eur Radiol 2023;33:7099);
- deep grey matter: thalami, caudate heads and putamina as ellipsoids; ventricles: lateral
  ventricles (ellipsoids rotated 12 deg towards the midline anteriorly) and the third ventricle.

Tissue values: :mod:`harmoniq.phantoms.tissues` (CSF, grey matter, white matter, fat).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from harmoniq.backend import get_array_module, xp_for_device
from harmoniq.phantoms.base import Phantom
from harmoniq.phantoms.grid import make_grid
from harmoniq.phantoms.nist_values import check_field
from harmoniq.phantoms.rasterize import Scene, build_phantom
from harmoniq.phantoms.shapes import DeformedEllipsoid, Ellipsoid, SphereWaves
from harmoniq.phantoms.tissues import BACKGROUND, brain_tissue

DEFAULT_FOV_M = 0.24
HEAD_SEMI_AXES_M = (0.074, 0.094, 0.080)
SCALP_M, SKULL_M, SUBARACHNOID_M = 0.005, 0.006, 0.002
LOW_ORDER_AMPLITUDE = 0.03
SULCUS_DEPTH = 0.10
SULCUS_WIDTH = 0.3
CORTEX_THICKNESS = 0.20
WM_RECESS = 0.10
TISSUE_ORDER = ("fat", "csf", "gm", "wm")

# (x, y, z) centre and semi-axes in m, rotation about z in deg; mirrored in x for pairs
_DEEP_GM = (
    ((0.011, -0.010, 0.000), (0.009, 0.015, 0.010), 0.0),  # thalamus
    ((0.017, 0.020, 0.006), (0.006, 0.011, 0.010), 0.0),  # caudate head
    ((0.026, 0.004, 0.000), (0.006, 0.017, 0.012), 0.0),  # putamen
)
_LATERAL_VENTRICLE = ((0.011, 0.004, 0.004), (0.0055, 0.030, 0.011), 12.0)
_THIRD_VENTRICLE = ((0.0, -0.004, 0.0), (0.0025, 0.014, 0.010), 0.0)


@dataclass(frozen=True)
class CorticalProfile:
    """Surface radius r(u) = 1 - offset + a f_low(u) - depth exp(-(f_gyr(u) / width)^2) at direction
    u = b / |b| (body units): sulci run along the zero lines of f_gyr, perpendicular to the surface.
    """

    low: SphereWaves
    gyri: SphereWaves
    offset: float
    depth: float

    @property
    def bounds(self) -> tuple[float, float]:
        swing = LOW_ORDER_AMPLITUDE * self.low.max_abs
        return (1 - self.offset - swing - self.depth, 1 - self.offset + swing)

    def __call__(self, bx, by, bz):
        xp = get_array_module(bx)
        rho = xp.sqrt(bx * bx + by * by + bz * bz)
        ux, uy, uz = bx / rho, by / rho, bz / rho
        sulci = xp.exp(-((self.gyri(ux, uy, uz) / SULCUS_WIDTH) ** 2)) if self.depth else 0.0
        return 1 - self.offset + LOW_ORDER_AMPLITUDE * self.low(ux, uy, uz) - self.depth * sulci


def _rotation_z(deg: float) -> tuple[tuple[float, float, float], ...]:
    c, s = math.cos(math.radians(deg)), math.sin(math.radians(deg))
    return ((c, -s, 0.0), (s, c, 0.0), (0.0, 0.0, 1.0))


def _mirrored_pair(centre, semi_axes, deg, scale=1.0) -> list[Ellipsoid]:
    axes = tuple(a * scale for a in semi_axes)
    x, y, z = centre
    return [Ellipsoid((x, y, z), axes, _rotation_z(deg)), Ellipsoid((-x, y, z), axes, _rotation_z(-deg))]


def brain_scene(field_t: float, seed: int) -> Scene:
    """The head's tissues and solids for ``seed`` (see module docstring)."""
    rng = np.random.default_rng(seed)
    head_scale = rng.uniform(0.97, 1.03)
    ventricle_scale = rng.uniform(0.85, 1.2)
    low = SphereWaves.random(rng, 6, (1.5, 3.0))
    gyri = SphereWaves.random(rng, 16, (14.0, 22.0))
    head = np.asarray(HEAD_SEMI_AXES_M) * head_scale

    def layer(depth_m: float, offset: float = 0.0, sulcus_depth: float = 0.0) -> DeformedEllipsoid:
        profile = CorticalProfile(low, gyri, offset, sulcus_depth)
        return DeformedEllipsoid((0.0, 0.0, 0.0), tuple((head - depth_m).tolist()), profile=profile)

    index = {key: i for i, key in enumerate(TISSUE_ORDER, 1)}
    pial_depth = SCALP_M + SKULL_M + SUBARACHNOID_M
    solids = [
        (layer(0.0), index["fat"]),
        (layer(SCALP_M), 0),
        (layer(SCALP_M + SKULL_M), index["csf"]),
        (layer(pial_depth, sulcus_depth=SULCUS_DEPTH), index["gm"]),
        (layer(pial_depth, offset=CORTEX_THICKNESS, sulcus_depth=SULCUS_DEPTH + WM_RECESS), index["wm"]),
    ]
    for centre, axes, deg in _DEEP_GM:
        solids += [(e, index["gm"]) for e in _mirrored_pair(centre, axes, deg, head_scale)]
    solids += [(e, index["csf"]) for e in _mirrored_pair(*_LATERAL_VENTRICLE, ventricle_scale * head_scale)]
    centre, axes, _ = _THIRD_VENTRICLE
    solids.append((Ellipsoid(centre, tuple(a * ventricle_scale * head_scale for a in axes)), index["csf"]))
    tissues = (BACKGROUND, *(brain_tissue(key, field_t) for key in TISSUE_ORDER))
    return Scene(tissues, tuple(solids))


def make_brain(
    matrix=64,
    field_t: float = 3.0,
    ndim: int = 2,
    fov_m=DEFAULT_FOV_M,
    seed: int = 0,
    slice_thickness_m: float = 0.005,
    supersample: int = 4,
    device: str = "cpu",
) -> Phantom:
    """Procedural head phantom (see module docstring); the same seed gives the same phantom.

    Example: ``make_brain(128, field_t=1.5, seed=3)``.
    """
    field_t = check_field(field_t, "brain phantom")
    grid = make_grid(matrix, fov_m, ndim, slice_thickness_m, "brain phantom")
    meta = {"phantom": "brain", "seed": int(seed), "axes": "+x left-right, +y anterior, +z superior"}
    return build_phantom("brain", field_t, brain_scene(field_t, seed), grid, supersample, xp_for_device(device), meta)
