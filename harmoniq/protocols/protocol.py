"""Protocol files: load and validate a harmonized protocol definition (TOML).

A protocol names its sequence family, its parameters (unit in every key), the scanners it
targets and, for quantitative protocols, the range of T1/T2 it is designed to measure::

    name = "t1-irse"
    family = "se"
    description = "..."
    targets = "all"               # or a list of scanner profile names
    model = "t1-ir"               # the fit that turns its images into maps
    requires = []                 # protocols whose maps this one needs (t1-vfa: ["b1-dam"])
    [valid_range]                 # optional: designed range of the maps (ms)
    t1_ms = [50.0, 3000.0]
    [parameters]
    ti_ms = [50.0, 100.0, ...]

Loading rejects unknown keys, wrong types and out-of-range values and converts the
parameters once into a typed SI object. This module imports no later stage: whether the
timing is feasible on the targets' hardware is checked where the sequence is built
(:func:`harmoniq.sequences.check_timing`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import sys
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from harmoniq.errors import HarmoniqError
from harmoniq.models import MODELS, NO_MODEL
from harmoniq.names import COIL_COMBINATIONS, RECON_FILTERS, RECON_METHODS, VENDORS, profile_names
from harmoniq.protocols.families import DECLARED, TYPES
from harmoniq.protocols.parameters import Parameters, resolve, to_si

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

_TOP_KEYS = {"name", "family", "description", "targets", "parameters", "valid_range", "model", "requires", "site_variants"}
_RANGE_KEYS = {"t1_ms", "t2_ms", "b1"}


@dataclass(frozen=True)
class ReconOptions:
    """How raw data become images: method, coil combination and k-space filter
    (names from :mod:`harmoniq.names`; ``auto`` lets the reconstruction choose)."""

    method: str = "auto"
    combination: str = "auto"
    filter: str = "none"

    def __post_init__(self):
        for value, valid, what in ((self.method, RECON_METHODS, "method"), (self.combination, COIL_COMBINATIONS,
                                   "combination"), (self.filter, RECON_FILTERS, "filter")):
            if value not in valid:
                raise HarmoniqError(f"recon {what}={value!r} is not valid; choose one of {', '.join(valid)}")


@dataclass(frozen=True)
class Protocol:
    """A checked protocol.

    ``values``: every parameter (defaults filled in) in the file's units, as recorded in
    sidecars; ``parameters``: the same values as a typed, frozen object in SI units, which is
    what the builders read (``parameters.te_s``, ``parameters.fov_m``).
    """

    name: str
    family: str
    description: str
    targets: tuple[str, ...]
    values: dict
    parameters: Parameters
    path: Path
    sha256: str
    valid_range: dict = field(default_factory=dict)
    model: str = NO_MODEL
    requires: tuple[str, ...] = ()
    site_variants: dict = field(default_factory=dict)  # vendor -> its changes in file units

    def with_values(self, **changes) -> "Protocol":
        """The same protocol with some parameters changed (file units, checked).

        Used for site variants and reduced simulation matrices; the original file's sha256
        stays, and the changed values show in every sidecar's parameters.
        """
        values = resolve(f"protocol {self.name}", DECLARED[self.family], {**self.values, **changes})
        return dataclasses.replace(self, values=values, parameters=to_si(TYPES[self.family], values))

    def with_targets(self, targets: list[str]) -> "Protocol":
        """The same protocol for a subset of its target scanners."""
        unknown = [t for t in targets if t not in self.targets]
        if unknown:
            raise HarmoniqError(f"targets {', '.join(unknown)} are not among protocol {self.name}'s targets "
                                f"({', '.join(self.targets)})")
        return dataclasses.replace(self, targets=tuple(targets))

    def harmonized(self) -> "SiteVariant":
        """The harmonized arm: this protocol, unchanged, with the default reconstruction."""
        return SiteVariant("harmonized", self, ReconOptions())

    def site_variant(self, vendor: str) -> "SiteVariant":
        """The variant a site of ``vendor`` runs instead (``[site_variants]`` of the file); the
        protocol itself where the file gives none."""
        changes = dict(self.site_variants.get(vendor.lower(), {}))
        recon = ReconOptions(combination=changes.pop("recon_combination", "auto"),
                             filter=changes.pop("recon_filter", "none"))
        return SiteVariant(vendor.lower(), self.with_values(**changes) if changes else self, recon)


@dataclass(frozen=True)
class SiteVariant:
    """What one site runs: its protocol (changed parameters) and its reconstruction choices.

    Variants are plausible local choices (TR, spoiling increment, flip angles, refocusing,
    echo spacing, vendor-like k-space filter and coil combination), not any vendor's real
    product protocol.
    """

    vendor: str
    protocol: Protocol
    recon: ReconOptions


def _library():
    return resources.files("harmoniq.protocol_library")


def list_protocols() -> list[str]:
    """Names of the shipped protocols."""
    return sorted(p.name[: -len(".toml")] for p in _library().iterdir() if p.name.endswith(".toml"))


def _locate(name_or_path: str | os.PathLike) -> Path:
    path = Path(name_or_path)
    if path.suffix == ".toml" or path.exists():
        if not path.is_file():
            raise HarmoniqError(f"protocol file {path} does not exist")
        return path
    shipped = _library() / f"{name_or_path}.toml"
    if not shipped.is_file():
        raise HarmoniqError(
            f"protocol {name_or_path!r} is neither a file nor a shipped protocol; shipped: {', '.join(list_protocols())}"
        )
    return Path(str(shipped))


def _targets(src: str, value) -> tuple[str, ...]:
    known = profile_names()
    if value == "all":
        return tuple(known)
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise HarmoniqError(f"{src}: targets={value!r} must be \"all\" or a non-empty list of scanner names")
    for v in value:
        if v not in known and not Path(v).is_file():
            raise HarmoniqError(f"{src}: target {v!r} is not a scanner profile; known: {', '.join(known)}")
    return tuple(value)


def _valid_range(src: str, table) -> dict:
    if not isinstance(table, dict):
        raise HarmoniqError(f"{src}: [valid_range] must be a table")
    for key, value in table.items():
        if key not in _RANGE_KEYS:
            raise HarmoniqError(f"{src}: unknown key valid_range.{key}; valid keys are {', '.join(sorted(_RANGE_KEYS))}")
        ok = isinstance(value, list) and len(value) == 2 and all(isinstance(v, (int, float)) for v in value)
        if not ok or not 0 < value[0] < value[1]:
            raise HarmoniqError(f"{src}: valid_range.{key}={value!r} must be [low, high] with 0 < low < high")
    return dict(table)


def _site_variants(src: str, table, family: str) -> dict:
    if not isinstance(table, dict):
        raise HarmoniqError(f"{src}: [site_variants] must be a table of vendors")
    declared = {p.name for p in DECLARED[family]}
    for vendor, changes in table.items():
        if vendor not in VENDORS:
            raise HarmoniqError(f"{src}: site_variants.{vendor} is not a vendor; valid are {', '.join(VENDORS)}")
        for key, value in changes.items():
            if key in ("recon_filter", "recon_combination"):
                valid = RECON_FILTERS if key == "recon_filter" else COIL_COMBINATIONS
                if value not in valid:
                    raise HarmoniqError(f"{src}: site_variants.{vendor}.{key}={value!r}; valid are {', '.join(valid)}")
            elif key not in declared:
                raise HarmoniqError(f"{src}: site_variants.{vendor}.{key} is not a parameter of family {family}")
    return {v: dict(c) for v, c in table.items()}


def load_protocol(name_or_path: str | os.PathLike) -> Protocol:
    """Load a shipped protocol by name or a protocol file by path, its keys and values checked.

    Timing feasibility depends on the targets' hardware and is checked when the sequence is
    built (:func:`harmoniq.sequences.check_timing`).
    """
    path = _locate(name_or_path)
    raw = path.read_bytes()
    src = f"protocol {path.name}"
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise HarmoniqError(f"{src}: not valid TOML ({exc})") from exc
    unknown = sorted(set(data) - _TOP_KEYS)
    if unknown:
        raise HarmoniqError(f"{src}: unknown key {unknown[0]!r}; valid keys are {', '.join(sorted(_TOP_KEYS))}")
    for key in ("name", "family", "description"):
        if not isinstance(data.get(key), str) or not data[key].strip():
            raise HarmoniqError(f"{src}: key {key!r} is required and must be a non-empty string")
    family = data["family"]
    if family not in DECLARED:
        raise HarmoniqError(f"{src}: family={family!r} is unknown; valid families are {', '.join(sorted(DECLARED))}")
    model = data.get("model", NO_MODEL)
    if model != NO_MODEL and model not in MODELS:
        raise HarmoniqError(f"{src}: model={model!r} is unknown; valid models are {', '.join([*MODELS, NO_MODEL])}")
    requires = data.get("requires", [])
    if not isinstance(requires, list) or not all(isinstance(r, str) for r in requires):
        raise HarmoniqError(f"{src}: requires={requires!r} must be a list of protocol names")
    for r in requires:
        if r not in list_protocols() and not Path(r).is_file():
            raise HarmoniqError(f"{src}: requires {r!r}, which is not a protocol; shipped: {', '.join(list_protocols())}")
    site_variants = _site_variants(src, data.get("site_variants", {}), family)
    params = data.get("parameters", {})
    if not isinstance(params, dict):
        raise HarmoniqError(f"{src}: [parameters] must be a table")
    values = resolve(src, DECLARED[family], params)
    return Protocol(
        name=data["name"],
        family=family,
        description=" ".join(data["description"].split()),
        targets=_targets(src, data.get("targets", "all")),
        values=values,
        parameters=to_si(TYPES[family], values),
        path=path,
        sha256=hashlib.sha256(raw).hexdigest(),
        valid_range=_valid_range(src, data.get("valid_range", {})),
        model=model,
        requires=tuple(requires),
        site_variants=site_variants,
    )
