"""harmoniq reconstructs raw data that MRzero simulated and wrote with its own ISMRMRD writer.

Each of pypulseq's twelve example sequences (small versions, ``tests/io/pypulseq_examples.py``) is
simulated with MRzero on an asymmetric disc phantom (a ball for the 3D mprage; one coil), written
with ``MRzeroCore``'s ``sig_to_mrd`` and reconstructed with ``harmoniq recon FILE.h5 --seq F.seq``.
The reference is an independent reconstruction of the same signal: pypulseq's ``calculate_kspace``
trajectory and sigpy's adjoint NUFFT (the analytic area of each sample on its spoke for radial
readouts, the sample spacing of ramp-sampled lines, none for Cartesian lines), compared in the
object and against every flip (and the 2D transpose), image by image for the two multi-slice
examples. ``sig_to_mrd`` reads the field of view and matrix from the .seq file's FOV and RES
definitions (1 m and no matrix without them), so they are added where the example sequence lacks
them. MRzero labels every trajectory "other", so harmoniq reconstructs all of them along their
trajectory, on the header's matrix.

UTE: MRzero (MRzeroCore 1.2.0, ``Sequence._import_pulseq_rs``) plays every RF pulse as an
instantaneous rotation at the middle of its shape (``rep_start = 0.5 * (ps + pe)``), not at the
.seq's RF centre. The UTE half pulses have their centre at the end (``center_pos=1``), so the
slice-select moment of the second half of the flat top, time-bandwidth / (2 thickness) = 2 / 6 mm
= 333 cycles/m, stays unrefocused at the readout; MRzero's default voxel ("sinc": a smooth k-space
cut-off at 1 / (2 voxel size), ``VoxelGridPhantom.build``) then cancels all signal of a 3 mm thick
voxel. The UTE phantom is therefore 0.03 mm thick (cut-off 16,700 cycles/m); the in-plane
encoding, which this test checks, is unaffected.
An earlier reference weighed the samples by a Pipe-Menon iteration through sigpy's NUFFT onto a
twice larger image: on the twice oversampled centre-out UTE spokes its image was 22 % (NRMSE) from
the phantom, against 6 % for harmoniq's image and for the analytic ring areas used now.

Run in the peer environment: ``PYTHONPATH=. /tmp/bench/bin/python -m pytest -q benchmarks/peers/test_mrzero_raw.py``.
"""

import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

import MRzeroCore as mr0  # the peer environment (benchmarks/peers.sh); an ImportError means the wrong one
import pypulseq as pp
import sigpy
import torch
from MRzeroCore.simulation.sig_to_mrd import sig_to_mrd

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests" / "io"))
import pypulseq_examples as examples  # noqa: E402
from test_pypulseq_examples import radial_weights, ramp_weights  # noqa: E402

N = 32
FOV_M = {"gre": 256e-3, "epi": 220e-3, "tse": 256e-3, "radial_gre": 260e-3, "gre_label": 224e-3,
         "haste": 256e-3, "epi_se": 256e-3, "epi_se_rs": 250e-3, "ute": 250e-3, "epi_label": 220e-3,
         "t1_mprage_2d": 220e-3}
GEOMETRY = {"mprage": ((0.192, 0.240, 0.256), (12, 16, 16))}
"""(x, y, z) field of view (m) and matrix of the 3D example (its generator's defaults); the others
are 2D, FOV_M x FOV_M x 3 mm on N x N."""
OPTIONS = {"mprage": {}, "t1_mprage_2d": {"n": N, "n_slices": 2}}
IMAGES = {"epi_label": (range(3, 3 + N), range(6 + N, 6 + 2 * N)), "t1_mprage_2d": (range(N), range(N, 2 * N))}
"""ADC events of each image where there are several: epi_label's two slices after three navigator
readouts each, t1_mprage_2d's two slices."""
THICKNESS_M = {"ute": 3e-5}
WEIGHTS = {"radial_gre": radial_weights, "ute": radial_weights,
           "epi_se_rs": lambda k: ramp_weights(k[..., ::-1])}  # ramp_weights takes (y, x) coordinates
"""Density weights of the reference (tests/io/test_pypulseq_examples.py): the analytic area of each
sample on its radial spoke, the sample spacing of ramp-sampled lines; none for Cartesian lines."""
NAMES = ["gre", "epi", "tse", "radial_gre", "gre_label", "haste", "epi_se", "epi_se_rs", "ute", "epi_label",
         "mprage", "t1_mprage_2d"]


def _geometry(name: str) -> tuple[np.ndarray, tuple]:
    """((x, y, z) field of view in m, (x, y, z) matrix) of the example ``name``."""
    if name in GEOMETRY:
        fov, matrix = GEOMETRY[name]
        return np.array(fov), matrix
    return np.array([FOV_M[name], FOV_M[name], THICKNESS_M.get(name, 3e-3)]), (N, N, 1)


def _phantom(matrix) -> np.ndarray:
    """(x, y, z) proton density: an ellipse (ellipsoid in 3D) of radius 0.35 FOV with a bright block
    off-centre at +x, +y (and -z in 3D), which breaks every mirror."""
    axes = [(np.arange(n) - n / 2) / n if n > 1 else np.zeros(1) for n in matrix]
    xx, yy, zz = np.meshgrid(*axes, indexing="ij")
    pd = (xx**2 + yy**2 + zz**2 < 0.35**2).astype(np.float32)
    block = (xx > 0.1) & (xx < 0.25) & (yy > 0.05) & (yy < 0.2)
    if matrix[2] > 1:
        block &= (zz > -0.25) & (zz < -0.05)
    pd[block] = 2.0
    return pd


