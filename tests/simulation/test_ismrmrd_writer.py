"""Simulated raw data written as ISMRMRD: readable by the python package and the reference tools."""

import hashlib
import shutil
import subprocess

import h5py
import ismrmrd
import numpy as np
import pytest
from sim_sequences import example_gre, radial_gre

from harmoniq.io.ismrmrd_writer import write_ismrmrd
from harmoniq.simulation import simulate


@pytest.fixture(scope="module")
def raw():
    return simulate(example_gre(labels=True), "shepp-logan", "philips-ingenia-elition-3t", matrix=32, seed=7)


@pytest.fixture(scope="module")
def written(raw, tmp_path_factory):
    path = tmp_path_factory.mktemp("raw") / "gre.h5"
    write_ismrmrd(path, raw)
    return path


def _header(path):
    with ismrmrd.Dataset(str(path), "dataset", create_if_needed=False) as file:
        xml = file.read_xml_header()
        acquisitions = [file.read_acquisition(i) for i in range(file.number_of_acquisitions())]
    return ismrmrd.xsd.CreateFromDocument(xml), xml, acquisitions


def test_header_describes_scanner_sequence_and_encoding(written, raw):
    header, _, acquisitions = _header(written)
    system = header.acquisitionSystemInformation
    # the vendor exactly as the vendor writes it (readers such as mrpro key their conventions on it);
    # that the scanner is simulated is said by the institution
    assert (system.systemVendor, system.systemModel) == ("Philips", "Ingenia Elition")
    assert system.institutionName == "harmoniq simulation"
    assert system.systemFieldStrength_T == 3.0
    assert system.receiverChannels == raw.scanner.coils.channels == acquisitions[-1].active_channels
    assert header.experimentalConditions.H1resonanceFrequency_Hz == pytest.approx(42.576e6 * 3.0, abs=1)
    params = header.sequenceParameters
    assert params.TR == [12.0] and params.TE == [5.0] and params.flipAngle_deg == [10.0]
    encoding = header.encoding[0]
    assert encoding.trajectory.value == "cartesian"
    assert (encoding.encodedSpace.matrixSize.x, encoding.encodedSpace.matrixSize.y) == (32, 32)
    assert encoding.encodedSpace.fieldOfView_mm.x == pytest.approx(256.0)
    limit = encoding.encodingLimits.kspace_encoding_step_1
    assert (limit.minimum, limit.maximum, limit.center) == (0, 31, 16)
    names = {p.name for p in header.userParameters.userParameterString}
    assert {"SimulatedScanner", "SimulatedPhantom", "SimulationSeed"} <= names


def test_noise_scans_first_then_labelled_lines(written, raw):
    _, _, acquisitions = _header(written)
    noise = [a for a in acquisitions if a.is_flag_set(ismrmrd.ACQ_IS_NOISE_MEASUREMENT)]
    assert len(noise) == len(raw.noise_scans) and acquisitions[: len(noise)] == noise
    lines = acquisitions[len(noise):]
    assert [a.idx.kspace_encode_step_1 for a in lines] == list(range(32))
    assert all(a.sample_time_us == pytest.approx(100.0) for a in lines)
    assert lines[-1].is_flag_set(ismrmrd.ACQ_LAST_IN_MEASUREMENT)
    assert lines[0].center_sample == 16
    np.testing.assert_allclose(lines[5].data, raw.signals[5], rtol=1e-6)


def test_noise_covariance_matches_the_model(written, raw):
    _, _, acquisitions = _header(written)
    noise = np.concatenate([a.data for a in acquisitions if a.is_flag_set(ismrmrd.ACQ_IS_NOISE_MEASUREMENT)], axis=1)
    measured = noise @ noise.conj().T / noise.shape[1]
    model = raw.noise_covariance
    assert np.linalg.norm(measured - model) / np.linalg.norm(model) < 0.05
    np.testing.assert_allclose(np.diag(measured).real, np.diag(model), rtol=0.1)


def test_same_seed_gives_identical_files(tmp_path):
    seq = example_gre(n=16)
    paths = []
    for name in ("a.h5", "b.h5"):
        path = tmp_path / name
        write_ismrmrd(path, simulate(seq, "shepp-logan", "siemens-sola-1.5t", matrix=16, seed=3))
        paths.append(path)
    digests = [hashlib.sha256(p.read_bytes()).hexdigest() for p in paths]
    assert digests[0] == digests[1]
    other = tmp_path / "c.h5"
    write_ismrmrd(other, simulate(seq, "shepp-logan", "siemens-sola-1.5t", matrix=16, seed=4))
    with h5py.File(paths[0]) as a, h5py.File(other) as b:
        assert not np.array_equal(a["dataset/data"][-1]["data"], b["dataset/data"][-1]["data"])


def test_non_cartesian_file_carries_its_trajectory(tmp_path):
    raw = simulate(radial_gre(n=32, spokes=12), "shepp-logan", "ge-signa-artist-1.5t", matrix=32, seed=1)
    path = tmp_path / "radial.h5"
    write_ismrmrd(path, raw)
    header, _, acquisitions = _header(path)
    assert header.encoding[0].trajectory.value == "radial"
    spoke = acquisitions[len(raw.noise_scans) + 3]
    assert spoke.trajectory_dimensions == 3
    radius = np.hypot(spoke.traj[:, 0], spoke.traj[:, 1])
    assert radius.max() == pytest.approx(16.0, rel=0.05)  # k in units of 1/FOV reaches matrix/2
    angle = np.arctan2(spoke.traj[-1, 1], spoke.traj[-1, 0])
    assert angle == pytest.approx(np.pi * 3 / 12, abs=1e-3)


def test_reference_tools_read_the_file(written, tmp_path):
    _, xml, _ = _header(written)
    header_file = tmp_path / "header.xml"
    header_file.write_text(xml if isinstance(xml, str) else xml.decode())
    copy = tmp_path / "copy.h5"
    shutil.copy(written, copy)
    for command in (["ismrmrd_info"], ["ismrmrd_test_xml", str(header_file)], ["ismrmrd_read_timing_test", str(copy)],
                    ["ismrmrd_recon_cartesian_2d", str(copy)]):
        # the tools write raw.xml / processed.xml into their working folder
        result = subprocess.run(command, capture_output=True, text=True, timeout=60, cwd=tmp_path)
        assert result.returncode == 0, (command, result.stdout, result.stderr)
    result = subprocess.run(["ismrmrd_recon_cartesian_2d", str(copy)], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert "Number of acquisitions      : 48" in result.stdout
