"""Multi-echo spin echo (CPMG) for T2 mapping: one line per shot, every echo read.

One TR (one GE segment instance, TRID 1):

    [90_y + gz (TRID)] [gz rephase + gx prephase] [fill]
    then per echo: [crusher] [180_x + gz] [crusher] [gy encode] [fill] [gx + ADC (labels)]
                   [fill] [gy rewind + gx CPMG correction] ...
    [spoiler] [TR fill]

CPMG condition (Meiboom & Gill, Rev Sci Instrum 1958;29:688): excitation phase 90 deg, refocusing
phase 0, and an x moment of exactly +|prephase| before every 180, so every echo sees the same
k-space line; the phase encode is rewound after every echo. Constant crushers around every
refocusing pulse: stimulated echoes add to the train as the extended-phase-graph model of the
fitter expects (Weigel, JMRI 2015;41:266). Echoes are ECO, echo n at ``n * ESP``.
"""

from __future__ import annotations

import numpy as np
import pypulseq as pp

from harmoniq.sequences import events as ev
from harmoniq.sequences.common import AcquisitionInfo, add_preamble, infeasible
from harmoniq.protocols.parameters import Parameters, degrees
from harmoniq.sequences.se import RefocusedSlice



class MultiEchoSpinEcho(RefocusedSlice):
    """Builder of the CPMG multi-echo spin echo (see module docstring)."""

    family = "mese"

    def __init__(self, name: str, p: Parameters, system: pp.Opts):
        super().__init__(name, p, system, excitation_phase=np.pi / 2)
        sys, src, ro, rf_c = system, self.src, self.ro, ev.rf_centre
        self.esp = p.echo_spacing_s
        self.n_echoes = p.echoes
        # x moment after one readout, and the correction that restores +|prephase| before a 180
        moment_after = ro.gx.area + ro.prephase_area
        self.x_fix = -ro.prephase_area - moment_after
        self.enc_dur = ev.shortest_common_duration([self.pe_y.min(), self.pe_y.min() + self.x_fix], sys)
        self.reph_dur = ev.shortest_common_duration([self.reph_area, -ro.prephase_area], sys)
        self.enc_y = ev.encode_template("y", self.pe_y, sys, self.enc_dur)
        self.fix_x = pp.make_trapezoid("x", area=self.x_fix, duration=self.enc_dur, system=sys)
        rnd = lambda t: ev.on_raster(t, sys.block_duration_raster, "nearest")  # noqa: E731
        first = (self.exc_block - rf_c(self.exc)) + self.reph_dur + self.crush_dur + rf_c(self.ref)
        before_echo = (self.ref_block - rf_c(self.ref)) + self.crush_dur + self.enc_dur + ro.centre_time
        after_echo = (ro.duration - ro.centre_time) + self.enc_dur + self.crush_dur + rf_c(self.ref)
        min_esp = 2 * max(first, before_echo, after_echo)
        if self.esp < min_esp - 1e-9:
            raise infeasible(src, "echo_spacing_ms", self.esp * 1e3, "ms", minimum=min_esp * 1e3,
                             why="for this excitation, refocusing and readout")
        self.fill_first = rnd(self.esp / 2 - first)
        self.fill_before = rnd(self.esp / 2 - before_echo)
        # the fill after the echo absorbs the rounding of the one before it: echo n at n * ESP
        self.fill_after = rnd(self.esp - self.fill_before - before_echo - after_echo)
        self.spoil = pp.make_trapezoid("z", area=max(p.crusher_cycles, 4.0) / self.thk, system=sys)
        train = (self.exc_block + self.reph_dur + self.fill_first
                 + self.n_echoes * (2 * self.crush_dur + self.ref_block + 2 * self.enc_dur + self.fill_before
                                    + ro.duration + self.fill_after)
                 + pp.calc_duration(self.spoil))
        self.tr = p.tr_s
        if self.tr < train + sys.block_duration_raster - 1e-9:  # the TR fill is one delay block
            raise infeasible(src, "tr_ms", self.tr * 1e3, "ms", minimum=(train + sys.block_duration_raster) * 1e3, why="for this echo train")
        self.tr_fill = self.tr - train

    def build(self) -> tuple[pp.Sequence, AcquisitionInfo]:
        sys, p, ro = self.sys, self.p, self.ro
        seq = pp.Sequence(sys)
        add_preamble(seq, self.sys)
        trap = lambda ch, area, dur: pp.make_trapezoid(ch, area=area, duration=dur, system=sys)  # noqa: E731
        for slc, offset in enumerate(self.offsets):
            for line in range(self.n):
                pe = self.pe_y[line]
                self.excite(seq, offset, ev.trid(1))
                seq.add_block(trap("x", -ro.prephase_area, self.reph_dur), trap("z", self.reph_area, self.reph_dur))
                self.fill(seq, self.fill_first)
                for echo in range(self.n_echoes):
                    self.refocus(seq, offset)
                    seq.add_block(ev.scaled(self.enc_y, pe))
                    self.fill(seq, self.fill_before)
                    seq.add_block(ro.gx, ro.adc, *ev.readout_labels(LIN=line, SLC=slc, ECO=echo))
                    self.fill(seq, self.fill_after)
                    seq.add_block(ev.scaled(self.enc_y, -pe), self.fix_x)
                seq.add_block(self.spoil)
                self.fill(seq, self.tr_fill)
        info = AcquisitionInfo(
            protocol=self.name, family=self.family, tr_s=self.tr,
            te_s=[(e + 1) * self.esp for e in range(self.n_echoes)], flip_deg=[degrees(p.flip_rad)],
            matrix=(self.n, self.n, 1), fov_m=(self.fov, self.fov, self.thk), slice_thickness_m=self.thk,
            n_slices=p.slices, contrast_dimension="echo_time", contrast_label="ECO",
            refocusing_deg=degrees(p.refocusing_rad), readout_dwell_s=self.dwell,
        )
        return seq, info
