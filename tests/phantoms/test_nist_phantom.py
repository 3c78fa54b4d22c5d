"""NIST/ISMRM system phantom: reference values, ROI placement and purity, partial volume, errors."""

import math

import numpy as np
import pytest

from harmoniq.errors import HarmoniqError
from harmoniq.phantoms import make_phantom
from harmoniq.phantoms.nist_values import sphere_values_s

# An independent transcription of the version-1 T1-plate values at 3 T, 20 C (ms, sphere 1 to 14):
# the ISMRM 2020 T1 reproducibility challenge's analysis code (rrsg2020/analysis, src/nist.py,
# get_reference_NIST_values for serial numbers < 43), taken from the phantom maker's specification
# rather than from Stupic et al.; the two sources differ by at most 0.15 % (sphere 5: 496 vs 496.7).
CHALLENGE_T1_PLATE_3T_MS = (1989, 1454, 984.1, 706, 496, 351.5, 247.13, 175.3, 125.9, 89.0, 62.7, 44.53, 30.84, 21.719)
OFFSET = {"t1": 0, "t2": 14}
RADIUS_M = 0.012


def documented_centre(plate, sphere, ndim, side_by_side=False):
    """Sphere centre (x, y, z) in m from the geometry in the module docstring."""
    if ndim == 3:
        cx, cz = 0.0, {"t1": 0.03, "t2": -0.03}[plate]
    else:
        cx, cz = ({"t1": -0.075, "t2": 0.075}[plate] if side_by_side else 0.0), 0.0
    if sphere == 14:
        return np.array([cx, 0.0, cz])
    angle = 2 * math.pi * (sphere - 1) / 13
    return np.array([cx + 0.06 * math.sin(angle), 0.06 * math.cos(angle), cz])


def test_t1_plate_agrees_with_an_independent_transcription():
    spheres = sphere_values_s("t1", 3.0)
    np.testing.assert_allclose([t1 * 1e3 for t1, _ in spheres], CHALLENGE_T1_PLATE_3T_MS, rtol=1.5e-3)


@pytest.mark.parametrize("field", [1.5, 3.0])
def test_roi_values_equal_the_reference_table(field):
    phantom = make_phantom("nist", matrix=128, field_t=field, plate="both")
    for plate in ("t1", "t2"):
        table = sphere_values_s(plate, field)
        t1 = [v for v, _ in table]
        assert t1 == sorted(t1, reverse=True)  # sphere 1 has the longest T1, sphere 14 the shortest
        for sphere in range(1, 15):
            roi = phantom.rois[OFFSET[plate] + sphere]
            assert roi.name == f"{plate.upper()}-{sphere:02d}"
            assert (roi.t1_s, roi.t2_s) == table[sphere - 1]
            mask = phantom.labels == roi.label
            # every ROI voxel carries exactly the reference value (pure voxels only)
            assert np.all(phantom.t1_s[mask] == roi.t1_s) and np.all(phantom.t2_s[mask] == roi.t2_s)
            assert np.all(phantom.pd[mask] == 1.0)


@pytest.mark.parametrize(
    "matrix,ndim,plate",
    [(64, 2, "t1"), (64, 2, "t2"), (128, 2, "t1"), (128, 2, "both"), (64, 3, None)],
)
def test_sphere_rois_nonempty_pure_and_where_documented(matrix, ndim, plate):
    phantom = make_phantom("nist", matrix=matrix, ndim=ndim, plate=plate)
    plates = ("t1", "t2") if plate in (None, "both") else (plate,)
    positions = phantom.positions_m()
    spatial = phantom.voxel_size_m[1:] if ndim == 2 else phantom.voxel_size_m
    half_diagonal = 0.5 * math.sqrt(sum(d * d for d in spatial))
    for p in plates:
        for sphere in range(1, 15):
            label = OFFSET[p] + sphere
            mask = phantom.labels == label
            assert mask.sum() >= (4 if ndim == 2 else 8), (label, mask.sum())
            centre = documented_centre(p, sphere, ndim, side_by_side=plate == "both")
            voxels = positions[mask]
            distance = np.linalg.norm(voxels - centre, axis=1)
            # disjoint from every other sphere and pure: the whole voxel lies inside this sphere
            assert np.all(distance + half_diagonal <= RADIUS_M + 1e-12)
            centre_of_mass = voxels.mean(axis=0)
            assert np.linalg.norm(centre_of_mass - centre) <= 0.5 * max(spatial)


@pytest.mark.parametrize("ndim,matrix", [(2, 64), (2, 128), (3, 56)])
def test_partial_volume_pd_integrates_to_the_analytic_volume(ndim, matrix):
    """All compartments have PD 1, so sum(PD) * voxel volume is the container's volume (area in 2D)."""
    phantom = make_phantom("nist", matrix=matrix, ndim=ndim, plate="t1" if ndim == 2 else None)
    dz, dy, dx = phantom.voxel_size_m
    if ndim == 2:
        expected, measured = math.pi * (0.095**2 - 0.03**2), phantom.pd.sum() * dy * dx
    else:
        expected, measured = 4 / 3 * math.pi * 0.095**3, phantom.pd.sum() * dz * dy * dx
    assert measured == pytest.approx(expected, rel=2e-3)
    edge = (phantom.pd > 0) & (phantom.pd < 1)
    assert edge.any() and np.all(phantom.labels[edge] == 0)


def test_water_and_values_per_field_differ():
    low, high = (make_phantom("nist", matrix=64, field_t=f) for f in (1.5, 3.0))
    assert low.rois[29].name == "water" and low.rois[29].t1_s == 2.5
    assert low.rois[1].t1_s != high.rois[1].t1_s
    assert low.field_t == 1.5 and high.field_t == 3.0


@pytest.mark.parametrize(
    "kwargs,fragment",
    [
        (dict(field_t=2.0), "1.5, 3.0"),
        (dict(plate="pd"), "t1, t2, both"),
        (dict(matrix=32), "matrix >= 45"),
        (dict(matrix=0), "integer >= 4"),
        (dict(matrix=(64, 64, 64)), "ndim=2"),
        (dict(matrix=400, ndim=3), "limit of 33554432"),
        (dict(ndim=4), "ndim=4"),
        (dict(fov_m=-1.0), "fov_m"),
        (dict(colour="red"), "colour"),
    ],
)
def test_bad_requests_raise_one_clear_error(kwargs, fragment):
    with pytest.raises(HarmoniqError, match=fragment.replace("(", r"\(")):
        make_phantom("nist", **kwargs)


@pytest.mark.slow
def test_256_cubed_volume_is_feasible():
    phantom = make_phantom("nist", matrix=256, ndim=3)
    assert phantom.shape == (256, 256, 256)
    assert sorted(phantom.rois) == list(range(1, 30))


def test_a_3d_slab_through_the_t1_plate_centres_it_at_the_isocentre():
    """plate='t1' in 3D moves the container so the T1 plate's sphere centres lie at z = 0;
    a 48 mm slab of 8 partitions then holds its 14 sphere ROIs and none of the T2 plate."""
    phantom = make_phantom("nist", matrix=(8, 64, 64), ndim=3, fov_m=(0.048, 0.25, 0.25), plate="t1")
    centres = phantom.meta["sphere_centres_m"]
    assert all(centres[k][2] == 0.0 for k in range(1, 15)) and all(centres[k][2] == -0.06 for k in range(15, 29))
    counts = [int((phantom.labels == k).sum()) for k in range(1, 29)]
    assert min(counts[:14]) > 0 and max(counts[14:]) == 0
