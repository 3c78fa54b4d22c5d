"""Fit a NIfTI image series described by its BIDS sidecar; write BIDS-named maps.

The sequence parameters come from the series' header, read from its sidecar (BIDS keys,
BIDS units: s, deg): one value per volume of ``InversionTime``, ``EchoTime`` or ``FlipAngle``,
plus ``RepetitionTime(Excitation)``, ``RefocusingFlipAngle`` and ``SpoilingRFPhaseIncrement``
where the model needs them. Map names, suffixes and fitters come from the model registry
(:mod:`harmoniq.models`); the files are written by :meth:`ParameterMaps.write`.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from harmoniq.backend import get_array_module, to_device
from harmoniq.bids.layout import collection_files, collection_stem
from harmoniq.errors import HarmoniqError
from harmoniq.io.image_series import ImageSeries
from harmoniq.io.nifti import read_image_series, read_map
from harmoniq.models import get_model
from harmoniq.provenance import sha256_file

_BIDS_KEY = {"ti_s": "'InversionTime'", "te_s": "'EchoTime'", "flip_deg": "'FlipAngle'",
             "tr_s": "'RepetitionTimeExcitation' or 'RepetitionTime'"}


def per_volume(series: ImageSeries, field: str, scale: float = 1.0) -> np.ndarray:
    """The header's ``field`` with one value per volume (HarmoniqError naming the sidecar key otherwise)."""
    values = np.asarray(getattr(series.header, field), dtype=float) * scale
    n = series.n_volumes
    if values.size == 0:
        raise HarmoniqError(f"{series.source}: sidecar has no {_BIDS_KEY[field]}; it is needed with one value per "
                            f"volume ({n})")
    if values.size != n:
        raise HarmoniqError(f"{series.source}: sidecar {_BIDS_KEY[field]} has {values.size} value(s) for {n} "
                            f"volume(s); the fit needs one per volume")
    return values


def _single(series: ImageSeries, field: str, what: str) -> float:
    values = getattr(series.header, field)
    if not values:
        raise HarmoniqError(f"{series.source}: sidecar has no {_BIDS_KEY[field]}; the fit needs {what}")
    return float(values[0])


def _user(series: ImageSeries, name: str, key: str, what: str) -> float:
    if name not in series.header.user_parameters:
        raise HarmoniqError(f"{series.source}: sidecar has no {key!r}; the fit needs {what}")
    return float(series.header.user_parameters[name])


def run_ir(series, data, opts):
    from harmoniq.fitting.inversion_recovery import fit_t1_ir

    return fit_t1_ir(data, per_volume(series, "ti_s"), mask=opts["mask"], noise_sigma=opts["noise_sigma"])


def run_vfa(series, data, opts):
    from harmoniq.fitting.vfa import fit_t1_vfa
    from harmoniq.fitting.vfa_spoiling import WATER_20C_M2_S, Spoiling, spoiler_moment_rad_m

    spoiling = None
    if opts.get("spoiling_correction") or opts.get("seq"):  # a .seq gives the moment: correct
        increment = _user(series, "RFSpoilingIncrement", "SpoilingRFPhaseIncrement",
                          "the RF spoiling phase increment (deg)")
        moment = spoiler_moment_rad_m(opts["seq"]) if opts.get("seq") else 0.0
        diffusion = opts.get("spoiling_diffusion_m2_s")
        spoiling = Spoiling(math.radians(increment), opts.get("spoiling_t2_s") or Spoiling.t2_s,
                            (WATER_20C_M2_S if diffusion is None else diffusion) if moment else 0.0, moment)
    flips, tr = per_volume(series, "flip_deg", math.pi / 180), _single(series, "tr_s", "TR (s)")
    t2 = None
    if spoiling is not None and opts.get("spoiling_t2_map"):
        t2 = get_array_module(data).asarray(read_map(opts["spoiling_t2_map"], series.spatial_shape, "the T2 map")[0])
    common = dict(method=opts.get("method", "nonlinear"), spoiling=spoiling, t2=t2, mask=opts["mask"],
                  noise_sigma=opts["noise_sigma"])
    if opts.get("dam"):
        from harmoniq.fitting.vfa_dam import fit_t1_vfa_with_dam

        dam = read_image_series(opts["dam"])
        if dam.spatial_shape != series.spatial_shape:
            raise HarmoniqError(f"--dam {opts['dam']}: spatial shape {dam.spatial_shape} differs from the VFA "
                                f"series' {series.spatial_shape}; resample the double-angle series onto its grid")
        dam_data = get_array_module(data).asarray(np.abs(dam.volumes()))
        return fit_t1_vfa_with_dam(data, flips, tr, dam_data, per_volume(dam, "flip_deg", math.pi / 180),
                                   _single(dam, "tr_s", "TR (s)"), dam_profile=_dam_profile(opts.get("dam_seq")),
                                   **common)
    return fit_t1_vfa(data, flips, tr, b1=1.0 if opts["b1"] is None else opts["b1"], **common)


