"""Actual flip-angle imaging (Yarnykh, MRM 2007;57:192): two interleaved spoiled gradient
echoes with repetition times TR1 and TR2 = n TR1, one excitation of the same flip in each.

Each TR is one segment (TR1: TRID 1 imaging / 2 dummy; TR2: TRID 3 / 4), both TRs of a pair on
the same phase-encode line:

    [rf (TRID)] [encode] [TE fill] [gx + ADC, SET 0] [spoiler 1 + rewinders] [TR1 fill]
    [rf (TRID)] [encode] [TE fill] [gx + ADC, SET 1] [spoiler 2 + rewinders] [TR2 fill]

The excitation of a 3D slab is a non-selective block pulse (one 2D slice: the slice-selective
sinc with its gradient), so the measured flip is the nominal one times the transmit field.

Spoiling as the method requires: the net gradient moments of the two intervals (x: prephaser +
readout + spoiler; z: the spoiler) in the ratio of their durations, n (Nehrke, MRM 2009;61:84),
a large spoiler moment (``spoiler_cycles`` across a voxel after TR1) and quadratic RF spoiling
over all excitations with the protocol's increment (the shipped protocol: Yarnykh's strong
spoiling, MRM 2010;63:1610, 450 mT ms/m and 39 deg for TR1/TR2 = 20/100 ms).
"""

from __future__ import annotations

import copy

import pypulseq as pp

from harmoniq.protocols.parameters import Parameters, degrees
from harmoniq.sequences import events as ev
from harmoniq.sequences.common import AcquisitionInfo, add_preamble, infeasible
from harmoniq.sequences.gre import SpoiledGRE, require_one_image_setting


class ActualFlipAngle(SpoiledGRE):
    """Builder of the AFI B1 map acquisition (see module docstring)."""

    family = "afi"

    def __init__(self, name: str, p: Parameters, system: pp.Opts):
        src = f"protocol {name}"
        require_one_image_setting(src, p, "AFI", "both TRs")
        super().__init__(name, p, system)
        n = p.tr_ratio
        readout_net = self.ro.prephase_area + self.ro.gx.area  # x moment of prephaser + readout, both TRs
        spoil_x2, spoil_z2 = n * (self.spoil_x + readout_net) - readout_net, n * self.spoil_z
        areas = [spoil_z2 - self.pe_z.min(), spoil_z2 - self.pe_z.max(), self.pe_y.min(), spoil_x2]
        self.spoil2_dur = ev.shortest_common_duration(areas, system)
        self.spoil2_gx = pp.make_trapezoid("x", area=spoil_x2, duration=self.spoil2_dur, system=system)
        self.rewind2_y = ev.encode_template("y", -self.pe_y, system, self.spoil2_dur)
        self.rewind2_z = ev.encode_template("z", spoil_z2 - self.pe_z, system, self.spoil2_dur)
        self.spoil_z2 = spoil_z2
        tr2 = ev.on_raster(n * self.tr, system.block_duration_raster, "nearest")
        self.tr2_fill = tr2 - (self.tr - self.tr_fill - self.spoil_dur + self.spoil2_dur)
        if self.tr2_fill < system.block_duration_raster - 1e-9:
            raise infeasible(src, "tr_ratio", n, "", minimum=(tr2 - self.tr2_fill + system.block_duration_raster) / self.tr,
                             why="for the second TR's spoiler")
        self.tr2 = tr2

    def _excitation_pulse(self, p: Parameters, duration: float, system: pp.Opts):
        """A 3D slab: a non-selective block pulse, so the flip does not vary along the slab and the map
        is the transmit field alone (a slab-selective pulse would add its profile); one 2D slice: the
        slice-selective sinc."""
        if p.dimensions != 3:
            return super()._excitation_pulse(p, duration, system)
        rf = pp.make_block_pulse(p.flip_rad[0], duration=duration, delay=system.rf_dead_time, system=system,
                                 use="excitation")
        return rf, None, 0.0

    def _pair(self, seq, phases, line, part, dummy):
        """Append one TR pair on phase-encode line ``line`` (partition ``part``)."""
        sys = self.sys
        pe_y, pe_z = self.pe_y[line], self.pe_z[part]
        for k, (spoil_gx, rewind_y, rewind_z, spoil_z, fill) in enumerate((
                (self.spoil_gx, self.rewind_y, self.rewind_z, self.spoil_z, self.tr_fill),
                (self.spoil2_gx, self.rewind2_y, self.rewind2_z, self.spoil_z2, self.tr2_fill))):
            rf = self._excitation(phases[k])
            seq.add_block(*filter(None, (rf, self.gz)), ev.trid(2 * k + (2 if dummy else 1)))
            self._single_echo_readout(seq, phases[k], line, part, k, dummy)
            seq.add_block(spoil_gx, ev.scaled(rewind_y, -pe_y), ev.scaled(rewind_z, spoil_z - pe_z))
            seq.add_block(ev.delay(fill, sys))

    def _excitation(self, phase):
        rf = copy.copy(self.rf)
        rf.phase_offset = phase
        return rf

    def build(self) -> tuple[pp.Sequence, AcquisitionInfo]:
        seq = pp.Sequence(self.sys)
        add_preamble(seq, self.sys)
        p = self.p
        pairs = [(self.n // 2, self.nz // 2, True)] * p.dummy_scans
        pairs += [(line, part, False) for part in range(self.nz) for line in range(self.n)]
        phases = ev.rf_spoil_phases(2 * len(pairs), degrees(p.rf_spoiling_inc_rad))
        for j, (line, part, dummy) in enumerate(pairs):
            self._pair(seq, phases[2 * j:2 * j + 2], line, part, dummy)
        info = AcquisitionInfo(
            protocol=self.name, family=self.family, tr_s=self.tr, te_s=self.tes, flip_deg=[degrees(p.flip_rad[0])],
            matrix=(self.n, self.n, self.nz), fov_m=(self.fov, self.fov, self.thk), slice_thickness_m=self.thk / self.nz,
            n_slices=1, contrast_dimension="none", contrast_label="SET", rf_spoiling_deg=degrees(p.rf_spoiling_inc_rad),
            readout_dwell_s=self.dwell,
        )
        return seq, info
