"""Every check rule: a clean sequence passes all six profiles; one probe per rule breaks
exactly that rule on the profile that forbids it, passes on a profile that allows it, and
gives the same result after writing the file and reading it back."""

import numpy as np
import pypulseq as pp
import pytest
from scanner_seq_builders import add_probe_segment, clean_gre, harmonized_system

from harmoniq.scanners import RULES, check, harmonize, list_profiles

GAMMA = 42.576e6  # Hz/T, pypulseq's conversion constant
HARMONIZED = harmonize(list_profiles())


def permissive_system(**overrides) -> pp.Opts:
    """Harmonized rasters, but strong gradients and no dead times: events that break limits."""
    sys = harmonized_system()
    options = dict(max_grad=150, grad_unit="mT/m", max_slew=1000, slew_unit="T/m/s",
                   grad_raster_time=sys.grad_raster_time, rf_raster_time=sys.rf_raster_time,
                   adc_raster_time=sys.adc_raster_time, block_duration_raster=sys.block_duration_raster,
                   rf_dead_time=0, rf_ringdown_time=0, adc_dead_time=0)
    options.update(overrides)
    return pp.Opts(**options)


def block_pulse(delay=100e-6, duration=500e-6, **kw):
    return pp.make_block_pulse(np.deg2rad(10), duration=duration, delay=delay, system=permissive_system(),
                               use="excitation", **kw)


def trapezoid(amplitude_t_per_m, rise, flat, system=None):
    return pp.make_trapezoid("y", amplitude=amplitude_t_per_m * GAMMA, rise_time=rise, flat_time=flat,
                             system=system or permissive_system())


def adc(num_samples=64, dwell=10e-6, delay=40e-6, **kw):
    return pp.make_adc(num_samples, dwell=dwell, delay=delay, system=permissive_system(), **kw)


def sine_lobe():
    """Half-sine gradient, 40 mT/m peak over 400 us on the 20 us raster: slew ~ A pi / T."""
    t = (np.arange(20) + 0.5) * 20e-6
    wave = 40e-3 * GAMMA * np.sin(np.pi * t / 400e-6)
    return pp.make_arbitrary_grad("x", wave, first=0, last=0, system=permissive_system())


def ramp_up_down(peak_t_per_m):
    """Extended trapezoid 0 -> peak in 100 us, flat 200 us, -> 0 in 100 us (short ramps: slew
    without nerve stimulation above 80 %)."""
    return pp.make_extended_trapezoid("x", times=np.array([0, 100e-6, 300e-6, 400e-6]),
                                      amplitudes=np.array([0, peak_t_per_m, peak_t_per_m, 0]) * GAMMA,
                                      system=permissive_system())


# id: (events of the probe block, profile that rejects it, profile that accepts it,
#      rule, expected value (SI) or None for flag rules)
PROBES = {
    "grad_amplitude": (lambda: [trapezoid(50e-3, 300e-6, 200e-6)], "siemens-sola-1.5t", "siemens-prisma-3t",
                       "grad_amplitude", 50e-3),
    "grad_slew_trapezoid": (lambda: [trapezoid(10e-3, 40e-6, 200e-6)], "ge-premier-3t", None, "grad_slew", 250.0),
    "grad_slew_extended": (lambda: [ramp_up_down(10e-3)], HARMONIZED, None, "grad_slew", 100.0),
    "grad_slew_arbitrary": (lambda: [sine_lobe()], "philips-ingenia-1.5t", None, "grad_slew",
                            40e-3 * np.pi / 400e-6),
    "grad_raster": (lambda: [trapezoid(5e-3, 30e-6, 140e-6, permissive_system(grad_raster_time=10e-6))],
                    "ge-premier-3t", "siemens-prisma-3t", "grad_raster", 30e-6),
    "rf_raster": (lambda: [pp.make_arbitrary_rf(np.ones(1000), np.deg2rad(10), delay=100e-6, use="excitation",
                                                system=permissive_system(rf_raster_time=1e-6, rf_ringdown_time=60e-6))],
                  "ge-signa-artist-1.5t", "siemens-sola-1.5t", "rf_raster", 100.5e-6),
    "rf_dead_time": (lambda: [block_pulse(delay=80e-6), pp.make_delay(680e-6)], HARMONIZED, None,
                     "rf_dead_time", 80e-6),
    "rf_ringdown": (lambda: [block_pulse(), pp.make_delay(640e-6)], "philips-ingenia-elition-3t",
                    "siemens-prisma-3t", "rf_ringdown", 40e-6),
    "rf_freq_offset": (lambda: [block_pulse(freq_offset=300e3), pp.make_delay(660e-6)], "siemens-prisma-3t",
                       "ge-premier-3t", "rf_freq_offset", 300e3),
    # 2400 ppm: 306 kHz at 3 T (too far), 153 kHz at 1.5 T (fine).
    "rf_freq_ppm": (lambda: [block_pulse(freq_ppm=2400), pp.make_delay(660e-6)], "siemens-prisma-3t",
                    "siemens-sola-1.5t", "rf_freq_offset", 2400e-6 * GAMMA * 3.0),
    "adc_dwell": (lambda: [adc(dwell=3e-6), pp.make_delay(280e-6)], "ge-premier-3t", "siemens-prisma-3t",
                  "adc_dwell", 3e-6),
    "adc_dead_time": (lambda: [adc(delay=20e-6), pp.make_delay(700e-6)], "philips-ingenia-1.5t",
                      "siemens-sola-1.5t", "adc_dead_time", 20e-6),
    "adc_samples_limit": (lambda: [adc(num_samples=10000, dwell=2e-6), pp.make_delay(20.08e-3)], HARMONIZED, None,
                          "adc_samples_limit", 10000),
    "adc_samples_divisor": (lambda: [adc(num_samples=66), pp.make_delay(740e-6)], "siemens-prisma-3t",
                            "ge-premier-3t", "adc_samples_divisor", 66),
    "adc_freq_offset": (lambda: [adc(freq_offset=-300e3), pp.make_delay(720e-6)], "philips-ingenia-1.5t", None,
                        "adc_freq_offset", 300e3),
    "label_uninitialised": (lambda: [pp.make_delay(100e-6), pp.make_label("SLC", "INC", 1)], "siemens-prisma-3t",
                            "ge-premier-3t", "label_uninitialised", None),
}


