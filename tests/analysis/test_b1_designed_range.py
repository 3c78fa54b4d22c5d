"""B1 in the ROI table and the comparison's designed range of a B1 method.

metrics.tsv holds each quantity in its own units: a B1 map's ratio to its scanner's field as itself
(units 1), T1/T2 in ms. The maps are the hand-made ones of test_b1_reference (site arm: 4 % high on
"dome", 4 % low on "flat").

AFI's closed form, S2/S1 = (1 + n cos a) / (n + cos a), takes TR1 < TR2 << T1 (Yarnykh, MRM
2007;57:192, first order in TR/T1). The same paper's exact ratio for ideal spoiling,
S2/S1 = (1 - E1 + (1 - E2) E1 cos a) / (1 - E2 + (1 - E1) E2 cos a), E_i = exp(-TR_i / T1), is written
here and decides which NIST spheres the closed form reads within 1 % at the protocol's flip angle:
those must be the spheres of b1-afi's designed T1 range."""

import csv
import json

import numpy as np
import pytest

from harmoniq.analysis.compare import RoiRow, compare, designed_range, write_metrics
from harmoniq.phantoms import make_phantom
from harmoniq.protocols import load_protocol
from test_b1_reference import FIELDS, SITE_SCALE, measurement


@pytest.fixture(scope="module")
def phantom():
    return make_phantom("nist", matrix=48, plate="t1", supersample=1)


def closed_form_flip_error(t1_s: float, tr1_s: float, n: float, flip_rad: float) -> float:
    """Relative error of the closed-form flip angle on the exact ideal-spoiling ratio (Yarnykh 2007)."""
    e1, e2 = np.exp(-tr1_s / t1_s), np.exp(-n * tr1_s / t1_s)
    r = (1 - e1 + (1 - e2) * e1 * np.cos(flip_rad)) / (1 - e2 + (1 - e1) * e2 * np.cos(flip_rad))
    return float(np.arccos((r * n - 1) / (n - r)) / flip_rad - 1)


def test_afi_designed_range_is_where_the_closed_form_holds(phantom):
    protocol = load_protocol("b1-afi")
    p = protocol.values
    tr1, n, flip = p["tr_ms"] * 1e-3, p["tr_ratio"], np.deg2rad(p["flip_deg"][0])
    spheres = {roi.name: roi.t1_s for roi in phantom.rois.values() if roi.name != "water"}
    errors = {name: closed_form_flip_error(t1, tr1, n, flip) for name, t1 in spheres.items()}
    assert abs(errors["T1-14"]) > 0.25  # T1 22 ms < TR2 = 100 ms: the closed form fails
    designed = designed_range(protocol)
    assert designed.quantity == "T1"
    within = sorted(name for name, e in errors.items() if abs(e) < 0.01)
    assert within == sorted(name for name, t1 in spheres.items() if designed.covers(t1)) == [
        f"T1-{k:02d}" for k in range(1, 7)]


def test_the_shipped_afi_slab_keeps_voxels_in_every_sphere():
    """The ROIs' one-voxel 3D erosion needs three partitions inside a 24 mm sphere: b1-afi's 6 of 7 mm keep
    voxels in all 14 at the comparison's matrix 64 (its former 4 of 10 mm kept none)."""
    p = load_protocol("b1-afi").parameters
    slab = make_phantom("nist", matrix=(p.partitions, 64, 64), ndim=3, fov_m=(p.slice_thickness_m, p.fov_m, p.fov_m),
                        plate="t1")
    counts = {roi.name: int((slab.labels == k).sum()) for k, roi in slab.rois.items() if roi.name != "water"}
    assert len(counts) == 14 and min(counts.values()) >= 4, counts


def test_metrics_tsv_holds_b1_as_the_ratio_and_t1_in_ms(phantom, tmp_path):
    protocol = load_protocol("b1-afi")
    c = compare([measurement(phantom, protocol, arm, name, SITE_SCALE[name] if arm == "site" else 1.0)
                 for arm in ("harmonized", "site") for name in FIELDS], noise=False)
    c.rows.append(RoiRow("harmonized", "t1-irse", "dome", "T1-03", 984.1, 990.5, 12.25, 30, True, "0" * 64))
    c.ranges["t1-irse"] = ("T1", designed_range(load_protocol("t1-irse")))
    table, dictionary = write_metrics(c, tmp_path / "metrics.tsv")
    with open(table, newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    b1 = {(r["arm"], r["scanner"], r["roi"]): r for r in rows if r["protocol"] == "b1-afi"}
    assert len(b1) == 4 * 14 and {r["units"] for r in b1.values()} == {"1"}
    assert {r["quantity"] for r in b1.values()} == {"B1"} and {r["reference"] for r in b1.values()} == {"1.00000"}
    # the site arm's maps, each against its own scanner's field: 1.04 and 0.96 of it in every sphere
    assert float(b1[("site", "dome", "T1-01")]["mean"]) == pytest.approx(1.04, abs=1e-5)
    assert float(b1[("site", "flat", "T1-14")]["mean"]) == pytest.approx(0.96, abs=1e-5)
    assert float(b1[("site", "dome", "T1-01")]["cross_scanner_cov_percent"]) == pytest.approx(
        100 * np.std([1.04, 0.96], ddof=1), abs=1e-3)
    # designed range: T1-01..06 (300-3000 ms) in, the short-T1 spheres out
    assert [b1[("site", "dome", f"T1-{k:02d}")]["in_designed_range"] for k in (1, 6, 7, 14)] == [
        "true", "true", "false", "false"]
    t1 = next(r for r in rows if r["protocol"] == "t1-irse")
    assert (t1["quantity"], t1["reference"], t1["mean"], t1["sd"], t1["units"]) == ("T1", "984.10", "990.50", "12.25",
                                                                                      "ms")
    columns = json.loads(dictionary.read_text())
    assert "units" in columns and not [k for k, v in columns.items() if v.get("Units") == "ms"]
