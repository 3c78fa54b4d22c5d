"""Shepp-Logan phantom: geometry against SigPy's independent implementation, tissue values."""

import numpy as np
import pytest
from sigpy.sim import phantom as sigpy_ellipsoids
from sigpy.sim import sl_angles, sl_offsets, sl_scales

from harmoniq.phantoms import make_phantom

# Tissue per ellipsoid as documented, and PD per tissue (fat, WM, CSF, GM) at each field:
# PD: 1.5 T BrainWeb-derived defaults, 3 T MRzero defaults; fat PD 1 (stated assumption).
# T1: Rooney et al. MRM 2007 fit A * (42.577478518e6 * B0)^beta (WM 0.71 ms/0.382, GM 1.16 ms/0.376),
# CSF 4.47 s; fat 350 ms (1.5 T, BrainWeb-derived), 382 ms (3 T, de Bazelaire et al. 2004).
TISSUES = ("fat", "wm", "csf", "csf", "gm", "gm", "gm", "csf", "csf", "csf")
PD = {1.5: {"fat": 1.0, "wm": 0.77, "csf": 1.0, "gm": 0.86}, 3.0: {"fat": 1.0, "wm": 0.7, "csf": 1.0, "gm": 0.8}}
T1_MS = {1.5: {"fat": 350, "wm": 680.6, "csf": 4470, "gm": 998.3}, 3.0: {"fat": 382, "wm": 886.9, "csf": 4470, "gm": 1295.5}}


def sigpy_pd(shape, field):
    """PD from SigPy's ellipsoids: each one's indicator (amplitude 1 alone), painted in table order."""
    pd = np.zeros(shape)
    for k, tissue in enumerate(TISSUES):
        amps = [0.0] * len(TISSUES)
        amps[k] = 1.0
        inside = np.real(sigpy_ellipsoids(shape, amps, sl_scales, sl_offsets, sl_angles, np.complex128)) > 0.5
        pd[inside] = PD[field][tissue]
    return pd


@pytest.mark.parametrize(
    "matrix,ndim,field",
    [(64, 2, 3.0), (128, 2, 1.5), (32, 3, 3.0), ((24, 40, 36), 3, 1.5)],
)
def test_pd_matches_sigpy_geometry(matrix, ndim, field):
    phantom = make_phantom("shepp-logan", matrix=matrix, ndim=ndim, field_t=field, supersample=1)
    shape = (matrix,) * ndim if np.ndim(matrix) == 0 else tuple(matrix)
    expected = sigpy_pd(shape, field)
    assert np.array_equal(phantom.pd.reshape(expected.shape), expected)


def test_supersampled_pure_voxels_agree_and_edges_mix():
    sharp = make_phantom("shepp-logan", matrix=96, supersample=1)
    smooth = make_phantom("shepp-logan", matrix=96, supersample=4)
    roi = smooth.labels > 0
    assert np.array_equal(smooth.pd[roi], sharp.pd[roi])
    # the head's outline (fat against air) gets intermediate PD from partial volume
    assert np.any((smooth.pd > 0) & (smooth.pd < 0.7))


@pytest.mark.parametrize("field", [1.5, 3.0])
def test_roi_values_are_the_tissue_table(field):
    phantom = make_phantom("shepp-logan", matrix=128, field_t=field)
    by_name = {"fat": "fat", "white matter": "wm", "CSF": "csf", "grey matter": "gm"}
    assert sorted(r.name for r in phantom.rois.values()) == sorted(by_name)
    for roi in phantom.rois.values():
        key = by_name[roi.name]
        assert roi.t1_s * 1e3 == pytest.approx(T1_MS[field][key], abs=0.05)
        assert roi.pd == PD[field][key]
        assert np.all(phantom.t1_s[phantom.labels == roi.label] == roi.t1_s)
