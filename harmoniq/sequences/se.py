"""Single-echo spin echo, optionally with an inversion pulse (inversion-recovery spin echo).

One TR (one GE segment instance, TRID 1):

    ([adiabatic inversion (TRID)] [spoiler] [TI fill])
    [90 + gz (TRID if no inversion)] [gz rephase + gy encode + gx prephase] [fill]
    [crusher] [180 + gz] [crusher] [fill] [gx + ADC (labels)] [spoiler] [TR fill]

The encodes before the 180 carry the opposite sign (the refocusing pulse negates k).
The refocusing phase alternates 0, 180 deg from line to line: the echo (phase 2 phi_180)
is unchanged, while the FID that the 180's slice edges leave past the crushers (phase
phi_180, not phase-encoded) alternates in sign and moves from the centre row (the "zipper")
to the edge of the field of view (Bernstein et al., Handbook of MRI Pulse Sequences, 2004).
A list of TIs (IR T1 mapping) or of TEs (SE T2 mapping) makes a series along SET; every
series member differs only in pure-delay durations, so all TRs share one TRID.
The inversion is a non-selective hyperbolic-secant adiabatic pulse (Silver et al.,
Phys Rev A 1985;31:2753), insensitive to transmit-B1 above its adiabatic threshold.
"""

from __future__ import annotations

import numpy as np
import pypulseq as pp

from harmoniq.errors import HarmoniqError
from harmoniq.sequences import events as ev
from harmoniq.sequences.common import AcquisitionInfo, add_preamble, infeasible
from harmoniq.protocols.parameters import Parameters, degrees
from harmoniq.sequences.gre import check_dwell, slice_offsets



class RefocusedSlice:
    """Excitation, slice-selective refocusing with crushers, readout: what SE and MESE share."""

    def __init__(self, name: str, p: Parameters, system: pp.Opts, excitation_phase: float = 0.0):
        src = f"protocol {name}"
        self.name, self.p, self.sys, self.src = name, p, system, src
        n, fov = p.matrix, p.fov_m
        if n % 4:
            raise HarmoniqError(f"{src}: matrix={n} must be a multiple of 4 (ADC sample divisor)")
        self.n, self.fov = n, fov
        self.thk = p.slice_thickness_m
        self.offsets = slice_offsets(p.slices, self.thk, p.slice_gap_m)
        self.dwell = p.readout_dwell_s
        check_dwell(src, self.dwell, system.adc_raster_time)
        two_raster = 2 * system.grad_raster_time
        self.exc, self.gz_exc, self.reph_area = ev.slice_select(
            p.flip_rad, ev.on_raster(p.rf_duration_s, two_raster),
            self.thk, p.rf_tbw, system, "excitation", phase=excitation_phase,
        )
        self.ref, self.gz_ref, _ = ev.slice_select(
            p.refocusing_rad, ev.on_raster(p.refocusing_duration_s, two_raster),
            self.thk * p.refocusing_thickness_factor, p.rf_tbw, system, "refocusing",
        )
        crush_area = p.crusher_cycles / self.thk
        self.crusher = pp.make_trapezoid("z", area=crush_area, system=system) if crush_area else None
        self.crush_dur = pp.calc_duration(self.crusher) if self.crusher else 0.0
        self.ro = ev.make_readout(n, fov, self.dwell, system)
        self.pe_y = ev.phase_areas(n, fov)
        self.exc_block = pp.calc_duration(self.exc, self.gz_exc)
        self.ref_block = pp.calc_duration(self.ref, self.gz_ref)

    def excite(self, seq, slice_offset: float, *extra):
        """Excitation block with the slice's frequency offset."""
        self.exc.freq_offset = self.gz_exc.amplitude * slice_offset
        seq.add_block(self.exc, self.gz_exc, *extra)

    def refocus(self, seq, slice_offset: float, phase: float = 0.0):
        """Crusher, refocusing pulse (RF phase ``phase``, rad), crusher."""
        self.ref.freq_offset = self.gz_ref.amplitude * slice_offset
        self.ref.phase_offset = phase
        if self.crusher:
            seq.add_block(self.crusher)
        seq.add_block(self.ref, self.gz_ref)
        if self.crusher:
            seq.add_block(self.crusher)

    def fill(self, seq, duration: float):
        """Pure delay unless it rounds to nothing."""
        if ev.ns(duration) >= ev.ns(self.sys.block_duration_raster) // 2:
            seq.add_block(ev.delay(duration, self.sys))


