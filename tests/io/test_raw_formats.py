"""Raw data in other containers: an MRD v2 file written by mrd-python's phantom tool
reconstructs to that tool's own phantom, and an ISMRMRD v1 stream (written here with the
ismrmrd package's serializer from a file of the ISMRMRD reference generator) reconstructs
exactly like the HDF5 file it came from; anything else is refused in one line."""

import subprocess
import sys

import ismrmrd
import nibabel as nib
import numpy as np
from click.testing import CliRunner
from mrd.tools import simulation

from harmoniq.cli import main

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


def test_unknown_format_is_one_line(tmp_path):
    raw = tmp_path / "notes.txt"
    raw.write_text("not raw data\n")
    result = CliRunner().invoke(main, ["recon", str(raw), "-o", str(tmp_path / "x.nii.gz")])
    assert result.exit_code != 0
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "not a raw data format" in lines[0] and "MRD v2" in lines[0]
