"""Bloch-Siegert B1: K_BS of the Fermi pulse against a numerical Bloch rotation of the pulse
(rotating-frame propagation, independent of the K_BS integral), and the fit on noisy images."""

import json
import math
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from click.testing import CliRunner

from harmoniq.cli import main
from harmoniq.constants import GAMMA_BAR_HZ_PER_T
from harmoniq.errors import HarmoniqError
from harmoniq.fitting.bids_methods import acquisition_keys
from harmoniq.fitting.bloch_siegert import FermiPulse, fit_b1_bloch_siegert, played_pulse
from harmoniq.io.nifti import sidecar_path
from harmoniq.protocols import load_protocol
from harmoniq.sequences.export import build

DT = 0.25e-6  # s: 1000 steps per period of the 4 kHz offset


def rotate(m, axis, angle):
    """Rodrigues rotation of vectors m (3,) about unit axes (3,) by angle (rad), left-handed as
    precession: dM/dt = gamma M x B."""
    axis = axis / np.linalg.norm(axis)
    c, s = math.cos(angle), math.sin(angle)
    return m * c + np.cross(m, axis) * s + axis * np.dot(axis, m) * (1 - c)


def bloch_phase(pulse: FermiPulse, b1_peak_t: float, offset_hz: float) -> float:
    """Phase (rad) gained by transverse magnetisation of an on-resonance spin during the pulse at
    ``offset_hz`` (its envelope sampled every DT)."""
    t = (np.arange(round(pulse.duration_s / DT)) + 0.5) * DT
    return bloch_phase_of_samples(GAMMA_BAR_HZ_PER_T * b1_peak_t * pulse.envelope(t), DT, offset_hz)


def bloch_phase_of_samples(signal_hz, dt, offset_hz: float) -> float:
    """Phase (rad) gained by an on-resonance spin's transverse magnetisation during a piecewise-constant
    pulse (gamma-bar B1 samples ``signal_hz``, each ``dt`` long) at ``offset_hz``: in the frame of the
    pulse the spin sees B_eff = (omega_1, 0, -omega_RF), constant over a sample, and precesses about it;
    back in the Larmor frame its phase is measured against the free spin."""
    w_rf = 2 * math.pi * offset_hz
    m = np.array([1.0, 0.0, 0.0])
    for w in 2 * math.pi * np.abs(np.asarray(signal_hz)):  # free spin at -omega_RF, the field adds omega_1 along x
        field = np.array([w, 0.0, -w_rf])
        m = rotate(m, field, float(np.linalg.norm(field)) * dt)
    duration = len(signal_hz) * dt
    free = np.array([math.cos(w_rf * duration), math.sin(w_rf * duration)])  # no pulse
    return math.atan2(free[0] * m[1] - free[1] * m[0], free[0] * m[0] + free[1] * m[1])


@pytest.mark.parametrize("pulse,b1_peak_t", [(FermiPulse(), 4e-6), (FermiPulse(8e-3, 2000.0, 0.3e-3), 1.5e-6)])
def test_k_bs_matches_the_bloch_rotation_of_the_fermi_pulse(pulse, b1_peak_t):
    plus, minus = bloch_phase(pulse, b1_peak_t, pulse.offset_hz), bloch_phase(pulse, b1_peak_t, -pulse.offset_hz)
    k_numerical = abs(plus - minus) / (2 * b1_peak_t**2)
    assert pulse.k_bs() == pytest.approx(k_numerical, rel=0.01)


def test_k_bs_of_the_pulse_a_seq_plays_matches_its_bloch_rotation(tmp_path):
    path = tmp_path / "b1-bs.seq"
    build(load_protocol("b1-bs")).seq.write(str(path))
    pulse = played_pulse(path)
    signal = np.asarray(pulse.signal_hz)
    plus, minus = (bloch_phase_of_samples(signal, pulse.dt_s, f) for f in (pulse.offset_hz, -pulse.offset_hz))
    k_numerical = abs(plus - minus) / (2 * pulse.peak_t**2)
    assert pulse.k_bs() == pytest.approx(k_numerical, rel=0.005)
    # what the images' sidecars state, so that they fit without the .seq: that K_BS and the protocol's 8 uT peak
    keys = acquisition_keys("b1-bs", path)
    assert keys["BlochSiegertOffset"] == [4000.0, -4000.0]
    assert keys["BlochSiegertKBS"] == pytest.approx(k_numerical, rel=0.005)
    assert keys["BlochSiegertNominalPeakB1"] == pytest.approx(8e-6, rel=1e-3)


