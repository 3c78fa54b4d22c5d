"""Expected images of a .seq file on a phantom, computed without the isochromat engine.

The sequence is read back with pypulseq as a train of RF pulses and readouts. Each pulse's
flip angle across the slice comes from a Cayley-Klein (spinor) integration of its own
waveform under its slice gradient (Pauly et al., IEEE TMI 1991;10:53;
:func:`harmoniq.seqfile.rf_rotation.flip_angles`):
alpha(z) = 2 arcsin |beta(z)|; non-selective inversions are ideal 180s (the adiabatic pulse
is B1-insensitive). The magnetisation of every (tissue, z) pair then follows extended phase
graphs (:mod:`harmoniq.simulation.epg`, Weigel, JMRI 2015;41:266) with ideal gradient
dephasing: one unit of dephasing per spoiler or crusher (after each readout of a gradient
echo; on each side of a refocusing pulse), and, before each excitation of a spin-echo
sequence, ideal spoiling (the transverse states are zeroed, as in the textbook TR term).

A readout records conj(F0) times the receiver phase (Pulseq phases turn the other way
than Weigel's, see :mod:`harmoniq.simulation.timeline`); line (PAR, LIN) of contrast (SET or ECO)
takes, for every tissue, the signal of the readout that acquired it, so transients across
k-space (too few dummy scans) are part of the expected image:

    image_c = | IFFT_zy( sum_t FFT_zy(PD_t * coil) * s_t(line(c, k_z, k_y)) ) |.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from harmoniq.seqfile.rf_rotation import flip_angles
from harmoniq.simulation import epg

SPINECHO_FAMILIES = ("se", "mese")


@dataclass
class RfEvent:
    time_s: float
    flip_rad: np.ndarray  # per z position
    phase_rad: float
    use: str


@dataclass
class AdcEvent:
    time_s: float  # centre sample (k = 0)
    phase_rad: float
    labels: dict


def read_train(seq, z_m: np.ndarray) -> tuple[list[RfEvent], list[AdcEvent]]:
    """RF pulses (flip per position in ``z_m``) and readouts of ``seq``, in time order."""
    labels = seq.evaluate_labels(evolution="adc")
    rfs, adcs, profiles = [], [], {}
    t = 0.0
    for number, (block_id, duration) in enumerate(seq.block_durations.items()):
        block = seq.get_block(block_id)
        if block.rf is not None:
            rf = block.rf
            use = getattr(rf, "use", "undefined")
            gz = block.gz.amplitude if block.gz is not None and block.gz.type == "trap" else 0.0
            key = (hash(np.asarray(rf.signal).tobytes()), round(float(gz), 3), round(float(rf.freq_offset), 3))
            if key not in profiles:
                flat = np.full_like(z_m, math.pi) if use == "inversion" else None
                profiles[key] = flat if flat is not None else flip_angles(rf, seq.rf_raster_time,
                                                                                gz * z_m - rf.freq_offset)
            centre = t + rf.delay + rf.center
            rfs.append(RfEvent(centre, profiles[key], float(rf.phase_offset), use))
        if block.adc is not None:
            adc = block.adc
            index = len(adcs)
            adcs.append(AdcEvent(t + adc.delay + (adc.num_samples // 2 + 0.5) * adc.dwell, float(adc.phase_offset),
                                 {name: int(values[index]) for name, values in labels.items()}))
        t += duration
    return rfs, adcs


def readout_signals(rfs, adcs, family: str, t1_s: np.ndarray, t2_s: np.ndarray) -> np.ndarray:
    """Complex signal (readouts, tissues, z) of unit-PD tissues ``t1_s``, ``t2_s`` (tissues,)."""
    n_z = rfs[0].flip_rad.size
    t1 = np.repeat(np.asarray(t1_s, float), n_z)
    t2 = np.repeat(np.asarray(t2_s, float), n_z)
    spin_echo = family in SPINECHO_FAMILIES
    n_orders = 2 * len(rfs) + 2
    states = epg.empty_states(t1.size, n_orders)
    events = sorted([(r.time_s, 0, r) for r in rfs] + [(a.time_s, 1, a) for a in adcs], key=lambda e: (e[0], e[1]))
    out = np.zeros((len(adcs), t1.size), np.complex128)
    now, read, used, excited = 0.0, 0, 2, False

    def relax_to(time):
        nonlocal now
        if time > now:
            states[:, :used] = epg.relax(states[:, :used], np.exp(-(time - now) / t1), np.exp(-(time - now) / t2))
            now = time

    def shift():
        nonlocal used
        used = min(used + 1, n_orders)
        states[:, :used] = epg.shift(states[:, :used])

    def rotate(flip, phase):
        states[:, :used] = epg.rf(states[:, :used], np.tile(flip, t1.size // n_z), phase)

    for time, _, event in events:
        relax_to(time)
        if isinstance(event, AdcEvent):
            out[read] = np.conj(states[0, 0] * np.exp(-1j * event.phase_rad))
            read += 1
        elif event.use == "refocusing":
            shift()
            rotate(event.flip_rad, event.phase_rad)
            shift()
        else:
            if event.use == "excitation" and spin_echo:
                states[0:2] = 0
            elif event.use == "excitation" and excited:
                shift()
            excited = excited or event.use == "excitation"
            rotate(event.flip_rad, event.phase_rad)
    return out.reshape(len(adcs), -1, n_z)


def expected_images(rfs, adcs, family: str, phantom, coil: np.ndarray, contrast_label: str,
                    z_groups: np.ndarray) -> np.ndarray:
    """Expected magnitude images (contrasts, z, y, x) of ``phantom`` (see module doc).

    coil: receive magnitude on the phantom grid (z, y, x); z_groups: for each entry of the
    profile positions, the phantom z index it belongs to (all 0 for a 2D slab).
    """
    mask = phantom.pd > 0
    pairs = np.stack([phantom.t1_s[mask], phantom.t2_s[mask]], axis=1)
    tissues, which = np.unique(pairs, axis=0, return_inverse=True)
    tissue_map = np.full(phantom.pd.shape, -1)
    tissue_map[mask] = which.ravel()
    signals = readout_signals(rfs, adcs, family, tissues[:, 0], tissues[:, 1])  # (adc, tissue, z)
    nz, ny, nx = phantom.pd.shape
    per_slice = np.stack([signals[:, :, z_groups == z].mean(axis=2) for z in range(nz)], axis=-1)  # (adc, t, nz)
    contrast = np.array([a.labels[contrast_label] for a in adcs])
    lines = np.array([[a.labels["PAR"], a.labels["LIN"]] for a in adcs])
    n_contrasts = contrast.max() + 1
    weighted = phantom.pd * coil
    kspace = np.zeros((n_contrasts, nz, ny, nx), np.complex128)
    for t in range(tissues.shape[0]):
        for z in range(nz):
            part = np.zeros_like(weighted)
            part[z] = np.where(tissue_map[z] == t, weighted[z], 0.0)
            if not part.any():
                continue
            k = np.fft.fftshift(np.fft.fftn(np.fft.ifftshift(part, axes=(0, 1)), axes=(0, 1)), axes=(0, 1))
            for c in range(n_contrasts):
                par, lin = lines[contrast == c].T
                kspace[c, par, lin] += k[par, lin] * per_slice[contrast == c, t, z][:, None]
    images = np.fft.fftshift(np.fft.ifftn(np.fft.ifftshift(kspace, axes=(1, 2)), axes=(1, 2)), axes=(1, 2))
    return np.abs(images)


def nrmse_after_scale(image: np.ndarray, reference: np.ndarray, mask: np.ndarray) -> float:
    """||s a - b|| / ||b|| inside ``mask``, s the least-squares scale of a onto b."""
    a, b = image[mask].astype(float), reference[mask].astype(float)
    return float(np.linalg.norm((a @ b) / (a @ a) * a - b) / np.linalg.norm(b))
