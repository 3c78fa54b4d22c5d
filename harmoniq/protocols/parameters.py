"""Declared protocol parameters: name (unit in the name), type, default, allowed range.

Each sequence family declares its parameters once as a tuple of :class:`Param`
(:mod:`harmoniq.protocols.families`); the protocol loader checks a TOML table against it
(unknown keys, wrong types, out-of-range values) and converts the checked values ONCE into a
typed, frozen :class:`Parameters` object in SI units: ``fov_mm = 250`` in the file is
``parameters.fov_m == 0.25`` in code, ``te_ms`` becomes ``te_s``, ``readout_dwell_us`` becomes
``readout_dwell_s``, ``flip_deg`` becomes ``flip_rad``; lists become tuples.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from harmoniq.errors import HarmoniqError

#: people's unit suffix -> (SI suffix, factor)
_TO_SI = {"_ms": ("_s", 1e-3), "_mm": ("_m", 1e-3), "_us": ("_s", 1e-6), "_deg": ("_rad", math.pi / 180.0),
          "_hz": ("_hz", 1.0), "_ut": ("_t", 1e-6)}


@dataclass(frozen=True)
class Param:
    """One protocol parameter.

    kind: 'int', 'float', 'bool' or 'str'; list_of: True when the value is a list of that kind
    (a single value is accepted as a list of one); low/high: inclusive bounds of each value;
    choices: allowed values for 'str'.
    """

    name: str
    kind: str
    default: Any
    help: str
    low: float | None = None
    high: float | None = None
    list_of: bool = False
    choices: tuple = ()
    low_open: bool = False  # True: value must be strictly above ``low``


def si_name(name: str) -> str:
    """The SI field name of a file key: ``fov_mm`` -> ``fov_m``, ``flip_deg`` -> ``flip_rad``."""
    for suffix, (si_suffix, _) in _TO_SI.items():
        if name.endswith(suffix):
            return name[: -len(suffix)] + si_suffix
    return name


def si(name: str, value):
    """Convert a people's-unit value (unit named by the key's suffix) to SI; lists become tuples."""
    for suffix, (_, factor) in _TO_SI.items():
        if name.endswith(suffix):
            return tuple(v * factor for v in value) if isinstance(value, (list, tuple)) else value * factor
    return tuple(value) if isinstance(value, list) else value


def degrees(radians: float) -> float:
    """Radians -> degrees for BIDS metadata, rounded to 1e-9 deg so that a file's ``15`` deg,
    converted to SI and back, is written as ``15.0`` again."""
    return round(math.degrees(radians), 9)


class Parameters:
    """Base of the typed, frozen SI parameter objects of each family (see :func:`parameter_type`)."""

    def replace(self, **changes) -> "Parameters":
        return dataclasses.replace(self, **changes)


def parameter_type(family: str, declared: tuple[Param, ...]) -> type:
    """A frozen dataclass with one SI field per declared parameter (``GreParameters`` ...)."""
    fields = [(si_name(p.name), tuple if p.list_of else {"int": int, "float": float, "bool": bool, "str": str}[p.kind])
              for p in declared]
    return dataclasses.make_dataclass(f"{family.capitalize()}Parameters", fields, bases=(Parameters,), frozen=True)


def to_si(kind: type, values: dict) -> Parameters:
    """The typed SI object of checked people's-unit ``values`` (as returned by :func:`resolve`)."""
    return kind(**{si_name(k): si(k, v) for k, v in values.items()})


def _check_kind(source: str, p: Param, v):
    ok = {
        "int": lambda x: isinstance(x, int) and not isinstance(x, bool),
        "float": lambda x: isinstance(x, (int, float)) and not isinstance(x, bool),
        "bool": lambda x: isinstance(x, bool),
        "str": lambda x: isinstance(x, str),
    }[p.kind]
    if not ok(v):
        shape = f"a list of {p.kind}" if p.list_of else p.kind
        raise HarmoniqError(f"{source}: {p.name}={v!r} has the wrong type; expected {shape} ({p.help})")
    if p.kind == "float" and not math.isfinite(v):
        raise HarmoniqError(f"{source}: {p.name}={v!r} is not a finite number; give a number ({p.help})")
    if p.choices and v not in p.choices:
        raise HarmoniqError(f"{source}: {p.name}={v!r} is not one of {', '.join(map(str, p.choices))}")
    if p.kind in ("int", "float"):
        below = v <= p.low if (p.low is not None and p.low_open) else (p.low is not None and v < p.low)
        if below or (p.high is not None and v > p.high):
            lo = "-inf" if p.low is None else f"{p.low:g}"
            hi = "inf" if p.high is None else f"{p.high:g}"
            bracket = "(" if p.low_open else "["
            raise HarmoniqError(f"{source}: {p.name}={v!r} is out of range; valid is {bracket}{lo}, {hi}]")


def resolve(source: str, declared: tuple[Param, ...], given: dict) -> dict:
    """Check ``given`` against ``declared``; return every parameter with defaults filled in.

    ``source`` names the input (protocol file) in error messages.
    """
    by_name = {p.name: p for p in declared}
    unknown = sorted(set(given) - set(by_name))
    if unknown:
        raise HarmoniqError(
            f"{source}: unknown parameter {unknown[0]!r}; valid parameters are {', '.join(sorted(by_name))}"
        )
    out = {}
    for p in declared:
        v = given.get(p.name, p.default)
        if v is None:
            raise HarmoniqError(f"{source}: parameter {p.name!r} is required ({p.help})")
        values = v if p.list_of and isinstance(v, list) else [v]
        if p.list_of and not values and p.default != []:
            raise HarmoniqError(f"{source}: {p.name} is an empty list; give at least one value ({p.help})")
        if not p.list_of and isinstance(v, list):
            raise HarmoniqError(f"{source}: {p.name}={v!r} must be a single {p.kind}, not a list")
        for x in values:
            _check_kind(source, p, x)
        out[p.name] = list(values) if p.list_of else v
    return out
