"""`harmoniq fit ...` end to end on NIfTI + sidecar files, the file layer, and its errors."""

import hashlib
import json
import math

import nibabel as nib
import numpy as np
import pytest
from click.testing import CliRunner

from harmoniq.cli import main
from harmoniq.io.nifti import read_image_series, sidecar_path, write_maps
from harmoniq.simulation.epg import cpmg

SHAPE = (2, 3, 4)  # (z, y, x)


def save_series(path, data, sidecar):
    """Write (volume, z, y, x) data as NIfTI (x, y, z, volume) plus its sidecar."""
    nib.save(nib.Nifti1Image(np.asarray(data).transpose(3, 2, 1, 0), np.diag([2.0, 2.0, 5.0, 1.0])), str(path))
    if sidecar is not None:
        sidecar_path(path).write_text(json.dumps(sidecar))
    return path


def load(path):
    return np.asarray(nib.load(str(path)).dataobj).transpose(2, 1, 0)


def run(*args):
    return CliRunner().invoke(main, ["fit", *map(str, args)])


def t1_map():
    return np.linspace(0.3, 2.0, math.prod(SHAPE)).reshape(SHAPE)


def test_series_round_trip_keeps_our_axis_order(tmp_path):
    data = np.arange(2 * math.prod(SHAPE), dtype=np.float32).reshape((2, *SHAPE))
    series = read_image_series(save_series(tmp_path / "x.nii.gz", data, {"EchoTime": [0.01, 0.02]}))
    assert np.array_equal(series.volumes(), data)
    assert series.header.te_s == (0.01, 0.02)
    write_maps([(tmp_path / "m.nii.gz", data[0], {"Description": "test"}, "s")], series.affine_lps_m)
    assert np.array_equal(load(tmp_path / "m.nii.gz"), data[0])
    assert json.loads((tmp_path / "m.json").read_text()) == {"Description": "test", "Units": "s", "HarmoniqStage": "fit"}
    assert np.allclose(nib.load(str(tmp_path / "m.nii.gz")).affine, np.diag([2.0, 2.0, 5.0, 1.0]))


