"""Scanner hardware profiles: one TOML file per scanner, loaded into SI dataclasses.

A profile file is flat: every key carries its unit in its name (``grad_raster_us``,
``max_grad_mT_per_m``) and a ``[sources]`` table says where each number comes from
(shipped profiles cite every number and label unpublished ones as assumptions). The
dataclasses hold SI values (s, T/m, T/m/s, Hz, T).
"""

from __future__ import annotations

import math
import os
from decimal import Decimal
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from harmoniq.errors import HarmoniqError

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

_NAME_KEYS = ("name", "vendor", "model")


@dataclass(frozen=True)
class _Key:
    """One numeric or boolean profile key: its SI field, type and file units per SI unit."""

    field: str
    kind: type
    per_si: int = 1


# File key -> SystemLimits field.  Dividing by 1e6 turns us into s, by 1e3 mT/m into T/m.
_LIMIT_KEYS = {
    "grad_raster_us": _Key("grad_raster_time", float, 10**6),
    "rf_raster_us": _Key("rf_raster_time", float, 10**6),
    "adc_raster_us": _Key("adc_raster_time", float, 10**6),
    "adc_delay_raster_us": _Key("adc_delay_raster", float, 10**6),
    "block_raster_us": _Key("block_duration_raster", float, 10**6),
    "rf_dead_time_us": _Key("rf_dead_time", float, 10**6),
    "rf_ringdown_time_us": _Key("rf_ringdown_time", float, 10**6),
    "adc_dead_time_us": _Key("adc_dead_time", float, 10**6),
    "max_grad_mT_per_m": _Key("max_grad", float, 10**3),
    "max_slew_T_per_m_per_s": _Key("max_slew", float),
    "adc_samples_limit": _Key("adc_samples_limit", int),
    "adc_samples_divisor": _Key("adc_samples_divisor", int),
    "max_rf_freq_offset_Hz": _Key("max_rf_freq_offset", float),
    "max_adc_freq_offset_Hz": _Key("max_adc_freq_offset", float),
    "labels_must_be_initialised": _Key("labels_must_be_initialised", bool),
    "trid_segments": _Key("trid_segments", bool),
}
_FIELD_KEY = {"field_strength_T": _Key("field_t", float)}
# Limits a vendor may not publish: an absent key means no limit (None).
_OPTIONAL_KEYS = {"adc_samples_limit", "max_rf_freq_offset_Hz", "max_adc_freq_offset_Hz"}
# Dead and ringdown times may be zero (GE: pge2 needs no padding inside a block, only guard intervals).
_ZERO_ALLOWED = {"rf_dead_time_us", "rf_ringdown_time_us", "adc_dead_time_us"}


@dataclass(frozen=True)
class SystemLimits:
    """What a .seq file must satisfy on one scanner (or on all targets), in SI units.

    Rasters (s): ``grad_raster_time`` (gradient corners, delays, block-relative waveform
    times), ``rf_raster_time`` (RF delays and RF shape times), ``adc_raster_time`` (the ADC
    dwell must be a multiple), ``adc_delay_raster`` (ADC delays), ``block_duration_raster``.
    Dead times (s): ``rf_dead_time`` (before the RF pulse in its block),
    ``rf_ringdown_time`` (after it), ``adc_dead_time`` (before and after the ADC).
    ``max_grad`` (T/m) and ``max_slew`` (T/m/s) per axis; ``adc_samples_limit`` samples per
    ADC event, which must be divisible by ``adc_samples_divisor``; ``max_rf_freq_offset``
    and ``max_adc_freq_offset`` (Hz, absolute value); None where the vendor publishes no limit.
    Vendor rules: ``labels_must_be_initialised`` (a counter INC-ed before it was SET aborts the
    scan); ``trid_segments`` (GE: TRID-labelled segments played as pge2 plays them).
    """

    grad_raster_time: float
    rf_raster_time: float
    adc_raster_time: float
    adc_delay_raster: float
    block_duration_raster: float
    rf_dead_time: float
    rf_ringdown_time: float
    adc_dead_time: float
    max_grad: float
    max_slew: float
    adc_samples_limit: int | None
    adc_samples_divisor: int
    max_rf_freq_offset: float | None
    max_adc_freq_offset: float | None
    labels_must_be_initialised: bool
    trid_segments: bool

    def to_dict(self) -> dict:
        """The limits in the profile-file units, keys with their unit (``grad_raster_us``...);
        limits the targets do not have are left out."""
        return {key: _file_value(getattr(self, spec.field), spec) for key, spec in _LIMIT_KEYS.items()
                if getattr(self, spec.field) is not None}

    def raster_ns(self) -> dict[str, int]:
        """The five rasters as exact integer nanoseconds, keyed by field name."""
        names = ("grad_raster_time", "rf_raster_time", "adc_raster_time", "adc_delay_raster",
                 "block_duration_raster")
        return {name: round(getattr(self, name) * 1e9) for name in names}


