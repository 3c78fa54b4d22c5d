"""T1 of the NIST phantom's T1 plate (NiCl2) at 3 T against temperature, phantom versions 1 and 2.

Source: the ISMRM 2020 T1 reproducibility challenge analysis, repository rrsg2020/analysis,
file ``src/nist.py`` (commit 18451b4): CaliberMRI's T1 of the version-2 phantom at 16 to 26 degC
(``temperature_correction``), and the serial-number rule of ``get_reference_NIST_values``:
version 1 below serial 43, version 2 from 43 (the docstring of ``temperature_correction``
says 42; its code, followed here, says 43). As in that file, a version-1 phantom's T1 at
temperature T is its 20 degC value (:mod:`harmoniq.phantoms.nist_values`) times the version-2
ratio T1(T) / T1(20 degC) of the same sphere.

Interpolation (ours): piecewise linear in log T1 between the tabulated temperatures. Published
values exist for the T1 plate at 3 T only; T2 is kept at its 20 degC value.
"""

from __future__ import annotations

import math

import numpy as np

from harmoniq.errors import HarmoniqError

TEMPERATURES_C = (16.0, 18.0, 20.0, 22.0, 24.0, 26.0)
REFERENCE_C = 20.0
VERSIONS = (1, 2)
FIRST_VERSION_2_SERIAL = 43
SOURCE = "rrsg2020/analysis src/nist.py (CaliberMRI version-2 T1 plate, 3 T, 16-26 degC)"

# T1 (ms) of version-2 spheres 1..14 (rows) at TEMPERATURES_C (columns); rrsg2020/analysis src/nist.py
_V2_T1_MS = np.array([
    (1766.68, 1830.34, 1883.97, 1937.34, 1987.50, 2066.95),
    (1274.07, 1317.71, 1330.16, 1355.29, 1367.79, 1395.94),
    (950.71, 963.56, 987.27, 1000.81, 1015.70, 1030.78),
    (675.07, 686.88, 690.08, 695.01, 701.06, 709.48),
    (483.91, 482.91, 484.97, 486.92, 490.24, 494.55),
    (343.00, 341.53, 341.58, 342.58, 344.23, 346.67),
    (243.77, 241.84, 240.86, 240.75, 241.31, 242.45),
    (177.68, 175.94, 174.95, 174.59, 174.78, 175.48),
    (122.99, 121.79, 121.08, 120.80, 120.90, 121.34),
    (87.47, 86.41, 85.75, 85.03, 85.01, 85.28),
    (61.49, 60.70, 60.21, 59.97, 60.00, 60.17),
    (43.79, 43.24, 42.89, 42.72, 42.70, 42.80),
    (31.05, 30.65, 30.40, 30.27, 30.25, 30.31),
    (21.94, 21.62, 21.44, 21.28, 21.26, 21.31),
])


def version_of_serial(serial: int) -> int:
    """Phantom version of serial number ``serial`` (1 below 43, else 2)."""
    return 1 if serial < FIRST_VERSION_2_SERIAL else 2


def _check(temperature_c: float, version: int) -> None:
    if version not in VERSIONS:
        raise HarmoniqError(f"NIST phantom: version={version!r} is not valid; choose 1 (serial < "
                            f"{FIRST_VERSION_2_SERIAL}) or 2")
    if not (isinstance(temperature_c, (int, float)) and TEMPERATURES_C[0] <= temperature_c <= TEMPERATURES_C[-1]):
        raise HarmoniqError(f"NIST phantom: temperature_c={temperature_c!r} is outside the published "
                            f"{TEMPERATURES_C[0]:g}-{TEMPERATURES_C[-1]:g} degC; give a temperature in that range")


def version2_t1_s(temperature_c: float) -> np.ndarray:
    """T1 (s) of version-2 spheres 1..14 at ``temperature_c`` (degC), 3 T."""
    _check(temperature_c, 2)
    log_t1 = [np.interp(temperature_c, TEMPERATURES_C, np.log(row)) for row in _V2_T1_MS]
    return np.exp(log_t1) / 1e3


def temperature_factors(temperature_c: float) -> np.ndarray:
    """T1(T) / T1(20 degC) of spheres 1..14 (the version-2 curves)."""
    return version2_t1_s(temperature_c) / version2_t1_s(REFERENCE_C)


def t1_plate_t1_s(version_1_t1_s, temperature_c: float, version: int, field_t: float) -> np.ndarray:
    """T1 (s) of the T1 plate's spheres 1..14: ``version_1_t1_s`` (20 degC, version 1, at
    ``field_t``) moved to ``temperature_c`` and ``version``; other than 20 degC or version 1
    only at 3 T, where values are published."""
    _check(temperature_c, version)
    if version == 1 and math.isclose(temperature_c, REFERENCE_C):
        return np.asarray(version_1_t1_s, dtype=float)
    if not math.isclose(field_t, 3.0):
        raise HarmoniqError(f"NIST phantom: version {version} at {temperature_c:g} degC has published T1 values "
                            f"at 3 T only, not {field_t:g} T; use version=1 and temperature_c=20 at {field_t:g} T")
    if version == 2:
        return version2_t1_s(temperature_c)
    return np.asarray(version_1_t1_s, dtype=float) * temperature_factors(temperature_c)
