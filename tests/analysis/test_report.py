"""The site-vs-harmonized summary line, with and without noise, on a hand-made comparison."""

import numpy as np

from harmoniq.analysis.compare import Comparison, DesignedRange, RoiRow
from harmoniq.analysis.report import summary_lines, write_report

SCANNERS = ("a-3t", "b-3t", "c-3t")


def _comparison(noise: bool) -> Comparison:
    """ROI 'A': site spread 5 %, harmonized 0.1 %; 'B': harmonized 0.3 %, site 0.2 %, both far
    below what 1 % per-voxel noise over 4 voxels gives (0.5 % per scanner mean)."""
    spreads = {("harmonized", "A"): 0.001, ("site", "A"): 0.05, ("harmonized", "B"): 0.003, ("site", "B"): 0.002}
    rows = []
    for (arm, roi), spread in spreads.items():
        for k, scanner in enumerate(SCANNERS):
            mean = 100.0 * (1 + spread * (k - 1))
            rows.append(RoiRow(arm, "p", scanner, roi, 100.0 if roi == "A" else 101.0, mean, 1.0, 4, True, arm,
                               crlb_ms=1.0))
    c = Comparison(rows=rows, noise=noise)
    c.ranges["p"] = ("T1", DesignedRange(10.0, 1000.0, "T1"))
    return c


def test_site_line_names_the_rois_where_harmonization_did_not_lower_the_cov(tmp_path):
    line = [x for x in summary_lines(_comparison(True)) if "site vs harmonized" in x][0]
    assert "site CoV larger in 1 of 2 ROIs; not in B (B with both CoVs within noise alone)" in line
    quiet = [x for x in summary_lines(_comparison(False)) if "site vs harmonized" in x][0]
    assert quiet.endswith("site CoV larger in 1 of 2 ROIs; not in B")
    c = _comparison(True)
    # standard error 1 ms / sqrt(4) of a ~100 ms mean
    assert np.allclose(c.summary("site", "p")["noise_cov"], 0.005, rtol=0.02)
    for noise in (True, False):
        c = _comparison(noise)
        c.maps = {(arm, "p", s): np.zeros((4, 4)) for arm in ("harmonized", "site") for s in SCANNERS}
        page = write_report(c, tmp_path / str(noise)).read_text()
        assert ("<td></td>" in page) != noise  # noise-free: the noise column stays empty


def test_t1_plots_over_decades_use_log_axes(tmp_path, monkeypatch):
    from harmoniq.analysis import report

    rows = [RoiRow(arm, "p", s, f"T1-{k:02d}", ref, ref * (1 + 0.01 * j), 1.0, 4, True, arm)
            for arm in ("harmonized", "site") for j, s in enumerate(SCANNERS)
            for k, ref in enumerate((62.0, 352.0, 1989.0), start=1)]
    c = Comparison(rows=rows, noise=False)
    c.ranges["p"] = ("T1", DesignedRange(50.0, 3000.0, "T1"))
    figures, save = [], report._save
    monkeypatch.setattr(report, "_save", lambda fig, path: figures.append(fig) or save(fig, path))
    report.plot_measured_vs_reference(c, "p", tmp_path / "mvr.png")
    report.plot_bland_altman(c, "p", tmp_path / "ba.png")
    axes = [ax for fig in figures for ax in fig.axes]
    assert len(axes) == 4 and all(ax.get_xscale() == "log" for ax in axes)
    assert [ax.get_yscale() for ax in axes] == ["log", "log", "linear", "linear"]
