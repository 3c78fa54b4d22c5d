"""Water's self-diffusion coefficient against published measurements, and the NIST phantom's map."""

import numpy as np
import pytest

from harmoniq.errors import HarmoniqError
from harmoniq.phantoms import make_phantom
from harmoniq.phantoms.water import water_diffusivity_m2_s


@pytest.mark.parametrize("temperature_c, published", [
    (25.0, 2.299e-9),  # Mills, J Phys Chem 1973;77:685 (tracer diffusion, 25 degC)
    (20.0, 2.023e-9),  # Holz et al., PCCP 2000;2:4740, Table 1
])
def test_water_diffusivity_matches_published_values(temperature_c, published):
    assert water_diffusivity_m2_s(temperature_c) == pytest.approx(published, rel=0.005)


def test_water_diffusivity_rises_with_temperature_and_refuses_ice():
    assert water_diffusivity_m2_s(22.0) > water_diffusivity_m2_s(18.0)
    with pytest.raises(HarmoniqError, match="0 to 100 degC"):
        water_diffusivity_m2_s(-5.0)


def test_nist_phantom_diffuses_as_water_at_its_temperature():
    cold, warm = (make_phantom("nist", matrix=64, temperature_c=t) for t in (18.0, 22.0))
    inside = cold.pd > 0
    assert np.all(cold.diffusivity_m2_s[inside] == water_diffusivity_m2_s(18.0))
    assert np.all(cold.diffusivity_m2_s[~inside] == 0.0)
    assert warm.diffusivity_m2_s.max() > cold.diffusivity_m2_s.max()
