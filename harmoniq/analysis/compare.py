"""Cross-scanner comparison statistics: maps of several scanners against the phantom's reference.

The input is a list of :class:`Measurement` (one fitted :class:`ParameterMaps` per arm,
protocol and scanner, with the phantom it was simulated on), however they were produced
(:mod:`harmoniq.experiments` runs them; a study batch collects them). Arms: ``harmonized``
-- every scanner runs the identical .seq, reconstruction and fit; ``site`` -- each scanner
runs its vendor's variant. Per ROI the table holds the mean and SD of the map, the reference
value and the relative bias; per ROI and arm the cross-scanner CoV and the CoV that noise alone
would give (from the fits' Cramer-Rao maps); per protocol and arm ICC(2,1), Lin's CCC and
Bland-Altman statistics against the reference (harmoniq.analysis.metrics).
"""

from __future__ import annotations

from pathlib import Path
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from harmoniq.analysis import metrics
from harmoniq.analysis.b1_reference import b1_references, is_b1
from harmoniq.errors import HarmoniqError
from harmoniq.fitting.maps import ParameterMaps
from harmoniq.models import MODELS, QUANTITY_UNITS
from harmoniq.phantoms.base import Phantom
from harmoniq.protocols import Protocol

ARMS = ("harmonized", "site")


@dataclass(frozen=True)
class Measurement:
    """One fitted map set to compare: its arm, its rater (scanner or site), the protocol it
    ran, its maps, the phantom it measured and the sha256 of its .seq."""

    arm: str
    rater: str
    protocol: Protocol
    maps: ParameterMaps
    phantom: Phantom
    seq_sha256: str
    provenance: dict = field(default_factory=dict)  # how the data were made (simulation seed, noise, ...)


@dataclass
class RoiRow:
    """One ROI of one map: values in ms."""

    arm: str
    protocol: str
    scanner: str
    roi: str
    reference_ms: float
    mean_ms: float
    sd_ms: float
    n_voxels: int
    in_range: bool
    seq_sha256: str
    crlb_ms: float = float("nan")  # RMS over the ROI of the per-voxel Cramer-Rao SD (noise alone)

    @property
    def bias(self) -> float:
        return self.mean_ms / self.reference_ms - 1


@dataclass
class Comparison:
    """Everything the report shows."""

    rows: list[RoiRow]
    maps: dict = field(default_factory=dict)  # (arm, protocol, scanner) -> (map array (y, x), label)
    ranges: dict = field(default_factory=dict)  # protocol -> (quantity, DesignedRange or None)
    noise: bool = True  # False: noise-free simulations, no noise-only CoV
    measurements: dict = field(default_factory=dict)  # (arm, protocol, scanner) -> Measurement (for the report)

    def table(self, arm: str, protocol: str, field: str = "mean_ms") -> tuple[list[str], list[str], np.ndarray, np.ndarray]:
        """(rois, scanners, ``field`` of each (roi, scanner), references of each (roi, scanner) in ms) for
        in-range ROIs measured on every scanner (an ROI whose voxels were all flagged on one scanner is left
        out). Each scanner has its own reference: its phantom's temperature sets the spheres' T1 and T2."""
        rows = [r for r in self.rows if r.arm == arm and r.protocol == protocol and r.in_range]
        rois = sorted({r.roi for r in rows}, key=lambda n: min(x.reference_ms for x in rows if x.roi == n))
        scanners = sorted({r.scanner for r in rows})
        means, values, refs = (np.full((len(rois), len(scanners)), np.nan) for _ in range(3))
        for r in rows:
            means[rois.index(r.roi), scanners.index(r.scanner)] = r.mean_ms
            values[rois.index(r.roi), scanners.index(r.scanner)] = getattr(r, field)
            refs[rois.index(r.roi), scanners.index(r.scanner)] = r.reference_ms
        complete = np.all(np.isfinite(means), axis=1)
        return [n for n, ok in zip(rois, complete) if ok], scanners, values[complete], refs[complete]

    def summary(self, arm: str, protocol: str) -> dict:
        """Per-ROI CoV and bias, and the agreement metrics of one arm of one protocol."""
        rois, scanners, values, refs = self.table(arm, protocol)
        if len(rois) < 2 or len(scanners) < 2:
            return {}
        cov = metrics.cov_across_raters(values)
        # noise alone, where every scanner's fit gave a Cramer-Rao map (MP2RAGE's lookup table gives none;
        # a fit outside its table gives NaN): NaN elsewhere, as without noise
        crlb, counts = self.table(arm, protocol, "crlb_ms")[2], self.table(arm, protocol, "n_voxels")[2]
        known = np.all(np.isfinite(crlb), axis=1)
        noise_cov = np.full(len(rois), np.nan)
        if self.noise and known.sum() >= 2:
            noise_cov[known] = metrics.noise_only_cov(values[known], crlb[known], counts[known])
        bias = metrics.relative_bias(values, refs)
        ba = [metrics.bland_altman(refs[:, j], values[:, j]) for j in range(len(scanners))]
        return {
            "rois": rois, "scanners": scanners, "cov": cov, "noise_cov": noise_cov, "bias": bias,
            "icc": metrics.icc_2_1(values),
            "ccc": {s: metrics.lins_ccc(refs[:, j], values[:, j]) for j, s in enumerate(scanners)},
            "bland_altman": dict(zip(scanners, ba)),
            "seq_sha256": sorted({r.seq_sha256 for r in self.rows if r.arm == arm and r.protocol == protocol}),
        }


