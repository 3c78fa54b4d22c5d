"""Published multi-site figures beside the simulated cross-scanner CoV, per method.

Each :class:`Published` entry is one figure from a multi-site study of the ISMRM/NIST system
phantom (or a T1 phantom of the same salts), with its source (authors, year, journal, doi).
The table gives, per protocol of a comparison, the simulated harmonized and site CoV (median and
largest over in-range ROIs), the published figures for the same method and field, and one
sentence on where they disagree and why.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from harmoniq.analysis.compare import Comparison


@dataclass(frozen=True)
class Published:
    """One published cross-site figure: the fit model it measured, the field (T), the figure as
    the paper gives it, its largest value (fraction, for the comparison), the source and what
    the simulation leaves out that the figure contains."""

    model: str
    field_t: float
    figure: str
    largest: float
    source: str
    missing: str


_BOUDREAU = ("Boudreau, Karakuzu et al. 2024, Magn Reson Med, doi:10.1002/mrm.30111 (ISMRM 2020 T1 reproducibility "
             "challenge)")
_BANE = "Bane et al. 2018, Magn Reson Med 79:2564, doi:10.1002/mrm.26903"
_VENUS = "Karakuzu et al. 2022, Magn Reson Med (VENUS), doi:10.1002/mrm.29292"
_IR_MISSING = ("each site's own implementation of the sequence (the published spread contains it; the simulated "
               "site variants change only timing, angles and reconstruction)")
_VFA_MISSING = ("the vendor-native sequences' own RF pulses and slab profiles, which VFA sees through the flip angle "
                "squared (the models' B1 patterns are mapped by b1-dam and corrected in both arms)")

#: published figures; "largest" is the upper end of the figure (fraction)
PUBLISHED = (
    Published("t1-ir", 3.0, "mean inter-submission CoV 6.1 % (18 submissions, 39 phantom datasets, 3 vendors; "
                            "intra-submission 2.9 %)", 0.061, _BOUDREAU, _IR_MISSING),
    Published("t1-ir", 3.0, "inter-platform CoV 5.46 % (common IR-SE protocol, 8 centres)", 0.0546, _BANE, _IR_MISSING),
    Published("t1-ir", 1.5, "inter-platform CoV 8.21 % (common IR-SE protocol)", 0.0821, _BANE, _IR_MISSING),
    Published("t1-vfa", 3.0, "inter-vendor difference 8-19.4 % with vendor-native VFA, 0.2-5 % with vendor-neutral "
                             "VFA (GE and Siemens)", 0.194, _VENUS, _VFA_MISSING),
    Published("t1-vfa", 3.0, "inter-platform CoV 22.87 % (common 7-angle VFA protocol)", 0.2287, _BANE, _VFA_MISSING),
    Published("t1-vfa", 1.5, "inter-platform CoV 11.13 % (common 7-angle VFA protocol)", 0.1113, _BANE, _VFA_MISSING),
)
NONE_FOUND = "no published multi-site CoV of this method on the NIST phantom found"


@dataclass(frozen=True)
class PublishedRow:
    """One protocol of a comparison: simulated CoVs (fractions: median, largest; None without that arm),
    the published figures for its method and field, their sources and the note."""

    protocol: str
    model: str
    harmonized: tuple[float, float] | None
    site: tuple[float, float] | None
    published: tuple[Published, ...]
    note: str


def _cov(c: Comparison, arm: str, protocol: str) -> tuple[float, float] | None:
    s = c.summary(arm, protocol)
    return (float(np.median(s["cov"])), float(np.max(s["cov"]))) if s else None


def note(simulated: float | None, published: tuple[Published, ...]) -> str:
    """One sentence: does the largest simulated CoV (fraction) reach the published figures, and if not, why."""
    if not published:
        return f"{NONE_FOUND}."
    if simulated is None:
        return "No cross-scanner CoV was simulated for this method."
    low = min(p.largest for p in published)
    if simulated >= low:
        return f"The simulated CoV (up to {100 * simulated:.1f} %) reaches the published range."
    return (f"The simulated CoV (up to {100 * simulated:.1f} %) stays below the published {100 * low:.1f} % and more: "
            f"the simulation leaves out {published[0].missing}.")


def published_rows(c: Comparison) -> list[PublishedRow]:
    """One row per protocol (and field) of the comparison."""
    rows = []
    for protocol in c.ranges:
        m = next((m for (_, p, _), m in c.measurements.items() if p == protocol), None)
        if m is None:  # a hand-made comparison without its measurements
            continue
        model, field_t = m.protocol.model, m.phantom.field_t
        found = tuple(p for p in PUBLISHED if p.model == model and abs(p.field_t - field_t) < 0.2)
        harmonized, site = _cov(c, "harmonized", protocol), _cov(c, "site", protocol)
        largest = max((v[1] for v in (harmonized, site) if v is not None), default=None)
        rows.append(PublishedRow(protocol, model, harmonized, site, found, note(largest, found)))
    return rows


def _percent(v: tuple[float, float] | None) -> str:
    return f"median {100 * v[0]:.2f} %, max {100 * v[1]:.2f} %" if v is not None else "-"


def published_lines(rows: list[PublishedRow]) -> list[str]:
    """The table as text: per protocol the simulated CoVs, then each published figure with its source, then the note."""
    lines = []
    for r in rows:
        lines.append(f"{r.protocol:12s} {r.model}: simulated CoV harmonized {_percent(r.harmonized)}; "
                     f"site {_percent(r.site)}")
        lines += [f"{'':12s} published: {p.figure} [{p.source}]" for p in r.published]
        lines.append(f"{'':12s} note: {r.note}")
    return lines
