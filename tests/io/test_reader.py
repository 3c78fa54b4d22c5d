"""Reader checks against files written by the ISMRMRD reference tools and the ismrmrd package."""

import shutil

import h5py
import ismrmrd
import numpy as np
import pytest

from harmoniq.errors import HarmoniqError
from harmoniq.io.fourier import k_to_image
from harmoniq.io.reader import read_ismrmrd, read_raw
from harmoniq.io.reference_tools import generate_shepp_logan, stored_reference

NOISE_SD = 0.05  # generator default: standard deviation of the real and the imaginary part


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("ismrmrd")
    return {
        "full": generate_shepp_logan(root / "full.h5"),
        "noise": generate_shepp_logan(root / "noise.h5", noise_scans=True),
        "accel": generate_shepp_logan(root / "accel.h5", acceleration=2, calibration_width=16, noise_scans=True),
    }


def _coil_images(kspace):
    return k_to_image(kspace.data[0, 0, 0, 0, 0])[:, 0]  # (coil, y, x)


def test_fully_sampled_matches_stored_coil_images_to_noise_level(files):
    kspace = read_ismrmrd(files["full"])
    assert kspace.data.shape == (1, 1, 1, 1, 1, 4, 1, 64, 64)  # readout oversampling 2 removed
    assert kspace.mask.all() and kspace.readout_oversampling_removed and not kspace.prewhitened
    _, csm = stored_reference(files["full"])
    with h5py.File(files["full"]) as handle:
        phantom = handle["dataset/phantom"][...]["real"][0]
    residual = _coil_images(kspace) - phantom * csm[:, 0]
    # unitary FFT and image-space cropping keep the per-sample noise: complex sd = sqrt(2) * 0.05
    assert np.sqrt(np.mean(np.abs(residual) ** 2)) == pytest.approx(np.sqrt(2) * NOISE_SD, rel=0.05)


def test_oversampling_kept_on_request(files):
    kept = read_ismrmrd(files["full"], remove_oversampling=False)
    assert kept.data.shape[-1] == 128 and not kept.readout_oversampling_removed
    assert kept.voxel_size_m[2] == pytest.approx(0.6 / 128)  # encoded FOV 600 mm over 128 samples


def test_noise_scans_give_covariance_and_whitened_unit_noise(files):
    kspace = read_ismrmrd(files["noise"])
    assert kspace.prewhitened
    np.testing.assert_allclose(np.diag(kspace.noise_covariance).real, 2 * NOISE_SD**2, rtol=0.3)
    _, csm = stored_reference(files["noise"])
    with h5py.File(files["noise"]) as handle:
        phantom = handle["dataset/phantom"][...]["real"][0]
    whitening = np.linalg.inv(np.linalg.cholesky(kspace.noise_covariance))
    truth = np.einsum("cd,dyx->cyx", whitening, phantom * csm[:, 0])
    residual = _coil_images(kspace) - truth
    assert np.sqrt(np.mean(np.abs(residual) ** 2)) == pytest.approx(1.0, rel=0.1)


def test_accelerated_lines_and_calibration_sorted_by_counters(files):
    kspace = read_ismrmrd(files["accel"])
    assert kspace.data.shape[0] == 2  # the two interleaves are repetitions 0 and 1
    lines = np.arange(64)
    for rep in (0, 1):
        np.testing.assert_array_equal(kspace.mask[rep, 0, 0, 0, 0, 0], lines % 2 == rep)
        np.testing.assert_array_equal(kspace.calibration_mask[rep, 0, 0, 0, 0, 0], (lines >= 24) & (lines < 40))
    assert kspace.header.acceleration_k2_k1 == (1, 2)
    # a "calibration and imaging" line (flag 21) is identical in both grids
    np.testing.assert_array_equal(kspace.data[0, ..., 32, :], kspace.calibration[0, ..., 32, :])


def test_bulk_read_equals_ismrmrd_package_loop(files):
    _, heads, samples = read_raw(files["accel"])
    dataset = ismrmrd.Dataset(str(files["accel"]), "dataset", create_if_needed=False)
    try:
        for i in (0, 1, 17, len(heads) - 1):
            acq = dataset.read_acquisition(i)
            ours = samples[i].view(np.complex64).reshape(heads["active_channels"][i], -1)
            np.testing.assert_array_equal(ours, acq.data)
            assert heads["idx"]["kspace_encode_step_1"][i] == acq.idx.kspace_encode_step_1
            assert heads["flags"][i] == acq.flags
    finally:
        dataset.close()


def _edit_xml(path, old, new):
    with h5py.File(path, "r+") as handle:
        xml = handle["dataset/xml"][0]
        xml = xml.decode() if isinstance(xml, bytes) else xml
        del handle["dataset/xml"]
        handle["dataset"].create_dataset("xml", data=[xml.replace(old, new)], dtype=h5py.string_dtype())


def test_siemens_data_are_conjugated(files, tmp_path):
    siemens = tmp_path / "siemens.h5"
    shutil.copy(files["full"], siemens)
    _edit_xml(siemens, "<institutionName>", "<systemVendor>SIEMENS</systemVendor><institutionName>")
    # compared before oversampling removal: conjugation flips the image, and the crop of an
    # even-sized readout is not symmetric about the centre
    plain = read_ismrmrd(files["full"], remove_oversampling=False)
    conj = read_ismrmrd(siemens, remove_oversampling=False)
    assert conj.header.is_siemens and not plain.header.is_siemens
    np.testing.assert_allclose(conj.data, np.conj(plain.data), atol=1e-6)


def test_siemens_user5_user6_counters_are_ignored(files, tmp_path):
    copy = tmp_path / "user.h5"
    shutil.copy(files["full"], copy)
    with h5py.File(copy, "r+") as handle:
        table = handle["dataset/data"]
        heads = table.fields("head")[...]
        heads["idx"]["user"][:, 5] = 32
        heads["idx"]["user"][:, 6] = 7
        rows = table[...]
        rows["head"] = heads
        table[...] = rows
    np.testing.assert_array_equal(read_ismrmrd(copy).data, read_ismrmrd(files["full"]).data)


def test_not_hdf5_file(tmp_path):
    bad = tmp_path / "notes.h5"
    bad.write_text("not an HDF5 file")
    with pytest.raises(HarmoniqError, match="not a readable HDF5 file"):
        read_ismrmrd(bad)


def test_truncated_file(files, tmp_path):
    cut = tmp_path / "cut.h5"
    data = files["full"].read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(HarmoniqError, match="not a readable HDF5 file"):
        read_ismrmrd(cut)


def test_missing_dataset_group(files):
    with pytest.raises(HarmoniqError, match="no group 'other'.*found: dataset"):
        read_ismrmrd(files["full"], "other")


def test_header_without_encoding(files, tmp_path):
    copy = tmp_path / "noenc.h5"
    shutil.copy(files["full"], copy)
    with h5py.File(copy, "r") as handle:
        xml = handle["dataset/xml"][0]
    xml = xml.decode() if isinstance(xml, bytes) else xml
    start, stop = xml.index("<encoding>"), xml.index("</encoding>") + len("</encoding>")
    _edit_xml(copy, xml[start:stop], "")
    with pytest.raises(HarmoniqError, match="no <encoding> section"):
        read_ismrmrd(copy)
