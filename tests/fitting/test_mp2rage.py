"""MP2RAGE: the closed-form signals against a brute-force event-by-event propagation of Mz
through inversions, RF pulses and relaxation (written here, independent of the affine
composition), the lookup table's published properties, and the fit (UNI, INV1/INV2, B1)."""

import math

import numpy as np
import pytest

from harmoniq.errors import HarmoniqError
from harmoniq.fitting.mp2rage import Mp2rageTiming, fit_t1_mp2rage, lookup_table, mp2rage_signals, uni

# The 3 T protocol of Marques et al., NeuroImage 2010;49:1271 (TR_MP2RAGE 5 s, TI 0.7 / 2.5 s,
# flips 4 / 5 deg); echo spacing and excitations per block (ours): 7 ms, 160.
PROTOCOL_3T = Mp2rageTiming(5.0, 0.007, (0.7, 2.5), (math.radians(4), math.radians(5)), 160)


def brute_force(t1, timing, b1=1.0, cycles=40):
    """Signals at the k-space centres: every event in time order, Mz relaxes exactly between events,
    a pulse keeps Mz cos a (perfect spoiling) and gives Mz sin a; the inversion keeps -eff Mz."""
    n, tr = timing.n_excitations, timing.tr_gre_s
    centre = n // 2 if timing.n_before is None else timing.n_before
    events = [(0.0, "inv", None, None)]
    for block, (ti, flip) in enumerate(zip(timing.ti_s, timing.flip_rad)):
        events += [(ti + (k - centre) * tr, "rf", b1 * flip, block if k == centre else None) for k in range(n)]
    events.append((timing.tr_mp2rage_s, "end", None, None))
    mz, now, signals = np.ones_like(t1), 0.0, [None, None]
    for _ in range(cycles):
        now = 0.0
        for time, kind, flip, record in events:
            mz = 1 - (1 - mz) * np.exp(-(time - now) / t1)
            now = time
            if kind == "inv":
                mz = -timing.inversion_efficiency * mz
            elif kind == "rf":
                if record is not None:
                    signals[record] = mz * math.sin(flip)
                mz = mz * math.cos(flip)
    return signals


@pytest.mark.parametrize("b1", [1.0, 0.7, 1.3])
def test_signals_match_the_brute_force_propagation(b1):
    t1 = np.array([0.25, 0.8, 1.35, 2.0, 4.0])
    for timing in (PROTOCOL_3T, Mp2rageTiming(6.0, 0.006, (0.8, 2.7), (math.radians(7), math.radians(5)), 176, 44, 0.9)):
        expected = brute_force(t1, timing, b1)
        assert np.allclose(mp2rage_signals(t1, timing, b1), expected, rtol=1e-9, atol=1e-12)


def test_lookup_table_has_the_published_shape():
    """Marques et al. 2010 (Fig. 2): UNI in [-1/2, 1/2], falling monotonically with T1 over the
    brain's range at 3 T (white matter 0.81 s, grey matter 1.35 s, CSF about 4 s there)."""
    t1, values = lookup_table(PROTOCOL_3T)
    assert np.all(np.abs(values) <= 0.5) and np.all(np.diff(values) < 0)
    assert t1[0] < 0.3 and t1[-1] > 4.0
    s1, s2 = mp2rage_signals(np.array([0.81, 1.35]), PROTOCOL_3T)
    assert np.all(s2 > 0) and s1[0] > 0 > s1[1]  # INV1 crosses zero between white and grey matter
    # first-order insensitivity to the transmit field (Marques 2010): 10 % B1 moves T1 by under 3 %
    fitted = fit_t1_mp2rage(np.stack(mp2rage_signals(np.array([0.81, 1.35]), PROTOCOL_3T, 0.9))[:, None], PROTOCOL_3T)
    assert np.allclose(fitted["T1"][0], [0.81, 1.35], rtol=0.03)


