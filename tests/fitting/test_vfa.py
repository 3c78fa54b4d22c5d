"""Variable-flip-angle T1: B1 correction, EPG spoiling correction, NIST values, curve_fit, errors."""

import math

import numpy as np
import pytest
from scipy.optimize import curve_fit

from harmoniq.errors import HarmoniqError
from harmoniq.fitting import Spoiling, fit_t1_vfa
from harmoniq.phantoms.nist_values import PLATES, sphere_values_s
from harmoniq.simulation.epg import spoiled_gre

FLIPS = np.radians([3.0, 20.0])
TR = 0.015


def ideal_spgr(flip, t1, m0=1.0):
    e1 = np.exp(-TR / t1)
    return m0 * np.sin(flip) * (1 - e1) / (1 - e1 * np.cos(flip))


def nist_t1():
    return np.array([t1 for field in (1.5, 3.0) for plate in PLATES for t1, _ in sphere_values_s(plate, field)])


@pytest.mark.parametrize("method", ["linear", "nonlinear"])
def test_with_the_b1_map_nist_t1_is_recovered_without_it_not(method):
    t1 = nist_t1()
    b1 = np.linspace(0.7, 1.3, t1.size)
    images = ideal_spgr(FLIPS[:, None] * b1[None, :], t1[None, :], 500.0)[:, None, None, :]
    with_b1 = fit_t1_vfa(images, FLIPS, TR, b1=b1[None, None, :], method=method)
    without = fit_t1_vfa(images, FLIPS, TR, method=method)
    # Ernst angle between the effective flips: T1 in [-TR/ln cos(a_max), -TR/ln cos(a_min)]
    lo = -TR / np.log(np.cos(FLIPS[1] * b1))
    hi = -TR / np.log(np.cos(FLIPS[0] * b1))
    inside = (t1 >= lo) & (t1 <= hi)
    error = with_b1["T1"][0, 0] / t1 - 1
    assert np.all(np.abs(error[inside]) < 0.005)
    assert np.array_equal(with_b1["out_of_range"][0, 0], ~inside)
    assert np.allclose(with_b1["M0"][0, 0][inside], 500.0, rtol=1e-3)
    error_without = without["T1"][0, 0] / t1 - 1
    print(f"{method}: max |T1 error| with B1 {np.abs(error[inside]).max():.2e}, without {np.abs(error_without).max():.2f}")
    # T1 scales with about B1^2 when B1 is ignored: -51 % at B1 0.7, +69 % at B1 1.3
    assert error_without[0] < -0.4 and error_without[-1] > 0.5


def test_spoiling_correction_with_epg_for_117_degrees():
    t1 = np.geomspace(0.3, 2.5, 8)[:, None] * np.ones((1, 4))
    b1 = np.linspace(0.7, 1.3, 4)[None, :] * np.ones((8, 1))
    t2 = 0.1  # the simulation and the correction assume the same T2
    increment = math.radians(117.0)
    images = np.abs(spoiled_gre(FLIPS[:, None, None], TR, t1[None], t2, b1=b1[None], phase_increment_rad=increment, n_pulses=1500))
    maps = fit_t1_vfa(images[:, None], FLIPS, TR, b1=b1[None], spoiling=Spoiling(increment, t2))
    corrected = np.abs(maps["T1"][0] / t1 - 1)
    uncorrected = np.abs(maps["T1_uncorrected"][0] / t1 - 1)
    print(f"117 deg spoiling: max T1 error corrected {corrected.max() * 100:.3f} %, uncorrected {uncorrected.max() * 100:.2f} %")
    assert corrected.max() < 0.02
    assert uncorrected.max() > 0.04
    assert maps.info["spoiling_correction"]["SpoilingRFPhaseIncrement"] == pytest.approx(117.0)


def test_nonlinear_agrees_with_scipy_curve_fit_per_voxel():
    rng = np.random.default_rng(2)
    flips = np.radians([2.0, 5.0, 10.0, 15.0, 20.0])
    t1 = rng.uniform(0.4, 2.0, 25)
    b1 = rng.uniform(0.8, 1.2, 25)
    clean = ideal_spgr(flips[:, None] * b1, t1)
    noisy = clean + rng.normal(0, 0.0005, clean.shape)
    maps = fit_t1_vfa(noisy[:, None, None, :], flips, TR, b1=b1[None, None, :])
    linear = fit_t1_vfa(noisy[:, None, None, :], flips, TR, b1=b1[None, None, :], method="linear")
    for v in range(t1.size):
        popt, _ = curve_fit(lambda a, m0, t: ideal_spgr(a, t, m0), flips * b1[v], noisy[:, v], p0=(1.0, t1[v]))
        assert maps["T1"][0, 0, v] == pytest.approx(popt[1], rel=0.005)
    assert not np.allclose(linear["T1"], maps["T1"], rtol=1e-4)  # the linear fit weights the noise differently
    assert np.all(np.isfinite(maps["T1_crlb"]))


@pytest.mark.parametrize(
    "flips,b1,fragment",
    [
        (np.radians([10.0]), 1.0, "at least 2"),
        (np.radians([10.0, 95.0]), 1.0, r"in \(0, 90\) deg"),
        (FLIPS, np.ones((3, 3)), "B1 map has shape"),
    ],
)
def test_bad_input_raises_one_clear_error(flips, b1, fragment):
    with pytest.raises(HarmoniqError, match=fragment):
        fit_t1_vfa(np.ones((flips.size, 1, 2, 2)), flips, TR, b1=b1)


