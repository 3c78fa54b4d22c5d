"""MOLLI (Messroghli et al., MRM 2004;52:141): several Look-Locker experiments merged into one
T1 map; each inversion is followed by single-shot images, one per heart beat, then pause beats.

Scheme 5(3)3 (images, pause beats, images; Kellman and Hansen, JCMR 2014;16:2): inversion 1, five
images in beats 0-4, three beats of recovery, inversion 2, three images in beats 8-10. The heart
rate is simulated by fixed delays (RR = 60 / heart_rate_bpm; no ECG trigger): the centre line of
image k after inversion j is excited at (b_j + k) RR, b_j the beat of that inversion's first
image, and the inversion's centre ``ti_ms[j]`` earlier.

Readout: one 2D slice, linear phase encoding, the centre line n/2; an RF-spoiled gradient echo
(FLASH) with quadratic phases over all excitations (Zur et al., MRM 1991;21:251). The original
MOLLI reads with balanced SSFP; FLASH-readout MOLLI variants exist (Shao et al., JMRI
2016;43:414, spoiled gradient-echo MOLLI at 3 T). The inversion is the non-selective hyperbolic
secant of the MP2RAGE.

One inversion and its images form one GE segment instance (TRID j + 1; played once each):

    [fill from the last image] [inversion (TRID)] [spoiler] [TI fill]
    images: n x ([rf + gz] [encode] [TE fill] [gx + ADC, SET = image] [spoiler + rewinders] [TR fill]),
            with [RR - n TR] between the images
"""

from __future__ import annotations

import numpy as np
import pypulseq as pp

from harmoniq.errors import HarmoniqError
from harmoniq.protocols.parameters import Parameters, degrees
from harmoniq.sequences import events as ev
from harmoniq.sequences.common import AcquisitionInfo, add_preamble, infeasible
from harmoniq.sequences.gre import SpoiledGRE
from harmoniq.sequences.mp2rage import inversion


def scheme_beats(scheme) -> list[tuple[int, int]]:
    """(beat of the first image, images) of each inversion of a scheme (images, pauses, images, ...)."""
    out, beat = [], 0
    for j, images in enumerate(scheme[::2]):
        out.append((beat, images))
        beat += images + (scheme[2 * j + 1] if 2 * j + 1 < len(scheme) else 0)
    return out


class Molli(SpoiledGRE):
    """Builder of the MOLLI acquisition (see module docstring)."""

    family = "molli"

    def __init__(self, name: str, p: Parameters, system: pp.Opts):
        src = f"protocol {name}"
        inversions = (len(p.scheme) + 1) // 2
        if p.dimensions != 2 or p.slices != 1 or len(p.flip_rad) != 1 or len(p.te_s) != 1:
            raise HarmoniqError(f"{src}: MOLLI needs dimensions=2, slices=1, one flip_deg and one te_ms")
        if len(p.scheme) % 2 != 1 or min(p.scheme[::2]) < 1:
            raise HarmoniqError(f"{src}: scheme={list(p.scheme)} is not valid; give images, pause beats, images, ... "
                                "(an odd number of entries, at least one image per inversion), e.g. [5, 3, 3]")
        if len(p.ti_s) != inversions:
            raise HarmoniqError(f"{src}: ti_ms has {len(p.ti_s)} values; scheme {list(p.scheme)} has {inversions} "
                                "inversions, give one TI each")
        super().__init__(name, p, system)
        sys = system
        self.inv, self.inv_spoil = inversion(p.inversion_duration_s, 4 * self.spoil_z, sys)
        self.rr = 60.0 / p.heart_rate_bpm
        self.beats = scheme_beats(p.scheme)
        esp, n, before = self.tr, self.n, self.n // 2
        rf_c, inv_c = ev.rf_centre(self.rf), ev.rf_centre(self.inv)
        prep = pp.calc_duration(self.inv) + pp.calc_duration(self.inv_spoil)
        rnd = lambda t: ev.on_raster(t, sys.block_duration_raster, "nearest")  # noqa: E731
        if n * esp > self.rr + 1e-9:
            raise infeasible(src, "heart_rate_bpm", p.heart_rate_bpm, "bpm", maximum=60.0 / (n * esp),
                             why=f"for a single-shot image of {n} lines in one beat")
        self.image_gap = rnd(self.rr - n * esp)
        self.fills = []  # (before the inversion, inversion to the first line) per inversion
        last_end = None
        for j, ((beat, _), ti) in enumerate(zip(self.beats, p.ti_s)):
            first_line = beat * self.rr - before * esp - rf_c
            inv_start = beat * self.rr - ti - inv_c
            lead = rnd(first_line - inv_start - prep)
            if lead < -1e-9:
                raise infeasible(src, f"ti_ms[{j}]", ti * 1e3, "ms", minimum=(prep - inv_c + before * esp + rf_c) * 1e3,
                                 why="for the inversion and the lines before the centre")
            gap = 0.0 if last_end is None else rnd(inv_start - last_end)
            if gap < -1e-9:
                raise infeasible(src, f"ti_ms[{j}]", ti * 1e3, "ms", maximum=(ti + gap) * 1e3,
                                 why="after the previous inversion's last image (add pause beats)")
            self.fills.append((gap, lead))
            last_end = (beat + self.beats[j][1] - 1) * self.rr + (n - before) * esp - rf_c

    @property
    def inversion_times_s(self) -> list[float]:
        """Each image's TI (s, acquisition order): ti_ms[j] + k RR for image k after inversion j."""
        return [ti + k * self.rr for (_, images), ti in zip(self.beats, self.p.ti_s) for k in range(images)]

    def build(self) -> tuple[pp.Sequence, AcquisitionInfo]:
        seq = pp.Sequence(self.sys)
        add_preamble(seq, self.sys)
        p, sys = self.p, self.sys
        phases = ev.rf_spoil_phases(len(self.inversion_times_s) * self.n, degrees(p.rf_spoiling_inc_rad))
        image = j = 0
        for trid, ((_, images), (gap, lead)) in enumerate(zip(self.beats, self.fills), start=1):
            if ev.ns(gap) > 0:
                seq.add_block(ev.delay(gap, sys))
            seq.add_block(self.inv, ev.trid(trid))
            seq.add_block(self.inv_spoil)
            if ev.ns(lead) > 0:
                seq.add_block(ev.delay(lead, sys))
            for k in range(images):
                if k and ev.ns(self.image_gap) > 0:
                    seq.add_block(ev.delay(self.image_gap, sys))
                for line in range(self.n):
                    self._untagged_tr(seq, p.flip_rad[0], phases[j], line, 0, image, False)
                    j += 1
                image += 1
        info = AcquisitionInfo(
            protocol=self.name, family=self.family, tr_s=self.tr, te_s=self.tes, flip_deg=[degrees(p.flip_rad[0])],
            matrix=(self.n, self.n, 1), fov_m=(self.fov, self.fov, self.thk), slice_thickness_m=self.thk, n_slices=1,
            contrast_dimension="inversion_time", contrast_label="SET",
            ti_s=[float(np.round(t, 9)) for t in self.inversion_times_s],
            rf_spoiling_deg=degrees(p.rf_spoiling_inc_rad), readout_dwell_s=self.dwell,
        )
        return seq, info
