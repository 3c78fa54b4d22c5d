"""The b1-afi .seq plays what actual flip-angle imaging needs, measured from its own blocks:
alternating TR1 / TR2 = n TR1 on one phase-encode line per pair (SET 0 and 1), a non-selective
excitation, net gradient moments of the two intervals in the ratio n (Nehrke, MRM 2009;61:84) and
Yarnykh's strong spoiling (MRM 2010;63:1610, abstract: A_G1 = 450 mT ms/m after TR1 = 20 ms,
quadratic RF spoiling with 39 deg)."""

import numpy as np
import pytest
from conftest import built

from harmoniq.constants import GAMMA_BAR_HZ_PER_T


@pytest.fixture(scope="module")
def afi():
    return built("b1-afi")


def _intervals(seq):
    """Per excitation: RF phase (rad) and net x and z gradient areas (1/m) up to the next excitation."""
    phases, moments = [], []
    for index in range(1, len(seq.block_events) + 1):
        block = seq.get_block(index)
        if block.rf is not None and getattr(block.rf, "use", "") == "excitation":
            phases.append(block.rf.phase_offset)
            moments.append(np.zeros(2))
        if not moments:
            continue
        for k, channel in enumerate(("gx", "gz")):
            grad = getattr(block, channel)
            if grad is not None and not (block.rf is not None and channel == "gz"):  # slab select is rephased
                moments[-1][k] += grad.area
            elif grad is not None:
                moments[-1][k] += grad.area - grad.flat_area / 2 - grad.fall_time * grad.amplitude / 2
    return np.array(phases), np.array(moments)


def test_moments_and_rf_spoiling_follow_nehrke_and_yarnykh(afi):
    p = afi.protocol.parameters
    phases, moments = _intervals(afi.seq)
    assert np.allclose(moments[1:-1:2] / moments[0:-2:2], p.tr_ratio, rtol=1e-6)  # TR2 : TR1 net moments
    area_mt_ms_per_m = np.linalg.norm(moments[0]) / GAMMA_BAR_HZ_PER_T * 1e6  # 1/m -> T s/m -> mT ms/m
    assert area_mt_ms_per_m == pytest.approx(450.0, rel=0.02)
    j = np.arange(phases.size)
    expected = np.mod(np.deg2rad(39.0) * j * (j + 1) / 2, 2 * np.pi)
    assert np.allclose(np.angle(np.exp(1j * (phases - expected))), 0, atol=1e-6)


def test_the_slab_is_excited_non_selectively(afi):
    excitations = [afi.seq.get_block(i) for i in range(1, len(afi.seq.block_events) + 1)]
    excitations = [b for b in excitations if b.rf is not None]
    assert excitations and all(b.gx is None and b.gy is None and b.gz is None for b in excitations)
    assert all(np.ptp(np.abs(b.rf.signal)) == 0 for b in excitations)  # a block pulse


def test_both_trs_of_a_pair_read_the_same_line(afi):
    labels = afi.seq.evaluate_labels(evolution="adc")
    assert np.array_equal(labels["SET"][0::2], np.zeros(labels["SET"].size // 2))
    assert np.array_equal(labels["SET"][1::2], np.ones(labels["SET"].size // 2))
    assert np.array_equal(labels["LIN"][0::2], labels["LIN"][1::2])
    assert np.array_equal(labels["PAR"][0::2], labels["PAR"][1::2])
