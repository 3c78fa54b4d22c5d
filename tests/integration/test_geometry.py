"""Slice prescription end to end: simulator -> ISMRMRD -> recon -> NIfTI lands at the world position.

The phantom is the NIST/ISMRM system phantom's sphere geometry with only the spheres
giving signal (water PD 0) and a short T2 (10 ms, TR 50 ms), so that the image is a set of
clean discs whatever the spin sampling: this test is about where things are, not contrast.
Expected centres: a plane cuts a sphere in a disc centred on the projection of the sphere's
centre onto the plane (and a slab of finite thickness keeps that symmetry).
"""

from dataclasses import replace

import ismrmrd
import nibabel as nib
import numpy as np
import pypulseq as pp
import pytest
from click.testing import CliRunner
from scipy import ndimage

from harmoniq.protocols import ReconOptions
from harmoniq.backend import gpu_available
from harmoniq.cli import main
from harmoniq.errors import HarmoniqError
from harmoniq.io.ismrmrd_writer import write_ismrmrd
from harmoniq.io.nifti import write_image_series
from harmoniq.io.reader import read_ismrmrd
from harmoniq.phantoms import make_phantom
from harmoniq.phantoms.grid import make_grid
from harmoniq.phantoms.nist import SPHERE_DIAMETER_M, WATER_LABEL, nist_scene
from harmoniq.phantoms.rasterize import build_phantom
from harmoniq.protocols import load_protocol
from harmoniq.recon.reconstruct import reconstruct
from harmoniq.sequences.export import build
from harmoniq.simulation import load_scanner_model, simulate
from harmoniq.simulation.prescription import Prescription, physical_timeline
from harmoniq.simulation.simulate import make_phantom_for
from harmoniq.simulation.timeline import Free, Pulse, compile_sequence

SCANNER = "ge-signa-artist-1.5t"  # 8 channels, unequal gradient delays on x, y, z
FIELD_T = 1.5
SPHERE_RADIUS_MM = SPHERE_DIAMETER_M / 2 * 1e3
LPS_TO_RAS = np.array([-1.0, -1.0, 1.0])


def sphere_phantom(ndim: int, matrix: int, fov_m: float):
    """NIST sphere geometry, spheres only: PD 1, T1 300 ms, T2 10 ms; water PD 0."""
    scene, centres = nist_scene(FIELD_T, ndim, "t1")
    tissues = tuple(replace(t, pd=0.0) if label == WATER_LABEL else replace(t, t1_s=0.3, t2_s=0.01) if t.pd > 0
                    else t for label, t in enumerate(scene.tissues))
    grid = make_grid(matrix, fov_m, ndim, 0.005, "sphere phantom")
    phantom = build_phantom("nist-spheres", FIELD_T, replace(scene, tissues=tissues), grid, 2, np, {})
    return phantom, {label: np.array(c) * 1e3 for label, c in centres.items()}  # LPS, mm


def gre_seq(matrix: int = 64):
    """gre-demo at TR 50 ms, flip 30 deg, 8 dummy scans (250 mm FOV, 6 mm slice)."""
    protocol = load_protocol("gre-demo").with_values(matrix=matrix, dummy_scans=8, tr_ms=50.0, flip_deg=[30.0])
    return build(protocol).seq


def scan_to_nifti(tmp_path, phantom, prescription: Prescription):
    raw_path, image_path = tmp_path / "raw.h5", tmp_path / "image.nii.gz"
    write_ismrmrd(raw_path, simulate(gre_seq(), phantom, SCANNER, seed=5, prescription=prescription))
    series = reconstruct(read_ismrmrd(raw_path), ReconOptions("fft", combination="rss"))
    write_image_series(series, image_path, inputs={"raw": raw_path})
    return raw_path, nib.load(image_path)


