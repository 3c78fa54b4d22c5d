"""Fit a NIfTI image series described by its BIDS sidecar; write BIDS-named maps.

The sequence parameters come from the sidecar (BIDS keys, BIDS units: s, deg): one value per
volume of ``InversionTime``, ``EchoTime`` or ``FlipAngle``, plus ``RepetitionTime(Excitation)``,
``RefocusingFlipAngle`` and ``SpoilingRFPhaseIncrement`` where the model needs them.

Outputs, for an input ``<stem>.nii.gz``: ``<stem>_T1map``, ``_T2map``, ``_T2starmap`` (s),
``_M0map`` (T1 models, B1), ``_S0map`` (decay models: signal at TE = 0), ``_TB1map``
(percent of nominal, BIDS' recommendation), uncertainties as ``_desc-crlb_<map>`` (same
units), the fit residual as ``_desc-residual_<method>`` (method suffix IRT1, VFA, MESE,
MEGRE, TB1DAM), ``_desc-fitted_mask`` and ``_desc-outofrange_mask``; each with a JSON
sidecar naming the model, its parameters and the inputs' SHA-256.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from harmoniq import __version__
from harmoniq.backend import to_device
from harmoniq.errors import HarmoniqError
from harmoniq.fitting.b1_dam import fit_b1_dam
from harmoniq.fitting.exponential import fit_t2_se, fit_t2star
from harmoniq.fitting.inversion_recovery import fit_t1_ir
from harmoniq.fitting.maps import ParameterMaps
from harmoniq.fitting.mese import fit_t2_mese
from harmoniq.fitting.nifti_io import NiftiSeries, read_map, read_series, write_maps
from harmoniq.fitting.vfa import fit_t1_vfa
from harmoniq.fitting.vfa_spoiling import Spoiling
from harmoniq.io.nifti import sha256_file

COPIED_KEYS = ("MagneticFieldStrength", "Manufacturer", "ManufacturersModelName")


@dataclass(frozen=True)
class FileModel:
    """How one model reads its sidecar and names its outputs."""

    method_suffix: str
    suffixes: dict  # map name -> BIDS suffix
    run: Callable  # (series, data, options) -> ParameterMaps


SIDECAR_UNITS = {"InversionTime": "s", "EchoTime": "s", "RepetitionTime": "s", "RepetitionTimeExcitation": "s",
                 "FlipAngle": "deg", "RefocusingFlipAngle": "deg", "SpoilingRFPhaseIncrement": "deg"}


def _numbers(series: NiftiSeries, key: str) -> np.ndarray:
    """The sidecar's ``key`` as a 1-D array of finite numbers (a number or a flat list of them)."""
    value = series.sidecar[key]
    items = value if isinstance(value, list) else [value]
    if not items or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in items):
        raise HarmoniqError(f"{series.path}: sidecar {key!r} = {json.dumps(value)} is not valid; give finite numbers "
                            f"({SIDECAR_UNITS.get(key, 'BIDS units')}), a number or a list of numbers")
    return np.asarray(items, dtype=float)


def _per_volume(series: NiftiSeries, key: str, scale: float = 1.0) -> np.ndarray:
    n = series.data.shape[0]
    if key not in series.sidecar:
        raise HarmoniqError(f"{series.path}: sidecar has no {key!r}; it is needed with one value per volume ({n})")
    values = _numbers(series, key) * scale
    if values.size != n:
        raise HarmoniqError(
            f"{series.path}: sidecar {key!r} has {values.size} value(s) for {n} volume(s); give one per volume"
        )
    return values


def _number(series: NiftiSeries, keys: tuple, what: str) -> float:
    for key in keys:
        if key in series.sidecar:
            return float(_numbers(series, key)[0])
    raise HarmoniqError(f"{series.path}: sidecar has none of {', '.join(map(repr, keys))}; the fit needs {what}")


