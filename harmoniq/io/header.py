"""ISMRMRD XML header -> :class:`AcquisitionHeader` in SI units.

ISMRMRD stores times in ms, lengths in mm and the field strength in T; everything here is
converted to s, m and T. Missing optional sections give ``None`` or empty tuples.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import ismrmrd

from harmoniq.constants import GAMMA_BAR_HZ_PER_T
from harmoniq.errors import HarmoniqError

COUNTERS = ("kspace_encoding_step_1", "kspace_encoding_step_2", "average", "slice", "contrast",
            "phase", "repetition", "set", "segment")


@dataclass(frozen=True)
class Limit:
    """Range of one acquisition counter: ``minimum``, ``maximum`` and the k-space ``center``."""

    minimum: int
    maximum: int
    center: int


@dataclass(frozen=True)
class AcquisitionHeader:
    """What the reconstruction and the image sidecar need from an ISMRMRD header (SI units).

    Matrices and fields of view are ``(x, y, z)``: readout, phase encoding, partition/slice.
    ``tr_s``, ``te_s``, ``ti_s`` and ``flip_deg`` hold one value per contrast as the header
    lists them. ``limits`` maps an ISMRMRD counter name to its :class:`Limit`;
    ``acceleration_k2_k1`` and ``calibration_mode`` (embedded, interleaved, separate, ...) are
    what the header declares about parallel imaging.
    """

    encoded_matrix: tuple[int, int, int]
    encoded_fov_m: tuple[float, float, float]
    recon_matrix: tuple[int, int, int]
    recon_fov_m: tuple[float, float, float]
    trajectory: str
    limits: dict[str, Limit] = field(default_factory=dict)
    acceleration_k2_k1: tuple[int, int] = (1, 1)
    calibration_mode: str | None = None
    vendor: str | None = None
    model: str | None = None
    field_t: float | None = None
    receiver_channels: int | None = None
    protocol_name: str | None = None
    tr_s: tuple[float, ...] = ()
    te_s: tuple[float, ...] = ()
    ti_s: tuple[float, ...] = ()
    flip_deg: tuple[float, ...] = ()
    sequence_type: str | None = None
    user_parameters: dict[str, object] = field(default_factory=dict)

    @property
    def is_siemens(self) -> bool:
        return self.vendor is not None and "siemens" in self.vendor.lower()


def _triple(values, scale=1.0, cast=float):
    return tuple(cast(getattr(values, axis) * scale) for axis in ("x", "y", "z"))


def _ms_to_s(values) -> tuple[float, ...]:
    return tuple(float(v) * 1e-3 for v in (values or ()))


def _field_strength_t(header) -> float | None:
    system = header.acquisitionSystemInformation
    if system is not None and system.systemFieldStrength_T:
        return float(system.systemFieldStrength_T)
    larmor = header.experimentalConditions.H1resonanceFrequency_Hz
    return float(larmor) / GAMMA_BAR_HZ_PER_T if larmor else None


def _user_parameters(header) -> dict[str, object]:
    params = header.userParameters
    if params is None:
        return {}
    out: dict[str, object] = {}
    for group in (params.userParameterLong, params.userParameterDouble, params.userParameterString):
        for item in group:
            out[item.name] = item.value
    return out


def _check_space(space, name: str, source: str) -> None:
    """A matrix of whole numbers >= 1 and a finite field of view > 0 (mm) on every axis."""
    for axis in ("x", "y", "z"):
        size = getattr(space.matrixSize, axis)
        fov = getattr(space.fieldOfView_mm, axis)
        if size is None or int(size) < 1:
            raise HarmoniqError(f"{source}: {name} matrixSize {axis} = {size}; it must be a whole number >= 1")
        if fov is None or not (math.isfinite(float(fov)) and float(fov) > 0):
            raise HarmoniqError(f"{source}: {name} fieldOfView_mm {axis} = {fov}; it must be a finite length > 0 (mm)")


def parse_header(xml: bytes | str, source: str = "header") -> AcquisitionHeader:
    """Parse ISMRMRD header XML; ``source`` names the input in error messages."""
    try:
        header = ismrmrd.xsd.CreateFromDocument(xml)
    except Exception as exc:
        raise HarmoniqError(f"{source}: the ISMRMRD XML header does not parse ({exc})") from exc
    if not header.encoding:
        raise HarmoniqError(f"{source}: the ISMRMRD header has no <encoding> section; "
                            "a valid header describes at least one encoding (encodedSpace, reconSpace, "
                            "encodingLimits, trajectory)")
    enc = header.encoding[0]
    _check_space(enc.encodedSpace, "encodedSpace", source)
    _check_space(enc.reconSpace, "reconSpace", source)
    limits = {}
    for name in COUNTERS:
        lim = getattr(enc.encodingLimits, name, None)
        if lim is not None:
            limits[name] = Limit(int(lim.minimum), int(lim.maximum), int(lim.center))
    acceleration, calibration_mode = (1, 1), None
    if enc.parallelImaging is not None:
        factor = enc.parallelImaging.accelerationFactor
        acceleration = (int(factor.kspace_encoding_step_2), int(factor.kspace_encoding_step_1))
        mode = enc.parallelImaging.calibrationMode
        calibration_mode = None if mode is None else str(getattr(mode, "value", mode))
    system = header.acquisitionSystemInformation
    seq = header.sequenceParameters
    info = header.measurementInformation
    return AcquisitionHeader(
        encoded_matrix=_triple(enc.encodedSpace.matrixSize, cast=int),
        encoded_fov_m=_triple(enc.encodedSpace.fieldOfView_mm, 1e-3),
        recon_matrix=_triple(enc.reconSpace.matrixSize, cast=int),
        recon_fov_m=_triple(enc.reconSpace.fieldOfView_mm, 1e-3),
        trajectory=str(getattr(enc.trajectory, "value", enc.trajectory)),
        limits=limits,
        acceleration_k2_k1=acceleration,
        calibration_mode=calibration_mode,
        vendor=system.systemVendor if system is not None else None,
        model=system.systemModel if system is not None else None,
        field_t=_field_strength_t(header),
        receiver_channels=system.receiverChannels if system is not None else None,
        protocol_name=info.protocolName if info is not None else None,
        tr_s=_ms_to_s(seq.TR) if seq is not None else (),
        te_s=_ms_to_s(seq.TE) if seq is not None else (),
        ti_s=_ms_to_s(seq.TI) if seq is not None else (),
        flip_deg=tuple(float(v) for v in seq.flipAngle_deg) if seq is not None else (),
        sequence_type=seq.sequence_type if seq is not None else None,
        user_parameters=_user_parameters(header),
    )
