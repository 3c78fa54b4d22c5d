"""NIfTI + sidecar: orientation (LPS -> RAS), data axes, per-volume BIDS values, atomicity, and a
series read back as the ImageSeries that was written."""

import json

import nibabel as nib
import numpy as np
import pytest

from harmoniq.errors import HarmoniqError
from harmoniq.io.header import AcquisitionHeader
from harmoniq.io.image_series import ImageSeries
from harmoniq.io.nifti import nifti_affine, read_image_series, sidecar_path, write_image_series
from harmoniq.provenance import sha256_file


def _header(**kw):
    base = dict(encoded_matrix=(8, 6, 1), encoded_fov_m=(0.24, 0.18, 0.005), recon_matrix=(8, 6, 1),
                recon_fov_m=(0.24, 0.18, 0.005), trajectory="cartesian", vendor="GE", model="Premier",
                field_t=3.0)
    base.update(kw)
    return AcquisitionHeader(**base)


def _series(shape=(1, 3, 1, 1, 2, 6, 8), **header):
    rng = np.random.default_rng(1)
    data = (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(np.complex64)
    affine = np.eye(4)
    affine[:3, :3] = np.diag([0.03, 0.03, 0.005])
    affine[:3, 3] = [-0.12, -0.09, 0.01]
    return ImageSeries(data=data, affine_lps_m=affine, header=_header(**header), recon={"method": "fft"})


def test_lps_to_ras_affine():
    affine = _series().affine_lps_m
    ras = nifti_affine(affine)
    voxel = np.array([4, 3, 1, 1.0])
    lps_mm = (affine @ voxel)[:3] * 1e3
    np.testing.assert_allclose((ras @ voxel)[:3], [-lps_mm[0], -lps_mm[1], lps_mm[2]])


def test_write_data_axes_values_and_sidecar(tmp_path):
    raw = tmp_path / "raw.h5"
    raw.write_bytes(b"raw bytes")
    series = _series(ti_s=(0.1, 0.5, 2.0), te_s=(0.01,), tr_s=(5.0,), flip_deg=(90.0,),
                     user_parameters={"RefocusingFlipAngle": 180.0})
    image_path, json_path = write_image_series(series, tmp_path / "t1.nii.gz", inputs={"raw": raw})
    assert json_path == tmp_path / "t1.json"
    image = nib.load(image_path)
    assert image.shape == (8, 6, 2, 3)
    np.testing.assert_allclose(image.get_fdata()[5, 2, 1, 2], abs(series.data[0, 2, 0, 0, 1, 2, 5]), rtol=1e-6)
    meta = json.loads(json_path.read_text())
    assert meta["InversionTime"] == [0.1, 0.5, 2.0]
    assert meta["EchoTime"] == 0.01 and meta["RepetitionTime"] == 5.0 and meta["FlipAngle"] == 90.0
    assert meta["RefocusingFlipAngle"] == 180.0 and meta["MagneticFieldStrength"] == 3.0
    assert meta["ContrastDimension"] == "inversion_time"
    assert meta["Manufacturer"] == "GE" and meta["ManufacturersModelName"] == "Premier"
    assert meta["HarmoniqProvenance"]["inputs"]["raw"]["sha256"] == sha256_file(raw)
    assert meta["HarmoniqProvenance"]["recon"] == {"method": "fft"}


def test_multi_echo_contrast_list_and_complex_output(tmp_path):
    raw = tmp_path / "raw.h5"
    raw.write_bytes(b"x")
    series = _series(shape=(1, 1, 1, 4, 1, 6, 8), te_s=(0.01, 0.02, 0.03, 0.04))
    path, json_path = write_image_series(series, tmp_path / "me.nii.gz", inputs={"raw": raw}, complex_output=True)
    assert nib.load(path).get_data_dtype() == np.complex64
    meta = json.loads(json_path.read_text())
    assert meta["EchoTime"] == [0.01, 0.02, 0.03, 0.04] and meta["ContrastDimension"] == "echo_time"


def test_bad_output_suffix_writes_nothing(tmp_path):
    with pytest.raises(HarmoniqError, match=".nii.gz"):
        write_image_series(_series(), tmp_path / "out.png", inputs={})
    assert list(tmp_path.iterdir()) == []


def test_sidecar_path():
    assert sidecar_path("a/b.nii").name == "b.json"


def test_a_series_reads_back_as_the_image_series_that_was_written(tmp_path):
    raw = tmp_path / "raw.h5"
    raw.write_bytes(b"raw bytes")
    series = _series(ti_s=(0.1, 0.5, 2.0), te_s=(0.01,), tr_s=(5.0,), flip_deg=(90.0,),
                     user_parameters={"RefocusingFlipAngle": 180.0})
    path, _ = write_image_series(series, tmp_path / "t1.nii.gz", inputs={"raw": raw})
    back = read_image_series(path)
    assert isinstance(back, ImageSeries) and back.source == path and back.sha256 == sha256_file(path)
    np.testing.assert_allclose(back.volumes(), np.abs(series.volumes()), rtol=1e-6)
    np.testing.assert_allclose(back.affine_lps_m, series.affine_lps_m, atol=1e-9)  # nibabel keeps float32 sforms
    header = back.header
    assert header.ti_s == (0.1, 0.5, 2.0) and header.te_s == (0.01,) and header.tr_s == (5.0,)
    assert header.field_t == 3.0 and header.vendor == "GE" and header.model == "Premier"
    assert header.user_parameters == {"RefocusingFlipAngle": 180.0, "ContrastDimension": "inversion_time"}
    assert header.encoded_matrix == (8, 6, 2)


@pytest.mark.parametrize("value", [["a", "b", "c"], [0.1, float("nan"), 0.3], [0.1, 0.2], True])
def test_sidecar_values_that_are_not_numbers_per_volume_are_refused(tmp_path, value):
    path, json_path = write_image_series(_series(ti_s=(0.1, 0.5, 2.0)), tmp_path / "t1.nii.gz", inputs={})
    meta = json.loads(json_path.read_text())
    json_path.write_text(json.dumps({**meta, "InversionTime": value}))
    with pytest.raises(HarmoniqError, match=r"t1.json: InversionTime=.* finite numbers .* one per volume \(3\)"):
        read_image_series(path)
