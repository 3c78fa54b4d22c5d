"""Nerve stimulation as pge2 computes it (``pns.m``, coil table of ``opts.m``)."""

import functools
import warnings

import numpy as np
import pypulseq as pp
import pytest

from scipy.signal import oaconvolve

from harmoniq.protocols import load_protocol
from harmoniq.scanners import check
from harmoniq.scanners.ge_pns import hull_rows
from harmoniq.scanners.pns import COILS, axis_response
from harmoniq.sequences.export import build

GAMMA = 42.576e6  # Hz/T, pypulseq's conversion constant


def test_single_ramp_follows_the_hyperbolic_strength_duration_law():
    """A ramp of slew S lasting d stimulates 100 S / S_min * d / (c + d) percent at its end
    (IEC 60601-2-33 strength-duration curve, threshold rheobase * (1 + c / d))."""
    coil, dt, slew = COILS["hrmw"], 4e-6, 100.0
    for d in (100e-6, 400e-6, 2e-3):
        n_ramp = int(round(d / dt))
        g = np.concatenate((np.zeros(1), slew * dt * np.arange(1, n_ramp + 1), np.full(5000, slew * d)))
        peak = axis_response(g, coil, dt).max()
        expected = 100 * slew / coil.smin * d / (coil.chronaxie_s + d)
        assert peak == pytest.approx(expected, rel=0.015)


@functools.lru_cache(maxsize=None)
def _built(name):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return build(load_protocol(name)).seq


def _gre_demo():
    return _built("gre-demo")


def test_segment_pns_equals_a_direct_convolution_of_pypulseq_waveforms():
    """Second route: pypulseq's piecewise-linear waveforms, cut per TRID instance, sampled at
    instance start + dt/2 + k dt (getsegmentinstance.m), convolved directly with the IEC kernel."""
    seq = _gre_demo()
    coil, dt = COILS["hrmw"], 4e-6
    c, smin = coil.chronaxie_s, coil.rheobase / coil.alpha
    tau = dt * np.arange(1, int(20 * c / dt) + 1)
    kernel = dt / smin * c / (c + tau) ** 2
    waves = seq.waveforms_and_times()[0]
    starts, t = [], 0.0
    for b in seq.block_events:
        block = seq.get_block(b)
        labels = block.label.values() if isinstance(block.label, dict) else (block.label or [])
        if any(lab.label == "TRID" for lab in labels):
            starts.append(t)
        t += seq.block_durations[b]
    edges = starts + [t]
    peak = 0.0
    for t0, t1 in zip(edges[:-1], edges[1:]):
        grid = np.arange(t0 + dt / 2, t1, dt)
        p = []
        for w in waves:
            g = np.interp(grid, w[0], w[1], left=0.0, right=0.0) / 42.576e6 if w.size else np.zeros(grid.size)
            p.append(100 * np.convolve(np.diff(g) / dt, kernel)[: grid.size])
        peak = max(peak, float(np.sqrt(np.sum(np.square(p), axis=0)).max()))
    reported = check(seq, "ge-premier-3t").interpreter["pns_percent"]["hrmw"]
    assert reported == pytest.approx(peak, rel=0.01)


def _one_trapezoid(amplitude_t_per_m, rise_s):
    """[TRID + 200 us delay] [y trapezoid, flat 200 us] [200 us delay] on GE rasters."""
    system = pp.Opts(max_grad=70, grad_unit="mT/m", max_slew=200, slew_unit="T/m/s", grad_raster_time=4e-6,
                     block_duration_raster=4e-6, rf_raster_time=2e-6, adc_raster_time=2e-6)
    seq = pp.Sequence(system)
    seq.add_block(pp.make_delay(200e-6), pp.make_label("TRID", "SET", 1))
    seq.add_block(pp.make_trapezoid("y", amplitude=amplitude_t_per_m * GAMMA, rise_time=rise_s, flat_time=200e-6,
                                    system=system))
    seq.add_block(pp.make_delay(200e-6))
    return seq


def test_stimulation_above_80_percent_fails_on_the_block_with_the_law_value():
    """40 mT/m in 200 us (200 T/m/s, within the Premier's slew) stimulates above 80 % on both
    coils; the value is the strength-duration law's at the end of the ramp (within 2.5 %: pge2
    samples the ramp on 4 us at a 2 us offset and starts its kernel at tau = dt)."""
    report = check(_one_trapezoid(40e-3, 200e-6), "ge-premier-3t")
    flagged = [v for v in report.violations if v.rule == "ge_pns"]
    assert {v.rule for v in report.violations} == {"ge_pns"}
    assert [v.block for v in flagged] == [2, 2]
    for v, name in zip(flagged, ("hrmw", "xrm")):
        coil = COILS[name]
        law = 100 * 200.0 / coil.smin * 200e-6 / (coil.chronaxie_s + 200e-6)
        assert v.value == pytest.approx(law, rel=0.025) and v.limit == 80.0
        assert name.upper() in v.message and "checksegment.m" in v.message


