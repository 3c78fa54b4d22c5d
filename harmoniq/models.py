"""The one registry of quantitative models: what each fit needs, writes and measures.

Every stage that names a model reads it from here: the protocol loader (``model = "t1-ir"``),
the fitter that turns a series into maps (a ``module:function`` resolved only when a fit runs,
so this module stays dependency-free), the BIDS names of the maps, the sidecar keys the fit
reads, the CLI options of ``harmoniq fit MODEL``, the NIST phantom plate the model measures and
the phantom reference the comparison checks the map against.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import import_module


@dataclass(frozen=True)
class FitOption:
    """A model-specific fit option: keyword ``name`` (SI unit in the name), CLI ``--name``."""

    name: str
    kind: type
    default: object
    help: str
    choices: tuple = ()
    flag: bool = False


@dataclass(frozen=True)
class QuantitativeModel:
    """One fit model.

    maps: name in :class:`~harmoniq.fitting.maps.ParameterMaps` -> BIDS suffix of its file
    (``desc-<label>_<suffix>`` where a map shares a suffix); method_suffix: BIDS qMRI suffix of
    the acquired file collection (IRT1, VFA, MESE, TB1DAM, MEGRE); per_volume_key: the sidecar key
    with one (scalar) value per file of the collection; quantity: the map the comparison
    reads (None for non-relaxometry models); reference: the phantom ROI attribute (SI) it is
    compared with; plate: the NIST phantom plate holding the spheres it measures; signed_images: the
    fit needs signed real images (phase-referenced to the last volume, :mod:`harmoniq.recon.phase`);
    phase_images: the fit reads phase images (rad), written as ``part-phase`` files beside ``part-mag``
    ones (one file per part, a volume per value of ``per_volume_key``).
    """

    name: str
    help: str
    fitter: str
    method_suffix: str
    maps: dict
    per_volume_key: str
    plate: str
    quantity: str | None = None
    reference: str | None = None
    options: tuple[FitOption, ...] = field(default_factory=tuple)
    signed_images: bool = False
    phase_images: bool = False

    @property
    def volume_entity(self) -> str:
        """The BIDS entity that indexes the files of the collection (``inv``, ``echo``, ``flip``, ``tr``)."""
        if self.per_volume_key not in VOLUME_ENTITIES:
            from harmoniq.errors import HarmoniqError

            raise HarmoniqError(f"model {self.name}: BIDS has no file collection indexed by {self.per_volume_key}, so "
                                f"a run cannot write its images; fit them with `harmoniq fit {self.name}`")
        return VOLUME_ENTITIES[self.per_volume_key]

    def fit_function(self):
        """The fitter ``(series, data, options) -> ParameterMaps`` (imported on first use)."""
        module, _, function = self.fitter.partition(":")
        return getattr(import_module(module), function)

    @property
    def range_key(self) -> str | None:
        """The protocol's ``[valid_range]`` key of the quantity (``t1_ms``, ``t2_ms``)."""
        return f"{self.quantity.lower()}_ms" if self.quantity in ("T1", "T2") else None


_OFFSET = FitOption("offset", bool, False, "Fit a constant offset too.", flag=True)
_T1_MAPS = {"T1": "T1map", "M0": "M0map", "T1_crlb": "desc-crlb_T1map", "M0_crlb": "desc-crlb_M0map"}
_FITTERS = "harmoniq.fitting.bids"
BS_SUFFIX = "TB1BS"
"""Suffix (ours) of the Bloch-Siegert ``part-mag``/``part-phase`` images: BIDS 1.10 names no Bloch-Siegert
file collection (qMRI appendix: TB1DAM, TB1EPI, TB1AFI, TB1TFL, TB1RFM, TB1SRGE) and allows no ``part``
on TB1map, so the raw dataset's .bidsignore lists these files."""
_METHODS = "harmoniq.fitting.bids_methods"

