"""EPG engine: closed forms, stimulated echoes, and an independent isochromat Bloch simulation."""

import math

import numpy as np
import pytest

from harmoniq.backend import gpu_available
from harmoniq.simulation import epg


# ---- an independent reference: a sum of isochromats with rotation matrices -------------------

def _rotation(flip, phase):
    """Rotation by ``flip`` about the transverse axis at angle ``phase`` (right-handed)."""
    c, s = math.cos(flip), math.sin(flip)
    rx = np.array([[1, 0, 0], [0, c, -s], [0, s, c]])
    cz, sz = math.cos(phase), math.sin(phase)
    rz = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    return rz @ rx @ rz.T


class Isochromats:
    """Spins dephased uniformly over 2 pi by one gradient unit; signal = mean of Mx + i My."""

    def __init__(self, n_spins):
        self.m = np.zeros((3, n_spins))
        self.m[2] = 1.0
        self.theta = 2 * np.pi * np.arange(n_spins) / n_spins

    def rf(self, flip, phase):
        self.m = _rotation(flip, phase) @ self.m

    def relax(self, t, t1, t2):
        e1, e2 = math.exp(-t / t1), math.exp(-t / t2)
        self.m[:2] *= e2
        self.m[2] = self.m[2] * e1 + 1 - e1

    def dephase(self):
        c, s = np.cos(self.theta), np.sin(self.theta)
        mx, my = self.m[0].copy(), self.m[1].copy()
        self.m[0], self.m[1] = c * mx - s * my, s * mx + c * my

    def spoil(self):
        self.m[:2] = 0

    def signal(self):
        return complex(np.mean(self.m[0] + 1j * self.m[1]))


def bloch_cpmg(etl, esp, t1, t2, refocus, excite, b1):
    spins = Isochromats(8 * etl + 8)
    spins.rf(excite * b1, 0.0)
    echoes = []
    for _ in range(etl):
        spins.dephase()
        spins.relax(esp / 2, t1, t2)
        spins.rf(refocus * b1, math.pi / 2)
        spins.dephase()
        spins.relax(esp / 2, t1, t2)
        echoes.append(spins.signal())
    return np.array(echoes)


def bloch_spoiled_gre(flip, tr, t1, t2, increment, n_pulses, n_spins=720):
    spins = Isochromats(n_spins)
    phase = 0.0
    for n in range(n_pulses):
        phase = (phase + n * increment) % (2 * math.pi)
        spins.rf(flip, phase)
        if n == n_pulses - 1:
            break
        spins.relax(tr, t1, t2)
        spins.dephase()
    return spins.signal() * np.exp(-1j * phase)


# ---- closed forms -------------------------------------------------------------------------------

def test_ideal_180_cpmg_decays_as_exp_minus_n_esp_over_t2():
    t2 = np.array([0.02, 0.08, 0.3])
    echoes = epg.cpmg(12, 0.01, 1.0, t2, math.pi)
    n = np.arange(1, 13)
    assert np.allclose(np.abs(echoes), np.exp(-n[None, :] * 0.01 / t2[:, None]), rtol=1e-12, atol=0)
    # the reference table: T2 80 ms, ESP 10 ms -> 0.88250, 0.77880, 0.68729
    assert np.abs(echoes[1, :3]) == pytest.approx([0.88250, 0.77880, 0.68729], abs=5e-6)


@pytest.mark.parametrize("refocus_deg", [90.0, 120.0, 150.0])
def test_second_echo_is_spin_plus_stimulated_echo(refocus_deg):
    """Echo 2 = sin^4(a/2) e^{-2 ESP/T2} + sin^2(a)/2 e^{-ESP/T2} e^{-ESP/T1} (90 deg excitation)."""
    a, esp, t1, t2 = math.radians(refocus_deg), 0.012, 0.9, 0.07
    echoes = np.abs(epg.cpmg(2, esp, t1, t2, a))
    spin_echo = math.sin(a / 2) ** 4 * math.exp(-2 * esp / t2)
    stimulated = 0.5 * math.sin(a) ** 2 * math.exp(-esp / t2) * math.exp(-esp / t1)
    assert echoes[0] == pytest.approx(math.sin(a / 2) ** 2 * math.exp(-esp / t2), rel=1e-12)
    assert echoes[1] == pytest.approx(spin_echo + stimulated, rel=1e-12)
    if refocus_deg == 90.0:  # without relaxation the classic 0.5, 0.75
        assert np.abs(epg.cpmg(2, 1e-9, 1e9, 1e9, a)) == pytest.approx([0.5, 0.75], abs=1e-8)


