"""Declared protocol parameters: name (unit in the name), type, default, allowed range.

Each sequence family declares its parameters once as a tuple of :class:`Param`; the protocol
loader checks a TOML table against it (unknown keys, wrong types, out-of-range values) and
the builder reads the checked values. People's units (ms, mm, deg, us) stay in the keys;
:func:`si` converts them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from harmoniq.errors import HarmoniqError

_TO_SI = {"_ms": 1e-3, "_mm": 1e-3, "_us": 1e-6, "_deg": 3.141592653589793 / 180.0, "_hz": 1.0}


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


def si(name: str, value):
    """Convert a people's-unit value (unit named by the key's suffix) to SI."""
    for suffix, factor in _TO_SI.items():
        if name.endswith(suffix):
            if isinstance(value, (list, tuple)):
                return [v * factor for v in value]
            return value * factor
    return value


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
