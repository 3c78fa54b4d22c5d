"""Whole files: pypulseq's write_gre example on every vendor, file round trips, the report,
bad inputs and speed on ~20,000 blocks."""

import json
import time

import numpy as np
import pypulseq as pp
import pytest
from scanner_seq_builders import clean_gre, write_gre_example

from harmoniq.errors import HarmoniqError
from harmoniq.scanners import check, list_profiles


@pytest.fixture(scope="module")
def gre():
    return write_gre_example(n_lines=16)


def _off_raster_blocks(seq, raster_ns):
    """Independent reference: decode every block with pypulseq itself."""
    blocks, grads = set(), set()
    for b in seq.block_events:
        block = seq.get_block(b)
        if round(pp.calc_duration(block) * 1e9) % raster_ns:
            blocks.add(b)
        for g in (block.gx, block.gy, block.gz):
            if g is not None and g.type == "trap":
                times = (g.delay, g.rise_time, g.flat_time, g.fall_time)
                if any(round(t * 1e9) % raster_ns for t in times):
                    grads.add(b)
    return blocks, grads


@pytest.mark.parametrize("profile", ["ge-premier-3t", "ge-signa-artist-1.5t"])
def test_write_gre_example_violates_ge_rasters(gre, profile):
    report = check(gre, profile)
    declared = {v.message.split()[1] for v in report.violations if v.rule == "declared_raster"}
    assert declared == {"GradientRasterTime", "RadiofrequencyRasterTime", "AdcRasterTime", "BlockDurationRaster"}
    blocks, grads = _off_raster_blocks(gre, 4000)
    assert blocks and grads
    assert {v.block for v in report.violations if v.rule == "block_raster"} == blocks
    assert {v.block for v in report.violations if v.rule == "grad_raster"} == grads
    # pge2 needs no ADC padding inside the block (only guard intervals), so no adc_dead_time
    assert "adc_dead_time" not in {v.rule for v in report.violations}
    assert {"ge_trid_first_block"} <= {v.rule for v in report.violations}


@pytest.mark.parametrize("profile", ["siemens-prisma-3t", "siemens-sola-1.5t"])
def test_write_gre_example_passes_siemens(gre, profile):
    assert check(gre, profile).ok
    assert gre.check_timing()[0]  # pypulseq's own timing check agrees


@pytest.mark.parametrize("profile", list_profiles())
def test_file_round_trip_agrees(gre, profile, tmp_path):
    path = tmp_path / "gre.seq"
    gre.write(str(path))
    memory, disk = check(gre, profile), check(path, profile)
    assert [(v.rule, v.block) for v in memory.violations] == [(v.rule, v.block) for v in disk.violations]
    numbers = [(v.value, v.time_s) for v in memory.violations if v.value is not None and v.time_s is not None]
    numbers_disk = [(v.value, v.time_s) for v in disk.violations if v.value is not None and v.time_s is not None]
    assert bool(numbers) == (not profile.startswith("siemens"))
    np.testing.assert_allclose(numbers_disk, numbers, rtol=1e-5, atol=1e-9)
    assert disk.source == str(path) and memory.duration_s == pytest.approx(disk.duration_s)


def test_report_summary_and_dict(gre):
    report = check(gre, "philips-ingenia-elition-3t")  # 10 us ADC dead time of the example < 40 us
    summary = report.summary(max_blocks=3)
    assert sum(s.count for s in summary) == len(report.violations)
    dead = next(s for s in summary if s.rule == "adc_dead_time")
    assert dead.count == 16 and dead.first_blocks == (4, 9, 14)
    assert dead.worst.value == min(v.value for v in report.violations if v.rule == "adc_dead_time") == 20e-6
    text = report.to_text()
    assert "adc_dead_time: 16 x (blocks 4, 9, 14, 19, 24, ...)" in text and not report.ok
    d = json.loads(json.dumps(report.to_dict()))
    assert d["ok"] is False and d["n_blocks"] == 80 and len(d["violations"]) == len(report.violations)
    assert d["summary"][0]["rule"] == "adc_dead_time"  # Philips rasters (assumed) are pypulseq's defaults
    assert check(clean_gre(), "ge-premier-3t").to_text().endswith("OK")


def test_bad_inputs(tmp_path):
    with pytest.raises(HarmoniqError, match="no such .seq file"):
        check(tmp_path / "missing.seq", "ge-premier-3t")
    garbage = tmp_path / "garbage.seq"
    garbage.write_text("[VERSION]\nmajor x\n")
    with pytest.raises(HarmoniqError, match=r"garbage.seq: the version's major is 'x' \(line 2\)"):
        check(garbage, "ge-premier-3t")
    with pytest.raises(HarmoniqError, match="pypulseq Sequence"):
        check(42, "ge-premier-3t")
    with pytest.raises(HarmoniqError, match="unknown"):
        check(clean_gre(), "ge-premier-7t")


@pytest.mark.slow
def test_twenty_thousand_blocks_in_seconds(tmp_path):
    seq = write_gre_example(n_lines=50, n_repeats=80)  # 20,000 blocks
    start = time.perf_counter()
    report = check(seq, "ge-premier-3t")
    elapsed = time.perf_counter() - start
    assert report.n_blocks == 20000 and len(report.violations) > 20000
    assert elapsed < 5.0, f"check took {elapsed:.2f} s"
