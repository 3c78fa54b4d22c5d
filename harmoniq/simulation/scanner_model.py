"""Simulated scanners: a hardware profile name plus a model of its imperfections.

One TOML file per simulated scanner in ``harmoniq/simulation/scanners/`` (named like the
hardware profiles of :mod:`harmoniq.scanners`). Each file states the imperfections of one
class of system -- B0 shim residual, transmit B1 pattern, per-exam transmit calibration,
phantom (room) temperature, receive array, thermal noise and its channel correlation,
gradient delays -- with the published measurement or the assumption (and the range it
stands for) beside every number; docs/scanners.md tabulates them. Keys carry their units
(``_mm``, ``_us``, ``_hz``, ``_degC``); the dataclass holds SI values (temperature in degC).

Each effect has a neutral value that turns it off: ``b0 = B0Model()`` (no offset),
``b1 = B1Model()`` (flat), ``transmit_calibration = 1.0``, ``phantom_temperature_c = 20.0``
(the NIST reference table's temperature); use :func:`dataclasses.replace`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from harmoniq.errors import HarmoniqError
from harmoniq.phantoms.nist_temperature import REFERENCE_C, TEMPERATURES_C
from harmoniq.simulation.coils import LoopArray, loop_sensitivities
from harmoniq.simulation.fields import B0_TERMS, B0Model, B1Model

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

NOISE_REFERENCE_BANDWIDTH_HZ = 100e3
"""Receiver bandwidth (1/dwell) at which ``noise_std`` is given."""
TRANSMIT_CALIBRATION_RANGE = (0.5, 1.5)
"""Accepted per-exam flip-angle scales: a calibration off by more than 50 % is a broken prescan."""


@dataclass(frozen=True)
class NoiseModel:
    """Thermal noise: complex std per sample at 100 kHz, neighbour correlation, channel spread.

    Channel c has std sigma_c = std (1 + spread cos(2 pi c / C + 1)); the correlation of
    channels i, j decays with the distance of their loop centres,
    rho_ij = neighbour_correlation ** (d_ij / d_nearest) (an exponential kernel, positive
    definite in 3D), the usual finding of mutual inductance and shared sample noise
    (Roemer et al., MRM 1990;16:192).
    """

    std: float
    neighbour_correlation: float
    channel_spread: float


@dataclass(frozen=True)
class ScannerModel:
    """A simulated scanner (SI units); see the module doc and the shipped TOML files."""

    name: str
    profile: str
    vendor: str
    model: str
    field_t: float
    description: str
    b0: B0Model
    b1: B1Model
    coils: LoopArray
    noise: NoiseModel
    gradient_delays_s: tuple[float, float, float]
    raw_data_conjugated: bool
    transmit_calibration: float = 1.0
    """Per-exam flip-angle scale left by the prescan's transmitter calibration (1.0: exact)."""
    phantom_temperature_c: float = REFERENCE_C
    """Room (phantom) temperature of the site, degC; the NIST phantom is built at it (neutral:
    20 degC, the temperature of the NIST reference table, Stupic et al., MRM 2021)."""

    @property
    def larmor_hz(self) -> float:
        from harmoniq.constants import PYPULSEQ_GAMMA_HZ_PER_T

        return PYPULSEQ_GAMMA_HZ_PER_T * self.field_t

    def to_dict(self) -> dict:
        """The model as its TOML file states it (keys with their units), e.g. for ``scanners show``."""
        mm = lambda metres: _file_number(metres * 1e3)  # noqa: E731
        return {
            "name": self.name, "profile": self.profile, "vendor": self.vendor, "model": self.model,
            "field_strength_T": self.field_t, "description": self.description,
            "raw_data_conjugated": self.raw_data_conjugated,
            "b0": {"reference_radius_mm": mm(self.b0.reference_radius_m),
                   **{f"{term}_hz": value for term, value in self.b0.coefficients_hz.items()}},
            "b1": {"centre": self.b1.centre, "edge": self.b1.edge, "radius_mm": mm(self.b1.radius_m),
                   "z_radius_mm": mm(self.b1.z_radius_m), "tilt": self.b1.tilt},
            "receive": {"channels": self.coils.channels, "rings": self.coils.rings,
                        "array_radius_mm": mm(self.coils.array_radius_m), "loop_radius_mm": mm(self.coils.loop_radius_m),
                        "ring_spacing_mm": mm(self.coils.ring_spacing_m),
                        "rotation_deg": _file_number(math.degrees(self.coils.rotation_rad))},
            "noise": {"std_at_100khz": self.noise.std, "neighbour_correlation": self.noise.neighbour_correlation,
                      "channel_spread": self.noise.channel_spread},
            "gradient_delay_us": {axis: _file_number(delay * 1e6) for axis, delay in zip("xyz", self.gradient_delays_s)},
            "exam": {"transmit_calibration": self.transmit_calibration,
                     "phantom_temperature_degC": self.phantom_temperature_c},
        }

    def hardware_profile(self):
        """The :mod:`harmoniq.scanners` profile this model refers to (imported lazily)."""
        from harmoniq.scanners import load_profile

        return load_profile(self.profile)

    def b0_hz(self, positions_m: np.ndarray) -> np.ndarray:
        return self.b0.offset_hz(positions_m)

    def b1_scale(self, positions_m: np.ndarray) -> np.ndarray:
        """Played / nominal B1 at ``positions_m``: the coil's pattern times the exam's calibration
        scale, so every RF pulse of the exam gives flip angle ``transmit_calibration * b1(r) * alpha``."""
        return self.transmit_calibration * self.b1.scale(positions_m)

    def coil_maps(self, positions_m: np.ndarray) -> np.ndarray:
        """Receive sensitivities (channels, ...) at ``positions_m`` (..., 3)."""
        return loop_sensitivities(self.coils, positions_m)

    def noise_covariance(self, dwell_s: float) -> np.ndarray:
        """Channel noise covariance (channels, channels) of samples taken with ``dwell_s``."""
        n = self.coils.channels
        centres, _ = self.coils.centres_and_normals()
        dist = np.linalg.norm(centres[:, None] - centres[None, :], axis=-1)
        nearest = np.min(dist + np.diag(np.full(n, np.inf)), axis=1).min() if n > 1 else 1.0
        correlation = self.noise.neighbour_correlation ** (dist / nearest)
        sigma = self.noise.std * (1 + self.noise.channel_spread * np.cos(2 * math.pi * np.arange(n) / n + 1))
        bandwidth_ratio = 1.0 / (dwell_s * NOISE_REFERENCE_BANDWIDTH_HZ)
        return correlation * np.outer(sigma, sigma) * bandwidth_ratio


