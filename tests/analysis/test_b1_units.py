"""A B1 comparison is labelled as the unitless ratio it is, never as a time: the ROI table, the agreement
table, every plot axis and colour bar, and the printed summary lines.

The maps are the hand-made ones of test_b1_reference: harmonized maps equal to their scanner's field, site
maps 4 % high on one scanner ("dome") and 4 % low on the other ("flat"), so the site arm's ROI means are
1.040 and 0.960 of the reference 1 (not 1040 and 960 "ms")."""

import re

import pytest

from harmoniq.analysis import report
from harmoniq.analysis.compare import compare
from harmoniq.protocols import load_protocol
from test_b1_reference import FIELDS, SITE_SCALE, measurement


@pytest.fixture(scope="module")
def phantom():
    from harmoniq.phantoms import make_phantom

    return make_phantom("nist", matrix=48, plate="t1", supersample=1)


@pytest.fixture(scope="module")
def comparison(phantom):
    protocol = load_protocol("b1-afi")
    return compare([measurement(phantom, protocol, arm, name, SITE_SCALE[name] if arm == "site" else 1.0)
                    for arm in ("harmonized", "site") for name in FIELDS])


def _texts(figure) -> list[str]:
    """Every axis label, title and colour-bar label of ``figure``."""
    return [t for ax in figure.axes for t in (ax.get_xlabel(), ax.get_ylabel(), ax.get_title()) if t]


def test_b1_report_labels_the_ratio_not_a_time(comparison, tmp_path, monkeypatch):
    figures, save = [], report._save
    monkeypatch.setattr(report, "_save", lambda fig, path: figures.append(fig) or save(fig, path))
    page = report.write_report(comparison, tmp_path).read_text()
    heads = re.findall(r"<th>([^<]*)</th>", page)
    assert "reference (ratio)" in heads and "site: dome (ratio)" in heads and "Bland-Altman bias (ratio)" in heads
    assert not [h for h in heads if "(ms)" in h or "(s)" in h], heads
    rows = re.findall(r'<tr class="roi"><td>(T1-\d\d)</td>((?:<td>[^<]*</td>)+)</tr>', page)
    # one reference: by name; spheres of T1 in b1-afi's designed 300-3000 ms only
    assert [name for name, _ in rows] == [f"T1-{k:02d}" for k in range(1, 7)]
    first = re.findall(r"<td>([^<]*)</td>", rows[0][1])
    # reference, harmonized dome, flat, CoV, noise CoV (no Cramer-Rao map here), mean bias, site dome, flat, ...
    assert first[0] == "1.000" and first[1:3] == ["1.000", "1.000"] and first[6:8] == ["1.040", "0.960"]
    assert first[4] == "n/a" and "<td>nan</td>" not in page
    # Lin's CCC against the constant reference 1 would read 0 for any map
    assert page.count("<td>n/a (one reference value)</td>") == 4
    labels = [t for fig in figures for t in _texts(fig)]
    assert len(figures) == 4 and any("measured B1 (ratio)" == t for t in labels)
    assert any(t.endswith("B1 (ratio)") for t in labels)  # the maps' titles and colour bars
    assert not [t for t in labels if "(ms)" in t or "(s)" in t], labels
    # references all near 1: linear axes (a log axis over 0.96-1.04 shows nothing but crowded ticks)
    plotted = [ax for fig in figures for ax in fig.axes if ax.get_xlabel() == "reference B1 (ratio)"]
    assert len(plotted) == 4 and all(ax.get_xscale() == "linear" for ax in plotted)


def test_b1_summary_lines_name_the_ratio(comparison):
    lines = report.summary_lines(comparison)
    assert lines[0].startswith("b1-afi   harmonized B1 (ratio), T1 300-3000 ms: 6 ROIs x 2 scanners")
    assert not [line for line in lines if "B1 in" in line or " ms" in line.replace("T1 300-3000 ms", "")]


def test_a_slab_without_phantom_rois_is_named_not_a_plotting_error(tmp_path):
    """4 partitions of 10 mm (b1-afi's slab before it had 6 of 7 mm): every sphere's pure voxels lie in two
    partitions, which the ROIs' one-voxel erosion removes; the report says so in one line instead of failing
    in matplotlib."""
    from harmoniq.errors import HarmoniqError
    from harmoniq.phantoms import make_phantom

    slab = make_phantom("nist", matrix=(4, 64, 64), ndim=3, fov_m=(0.04, 0.25, 0.25), plate="t1")
    assert [roi.name for k, roi in slab.rois.items() if (slab.labels == k).any()] == ["water"]
    c = compare([measurement(slab, load_protocol("b1-afi"), "harmonized", name, 1.0) for name in FIELDS],
                noise=False)
    with pytest.raises(HarmoniqError, match=r"^compare: b1-afi has no phantom ROI in its maps .*thinner partitions$"):
        report.write_report(c, tmp_path / "out")
    assert not (tmp_path / "out").exists()
