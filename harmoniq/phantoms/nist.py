"""Digital ISMRM/NIST system phantom: the T1 (NiCl2) and T2 (MnCl2) plates of 14 spheres each.

Reference T1/T2 per sphere come from :mod:`harmoniq.phantoms.nist_values` (Stupic et al.,
Magn Reson Med 2021). The real phantom is a 200 mm sphere (Stupic et al. 2021); the layout of
the spheres inside it below is OUR digital geometry, not NIST's drawing, whose sphere sizes and
positions we could not confirm from a public source.

Geometry (lab frame, m; +x right, +y up/anterior, +z towards the head end):

- container: water-filled sphere of radius 95 mm at the isocentre;
- T1 plate in the plane z = +30 mm, T2 plate in the plane z = -30 mm;
- each plate: 14 spheres of 24 mm diameter; spheres 1-13 on a ring of radius 60 mm, sphere 1
  at +y (12 o'clock) and the next ones clockwise (seen with +x right, +y up) every 360/13 deg;
  sphere 14 at the plate centre.

2D (one slice): the plane through the centre of one plate, put at z = 0: ``plate='t1'``
(default) or ``'t2'``; the water around the spheres is the container's section there (a disc
of radius sqrt(95^2 - 30^2) = 90.1 mm). ``plate='both'`` puts the two plates side by side in one
slice (T1 plate centred at x = -75 mm, T2 plate at x = +75 mm, each in a water disc of radius
74 mm): not a section of the real phantom, but one acquisition then samples all 28 spheres,
which suits one-shot comparisons; its default field of view is 0.30 m instead of 0.22 m.

Labels: T1 plate sphere k -> label k ("T1-01".."T1-14"), T2 plate sphere k -> label 14 + k
("T2-01".."T2-14"), water -> label 29. Sphere ROIs are eroded by one voxel from the sphere
edge; spheres must be at least 2 (1 + sqrt(n)) voxels across in-plane in n = 2 or 3
dimensions (a 3D slab's partitions may be coarser).

3D: the container with both plates; ``plate='t1'`` or ``'t2'`` moves it along z so that plate
lies at the isocentre, where a site centres a slab through it.

Water: T1 = 2.5 s, T2 = 1.5 s, PD 1 at both fields -- an ASSUMPTION (lightly doped water; no
public reference value for the fill). Spheres: PD 1 (dilute salts) -- an assumption too.
"""

from __future__ import annotations

import math

import numpy as np

from harmoniq.backend import xp_for_device
from harmoniq.errors import HarmoniqError
from harmoniq.phantoms.base import Phantom
from harmoniq.phantoms.grid import make_grid
from harmoniq.phantoms.nist_values import PLATE_SALT, PLATES, SOURCE, SPHERES_PER_PLATE, check_field, sphere_values_s
from harmoniq.phantoms.nist_temperature import REFERENCE_C, t1_plate_t1_s
from harmoniq.phantoms.nist_temperature import SOURCE as TEMPERATURE_SOURCE
from harmoniq.phantoms.rasterize import Scene, build_phantom
from harmoniq.phantoms.shapes import sphere
from harmoniq.phantoms.tissues import BACKGROUND, Tissue
from harmoniq.phantoms.water import water_diffusivity_m2_s

SPHERE_DIAMETER_M = 0.024
RING_RADIUS_M = 0.060
CONTAINER_RADIUS_M = 0.095
PLATE_Z_M = {"t1": 0.030, "t2": -0.030}
SIDE_BY_SIDE_X_M = {"t1": -0.075, "t2": 0.075}
SIDE_BY_SIDE_DISC_RADIUS_M = 0.074
DEFAULT_FOV_M = 0.22
SIDE_BY_SIDE_FOV_M = 0.30
LABEL_OFFSET = {"t1": 0, "t2": SPHERES_PER_PLATE}
WATER_LABEL = 2 * SPHERES_PER_PLATE + 1
WATER = Tissue("water", pd=1.0, t1_s=2.5, t2_s=1.5)
PLATE_CHOICES = (*PLATES, "both")