@dataclass(frozen=True)
class ScannerProfile:
    """One scanner: identity, nominal field strength (T) and its :class:`SystemLimits`.

    ``field_t`` is the nominal field strength as the vendor labels the system (the DICOM
    MagneticFieldStrength); ``sources`` maps each file key to the origin of its value.
    """

    name: str
    vendor: str
    model: str
    field_t: float
    limits: SystemLimits
    sources: dict[str, str] = field(default_factory=dict)
    path: Path | None = None

    def to_dict(self) -> dict:
        """The profile as its file states it: identity, every limit in file units, ``sources``."""
        field_t = _file_value(self.field_t, _FIELD_KEY["field_strength_T"])
        return {"name": self.name, "vendor": self.vendor, "model": self.model, "field_strength_T": field_t,
                **self.limits.to_dict(), "sources": dict(self.sources)}


def _profiles_dir() -> Path:
    return Path(str(resources.files("harmoniq.scanners") / "profiles"))


def list_profiles() -> list[str]:
    """Names of the shipped scanner profiles, sorted."""
    return sorted(p.stem for p in _profiles_dir().glob("*.toml"))


def load_profile(name_or_path: str | os.PathLike) -> ScannerProfile:
    """Load a shipped profile by name (``"ge-premier-3t"``) or a user's TOML file by path.

    Raises HarmoniqError naming the file and the key for unknown, missing, wrongly typed
    or non-positive entries.
    """
    text = str(name_or_path)
    shipped = _profiles_dir() / f"{text}.toml"
    if text in list_profiles():
        path = shipped
    elif text.endswith(".toml") or os.sep in text or "/" in text:
        path = Path(text)
        if not path.is_file():
            raise HarmoniqError(f"scanner profile file {path} does not exist")
    else:
        raise HarmoniqError(
            f"scanner profile {text!r} is unknown; choose one of {', '.join(list_profiles())} "
            "or give the path of a .toml profile file"
        )
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise HarmoniqError(f"scanner profile {path}: not valid TOML ({exc})") from exc
    return _profile_from_dict(data, path)


def _profile_from_dict(data: dict, path: Path) -> ScannerProfile:
    allowed = set(_NAME_KEYS) | set(_LIMIT_KEYS) | set(_FIELD_KEY) | {"sources"}
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise HarmoniqError(
            f"scanner profile {path}: unknown key {unknown[0]!r}; valid keys are {', '.join(sorted(allowed))}"
        )
    missing = sorted((set(_NAME_KEYS) | set(_LIMIT_KEYS) | set(_FIELD_KEY)) - set(data) - _OPTIONAL_KEYS)
    if missing:
        raise HarmoniqError(f"scanner profile {path}: missing key {missing[0]!r}")
    for key in _NAME_KEYS:
        if not isinstance(data[key], str) or not data[key].strip():
            raise HarmoniqError(f"scanner profile {path}: key {key!r} must be a non-empty string")
    keys = {**_LIMIT_KEYS, **_FIELD_KEY}
    si = {spec.field: _si_value(path, key, data[key], spec) if key in data else None for key, spec in keys.items()}
    field_t = si.pop("field_t")
    sources = _sources(path, data.get("sources", {}), set(keys))
    return ScannerProfile(name=data["name"], vendor=data["vendor"], model=data["model"], field_t=field_t,
                          limits=SystemLimits(**si), sources=sources, path=path)


def _si_value(path: Path, key: str, value, spec: _Key):
    if spec.kind is bool:
        if not isinstance(value, bool):
            raise HarmoniqError(f"scanner profile {path}: key {key!r} must be true or false, not {value!r}")
        return value
    valid_types = (int,) if spec.kind is int else (int, float)
    if isinstance(value, bool) or not isinstance(value, valid_types):
        wanted = "an integer" if spec.kind is int else "a number"
        raise HarmoniqError(f"scanner profile {path}: key {key!r} must be {wanted}, not {value!r}")
    if key in _ZERO_ALLOWED:
        if not math.isfinite(value) or value < 0:
            raise HarmoniqError(f"scanner profile {path}: key {key!r} must be zero or positive, not {value!r}")
    elif not math.isfinite(value) or value <= 0:
        raise HarmoniqError(f"scanner profile {path}: key {key!r} must be positive, not {value!r}")
    if spec.kind is int:
        return value
    # Decimal division gives the float nearest the decimal value: 0.1 us -> exactly 1e-07.
    return float(Decimal(repr(float(value))) / Decimal(spec.per_si))


def _sources(path: Path, table, keys: set[str]) -> dict[str, str]:
    if not isinstance(table, dict):
        raise HarmoniqError(f"scanner profile {path}: 'sources' must be a table of key = \"source\" entries")
    for key, text in table.items():
        if key not in keys:
            raise HarmoniqError(f"scanner profile {path}: sources names unknown key {key!r}")
        if not isinstance(text, str):
            raise HarmoniqError(f"scanner profile {path}: sources.{key} must be a string")
    return dict(table)


def _file_value(value, spec: _Key):
    """SI value -> file units, rounded to 9 significant digits (20.0, not 20.000000000000004)."""
    if spec.kind is float:
        return float(f"{value * spec.per_si:.9g}")
    return value