def rules_of(report):
    return {v.rule for v in report.violations}


def located(report):
    return [(v.rule, v.block) for v in report.violations]


def test_rule_ids_are_the_documented_ones():
    assert set(RULES) >= {
        "block_raster", "grad_raster", "rf_raster", "adc_dwell", "declared_raster", "rf_dead_time", "rf_ringdown",
        "adc_dead_time", "grad_amplitude", "grad_slew", "adc_samples_limit", "adc_samples_divisor",
        "rf_freq_offset", "adc_freq_offset", "ge_trid_first_block", "ge_segment_grad_edges",
        "ge_pns", "ge_guard_overlap", "ge_rf_ringdown_segment_end", "ge_variable_delay", "ge_peak_b1", "ge_safety_window", "ge_pge_fields",
        "label_uninitialised"}
    assert "ge_segment_tail_gap" not in RULES  # pge2 adds its 117 us itself; it has no such rule


@pytest.mark.parametrize("profile", [*list_profiles(), HARMONIZED], ids=str)
def test_clean_sequence_passes_every_profile(profile, tmp_path):
    seq = clean_gre()
    assert check(seq, profile).ok, check(seq, profile).to_text()
    seq.write(str(tmp_path / "clean.seq"))
    assert check(tmp_path / "clean.seq", profile).ok


@pytest.mark.filterwarnings("ignore:.*timing errors found:UserWarning")  # pypulseq sees them too
@pytest.mark.parametrize("name", PROBES)
def test_probe_breaks_exactly_its_rule(name, tmp_path):
    events, rejecting, accepting, rule, expected = PROBES[name]
    seq = clean_gre(n_lines=2)
    probe = add_probe_segment(seq, *events())
    report = check(seq, rejecting)
    assert rules_of(report) == {rule}, report.to_text()
    assert {v.block for v in report.violations} == {probe}
    violation = report.violations[0]
    assert violation.time_s == pytest.approx(sum(seq.block_durations[b] for b in range(1, probe)), abs=1e-9)
    if expected is not None:
        assert violation.value == pytest.approx(expected, rel=0.01)
    if accepting is not None:
        assert check(seq, accepting).ok, check(seq, accepting).to_text()
    path = tmp_path / f"{name}.seq"
    seq.write(str(path))
    assert located(check(path, rejecting)) == located(report)


def test_trapezoid_slew_and_amplitude_values_are_exact():
    seq = clean_gre(n_lines=1)
    add_probe_segment(seq, trapezoid(10e-3, 40e-6, 200e-6))
    slew = [v for v in check(seq, "ge-premier-3t").violations if v.rule == "grad_slew"]
    assert slew[0].value == pytest.approx(10e-3 / 40e-6, rel=1e-9) and slew[0].limit == 200.0


def test_extended_trapezoid_within_slew_passes():
    seq = clean_gre(n_lines=1)
    add_probe_segment(seq, ramp_up_down(7.9e-3))  # 79 T/m/s, harmonized 80 T/m/s
    assert check(seq, HARMONIZED).ok


