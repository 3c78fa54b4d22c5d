"""Each scanner's bias is against its own reference (its phantom's temperature sets the spheres' T1).

A hand-made comparison whose three scanners each measure exactly their own reference, the references
differing by up to 3 % (a T1 sphere at 19.5, 21.2 and 22 degC): every bias, Bland-Altman bias and
the report's mean bias must be 0, and the ROI table must show the three references.
"""

import re

import numpy as np

from harmoniq.analysis.compare import Comparison, DesignedRange, RoiRow
from harmoniq.analysis.report import _roi_table

REFERENCES = {"A": {"a-3t": 2000.0, "b-3t": 2030.0, "c-3t": 2060.0}, "B": {"a-3t": 100.0, "b-3t": 101.0, "c-3t": 102.0}}


def _exact() -> Comparison:
    rows = [RoiRow("harmonized", "p", scanner, roi, ref, ref, 1.0, 9, True, "sha")
            for roi, refs in REFERENCES.items() for scanner, ref in refs.items()]
    c = Comparison(rows=rows, noise=False)
    c.ranges["p"] = ("T1", DesignedRange(10.0, 3000.0, "T1"))
    return c


def test_a_scanner_that_measures_its_own_reference_has_no_bias():
    c = _exact()
    s = c.summary("harmonized", "p")
    assert s["rois"] == ["B", "A"]
    np.testing.assert_array_equal(s["bias"], 0.0)
    assert all(ba.bias == 0.0 for ba in s["bland_altman"].values())
    assert all(ccc == 1.0 for ccc in s["ccc"].values())
    assert s["cov"][1] > 0.01  # the true values differ by 3 %: that spread is real, not a bias
    page = _roi_table(c, "p")  # the report's ROI table
    assert page.count("<th>reference a-3t (ms)</th>") == 1 and "<th>reference c-3t (ms)</th>" in page
    rows = dict(re.findall(r'<tr class="roi"><td>(\w)</td>((?:<td>[^<]*</td>)+)</tr>', page))
    assert re.findall(r"<td>([^<]*)</td>", rows["A"])[:3] == ["2000.0", "2030.0", "2060.0"]
    assert re.findall(r"<td>([^<]*)</td>", rows["A"])[-1] == "+0.00"  # mean bias against each own reference
