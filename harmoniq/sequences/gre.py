"""Spoiled gradient echo, 2D multi-slice or 3D, several flip angles, optional multiple echoes.

One TR (one GE segment instance, TRID 1 imaging / 2 dummy):

    [rf + gz (TRID)] [gz rephase + gy/gz encode + gx prephase] [TE fill]
    [gx + ADC (labels)] ([gx flyback] [fill] [gx + ADC]) ... [spoilers + rewinders] [TR fill]

RF spoiling: quadratic phase ``phi_j = inc * j (j+1) / 2`` on the RF and the ADC (Zur et al.,
MRM 1991;21:251). Each flip angle is one SET (``contrast_dimension = flip_angle``), echoes are
ECO; dummy TRs before each flip bring the magnetization to steady state.
"""

from __future__ import annotations

import copy

import numpy as np
import pypulseq as pp

from harmoniq.errors import HarmoniqError
from harmoniq.sequences import events as ev
from harmoniq.sequences.common import AcquisitionInfo, add_preamble, infeasible
from harmoniq.protocols.parameters import Parameters, degrees



def check_dwell(source: str, dwell: float, raster: float) -> None:
    """The ADC dwell must sit on the harmonized dwell raster."""
    if ev.ns(dwell) % ev.ns(raster):
        raise HarmoniqError(
            f"{source}: readout_dwell_us={dwell * 1e6:g} is not a multiple of the harmonized ADC raster "
            f"{raster * 1e6:g} us; valid values are {raster * 1e6:g}, {2 * raster * 1e6:g}, {3 * raster * 1e6:g} ..."
        )


def slice_offsets(n: int, thickness: float, gap: float) -> np.ndarray:
    """Slice centres (m) along the slice axis, symmetric about the isocentre."""
    return (np.arange(n) - (n - 1) / 2) * (thickness + gap)



def require_one_image_setting(src: str, p: Parameters, method: str, shared_by: str) -> None:
    """Methods whose images differ in one setting only (two TRs, two pulse offsets) take one flip angle,
    one TE and one slice or slab; else a HarmoniqError for ``src``."""
    if len(p.flip_rad) != 1 or len(p.te_s) != 1 or p.slices != 1:
        raise HarmoniqError(f"{src}: flip_deg, te_ms and slices must be one value each for {method} ({shared_by} "
                            "share them; one 2D slice or a 3D slab)")