MODELS: dict[str, QuantitativeModel] = {m.name: m for m in (
    QuantitativeModel(
        "t1-ir", "Inversion-recovery T1 (InversionTime per volume).", f"{_FITTERS}:run_ir", "IRT1", _T1_MAPS,
        "InversionTime", plate="t1", quantity="T1", reference="t1_s"),
    QuantitativeModel(
        "t1-vfa", "Variable-flip-angle T1 (FlipAngle per volume, RepetitionTimeExcitation).", f"{_FITTERS}:run_vfa",
        "VFA", {**_T1_MAPS, "T1_uncorrected": "desc-uncorrected_T1map", "B1": "TB1map"}, "FlipAngle", plate="t1", quantity="T1",
        reference="t1_s", options=(
            FitOption("b1", str, None, "Relative (or percent) B1 map NIfTI."),
            FitOption("method", str, "nonlinear", "Linear (DESPOT1) or nonlinear least squares.", ("linear", "nonlinear")),
            FitOption("spoiling_correction", bool, False, "Correct for imperfect RF spoiling (SpoilingRFPhaseIncrement).",
                      flag=True),
            FitOption("spoiling_t2_s", float, 0.1, "T2 (s) assumed by the spoiling correction."),
            FitOption("spoiling_t2_map", str, None, "T2 map NIfTI (s) of the same object on this grid: the spoiling "
                                                     "correction then uses each voxel's T2."),
            FitOption("spoiling_diffusion_m2_s", float, None, "Diffusivity (m^2/s) assumed by the spoiling "
                                                               "correction (default: water at 20 degC)."),
            FitOption("seq", str, None, "The protocol's .seq file: the spoiling correction then uses its spoiler "
                                        "moment and diffusion."),
            FitOption("dam", str, None, "Double-angle series (NIfTI + sidecar) on this grid: B1 (finite TR) and T1 "
                                        "are then fitted jointly, replacing --b1."),
            FitOption("dam_seq", str, None, "The double-angle protocol's .seq file: its pulses' slice profiles."),
        )),
    QuantitativeModel(
        "t2-se", "Spin-echo T2, mono-exponential (EchoTime per volume).", f"{_FITTERS}:run_se", "MESE",
        {"T2": "T2map", "S0": "S0map", "T2_crlb": "desc-crlb_T2map", "S0_crlb": "desc-crlb_S0map"}, "EchoTime",
        plate="t2", quantity="T2", reference="t2_s", options=(_OFFSET,)),
    QuantitativeModel(
        "t2-mese", "Multi-echo spin-echo T2 and refocusing B1 by EPG (EchoTime, RefocusingFlipAngle).",
        f"{_FITTERS}:run_mese", "MESE",
        {"T2": "T2map", "S0": "S0map", "B1": "desc-refocusing_TB1map", "T2_crlb": "desc-crlb_T2map",
         "S0_crlb": "desc-crlb_S0map", "B1_crlb": "desc-refocusingcrlb_TB1map"}, "EchoTime", plate="t2",
        quantity="T2", reference="t2_s", options=(
            FitOption("t1_s", float, 1.0, "Fixed T1 (s) of the EPG dictionary."),
            FitOption("seq", str, None, "The protocol's .seq file: the dictionary then averages over its pulses' "
                                        "slice profiles."),
        )),
    QuantitativeModel(
        "b1-dam", "Double-angle B1 map (FlipAngle of the two volumes: a and 2a).", f"{_FITTERS}:run_dam", "TB1DAM",
        {"B1": "TB1map", "M0": "M0map", "B1_crlb": "desc-crlb_TB1map"}, "FlipAngle", plate="t1", quantity="B1",
        options=(FitOption("seq", str, None, "The protocol's .seq file: the fit then uses its pulses' slice "
                                             "profiles."),)),
    QuantitativeModel(
        "t2star", "Multi-echo gradient-echo T2* (EchoTime per volume).", f"{_FITTERS}:run_t2star", "MEGRE",
        {"T2star": "T2starmap", "S0": "S0map", "T2star_crlb": "desc-crlb_T2starmap", "S0_crlb": "desc-crlb_S0map"},
        "EchoTime", plate="t2", quantity="T2star", options=(_OFFSET,)),
    QuantitativeModel(
        "t1-mp2rage", "MP2RAGE UNI and lookup-table T1 (signed INV1, INV2; InversionTime, FlipAngle per volume, "
        "RepetitionTimeExcitation, RepetitionTimePreparation, NumberShots).", f"{_METHODS}:run_mp2rage", "MP2RAGE",
        {"T1": "T1map", "UNI": "UNIT1", "T1_crlb": "desc-crlb_T1map"}, "InversionTime", plate="t1", quantity="T1",
        reference="t1_s", options=(
            FitOption("b1", str, None, "Relative (or percent) B1 map NIfTI: B1-corrected lookup tables."),
            FitOption("inversion_efficiency", float, 0.96, "Adiabatic inversion efficiency (Marques et al. 2010)."),
            FitOption("seq", str, None, "The protocol's .seq file: the tables then use its inversion pulse's "
                                        "efficiency at each B1."),
        ), signed_images=True),
    QuantitativeModel(
        "b1-afi", "Actual flip-angle imaging B1 map (RepetitionTimeExcitation per volume: TR1, TR2; FlipAngle).",
        f"{_METHODS}:run_afi", "TB1AFI", {"B1": "TB1map", "B1_crlb": "desc-crlb_TB1map"}, "RepetitionTimeExcitation",
        plate="t1", quantity="B1", options=(
            FitOption("seq", str, None, "The protocol's .seq file: TR1 and TR2 measured from its excitations."),)),
    QuantitativeModel(
        "b1-bs", "Bloch-Siegert B1 map from phase images (rad) at +-offset (BlochSiegertOffset per volume, Hz).",
        f"{_METHODS}:run_bloch_siegert", BS_SUFFIX, {"B1": "TB1map"}, "BlochSiegertOffset", plate="t1", quantity="B1",
        options=(
            FitOption("b1_peak_t", float, None, "Nominal peak amplitude (T) of the off-resonant Fermi pulse; with "
                                                 "--duration it replaces the sidecar's BlochSiegertKBS and "
                                                 "BlochSiegertNominalPeakB1."),
            FitOption("duration_s", float, None, "Fermi pulse duration (s)."),
            FitOption("transition_s", float, None, "Fermi pulse transition width (s; default 0.16 ms)."),
            FitOption("seq", str, None, "The protocol's .seq file: the pulse, its peak and offsets as it plays them "
                                        "(instead of the sidecar's keys or the Fermi options)."),
        ), phase_images=True),
    QuantitativeModel(
        "t1-molli", "MOLLI-style Look-Locker T1, three-parameter fit with the Look-Locker correction (InversionTime "
        "per volume: each image's time after its inversion).", f"{_METHODS}:run_molli", "MOLLI",
        {"T1": "T1map", "T1_star": "desc-apparent_T1map", "T1_crlb": "desc-crlb_T1map"}, "InversionTime", plate="t1",
        quantity="T1", reference="t1_s"),
)}

