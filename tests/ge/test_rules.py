"""pge2's remaining rules: one small file per rule that breaks exactly that rule on the SIGNA
Premier, and its repaired twin that passes. Expected values come from the rules' own numbers
(HarmonizedMRI/pge2 ``opts.m``, ``serialize.m``; SequenceExamples-GE ``pge2/README.md`` and
``pge2/docs/pge2-sequence-design-rules.md``), not from the checker."""

import numpy as np
import pypulseq as pp
import pytest

from harmoniq.scanners import check

GE = "ge-premier-3t"
GAMMA = 42.576e6  # Hz/T, pypulseq's conversion constant
SYSTEM = pp.Opts(max_grad=40, grad_unit="mT/m", max_slew=100, slew_unit="T/m/s", grad_raster_time=4e-6,
                 block_duration_raster=4e-6, rf_raster_time=2e-6, adc_raster_time=2e-6,
                 rf_dead_time=0, rf_ringdown_time=0, adc_dead_time=0)


def _rf(flip_deg=10.0, duration=200e-6):
    return pp.make_block_pulse(np.deg2rad(flip_deg), duration=duration, system=SYSTEM, use="excitation")


def _adc():
    return pp.make_adc(num_samples=64, dwell=2e-6, system=SYSTEM)


def _trid(value=1):
    return pp.make_label("TRID", "SET", value)


def _rules(report):
    return {v.rule for v in report.violations}


def _rf_then_adc(gap_s):
    """[TRID, 200 us] [RF 200 us, no padding] ([gap]) [ADC at block start] [200 us]."""
    seq = pp.Sequence(SYSTEM)
    seq.add_block(pp.make_delay(200e-6), _trid())
    seq.add_block(_rf())
    if gap_s:
        seq.add_block(pp.make_delay(gap_s))
    seq.add_block(_adc())
    seq.add_block(pp.make_delay(200e-6))
    return seq


def test_rf_ringdown_overlapping_adc_dead_time_is_flagged():
    """RF ringdown 56 us and ADC dead time 40 us (opts.m): an ADC right after the RF overlaps by 96 us."""
    report = check(_rf_then_adc(0.0), GE)
    assert _rules(report) == {"ge_guard_overlap"}
    (v,) = report.violations
    assert v.block == 3 and v.value == pytest.approx(96e-6) and "block 2" in v.message
    assert "opts.m" in v.message and "design-rules" in v.message


def test_guard_intervals_apart_pass():
    assert check(_rf_then_adc(100e-6), GE).ok  # 56 + 40 us < 100 us


def _two_instances(delays, constant_first=False):
    """Two TRID-1 instances [RF] ([100 us]) [delay d] [ADC] [200 us], d from ``delays``."""
    seq = pp.Sequence(SYSTEM)
    for d in delays:
        seq.add_block(_rf(), _trid())
        if constant_first:
            seq.add_block(pp.make_delay(100e-6))
        seq.add_block(pp.make_delay(d))
        seq.add_block(_adc())
        seq.add_block(pp.make_delay(200e-6))
    return seq


def test_variable_delay_starting_in_the_rf_ringdown_is_flagged():
    report = check(_two_instances([200e-6, 300e-6]), GE)
    assert _rules(report) == {"ge_variable_delay"}
    assert [v.block for v in report.violations] == [2, 6]
    assert "WAIT" in report.violations[0].message and "block 1" in report.violations[0].message


def test_constant_delay_there_and_variable_delay_after_the_ringdown_pass():
    assert check(_two_instances([200e-6, 200e-6]), GE).ok  # same duration: no WAIT pulse
    assert check(_two_instances([200e-6, 300e-6], constant_first=True), GE).ok  # starts 100 us after RF


def _one_pulse(flip_deg, duration):
    seq = pp.Sequence(SYSTEM)
    seq.add_block(pp.make_delay(200e-6), _trid())
    seq.add_block(_rf(flip_deg, duration))
    seq.add_block(pp.make_delay(200e-6))
    return seq