def _file_number(value: float) -> float:
    """A value converted back to file units, rounded to 9 significant digits (42.0, not 42.00000000000001)."""
    return float(f"{value:.9g}")


def _models_folder():
    return resources.files("harmoniq.simulation") / "scanners"


def list_scanner_models() -> list[str]:
    """Names of the shipped simulated scanners."""
    return sorted(p.name[:-5] for p in _models_folder().iterdir() if p.name.endswith(".toml"))


def scanner_model_from_dict(data: dict, source: str = "scanner model record") -> ScannerModel:
    """The model that :meth:`ScannerModel.to_dict` wrote (e.g. into a simulation stage's record)."""
    return _from_dict(data, source)


def load_scanner_model(name_or_path: str | Path) -> ScannerModel:
    """Load a shipped model by name (e.g. ``ge-premier-3t``) or a TOML file by path."""
    path = Path(name_or_path)
    if path.suffix == ".toml" or path.exists():
        if not path.is_file():
            raise HarmoniqError(f"scanner model {name_or_path}: no such file; give a TOML path or one of "
                                f"{', '.join(list_scanner_models())}")
        text, source = path.read_text(encoding="utf-8"), str(path)
    else:
        entry = _models_folder() / f"{name_or_path}.toml"
        if not entry.is_file():
            raise HarmoniqError(f"scanner {name_or_path!r} is not known; choose one of "
                                f"{', '.join(list_scanner_models())} or give a TOML file")
        text, source = entry.read_text(encoding="utf-8"), f"scanner model {name_or_path}"
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise HarmoniqError(f"{source}: not valid TOML ({exc})") from exc
    return _from_dict(data, source)


def _get(table: dict, key: str, source: str, section: str = ""):
    if key not in table:
        where = f"[{section}] " if section else ""
        raise HarmoniqError(f"{source}: {where}key {key!r} is missing")
    return table[key]