def test_stimulation_below_80_percent_passes():
    report = check(_one_trapezoid(10e-3, 200e-6), "ge-premier-3t")  # 50 T/m/s
    assert report.ok and 0 < max(report.interpreter["pns_percent"].values()) < 80


@pytest.mark.parametrize("name", ["gre-demo", "t1-vfa", "b1-dam", "t1-irse", "t2-se", "t2-mese"])
def test_shipped_protocols_stay_below_80_percent_on_every_coil(name):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report = check(build(load_protocol(name)).seq, "ge-premier-3t")
    assert set(report.interpreter["pns_percent"]) == set(COILS)
    assert 0 < max(report.interpreter["pns_percent"].values()) <= 80.0


DEAD_NS, DT_NS = 12_000, 4_000  # pge2 opts.m: segment_dead_time 12 us, GRAD_UPDATE_TIME 4 us


def _pge2_instances(seq):
    """Per TRID instance (first block, TRID) and its blocks, from the blocks' TRID labels."""
    ids, out = list(seq.block_events), []
    for b in ids:
        block = seq.get_block(b)
        labels = block.label.values() if isinstance(block.label, dict) else (block.label or [])
        trid = [lab.value for lab in labels if lab.label == "TRID"]
        if trid:
            out.append((b, int(trid[0]), []))
        out[-1][2].append(block)
    return out