class SpoiledGRE:
    """Builder of the spoiled gradient echo (see module docstring)."""

    family = "gre"

    def __init__(self, name: str, p: Parameters, system: pp.Opts):
        self.name, self.p, self.sys = name, p, system
        src = f"protocol {name}"
        n, fov = p.matrix, p.fov_m
        if n % 4:
            raise HarmoniqError(f"{src}: matrix={n} must be a multiple of 4 (ADC sample divisor)")
        self.n, self.fov = n, fov
        self.three_d = p.dimensions == 3
        self.nz = p.partitions if self.three_d else 1
        if not self.three_d and self.nz != 1:
            raise HarmoniqError(f"{src}: partitions={p.partitions} needs dimensions=3")
        if self.three_d and p.slices != 1:
            raise HarmoniqError(f"{src}: slices={p.slices} needs dimensions=2 (3D uses partitions)")
        self.thk = p.slice_thickness_m
        self.offsets = slice_offsets(p.slices, self.thk, p.slice_gap_m)
        dwell = p.readout_dwell_s
        check_dwell(src, dwell, system.adc_raster_time)
        self.dwell = dwell

        rf_dur = ev.on_raster(p.rf_duration_s, 2 * system.grad_raster_time)
        self.rf, self.gz, reph_area = self._excitation_pulse(p, rf_dur, system)
        self.ro = ev.make_readout(n, fov, dwell, system)
        # encoding block: slice rephase (+ partition encode), phase encode, readout prephase
        self.reph_area = reph_area
        self.pe_y = ev.phase_areas(n, fov)
        self.pe_z = ev.phase_areas(self.nz, self.thk) if self.three_d else np.zeros(1)
        enc_areas = [reph_area + self.pe_z.min(), reph_area + self.pe_z.max(), self.pe_y.min(), self.ro.prephase_area]
        self.enc_dur = ev.shortest_common_duration(enc_areas, system)
        self.enc_x = pp.make_trapezoid("x", area=self.ro.prephase_area, duration=self.enc_dur, system=system)
        self.enc_y = ev.encode_template("y", self.pe_y, system, self.enc_dur)
        self.enc_z = ev.encode_template("z", reph_area + self.pe_z, system, self.enc_dur)
        # spoilers: cycles across one voxel in z and x, plus rewinders of the encodes
        cyc = p.spoiler_cycles
        self.spoil_z = cyc / (self.thk / self.nz)
        self.spoil_x = cyc * n / fov
        spoil_areas = [self.spoil_z - self.pe_z.min(), self.spoil_z - self.pe_z.max(), self.pe_y.min(), self.spoil_x]
        self.spoil_dur = ev.shortest_common_duration(spoil_areas, system)
        self.spoil_gx = pp.make_trapezoid("x", area=self.spoil_x, duration=self.spoil_dur, system=system)
        self.rewind_y = ev.encode_template("y", -self.pe_y, system, self.spoil_dur)
        self.rewind_z = ev.encode_template("z", self.spoil_z - self.pe_z, system, self.spoil_dur)
        self.flyback = pp.make_trapezoid("x", area=-self.ro.gx.area, system=system)

        rf_block = pp.calc_duration(*filter(None, (self.rf, self.gz)))
        rf_to_end = rf_block - ev.rf_centre(self.rf)
        tes = list(p.te_s)
        if any(b <= a for a, b in zip(tes, tes[1:])):
            raise HarmoniqError(f"{src}: te_ms={[t * 1e3 for t in tes]} must increase from echo to echo")
        min_te = rf_to_end + self.enc_dur + self.ro.centre_time
        if tes[0] < min_te - 1e-9:
            raise infeasible(src, "te_ms", tes[0] * 1e3, "ms", minimum=min_te * 1e3, why="for this excitation and readout")
        self.te_fill = [tes[0] - min_te]
        echo_gap = self.ro.duration + pp.calc_duration(self.flyback)
        for e, (a, b) in enumerate(zip(tes, tes[1:]), start=1):
            if b - a < echo_gap - 1e-9:
                raise infeasible(src, f"te_ms[{e}]", tes[e] * 1e3, "ms", minimum=(a + echo_gap) * 1e3,
                                 why="(echo spacing limited by readout + flyback)")
            self.te_fill.append(b - a - echo_gap)
        self.tes = tes
        busy = (
            rf_block + self.enc_dur + sum(ev.on_raster(f, system.block_duration_raster, "nearest") for f in self.te_fill)
            + len(tes) * self.ro.duration + (len(tes) - 1) * pp.calc_duration(self.flyback) + self.spoil_dur
        )
        tr = p.tr_s
        min_tr = busy + system.block_duration_raster  # the TR fill is one delay block
        if tr < min_tr - 1e-9:
            raise infeasible(src, "tr_ms", tr * 1e3, "ms", minimum=min_tr * 1e3, why="for these echoes")
        self.tr_fill = tr - busy
        self.tr = tr

    def _excitation_pulse(self, p: Parameters, duration: float, system: pp.Opts):
        """(rf, gz, rephase area in 1/m) of the excitation: the slice- or slab-selective sinc."""
        return ev.slice_select(p.flip_rad[0], duration, self.thk, p.rf_tbw, system, "excitation")

    def _tr_blocks(self, seq, flip_rad, spoil_phase, slice_offset, line, part, set_idx, slc, dummy):
        """Append one TR: excitation, encode, echoes, spoil, fill."""
        sys, ro = self.sys, self.ro
        rf = copy.copy(self.rf)
        rf.signal = self.rf.signal * (flip_rad / self.p.flip_rad[0])
        rf.phase_offset = spoil_phase
        rf.freq_offset = self.gz.amplitude * slice_offset
        seq.add_block(rf, self.gz, ev.trid(2 if dummy else 1))
        pe_y, pe_z = self.pe_y[line], self.pe_z[part]
        seq.add_block(self.enc_x, ev.scaled(self.enc_y, pe_y), ev.scaled(self.enc_z, self.reph_area + pe_z))
        adc = pp.make_adc(num_samples=self.n, dwell=self.dwell, delay=ro.adc.delay, phase_offset=spoil_phase, system=sys)
        for echo, fill in enumerate(self.te_fill):
            if echo:
                seq.add_block(self.flyback)
            if ev.ns(fill) >= ev.ns(sys.block_duration_raster) // 2:
                seq.add_block(ev.delay(fill, sys))
            if dummy:
                seq.add_block(ro.gx)
            else:
                labels = ev.readout_labels(LIN=line, PAR=part, SLC=slc, SET=set_idx, ECO=echo)
                seq.add_block(ro.gx, adc, *labels)
        self._spoil_and_fill(seq, line, part)

    def _spoil_and_fill(self, seq, line, part):
        """Rewind the phase encodes of ``line``/``part``, spoil along x and z, fill the TR."""
        seq.add_block(self.spoil_gx, ev.scaled(self.rewind_y, -self.pe_y[line]),
                      ev.scaled(self.rewind_z, self.spoil_z - self.pe_z[part]))
        seq.add_block(ev.delay(self.tr_fill, self.sys))

    def _single_echo_readout(self, seq, phase, line, part, set_idx, dummy):
        """Phase/partition encode (with the slab rephaser), the TE fill and one readout at the first
        echo time: gradient only for a dummy, else an ADC at RF-spoiling phase ``phase`` (rad)."""
        sys, ro = self.sys, self.ro
        pe_y, pe_z = self.pe_y[line], self.pe_z[part]
        seq.add_block(self.enc_x, ev.scaled(self.enc_y, pe_y), ev.scaled(self.enc_z, self.reph_area + pe_z))
        if ev.ns(self.te_fill[0]) >= ev.ns(sys.block_duration_raster) // 2:
            seq.add_block(ev.delay(self.te_fill[0], sys))
        if dummy:
            seq.add_block(ro.gx)
        else:
            adc = pp.make_adc(num_samples=self.n, dwell=self.dwell, delay=ro.adc.delay, phase_offset=phase, system=sys)
            seq.add_block(ro.gx, adc, *ev.readout_labels(LIN=line, PAR=part, SLC=0, SET=set_idx, ECO=0))

    def _untagged_tr(self, seq, flip_rad, phase, line, part, set_idx, dummy):
        """One single-echo TR inside a longer segment (no TRID: an MP2RAGE or MOLLI shot is the
        segment): excitation of ``flip_rad`` at RF phase ``phase``, readout, spoiler, TR fill."""
        rf = copy.copy(self.rf)
        rf.signal = self.rf.signal * (flip_rad / self.p.flip_rad[0])
        rf.phase_offset = phase
        seq.add_block(rf, self.gz)
        self._single_echo_readout(seq, phase, line, part, set_idx, dummy)
        self._spoil_and_fill(seq, line, part)

    def build(self) -> tuple[pp.Sequence, AcquisitionInfo]:
        seq = pp.Sequence(self.sys)
        add_preamble(seq, self.sys)
        p, j = self.p, 0
        inc = p.rf_spoiling_inc_rad
        n_tr = p.slices * len(p.flip_rad) * (p.dummy_scans + self.n * self.nz)
        phases = ev.rf_spoil_phases(n_tr, degrees(inc))
        for slc, offset in enumerate(self.offsets):
            for s, flip_rad in enumerate(p.flip_rad):
                for _ in range(p.dummy_scans):
                    self._tr_blocks(seq, flip_rad, phases[j], offset, self.n // 2, self.nz // 2, s, slc, True)
                    j += 1
                for part in range(self.nz):
                    for line in range(self.n):
                        self._tr_blocks(seq, flip_rad, phases[j], offset, line, part, s, slc, False)
                        j += 1
        info = AcquisitionInfo(
            protocol=self.name, family=self.family, tr_s=self.tr, te_s=self.tes, flip_deg=[degrees(f) for f in p.flip_rad],
            matrix=(self.n, self.n, self.nz), fov_m=(self.fov, self.fov, self.thk),
            slice_thickness_m=self.thk / self.nz, n_slices=p.slices,
            contrast_dimension="flip_angle" if len(p.flip_rad) > 1 else ("echo_time" if len(self.tes) > 1 else "none"),
            contrast_label="SET" if len(p.flip_rad) > 1 else "ECO",
            rf_spoiling_deg=degrees(inc), readout_dwell_s=self.dwell,
        )
        return seq, info