def test_t1_ir_writes_bids_maps_with_provenance_and_masks_nan(tmp_path):
    ti = np.array([0.05, 0.15, 0.4, 1.1, 2.5])
    t1 = t1_map()
    data = np.abs(1000 * (1 - 2 * np.exp(-ti[:, None, None, None] / t1)))
    data[:, 0, 0, 0] = np.nan
    image = save_series(tmp_path / "sub-01_IRT1.nii.gz", data.astype(np.float32),
                        {"InversionTime": ti.tolist(), "MagneticFieldStrength": 3.0, "Manufacturer": "Siemens"})
    result = run("t1-ir", image, "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    out = tmp_path / "out"
    names = sorted(p.name for p in out.glob("*.nii.gz"))
    for expected in ("sub-01_T1map.nii.gz", "sub-01_M0map.nii.gz", "sub-01_desc-crlb_T1map.nii.gz",
                     "sub-01_desc-residual_fitparam.nii.gz", "sub-01_desc-outofrange_mask.nii.gz",
                     "sub-01_desc-fitted_mask.nii.gz", "sub-01_desc-inversionefficiency_fitparam.nii.gz"):
        assert expected in names
    fitted = load(out / "sub-01_T1map.nii.gz")
    assert np.isnan(fitted[0, 0, 0]) and load(out / "sub-01_desc-fitted_mask.nii.gz")[0, 0, 0] == 0
    assert np.allclose(fitted.ravel()[1:], t1.ravel()[1:], rtol=1e-4)
    sidecar = json.loads((out / "sub-01_T1map.json").read_text())
    assert sidecar["Units"] == "s" and sidecar["MagneticFieldStrength"] == 3.0
    assert sidecar["ModelParameters"]["InversionTime"] == pytest.approx(ti.tolist())
    digest = hashlib.sha256(image.read_bytes()).hexdigest()
    assert sidecar["HarmoniqProvenance"]["sha256"] == {image.name: digest}


def test_b1_dam_percent_map_feeds_t1_vfa(tmp_path):
    b1 = np.linspace(0.75, 1.25, math.prod(SHAPE)).reshape(SHAPE)
    dam = np.abs(np.sin(np.radians([60.0, 120.0])[:, None, None, None] * b1)) * 500
    save_series(tmp_path / "dam.nii.gz", dam, {"FlipAngle": [60.0, 120.0]})
    assert run("b1-dam", tmp_path / "dam.nii.gz", "-o", tmp_path).exit_code == 0
    tb1 = load(tmp_path / "dam_TB1map.nii.gz")
    assert np.allclose(tb1, 100 * b1, rtol=1e-5)  # BIDS: percent of nominal
    assert json.loads((tmp_path / "dam_TB1map.json").read_text())["Units"] == "percent"
    flips, tr, t1 = np.radians([3.0, 15.0]), 0.015, t1_map()
    e1 = np.exp(-tr / t1)
    fa = flips[:, None, None, None] * b1
    vfa = 800 * np.sin(fa) * (1 - e1) / (1 - e1 * np.cos(fa))
    save_series(tmp_path / "vfa.nii.gz", vfa, {"FlipAngle": [3.0, 15.0], "RepetitionTimeExcitation": tr})
    result = run("t1-vfa", tmp_path / "vfa.nii.gz", "--b1", tmp_path / "dam_TB1map.nii.gz", "-o", tmp_path)
    assert result.exit_code == 0, result.output
    assert np.allclose(load(tmp_path / "vfa_T1map.nii.gz"), t1, rtol=1e-4)
    sources = json.loads((tmp_path / "vfa_T1map.json").read_text())["HarmoniqProvenance"]["sha256"]
    assert len(sources) == 2


def test_t2_mese_and_t2star(tmp_path):
    te = 0.01 * np.arange(1, 13)
    t2 = np.linspace(0.03, 0.2, math.prod(SHAPE)).reshape(SHAPE)
    train = np.moveaxis(np.abs(cpmg(12, 0.01, 1.0, t2, math.radians(150))), -1, 0) * 300
    save_series(tmp_path / "mese.nii.gz", train, {"EchoTime": te.tolist(), "RefocusingFlipAngle": 150})
    assert run("t2-mese", tmp_path / "mese.nii.gz", "-o", tmp_path).exit_code == 0
    assert np.allclose(load(tmp_path / "mese_T2map.nii.gz"), t2, rtol=0.01)
    assert (tmp_path / "mese_S0map.nii.gz").exists() and (tmp_path / "mese_desc-refocusing_TB1map.nii.gz").exists()
    gre = 200 * np.exp(-te[:, None, None, None] / (t2 / 4))
    save_series(tmp_path / "me.nii.gz", gre, {"EchoTime": te.tolist()})
    assert run("t2star", tmp_path / "me.nii.gz", "-o", tmp_path).exit_code == 0
    assert np.allclose(load(tmp_path / "me_T2starmap.nii.gz"), t2 / 4, rtol=1e-4)


def test_mask_option(tmp_path):
    te = np.array([0.01, 0.03, 0.06])
    data = np.exp(-te[:, None, None, None] / np.full(SHAPE, 0.05))
    save_series(tmp_path / "se.nii.gz", data, {"EchoTime": te.tolist()})
    mask = np.zeros(SHAPE, np.uint8)
    mask[1] = 1
    nib.save(nib.Nifti1Image(mask.transpose(2, 1, 0), np.eye(4)), str(tmp_path / "mask.nii.gz"))
    assert run("t2-se", tmp_path / "se.nii.gz", "--mask", tmp_path / "mask.nii.gz", "-o", tmp_path).exit_code == 0
    t2 = load(tmp_path / "se_T2map.nii.gz")
    assert np.all(np.isnan(t2[0])) and np.allclose(t2[1], 0.05, rtol=1e-5)


@pytest.mark.parametrize(
    "model,sidecar,data,extra,fragment",
    [
        ("t1-ir", {"EchoTime": [0.01] * 4}, "ones", [], "sidecar has no 'InversionTime'"),
        ("t1-ir", {"InversionTime": [0.1, 0.2, 0.3]}, "ones", [], "InversionTime=[0.1, 0.2, 0.3] is not valid; give finite numbers (BIDS units: s, deg), one per volume (4)"),
        ("t1-ir", {"InversionTime": [0.1, 0.2, 0.4, 0.8]}, "zeros", [], "no voxel to fit"),
        ("t1-ir", None, "ones", [], "sidecar not found"),
        ("t2-mese", {"EchoTime": [0.01, 0.02, 0.03, 0.04]}, "ones", [], "RefocusingFlipAngle"),
        ("t1-vfa", {"FlipAngle": [2, 4, 8, 16], "RepetitionTime": 0.01}, "ones", ["--b1", "bad_b1.nii.gz"], "B1 map has shape"),
        ("t1-vfa", {"FlipAngle": [2, 4, 8, 16]}, "ones", [], "RepetitionTimeExcitation"),
    ],
)
def test_bad_input_exits_2_with_one_line(tmp_path, model, sidecar, data, extra, fragment):
    values = np.ones((4, *SHAPE)) if data == "ones" else np.zeros((4, *SHAPE))
    save_series(tmp_path / "img.nii.gz", values, sidecar)
    nib.save(nib.Nifti1Image(np.ones((2, 2, 2)), np.eye(4)), str(tmp_path / "bad_b1.nii.gz"))
    extra = [str(tmp_path / e) if e.endswith(".nii.gz") else e for e in extra]
    result = run(model, tmp_path / "img.nii.gz", *extra, "-o", tmp_path / "out")
    assert result.exit_code == 2
    assert fragment in result.output and result.output.count("\n") == 1
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