def _number_or_list(series, key):
    if key not in series.sidecar:
        raise HarmoniqError(f"{series.path}: sidecar has no {key!r} (deg); the EPG fit needs the refocusing angle")
    return _numbers(series, key)


def _run_ir(series, data, opts):
    return fit_t1_ir(data, _per_volume(series, "InversionTime"), mask=opts["mask"], noise_sigma=opts["noise_sigma"])


def _run_vfa(series, data, opts):
    spoiling = None
    if opts.get("spoiling_correction"):
        increment = _number(series, ("SpoilingRFPhaseIncrement",), "the RF spoiling phase increment (deg)")
        spoiling = Spoiling(math.radians(increment), opts.get("spoiling_t2_s", Spoiling.t2_s))
    return fit_t1_vfa(
        data,
        _per_volume(series, "FlipAngle", math.pi / 180),
        _number(series, ("RepetitionTimeExcitation", "RepetitionTime"), "TR (s)"),
        b1=1.0 if opts["b1"] is None else opts["b1"],
        method=opts.get("method", "nonlinear"),
        spoiling=spoiling,
        mask=opts["mask"],
        noise_sigma=opts["noise_sigma"],
    )


def _run_se(series, data, opts):
    te = _per_volume(series, "EchoTime")
    return fit_t2_se(data, te, offset=opts.get("offset", False), mask=opts["mask"], noise_sigma=opts["noise_sigma"])


def _run_t2star(series, data, opts):
    te = _per_volume(series, "EchoTime")
    return fit_t2star(data, te, offset=opts.get("offset", False), mask=opts["mask"], noise_sigma=opts["noise_sigma"])


def _run_mese(series, data, opts):
    profile = None
    if opts.get("seq"):
        from harmoniq.sequences.slice_profile import cpmg_profile  # reads the .seq with pypulseq

        profile = cpmg_profile(opts["seq"])
    refocus = np.radians(np.asarray(_number_or_list(series, "RefocusingFlipAngle"), dtype=float))
    return fit_t2_mese(
        data,
        _per_volume(series, "EchoTime"),
        refocus if refocus.size > 1 else float(refocus[0]),
        t1_s=opts.get("t1_s", 1.0),
        slice_profile=profile,
        mask=opts["mask"],
        noise_sigma=opts["noise_sigma"],
    )


def _run_dam(series, data, opts):
    return fit_b1_dam(data, _per_volume(series, "FlipAngle", math.pi / 180), mask=opts["mask"], noise_sigma=opts["noise_sigma"])


T1_SUFFIXES = {"T1": "T1map", "M0": "M0map", "T1_crlb": "desc-crlb_T1map", "M0_crlb": "desc-crlb_M0map"}
MODELS = {
    "t1-ir": FileModel("IRT1", T1_SUFFIXES, _run_ir),
    "t1-vfa": FileModel("VFA", {**T1_SUFFIXES, "T1_uncorrected": "desc-uncorrected_T1map"}, _run_vfa),
    "t2-se": FileModel("MESE", {"T2": "T2map", "S0": "S0map", "T2_crlb": "desc-crlb_T2map", "S0_crlb": "desc-crlb_S0map"}, _run_se),
    "t2-mese": FileModel(
        "MESE",
        {"T2": "T2map", "S0": "S0map", "B1": "desc-refocusing_TB1map", "T2_crlb": "desc-crlb_T2map",
         "S0_crlb": "desc-crlb_S0map", "B1_crlb": "desc-refocusingcrlb_TB1map"},
        _run_mese,
    ),
    "t2star": FileModel(
        "MEGRE", {"T2star": "T2starmap", "S0": "S0map", "T2star_crlb": "desc-crlb_T2starmap", "S0_crlb": "desc-crlb_S0map"}, _run_t2star
    ),
    "b1-dam": FileModel("TB1DAM", {"B1": "TB1map", "M0": "M0map", "B1_crlb": "desc-crlb_TB1map"}, _run_dam),
}