def min_sphere_voxels(ndim: int) -> float:
    """Voxels a sphere must span for a non-empty ROI after eroding by one voxel: 2 (1 + sqrt(n)).

    A voxel is pure when its centre is within r - sqrt(n)/2 voxels of the sphere centre, kept
    by the erosion when within r - sqrt(n)/2 - 1; some voxel centre lies within sqrt(n)/2 of any
    point, so r >= 1 + sqrt(n) voxels suffices.
    """
    return 2.0 * (1.0 + math.sqrt(ndim))


def sphere_centres_m(plate_centre_m: tuple[float, float, float]) -> list[tuple[float, float, float]]:
    """Centres (x, y, z) in m of spheres 1..14 of a plate centred at ``plate_centre_m``."""
    cx, cy, cz = plate_centre_m
    ring = SPHERES_PER_PLATE - 1
    centres = []
    for k in range(ring):
        angle = 2 * math.pi * k / ring
        centres.append((cx + RING_RADIUS_M * math.sin(angle), cy + RING_RADIUS_M * math.cos(angle), cz))
    centres.append((cx, cy, cz))
    return centres


def _z_shift(ndim: int, plate: str) -> float:
    """z (m) by which a 3D phantom is moved so that ``plate`` lies at the isocentre (0 for 'both')."""
    return -PLATE_Z_M[plate] if ndim == 3 and plate in PLATES else 0.0


def _plate_centres(ndim: int, plate: str) -> dict[str, tuple[float, float, float]]:
    if ndim == 3:
        return {p: (0.0, 0.0, PLATE_Z_M[p] + _z_shift(ndim, plate)) for p in PLATES}
    if plate == "both":
        return {p: (SIDE_BY_SIDE_X_M[p], 0.0, 0.0) for p in PLATES}
    return {plate: (0.0, 0.0, 0.0)}


def _water_solids(ndim: int, plate: str) -> list:
    if ndim == 3:
        return [sphere((0.0, 0.0, _z_shift(ndim, plate)), CONTAINER_RADIUS_M)]
    if plate == "both":
        return [sphere((SIDE_BY_SIDE_X_M[p], 0.0, 0.0), SIDE_BY_SIDE_DISC_RADIUS_M) for p in PLATES]
    section = math.sqrt(CONTAINER_RADIUS_M**2 - PLATE_Z_M[plate] ** 2)
    return [sphere((0.0, 0.0, 0.0), section)]


def _plate_values_s(name: str, field_t: float, temperature_c: float, version: int) -> list[tuple[float, float]]:
    """(T1, T2) in s of spheres 1..14 of plate ``name``; the T1 plate's T1 at ``temperature_c``
    (degC) and phantom ``version`` (:mod:`harmoniq.phantoms.nist_temperature`)."""
    values = sphere_values_s(name, field_t)
    t1_plate = t1_plate_t1_s([t1 for t1, _ in values], temperature_c, version, field_t)
    if name != "t1":
        return values
    return [(float(t1), t2) for t1, (_, t2) in zip(t1_plate, values)]


def nist_scene(field_t: float, ndim: int, plate: str, temperature_c: float = REFERENCE_C,
               version: int = 1) -> tuple[Scene, dict[int, tuple[float, float, float]]]:
    """The phantom's scene and the sphere centres (label -> (x, y, z) in m)."""
    tissues = [BACKGROUND] + [None] * (2 * SPHERES_PER_PLATE) + [WATER]
    solids = [(s, WATER_LABEL) for s in _water_solids(ndim, plate)]
    centres = {}
    for name, plate_centre in _plate_centres(ndim, plate).items():
        values = _plate_values_s(name, field_t, temperature_c, version)
        for k, ((t1, t2), centre) in enumerate(zip(values, sphere_centres_m(plate_centre)), 1):
            label = LABEL_OFFSET[name] + k
            tissues[label] = Tissue(f"{name.upper()}-{k:02d}", pd=1.0, t1_s=t1, t2_s=t2)
            solids.append((sphere(centre, SPHERE_DIAMETER_M / 2), label))
            centres[label] = centre
    tissues = [t if t is not None else Tissue("absent", pd=0.0, t1_s=math.inf, t2_s=math.inf) for t in tissues]
    return Scene(tuple(tissues), tuple(solids), roi_erosion_voxels=1), centres