def blobs_ras(image) -> list[tuple[np.ndarray, int]]:
    """(intensity-weighted centre in RAS mm, voxel count) of each disc above 20 % of the maximum."""
    data = np.asarray(image.dataobj, dtype=np.float64)
    labels, n = ndimage.label(data > 0.2 * data.max())
    centres = ndimage.center_of_mass(data, labels, range(1, n + 1))
    counts = ndimage.sum(np.ones_like(data), labels, range(1, n + 1))
    return [(nib.affines.apply_affine(image.affine, c), int(k)) for c, k in zip(centres, counts)]


def cut_spheres_ras(centres_lps_mm: dict, prescription: Prescription, max_depth_mm: float) -> dict:
    """Label -> RAS centre (mm) of the disc the slice plane cuts from each sphere within
    ``max_depth_mm`` of the plane: the sphere centre projected onto the plane."""
    normal, origin = prescription.slice_dir, prescription.offset_m * 1e3
    out = {}
    for label, centre in centres_lps_mm.items():
        depth = (centre - origin) @ normal
        if abs(depth) < max_depth_mm:
            out[label] = (centre - depth * normal) * LPS_TO_RAS
    return out


def assert_spheres_in_place(image, centres_lps_mm, prescription, minimum: int):
    voxel_mm = max(image.header.get_zooms()[:2])
    blobs = blobs_ras(image)
    well_cut = cut_spheres_ras(centres_lps_mm, prescription, max_depth_mm=8.0)  # disc radius >= 8.9 mm
    assert len(well_cut) >= minimum
    for label, expected in well_cut.items():
        distance = min(np.linalg.norm(found - expected) for found, _ in blobs)
        assert distance < voxel_mm, (label, expected, distance)
    touched = cut_spheres_ras(centres_lps_mm, prescription, max_depth_mm=SPHERE_RADIUS_MM + 3.0)
    for found, count in blobs:  # nothing bright where no sphere is cut
        if count >= 4:
            assert min(np.linalg.norm(found - c) for c in touched.values()) < voxel_mm, (found, count)
    return blobs


def acquisition_geometry(raw_path):
    with ismrmrd.Dataset(str(raw_path), "dataset", create_if_needed=False) as file:
        head = file.read_acquisition(file.number_of_acquisitions() - 1).getHead()
    return np.array([head.read_dir[:], head.phase_dir[:], head.slice_dir[:]]).T, np.array(head.position[:])


def test_axial_centred_slice_lands_on_the_spheres(tmp_path):
    phantom, centres = sphere_phantom(2, 40, 0.16)
    prescription = Prescription()
    raw_path, image = scan_to_nifti(tmp_path, phantom, prescription)
    rotation, position = acquisition_geometry(raw_path)
    np.testing.assert_array_equal(rotation, np.eye(3))
    np.testing.assert_array_equal(position, 0.0)
    blobs = assert_spheres_in_place(image, centres, prescription, minimum=14)
    assert len([b for b in blobs if b[1] >= 4]) == 14


@pytest.mark.slow
def test_oblique_off_centre_slice_lands_at_the_world_position(tmp_path):
    phantom, centres = sphere_phantom(3, 40, 0.16)
    prescription = Prescription.from_angles(offset_mm=(15.0, -10.0, 20.0), angles_deg=(20.0, 10.0, 0.0))
    raw_path, image = scan_to_nifti(tmp_path, phantom, prescription)
    rotation, position = acquisition_geometry(raw_path)
    np.testing.assert_allclose(rotation, prescription.rotation, atol=1e-6)
    np.testing.assert_allclose(position, [15.0, -10.0, 20.0], atol=1e-3)
    zooms = image.header.get_zooms()
    np.testing.assert_allclose(image.affine[:3, :3] / zooms[:3], prescription.rotation * LPS_TO_RAS[:, None], atol=1e-6)
    assert_spheres_in_place(image, centres, prescription, minimum=3)
    # the same spheres without the offset would be elsewhere: the check can tell a wrong sign
    mirrored = Prescription(rotation=prescription.rotation, offset_m=-prescription.offset_m)
    assert not cut_spheres_ras(centres, mirrored, max_depth_mm=8.0).keys() & cut_spheres_ras(
        centres, prescription, max_depth_mm=8.0).keys()


