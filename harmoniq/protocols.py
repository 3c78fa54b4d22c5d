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

Loading rejects unknown keys, wrong types and out-of-range values, and then constructs the
family's builder on the harmonized limits of the targets, so an infeasible timing fails at
load time with the key and the feasible range.
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
from harmoniq.sequences import FAMILIES
from harmoniq.sequences.params import resolve

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

_TOP_KEYS = {"name", "family", "description", "targets", "parameters", "valid_range", "model", "requires", "site_variants"}
#: Vendors a site variant can be given for (matched to a scanner's vendor, lower case).
VENDORS = ("siemens", "ge", "philips")
#: Fitting models a protocol can name (``harmoniq fit MODEL``); "none" for non-quantitative ones.
MODELS = ("t1-ir", "t1-vfa", "b1-dam", "t2-se", "t2-mese", "t2star", "none")
_RANGE_KEYS = {"t1_ms", "t2_ms", "b1"}


@dataclass
class Protocol:
    """A checked protocol: parameters are complete (defaults filled) and in people's units."""

    name: str
    family: str
    description: str
    targets: list[str]
    parameters: dict
    path: Path
    sha256: str
    valid_range: dict = field(default_factory=dict)
    model: str = "none"
    requires: list[str] = field(default_factory=list)
    site_variants: dict = field(default_factory=dict)

    def site_variant(self, vendor: str) -> tuple["Protocol", str, str]:
        """The illustrative variant a site of ``vendor`` might run instead, with its recon filter
        and coil combination.

        Variants are plausible local choices (TR, spoiling increment, flip angles, refocusing,
        echo spacing, vendor-like k-space filter and coil combination), not any vendor's real
        product protocol.
        """
        changes = dict(self.site_variants.get(vendor.lower(), {}))
        recon_filter = changes.pop("recon_filter", "none")
        combination = changes.pop("recon_combination", "auto")
        return (self.with_parameters(**changes) if changes else self), recon_filter, combination

    def with_parameters(self, **changes) -> "Protocol":
        """The same protocol with some parameters changed (checked, timing validated).

        Used for site variants and reduced simulation matrices; the original file's sha256
        stays, and the changed values show in every sidecar's parameters.
        """
        given = {**self.parameters, **changes}
        changed = dataclasses.replace(self, parameters=resolve(f"protocol {self.name}", FAMILIES[self.family][0], given))
        changed.builder()
        return changed

    def builder(self):
        """The family's builder on the harmonized limits of the targets (validates timing)."""
        from harmoniq.scanners import harmonize, load_profile

        limits = harmonize([load_profile(t) for t in self.targets])
        cls = FAMILIES[self.family][1]
        return cls(self.name, self.parameters, limits.to_pypulseq_opts(), limits.limits.segment_tail_gap), limits


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


def _targets(src: str, value) -> list[str]:
    from harmoniq.scanners import list_profiles

    known = list_profiles()
    if value == "all":
        return known
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise HarmoniqError(f"{src}: targets={value!r} must be \"all\" or a non-empty list of scanner names")
    for v in value:
        if v not in known and not Path(v).is_file():
            raise HarmoniqError(f"{src}: target {v!r} is not a scanner profile; known: {', '.join(known)}")
    return list(value)


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
    from harmoniq.recon.filters import FILTERS
    from harmoniq.recon.reconstruct import COMBINATIONS

    if not isinstance(table, dict):
        raise HarmoniqError(f"{src}: [site_variants] must be a table of vendors")
    declared = {p.name for p in FAMILIES[family][0]}
    for vendor, changes in table.items():
        if vendor not in VENDORS:
            raise HarmoniqError(f"{src}: site_variants.{vendor} is not a vendor; valid are {', '.join(VENDORS)}")
        for key, value in changes.items():
            if key in ("recon_filter", "recon_combination"):
                valid = FILTERS if key == "recon_filter" else COMBINATIONS
                if value not in valid:
                    raise HarmoniqError(f"{src}: site_variants.{vendor}.{key}={value!r}; valid are {', '.join(valid)}")
            elif key not in declared:
                raise HarmoniqError(f"{src}: site_variants.{vendor}.{key} is not a parameter of family {family}")
    return {v: dict(c) for v, c in table.items()}


def load_protocol(name_or_path: str | os.PathLike, check_timing: bool = True) -> Protocol:
    """Load a shipped protocol by name or a protocol file by path, fully validated."""
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
    if family not in FAMILIES:
        raise HarmoniqError(f"{src}: family={family!r} is unknown; valid families are {', '.join(sorted(FAMILIES))}")
    model = data.get("model", "none")
    if model not in MODELS:
        raise HarmoniqError(f"{src}: model={model!r} is unknown; valid models are {', '.join(MODELS)}")
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
    protocol = Protocol(
        name=data["name"],
        family=family,
        description=" ".join(data["description"].split()),
        targets=_targets(src, data.get("targets", "all")),
        parameters=resolve(src, FAMILIES[family][0], params),
        path=path,
        sha256=hashlib.sha256(raw).hexdigest(),
        valid_range=_valid_range(src, data.get("valid_range", {})),
        model=model,
        requires=list(requires),
        site_variants=site_variants,
    )
    if check_timing:
        protocol.builder()
    return protocol
