"""NIST phantom T1 plate at 18, 20, 22 degC, versions 1 and 2.

Published direction and size (rrsg2020/analysis src/nist.py, CaliberMRI's version-2 table):
from 20 to 22 degC the long-T1 spheres 1-6 rise (sphere 1 by +2.8 %) and spheres 8-14 fall
slightly (-0.2 to -0.8 %); from 18 to 20 degC sphere 1 rises by +2.9 %. T1MES's NiCl2 tubes
(JCMR 2020, doi:10.1186/s12968-020-00613-3) rose by about 11 ms per degC, the same sign.
Version 2 (serial >= 43) has sphere 1 at 1883.97 ms instead of 1989 ms at 20 degC.
"""

import numpy as np
import pytest

from harmoniq.errors import HarmoniqError
from harmoniq.phantoms import make_phantom
from harmoniq.phantoms.nist_temperature import version_of_serial
from harmoniq.phantoms.nist_values import sphere_values_s


def _t1_plate(**options) -> np.ndarray:
    phantom = make_phantom("nist", matrix=64, field_t=3.0, **options)
    return np.array([phantom.rois[k].t1_s for k in range(1, 15)])


def test_twenty_degrees_version_one_is_the_published_table():
    np.testing.assert_array_equal(_t1_plate(temperature_c=20.0), [t1 for t1, _ in sphere_values_s("t1", 3.0)])


@pytest.mark.parametrize("version", [1, 2])
def test_temperature_moves_t1_in_the_published_direction_and_size(version):
    cold, ref, warm = (_t1_plate(temperature_c=t, version=version) for t in (18.0, 20.0, 22.0))
    rise = warm / ref - 1
    assert 0.025 < rise[0] < 0.031 and 0.026 < ref[0] / cold[0] - 1 < 0.032  # sphere 1: +2.8 %, +2.9 %
    assert np.all(rise[:6] > 0.002)  # spheres 1-6 rise
    assert np.all((rise[7:] < -0.001) & (rise[7:] > -0.009))  # spheres 8-14 fall by 0.2-0.8 %
    assert 20e-3 < (warm[0] - cold[0]) / 4 < 32e-3  # s per degC, sphere 1; T1MES: about 11 ms/degC at 1.5 T


def test_version_two_is_selectable_by_version_or_serial():
    assert _t1_plate(version=version_of_serial(42))[0] == pytest.approx(1.989)
    v2 = _t1_plate(version=version_of_serial(43))
    assert v2[0] == pytest.approx(1.88397) and v2[13] == pytest.approx(0.02144)
    t2_plate = make_phantom("nist", matrix=64, plate="t2", version=2)  # T2 plate unchanged
    assert t2_plate.rois[15].t1_s == make_phantom("nist", matrix=64, plate="t2").rois[15].t1_s


@pytest.mark.parametrize("options,fragment", [
    (dict(temperature_c=30.0), "16-26 degC"),
    (dict(version=3), "choose 1"),
    (dict(temperature_c=22.0, field_t=1.5), "at 3 T only"),
])
def test_unpublished_conditions_are_refused(options, fragment):
    with pytest.raises(HarmoniqError, match=fragment):
        make_phantom("nist", matrix=64, **{"field_t": 3.0, **options})