def make_nist(
    matrix=64,
    field_t: float = 3.0,
    ndim: int = 2,
    fov_m=None,
    plate: str | None = None,
    slice_thickness_m: float = 0.005,
    supersample: int = 4,
    device: str = "cpu",
    temperature_c: float = REFERENCE_C,
    version: int = 1,
) -> Phantom:
    """Digital ISMRM/NIST system phantom (see module docstring for the geometry and labels).

    plate: 't1' (default), 't2' or 'both' for 2D; in 3D None or 'both' centres the phantom,
    't1' or 't2' moves it along z so that plate lies at the isocentre (as a site positions it
    for a slab through that plate). temperature_c (degC) and version (1: serial < 43, 2) set
    the T1 plate's T1 (published at 3 T; 20 degC and version 1 at 1.5 T). Example:
    ``make_nist(128, field_t=1.5, plate='both')``.
    """
    field_t = check_field(field_t, "NIST phantom")
    plate = ("both" if ndim == 3 else "t1") if plate is None else plate
    if plate not in PLATE_CHOICES:
        raise HarmoniqError(f"NIST phantom: plate={plate!r} is not valid; choose one of {', '.join(PLATE_CHOICES)}")
    if fov_m is None:
        fov_m = SIDE_BY_SIDE_FOV_M if (ndim == 2 and plate == "both") else DEFAULT_FOV_M
    grid = make_grid(matrix, fov_m, ndim, slice_thickness_m, "NIST phantom")
    in_plane = grid.voxel_size_m[1:]  # a slab's partitions may be coarser: its ROIs lie in-plane
    across = SPHERE_DIAMETER_M / max(in_plane)
    needed = min_sphere_voxels(grid.ndim)
    if across < needed:
        fov = max(n * d for n, d in zip(grid.shape[1:], in_plane))
        raise HarmoniqError(
            f"NIST phantom: matrix={matrix!r} with fov_m={fov_m!r} makes the {SPHERE_DIAMETER_M * 1e3:.0f} mm "
            f"spheres {across:.1f} voxels across; at least {needed:.2f} are needed for non-empty ROIs: use "
            f"matrix >= {math.ceil(needed * fov / SPHERE_DIAMETER_M)} or a smaller fov_m"
        )
    scene, centres = nist_scene(field_t, grid.ndim, plate, temperature_c, version)
    meta = {
        "phantom": "nist",
        "plate": plate if grid.ndim == 2 else f"both (stacked in z), {plate} at the isocentre",
        "plate_salt": PLATE_SALT,
        "sphere_centres_m": centres,
        "sphere_diameter_m": SPHERE_DIAMETER_M,
        "reference": SOURCE if (version, temperature_c) == (1, REFERENCE_C) else f"{SOURCE}; {TEMPERATURE_SOURCE}",
        "temperature_c": temperature_c,
        "version": version,
        "assumptions": "water fill T1 2.5 s, T2 1.5 s, PD 1; sphere PD 1; geometry is harmoniq's; spheres and "
                       "fill diffuse as water at the phantom temperature (harmoniq.phantoms.water)",
    }
    meta["diffusivity_m2_s"] = water_diffusivity_m2_s(temperature_c)
    phantom = build_phantom("nist", field_t, scene, grid, supersample, xp_for_device(device), meta)
    phantom.diffusivity_m2_s = np.where(phantom.pd > 0, meta["diffusivity_m2_s"], 0.0)
    return phantom
