"""Bloch-Siegert B1 mapping (Sacolick et al., MRM 2010;63:1315).

An off-resonant pulse of envelope B1peak b(t) (peak-normalised, b <= 1) at offset omega_RF
from the Larmor frequency, played after the excitation, shifts the precession frequency by
omega_BS(t) = (gamma B1peak b(t))^2 / (2 omega_RF) (for gamma B1 << omega_RF), so the
transverse magnetisation gains the phase

    phi_BS = K_BS B1peak^2,   K_BS = integral (gamma b(t))^2 / (2 omega_RF) dt   (rad/T^2).

The phase difference of two acquisitions at +offset and -offset is 2 phi_BS; B0 and every
other phase cancel. Hence B1peak = sqrt(|dphi| / (2 K_BS)) and the relative transmit field
is B1peak / B1peak_nominal.

Known bias (stated in ``info``): the exact adiabatic shift is sqrt(omega_RF^2 + omega_1^2) -
omega_RF = omega_1^2 / (2 omega_RF) (1 - omega_1^2 / (4 omega_RF^2) + ...), so the K_BS model
under-estimates B1 by at most (gamma B1peak / omega_RF)^2 / 8 (relative; less, as b(t) < 1 on
the ramps): 0.5 % at gamma B1peak / omega_RF = 0.2.

Uncertainty (complex images, noise SD sigma each): sd(phi) = sigma / |S| per image, so
sd(dphi) = sigma sqrt(1/|S+|^2 + 1/|S-|^2) and sd(B1) = B1 sd(dphi) / (2 |dphi|).

Valid range (ours): |dphi| in [0.2, 0.9 pi] rad (below, the relative error is above
sd(dphi) / 0.4; above, the difference nears the +-pi wrap) and gamma B1peak / omega_RF <= 0.3
(the model's bias stays below about 1.1 %).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from harmoniq.backend import get_array_module
from harmoniq.constants import GAMMA_BAR_HZ_PER_T
from harmoniq.errors import HarmoniqError
from harmoniq.fitting.engine import assemble
from harmoniq.fitting.maps import ParameterMaps, gather_voxels
from harmoniq.sequences.bloch_siegert import fermi_envelope

MODEL = "b1-bs"
VALID_PHASE_RAD = (0.2, 0.9 * math.pi)
MAX_NUTATION_RATIO = 0.3
GAMMA_RAD = 2 * math.pi * GAMMA_BAR_HZ_PER_T


@dataclass(frozen=True)
class FermiPulse:
    """The off-resonant Fermi pulse b(t) = 1 / (1 + exp((|t - T/2| - t0) / w)), peak 1.

    duration_s T: 6 ms, the conventional Bloch-Siegert Fermi pulse (Khalighi et al., MRM
    2012;68:857); offset_hz: 4 kHz (Sacolick et al. 2010); transition_s w (ours): 0.16 ms,
    t0 = T/2 - 8 w, so the ends are at 1/(1 + e^8) = 3.4e-4 of the peak.
    """

    duration_s: float = 6e-3
    offset_hz: float = 4000.0
    transition_s: float = 0.16e-3

    def __post_init__(self):
        if not (self.duration_s > 16 * self.transition_s > 0 and self.offset_hz != 0 and math.isfinite(self.offset_hz)):
            raise HarmoniqError(
                f"b1-bs: Fermi pulse (duration {self.duration_s} s, transition {self.transition_s} s, offset "
                f"{self.offset_hz} Hz) is not valid; give duration > 16 x transition > 0 and a non-zero offset")

    def envelope(self, t_s):
        """b(t), peak-normalised, for times t in [0, T] (s)."""
        return fermi_envelope(t_s, self.duration_s, self.transition_s)

    def k_bs(self, n_samples: int = 6001) -> float:
        """K_BS = integral (gamma b(t))^2 / (2 omega_RF) dt in rad/T^2, trapezoid rule on ``n_samples`` points."""
        t = np.linspace(0.0, self.duration_s, n_samples)
        return float(np.trapezoid((GAMMA_RAD * self.envelope(t)) ** 2, t) / (2 * 2 * math.pi * abs(self.offset_hz)))

    def describe(self) -> dict:
        return {"shape": "Fermi", "duration_s": self.duration_s, "offset_hz": self.offset_hz,
                "transition_s": self.transition_s}


@dataclass(frozen=True)
class PlayedPulse:
    """The off-resonant pulse as a .seq plays it: ``signal_hz`` (gamma-bar B1, one sample per RF
    raster ``dt_s``, piecewise constant) at offset +-``offset_hz``.

    K_BS = sum (2 pi s_i)^2 / (2 omega_RF) dt / B1peak^2 = pi sum s_i^2 dt / (|f| B1peak^2), B1peak = max|s| / gamma-bar.
    """

    signal_hz: tuple
    dt_s: float
    offset_hz: float

    @property
    def peak_t(self) -> float:
        return float(np.max(np.abs(self.signal_hz))) / GAMMA_BAR_HZ_PER_T

    def k_bs(self) -> float:
        power = float(np.sum(np.abs(np.asarray(self.signal_hz)) ** 2)) * self.dt_s
        return math.pi * power / (abs(self.offset_hz) * self.peak_t**2)

    def describe(self) -> dict:
        return {"shape": "as played by the .seq", "duration_s": len(self.signal_hz) * self.dt_s,
                "offset_hz": self.offset_hz, "peak_T": self.peak_t}


@dataclass(frozen=True)
class StatedPulse:
    """An off-resonant pulse known by its K_BS (rad/T^2) and offset (Hz) alone, as a sidecar states them
    (data imported without the .seq that ran)."""

    k_bs_rad_per_t2: float
    offset_hz: float

    def __post_init__(self):
        if not (math.isfinite(self.k_bs_rad_per_t2) and self.k_bs_rad_per_t2 > 0):
            raise HarmoniqError(f"b1-bs: K_BS {self.k_bs_rad_per_t2} rad/T^2 is not valid; give a finite value > 0")

    def k_bs(self) -> float:
        return self.k_bs_rad_per_t2

    def describe(self) -> dict:
        return {"shape": "stated by the sidecar (K_BS only)", "offset_hz": self.offset_hz}


def played_pulse(seq_path) -> PlayedPulse:
    """The off-resonant pulse of a Bloch-Siegert .seq: its RF pulses played without a gradient at a
    non-zero frequency offset, one waveform at +f and -f (HarmoniqError otherwise)."""
    from harmoniq.seqfile import read_seq, walk_blocks

    seq = read_seq(seq_path)
    found = {}
    for block in walk_blocks(seq):
        rf = block.rf
        if rf is not None and rf.freq_offset != 0 and all(g is None for g in block.grads):
            found.setdefault(round(float(rf.freq_offset), 6), np.asarray(rf.signal))
    offsets = sorted(found)
    if len(offsets) != 2 or offsets[0] != -offsets[1] or not np.array_equal(found[offsets[0]], found[offsets[1]]):
        raise HarmoniqError(f"{seq_path}: its off-resonant pulses (no gradient, offsets {offsets} Hz) are not one "
                            "waveform at +f and -f; a Bloch-Siegert .seq plays exactly that")
    return PlayedPulse(tuple(found[offsets[1]]), float(seq.rf_raster_time), offsets[1])


def _phase_difference(data, xp):
    """(|dphi|, sd factor sqrt(1/|S+|^2 + 1/|S-|^2) or None) from complex or phase (rad) images."""
    if xp.iscomplexobj(data):
        plus, minus = data[0], data[1]
        dphi = xp.abs(xp.angle(plus * xp.conj(minus)))
        with np.errstate(divide="ignore"):
            return dphi, xp.sqrt(1 / xp.abs(plus) ** 2 + 1 / xp.abs(minus) ** 2)
    wrapped = xp.angle(xp.exp(1j * (data[0] - data[1]).astype(xp.float64)))
    return xp.abs(wrapped), None


def fit_b1_bloch_siegert(images, b1_peak_nominal_t: float,
                         pulse: FermiPulse | PlayedPulse | StatedPulse = FermiPulse(), *, mask=None,
                         noise_sigma=None) -> ParameterMaps:
    """Relative B1 from the two Bloch-Siegert acquisitions at +offset and -offset.

    images: (2, *spatial), complex, or real phase images (rad); b1_peak_nominal_t: the
    pulse's nominal peak amplitude (T); pulse: its shape (a Fermi pulse, the waveform a
    .seq plays, :func:`played_pulse`, or its K_BS as a sidecar states it). Maps: B1
    (relative), B1_peak (T), phase_difference (rad), B1_crlb (complex images with
    ``noise_sigma``), out_of_range, mask.
    """
    if not (math.isfinite(b1_peak_nominal_t) and b1_peak_nominal_t > 0):
        raise HarmoniqError(f"b1-bs: nominal peak B1 {b1_peak_nominal_t} T is not valid; give a finite value > 0 T")
    voxels = gather_voxels(images, 2, MODEL, mask)
    xp = get_array_module(voxels.data)
    k_bs = pulse.k_bs()
    dphi, sd_factor = _phase_difference(voxels.data, xp)
    b1_peak = xp.sqrt(dphi / (2 * k_bs))
    values = {"B1": b1_peak / b1_peak_nominal_t, "B1_peak": b1_peak, "phase_difference": dphi}
    if sd_factor is not None and noise_sigma is not None:
        with np.errstate(divide="ignore", invalid="ignore"):
            values["B1_crlb"] = values["B1"] * float(noise_sigma) * sd_factor / (2 * dphi)
    nutation = GAMMA_BAR_HZ_PER_T * b1_peak / abs(pulse.offset_hz)
    out_of_range = ~((dphi >= VALID_PHASE_RAD[0]) & (dphi <= VALID_PHASE_RAD[1]) & (nutation <= MAX_NUTATION_RATIO))
    info = {
        "model": "dphi = 2 K_BS B1peak^2, K_BS = integral (gamma b)^2 / (2 omega_RF) dt (Sacolick et al., MRM 2010;63:1315)",
        "K_BS_rad_per_T2": k_bs,
        "pulse": pulse.describe(),
        "b1_peak_nominal_T": float(b1_peak_nominal_t),
        "known_bias": "B1 under-estimated by at most (gamma B1peak / omega_RF)^2 / 8 (the K_BS approximation)",
        "valid_phase_difference_rad": list(VALID_PHASE_RAD),
        "noise_sigma": None if noise_sigma is None else float(noise_sigma),
    }
    units = {"B1": "1", "B1_peak": "T", "phase_difference": "rad", "B1_crlb": "1"}
    return assemble(MODEL, voxels, values, units, out_of_range, info)
