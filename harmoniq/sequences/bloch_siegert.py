"""Bloch-Siegert B1 mapping (Sacolick et al., MRM 2010;63:1315): a spoiled gradient echo with an
off-resonant Fermi pulse between the excitation and the readout, played at +offset and at -offset
on the same phase-encode line.

One TR (one GE segment instance: +offset TRID 1 imaging / 2 dummy, -offset TRID 3 / 4):

    [rf + gz (TRID)] [Fermi at +-f] [encode] [TE fill] [gx + ADC, SET 0 | 1] [spoilers + rewinders] [TR fill]

The Fermi envelope is b(t) = 1 / (1 + exp((|t - T/2| - t0) / w)), t0 = T/2 - 8 w (its ends at
1/(1 + e^8) = 3.4e-4 of the peak), scaled to the peak ``bs_peak_ut``. It shifts the phase of the
transverse magnetisation by K_BS B1peak^2 with the sign of the offset, so the pair differs by
2 K_BS B1peak^2 (:mod:`harmoniq.fitting.bloch_siegert` computes K_BS from the .seq's waveform).
The two offsets are two TRIDs because a GE segment instance may change only amplitudes and phases,
not the RF frequency. RF spoiling is quadratic over all excitations; the Fermi pulse keeps phase 0.
"""

from __future__ import annotations

import copy

import numpy as np
import pypulseq as pp

from harmoniq.constants import GAMMA_BAR_HZ_PER_T
from harmoniq.errors import HarmoniqError
from harmoniq.protocols.parameters import Parameters, degrees
from harmoniq.sequences import events as ev
from harmoniq.sequences.common import AcquisitionInfo, add_preamble, infeasible
from harmoniq.sequences.gre import SpoiledGRE, require_one_image_setting

TRANSITIONS_PER_HALF = 8.0
"""t0 = T/2 - 8 w: the envelope's ends sit at 1/(1 + e^8) of its peak (ours)."""


def fermi_envelope(t_s, duration_s: float, transition_s: float):
    """b(t) = 1 / (1 + exp((|t - T/2| - t0) / w)), t0 = T/2 - 8 w, for t in [0, T] (s); peak about 1."""
    t0 = duration_s / 2 - TRANSITIONS_PER_HALF * transition_s
    return 1.0 / (1.0 + np.exp((np.abs(np.asarray(t_s, dtype=float) - duration_s / 2) - t0) / transition_s))


class BlochSiegert(SpoiledGRE):
    """Builder of the Bloch-Siegert B1 map acquisition (see module docstring)."""

    family = "bs"

    def __init__(self, name: str, p: Parameters, system: pp.Opts):
        src = f"protocol {name}"
        require_one_image_setting(src, p, "Bloch-Siegert", "both offsets")
        if p.bs_duration_s <= 2 * TRANSITIONS_PER_HALF * p.bs_transition_s:
            raise HarmoniqError(f"{src}: bs_duration_ms={p.bs_duration_s * 1e3:g} must exceed "
                                f"{2 * TRANSITIONS_PER_HALF:g} x bs_transition_ms={p.bs_transition_s * 1e3:g}")
        super().__init__(name, p, system)
        raster = system.rf_raster_time
        n = int(round(ev.on_raster(p.bs_duration_s, system.grad_raster_time) / raster))
        t = (np.arange(n) + 0.5) * raster
        signal = GAMMA_BAR_HZ_PER_T * p.bs_peak_t * fermi_envelope(t, n * raster, p.bs_transition_s)  # Hz
        self.fermi = pp.make_arbitrary_rf(signal, flip_angle=2 * np.pi * float(signal.sum()) * raster,
                                          no_signal_scaling=True, delay=system.rf_dead_time, system=system,
                                          use="preparation")
        self.fermi_block = ev.on_raster(pp.calc_duration(self.fermi), system.block_duration_raster)
        self.te_fill[0] -= self.fermi_block  # the Fermi block takes its place in the TE fill (and the TR)
        if self.te_fill[0] < -1e-9:
            minimum = (self.tes[0] - self.te_fill[0]) * 1e3
            raise infeasible(src, "te_ms", self.tes[0] * 1e3, "ms", minimum=minimum, why="for the Fermi pulse")

    def _tr(self, seq, phase, line, part, k, dummy):
        """Append one TR on line ``line`` (partition ``part``) with the Fermi pulse at offset sign
        ``(+1, -1)[k]``, counter SET k."""
        rf = copy.copy(self.rf)
        rf.phase_offset = phase
        seq.add_block(rf, self.gz, ev.trid(2 * k + (2 if dummy else 1)))
        fermi = copy.copy(self.fermi)
        fermi.freq_offset = (1, -1)[k] * self.p.bs_offset_hz
        seq.add_block(fermi, ev.delay(self.fermi_block, self.sys))
        self._single_echo_readout(seq, phase, line, part, k, dummy)
        self._spoil_and_fill(seq, line, part)

    def build(self) -> tuple[pp.Sequence, AcquisitionInfo]:
        seq = pp.Sequence(self.sys)
        add_preamble(seq, self.sys)
        p = self.p
        pairs = [(self.n // 2, self.nz // 2, True)] * p.dummy_scans
        pairs += [(line, part, False) for part in range(self.nz) for line in range(self.n)]
        phases = ev.rf_spoil_phases(2 * len(pairs), degrees(p.rf_spoiling_inc_rad))
        for j, (line, part, dummy) in enumerate(pairs):
            for k in (0, 1):
                self._tr(seq, phases[2 * j + k], line, part, k, dummy)
        info = AcquisitionInfo(
            protocol=self.name, family=self.family, tr_s=self.tr, te_s=self.tes, flip_deg=[degrees(p.flip_rad[0])],
            matrix=(self.n, self.n, self.nz), fov_m=(self.fov, self.fov, self.thk), slice_thickness_m=self.thk / self.nz,
            n_slices=1, contrast_dimension="none", contrast_label="SET", rf_spoiling_deg=degrees(p.rf_spoiling_inc_rad),
            readout_dwell_s=self.dwell,
        )
        return seq, info