def _suffix(model: FileModel, name: str) -> str:
    if name in model.suffixes:
        return model.suffixes[name]
    if name == "mask":
        return "desc-fitted_mask"
    if name == "out_of_range":
        return "desc-outofrange_mask"
    return f"desc-{name.replace('_', '')}_{model.method_suffix}"


def _stem(path: Path) -> str:
    return path.name[: -len(".nii.gz")] if path.name.endswith(".nii.gz") else path.stem


def fit_files(
    model: str, image, out_dir, *, b1=None, mask=None, device: str = "cpu", noise_sigma=None, force: bool = False,
    **options
) -> list[Path]:
    """Fit ``model`` to the NIfTI series ``image`` (+ sidecar); write maps into ``out_dir``.

    b1: relative (or percent, BIDS TB1map) transmit-field map file, for t1-vfa; mask:
    mask file (non-zero = fit); device: 'cpu' or 'gpu'; options: model options (method,
    spoiling_correction, spoiling_t2_s, offset, t1_s; seq: for t2-mese, the .seq file whose
    excitation and refocusing slice profiles the EPG dictionary averages over); noise_sigma:
    the noise standard deviation (image units, > 0) for the uncertainty maps; force: replace
    files a fit did not write. Writes every map or none. Returns the written NIfTI paths.
    """
    if model not in MODELS:
        raise HarmoniqError(f"model {model!r} is not valid; choose one of {', '.join(MODELS)}")
    if noise_sigma is not None and not (math.isfinite(noise_sigma) and noise_sigma > 0):
        raise HarmoniqError(f"--noise-sigma={noise_sigma} is not valid; give the noise standard deviation, a number > 0")
    spec = MODELS[model]
    series = read_series(image)
    spatial = series.data.shape[1:]
    inputs = {str(series.path): series.sha256}
    if options.get("seq"):
        inputs[str(options["seq"])] = sha256_file(options["seq"])
    opts = dict(options, noise_sigma=noise_sigma, b1=None, mask=None)
    if b1 is not None:
        b1_series = read_map(b1, spatial, "the B1 map")
        inputs[str(b1_series.path)] = b1_series.sha256
        opts["b1"] = to_device(_relative_b1(b1_series), device)
    if mask is not None:
        mask_series = read_map(mask, spatial, "the mask")
        inputs[str(mask_series.path)] = mask_series.sha256
        opts["mask"] = to_device(mask_series.data != 0, device)
    maps = spec.run(series, to_device(series.data, device), opts).to_numpy()
    return _write(maps, spec, series, Path(out_dir), inputs, force)


def _relative_b1(series: NiftiSeries) -> np.ndarray:
    """B1 as a fraction of nominal: sidecar Units 'percent', or values around 100, are divided by 100."""
    data = series.data.astype(float)
    units = str(series.sidecar.get("Units", "")).lower()
    finite = data[np.isfinite(data) & (data > 0)]
    if units in ("percent", "%") or (not units and finite.size and np.median(finite) > 10):
        return data / 100.0
    return data


def _write(maps: ParameterMaps, spec: FileModel, series: NiftiSeries, out_dir: Path, inputs: dict,
           force: bool) -> list[Path]:
    stem = _stem(series.path)
    provenance = {"sha256": inputs, "method": maps.model, "version": __version__}
    common = {k: series.sidecar[k] for k in COPIED_KEYS if k in series.sidecar}
    written = []
    for name, data in maps.maps.items():
        suffix = _suffix(spec, name)
        units = maps.units.get(name, "a.u.")
        if suffix.endswith("TB1map") and units == "1":
            data, units = data * 100.0, "percent"
        sidecar = dict(
            common,
            Units=units,
            Description=f"{name} from the {maps.model} fit",
            Model=maps.model,
            ModelParameters=maps.info,
            Sources=[Path(p).name for p in inputs],
            HarmoniqProvenance=provenance,
        )
        written.append((out_dir / f"{stem}_{suffix}.nii.gz", data, sidecar))
    write_maps(written, series.affine, force=force)
    return [path for path, _, _ in written]
