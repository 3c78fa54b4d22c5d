"""Isochromat engine against the extended-phase-graph engine on the same CPMG train."""

import math

import numpy as np
import pytest
from sim_sequences import cpmg, echo_signals, ideal_scanner, uniform_phantom

from harmoniq.simulation import epg
from harmoniq.simulation.spins import SpinSampling

VOXEL_M = 1e-3
SPINS = 64  # orders up to 2 * echoes stay below SPINS / 2: the isochromat sum resolves them


@pytest.mark.parametrize("b1", [0.6, 0.75, 0.9])
def test_cpmg_with_imperfect_refocusing_matches_epg(b1):
    # one crusher of 1 cycle per voxel on each side of every refocusing pulse = one EPG shift
    t1, t2, esp, echoes = 1.0, 0.1, 10e-3, 8
    seq = cpmg(esp, echoes, crusher_area=1.0 / VOXEL_M)
    phantom = uniform_phantom(t1=t1, t2=t2, voxel_m=(VOXEL_M,) * 3)
    iso = np.abs(echo_signals(seq, phantom, ideal_scanner(b1=b1), SpinSampling(per_voxel=(SPINS, 1, 1))))
    reference = np.abs(epg.cpmg(echoes, esp, t1, t2, math.pi, b1=b1))
    np.testing.assert_allclose(iso, reference, rtol=0.01)
    # the stimulated echoes make the train non-monotonic: not a plain exponential
    assert not np.allclose(iso, iso[0] * np.exp(-np.arange(echoes) * esp / t2), rtol=0.02)