def comparable_model(model: str) -> bool:
    """True for a model whose map the comparison measures: a phantom reference (T1, T2) or a B1 map
    (against the scanner's transmit field, :mod:`harmoniq.analysis.b1_reference`)."""
    return model in MODELS and (MODELS[model].reference is not None or is_b1(model))


class DesignedRange(NamedTuple):
    """The spheres a protocol is designed to measure: ``quantity`` (T1, T2) of the phantom in
    ``low``-``high`` ms (its ``[valid_range]`` key ``t1_ms``, ``t2_ms``)."""

    low: float
    high: float
    quantity: str

    def covers(self, value_s: float) -> bool:
        return bool(self.low <= value_s * 1e3 <= self.high)


def designed_range(protocol: Protocol) -> DesignedRange | None:
    """The protocol's designed range of phantom T1 or T2, None without one. A T1/T2 map's range is of
    its own quantity; a B1 map's is of the spheres' T1 (``t1_ms``), where the method's signal model
    holds (AFI's closed form needs TR << T1, Yarnykh, MRM 2007;57:192)."""
    key = "t1_ms" if is_b1(protocol.model) else MODELS[protocol.model].range_key
    if key not in protocol.valid_range:
        return None
    return DesignedRange(*protocol.valid_range[key], key.removesuffix("_ms").upper())


def _phantom_references(m: Measurement) -> tuple[np.ndarray, np.ndarray, dict]:
    """(map in SI, its Cramer-Rao SD, ROI label -> (phantom reference in SI, True)); the designed range
    is applied by :func:`roi_rows`."""
    spec = MODELS[m.protocol.model]
    if spec.reference is None or spec.quantity not in m.maps:
        raise HarmoniqError(f"compare: protocol {m.protocol.name} has no {spec.quantity or 'quantitative'} map to compare")
    values = np.asarray(m.maps[spec.quantity], dtype=float)
    crlb_name = f"{spec.quantity}_crlb"
    crlb = np.asarray(m.maps[crlb_name], dtype=float) if crlb_name in m.maps else np.full(values.shape, np.nan)
    references = {}
    for label, roi in m.phantom.rois.items():
        ref = getattr(roi, spec.reference)
        if ref is not None and np.isfinite(ref):
            references[label] = (ref, True)
    return values, crlb, references