@pytest.mark.gpu
@pytest.mark.skipif(not gpu_available(), reason="needs CuPy and a CUDA device")
def test_oblique_slice_on_gpu_matches_cpu():
    phantom, _ = sphere_phantom(3, 40, 0.16)
    prescription = Prescription.from_angles(offset_mm=(15.0, -10.0, 20.0), angles_deg=(20.0, 10.0, 0.0))
    cpu, gpu = (simulate(gre_seq(16), phantom, SCANNER, noise=False, prescription=prescription, device=device)
                for device in ("cpu", "gpu"))
    scale = max(np.abs(s).max() for s in cpu.signals)
    for a, b in zip(cpu.signals, gpu.signals):
        assert np.abs(a - b).max() < 1e-4 * scale


def _rotated_by_hand(rotation: np.ndarray):
    """A small sequence and the same one with every logical gradient written onto the three
    physical axes by hand (each block carries at most one logical gradient)."""
    system = pp.Opts(max_grad=30, grad_unit="mT/m", max_slew=120, slew_unit="T/m/s")
    rf, gz, _ = pp.make_sinc_pulse(np.pi / 6, duration=2e-3, slice_thickness=5e-3, system=system, return_gz=True,
                                   use="excitation")
    readout = pp.make_trapezoid("x", flat_area=64 / 0.25, flat_time=2.56e-3, system=system)
    adc = pp.make_adc(64, duration=readout.flat_time, delay=readout.rise_time, system=system)
    blocks = []
    for line in (-3, 5):
        blocks += [[rf, gz], [pp.make_trapezoid("z", area=-gz.area / 2, duration=1e-3, system=system)],
                   [pp.make_trapezoid("y", area=line / 0.25, duration=1e-3, system=system)],
                   [pp.make_trapezoid("x", area=-readout.area / 2, duration=1e-3, system=system)],
                   [readout, adc], [pp.make_delay(1e-3)]]
    logical, physical = pp.Sequence(system), pp.Sequence(system)
    for events in blocks:
        logical.add_block(*events)
        turned = []
        for event in events:
            if getattr(event, "type", "") == "trap":
                b = "xyz".index(event.channel)
                for a, axis in enumerate("xyz"):
                    part = pp.scale_grad(event, rotation[a, b])
                    part.channel = axis
                    turned.append(part)
            else:
                turned.append(event)
        physical.add_block(*turned)
    return logical, physical


def _step_gradients(pulse: Pulse) -> np.ndarray:
    return np.concatenate([np.repeat(g[None], i1 - i0, axis=0) for i0, i1, g in pulse.segments])


def test_physical_timeline_equals_the_sequence_rotated_by_hand():
    rotation = Prescription.from_angles(angles_deg=(20.0, -35.0, 50.0)).rotation
    delays = (6e-6, -2e-6, 3e-6)
    logical, physical = _rotated_by_hand(rotation)
    nominal = compile_sequence(logical, 3.0)
    played = physical_timeline(logical, 3.0, delays, Prescription(rotation=rotation), nominal)
    expected = compile_sequence(physical, 3.0, delays)
    assert [type(e) for e in played.events] == [type(e) for e in expected.events]
    scale = max(np.abs(e.k).max() for e in expected.events if isinstance(e, Free))
    for ours, theirs in zip(played.events, expected.events):
        if isinstance(ours, Pulse):
            np.testing.assert_allclose(_step_gradients(ours), _step_gradients(theirs), atol=1e-6 * scale / 1e-3)
            np.testing.assert_allclose(np.array(ours.k_halves), np.array(theirs.k_halves), atol=1e-9 * scale)
        else:
            np.testing.assert_allclose(ours.k, theirs.k, atol=1e-9 * scale)
    for ours, theirs in zip(played.trajectory, expected.trajectory):
        np.testing.assert_allclose(ours, theirs, atol=1e-9 * scale)
    # the nominal trajectory stays logical: the readout moves along x only
    assert np.ptp(nominal.trajectory[0][:, 1:], axis=0).max() == 0 < np.ptp(nominal.trajectory[0][:, 0])