def test_fit_recovers_t1_from_uni_inv_images_and_with_b1():
    t1 = np.linspace(0.4, 3.5, 25)
    b1 = np.linspace(0.8, 1.2, 25)
    s1, s2 = mp2rage_signals(t1, PROTOCOL_3T, b1, m0=500.0)
    assert np.allclose(fit_t1_mp2rage(np.stack([s1, s2])[:, None], PROTOCOL_3T, b1=b1[None])["T1"][0], t1, rtol=2e-3)
    plain = mp2rage_signals(t1, PROTOCOL_3T, 1.0, m0=500.0)
    from_uni = fit_t1_mp2rage(uni(*plain)[None, None], PROTOCOL_3T)
    assert np.allclose(from_uni["T1"][0], t1, rtol=2e-4) and not from_uni["out_of_range"].any()
    complex_images = np.stack(plain) * np.exp(1j * 0.7)  # a common phase cancels in UNI
    assert np.allclose(fit_t1_mp2rage(complex_images[:, None], PROTOCOL_3T)["T1"][0], t1, rtol=2e-4)
    rng = np.random.default_rng(11)
    one = np.repeat(np.stack(plain)[:, 8:9], 4000, axis=1)
    sigma = 0.3
    noisy = fit_t1_mp2rage((one + sigma * rng.standard_normal(one.shape))[:, None], PROTOCOL_3T, noise_sigma=sigma)
    assert np.mean(noisy["T1"]) == pytest.approx(t1[8], rel=0.01)
    assert np.std(noisy["T1"]) == pytest.approx(np.median(noisy["T1_crlb"]), rel=0.1)


def test_out_of_table_and_bad_timing():
    maps = fit_t1_mp2rage(np.array([[0.499, 0.0, -0.4999999999]])[None], PROTOCOL_3T)
    assert maps["out_of_range"][0].tolist() == [True, False, True]
    with pytest.raises(HarmoniqError, match="blocks must fit"):
        Mp2rageTiming(5.0, 0.007, (0.3, 2.5), (0.07, 0.09), 160)


def test_lookup_table_matches_the_reference_implementation():
    """UNI(T1) of the open reference implementation of Marques et al. 2010
    (github.com/JosePMarques/MP2RAGE-related-scripts, func/MP2RAGE_lookuptable.m and
    func/MPRAGEfunc.m at commit e136e32, run in GNU Octave 7.3, inversion efficiency 0.96): its 3 T
    protocol with 160 excitations per block, and the 7 T protocol of its DemoForR1Correction.m
    (TR_MP2RAGE 6 s, TR 6.7 ms, TI 0.8 / 2.7 s, flips 4 / 5 deg, 35 excitations before and 72 after
    the centre)."""
    t1 = np.array([0.2, 0.5, 0.8, 1.0, 1.35, 2.0, 3.0, 4.0])
    reference_3t = [0.4857276999117634, 0.3908449259640148, 0.2145409194383330, 0.09615588849722785,
                    -0.08109211760176041, -0.3001807980517940, -0.4490497364193693, -0.4933226838378810]
    reference_7t = [0.4869804349023632, 0.4071515473432913, 0.2451156164006658, 0.1291924592873551,
                    -0.05679411074932245, -0.3102263377208918, -0.4787961219639230, -0.4970764795886560]
    protocol_7t = Mp2rageTiming(6.0, 0.0067, (0.8, 2.7), (math.radians(4), math.radians(5)), 107, 35)
    assert np.allclose(uni(*mp2rage_signals(t1, PROTOCOL_3T)), reference_3t, rtol=0, atol=1e-12)
    assert np.allclose(uni(*mp2rage_signals(t1, protocol_7t)), reference_7t, rtol=0, atol=1e-12)
    # the signals themselves (MPRAGEfunc, M0 = 1) at grey matter's 1.35 s
    assert np.allclose(mp2rage_signals(np.array([1.35]), PROTOCOL_3T), [[-4.063175310683283e-03],
                                                                         [4.977398808259464e-02]], atol=1e-14)