def run_se(series, data, opts):
    from harmoniq.fitting.exponential import fit_t2_se

    return fit_t2_se(data, per_volume(series, "te_s"), offset=opts.get("offset", False), mask=opts["mask"],
                     noise_sigma=opts["noise_sigma"])


def run_t2star(series, data, opts):
    from harmoniq.fitting.exponential import fit_t2star

    return fit_t2star(data, per_volume(series, "te_s"), offset=opts.get("offset", False), mask=opts["mask"],
                      noise_sigma=opts["noise_sigma"])


def run_mese(series, data, opts):
    from harmoniq.fitting.mese import fit_t2_mese

    profile = None
    if opts.get("seq"):
        from harmoniq.sequences.slice_profile import cpmg_profile  # reads the .seq with pypulseq

        profile = cpmg_profile(opts["seq"])
    refocus = math.radians(_user(series, "RefocusingFlipAngle", "RefocusingFlipAngle",
                                 "the refocusing angle (deg) for the EPG fit"))
    return fit_t2_mese(data, per_volume(series, "te_s"), refocus, t1_s=opts.get("t1_s", 1.0), slice_profile=profile,
                       mask=opts["mask"], noise_sigma=opts["noise_sigma"])


def _dam_profile(seq):
    """The transverse and longitudinal slice profiles of the double-angle .seq ``seq`` (None: hard pulses)."""
    if not seq:
        return None
    from harmoniq.fitting.b1_dam import B1_GRID
    from harmoniq.sequences.slice_profile import excitation_profiles  # reads the .seq with pypulseq

    profile = excitation_profiles(seq, B1_GRID, longitudinal=True)
    if len(profile) != 2:
        raise HarmoniqError(f"b1-dam: {seq} has {len(profile)} distinct excitation pulse(s); a "
                            "double-angle map needs two (a and 2a)")
    return profile


def run_dam(series, data, opts):
    from harmoniq.fitting.b1_dam import fit_b1_dam

    return fit_b1_dam(data, per_volume(series, "flip_deg", math.pi / 180), slice_profile=_dam_profile(opts.get("seq")),
                      mask=opts["mask"], noise_sigma=opts["noise_sigma"])


def fit_files(model: str, image, out_dir, *, b1=None, mask=None, device: str = "cpu", noise_sigma=None,
              force: bool = False, datatype_folders: bool = False, **options) -> list[Path]:
    """Fit ``model`` to the NIfTI series ``image`` (+ sidecar; or any file of a BIDS file collection);
    write its maps into ``out_dir`` (its ``anat``/``fmap`` folders with ``datatype_folders``).

    b1: relative (or percent, BIDS TB1map) transmit-field map file, for t1-vfa; mask: mask
    file (non-zero = fit); device: 'cpu' or 'gpu'; noise_sigma: image noise SD (> 0) for the
    uncertainty maps (default: from the residuals); force: replace existing files that no fit
    wrote; options: the model's options (:mod:`harmoniq.models`). Returns the written NIfTI paths.
    """
    spec = get_model(model)
    if noise_sigma is not None and not (math.isfinite(noise_sigma) and noise_sigma > 0):
        raise HarmoniqError(f"--noise-sigma={noise_sigma}: give the image noise SD, a finite number > 0")
    series = read_image_series(image)
    inputs = {path: sha256_file(path) for path in collection_files(series.source)}
    for key in ("seq", "dam_seq", "spoiling_t2_map"):
        if options.get(key):
            inputs[Path(options[key])] = sha256_file(options[key])
    if options.get("dam"):
        inputs.update({path: sha256_file(path) for path in collection_files(options["dam"])})
    opts = dict(options, noise_sigma=noise_sigma, b1=None, mask=None)
    if b1 is not None:
        data, sidecar = read_map(b1, series.spatial_shape, "the B1 map")
        inputs[Path(b1)] = sha256_file(b1)
        opts["b1"] = to_device(relative_b1(data, sidecar), device)
    if mask is not None:
        data, _ = read_map(mask, series.spatial_shape, "the mask")
        inputs[Path(mask)] = sha256_file(mask)
        opts["mask"] = to_device(data != 0, device)
    volumes = np.abs(series.volumes()) if np.iscomplexobj(series.data) else series.volumes()
    maps = spec.fit_function()(series, to_device(volumes, device), opts).to_numpy()
    return maps.write(Path(out_dir), collection_stem(series.source), series, inputs, force=force,
                      datatype_folders=datatype_folders)


def relative_b1(data: np.ndarray, sidecar: dict) -> np.ndarray:
    """B1 as a fraction of nominal: sidecar Units 'percent', or values around 100, are divided by 100."""
    data = data.astype(float)
    units = str(sidecar.get("Units", "")).lower()
    finite = data[np.isfinite(data) & (data > 0)]
    if units in ("percent", "%") or (not units and finite.size and np.median(finite) > 10):
        return data / 100.0
    return data