def _phase_series(path, sidecar: dict, k_bs: float, peak_t: float, b1) -> Path:
    """Phase images (rad) at +f and -f of a pulse with ``k_bs`` (rad/T^2) and nominal peak ``peak_t`` (T) at the
    relative field ``b1``, under a B0 phase common to both, as NIfTI + ``sidecar``."""
    phi = k_bs * (peak_t * b1) ** 2
    background = np.linspace(-1.0, 1.0, b1.size).reshape(b1.shape)
    data = np.angle(np.exp(1j * np.stack([background + phi, background - phi])))  # (volume, z, y, x)
    nib.save(nib.Nifti1Image(data.transpose(3, 2, 1, 0), np.diag([2.0, 2.0, 5.0, 1.0])), str(path))
    sidecar_path(path).write_text(json.dumps(sidecar))
    return path


def test_imported_phase_images_take_the_pulse_from_their_sidecar_or_say_what_is_missing(tmp_path):
    """Another site's Bloch-Siegert images without the .seq: a pulse at 2 kHz, 9 uT nominal peak, whose K_BS its
    sidecar states as 60 rad/G^2 (the units papers give it in, 1 G = 1e-4 T). The fit must use it: the 6 ms Fermi
    pulse it once fell back to has another K_BS."""
    k_bs = 60.0 / 1e-8
    assert abs(FermiPulse(offset_hz=2000.0).k_bs() / k_bs - 1) > 0.4
    b1 = np.linspace(0.7, 1.3, 24).reshape(2, 3, 4)
    offsets = {"BlochSiegertOffset": [2000.0, -2000.0]}
    stated = _phase_series(tmp_path / "site.nii.gz", {**offsets, "BlochSiegertKBS": k_bs,
                                                             "BlochSiegertNominalPeakB1": 9e-6}, k_bs, 9e-6, b1)
    result = CliRunner().invoke(main, ["fit", "b1-bs", str(stated), "-o", str(tmp_path / "maps")])
    assert result.exit_code == 0, result.output
    fitted = np.asarray(nib.load(str(tmp_path / "maps" / "site_TB1map.nii.gz")).dataobj).transpose(2, 1, 0)
    assert np.allclose(fitted, 100 * b1, rtol=1e-6)  # percent
    bare = _phase_series(tmp_path / "bare.nii.gz", offsets, k_bs, 9e-6, b1)
    result = CliRunner().invoke(main, ["fit", "b1-bs", str(bare), "-o", str(tmp_path / "none")])
    assert result.exit_code == 2 and result.output.count("\n") == 1, result.output
    assert str(bare) in result.output and "BlochSiegertKBS or BlochSiegertNominalPeakB1" in result.output
    assert "--seq" in result.output and not (tmp_path / "none").exists()


def test_fit_recovers_relative_b1_from_complex_and_phase_images():
    pulse = FermiPulse()
    nominal = 5e-6
    b1 = np.linspace(0.6, 1.4, 30)
    phi = pulse.k_bs() * (b1 * nominal) ** 2
    background = np.linspace(-2, 2, 30)  # B0 and receive phase: cancel in the difference
    images = 100 * np.exp(1j * (background + np.array([phi, -phi])))
    maps = fit_b1_bloch_siegert(images[:, None, :], nominal, pulse)
    assert np.allclose(maps["B1"][0], b1, rtol=1e-9)
    phase_only = fit_b1_bloch_siegert(np.angle(images)[:, None, :], nominal, pulse)
    assert np.allclose(phase_only["B1"][0], b1, rtol=1e-9)
    rng = np.random.default_rng(5)
    one = np.repeat(images[:, 10:11], 4000, axis=1)
    sigma = 3.0
    noisy = one + sigma * (rng.standard_normal(one.shape) + 1j * rng.standard_normal(one.shape))
    fitted = fit_b1_bloch_siegert(noisy[:, None, :], nominal, pulse, noise_sigma=sigma)
    assert np.mean(fitted["B1"]) == pytest.approx(b1[10], rel=0.01)
    assert np.std(fitted["B1"]) == pytest.approx(np.median(fitted["B1_crlb"]), rel=0.1)


def test_out_of_range_and_bad_input():
    pulse = FermiPulse()
    phi = pulse.k_bs() * (np.array([0.5, 8.0, 19.0]) * 1e-6) ** 2
    images = np.exp(1j * np.array([phi, -phi]))[:, None, :]
    assert fit_b1_bloch_siegert(images, 5e-6, pulse)["out_of_range"][0].tolist() == [True, False, True]
    with pytest.raises(HarmoniqError, match="nominal peak B1"):
        fit_b1_bloch_siegert(images, 0.0, pulse)
