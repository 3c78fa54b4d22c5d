"""Comparisons across field strengths: CoV per field, bias against each field's reference.

Three 1.5 T and three 3 T scanners measure the NIST T1 plate; each scanner's map is the
phantom's own field-specific T1 times a known per-scanner factor, so the expected per-field
CoV and bias follow from those factors alone.
"""

import numpy as np

from harmoniq.analysis.compare import Measurement, compare
from harmoniq.analysis.report import summary_lines
from harmoniq.fitting.maps import ParameterMaps
from harmoniq.phantoms import make_phantom
from harmoniq.protocols import load_protocol

FACTORS = {1.5: (0.98, 1.00, 1.02), 3.0: (1.05, 1.05, 1.05)}


def _measurements():
    protocol = load_protocol("t1-irse")
    out = []
    for field, factors in FACTORS.items():
        phantom = make_phantom("nist", matrix=64, field_t=field)
        for k, factor in enumerate(factors):
            t1 = phantom.t1_s * factor
            maps = ParameterMaps("t1-ir", {"T1": t1, "out_of_range": np.zeros(t1.shape, bool)}, {"T1": "s"})
            out.append(Measurement("harmonized", f"scanner-{field:g}t-{k}", protocol, maps, phantom, "sha"))
    return out


def test_statistics_are_per_field_and_bias_is_against_each_fields_reference():
    comparison = compare(_measurements(), noise=False)
    assert set(comparison.ranges) == {"t1-irse@1.5T", "t1-irse@3T"}
    low, high = comparison.summary("harmonized", "t1-irse@1.5T"), comparison.summary("harmonized", "t1-irse@3T")
    expected_low = np.std(FACTORS[1.5], ddof=1) / np.mean(FACTORS[1.5])
    np.testing.assert_allclose(low["cov"], expected_low, rtol=1e-6)  # 2 % spread at 1.5 T
    np.testing.assert_allclose(high["cov"], 0.0, atol=1e-9)  # 3 T scanners agree ...
    np.testing.assert_allclose(high["bias"], 0.05, rtol=1e-6)  # ... and all read 5 % high
    np.testing.assert_allclose(np.mean(low["bias"], axis=1), 0.0, atol=1e-9)
    pooled = np.concatenate([np.array(FACTORS[1.5]), np.array(FACTORS[3.0])])
    assert low["cov"].max() < np.std(pooled, ddof=1) / np.mean(pooled)  # what pooling would have reported
    lines = summary_lines(comparison)
    assert any(line.startswith("t1-irse@1.5T") for line in lines) and any(line.startswith("t1-irse@3T") for line in lines)


def test_one_field_keeps_the_protocol_name():
    comparison = compare([m for m in _measurements() if m.phantom.field_t == 3.0], noise=False)
    assert set(comparison.ranges) == {"t1-irse"}


def test_the_ablation_rows_are_per_field_and_noise_compares_the_run_with_its_noise_free_twin():
    """A synthetic effect: the per-scanner factors. At 1.5 T it is the whole 2 % spread; at 3 T it adds
    no spread but the whole 5 % bias."""
    from harmoniq.analysis.ablation import ablation_rows

    baseline = compare(_measurements(), noise=False)
    flat = compare([Measurement(m.arm, m.rater, m.protocol, ParameterMaps(
        "t1-ir", {"T1": m.phantom.t1_s, "out_of_range": m.maps["out_of_range"]}, {"T1": "s"}), m.phantom, "sha")
        for m in _measurements()], noise=False)
    noisy = [Measurement(m.arm, m.rater, m.protocol, ParameterMaps(
        "t1-ir", {**m.maps.maps, "T1_crlb": 0.01 * m.maps["T1"]}, {"T1": "s", "T1_crlb": "s"}), m.phantom, "sha")
        for m in _measurements()]  # as run with noise: the same maps, with their Cramer-Rao SD
    runs = {"": baseline, "b1": flat}
    rows = {(r.effect, r.protocol): r for r in ablation_rows(runs, compare(noisy, noise=True))}
    assert set(rows) == {(e, f"t1-irse@{f}T") for e in ("noise", "b1") for f in ("1.5", "3")}
    low, high = rows[("b1", "t1-irse@1.5T")], rows[("b1", "t1-irse@3T")]
    np.testing.assert_allclose(low.cov_change, np.std(FACTORS[1.5], ddof=1) / np.mean(FACTORS[1.5]), rtol=1e-6)
    np.testing.assert_allclose([high.cov_change, low.cov_without, high.bias_without], 0.0, atol=1e-9)
    np.testing.assert_allclose([high.bias_all, high.bias_change], 0.05, rtol=1e-6)
    assert rows[("noise", "t1-irse@3T")].cov_change == 0.0  # the same maps with and without noise