def test_perfect_spoiling_gives_the_ideal_spgr_formula():
    flips = np.radians([5.0, 15.0, 40.0])
    t1 = np.array([[0.3], [1.0], [2.0]])
    signal = np.abs(epg.spoiled_gre(flips, 0.01, t1, 0.05, perfect_spoiling=True, n_pulses=3000))
    e1 = np.exp(-0.01 / t1)
    ideal = np.sin(flips) * (1 - e1) / (1 - e1 * np.cos(flips))
    assert np.allclose(signal, ideal, rtol=1e-9)
    # the reference table: T1 1 s, TR 10 ms, 15 deg -> 0.058951
    assert signal[1, 1] == pytest.approx(0.058951, abs=5e-7)


def test_rf_spoiling_increment_changes_the_steady_state():
    """Preibisch and Deichmann 2009: the residual transverse coherence depends on the increment."""
    flip, t1, t2, tr = math.radians(20.0), 1.0, 0.1, 0.015
    ideal = abs(epg.spoiled_gre(flip, tr, t1, t2, perfect_spoiling=True, n_pulses=1500))
    values = {inc: abs(epg.spoiled_gre(flip, tr, t1, t2, phase_increment_rad=math.radians(inc), n_pulses=1500)) for inc in (50, 117, 150)}
    assert len({round(v, 6) for v in values.values()}) == 3
    assert all(abs(v / ideal - 1) > 1e-3 for v in values.values())
    assert abs(values[117] / ideal - 1) < 0.15


# ---- against the isochromat Bloch simulation --------------------------------------------------

@pytest.mark.parametrize("refocus_deg,b1", [(180.0, 0.7), (120.0, 1.0), (150.0, 1.15)])
def test_cpmg_matches_isochromat_bloch(refocus_deg, b1):
    etl, esp, t1, t2 = 10, 0.01, 0.8, 0.06
    ref = bloch_cpmg(etl, esp, t1, t2, math.radians(refocus_deg), math.pi / 2, b1)
    got = epg.cpmg(etl, esp, t1, t2, math.radians(refocus_deg), b1=b1)
    assert np.allclose(got, ref, atol=1e-12)


@pytest.mark.parametrize("increment_deg", [117.0, 50.0])
def test_spoiled_gre_matches_isochromat_bloch(increment_deg):
    flip, tr, t1, t2, n = math.radians(25.0), 0.01, 0.5, 0.04, 150
    ref = bloch_spoiled_gre(flip, tr, t1, t2, math.radians(increment_deg), n)
    got = epg.spoiled_gre(flip, tr, t1, t2, phase_increment_rad=math.radians(increment_deg), n_pulses=n, max_orders=n)
    assert got == pytest.approx(ref, abs=1e-10)


def test_batch_equals_one_by_one():
    t1 = np.array([0.5, 1.0, 2.0])
    t2 = np.array([0.05, 0.1, 0.2])
    b1 = np.array([0.8, 1.0, 1.1])
    batch = epg.cpmg(6, 0.01, t1, t2, math.radians(140), b1=b1)
    single = np.stack([epg.cpmg(6, 0.01, a, b, math.radians(140), b1=c) for a, b, c in zip(t1, t2, b1)])
    assert np.array_equal(batch, single)
    sgre = epg.spoiled_gre(np.radians([10.0, 30.0])[:, None], 0.01, t1, t2, b1=b1, n_pulses=50, max_orders=52)
    assert sgre.shape == (2, 3)
    assert sgre[1, 2] == epg.spoiled_gre(math.radians(30.0), 0.01, 2.0, 0.2, b1=1.1, n_pulses=50, max_orders=52)


@pytest.mark.gpu
def test_cupy_gives_the_numpy_result():
    if not gpu_available():
        pytest.skip("needs CuPy and a CUDA device")
    import cupy

    t2 = np.array([0.03, 0.1])
    ref = epg.cpmg(8, 0.01, 1.0, t2, math.radians(130), b1=0.9)
    got = epg.cpmg(8, 0.01, 1.0, cupy.asarray(t2), math.radians(130), b1=0.9)
    assert isinstance(got, cupy.ndarray)
    assert np.allclose(cupy.asnumpy(got), ref, atol=1e-12)
    ref = epg.spoiled_gre(0.3, 0.01, 1.0, t2, n_pulses=100)
    got = epg.spoiled_gre(0.3, 0.01, 1.0, cupy.asarray(t2), n_pulses=100)
    assert np.allclose(cupy.asnumpy(got), ref, atol=1e-12)
