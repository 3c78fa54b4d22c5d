"""pypulseq's example sequences (small versions, :mod:`pypulseq_examples`) simulated and
reconstructed with ``--seq`` match a reference reconstruction written here from the .seq's own
trajectory: sigpy's adjoint NUFFT of the raw samples (read with the ismrmrd package) at the k
of ``Sequence.calculate_kspace``, root-sum-of-squares over coils."""

import sys
from pathlib import Path

import ismrmrd
import nibabel as nib
import numpy as np
import pytest
import sigpy
from click.testing import CliRunner

from harmoniq.cli import main
from harmoniq.io.seq_sorting import read_seq_readouts

sys.path.insert(0, str(Path(__file__).parent))
import pypulseq_examples  # noqa: E402

N = 32


def _reference(raw, seq_path, fov_m: float) -> np.ndarray:
    """(y, x) RSS of the adjoint NUFFT of the imaging samples; Siemens data are conjugated
    first (the vendor convention, as MRpro's reader does)."""
    with ismrmrd.Dataset(str(raw), "dataset") as dataset:
        vendor = ismrmrd.xsd.CreateFromDocument(dataset.read_xml_header()).acquisitionSystemInformation.systemVendor
        acquisitions = [dataset.read_acquisition(i) for i in range(dataset.number_of_acquisitions())]
    data = np.stack([a.data for a in acquisitions if not a.is_flag_set(ismrmrd.ACQ_IS_NOISE_MEASUREMENT)], axis=1)
    if vendor.lower().startswith("siemens"):
        data = np.conj(data)
    coord = np.stack([k[:, 1::-1] * fov_m for k in read_seq_readouts(seq_path).k_per_m]).astype(np.float32)
    # samples beyond the even grid's -N/2 .. N/2 - 1 (EPI's k = +N/2) are not part of it
    data = data * (np.abs(coord[..., 1] + 0.5) <= N / 2)
    return np.sqrt(np.sum(np.abs(sigpy.nufft_adjoint(data, coord, oshape=(data.shape[0], N, N))) ** 2, axis=0))


@pytest.mark.parametrize(("name", "fov_m", "voxel_mm"), [("gre", 0.256, (8.0, 8.0, 3.0)),
                                                         ("epi", 0.220, (6.875, 6.875))])
def test_example_reconstructs_like_its_trajectory(tmp_path, name, fov_m, voxel_mm):
    seq_path = getattr(pypulseq_examples, name)(tmp_path / f"{name}.seq", N)
    raw, image = tmp_path / f"{name}.h5", tmp_path / f"{name}.nii.gz"
    runner = CliRunner()
    result = runner.invoke(main, ["simulate", str(seq_path), "--phantom", "shepp-logan", "--scanner",
                                  "siemens-prisma-3t", "--matrix", str(N), "--no-noise", "-o", str(raw)])
    assert result.exit_code == 0, result.output
    result = runner.invoke(main, ["recon", str(raw), "--seq", str(seq_path), "--combination", "rss",
                                  "-o", str(image)])
    assert result.exit_code == 0, result.output
    nifti = nib.load(image)
    assert nifti.shape[:2] == (N, N)
    assert nifti.header.get_zooms()[: len(voxel_mm)] == pytest.approx(voxel_mm, rel=1e-3)
    recon = np.asarray(nifti.dataobj).T[0]  # (y, x)
    reference = _reference(raw, seq_path, fov_m)
    inside = reference > 0.1 * reference.max()
    error = np.linalg.norm((recon - reference)[inside]) / np.linalg.norm(reference[inside])
    assert error < 0.05  # measured 0.0011 (gre), 0.0029 (epi)
    # orientation: a flipped or transposed image would not match
    assert np.linalg.norm((recon[::-1] - reference)[inside]) / np.linalg.norm(reference[inside]) > 0.2
