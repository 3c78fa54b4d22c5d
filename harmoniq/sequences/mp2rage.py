"""3D MP2RAGE (Marques et al., NeuroImage 2010;49:1271): an adiabatic inversion, then two blocks
of RF-spoiled gradient echoes (flips a1, a2) whose partition-encoding centre is excited at TI1
and TI2; one in-plane phase-encode line per shot of length TR_MP2RAGE (``tr_ms``).

One shot (one GE segment instance, TRID 1 imaging / 2 dummy; only encode amplitudes and RF
phases change between instances):

    [hypsec inversion (TRID)] [spoiler] [TA fill]
    n x ([rf a1 + gz] [encode] [TE fill] [gx + ADC, SET 0] [spoiler + rewinders] [TR fill])  [TB fill]
    n x ([rf a2 + gz] [encode] [TE fill] [gx + ADC, SET 1] [spoiler + rewinders] [TR fill])  [TC fill]

n = partitions, linear order, the centre partition n/2 excited at TI (inversion centre to
excitation centre); ``echo_spacing_ms`` is the gradient-echo TR. RF spoiling: quadratic phases
over all excitations (Zur et al., MRM 1991;21:251). The inversion is the non-selective
hyperbolic secant of the inversion-recovery spin echo.
"""

from __future__ import annotations

import pypulseq as pp

from harmoniq.errors import HarmoniqError
from harmoniq.protocols.parameters import Parameters, degrees
from harmoniq.sequences import events as ev
from harmoniq.sequences.common import AcquisitionInfo, add_preamble, infeasible
from harmoniq.sequences.gre import SpoiledGRE


def inversion(duration_s: float, spoil_area: float, system: pp.Opts):
    """(pulse, spoiler): the non-selective hyperbolic-secant inversion of ``duration_s`` (s) and a z
    spoiler of ``spoil_area`` (1/m) after it."""
    pulse = pp.make_adiabatic_pulse("hypsec", duration=ev.on_raster(duration_s, 2 * system.grad_raster_time),
                                    delay=system.rf_dead_time, system=system, use="inversion")
    return pulse, pp.make_trapezoid("z", area=spoil_area, system=system)


class Mp2rage(SpoiledGRE):
    """Builder of the 3D MP2RAGE (see module docstring)."""

    family = "mp2rage"

    def __init__(self, name: str, p: Parameters, system: pp.Opts):
        src = f"protocol {name}"
        if p.dimensions != 3 or len(p.flip_rad) != 2 or len(p.ti_s) != 2 or len(p.te_s) != 1:
            raise HarmoniqError(f"{src}: MP2RAGE needs dimensions=3, two flip_deg, two ti_ms and one te_ms")
        super().__init__(name, p.replace(tr_s=p.echo_spacing_s), system)
        self.p = p
        sys = system
        self.inv, self.inv_spoil = inversion(p.inversion_duration_s, self.spoil_z, sys)
        rnd = lambda t: ev.on_raster(t, sys.block_duration_raster, "nearest")  # noqa: E731
        esp, n, before = self.tr, self.nz, self.nz // 2
        inv_centre = ev.rf_centre(self.inv)
        prep = pp.calc_duration(self.inv) + pp.calc_duration(self.inv_spoil)
        ti1, ti2 = p.ti_s
        self.fills = (rnd(inv_centre + ti1 - before * esp - ev.rf_centre(self.rf) - prep), rnd(ti2 - ti1 - n * esp))
        self.fills += (rnd(p.tr_s - prep - sum(self.fills) - 2 * n * esp),)
        minimum = (prep + before * esp + ev.rf_centre(self.rf) - inv_centre, n * esp,
                   ti2 + (n - before) * esp + system.block_duration_raster)
        for key, value, fill, low in (("ti_ms[0]", ti1, self.fills[0], minimum[0]),
                                      ("ti_ms[1]", ti2, self.fills[1], ti1 + minimum[1])):
            if fill < -1e-9:
                raise infeasible(src, key, value * 1e3, "ms", minimum=low * 1e3, why="for the readout blocks")
        if self.fills[2] < system.block_duration_raster - 1e-9:
            raise infeasible(src, "tr_ms", p.tr_s * 1e3, "ms", minimum=minimum[2] * 1e3, why="after the second block")

    def build(self) -> tuple[pp.Sequence, AcquisitionInfo]:
        seq = pp.Sequence(self.sys)
        add_preamble(seq, self.sys)
        p = self.p
        shots = [(self.n // 2, True)] * p.dummy_scans + [(line, False) for line in range(self.n)]
        phases = ev.rf_spoil_phases(2 * self.nz * len(shots), degrees(p.rf_spoiling_inc_rad))
        j = 0
        for line, dummy in shots:
            seq.add_block(self.inv, ev.trid(2 if dummy else 1))
            seq.add_block(self.inv_spoil)
            for contrast, (flip, fill) in enumerate(zip(p.flip_rad, self.fills)):
                seq.add_block(ev.delay(fill, self.sys))
                for part in range(self.nz):
                    self._untagged_tr(seq, flip, phases[j], line, part, contrast, dummy)
                    j += 1
            seq.add_block(ev.delay(self.fills[2], self.sys))
        info = AcquisitionInfo(
            protocol=self.name, family=self.family, tr_s=p.tr_s, te_s=self.tes, flip_deg=[degrees(f) for f in p.flip_rad],
            matrix=(self.n, self.n, self.nz), fov_m=(self.fov, self.fov, self.thk), slice_thickness_m=self.thk / self.nz,
            n_slices=1, contrast_dimension="inversion_time", contrast_label="SET", ti_s=list(p.ti_s),
            rf_spoiling_deg=degrees(p.rf_spoiling_inc_rad), readout_dwell_s=self.dwell,
        )
        return seq, info
