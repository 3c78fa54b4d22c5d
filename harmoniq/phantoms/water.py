"""Self-diffusion coefficient of water against temperature.

Holz, Heil and Sacco, Phys Chem Chem Phys 2000;2:4740, eq. 2 and Table 1 (H2O, 0-100 degC,
a Speedy-Angell power law fitted to their pulsed-gradient NMR data):

    D = D0 (T / Ts - 1)^gamma,  D0 = 1.635e-8 m^2/s,  Ts = 215.05 K,  gamma = 2.063,

which gives 2.023e-9 m^2/s at 20 degC and 2.299e-9 at 25 degC (their Table 1: 2.023 and 2.299)
and 3.04e-9 at 37 degC. The NIST phantom's spheres are aqueous NiCl2 and MnCl2 solutions
(Stupic et al., MRM 2021;86:1194); taking their diffusivity as that of water is our ASSUMPTION
(millimolar salts change it by well under the 5 % that matters here).
"""

from __future__ import annotations

from harmoniq.errors import HarmoniqError

D0_M2_S = 1.635e-8
TS_K = 215.05
GAMMA = 2.063
KELVIN = 273.15


def water_diffusivity_m2_s(temperature_c: float) -> float:
    """Self-diffusion coefficient of liquid water (m^2/s) at ``temperature_c`` (0 to 100 degC)."""
    if not 0.0 <= temperature_c <= 100.0:
        raise HarmoniqError(f"water diffusivity: temperature {temperature_c} degC is not valid; give 0 to 100 degC")
    return D0_M2_S * ((temperature_c + KELVIN) / TS_K - 1.0) ** GAMMA
