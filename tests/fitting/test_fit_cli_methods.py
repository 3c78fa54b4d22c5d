"""`harmoniq fit t1-mp2rage|b1-afi|b1-bs|t1-molli` end to end on small synthetic NIfTI series.

The series are written from formulas written here (Yarnykh's AFI ratio, the Bloch-Siegert
phase of a given K_BS, the Look-Locker recovery) or from the model's signals where the model
itself is tested elsewhere (MP2RAGE: tests/fitting/test_mp2rage.py)."""

import json
import math

import nibabel as nib
import numpy as np
from click.testing import CliRunner

from harmoniq.cli import main
from harmoniq.fitting.bloch_siegert import FermiPulse
from harmoniq.fitting.mp2rage import Mp2rageTiming, mp2rage_signals
from harmoniq.io.nifti import sidecar_path

SHAPE = (2, 3, 4)  # (z, y, x)
N = math.prod(SHAPE)


def save(path, data, sidecar):
    """(volume, z, y, x) -> NIfTI (x, y, z, volume) + sidecar."""
    nib.save(nib.Nifti1Image(np.asarray(data, dtype=np.float64).transpose(3, 2, 1, 0), np.diag([2.0, 2.0, 5.0, 1.0])),
             str(path))
    sidecar_path(path).write_text(json.dumps(sidecar))
    return path


def load(path):
    return np.asarray(nib.load(str(path)).dataobj).transpose(2, 1, 0)


def fit(*args):
    result = CliRunner().invoke(main, ["fit", *map(str, args)])
    assert result.exit_code == 0, result.output
    return result


def test_mp2rage_writes_unit1_and_t1map_and_uses_the_b1_map(tmp_path):
    timing = Mp2rageTiming(5.0, 0.007, (0.7, 2.5), (math.radians(4), math.radians(5)), 160)
    t1 = np.linspace(0.5, 3.0, N).reshape(SHAPE)
    b1 = np.linspace(0.85, 1.15, N).reshape(SHAPE)
    image = save(tmp_path / "sub-01_MP2RAGE.nii.gz", 800 * np.stack(mp2rage_signals(t1, timing, b1)),
                 {"InversionTime": [0.7, 2.5], "FlipAngle": [4, 5], "RepetitionTimeExcitation": 0.007,
                  "RepetitionTimePreparation": 5.0, "NumberShots": 160})
    save(tmp_path / "b1.nii.gz", 100 * b1[None], {"Units": "percent"})
    fit("t1-mp2rage", image, "--b1", tmp_path / "b1.nii.gz", "-o", tmp_path / "out")
    assert np.allclose(load(tmp_path / "out/sub-01_T1map.nii.gz"), t1, rtol=2e-3)
    assert np.all(np.abs(load(tmp_path / "out/sub-01_UNIT1.nii.gz")) <= 0.5)
    magnitude = save(tmp_path / "mag.nii.gz", np.abs(np.stack(mp2rage_signals(t1, timing))),
                     json.loads(sidecar_path(image).read_text()))
    result = CliRunner().invoke(main, ["fit", "t1-mp2rage", str(magnitude), "-o", str(tmp_path / "bad")])
    assert result.exit_code == 2 and "sign is lost" in result.output and result.output.count("\n") == 1


def test_afi_writes_tb1map_in_percent(tmp_path):
    b1 = np.linspace(0.7, 1.3, N).reshape(SHAPE)
    flip, n = math.radians(60) * b1, 5.0
    s1 = 300 * np.sin(flip)
    image = save(tmp_path / "sub-01_TB1AFI.nii.gz", np.stack([s1, s1 * (1 + n * np.cos(flip)) / (n + np.cos(flip))]),
                 {"FlipAngle": 60, "RepetitionTimeExcitation": [0.02, 0.1]})
    fit("b1-afi", image, "-o", tmp_path)
    assert np.allclose(load(tmp_path / "sub-01_TB1map.nii.gz"), 100 * b1, rtol=1e-6)
    assert json.loads((tmp_path / "sub-01_TB1map.json").read_text())["Units"] == "percent"


def test_bloch_siegert_from_phase_images(tmp_path):
    b1 = np.linspace(0.7, 1.3, N).reshape(SHAPE)
    k_bs = FermiPulse(8e-3, 2000.0, 0.2e-3).k_bs()
    phi = k_bs * (8e-6 * b1) ** 2
    offset = np.linspace(-1.0, 1.0, N).reshape(SHAPE)  # B0 phase, the same in both
    image = save(tmp_path / "bs.nii.gz", np.angle(np.exp(1j * np.stack([offset + phi, offset - phi]))),
                 {"BlochSiegertOffset": [2000.0, -2000.0]})
    fit("b1-bs", image, "--b1-peak-t", 8e-6, "--duration", 8e-3, "--transition", 0.2e-3, "-o", tmp_path)
    assert np.allclose(load(tmp_path / "bs_TB1map.nii.gz"), 100 * b1, rtol=1e-6)


def test_molli_writes_t1map_and_apparent_t1(tmp_path):
    ti = np.array([0.1, 1.1, 2.1, 3.1, 4.1, 0.18, 1.18, 2.18])
    t1 = np.linspace(0.4, 1.6, N).reshape(SHAPE)
    t1_star, a = 0.85 * t1, 200.0
    b = a * (t1 / t1_star + 1)
    data = np.abs(a - b * np.exp(-ti[:, None, None, None] / t1_star))
    image = save(tmp_path / "molli.nii.gz", data, {"InversionTime": ti.tolist()})
    fit("t1-molli", image, "-o", tmp_path)
    assert np.allclose(load(tmp_path / "molli_T1map.nii.gz"), t1, rtol=1e-4)
    assert np.allclose(load(tmp_path / "molli_desc-apparent_T1map.nii.gz"), t1_star, rtol=1e-4)
