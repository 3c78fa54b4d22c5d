"""Smooth field imperfections of a simulated scanner: B0 offset and transmit B1 scale maps.

B0: the residual field after shimming as low-order real solid spherical harmonics (the
shim terms of a scanner, Romeo and Hoult, MRM 1984;1:44), each coefficient the offset in Hz
at the reference radius R0:

    df(x, y, z) = c_x x/R0 + c_y y/R0 + c_z z/R0 + c_z2 (z^2 - (x^2 + y^2)/2)/R0^2
                  + c_xz xz/R0^2 + c_yz yz/R0^2 + c_x2y2 (x^2 - y^2)/R0^2 + c_xy 2xy/R0^2

B1: the relative transmit amplitude, the centre brightening of a head at 3 T (standing-wave
pattern, Vaughan et al., MRM 2001;46:24) modelled as a quadratic dome plus a left-right tilt:

    b1(x, y, z) = centre - (centre - edge) ((x^2 + y^2)/R^2 + z^2/Rz^2) + tilt x / R

clipped to [0.3, 1.7]; ``edge`` is the value at radius R in the transverse plane.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

B0_TERMS = ("x", "y", "z", "z2", "xz", "yz", "x2y2", "xy")


@dataclass(frozen=True)
class B0Model:
    """Spherical-harmonic coefficients (Hz at ``reference_radius_m``)."""

    coefficients_hz: dict = field(default_factory=dict)
    reference_radius_m: float = 0.1

    def offset_hz(self, positions_m: np.ndarray) -> np.ndarray:
        """Offset map (...) in Hz at ``positions_m`` (..., 3) ordered (x, y, z)."""
        x, y, z = (positions_m[..., i] / self.reference_radius_m for i in range(3))
        basis = {"x": x, "y": y, "z": z, "z2": z * z - 0.5 * (x * x + y * y), "xz": x * z, "yz": y * z,
                 "x2y2": x * x - y * y, "xy": 2 * x * y}
        out = np.zeros(positions_m.shape[:-1])
        for term, value in self.coefficients_hz.items():
            out += value * basis[term]
        return out


@dataclass(frozen=True)
class B1Model:
    """Quadratic transmit pattern (see module doc); all ones when centre == edge and tilt == 0."""

    centre: float = 1.0
    edge: float = 1.0
    radius_m: float = 0.1
    z_radius_m: float = 0.15
    tilt: float = 0.0

    def scale(self, positions_m: np.ndarray) -> np.ndarray:
        x, y, z = (positions_m[..., i] for i in range(3))
        r2 = (x * x + y * y) / self.radius_m**2 + z * z / self.z_radius_m**2
        b1 = self.centre - (self.centre - self.edge) * r2 + self.tilt * x / self.radius_m
        return np.clip(b1, 0.3, 1.7)