def _simulate(seq_path: Path, pd: np.ndarray, fov: np.ndarray) -> torch.Tensor:
    """MRzero's signal (samples, coil) of the .seq on the phantom ``pd`` (x, y, z) filling ``fov``."""
    shape = pd.shape
    affine = torch.zeros(3, 4)
    affine[:3, :3] = torch.diag(torch.as_tensor(1e3 * fov / np.array(shape), dtype=torch.float32))
    ones = torch.ones(shape)
    phantom = mr0.VoxelGridPhantom(
        PD=torch.from_numpy(pd), T1=ones, T2=0.1 * ones, T2dash=0.05 * ones, D=torch.zeros(shape),
        B0=torch.zeros(shape), B1=ones[None], coil_sens=ones[None].to(torch.complex64), affine=affine)
    data = phantom.build()
    seq = mr0.Sequence.import_file(str(seq_path))
    graph = mr0.compute_graph(seq, data, 200, 1e-3)
    return mr0.execute_graph(graph, seq, data, min_emitted_signal=1e-2, min_latent_signal=1e-2,
                             print_progress=False)


def _references(seq: "pp.Sequence", signal: np.ndarray, fov: np.ndarray, matrix, groups, weights) -> list:
    """|adjoint NUFFT| (x, y[, z]) of each group of ADC events, at pypulseq's trajectory."""
    ndim = 3 if matrix[2] > 1 else 2
    kadc = seq.calculate_kspace()[0]  # (3, samples), 1/m
    counts = [int(seq.adc_library.data[events[5]][0]) for events in seq.block_events.values() if events[5]]
    coord = np.split((kadc[:ndim] * fov[:ndim, None]).T.astype(np.float32), np.cumsum(counts)[:-1])
    samples = np.split(signal[:, 0], np.cumsum(counts)[:-1])
    images = []
    for group in groups:
        k, values = np.stack([coord[i] for i in group]), np.stack([samples[i] for i in group])
        density = 1.0 if weights is None else weights(k)
        images.append(np.abs(sigpy.nufft_adjoint(values * density, k, oshape=tuple(matrix[:ndim]))))
    return images


def _nrmse(a, b, mask):
    a, b = a[mask], b[mask]
    a, b = a / np.linalg.norm(a), b / np.linalg.norm(b)
    return float(np.linalg.norm(a - b))


def _mirrors(image: np.ndarray) -> dict:
    """Every flip of the image's axes and, in 2D, its transpose."""
    flips = {"xyz"[axis]: np.flip(image, axis) for axis in range(image.ndim)}
    flips["all"] = np.flip(image)
    if image.ndim == 2:
        flips["transpose"] = image.T
    return flips


@pytest.mark.parametrize("name", NAMES)
def test_harmoniq_reconstructs_mrzero_raw(name, work, run_cli):
    folder = work / name
    folder.mkdir()
    seq_path = folder / f"{name}.seq"
    getattr(examples, name)(seq_path, **OPTIONS.get(name, {"n": N}))
    fov, matrix = _geometry(name)
    seq = pp.Sequence()
    seq.read(str(seq_path))
    # sig_to_mrd takes the header's field of view and matrix from the FOV and RES definitions
    # (1 m x 1 m x 1 m and no matrix without them)
    if "FOV" not in seq.definitions:
        seq.set_definition("FOV", list(fov))
    if "RES" not in seq.definitions:
        seq.set_definition("RES", list(matrix))
    seq.write(str(seq_path))
    pd = _phantom(matrix)
    signal = _simulate(seq_path, pd, fov)
    sig_to_mrd(str(folder / "raw.h5"), signal, seq)
    groups = IMAGES.get(name, (range(sum(1 for events in seq.block_events.values() if events[5])),))
    references = _references(seq, signal.detach().cpu().numpy(), fov, matrix, groups, WEIGHTS.get(name))
    truth = pd if matrix[2] > 1 else pd[..., 0]
    mask = truth > 0
    for reference in references:
        assert _nrmse(reference, truth, mask) < _nrmse(reference, np.flip(truth), mask), "reference is mirrored"

    run_cli("recon", "raw.h5", "--seq", seq_path.name, "-o", "img.nii.gz", cwd=folder)
    ours = np.abs(nib.load(folder / "img.nii.gz").get_fdata()).squeeze()
    images = [ours[..., i] for i in range(len(references))] if len(references) > 1 else [ours]
    for i, (image, reference) in enumerate(zip(images, references)):
        assert image.shape == reference.shape, f"{name}: image {ours.shape}, reference {reference.shape}"
        error = _nrmse(image, reference, mask)
        mirrors = {m: _nrmse(flipped, reference, mask) for m, flipped in _mirrors(image).items()}
        print(f"{name} image {i}: NRMSE {error:.4f} in the object; flipped {mirrors}")
        assert error <= 0.05, f"{name}: NRMSE {error:.3f} > 5 % (flipped: {mirrors})"
        assert all(error < value for value in mirrors.values()), f"{name}: orientation {mirrors}"