class SpinEcho(RefocusedSlice):
    """Builder of the (inversion-recovery) spin echo (see module docstring)."""

    family = "se"

    def __init__(self, name: str, p: Parameters, system: pp.Opts):
        super().__init__(name, p, system)
        src, sys = self.src, system
        self.tes = list(p.te_s)
        self.tis = list(p.ti_s)
        if len(self.tes) > 1 and len(self.tis) > 1:
            raise HarmoniqError(f"{src}: give several te_ms or several ti_ms, not both (one series per file)")
        # encoding before the 180: opposite sign, so the readout starts at -|prephase|
        enc = [self.reph_area, -self.ro.prephase_area, self.pe_y.min()]
        self.enc_dur = ev.shortest_common_duration(enc, sys)
        self.enc_x = pp.make_trapezoid("x", area=-self.ro.prephase_area, duration=self.enc_dur, system=sys)
        self.enc_y = ev.encode_template("y", -self.pe_y, sys, self.enc_dur)
        self.enc_z = pp.make_trapezoid("z", area=self.reph_area, duration=self.enc_dur, system=sys)
        self.spoil_area = p.crusher_cycles / self.thk
        self.spoil = pp.make_trapezoid("z", area=self.spoil_area, system=sys) if self.spoil_area else None
        spoil_dur = pp.calc_duration(self.spoil) if self.spoil else 0.0

        rf_c = ev.rf_centre
        first_half_min = (self.exc_block - rf_c(self.exc)) + self.enc_dur + self.crush_dur + rf_c(self.ref)
        second_half_min = (self.ref_block - rf_c(self.ref)) + self.crush_dur + self.ro.centre_time
        min_te = 2 * max(first_half_min, second_half_min)
        for i, te in enumerate(self.tes):
            if te < min_te - 1e-9:
                raise infeasible(src, "te_ms", te * 1e3, "ms", minimum=min_te * 1e3, why="for this excitation, refocusing and readout")
        rnd = lambda t: ev.on_raster(t, sys.block_duration_raster, "nearest")  # noqa: E731
        # the second fill absorbs the first one's rounding: TE is exact to half a raster
        self.fills = [(rnd(te / 2 - first_half_min), rnd(te - rnd(te / 2 - first_half_min) - first_half_min - second_half_min))
                      for te in self.tes]

        if self.tis:
            self.inv = pp.make_adiabatic_pulse(
                "hypsec", duration=ev.on_raster(p.inversion_duration_s, 2 * sys.grad_raster_time),
                delay=sys.rf_dead_time, system=sys, use="inversion",
            )
            self.inv_spoil = pp.make_trapezoid("z", area=2 * self.spoil_area or 4 / self.thk, system=sys)
            inv_block = pp.calc_duration(self.inv)
            min_ti = inv_block - rf_c(self.inv) + pp.calc_duration(self.inv_spoil) + rf_c(self.exc)
            for i, ti in enumerate(self.tis):
                if ti < min_ti - 1e-9:
                    raise infeasible(src, "ti_ms", ti * 1e3, "ms", minimum=min_ti * 1e3, why="(inversion pulse + spoiler + excitation)")
            self.ti_fills = [ti - min_ti for ti in self.tis]
            self.ti_fills = [rnd(f) for f in self.ti_fills]
            prep = [inv_block + pp.calc_duration(self.inv_spoil) + f for f in self.ti_fills]
        else:
            self.ti_fills, prep = [], [0.0]
        echo_part = [
            self.exc_block + self.enc_dur + a + 2 * self.crush_dur + self.ref_block + b + self.ro.duration + spoil_dur
            for a, b in self.fills
        ]
        busy = max(prep) + max(echo_part)
        tr = p.tr_s
        if tr < busy + system.block_duration_raster - 1e-9:  # the TR fill is one delay block
            raise infeasible(src, "tr_ms", tr * 1e3, "ms", minimum=(busy + system.block_duration_raster) * 1e3, why="for the longest TI/TE")
        self.tr = tr
        n_series = max(len(self.tes), len(self.tis), 1)
        self.tr_fills = [
            tr - prep[min(i, len(prep) - 1)] - echo_part[min(i, len(echo_part) - 1)] for i in range(n_series)
        ]

    def build(self) -> tuple[pp.Sequence, AcquisitionInfo]:
        sys, p, ro = self.sys, self.p, self.ro
        seq = pp.Sequence(sys)
        add_preamble(seq, self.sys)
        n_series = len(self.tr_fills)
        for slc, offset in enumerate(self.offsets):
            for s in range(n_series):
                fill_a, fill_b = self.fills[min(s, len(self.fills) - 1)]
                for line in range(self.n):
                    if self.tis:
                        seq.add_block(self.inv, ev.trid(1))
                        seq.add_block(self.inv_spoil)
                        self.fill(seq, self.ti_fills[s])
                        self.excite(seq, offset)
                    else:
                        self.excite(seq, offset, ev.trid(1))
                    seq.add_block(self.enc_x, ev.scaled(self.enc_y, -self.pe_y[line]), self.enc_z)
                    self.fill(seq, fill_a)
                    self.refocus(seq, offset, phase=np.pi * (line % 2))
                    self.fill(seq, fill_b)
                    seq.add_block(ro.gx, ro.adc, *ev.readout_labels(LIN=line, SLC=slc, SET=s))
                    if self.spoil:
                        seq.add_block(self.spoil)
                    self.fill(seq, self.tr_fills[s])
        series = "inversion_time" if len(self.tis) > 1 else ("echo_time" if len(self.tes) > 1 else "none")
        info = AcquisitionInfo(
            protocol=self.name, family=self.family, tr_s=self.tr, te_s=self.tes, flip_deg=[degrees(p.flip_rad)],
            matrix=(self.n, self.n, 1), fov_m=(self.fov, self.fov, self.thk), slice_thickness_m=self.thk,
            n_slices=p.slices, contrast_dimension=series, contrast_label="SET", ti_s=self.tis,
            refocusing_deg=degrees(p.refocusing_rad), readout_dwell_s=self.dwell,
        )
        return seq, info