QUANTITY_UNITS = {"T1": "s", "T2": "s", "T2star": "s", "B1": "1"}
"""SI unit of each model's ``quantity`` ("1": unitless; B1 is the relative flip angle, actual / nominal)."""

NO_MODEL = "none"
"""The model of a protocol whose images are not fitted (demonstrations)."""
NO_MODEL_SUFFIX = "T1w"
"""BIDS suffix of the images of a protocol without a model (the spoiled-GRE demonstration)."""

# BIDS specification 1.10, appendix "File collections" (qMRI): the entity indexing each file of a
# collection and the sidecar key that holds its scalar value there; TB1AFI's two files carry
# their index in the acq label (acq-tr1..., acq-tr2..., harmoniq.bids.layout.ACQ_INDEX).
VOLUME_ENTITIES = {"InversionTime": "inv", "EchoTime": "echo", "FlipAngle": "flip", "RepetitionTimeExcitation": "tr"}
# BIDS specification 1.10, "Magnetic Resonance Imaging > Fieldmap data" and the qMRI appendix:
# suffixes that live in the fmap/ datatype folder (every other suffix here is anat/), and ours for the
# Bloch-Siegert images.
FMAP_SUFFIXES = ("TB1DAM", "TB1EPI", "TB1AFI", "TB1TFL", "TB1RFM", "TB1SRGE", "TB1map", "RB1COR", "RB1map", BS_SUFFIX)
#: Fitted maps without a BIDS suffix (model coefficients, residuals) carry this one; the
#: derivatives dataset's .bidsignore lists it.
UNNAMED_MAP_SUFFIX = "fitparam"


def datatype(suffix: str) -> str:
    """The BIDS datatype folder of a file with ``suffix`` (``desc-crlb_TB1map`` -> ``fmap``)."""
    return "fmap" if suffix.rsplit("_", 1)[-1] in FMAP_SUFFIXES else "anat"


def get_model(name: str) -> QuantitativeModel:
    """The registered model ``name``; KeyError-free: raises HarmoniqError naming the valid ones."""
    from harmoniq.errors import HarmoniqError

    if name not in MODELS:
        raise HarmoniqError(f"model {name!r} is not valid; choose one of {', '.join(MODELS)}")
    return MODELS[name]
