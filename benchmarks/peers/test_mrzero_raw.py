"""harmoniq reconstructs raw data that MRzero simulated and wrote with its own ISMRMRD writer.

Each of pypulseq's example sequences (small versions, ``tests/io/pypulseq_examples.py``) is simulated
with MRzero on an asymmetric disc phantom (one coil), written with ``MRzeroCore``'s ``sig_to_mrd`` and
reconstructed with ``harmoniq recon FILE.h5 --seq F.seq``. The reference is an independent
reconstruction of the same signal: pypulseq's ``calculate_kspace`` trajectory and sigpy's adjoint
NUFFT (the analytic area of each sample on its spoke for radial readouts, none for Cartesian lines),
compared in the object and against every flip and the transpose. ``sig_to_mrd`` reads the field of
view and matrix from the .seq file's FOV and RES definitions (1 m and no matrix without them), so
they are added where the example sequence lacks them.

UTE: MRzero (MRzeroCore 1.2.0, ``Sequence._import_pulseq_rs``) plays every RF pulse as an
instantaneous rotation at the middle of its shape (``rep_start = 0.5 * (ps + pe)``), not at the
.seq's RF centre. The UTE half pulses have their centre at the end (``center_pos=1``), so the
slice-select moment of the second half of the flat top, time-bandwidth / (2 thickness) = 2 / 6 mm
= 333 cycles/m, stays unrefocused at the readout; MRzero's default voxel ("sinc": a smooth k-space
cut-off at 1 / (2 voxel size), ``VoxelGridPhantom.build``) then cancels all signal of a 3 mm thick
voxel. The UTE phantom is therefore 0.03 mm thick (cut-off 16,700 cycles/m); the in-plane
encoding, which this test checks, is unaffected.
Pipe-Menon density weights from sigpy's exact G G^H (an earlier reference) are off by 22 % for the
twice oversampled centre-out spokes of UTE; the analytic ring areas are not.

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
from test_pypulseq_examples import radial_weights  # noqa: E402

N = 32
FOV_M = {"gre": 256e-3, "epi": 220e-3, "tse": 256e-3, "radial_gre": 260e-3, "gre_label": 224e-3,
         "haste": 256e-3, "epi_se": 256e-3, "epi_se_rs": 250e-3, "ute": 250e-3}


def _phantom(n: int) -> np.ndarray:
    """A disc of radius 0.35 FOV with a bright square off-centre at +x, +y (breaks every mirror)."""
    x = np.arange(n) - n / 2
    xx, yy = np.meshgrid(x, x, indexing="ij")
    pd = (xx**2 + yy**2 < (0.35 * n) ** 2).astype(np.float32)
    pd[(xx > 0.1 * n) & (xx < 0.25 * n) & (yy > 0.05 * n) & (yy < 0.2 * n)] = 2.0
    return pd

THICKNESS_M = {"ute": 3e-5}


def _simulate(seq_path: Path, pd: np.ndarray, fov: float, thickness: float = 3e-3) -> torch.Tensor:
    n = pd.shape[0]
    shape = (n, n, 1)
    voxel_mm = 1e3 * np.array([fov / n, fov / n, thickness])
    affine = torch.zeros(3, 4)
    affine[:3, :3] = torch.diag(torch.as_tensor(voxel_mm, dtype=torch.float32))
    ones = torch.ones(shape)
    phantom = mr0.VoxelGridPhantom(
        PD=torch.from_numpy(pd[..., None]), T1=ones, T2=0.1 * ones, T2dash=0.05 * ones, D=torch.zeros(shape),
        B0=torch.zeros(shape), B1=ones[None], coil_sens=ones[None].to(torch.complex64), affine=affine)
    data = phantom.build()
    seq = mr0.Sequence.import_file(str(seq_path))
    graph = mr0.compute_graph(seq, data, 200, 1e-3)
    return mr0.execute_graph(graph, seq, data, min_emitted_signal=1e-2, min_latent_signal=1e-2,
                             print_progress=False)


def _reference(seq: "pp.Sequence", signal: np.ndarray, fov: float, n: int, radial: bool) -> np.ndarray:
    kadc = seq.calculate_kspace()[0]  # (3, samples), 1/m
    coord = (kadc[:2] * fov).T.astype(np.float32)  # cycles per FOV, (x, y)
    weights = 1.0
    if radial:  # the area each sample covers on its spoke (analytic, tests/io/test_pypulseq_examples.py)
        samples = int(next(iter(seq.adc_library.data.values()))[0])
        weights = radial_weights(coord.reshape(-1, samples, 2)).ravel()
    image = sigpy.nufft_adjoint(signal[:, 0] * weights, coord, oshape=(n, n))
    return np.abs(image)


def _nrmse(a, b, mask):
    a, b = a[mask], b[mask]
    a, b = a / np.linalg.norm(a), b / np.linalg.norm(b)
    return float(np.linalg.norm(a - b))


@pytest.mark.parametrize("name", ["gre", "epi", "tse", "radial_gre", "gre_label", "haste", "epi_se", "epi_se_rs",
                                  "ute"])
def test_harmoniq_reconstructs_mrzero_raw(name, work, run_cli):
    folder = work / name
    folder.mkdir()
    seq_path = folder / f"{name}.seq"
    getattr(examples, name)(seq_path, N)
    fov = FOV_M[name]
    seq = pp.Sequence()
    seq.read(str(seq_path))
    # sig_to_mrd takes the header's field of view and matrix from the FOV and RES definitions
    # (1 m x 1 m x 1 m and no matrix without them)
    if "FOV" not in seq.definitions or "RES" not in seq.definitions:
        seq.set_definition("FOV", [fov, fov, 3e-3])
        seq.set_definition("RES", [N, N, 1])
        seq.write(str(seq_path))
    pd = _phantom(N)
    signal = _simulate(seq_path, pd, fov, THICKNESS_M.get(name, 3e-3))
    sig_to_mrd(str(folder / "raw.h5"), signal, seq)

    reference = _reference(seq, signal.detach().cpu().numpy(), fov, N, radial=name in ("radial_gre", "ute"))
    mask = pd > 0
    assert _nrmse(reference, pd, mask) < _nrmse(reference, pd[::-1, ::-1], mask), "reference is mirrored"

    run_cli("recon", "raw.h5", "--seq", seq_path.name, "-o", "img.nii.gz", cwd=folder)
    ours = np.abs(nib.load(folder / "img.nii.gz").get_fdata()).squeeze()
    assert ours.shape == reference.shape, f"{name}: image {ours.shape}, reference {reference.shape}"
    error = _nrmse(ours, reference, mask)
    mirrors = {m: _nrmse(f(ours), reference, mask) for m, f in
               {"x": lambda a: a[::-1], "y": lambda a: a[:, ::-1], "xy": lambda a: a[::-1, ::-1],
                "transpose": lambda a: a.T}.items()}
    print(f"{name}: NRMSE {error:.4f} in the object; flipped {mirrors}")
    assert error <= 0.05, f"{name}: NRMSE {error:.3f} > 5 % (flipped: {mirrors})"
    assert all(error < value for value in mirrors.values()), f"{name}: orientation {mirrors}"
