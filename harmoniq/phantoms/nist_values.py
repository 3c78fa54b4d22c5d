"""Reference relaxation times of the ISMRM/NIST system phantom, in one place.

Stupic KF et al., "A standard system phantom for magnetic resonance imaging", Magn Reson Med
2021;86:1194 (doi 10.1002/mrm.28779): phantoms of "version 1" (serial numbers up to 0041),
20 C. Two plates of 14 spheres: the T1 plate ('t1', NiCl2) and the T2 plate ('t2', MnCl2).
"""

from __future__ import annotations

import math

from harmoniq.errors import HarmoniqError

SOURCE = "Stupic et al., Magn Reson Med 2021;86:1194 (ISMRM/NIST system phantom, version 1, 20 C)"
PLATES = ("t1", "t2")
PLATE_SALT = {"t1": "NiCl2", "t2": "MnCl2"}
SPHERES_PER_PLATE = 14
FIELDS_T = (1.5, 3.0)

# (T1 ms, T2 ms) listed from sphere 14 (shortest T1) to sphere 1, as published
_PUBLISHED_MS = {
    ("t1", 1.5): (
        (22.859, 32.45, 46.32, 65.40, 92.70, 132.7, 184.6, 260.1, 367.9, 514.1, 730.8, 1012, 1489, 2033),
        (20.2, 28.7, 41.0, 57.7, 81.9, 117.1, 161.9, 227.7, 321.2, 446.3, 628.5, 859.3, 1244, 1669),
    ),
    ("t2", 1.5): (
        (83.33, 106.4, 160.2, 194.9, 292.9, 413.4, 550.2, 752.2, 1030, 1237, 1539, 1870, 2183, 2736),
        (8.15, 10.47, 15.99, 19.76, 30.62, 45.28, 64.84, 91.76, 140.6, 184.9, 267.0, 416.5, 594.3, 939.4),
    ),
    ("t1", 3.0): (
        (21.719, 30.84, 44.53, 62.70, 89.00, 125.9, 175.3, 247.13, 351.5, 496.7, 706.0, 984.1, 1454, 1989),
        (15.83, 22.38, 31.86, 45.70, 64.30, 90.30, 127.3, 180.8, 255.5, 359.6, 510.1, 717.9, 1077, 1465),
    ),
    ("t2", 3.0): (
        (90.90, 126.9, 176.9, 244.2, 336.5, 458.4, 608.6, 801.7, 1044, 1332, 1604, 1907, 2173, 2480),
        (5.59, 7.91, 11.24, 15.81, 22.56, 31.97, 46.42, 64.07, 96.89, 133.27, 190.94, 278.1, 403.5, 581.3),
    ),
}


def check_field(field_t, what: str) -> float:
    """The reference field (1.5 or 3.0 T) that ``field_t`` names; HarmoniqError otherwise."""
    if isinstance(field_t, (int, float)) and not isinstance(field_t, bool):
        for field in FIELDS_T:
            if math.isclose(float(field_t), field, abs_tol=1e-9):
                return field
    raise HarmoniqError(
        f"{what}: field_t={field_t!r} T has no reference values; choose one of {', '.join(str(f) for f in FIELDS_T)} (T)"
    )


def sphere_values_s(plate: str, field_t: float) -> list[tuple[float, float]]:
    """(T1, T2) in s of spheres 1..14 of ``plate`` ('t1' or 't2') at ``field_t`` (1.5 or 3 T)."""
    if plate not in PLATES:
        raise HarmoniqError(f"NIST phantom: plate={plate!r} is not valid; choose one of {', '.join(PLATES)}")
    t1_ms, t2_ms = _PUBLISHED_MS[(plate, check_field(field_t, "NIST phantom"))]
    return [(t1 / 1e3, t2 / 1e3) for t1, t2 in zip(reversed(t1_ms), reversed(t2_ms))]