def test_spoiling_correction_leaves_voxels_without_b1_unfitted():
    """A B1 map is NaN outside the object (double-angle ratio 0/0): those voxels get NaN, the
    rest are corrected as with a complete map."""
    t1 = np.array([0.5, 1.0, 1.5])
    increment = math.radians(117.0)
    images = np.abs(spoiled_gre(FLIPS[:, None], TR, t1[None], 0.1, phase_increment_rad=increment, n_pulses=1500))
    b1 = np.array([1.0, np.nan, 1.0])
    maps = fit_t1_vfa(images[:, None, None], FLIPS, TR, b1=b1[None, None], spoiling=Spoiling(increment, 0.1))
    corrected = maps["T1"][0, 0]
    assert np.isnan(corrected[1]) and np.all(np.abs(corrected[[0, 2]] / t1[[0, 2]] - 1) < 0.02)


def test_spoiling_correction_with_diffusion_through_the_spoiler():
    """With diffusion the apparent T1 of a long-T2 sphere turns from too low to too high
    (issue 12's independent EPG: -25..-66 % -> +6..+12 %); the correction that knows D and
    the spoiler moment undoes it, one that ignores them does not."""
    t1, t2, increment = np.array([0.7, 1.454, 1.989]), np.array([0.51, 1.077, 1.465]), math.radians(117.0)
    dk = 2 * math.pi / 1e-3  # one cycle per mm per TR
    images = np.abs(spoiled_gre(FLIPS[:, None], TR, t1[None], t2[None], phase_increment_rad=increment, n_pulses=1500,
                                diffusion_m2_s=2e-9, spoiler_rad_m=dk))
    knows = fit_t1_vfa(images[:, None, None], FLIPS, TR, spoiling=Spoiling(increment, 1.2, 2e-9, dk))
    ignores = fit_t1_vfa(images[:, None, None], FLIPS, TR, spoiling=Spoiling(increment, 1.2))
    assert np.all(np.abs(knows["T1"][0, 0] / t1 - 1) < 0.03)
    assert np.all(knows["T1_uncorrected"][0, 0] / t1 - 1 > 0.03)  # diffusion: apparent T1 too high
    assert np.abs(ignores["T1"][0, 0] / t1 - 1).max() > 0.1
    assert knows.info["spoiling_correction"]["assumed_diffusion_m2_s"] == 2e-9


def test_spoiler_moment_of_the_shipped_protocol_equals_pypulseq_k_space(tmp_path):
    """The moment per TR read from the t1-vfa .seq against pypulseq's own gradient waveforms
    (``Sequence.waveforms_and_times``), integrated here between consecutive excitation centres."""
    import pypulseq as pp

    from harmoniq.fitting.vfa_spoiling import spoiler_moment_rad_m
    from harmoniq.protocols import load_protocol
    from harmoniq.sequences.export import export

    protocol = load_protocol("t1-vfa").with_values(matrix=32, dummy_scans=2)
    seq_path = next(p for p in export(protocol, tmp_path) if str(p).endswith(".seq"))
    seq = pp.Sequence()
    seq.read(str(seq_path))
    waves, excitations = seq.waveforms_and_times()[:2]
    centres = np.asarray(excitations[0])[:40]
    per_axis = []
    for times, values in (np.asarray(w) for w in waves):  # Hz/m, piecewise linear
        running = np.concatenate(([0.0], np.cumsum(0.5 * (values[1:] + values[:-1]) * np.diff(times))))
        per_axis.append(np.diff(np.interp(centres, times, running)))
    expected = 2 * math.pi * np.median(np.linalg.norm(np.array(per_axis), axis=0))
    assert spoiler_moment_rad_m(seq_path) == pytest.approx(expected, rel=0.01)
    # the builder's design: 4 cycles per voxel in x and z plus half the readout in x
    design = 2 * math.pi * math.hypot(4.5 * 32 / 0.25, 4 / 6e-3)
    assert spoiler_moment_rad_m(seq_path) == pytest.approx(design, rel=0.05)


def test_spoiling_correction_with_a_t2_map_recovers_t1_where_one_assumed_t2_cannot():
    """Signals from the sycomore package's EPG with diffusion (independent of ours, see
    tests/physics/sycomore_reference.py): two voxels of T1 1.5 s, T2 0.1 and 1.0 s, the spoiler
    moment of t1-vfa at matrix 64 (1.36 cycles/mm per TR), water's diffusivity."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parents[1] / "physics"))
    import sycomore_reference

    t1, t2, d, moment, pulses = 1.5, np.array([0.1, 1.0]), 2.0e-9, 8563.0, 600
    increment = math.radians(117.0)
    images = np.array([[abs(sycomore_reference.spoiled_gre(f, TR, t1, t2_, increment, pulses, d, moment)) for t2_ in t2]
                       for f in FLIPS])[:, None, None, :]
    spoiling = Spoiling(increment, 0.1, d, moment)
    with_map = fit_t1_vfa(images, FLIPS, TR, spoiling=spoiling, t2=t2[None, None, :])["T1"][0, 0]
    assumed = fit_t1_vfa(images, FLIPS, TR, spoiling=spoiling)["T1"][0, 0]
    print(f"T2 map: {with_map / t1 - 1}, T2 = 0.1 s assumed: {assumed / t1 - 1}")
    np.testing.assert_allclose(with_map, t1, rtol=0.005)
    assert abs(assumed[1] / t1 - 1) > 0.03  # the long-T2 voxel