def _exam_conditions(exam: dict, field_t: float, source: str) -> tuple[float, float]:
    """(transmit calibration scale, phantom temperature in degC) of the [exam] table. The NIST
    T1-plate temperature dependence is published at 3 T for 16-26 degC only
    (:mod:`harmoniq.phantoms.nist_temperature`); other fields keep the 20 degC table."""
    unknown = sorted(set(exam) - {"transmit_calibration", "phantom_temperature_degC"})
    if unknown:
        raise HarmoniqError(f"{source}: [exam] keys {unknown} are not known; valid: transmit_calibration, "
                            f"phantom_temperature_degC")
    calibration = float(exam.get("transmit_calibration", 1.0))
    low, high = TRANSMIT_CALIBRATION_RANGE
    if not low <= calibration <= high:
        raise HarmoniqError(f"{source}: [exam] transmit_calibration={calibration:g} is not valid; give a flip-angle "
                            f"scale in [{low:g}, {high:g}] (1.0: exact calibration)")
    temperature_c = float(exam.get("phantom_temperature_degC", REFERENCE_C))
    low, high = TEMPERATURES_C[0], TEMPERATURES_C[-1]
    if not low <= temperature_c <= high:
        raise HarmoniqError(f"{source}: [exam] phantom_temperature_degC={temperature_c:g} is not valid; give "
                            f"{low:g} to {high:g} (the published NIST phantom temperatures)")
    if not math.isclose(field_t, 3.0) and not math.isclose(temperature_c, REFERENCE_C):
        raise HarmoniqError(f"{source}: [exam] phantom_temperature_degC={temperature_c:g} at {field_t:g} T is not "
                            f"valid: NIST T1 values against temperature are published at 3 T only; give "
                            f"{REFERENCE_C:g} at {field_t:g} T")
    return calibration, temperature_c


def _from_dict(data: dict, source: str) -> ScannerModel:
    b0 = data.get("b0", {})
    unknown = sorted(set(b0) - {f"{t}_hz" for t in B0_TERMS} - {"reference_radius_mm"})
    if unknown:
        raise HarmoniqError(f"{source}: [b0] keys {unknown} are not known; valid: "
                            f"{', '.join(f'{t}_hz' for t in B0_TERMS)}, reference_radius_mm")
    b1 = _get(data, "b1", source)
    rx = _get(data, "receive", source)
    noise = _get(data, "noise", source)
    delays = data.get("gradient_delay_us", {})
    channels, rings = int(_get(rx, "channels", source, "receive")), int(rx.get("rings", 1))
    if channels < 1 or rings < 1 or channels % rings:
        raise HarmoniqError(f"{source}: [receive] channels={channels} must be a positive multiple of rings={rings}")
    correlation = float(_get(noise, "neighbour_correlation", source, "noise"))
    if not 0 <= correlation < 1:
        raise HarmoniqError(f"{source}: [noise] neighbour_correlation={correlation} must be in [0, 1)")
    field_t = float(_get(data, "field_strength_T", source))
    calibration, temperature_c = _exam_conditions(data.get("exam", {}), field_t, source)
    vendor = str(_get(data, "vendor", source))
    conjugated = "siemens" in vendor.lower()  # the reader's rule: harmoniq.io.header.is_siemens
    if "raw_data_conjugated" in data and bool(data["raw_data_conjugated"]) != conjugated:
        raise HarmoniqError(f"{source}: raw_data_conjugated = {str(bool(data['raw_data_conjugated'])).lower()} "
                            f"disagrees with vendor {vendor!r}: raw data are conjugated for Siemens only; set "
                            f"raw_data_conjugated = {str(conjugated).lower()} or leave it out")
    return ScannerModel(
        name=str(_get(data, "name", source)),
        profile=str(data.get("profile", data["name"])),
        vendor=vendor,
        model=str(_get(data, "model", source)),
        field_t=field_t,
        description=str(data.get("description", "")),
        b0=B0Model({t: float(b0[f"{t}_hz"]) for t in B0_TERMS if f"{t}_hz" in b0},
                   float(b0.get("reference_radius_mm", 100.0)) * 1e-3),
        b1=B1Model(centre=float(b1.get("centre", 1.0)), edge=float(b1.get("edge", 1.0)),
                   radius_m=float(b1.get("radius_mm", 100.0)) * 1e-3,
                   z_radius_m=float(b1.get("z_radius_mm", 150.0)) * 1e-3, tilt=float(b1.get("tilt", 0.0))),
        coils=LoopArray(channels=channels, rings=rings,
                        array_radius_m=float(_get(rx, "array_radius_mm", source, "receive")) * 1e-3,
                        loop_radius_m=float(_get(rx, "loop_radius_mm", source, "receive")) * 1e-3,
                        ring_spacing_m=float(rx.get("ring_spacing_mm", 0.0)) * 1e-3,
                        rotation_rad=math.radians(float(rx.get("rotation_deg", 0.0)))),
        noise=NoiseModel(std=float(_get(noise, "std_at_100khz", source, "noise")),
                         neighbour_correlation=correlation,
                         channel_spread=float(noise.get("channel_spread", 0.0))),
        gradient_delays_s=tuple(float(delays.get(a, 0.0)) * 1e-6 for a in "xyz"),
        raw_data_conjugated=conjugated,
        transmit_calibration=calibration,
        phantom_temperature_c=temperature_c,
    )
