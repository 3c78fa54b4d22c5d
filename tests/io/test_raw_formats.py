"""Raw data in other containers: an MRD v2 file written by mrd-python's phantom tool
reconstructs to that tool's own phantom, and an ISMRMRD v1 stream (written here with the
ismrmrd package's serializer from a file of the ISMRMRD reference generator) reconstructs
exactly like the HDF5 file it came from; anything else is refused in one line."""

import subprocess
import sys
from pathlib import Path

import ismrmrd
import nibabel as nib
import numpy as np
import pytest
from click.testing import CliRunner
from mrd.tools import simulation

from harmoniq.cli import main

sys.path.insert(0, str(Path(__file__).parent))

N, COILS = 32, 4


def _recon(raw, out) -> np.ndarray:
    result = CliRunner().invoke(main, ["recon", str(raw), "--combination", "rss", "-o", str(out)])
    assert result.exit_code == 0, result.output
    return np.asarray(nib.load(out).dataobj)[..., 0].T  # (y, x)


def test_mrd_v2_phantom_reconstructs_to_its_phantom(tmp_path):
    raw = tmp_path / "phantom.mrd"
    subprocess.run([sys.executable, "-m", "mrd.tools.phantom", "-m", str(N), "-c", str(COILS), "-n", "0.01",
                    "-o", str(raw)], check=True)
    recon = _recon(raw, tmp_path / "phantom.nii.gz")
    # what the tool puts in: the Shepp-Logan phantom times birdcage coil maps (mrd/tools/phantom.py)
    coil_images = simulation.generate_shepp_logan_phantom(N) * simulation.generate_birdcage_sensitivities(N, COILS, 1.5)
    truth = np.sqrt(np.sum(np.abs(coil_images) ** 2, axis=0))[0]
    inside = truth > 0.1 * truth.max()
    scale = np.vdot(recon[inside], truth[inside]).real / np.vdot(recon[inside], recon[inside]).real  # FFT norms differ
    error = np.linalg.norm((scale * recon - truth)[inside]) / np.linalg.norm(truth[inside])
    assert error < 0.05  # measured 0.018 (noise 0.01)
    assert np.linalg.norm((scale * recon[::-1] - truth)[inside]) / np.linalg.norm(truth[inside]) > 0.2


def test_ismrmrd_stream_reconstructs_like_its_hdf5_file(tmp_path):
    h5, stream = tmp_path / "generated.h5", tmp_path / "generated.stream"
    subprocess.run(["ismrmrd_generate_cartesian_shepp_logan", "-m", str(N), "-c", str(COILS), "-C", "-o", str(h5)],
                   check=True, capture_output=True)
    with ismrmrd.Dataset(str(h5), "dataset", create_if_needed=False) as dataset:
        header = ismrmrd.xsd.CreateFromDocument(dataset.read_xml_header())
        acquisitions = [dataset.read_acquisition(i) for i in range(dataset.number_of_acquisitions())]
    with ismrmrd.serialization.ProtocolSerializer(str(stream)) as serializer:
        serializer.serialize(header)
        for acquisition in acquisitions:
            serializer.serialize(acquisition)
    from_stream = _recon(stream, tmp_path / "stream.nii.gz")
    from_h5 = _recon(h5, tmp_path / "h5.nii.gz")
    assert from_stream.shape == (N, N)
    np.testing.assert_array_equal(from_stream, from_h5)


@pytest.mark.parametrize(("name", "content", "message"), [
    ("notes.txt", b"not raw data\n", "not a raw data format"),
    ("cut.mrd", b"yardl\x01\x00\x00\x00\xd8\xa6\x01{\"protocol", "not a readable MRD v2 file"),
    ("cut.stream", b"\x03\x00\x10\x00\x00\x00garbage", "not a readable ISMRMRD stream"),
    ("cut.dat", b"xxxxxxxxxxxx", "not a readable Siemens twix file")])
def test_unknown_or_damaged_format_is_one_line(tmp_path, name, content, message):
    raw = tmp_path / name
    raw.write_bytes(content)
    result = CliRunner().invoke(main, ["recon", str(raw), "-o", str(tmp_path / "x.nii.gz")])
    assert result.exit_code != 0
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and "MRD v2" in lines[0], result.output


def _twix_protocol(dwell_ns: int, larmor_hz: int) -> np.ndarray:
    """A measurement header as twix files hold it (what ``twixtools.twixprot.parse_twix_hdr``
    reads): uint32 header length, uint32 buffer count, then per buffer its name, a NUL, uint32
    length and text; one ``MeasYaps`` buffer in ASCCONV form."""
    text = "\n".join(["### ASCCONV BEGIN ###", f"sRXSPEC.alDwellTime[0] = {dwell_ns}",
                      f"sTXSPEC.asNucleusInfo[0].lFrequency = {larmor_hz}",
                      "sSliceArray.asSlice[0].dThickness = 3", "sSliceArray.asSlice[0].dPhaseFOV = 256",
                      "sSliceArray.asSlice[0].dReadoutFOV = 256", f"sKSpace.lBaseResolution = {N}",
                      f"sKSpace.lPhaseEncodingLines = {N}", "alTR[0] = 12000", "alTE[0] = 5000",
                      "adFlipAngleDegree[0] = 10", "### ASCCONV END ###", ""]).encode("latin1")
    buffer = b"MeasYaps\x00" + len(text).to_bytes(4, "little") + text
    return np.frombuffer((8 + len(buffer)).to_bytes(4, "little") + (1).to_bytes(4, "little") + buffer, dtype="S1")


