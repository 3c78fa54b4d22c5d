"""Every shipped protocol, simulated (noise off) and reconstructed, matches the phantom.

Each protocol TOML is copied with a reduced matrix (everything else kept), built into its
.seq file, played on the NIST phantom (both plates side by side, the protocol's field of
view) in an ideal simulated scanner (no B0/B1 imperfections, no gradient delays, one large
receive loop), written as ISMRMRD, reconstructed by ``harmoniq recon`` into NIfTI + sidecar.
The expected images come from :mod:`roundtrip_reference` (slice profiles by spinor
integration, extended phase graphs with ideal dephasing, transients assembled in k-space
line by line) times PD times the receive magnitude. Pass: NRMSE after a global scale
below 5 % inside the object (every row: spin echoes alternate the refocusing phase, which moves
the refocusing pulse's FID to the edge of the field of view) for every contrast, each
volume closest to its own contrast, and the sidecar lists TI/TE/flip in the protocol's order.
The spins follow the simulator's own rule, uncapped (a capping warning fails the test): the
32-echo t2-mese asks for 306 spins per slice thickness (305 crusher cycles over its echo
train), so it runs at 16 x 16 like the 3D t1-vfa (see BENCHMARKS.md).
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from click.testing import CliRunner
from roundtrip_reference import expected_images, nrmse_after_scale, read_train

from harmoniq.cli import main
from harmoniq.io.ismrmrd_writer import write_ismrmrd
from harmoniq.phantoms import make_phantom
from harmoniq.protocols import load_protocol
from harmoniq.sequences.export import export
from harmoniq.simulation import load_scanner_model, simulate
from harmoniq.seqfile import read_seq

PROTOCOL_DIR = Path(__file__).resolve().parents[2] / "protocols"
FIELD_T = 3.0
PROFILE_POINTS = 48  # positions across a 2D slab for the expected slice profile
PARTITION_POINTS = 4  # positions per 3D partition
NIST_MIN_MATRIX = 64  # the plates' spheres need about 52 voxels across a 250 mm field of view

IDEAL_SCANNER = """
name = "ideal-3t"
profile = "siemens-prisma-3t"
vendor = "Siemens"
model = "MAGNETOM Prisma"
field_strength_T = 3.0
raw_data_conjugated = true
[b1]
centre = 1.0
edge = 1.0
[receive]
channels = 1
rings = 1
array_radius_mm = 600
loop_radius_mm = 500
[noise]
std_at_100khz = 1.0
neighbour_correlation = 0.0
"""

# protocol -> (matrix, what the sidecar lists per volume, those values (SI) from the protocol's parameters)
CASES = {
    "gre-demo": (64, "FlipAngle", lambda p: p["flip_deg"]),
    "b1-dam": (64, "FlipAngle", lambda p: p["flip_deg"]),
    "t2-se": (64, "EchoTime", lambda p: np.multiply(p["te_ms"], 1e-3)),
    "t1-irse": (64, "InversionTime", lambda p: np.multiply(p["ti_ms"], 1e-3)),
    "t1-vfa": (16, "FlipAngle", lambda p: p["flip_deg"]),
    "t2-mese": (16, "EchoTime", lambda p: p["echo_spacing_ms"] * 1e-3 * np.arange(1, p["echoes"] + 1)),
}
SLOW = {"t1-irse", "t2-se", "t1-vfa", "t2-mese"}


@pytest.fixture(scope="module")
def scanner_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("scanner") / "ideal-3t.toml"
    path.write_text(IDEAL_SCANNER)
    return path


def _phantom(protocol, seq):
    """NIST plates side by side on the protocol's grid; a 3D protocol gets them extruded
    through its slab (one partition per phantom voxel)."""
    fov = float(np.ravel(seq.get_definition("FOV"))[0])
    nx, _, nz = (int(v) for v in np.ravel(seq.get_definition("Matrix")))
    step = -(-NIST_MIN_MATRIX // nx)  # coarse grids take every step-th voxel of a finer plate
    plate = make_phantom("nist", matrix=nx * step, field_t=FIELD_T, ndim=2, fov_m=fov, plate="both")
    plate.diffusivity_m2_s = None  # the reference dephases ideally; diffusion is checked in tests/physics
    if step > 1:
        coarse = {name: getattr(plate, name)[:, step // 2::step, step // 2::step]
                  for name in ("pd", "t1_s", "t2_s", "t2prime_s", "offres_hz", "labels")}
        plate = replace(plate, voxel_size_m=(plate.voxel_size_m[0], fov / nx, fov / nx), **coarse)
    if nz == 1:
        return plate
    thickness = float(seq.get_definition("SliceThickness"))
    volume = {name: np.repeat(getattr(plate, name), nz, axis=0)
              for name in ("pd", "t1_s", "t2_s", "t2prime_s", "offres_hz", "labels")}
    return replace(plate, voxel_size_m=(thickness, *plate.voxel_size_m[1:]), **volume)


def _profile_positions(seq, phantom):
    """Positions (m) along z for the expected slice profile and the phantom slice of each."""
    nz = phantom.shape[0]
    if nz == 1:  # the 2D slab: the widest (refocusing) slice plus a margin
        thickness = float(seq.get_definition("SliceThickness"))
        z = ((np.arange(PROFILE_POINTS) + 0.5) / PROFILE_POINTS - 0.5) * 2.4 * thickness
        return z, np.zeros(PROFILE_POINTS, int)
    dz = phantom.voxel_size_m[0]
    sub = ((np.arange(PARTITION_POINTS) + 0.5) / PARTITION_POINTS - 0.5) * dz
    centres = (np.arange(nz) - nz // 2) * dz
    return (centres[:, None] + sub[None]).ravel(), np.repeat(np.arange(nz), PARTITION_POINTS)


def roundtrip(name: str, matrix: int, folder: Path, scanner_file: Path):
    """Build, simulate, write, reconstruct; return images (vol, z, y, x), sidecar, expected, phantom."""
    text = (PROTOCOL_DIR / f"{name}.toml").read_text()
    (folder / f"{name}.toml").write_text(re.sub(r"(?m)^matrix = \d+", f"matrix = {matrix}", text))
    protocol = load_protocol(folder / f"{name}.toml")
    seq_path, _ = export(protocol, folder)
    seq = read_seq(seq_path)
    scanner = load_scanner_model(scanner_file)
    phantom = _phantom(protocol, seq)
    raw = simulate(seq, phantom, scanner, noise=False)
    write_ismrmrd(folder / "raw.h5", raw)
    result = CliRunner().invoke(main, ["recon", str(folder / "raw.h5"), "--seq", str(seq_path),
                                       "-o", str(folder / "image.nii.gz")])
    assert result.exit_code == 0, result.output
    data = np.asarray(nib.load(folder / "image.nii.gz").dataobj)
    images = np.moveaxis(data.reshape(data.shape[:3] + (-1,)), -1, 0).transpose(0, 3, 2, 1)
    sidecar = json.loads((folder / "image.json").read_text())
    z, groups = _profile_positions(seq, phantom)
    rfs, adcs = read_train(seq, z)
    label = seq.get_definition("ContrastLabel")
    coil = np.abs(scanner.coil_maps(phantom.positions_m()))[0]
    expected = expected_images(rfs, adcs, protocol.family, phantom, coil, label, groups)
    return images, sidecar, expected, phantom, protocol


def _case(name):
    return pytest.param(name, marks=[pytest.mark.slow] if name in SLOW else [], id=name)


@pytest.mark.filterwarnings("error:spin sampling")
@pytest.mark.parametrize("name", [_case(name) for name in CASES])
def test_protocol_reconstructs_to_the_phantom(name, tmp_path, scanner_file):
    matrix, sidecar_key, wanted_si = CASES[name]
    images, sidecar, expected, phantom, protocol = roundtrip(name, matrix, tmp_path, scanner_file)
    mask = phantom.pd > 0
    assert images.shape == expected.shape
    errors = np.array([[nrmse_after_scale(image, reference, mask) for reference in expected] for image in images])
    assert np.all(np.diag(errors) < 0.05), f"{name}: NRMSE per contrast {np.diag(errors).round(4)}"
    assert np.all(np.argmin(errors, axis=1) == np.arange(len(images))), f"{name}: contrasts out of order {errors}"
    np.testing.assert_allclose(np.ravel(sidecar[sidecar_key]), np.ravel(wanted_si(protocol.values)), rtol=1e-6)
    assert sidecar["ContrastDimension"] == protocol_contrast(protocol)


def protocol_contrast(protocol) -> str:
    """What the protocol's series varies, from its parameters alone."""
    p = protocol.values
    if np.size(p.get("ti_ms", [])) > 1:
        return "inversion_time"
    if np.size(p.get("flip_deg", [])) > 1:  # a list for gradient echoes, one angle for spin echoes
        return "flip_angle"
    if np.size(p.get("te_ms", [])) > 1 or p.get("echoes", 1) > 1:
        return "echo_time"
    return "none"