def test_offset_moves_rf_frequency_and_adc_phase_by_the_gradient_moments():
    seq = gre_seq(16)
    nominal = compile_sequence(seq, 3.0)
    prescription = Prescription.from_angles(offset_mm=(9.0, -7.0, 12.0), angles_deg=(0.0, 0.0, 30.0))
    played = physical_timeline(seq, 3.0, (0.0, 0.0, 0.0), prescription, nominal)
    offset = prescription.offset_m
    for ours, theirs in zip(played.pulses, nominal.pulses):  # gamma/2pi G.p with G physical
        g = prescription.rotation @ theirs.gradient
        assert ours.freq_hz == pytest.approx(theirs.freq_hz - g @ offset, abs=1e-6)
        centre_phase = ours.phase_rad + 2 * np.pi * ours.freq_hz * ours.shape.center_s
        assert centre_phase == pytest.approx(theirs.phase_rad + 2 * np.pi * theirs.freq_hz * theirs.shape.center_s)
    for ours, theirs, k in zip(played.readouts, nominal.readouts, nominal.trajectory):
        np.testing.assert_allclose(ours.phase_rad - theirs.phase_rad, 2 * np.pi * (prescription.rotation @ k.T).T @ offset,
                                   atol=1e-9)
    np.testing.assert_allclose(played.slice_position_m, offset + nominal.slice_position_m @ prescription.rotation.T)


def test_prescription_checks_its_input():
    assert Prescription.from_angles((0, 0, 10), (90, 0, 0)).slice_dir == pytest.approx([0.0, -1.0, 0.0])
    with pytest.raises(HarmoniqError, match="orthonormal"):
        Prescription(rotation=np.diag([1.0, 2.0, 1.0]))
    with pytest.raises(HarmoniqError, match="right-handed"):
        Prescription(rotation=np.diag([1.0, 1.0, -1.0]))
    with pytest.raises(HarmoniqError, match="three finite numbers"):
        Prescription.from_angles(angles_deg=(1.0, 2.0))
    tilted = Prescription.from_angles(angles_deg=(0.0, 15.0, 0.0))
    flat = make_phantom("shepp-logan", matrix=16, ndim=2)
    with pytest.raises(HarmoniqError, match="2D"):
        simulate(gre_seq(16), flat, SCANNER, prescription=tilted)
    scanner = load_scanner_model(SCANNER)
    assert make_phantom_for("shepp-logan", gre_seq(16), scanner, 16, tilted).shape == (16, 16, 16)
    turned_in_plane = Prescription.from_angles(angles_deg=(0.0, 0.0, 40.0))
    assert make_phantom_for("shepp-logan", gre_seq(16), scanner, 16, turned_in_plane).shape == (1, 16, 16)


def test_cli_writes_the_prescribed_geometry(tmp_path):
    seq_path, raw_path = tmp_path / "gre.seq", tmp_path / "raw.h5"
    gre_seq(16).write(str(seq_path))
    runner = CliRunner()
    args = ["simulate", str(seq_path), "--phantom", "shepp-logan", "--scanner", SCANNER, "--matrix", "16",
            "--no-noise", "-o", str(raw_path)]
    result = runner.invoke(main, [*args, "--slice-offset-mm", "5,-10,20", "--slice-angles-deg", "0,0,25"])
    assert result.exit_code == 0, result.output
    rotation, position = acquisition_geometry(raw_path)
    np.testing.assert_allclose(rotation, Prescription.from_angles(angles_deg=(0, 0, 25)).rotation, atol=1e-6)
    np.testing.assert_allclose(position, [5.0, -10.0, 20.0], atol=1e-3)
    bad = runner.invoke(main, [*args, "--slice-offset-mm", "5,10"])
    assert bad.exit_code == 2 and "--slice-offset-mm" in bad.output and len(bad.output.strip().splitlines()) == 1
