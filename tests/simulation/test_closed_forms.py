"""The engine against closed-form signals (reference/signal_equations.md), each in its regime."""

import math

import numpy as np
import pytest
from sim_sequences import (bssfp, cpmg, echo_signals, fid_train, ideal_scanner, inversion_recovery,
                           uniform_phantom)

from harmoniq.simulation.spins import SpinSampling

TOLERANCE = 0.005


def test_spoiled_gre_with_ideal_spoiling():
    # T2 = 1 ms << TR = 10 ms: no transverse magnetisation survives to the next pulse
    t1, t2, tr, te, flip = 1.0, 1e-3, 10e-3, 0.5e-3, 15.0
    signal = echo_signals(fid_train(flip, tr, te, 400), uniform_phantom(t1=t1, t2=t2))
    e1, a = math.exp(-tr / t1), math.radians(flip)
    expected = math.sin(a) * (1 - e1) / (1 - e1 * math.cos(a)) * math.exp(-te / t2)
    assert abs(signal[-1]) == pytest.approx(expected, rel=TOLERANCE)
    assert math.sin(a) * (1 - e1) / (1 - e1 * math.cos(a)) == pytest.approx(0.058951, abs=1e-6)


@pytest.mark.parametrize("ti, expected", [(0.05, -0.82438), (0.4, -0.26256), (1.1, 0.41234), (2.5, 0.91391)])
def test_inversion_recovery(ti, expected):
    t1, t2, tr, te = 1.0, 0.02, 2.55, 1e-3
    signal = echo_signals(inversion_recovery(ti, tr, te, 4), uniform_phantom(t1=t1, t2=t2))
    # a 90 about x puts +Mz on +y (dM/dt = gamma M x B): Mz = Im(s) / exp(-TE/T2)
    mz = signal[-1].imag / math.exp(-te / t2)
    assert mz == pytest.approx(expected, abs=TOLERANCE * abs(expected) + 1e-5)
    assert mz == pytest.approx(1 - 2 * math.exp(-ti / t1) + math.exp(-tr / t1), abs=1e-3 * TOLERANCE + 1e-5)


def test_spin_echo_train_refocuses_t2prime():
    # T2' = 5 ms dephases 64 spins within ~ms; ideal 180s refocus it at every echo
    t2, esp = 0.08, 10e-3
    phantom = uniform_phantom(t1=1.0, t2=t2, t2prime=5e-3)
    signal = np.abs(echo_signals(cpmg(esp, 3), phantom, sampling=SpinSampling(per_voxel=(4, 4, 4))))
    np.testing.assert_allclose(signal, [0.88250, 0.77880, 0.68729], rtol=TOLERANCE)


def test_balanced_ssfp_on_resonance():
    # Freeman-Hill steady state at TE = TR/2: 0.136587 * exp(-TR/(2 T2)) = 0.133214
    signal = echo_signals(bssfp(60.0, 5e-3, 1200), uniform_phantom(t1=1.0, t2=0.1))
    assert abs(signal[-1]) == pytest.approx(0.133214, rel=TOLERANCE)


def test_double_angle_ratio_gives_transmit_scale():
    b1, flip = 0.9, 60.0
    scanner = ideal_scanner(b1=b1)
    phantom = uniform_phantom(t1=0.5, t2=0.05)
    single = abs(echo_signals(fid_train(flip, 10.0, 1e-3, 1), phantom, scanner)[0])
    double = abs(echo_signals(fid_train(2 * flip, 10.0, 1e-3, 1), phantom, scanner)[0])
    assert double / single == pytest.approx(2 * math.cos(math.radians(b1 * flip)), rel=TOLERANCE)
    assert math.degrees(math.acos(double / single / 2)) == pytest.approx(b1 * flip, rel=TOLERANCE)