def _pge2_peak(seq, coil) -> tuple[float, int]:
    """Largest pns.m total over every instance of every segment and the block where it occurs,
    each instance built as getsegmentinstance.m builds it: the first instance's trapezoid timing,
    this instance's amplitudes, corners interpolated (with zeros at both segment edges) at
    dead + dt/2 + k dt; pns.m: p = 100 conv(diff(g)/dt, f)(1:n), f = dt/Smin c/(c + tau)^2,
    tau = dt:dt:20c."""
    dt = DT_NS / 1e9
    c, smin = coil.chronaxie_s, coil.rheobase / coil.alpha
    tau = dt * np.arange(1, int(np.floor(20 * c / dt * (1 + 1e-12))) + 1)  # MATLAB's colon includes 20c
    kernel = dt / smin * c / (c + tau) ** 2
    first, responses, peak, where = {}, {}, 0.0, -1
    for start, trid, blocks in _pge2_instances(seq):
        parent = first.setdefault(trid, blocks)
        assert len(blocks) == len(parent)
        durations_ns = [round(b.block_duration * 1e9) for b in parent]
        tic_ns = DEAD_NS + np.concatenate(([0], np.cumsum(durations_ns)))
        grid_ns = DEAD_NS + DT_NS / 2 + DT_NS * np.arange((tic_ns[-1] - DEAD_NS) // DT_NS)
        per_axis = []
        for axis in ("gx", "gy", "gz"):
            t, g = [tic_ns[0] / 1e9, tic_ns[-1] / 1e9], [0.0, 0.0]
            for j, (p, b) in enumerate(zip(parent, blocks)):
                shape, event = getattr(p, axis), getattr(b, axis)
                if shape is None:
                    continue
                assert shape.type == "trap", "this reference plays trapezoids only"
                amp = (event.amplitude if event is not None else 0.0) / GAMMA  # T/m
                corners = np.cumsum([shape.delay, shape.rise_time, shape.flat_time, shape.fall_time])
                t += list(tic_ns[j] / 1e9 + corners)
                g += [0.0, amp, amp, 0.0]
            t, keep = np.unique(t, return_index=True)
            wave = np.interp(grid_ns / 1e9, t, np.asarray(g)[keep])
            key = wave.tobytes()  # instances share a waveform on an axis: convolve it once
            if key not in responses:
                responses[key] = 100 * np.convolve(np.diff(wave) / dt, kernel)[: wave.size]
            per_axis.append(responses[key])
        total = np.sqrt(np.sum(np.square(per_axis), axis=0))
        k = int(np.argmax(total))
        if total[k] > peak:
            peak, where = float(total[k]), start + int(np.searchsorted(tic_ns, grid_ns[k], side="right")) - 1
    return peak, where


@pytest.mark.parametrize("name", ["gre-demo", "t1-vfa"])
def test_reported_stimulation_equals_pge2s_rule_on_every_instance(name):
    """The per-coil peak equals pge2's rule run on every instance (direct convolution), to 1e-12:
    gre-demo (64 phase encodes), t1-vfa (2048 instances of 1024 amplitude sets in four
    dimensions)."""
    seq = _built(name)
    reported = check(seq, "ge-premier-3t").interpreter["pns_percent"]
    for coil_name, coil in COILS.items():
        assert reported[coil_name] == pytest.approx(_pge2_peak(seq, coil)[0], rel=1e-12, abs=0)


def _encoded_segments():
    """64 instances of [TRID + 200 us delay] [x 20 mT/m, y and z stepped, 200 us ramps] [200 us
    delay], in shuffled order: y on an 8 x 8 grid with z (z with 1e-7 relative noise), x fixed;
    the largest amplitudes (y 35, z 25 mT/m, 175 T/m/s) stimulate above 80 % on both coils."""
    system = pp.Opts(max_grad=70, grad_unit="mT/m", max_slew=200, slew_unit="T/m/s", grad_raster_time=4e-6,
                     block_duration_raster=4e-6, rf_raster_time=2e-6, adc_raster_time=2e-6)
    rng = np.random.default_rng(3)
    steps = [(y, z * (1 + 1e-7 * rng.standard_normal()))
             for y in np.linspace(-30e-3, 35e-3, 8) for z in np.linspace(-20e-3, 25e-3, 8)]
    seq = pp.Sequence(system)
    for i in rng.permutation(len(steps)):
        y, z = steps[i]
        seq.add_block(pp.make_delay(200e-6), pp.make_label("TRID", "SET", 1))
        seq.add_block(*(pp.make_trapezoid(axis, amplitude=amp * GAMMA, rise_time=200e-6, flat_time=200e-6,
                                          system=system) for axis, amp in (("x", 20e-3), ("y", y), ("z", z))))
        seq.add_block(pp.make_delay(200e-6))
    return seq


def test_stimulation_over_stepped_instances_equals_pge2s_rule_with_its_block():
    """Instances that differ on two axes: the peak (above 80 %, so reported as a violation)
    equals pge2's rule on every instance to 1e-12, on the block where that rule finds it."""
    seq = _encoded_segments()
    report = check(seq, "ge-premier-3t")
    flagged = {v.message.split(" % of the ")[1].split()[0].lower(): v for v in report.violations if v.rule == "ge_pns"}
    assert set(flagged) == set(COILS)
    for name, coil in COILS.items():
        peak, block = _pge2_peak(seq, coil)
        assert peak > 80 and flagged[name].value == pytest.approx(peak, rel=1e-12, abs=0)
        assert flagged[name].block == block and report.interpreter["pns_percent"][name] == flagged[name].value


def test_trimmed_convolution_equals_the_full_length_one_bit_for_bit():
    """A 2 s waveform with slew in its first 20 ms only: the stimulation equals scipy's overlap-add
    convolution of the whole slew sample for sample, bit for bit."""
    dt, n = 4e-6, 500_000
    g = np.zeros((3, n))
    ramp = np.linspace(0, 20e-3, 50)
    g[1, 1000:1050], g[1, 1050:4000], g[1, 4000:4050] = ramp, 20e-3, ramp[::-1]
    g[2, 2000:2050] = ramp
    g[2, 2050:5000] = 20e-3
    g[2, 5000:5050] = ramp[::-1]
    for coil in COILS.values():
        c = coil.chronaxie_s
        kernel = dt / coil.smin * c / (c + dt * np.arange(1, int(np.floor(20 * c / dt * (1 + 1e-12))) + 1)) ** 2
        full = 100.0 * oaconvolve(np.diff(g, axis=-1) / dt, kernel[None, :], axes=-1)[:, :n]
        got = axis_response(g, coil, dt)
        assert np.array_equal(got[:, : full.shape[-1]], full) and not got[:, full.shape[-1]:].any()
        assert got.max() > 10


def test_hull_rows_keep_the_largest_value_and_its_lowest_row_of_any_convex_function():
    """Brute force over all rows: for random convex stimulations |b + A R| (per sample) the
    largest value and the lowest row reaching it are found among the hull rows alone, for
    amplitudes on a line, on a 2-D grid, on a grid with 1e-8 noise in two more dimensions, and
    for random points; integer amplitudes make exact ties."""
    rng = np.random.default_rng(7)
    pe = np.arange(-16, 16.0)
    grid2 = np.array([(a, b) for a in pe for b in pe[::4]])
    cases = {
        "line": np.column_stack((pe, -pe)),
        "grid": np.column_stack((grid2, -grid2[:, :1])),
        "noisy grid": np.column_stack((grid2 + 1e-8 * rng.standard_normal(grid2.shape), -grid2)),
        "random": rng.standard_normal((200, 3)),
    }
    for label, amps in cases.items():
        amps = np.unique(amps, axis=0)
        kept = hull_rows(amps)
        assert kept.size < amps.size // amps.shape[1] or label == "random", label
        for _ in range(20):
            response = rng.integers(-2, 3, (amps.shape[1], 3, 40)).astype(float)
            base = rng.integers(-3, 4, (3, 40)).astype(float)
            value = np.sqrt(np.sum((base + np.einsum("rm,mat->rat", amps, response)) ** 2, axis=1)).max(axis=1)
            best = value.max()
            assert value[kept].max() == pytest.approx(best, rel=1e-12), label
            assert kept[np.flatnonzero(value[kept] >= best * (1 - 1e-12))[0]] == np.flatnonzero(
                value >= best * (1 - 1e-12))[0], label
