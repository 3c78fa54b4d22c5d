"""Diffusion in the isochromat engine against the extended phase graphs and a closed form.

1. RF-spoiled steady state: a hard-pulse train whose spoiler gradient is on for the whole
   TR (the case :func:`harmoniq.simulation.epg.spoiled_gre` models) on a 3D voxel with water's
   diffusivity, against the regular EPG of the sycomore package (an independent implementation,
   ``sycomore_reference.py``; our EPG agrees with it in ``test_epg_diffusion.py``).
2. A bipolar pair (moment k up over tau, back over tau) on a single spin after a 90: the
   gradient echo is damped by the closed form exp(-4 pi^2 D int k(t)^2 dt) (Stejskal and
   Tanner, J Chem Phys 1965;42:288), int k^2 dt = 2 k^2 tau / 3.
"""

import math
import sys
from pathlib import Path

import numpy as np
import pypulseq as pp
import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "simulation"))
sys.path.insert(0, str(Path(__file__).parent))
import sycomore_reference  # noqa: E402
from sim_sequences import HARD_PULSE_S, _hard, _sample, echo_signals, system, uniform_phantom  # noqa: E402

from harmoniq.phantoms.water import water_diffusivity_m2_s  # noqa: E402
from harmoniq.simulation import epg  # noqa: E402
from harmoniq.simulation.spins import SpinSampling  # noqa: E402

D_WATER = water_diffusivity_m2_s(20.0)
VOXEL_M = 1e-3


def _spoiled_train(flip_deg: float, tr: float, pulses: int, lobe_cycles_per_m: float, increment_deg: float):
    """Hard pulse, one sample, then a z gradient on for the rest of the TR (fast ramps)."""
    sys_ = system(max_slew=1000, slew_unit="T/m/s")
    seq = pp.Sequence(sys_)
    rest = tr - HARD_PULSE_S - 30e-6
    rise = 10e-6
    amplitude = lobe_cycles_per_m / (rest - rise)
    spoiler = pp.make_trapezoid("z", amplitude=amplitude, flat_time=rest - 2 * rise, rise_time=rise, fall_time=rise,
                                system=sys_)
    phase = increment = 0.0
    for _ in range(pulses):
        seq.add_block(_hard(flip_deg, sys_, phase))
        _sample(seq, sys_, math.radians(phase))
        seq.add_block(spoiler)
        increment += increment_deg
        phase = (phase + increment) % 360.0
    return seq


def _with_diffusion(phantom, d):
    phantom.diffusivity_m2_s = np.full(phantom.shape, d)
    return phantom


@pytest.mark.parametrize("increment_deg", [50.0, 117.0, 150.0])
def test_rf_spoiled_steady_state_with_diffusion_matches_sycomore(increment_deg):
    flip, tr, t1, t2, pulses = 20.0, 0.010, 1.989, 1.465, 200  # NIST sphere 1 at 3 T
    lobe = 1.0 / VOXEL_M  # one cycle per voxel per TR
    seq = _spoiled_train(flip, tr, pulses, lobe, increment_deg)
    phantom = _with_diffusion(uniform_phantom(t1=t1, t2=t2, voxel_m=(VOXEL_M,) * 3), D_WATER)
    iso = abs(echo_signals(seq, phantom, sampling=SpinSampling())[-1])
    reference = abs(sycomore_reference.spoiled_gre(math.radians(flip), tr, t1, t2, math.radians(increment_deg), pulses,
                                                   D_WATER, 2 * math.pi * lobe))
    without = abs(epg.spoiled_gre(math.radians(flip), tr, t1, t2, phase_increment_rad=math.radians(increment_deg),
                                  n_pulses=pulses))
    print(f"{increment_deg}: isochromats {iso:.6f}, sycomore {reference:.6f}, EPG without diffusion {without:.6f}")
    assert iso == pytest.approx(reference, rel=0.01)
    assert abs(without / reference - 1) > 0.05  # diffusion changes this steady state visibly


def test_a_bipolar_pair_damps_the_echo_by_the_closed_form():
    sys_ = system(max_slew=1000, slew_unit="T/m/s")
    seq = pp.Sequence(sys_)
    seq.add_block(_hard(90.0, sys_))
    lobe_area, tau, rise = 16e3, 10e-3, 1e-4  # cycles/m, up over 10 ms and back over 10 ms
    amplitude = lobe_area / (tau - rise)
    for sign in (1, -1):
        seq.add_block(pp.make_trapezoid("x", amplitude=sign * amplitude, flat_time=tau - 2 * rise, rise_time=rise,
                                        fall_time=rise, system=sys_))
    _sample(seq, sys_)
    phantom = uniform_phantom(t1=1e3, t2=1e3, voxel_m=(VOXEL_M,) * 3)
    plain = abs(echo_signals(seq, phantom)[-1])
    damped = abs(echo_signals(seq, _with_diffusion(phantom, D_WATER))[-1])
    # int k(t)^2 dt of the two trapezoids, summed on a fine grid
    t = np.linspace(0, 2 * tau, 200001)
    g = amplitude * np.clip(np.minimum(t, tau - t) / rise, 0, 1) - amplitude * np.clip(
        np.minimum(t - tau, 2 * tau - t) / rise, 0, 1)
    k = np.concatenate(([0.0], np.cumsum(0.5 * (g[1:] + g[:-1]) * np.diff(t))))
    b = 4 * math.pi**2 * np.trapezoid(k**2, t)
    assert b == pytest.approx(4 * math.pi**2 * lobe_area**2 * 2 * tau / 3, rel=0.02)  # ramps aside: 2 k^2 tau / 3
    assert damped / plain == pytest.approx(math.exp(-b * D_WATER), rel=1e-4)
    assert b * D_WATER > 0.1


def test_voxels_with_different_diffusivities_each_follow_the_epg():
    flip, tr, t1, t2, pulses, increment = 20.0, 0.010, 1.989, 1.465, 200, 117.0
    lobe = 1.0 / VOXEL_M
    seq = _spoiled_train(flip, tr, pulses, lobe, increment)
    phantom = uniform_phantom(shape=(1, 1, 2), t1=t1, t2=t2, voxel_m=(VOXEL_M,) * 3)
    phantom.diffusivity_m2_s = np.array([[[D_WATER, 0.3 * D_WATER]]])
    iso = abs(echo_signals(seq, phantom, sampling=SpinSampling())[-1])
    reference = np.mean([abs(epg.spoiled_gre(math.radians(flip), tr, t1, t2, phase_increment_rad=math.radians(increment),
                                             n_pulses=pulses, diffusion_m2_s=d, spoiler_rad_m=2 * math.pi * lobe))
                         for d in (D_WATER, 0.3 * D_WATER)])
    assert iso == pytest.approx(reference, rel=0.01)


def test_a_diffusivity_map_off_the_grid_is_refused():
    from harmoniq.errors import HarmoniqError

    phantom = uniform_phantom(shape=(1, 1, 2), voxel_m=(VOXEL_M,) * 3)
    phantom.diffusivity_m2_s = np.full((1, 1, 3), D_WATER)
    with pytest.raises(HarmoniqError, match="needs the grid's shape"):
        echo_signals(_spoiled_train(20.0, 0.01, 3, 1.0 / VOXEL_M, 117.0), phantom, sampling=SpinSampling())