def test_peak_b1_above_a_quarter_gauss_is_flagged():
    """A 90 deg block pulse of 100 us: B1 = (1/4 turn) / 100 us / gamma = 58.7 uT > 0.25 G."""
    report = check(_one_pulse(90.0, 100e-6), GE)
    assert _rules(report) == {"ge_peak_b1"}
    (v,) = report.violations
    assert v.block == 2 and v.value == pytest.approx(0.25 / 100e-6 / GAMMA, rel=1e-4) and v.limit == 25e-6
    assert check(_one_pulse(90.0, 1e-3), GE).ok  # 5.9 uT


def _many_instances(n_instances, last_scale):
    """``n_instances`` TRID-1 instances [x trapezoid] [1 ms] (2 blocks each); the last one's
    trapezoid scaled by ``last_scale``."""
    trap = pp.make_trapezoid("x", amplitude=10e-3 * GAMMA, rise_time=200e-6, flat_time=200e-6, system=SYSTEM)
    seq = pp.Sequence(SYSTEM)
    gap = pp.make_delay(1e-3)
    for k in range(n_instances):
        seq.add_block(pp.scale_grad(trap, last_scale) if k == n_instances - 1 else trap, _trid())
        seq.add_block(gap)
    return seq


@pytest.mark.slow
def test_more_gradient_power_after_the_first_40000_blocks_is_flagged():
    """GE estimates gradient power from the first 40,000 blocks; the last instance is stronger."""
    report = check(_many_instances(20_001, 1.5), GE)
    assert _rules(report) == {"ge_safety_window"}
    (v,) = report.violations
    assert v.block == 40_001  # the first window holding the stronger trapezoid: blocks 2 .. 40,001
    # mean G^2 of that window over the first one's: one trapezoid out of 20,000 has 2.25 x the energy
    assert v.value == pytest.approx((19_999 + 2.25) / 20_000, rel=1e-9)
    assert "40000" in v.message and "README" in v.message
    assert check(_many_instances(20_001, 1.0), GE).ok


def _one_segment(n_blocks):
    seq = pp.Sequence(SYSTEM)
    seq.add_block(pp.make_delay(20e-6), _trid())
    delay = pp.make_delay(20e-6)
    for _ in range(n_blocks - 1):
        seq.add_block(delay)
    return seq


@pytest.mark.slow
def test_more_blocks_in_a_segment_than_the_pge_int16_field_holds_is_flagged():
    """serialize.m writes nBlocksInSegment as int16: 32,768 blocks in one segment do not fit."""
    report = check(_one_segment(32_768), GE)
    assert _rules(report) == {"ge_pge_fields"}
    assert report.violations[0].value == 32_768 and "serialize.m" in report.violations[0].message
    assert check(_one_segment(32_767), GE).ok


def test_variable_delays_without_rf_or_adc_pass():
    seq = pp.Sequence(SYSTEM)
    for d in (100e-6, 300e-6):
        seq.add_block(pp.make_delay(200e-6), _trid())
        seq.add_block(pp.make_delay(d))
    assert check(seq, GE).ok


def _rf_at_instance_end(tail_s):
    """Two TRID-1 instances [200 us] [RF 200 us] ([tail])."""
    seq = pp.Sequence(SYSTEM)
    for _ in range(2):
        seq.add_block(pp.make_delay(200e-6), _trid())
        seq.add_block(_rf())
        if tail_s:
            seq.add_block(pp.make_delay(tail_s))
    return seq


def test_rf_ringdown_past_the_segment_end_is_flagged():
    """getsegmentinstance.m: RF end + psd_rf_wait (100 us, 2DGRE/main.m) + 56 us ringdown must end
    inside the instance; an RF ending the instance overruns by 156 us."""
    report = check(_rf_at_instance_end(0.0), GE)
    assert _rules(report) == {"ge_rf_ringdown_segment_end"}
    assert [v.block for v in report.violations] == [2, 4]
    assert report.violations[0].value == pytest.approx(156e-6) and "getsegmentinstance.m" in report.violations[0].message
    assert check(_rf_at_instance_end(160e-6), GE).ok
