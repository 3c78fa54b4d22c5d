"""A B1 map's reference in the comparison: the transmit field the scanner model applied.

A relative-B1 map (b1-dam, b1-afi, b1-bs) has no phantom reference: the truth is the scanner's
own field, B1_model(r) = transmit_calibration x coil pattern(r) (:meth:`ScannerModel.b1_scale`), at
the voxel centres of the phantom the run simulated. Scanners differ in B1_model, so each map is
compared as the ratio to its own scanner's field, r = B1_map / B1_model (reference 1): per ROI the
table holds 1e3 x mean(r) and 1e3 x sd(r) in its ``_ms`` columns (the 1e3 of s -> ms, reference
1000), so the cross-scanner CoV is that of the maps' accuracy and the bias is mean(r) - 1. The
model is the one recorded by the simulation stage (provenance ``scanner_model``), so an ablation
that turned the B1 pattern off is measured against the flat field it simulated.
"""

from __future__ import annotations

import numpy as np

from harmoniq.errors import HarmoniqError
from harmoniq.models import MODELS

SCALE = 1e3
"""Ratio -> the table's ``_ms`` columns, as SI values are scaled to ms (reference 1000)."""


def is_b1(model: str) -> bool:
    """True for a relative transmit-field (B1) model, whose reference is the scanner's field."""
    return model in MODELS and MODELS[model].quantity == "B1"


def model_b1(measurement) -> np.ndarray:
    """B1_model (relative, z, y, x) of the scanner model that simulated ``measurement``, at its
    phantom's voxel centres."""
    from harmoniq.simulation.scanner_model import scanner_model_from_dict

    record = measurement.provenance.get("scanner_model")
    if not record:
        raise HarmoniqError(f"compare: {measurement.protocol.name} on {measurement.rater} has no simulated scanner "
                            "model; a B1 map is compared with the transmit field of the scanner that simulated it")
    return scanner_model_from_dict(record).b1_scale(measurement.phantom.positions_m())


def b1_ratio(measurement) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(r = B1_map / B1_model, its Cramer-Rao SD (NaN without a crlb map), B1_model), all (z, y, x)."""
    truth = model_b1(measurement)
    b1 = np.asarray(measurement.maps["B1"], dtype=float)
    crlb = (np.asarray(measurement.maps["B1_crlb"], dtype=float) if "B1_crlb" in measurement.maps
            else np.full(b1.shape, np.nan))
    if b1.shape != truth.shape:
        raise HarmoniqError(f"compare: the B1 map of {measurement.protocol.name} on {measurement.rater} has shape "
                            f"{b1.shape}, its phantom {truth.shape}; a map is compared on its phantom's grid")
    return b1 / truth, crlb / truth, truth


def b1_references(measurement) -> tuple[np.ndarray, np.ndarray, dict]:
    """(r, its Cramer-Rao SD, ROI label -> (reference 1.0, whether the ROI's median B1_model lies in the
    protocol's ``valid_range.b1``)) for :func:`harmoniq.analysis.compare.roi_rows`."""
    ratio, crlb, truth = b1_ratio(measurement)
    low, high = measurement.protocol.valid_range.get("b1", (0.0, np.inf))
    phantom = measurement.phantom
    references = {label: (1.0, bool(low <= np.median(truth[phantom.labels == label]) <= high))
                  for label in phantom.rois if np.any(phantom.labels == label)}
    return ratio, crlb, references
