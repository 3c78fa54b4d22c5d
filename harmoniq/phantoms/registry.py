"""The phantom catalogue: ``make_phantom(name, ...)``, ``list_phantoms()``, ``describe(name)``."""

from __future__ import annotations

import inspect
import sys

from harmoniq.errors import HarmoniqError
from harmoniq.phantoms.base import Phantom
from harmoniq.phantoms.brain import make_brain
from harmoniq.phantoms.nist import make_nist
from harmoniq.phantoms.shepp_logan import make_shepp_logan

_CATALOGUE = {
    "nist": (make_nist, "ISMRM/NIST system phantom: T1 (NiCl2) and T2 (MnCl2) plates of 14 reference spheres"),
    "brain": (make_brain, "procedural head: scalp fat, skull, CSF, folded cortex, white matter, deep grey matter"),
    "shepp-logan": (make_shepp_logan, "Shepp-Logan head with a tissue (fat, WM, CSF, GM) per ellipsoid"),
}
_COMMON = ("matrix", "field_t", "ndim", "fov_m")


def list_phantoms() -> list[str]:
    """Names accepted by :func:`make_phantom`."""
    return list(_CATALOGUE)


def _entry(name: str):
    if name not in _CATALOGUE:
        raise HarmoniqError(f"phantom name={name!r} is not known; choose one of {', '.join(_CATALOGUE)}")
    return _CATALOGUE[name]


def summary(name: str) -> str:
    """One line saying what phantom ``name`` is."""
    return _entry(name)[1]


def describe(name: str) -> str:
    """Full description of phantom ``name``: geometry, tissues, sources and its options."""
    builder = _entry(name)[0]
    options = [p for p in inspect.signature(builder).parameters if p not in _COMMON]
    module_doc = inspect.getdoc(sys.modules[builder.__module__])
    return f"{name}: {summary(name)}\n\n{module_doc}\n\nOptions: {', '.join(options)}"


def make_phantom(name: str, matrix=64, field_t: float = 3.0, ndim: int = 2, fov_m=None, **options) -> Phantom:
    """Build phantom ``name`` ('nist', 'brain' or 'shepp-logan') on a ``matrix`` grid.

    matrix: int or per-axis voxel counts; field_t: 1.5 or 3 (T), selects the reference values;
    ndim: 2 (one slice) or 3 (volume); fov_m: field of view in m (None: the phantom's default);
    options: phantom-specific keywords (see :func:`describe`), e.g. plate='both' for 'nist',
    seed=3 for 'brain', supersample=4, device='cpu' or 'gpu' for all.

    >>> p = make_phantom("nist", matrix=64, field_t=1.5)
    >>> p.shape, sorted(p.rois)[:2]
    ((1, 64, 64), [1, 2])
    """
    builder = _entry(name)[0]
    accepted = set(inspect.signature(builder).parameters) - set(_COMMON)
    unknown = sorted(set(options) - accepted)
    if unknown:
        raise HarmoniqError(
            f"phantom {name!r}: option(s) {', '.join(unknown)} not valid; valid options: {', '.join(sorted(accepted))}"
        )
    if fov_m is not None:
        options["fov_m"] = fov_m
    return builder(matrix=matrix, field_t=field_t, ndim=ndim, **options)