def roi_rows(m: Measurement) -> tuple[list[RoiRow], np.ndarray]:
    """ROI statistics of the measurement's quantitative map against its reference (the phantom's
    values; a B1 map's ratio to its scanner's transmit field, :mod:`harmoniq.analysis.b1_reference`),
    and the map's middle slice (y, x) for the report (ms columns hold 1e3 x the SI value). An ROI is in
    range when its reference is valid (a B1 map: its scanner's field in ``valid_range.b1``) and the
    phantom lies in the protocol's :func:`designed_range`."""
    values, crlb, references = (b1_references if is_b1(m.protocol.model) else _phantom_references)(m)
    outside = np.asarray(m.maps["out_of_range"], dtype=bool)
    designed = designed_range(m.protocol)
    rows = []
    for label, roi in sorted(m.phantom.rois.items()):
        voxels = m.phantom.labels == label
        if label not in references or not voxels.any() or roi.name == "water":
            continue
        ref, valid = references[label]
        in_range = valid and (designed is None or designed.covers(getattr(roi, f"{designed.quantity.lower()}_s")))
        v = values[voxels & ~outside] * 1e3
        if v.size == 0:
            continue
        noise_sd = float(np.sqrt(np.mean(crlb[voxels & ~outside] ** 2)) * 1e3)
        rows.append(RoiRow(m.arm, m.protocol.name, m.rater, roi.name, ref * 1e3, float(np.mean(v)), float(np.std(v)),
                           int(v.size), in_range, m.seq_sha256, noise_sd))
    return rows, values[values.shape[0] // 2]


def field_group(protocol: str, field_t: float) -> str:
    """The name a protocol's statistics carry when scanners of several fields are compared."""
    return f"{protocol}@{field_t:g}T"


def compare(measurements: list[Measurement], noise: bool = True) -> Comparison:
    """The comparison of ``measurements``: ROI rows, report slices and designed ranges.

    noise: False when the data were simulated noise-free (no noise-only CoV is reported).
    Scanners of several field strengths are grouped per field (``t1-irse@3T``): T1 and T2
    differ physically between fields, so the CoV is taken within a field and each field's
    values are compared with that field's reference (the bias), never pooled into one CoV.
    """
    comparison = Comparison(rows=[], noise=noise)
    several_fields = len({m.phantom.field_t for m in measurements}) > 1
    for m in measurements:
        spec = MODELS[m.protocol.model]
        group = field_group(m.protocol.name, m.phantom.field_t) if several_fields else m.protocol.name
        comparison.ranges[group] = (spec.quantity, designed_range(m.protocol))
        rows, image = roi_rows(m)
        for row in rows:
            row.protocol = group
        comparison.rows += rows
        comparison.maps[(m.arm, group, m.rater)] = image
        comparison.measurements[(m.arm, group, m.rater)] = m
    return comparison


#: the ROI table's columns: BIDS data dictionary entries (Description, Units)
METRIC_COLUMNS = {
    "arm": {"Description": "harmonized: one .seq, recon and fit for all scanners; site: each vendor's variant, "
                           "or the study name for a batch"},
    "protocol": {"Description": "protocol name (harmoniq protocols list)"},
    "scanner": {"Description": "simulated scanner or study site (the rater)"},
    "roi": {"Description": "phantom region of interest (NIST sphere label, e.g. T1-03)"},
    "quantity": {"Description": "the mapped quantity: T1 or T2 (a time), B1 (the map's ratio to the scanner's "
                                "transmit field, harmoniq.analysis.b1_reference)"},
    "reference": {"Description": "reference value of the quantity (phantom T1 or T2; 1 for a B1 ratio), in the "
                                 "row's units"},
    "mean": {"Description": "mean of the map over the ROI, in the row's units"},
    "sd": {"Description": "standard deviation of the map over the ROI, in the row's units"},
    "units": {"Description": "units of reference, mean and sd: ms for a time, 1 for a ratio"},
    "n_voxels": {"Description": "voxels in the ROI"},
    "bias_percent": {"Description": "(mean - reference) / reference", "Units": "%"},
    "in_designed_range": {"Description": "the ROI lies in the protocol's valid_range: its reference (T1, T2) or, "
                                         "for B1, its T1 and its scanner's field"},
    "cross_scanner_cov_percent": {"Description": "coefficient of variation of the ROI means across scanners",
                                  "Units": "%"},
    "noise_only_cov_percent": {"Description": "CoV that image noise alone gives (from the Cramer-Rao maps)",
                               "Units": "%"},
    "seq_sha256": {"Description": "SHA-256 of the .seq file the scanner ran"},
}

@dataclass(frozen=True)
class Unit:
    """How a quantity is shown, from the comparison's ``_ms`` values (1e3 x the SI value): ``label`` of
    the report's tables and plots, shown value = ``factor`` x the ``_ms`` value to ``digits`` after the
    point, ``map_label`` of the maps (SI); ``table_units`` and ``table_digits`` of metrics.tsv."""

    label: str
    factor: float
    digits: int
    map_label: str
    table_units: str
    table_digits: int

    def format(self, value_ms: float, signed: bool = False) -> str:
        """``value_ms`` (a ``_ms`` value) as shown, with its sign when ``signed``."""
        return f"{self.factor * value_ms:{'+' if signed else ''}.{self.digits}f}"


#: SI unit of the quantity (harmoniq.models.QUANTITY_UNITS) -> how it is shown: times in ms (metrics.tsv to
#: 0.01 ms); a unitless ratio (a B1 map against its scanner's transmit field, harmoniq.analysis.b1_reference)
#: as itself (metrics.tsv to 1e-5)
_UNITS = {"s": Unit("ms", 1.0, 1, "s", "ms", 2), "1": Unit("ratio", 1e-3, 3, "ratio", "1", 5)}


def unit(quantity: str) -> Unit:
    """How ``quantity`` (T1, T2, B1, ...) is shown, from its SI unit in the model registry."""
    return _UNITS[QUANTITY_UNITS[quantity]]


def write_metrics(comparison: Comparison, path: Path) -> tuple[Path, Path]:
    """metrics.tsv and its data dictionary metrics.json: one row per (arm, protocol, scanner, ROI)
    plus the per-ROI CoV of its arm; values in the units of their quantity (:func:`unit`)."""
    from harmoniq.bids.dataset import write_table

    cov = {}
    for arm in {r.arm for r in comparison.rows}:
        for protocol in {r.protocol for r in comparison.rows}:
            s = comparison.summary(arm, protocol)
            for roi, c, floor in zip(s.get("rois", []), s.get("cov", []), s.get("noise_cov", [])):
                cov[(arm, protocol, roi)] = (c, floor)
    rows = []
    for r in comparison.rows:
        c = cov.get((r.arm, r.protocol, r.roi))
        quantity = comparison.ranges[r.protocol][0]
        u = unit(quantity)
        rows.append([r.arm, r.protocol, r.scanner, r.roi, quantity,
                     *(f"{u.factor * v:.{u.table_digits}f}" for v in (r.reference_ms, r.mean_ms, r.sd_ms)), u.table_units,
                     r.n_voxels, f"{100 * r.bias:.3f}", str(r.in_range).lower(),
                     *(_percent(v) for v in (c or (np.nan, np.nan))), r.seq_sha256])
    return write_table(path, METRIC_COLUMNS, rows)


def _percent(fraction: float) -> str:
    return f"{100 * fraction:.3f}" if np.isfinite(fraction) else ""
