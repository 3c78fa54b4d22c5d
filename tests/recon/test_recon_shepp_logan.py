"""End to end on raw data from the ISMRMRD reference generator, against the phantom it stores
and against BART's ecalib + pics on the same data."""

import json
import os
import subprocess

import nibabel as nib
import numpy as np
import pytest
from click.testing import CliRunner

from harmoniq.protocols import ReconOptions
from harmoniq.backend import gpu_available

from harmoniq.io.reader import read_ismrmrd
from harmoniq.io.reference_tools import (generate_shepp_logan, nrmse, read_cfl,
                                         stored_reference, write_cfl)
from harmoniq.recon.reconstruct import reconstruct

MATRIX = 128


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("shepp")
    common = dict(matrix=MATRIX, coils=8, noise_scans=True)
    return {
        "full": generate_shepp_logan(root / "full.h5", **common),
        "r2": generate_shepp_logan(root / "r2.h5", acceleration=2, calibration_width=24, **common),
        "r3": generate_shepp_logan(root / "r3.h5", acceleration=3, calibration_width=24, **common),
        "interleaved": generate_shepp_logan(root / "il.h5", acceleration=2, **common),
    }


def _bart_nrmse(path, tmp_path):
    """NRMSE of BART ecalib + pics (l2, lambda 0.01) on our sorted, whitened k-space."""
    kspace = read_ismrmrd(path)
    frame = (0, 0, 0, 0, 0)
    k = kspace.data[frame] * kspace.mask[frame][None, :, :, None]
    cal = kspace.calibration_mask[frame][None, :, :, None]
    write_cfl(tmp_path / "k", np.where(cal, kspace.calibration[frame], k))
    env = dict(os.environ, OMP_NUM_THREADS="2")
    subprocess.run(["bart", "ecalib", "-m1", tmp_path / "k", tmp_path / "s"], check=True, capture_output=True, env=env)
    subprocess.run(["bart", "pics", "-S", "-l2", "-r", "0.01", tmp_path / "k", tmp_path / "s", tmp_path / "x"],
                   check=True, capture_output=True, env=env)
    reference, _ = stored_reference(path)
    return nrmse(read_cfl(tmp_path / "x").reshape(MATRIX, MATRIX), reference[0])


def test_fully_sampled_fft_matches_phantom_to_noise_level(files):
    kspace = read_ismrmrd(files["full"])
    reference, _ = stored_reference(files["full"])
    # error of an image that keeps the background noise: complex sd sqrt(2) * 0.05 per voxel
    noise_floor = np.sqrt(2) * 0.05 * np.sqrt(reference.size) / np.linalg.norm(reference)
    series = reconstruct(kspace)
    assert series.recon["method"] == "fft" and series.recon["coil_combination"] == "espirit"
    assert series.data.shape == (1, 1, 1, 1, 1, MATRIX, MATRIX)
    assert nrmse(series.data[0, 0, 0, 0], reference) < 0.75 * noise_floor  # ESPIRiT support drops background
    adaptive = reconstruct(kspace, ReconOptions(combination="adaptive")).data[0, 0, 0, 0]
    assert nrmse(adaptive, reference) < 1.25 * noise_floor


@pytest.mark.parametrize("name, limit", [("r2", 0.19), ("r3", 0.33)])
def test_accelerated_auto_sense_and_grappa_match_phantom(files, name, limit):
    kspace = read_ismrmrd(files[name])
    reference, _ = stored_reference(files[name])
    auto = reconstruct(kspace)
    assert auto.recon["method"] == "sense" and auto.recon["chosen_by_auto"]
    for series in (auto, reconstruct(kspace, ReconOptions("grappa", combination="espirit"))):
        errors = [nrmse(series.data[rep, 0, 0, 0], reference) for rep in range(kspace.data.shape[0])]
        assert max(errors) < limit, (series.recon["method"], errors)


def test_acceleration_spread_over_repetitions_calibrates_from_their_union(files):
    kspace = read_ismrmrd(files["interleaved"])  # R = 2, no calibration lines, shifted per repetition
    assert kspace.calibration is None and kspace.data.shape[0] == 2
    series = reconstruct(kspace)
    reference, _ = stored_reference(files["interleaved"])
    assert series.recon["method"] == "sense"
    assert max(nrmse(series.data[rep, 0, 0, 0], reference) for rep in range(2)) < 0.19


@pytest.mark.slow
@pytest.mark.parametrize("name", ["r2", "r3"])
def test_sense_at_least_as_good_as_bart(files, name, tmp_path):
    ours = nrmse(reconstruct(read_ismrmrd(files[name]), ReconOptions("sense")).data[0, 0, 0, 0], stored_reference(files[name])[0])
    assert ours <= _bart_nrmse(files[name], tmp_path) * 1.01


def test_cli_writes_image_and_sidecar(files, tmp_path):
    from harmoniq.cli import main

    out = tmp_path / "img.nii.gz"
    result = CliRunner().invoke(main, ["recon", str(files["r2"]), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert nib.load(out).shape == (MATRIX, MATRIX, 1, 2)  # the two interleaved repetitions
    meta = json.loads((tmp_path / "img.json").read_text())
    assert meta["HarmoniqProvenance"]["recon"]["method"] == "sense"
    assert meta["MagneticFieldStrength"] == 1.5  # nominal (BIDS); the header gives 63.5 MHz / gamma = 1.4914 T


def test_cli_bad_input_one_line_error_and_no_output(tmp_path):
    from harmoniq.cli import main

    bad = tmp_path / "bad.h5"
    bad.write_bytes(b"\x89HDF\r\n\x1a\n truncated")
    result = CliRunner().invoke(main, ["recon", str(bad), "-o", str(tmp_path / "x.nii.gz")])
    assert result.exit_code == 2 and "not a readable HDF5 file" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.h5"]


def test_fft_on_undersampled_data_is_refused(files):
    with pytest.raises(Exception, match="would alias"):
        reconstruct(read_ismrmrd(files["r2"]), ReconOptions("fft"))


@pytest.mark.gpu
@pytest.mark.skipif(not gpu_available(), reason="needs CuPy and a CUDA device")
@pytest.mark.parametrize("method", ["sense", "grappa", "fft"])
def test_gpu_matches_cpu(files, method):
    kspace = read_ismrmrd(files["full" if method == "fft" else "r2"])
    cpu = reconstruct(kspace, ReconOptions(method)).data
    gpu = reconstruct(kspace, ReconOptions(method), device="gpu").data
    assert np.linalg.norm(gpu - cpu) / np.linalg.norm(cpu) < 1e-3
