"""Analytic solids for the phantoms: ellipsoids, optionally with a deformed surface.

Points are given as lab-frame coordinates ``x, y, z`` in m (arrays that broadcast against each
other, NumPy or CuPy); ``contains`` returns a boolean array of their broadcast shape.

An ellipsoid with centre c, semi-axes a and orientation M (columns: the body axes in the lab
frame) maps a point p to body coordinates b = M^T (p - c) / a; the point is inside when
rho = |b| <= r(u), u = b / rho, where r = 1 for a plain ellipsoid and r(u) = a smooth function
of the direction for a deformed one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from harmoniq.backend import get_array_module

_IDENTITY = ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0))


class RadialProfile(Protocol):
    """Boundary radius r(b) of a deformed ellipsoid at body point b (body units), rmin <= r <= rmax."""

    bounds: tuple[float, float]

    def __call__(self, bx, by, bz): ...


@dataclass(frozen=True)
class Ellipsoid:
    """Solid ellipsoid: centre (x, y, z) in m, semi-axes along its body axes in m, orientation M.

    ``orientation`` holds M row by row; its columns are the body axes in the lab frame.
    """

    centre_m: tuple[float, float, float]
    semi_axes_m: tuple[float, float, float]
    orientation: tuple[tuple[float, float, float], ...] = _IDENTITY

    def body_coords(self, x, y, z):
        """b = M^T (p - c) / a, one array per body axis."""
        d = (x - self.centre_m[0], y - self.centre_m[1], z - self.centre_m[2])
        m = self.orientation
        return tuple(
            (m[0][j] * d[0] + m[1][j] * d[1] + m[2][j] * d[2]) / self.semi_axes_m[j] for j in range(3)
        )

    def contains(self, x, y, z):
        bx, by, bz = self.body_coords(x, y, z)
        return bx * bx + by * by + bz * bz <= 1.0

    @property
    def reach(self) -> float:
        """Largest body radius of the solid (1 for a plain ellipsoid)."""
        return 1.0

    def bounding_box(self) -> tuple[np.ndarray, np.ndarray]:
        """Lab-frame (lo, hi) corners (x, y, z) in m: half-width_i = reach * sqrt(sum_j (M_ij a_j)^2)."""
        m = np.asarray(self.orientation)
        half = self.reach * np.sqrt(((m * np.asarray(self.semi_axes_m)[None, :]) ** 2).sum(axis=1))
        centre = np.asarray(self.centre_m)
        return centre - half, centre + half


def sphere(centre_m: tuple[float, float, float], radius_m: float) -> Ellipsoid:
    """A sphere as an ellipsoid with equal semi-axes."""
    return Ellipsoid(tuple(float(c) for c in centre_m), (radius_m,) * 3)


@dataclass(frozen=True)
class DeformedEllipsoid(Ellipsoid):
    """Ellipsoid whose surface lies at body radius r(b) given by ``profile`` instead of 1.

    Only points with rmin < rho <= rmax need r(u); the others are decided by rho alone.
    """

    profile: RadialProfile | None = None

    @property
    def reach(self) -> float:
        return self.profile.bounds[1]

    def contains(self, x, y, z):
        bx, by, bz = self.body_coords(x, y, z)
        xp = get_array_module(bx, by, bz)
        bx, by, bz = xp.broadcast_arrays(bx, by, bz)
        rho = xp.sqrt(bx * bx + by * by + bz * bz)
        rmin, rmax = self.profile.bounds
        inside = rho <= rmin
        shell = (rho > rmin) & (rho <= rmax)
        if bool(shell.any()):
            inside[shell] = rho[shell] <= self.profile(bx[shell], by[shell], bz[shell])
        return inside


@dataclass(frozen=True)
class SphereWaves:
    """Smooth random field of zero mean and unit variance: a sum of J plane waves.

    f(u) = sqrt(2 / J) * sum_j cos(w_j n_j . u + phi_j) for random unit vectors n_j, angular
    frequencies w_j (rad per body unit) and phases phi_j; |f| <= sqrt(2 J). On unit vectors u it
    is a field on the sphere; on points it is a 3D field.
    """

    directions: tuple[tuple[float, float, float], ...]
    frequencies: tuple[float, ...]
    phases: tuple[float, ...]

    @classmethod
    def random(cls, rng: np.random.Generator, count: int, frequency_range: tuple[float, float]) -> SphereWaves:
        """Draw ``count`` waves: isotropic directions, uniform frequencies and phases."""
        n = rng.normal(size=(count, 3))
        n /= np.linalg.norm(n, axis=1, keepdims=True)
        w = rng.uniform(*frequency_range, size=count)
        phi = rng.uniform(0.0, 2 * np.pi, size=count)
        return cls(tuple(map(tuple, n.tolist())), tuple(w.tolist()), tuple(phi.tolist()))

    @property
    def max_abs(self) -> float:
        return float(np.sqrt(2 * len(self.phases)))

    def __call__(self, ux, uy, uz):
        xp = get_array_module(ux, uy, uz)
        total = xp.zeros(xp.broadcast(ux, uy, uz).shape)
        for (nx, ny, nz), w, phi in zip(self.directions, self.frequencies, self.phases):
            total += xp.cos(w * (nx * ux + ny * uy + nz * uz) + phi)
        return total * np.sqrt(2.0 / len(self.phases))
