"""The report's maps name every ROI where it is, each ROI row of the tables has that name on
every map, and a comparison of one dataset still gives its ROI values (no empty table)."""

import re

import numpy as np
import pytest

from harmoniq.analysis.compare import Measurement, compare
from harmoniq.analysis.report import draw_maps, write_report
from harmoniq.fitting.maps import ParameterMaps
from harmoniq.phantoms import make_phantom
from harmoniq.protocols import load_protocol


@pytest.fixture(scope="module")
def phantom():
    return make_phantom("nist", matrix=64, plate="t2", supersample=1)


def _measurement(phantom, scanner: str, scale: float) -> Measurement:
    """A T2 map equal to the phantom's T2 times ``scale`` inside the object, NaN outside."""
    t2 = np.where(phantom.pd > 0, phantom.t2_s * scale, np.nan)
    maps = ParameterMaps("t2-se", {"T2": t2, "out_of_range": np.zeros(t2.shape, bool), "T2_crlb": np.full(t2.shape, 1e-3)},
                         {"T2": "s", "T2_crlb": "s"})
    return Measurement("harmonized", scanner, load_protocol("t2-se"), maps, phantom, "0" * 64,
                       {"matrix": 64, "seed": 0, "phantom": "nist"})


def _roi_labels(figure) -> list[dict]:
    """Per map panel: ROI name -> (x, y) of its label."""
    return [{t.get_text(): t.get_position() for t in ax.texts if (t.get_gid() or "").startswith("roi:")}
            for ax in figure.axes if ax.images]


def test_every_map_labels_each_table_row_inside_its_roi(phantom, tmp_path):
    c = compare([_measurement(phantom, "a-3t", 1.0), _measurement(phantom, "b-3t", 1.02)])
    panels = _roi_labels(draw_maps(c, "t2-se"))
    assert len(panels) == 4  # two scanners: map and difference map each
    page = write_report(c, tmp_path).read_text()
    rows = re.findall(r'<tr class="roi"><td>([^<]+)</td>', page)
    assert len(rows) >= 8
    names = {roi.name: k for k, roi in phantom.rois.items()}
    middle = phantom.labels[phantom.labels.shape[0] // 2]
    for panel in panels:
        assert set(rows) <= set(panel)
        for name, (x, y) in panel.items():  # the label sits on its sphere in the phantom's own label image
            assert middle[int(round(y)), int(round(x))] == names[name], name
    assert "Provenance" in page and "reference values from" in page and "Stupic" in page
    assert "(ms)</th>" in page and "(%)" in page


def test_one_dataset_gives_its_roi_values_and_says_why_there_is_no_cov(phantom, tmp_path):
    c = compare([_measurement(phantom, "a-3t", 1.0)])
    page = write_report(c, tmp_path).read_text()
    assert len(re.findall(r'<tr class="roi">', page)) >= 8
    assert "need two scanners or more" in page
    assert len(re.findall(r'src="data:image/png;base64,', page)) == 3  # maps, measured vs reference, Bland-Altman
