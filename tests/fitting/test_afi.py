"""AFI B1: the ratio against Yarnykh's exact steady state and a brute-force pulse-by-pulse
propagation of a perfectly spoiled dual-TR sequence, and the fit on noisy images."""

import math

import numpy as np
import pytest

from harmoniq.errors import HarmoniqError
from harmoniq.fitting.afi import afi_ratio, fit_b1_afi

TR1, TR2 = 0.02, 0.1  # n = 5, as in Yarnykh, MRM 2007;57:192 (TR1/TR2 = 20/100 ms)


def brute_force_afi(flip, t1, tr1=TR1, tr2=TR2, cycles=400):
    """Perfect spoiling: each pulse keeps Mz cos a and the signal Mz sin a; relax TR1, pulse, relax TR2, ..."""
    mz = 1.0
    for _ in range(cycles):
        s1 = mz * math.sin(flip)
        mz = 1 - (1 - mz * math.cos(flip)) * math.exp(-tr1 / t1)
        s2 = mz * math.sin(flip)
        mz = 1 - (1 - mz * math.cos(flip)) * math.exp(-tr2 / t1)
    return s1, s2


def yarnykh_exact(flip, t1, tr1=TR1, tr2=TR2):
    """Yarnykh 2007, eq. 2 (M0 = 1)."""
    e1, e2, c = math.exp(-tr1 / t1), math.exp(-tr2 / t1), math.cos(flip)
    den = 1 - e1 * e2 * c * c
    return (math.sin(flip) * (1 - e2 + (1 - e1) * e2 * c) / den, math.sin(flip) * (1 - e1 + (1 - e2) * e1 * c) / den)


@pytest.mark.parametrize("flip_deg,t1", [(30, 0.5), (60, 1.0), (80, 2.0)])
def test_brute_force_matches_yarnykh_and_the_ratio_tends_to_the_closed_form(flip_deg, t1):
    flip = math.radians(flip_deg)
    assert np.allclose(brute_force_afi(flip, t1), yarnykh_exact(flip, t1), rtol=1e-9)
    s1, s2 = brute_force_afi(flip, 1000 * t1)  # TR << T1: the closed form's limit
    assert s2 / s1 == pytest.approx(float(afi_ratio(flip, TR2 / TR1)), rel=1e-3)


def test_fit_recovers_b1_with_the_first_order_bias_and_noise():
    b1 = np.linspace(0.7, 1.3, 40)
    flip, t1 = math.radians(60), 1.0
    signals = np.array([brute_force_afi(flip * b, t1) for b in b1]).T * 1000  # (2, 40)
    fitted = fit_b1_afi(signals[:, None, :], flip, (TR1, TR2))["B1"][0]
    assert np.all(np.abs(fitted / b1 - 1) < 0.005)  # the closed form's first-order TR/T1 bias at T1 = 1 s: 0.1-0.4 %
    exact = fit_b1_afi((np.array([brute_force_afi(flip * b, 1e3) for b in b1]).T * 1000)[:, None, :], flip, (TR1, TR2))
    assert np.allclose(exact["B1"][0], b1, rtol=1e-4)
    rng = np.random.default_rng(3)
    sigma = 2.0
    one = np.repeat(signals[:, :1], 4000, axis=1)  # B1 0.7, 4000 noise draws
    noisy = one + sigma * rng.standard_normal(one.shape)
    maps = fit_b1_afi(noisy[:, None, :], flip, (TR1, TR2), noise_sigma=sigma)
    assert np.std(maps["B1"]) == pytest.approx(np.median(maps["B1_crlb"]), rel=0.1)


def test_out_of_range_and_bad_input():
    flip = math.radians(60)
    signals = np.array([brute_force_afi(flip * b, 1e3) for b in (0.2, 1.0, 1.55)]).T
    assert fit_b1_afi(signals[:, None, :], flip, (TR1, TR2))["out_of_range"][0].tolist() == [True, False, True]
    with pytest.raises(HarmoniqError, match="TR1 < TR2"):
        fit_b1_afi(signals[:, None, :], flip, (TR2, TR1))


def test_the_pair_is_a_bids_tb1afi_collection(tmp_path):
    """BIDS 1.10, qMRI appendix, "TB1AFI specific notes": the acq label begins with tr1 or tr2."""
    from harmoniq.bids.layout import collection_files, collection_name, collection_stem
    from harmoniq.models import MODELS

    prefix = "sub-nist_ses-ideal3t_acq-b1afi"
    names = [collection_name(prefix, MODELS["b1-afi"].volume_entity, k, "TB1AFI") for k in (2, 1)]
    assert names == ["sub-nist_ses-ideal3t_acq-tr2b1afi_TB1AFI.nii.gz", "sub-nist_ses-ideal3t_acq-tr1b1afi_TB1AFI.nii.gz"]
    for name in names + ["sub-nist_ses-ideal3t_acq-tr1other_TB1AFI.nii.gz"]:
        (tmp_path / name).touch()
    assert [p.name for p in collection_files(tmp_path / names[0])] == names[::-1]
    assert collection_stem(tmp_path / names[0]) == prefix