def test_twix_of_pulseq_data_reconstructs_like_the_data_put_in_it(tmp_path):
    """Simulated gre readouts written with twixtools' writer (VE, no counters, as a Pulseq
    sequence leaves them) reconstruct with --seq exactly like the ISMRMRD file they came from."""
    import twixtools
    from twixtools.mdb import Mdb_local

    import pypulseq_examples

    seq = pypulseq_examples.gre(tmp_path / "gre.seq", N)
    h5 = tmp_path / "gre.h5"
    result = CliRunner().invoke(main, ["simulate", str(seq), "--phantom", "shepp-logan", "--scanner",
                                       "siemens-prisma-3t", "--matrix", str(N), "-o", str(h5)])
    assert result.exit_code == 0, result.output
    with ismrmrd.Dataset(str(h5), "dataset", create_if_needed=False) as dataset:
        header = ismrmrd.xsd.CreateFromDocument(dataset.read_xml_header())
        acquisitions = [dataset.read_acquisition(i) for i in range(dataset.number_of_acquisitions())]
    mdbs = []
    for acquisition in acquisitions:
        mdb = Mdb_local(acquisition.data)
        if acquisition.is_flag_set(ismrmrd.ACQ_IS_NOISE_MEASUREMENT):
            mdb.add_flag("NOISEADJSCAN")
        mdbs.append(mdb)
    dwell_ns = int(round(acquisitions[-1].sample_time_us * 1e3))
    larmor = header.experimentalConditions.H1resonanceFrequency_Hz
    twix = tmp_path / "gre.dat"
    twixtools.write_twix({"hdr_str": _twix_protocol(dwell_ns, larmor), "mdb": mdbs}, str(twix))
    from_twix = _recon_seq(twix, seq, tmp_path / "twix.nii.gz")
    from_h5 = _recon_seq(h5, seq, tmp_path / "h5.nii.gz")
    np.testing.assert_allclose(from_twix, from_h5, rtol=1e-5, atol=1e-5 * from_h5.max())


def _recon_seq(raw, seq, out) -> np.ndarray:
    result = CliRunner().invoke(main, ["recon", str(raw), "--seq", str(seq), "--combination", "rss", "-o", str(out)])
    assert result.exit_code == 0, result.output
    return np.asarray(nib.load(out).dataobj)[..., 0].T


def test_simulator_writes_mrd_v2_that_mrd_python_reads_and_that_reconstructs_like_hdf5(tmp_path):
    import mrd

    import pypulseq_examples

    seq = pypulseq_examples.gre(tmp_path / "gre.seq", N)
    outputs = {}
    for container, name in (("ismrmrd", "gre.h5"), ("mrd2", "gre.mrd")):
        outputs[container] = tmp_path / name
        result = CliRunner().invoke(main, ["simulate", str(seq), "--phantom", "shepp-logan", "--scanner",
                                           "siemens-prisma-3t", "--matrix", str(N), "--format", container,
                                           "-o", str(outputs[container])])
        assert result.exit_code == 0, result.output
    with mrd.BinaryMrdReader(str(outputs["mrd2"])) as reader:  # the format's own reader
        header = reader.read_header()
        items = [item.value for item in reader.read_data()]
    with ismrmrd.Dataset(str(outputs["ismrmrd"]), "dataset", create_if_needed=False) as dataset:
        first = dataset.read_acquisition(dataset.number_of_acquisitions() - 1)
        count = dataset.number_of_acquisitions()
    assert len(items) == count and header.encoding[0].encoded_space.matrix_size.y == N
    np.testing.assert_array_equal(items[-1].data, first.data)
    np.testing.assert_array_equal(_recon_seq(outputs["mrd2"], seq, tmp_path / "mrd.nii.gz"),
                                  _recon_seq(outputs["ismrmrd"], seq, tmp_path / "h5.nii.gz"))


def test_scanner_twix_file_reads_like_twixtools_and_reconstructs_like_its_fft(tmp_path):
    """A twix file from a Siemens scanner (twixtools' example gradient echo, tests/io/data): the
    sorted k-space is twixtools' own (``map_twix``), conjugated to our convention, and the
    image is the centred 2D FFT of twixtools' oversampling-free k-space (root sum of squares),
    flipped in-plane by the conjugation (x -> -x on the even grid: reversed and shifted one pixel)."""
    import twixtools

    from harmoniq.io.reader import read_ismrmrd

    raw = Path(__file__).parent / "data" / "twixtools_gre.dat"
    image = twixtools.map_twix(str(raw), verbose=False)[-1]["image"]
    image.flags["remove_os"] = False
    theirs = np.moveaxis(np.squeeze(image[:]), 1, 0)  # (coil, line, sample)
    ours = read_ismrmrd(raw, prewhiten_noise=False, remove_oversampling=False)
    np.testing.assert_array_equal(ours.data[0, 0, 0, 0, 0, :, 0], np.conj(theirs))
    image.flags["remove_os"] = True
    spectra = np.squeeze(image[:])  # (line, coil, sample)
    coil_images = np.fft.fftshift(np.fft.ifft2(np.fft.ifftshift(spectra, axes=(0, 2)), axes=(0, 2)), axes=(0, 2))
    reference = np.sqrt(np.sum(np.abs(coil_images) ** 2, axis=1))  # (line, sample)
    out = tmp_path / "gre.nii.gz"
    result = CliRunner().invoke(main, ["recon", str(raw), "--no-prewhiten", "--combination", "rss", "-o", str(out)])
    assert result.exit_code == 0, result.output
    recon = np.roll(np.abs(np.asarray(nib.load(out).dataobj)[..., 0])[::-1, ::-1], 1, axis=(0, 1)).T
    scale = np.vdot(recon, reference).real / np.vdot(recon, recon).real
    assert np.linalg.norm(scale * recon - reference) / np.linalg.norm(reference) < 0.01  # measured 0.0056