def test_adc_delay_off_the_raster_in_memory():
    # A .seq file stores ADC delays in whole microseconds, so this only exists in memory.
    seq = clean_gre(n_lines=1)
    probe = add_probe_segment(seq, adc(delay=40.5e-6), pp.make_delay(740e-6))
    report = check(seq, "siemens-prisma-3t")
    assert located(report) == [("adc_delay_raster", probe)]
    assert report.violations[0].value == pytest.approx(40.5e-6)


def test_block_duration_off_the_raster_in_memory():
    # The writer refuses block durations off the declared raster, so in a file a bad block
    # raster always shows as declared_raster; in memory it is its own rule.
    seq = clean_gre(n_lines=1)
    probe = add_probe_segment(seq, pp.make_delay(1010e-6))
    ge = check(seq, "ge-premier-3t")
    assert located(ge) == [("block_raster", probe)]
    assert ge.violations[0].value == pytest.approx(1010e-6) and ge.violations[0].limit == pytest.approx(4e-6)
    assert check(seq, "siemens-prisma-3t").ok


def test_declared_raster_breaks_only_where_not_a_multiple(tmp_path):
    seq = clean_gre(system=_harmonized_with(adc_raster_time=1e-6))
    ge = check(seq, "ge-premier-3t")
    assert [(v.rule, v.block, v.value, v.limit) for v in ge.violations] == [
        ("declared_raster", None, pytest.approx(1e-6), pytest.approx(2e-6))]
    assert "AdcRasterTime" in ge.violations[0].message
    assert check(seq, "siemens-prisma-3t").ok
    seq.write(str(tmp_path / "declared.seq"))
    assert located(check(tmp_path / "declared.seq", "ge-premier-3t")) == located(ge)


def _harmonized_with(**overrides) -> pp.Opts:
    sys = harmonized_system()
    for key, value in overrides.items():
        setattr(sys, key, value)
    return sys


def test_missing_trid_on_first_block():
    seq = clean_gre(trid=False)
    report = check(seq, "ge-signa-artist-1.5t")
    assert located(report) == [("ge_trid_first_block", 1)]
    assert check(seq, "siemens-sola-1.5t").ok  # Siemens ignores TRID


def test_segment_edge_with_gradient_on():
    # A ramp that crosses a TRID boundary: the segment before it ends with the gradient on
    # and the next one starts with it on.
    seq = clean_gre(n_lines=1)
    g = 20e-3 * GAMMA
    up = pp.make_extended_trapezoid("x", times=np.array([0, 100e-6]), amplitudes=np.array([0, g]),
                                    system=permissive_system())
    down = pp.make_extended_trapezoid("x", times=np.array([0, 100e-6]), amplitudes=np.array([g, 0]),
                                      system=permissive_system())
    seq.add_block(pp.make_delay(200e-6), pp.make_label("TRID", "SET", 2))
    seq.add_block(up)
    end_block = next(reversed(seq.block_events))
    seq.add_block(down, pp.make_label("TRID", "SET", 3))
    start_block = end_block + 1
    seq.add_block(pp.make_delay(200e-6))
    report = check(seq, "ge-premier-3t")
    edges = [v for v in report.violations if v.rule == "ge_segment_grad_edges"]
    assert [(v.block, v.value) for v in edges] == [(end_block, pytest.approx(20e-3)),
                                                  (start_block, pytest.approx(20e-3))]
    assert rules_of(report) == {"ge_segment_grad_edges"}
    assert check(seq, "siemens-prisma-3t").ok


def test_label_set_in_the_same_block_counts_as_initialised():
    seq = clean_gre(n_lines=1)
    add_probe_segment(seq, pp.make_delay(100e-6), pp.make_label("SLC", "SET", 0), pp.make_label("SLC", "INC", 1))
    assert check(seq, "siemens-prisma-3t").ok


def test_label_uninitialised_reported_for_each_increment_before_set():
    seq = clean_gre(n_lines=1)
    first = add_probe_segment(seq, pp.make_delay(100e-6), pp.make_label("ECO", "INC", 1))
    second = add_probe_segment(seq, pp.make_delay(100e-6), pp.make_label("ECO", "INC", 1), trid=3)
    add_probe_segment(seq, pp.make_delay(100e-6), pp.make_label("ECO", "SET", 0), trid=4)
    add_probe_segment(seq, pp.make_delay(100e-6), pp.make_label("ECO", "INC", 1), trid=5)
    report = check(seq, "siemens-prisma-3t")
    assert located(report) == [("label_uninitialised", first), ("label_uninitialised", second)]
    summary = report.summary()
    assert [(s.rule, s.count, s.first_blocks) for s in summary] == [("label_uninitialised", 2, (first, second))]
