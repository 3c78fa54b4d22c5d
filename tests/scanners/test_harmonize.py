"""Harmonized limits: exact least common multiples of rasters, extreme dead times and limits."""

import json
from pathlib import Path

import pypulseq as pp
import pytest

from harmoniq.errors import HarmoniqError
from harmoniq.scanners import harmonize, list_profiles, load_profile

SHIPPED = Path(__file__).parents[2] / "harmoniq" / "scanners" / "profiles"
GAMMA = 42.576e6


def test_all_six_profiles():
    h = harmonize(list_profiles())
    lim = h.limits
    assert h.targets == tuple(list_profiles()) and h.fields_t == (1.5, 3.0)
    assert (lim.grad_raster_time, lim.block_duration_raster) == (20e-6, 20e-6)
    assert (lim.rf_raster_time, lim.adc_raster_time) == (2e-6, 2e-6)
    assert lim.adc_delay_raster == 1e-6  # pge2: ADC delays on 1 us; Siemens: on the 1 us RF raster
    assert (lim.rf_dead_time, lim.rf_ringdown_time, lim.adc_dead_time) == (100e-6, 60e-6, 40e-6)
    assert (lim.adc_samples_limit, lim.adc_samples_divisor) == (8192, 4)
    assert (lim.max_grad, lim.max_slew) == (0.045, 80.0)  # slew derated for GE nerve stimulation
    assert lim.max_rf_freq_offset == lim.max_adc_freq_offset == 250e3
    assert lim.trid_segments and lim.labels_must_be_initialised


def test_siemens_only_keeps_the_siemens_rasters():
    lim = harmonize(["siemens-prisma-3t", "siemens-sola-1.5t"]).limits
    assert (lim.grad_raster_time, lim.rf_raster_time, lim.adc_raster_time, lim.block_duration_raster) == (
        10e-6, 1e-6, 0.1e-6, 10e-6)
    assert lim.max_grad == 0.045 and not lim.trid_segments
    assert lim.max_slew == 200.0  # no GE target: no nerve-stimulation derating
    assert (lim.rf_ringdown_time, lim.adc_dead_time) == (20e-6, 10e-6)


def test_ge_only_and_mixed_pairs():
    ge = harmonize(["ge-premier-3t"]).limits
    assert (ge.grad_raster_time, ge.block_duration_raster) == (4e-6, 4e-6)
    assert ge.adc_samples_divisor == 1 and not ge.labels_must_be_initialised
    assert ge.adc_samples_limit is None and ge.max_adc_freq_offset is None  # pge2 publishes neither
    assert harmonize(["ge-premier-3t"]).to_pypulseq_opts().adc_samples_limit == 0  # pypulseq: no limit
    assert "adc_samples_limit" not in harmonize(["ge-premier-3t"]).to_dict()
    pair = harmonize([load_profile("siemens-prisma-3t"), "ge-premier-3t"])
    assert pair.limits.max_grad == 0.07 and pair.limits.grad_raster_time == 20e-6
    assert pair.limits.adc_samples_divisor == 4 and pair.limits.labels_must_be_initialised


def test_lcm_is_exact_on_non_power_of_ten_rasters(tmp_path):
    # lcm(0.3 us, 0.7 us) = 2.1 us and lcm(6 us, 4 us) = 12 us; float modulo would miss both.
    text = (SHIPPED / "siemens-prisma-3t.toml").read_text()
    a, b = tmp_path / "a.toml", tmp_path / "b.toml"
    a.write_text(text.replace("adc_raster_us = 0.1", "adc_raster_us = 0.3").replace(
        "grad_raster_us = 10.0", "grad_raster_us = 6"))
    b.write_text(text.replace("adc_raster_us = 0.1", "adc_raster_us = 0.7").replace(
        "grad_raster_us = 10.0", "grad_raster_us = 4"))
    lim = harmonize([a, b]).limits
    assert lim.adc_raster_time == 2.1e-6 and lim.grad_raster_time == 12e-6


def test_to_pypulseq_opts_and_declared_rasters_in_file(tmp_path):
    system = harmonize(list_profiles()).to_pypulseq_opts()
    assert system.max_grad == pytest.approx(0.045 * GAMMA) and system.max_slew == pytest.approx(80 * GAMMA)
    assert (system.grad_raster_time, system.rf_raster_time, system.adc_raster_time,
            system.block_duration_raster) == (2e-5, 2e-6, 2e-6, 2e-5)
    assert (system.rf_dead_time, system.rf_ringdown_time, system.adc_dead_time) == (1e-4, 6e-5, 4e-5)
    assert (system.adc_samples_limit, system.adc_samples_divisor, system.B0) == (8192, 4, 3.0)
    seq = pp.Sequence(system)
    seq.add_block(pp.make_delay(1e-3))
    seq.write(str(tmp_path / "d.seq"))
    definitions = (tmp_path / "d.seq").read_text().split("[DEFINITIONS]")[1].split("[")[0]
    assert "GradientRasterTime 2e-05" in definitions and "BlockDurationRaster 2e-05" in definitions
    assert "RadiofrequencyRasterTime 2e-06" in definitions and "AdcRasterTime 2e-06" in definitions


def test_to_dict_is_json_in_file_units():
    d = json.loads(json.dumps(harmonize(list_profiles()).to_dict()))
    assert d["targets"] == list_profiles() and d["field_strengths_T"] == [1.5, 3.0]
    assert d["grad_raster_us"] == 20.0 and d["adc_raster_us"] == 2.0
    assert d["max_grad_mT_per_m"] == 45.0 and d["adc_samples_limit"] == 8192


def test_empty_target_list():
    with pytest.raises(HarmoniqError, match="at least one"):
        harmonize([])
