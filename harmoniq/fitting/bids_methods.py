"""Fit MP2RAGE, AFI, Bloch-Siegert and MOLLI series described by their BIDS sidecars.

Runners ``(series, data, options) -> ParameterMaps`` named by the model registry
(:mod:`harmoniq.models`); keys beyond the parsed header come from the sidecar itself:
``RepetitionTimePreparation`` and ``NumberShots`` (BIDS, MP2RAGE); for Bloch-Siegert (ours, BIDS
has none) ``BlochSiegertOffset`` (Hz, one per volume: the off-resonant pulse's offset, +f and -f),
``BlochSiegertKBS`` (its K_BS, rad/T^2) and ``BlochSiegertNominalPeakB1`` (its nominal peak, T).
AFI's TR1 and TR2 come from ``RepetitionTimeExcitation`` (one per volume) or are measured from the
.seq (``--seq``).
"""

from __future__ import annotations

import math

import numpy as np

from harmoniq.errors import HarmoniqError
from harmoniq.fitting.bids import per_volume
from harmoniq.io.nifti import read_sidecar


def _sidecar_number(series, key: str, what: str) -> float:
    value = read_sidecar(series.source, required=True).get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise HarmoniqError(f"{series.source}: sidecar {key}={value!r} is not valid; the fit needs {what}, one number")
    return float(value)


def run_mp2rage(series, data, opts):
    from harmoniq.fitting.mp2rage import Mp2rageTiming, fit_t1_mp2rage

    if not bool((data[0] < 0).any()):
        raise HarmoniqError(f"{series.source}: INV1 has no negative value, so its sign is lost (magnitude images); "
                            "give the real parts of the phase-corrected INV1 and INV2")
    if not series.header.tr_s:
        raise HarmoniqError(f"{series.source}: sidecar has no 'RepetitionTimeExcitation'; the fit needs the echo spacing (s)")
    timing = Mp2rageTiming(
        _sidecar_number(series, "RepetitionTimePreparation", "TR_MP2RAGE (s)"), float(series.header.tr_s[0]),
        tuple(per_volume(series, "ti_s")), tuple(per_volume(series, "flip_deg", math.pi / 180)),
        int(_sidecar_number(series, "NumberShots", "the excitations per readout block")),
        inversion_efficiency=opts.get("inversion_efficiency", 0.96))
    efficiency = mp2rage_inversion_efficiency(opts["seq"]) if opts.get("seq") else None
    return fit_t1_mp2rage(data, timing, b1=opts["b1"], mask=opts["mask"], noise_sigma=opts["noise_sigma"],
                          efficiency_of_b1=efficiency)


def mp2rage_inversion_efficiency(seq_path):
    """eff(B1) of the inversion pulse of an MP2RAGE .seq (its first RF event of use 'inversion')."""
    from harmoniq.fitting.mp2rage import inversion_efficiency_of
    from harmoniq.seqfile import read_seq, walk_blocks

    seq = read_seq(seq_path)
    for block in walk_blocks(seq):
        if block.rf is not None and getattr(block.rf, "use", "") == "inversion":
            return inversion_efficiency_of(block.rf, seq.rf_raster_time)
    raise HarmoniqError(f"{seq_path}: no inversion pulse (RF use 'inversion'); an MP2RAGE .seq starts each shot "
                        "with one")


def afi_repetition_times(seq_path) -> tuple[float, float]:
    """(TR1, TR2) in s measured from the excitations of an AFI .seq (they alternate)."""
    from harmoniq.seqfile import read_seq
    from harmoniq.sequences.timing import measure_timing

    gaps = np.unique(np.round(np.diff(measure_timing(read_seq(seq_path)).excitation_times()), 6))
    if gaps.size != 2:
        raise HarmoniqError(f"{seq_path}: its excitations are {gaps.size} distinct interval(s) apart; an AFI "
                            "sequence alternates two (TR1, TR2)")
    return float(gaps[0]), float(gaps[1])


BS_KEYS = ("BlochSiegertKBS", "BlochSiegertNominalPeakB1")
"""Sidecar keys stating a Bloch-Siegert pulse without its .seq: K_BS (rad/T^2) and nominal peak (T)."""
METHOD_KEYS = ("RepetitionTimeExcitation", "RepetitionTimePreparation", "NumberShots", "BlochSiegertOffset", *BS_KEYS)
"""The sidecar keys :func:`acquisition_keys` measures."""


def acquisition_keys(model: str, seq_path) -> dict:
    """Sidecar keys of ``model``'s method beyond the reconstruction's header, measured from the .seq it
    ran (``seq_path``; none without one), the one source of what was played; one value per volume
    where they differ. MP2RAGE: ``RepetitionTimeExcitation`` (echo spacing), ``RepetitionTimePreparation``
    (inversion to inversion) and ``NumberShots`` (excitations per readout block), BIDS 1.10 qMRI appendix;
    AFI: ``RepetitionTimeExcitation`` (TR1, TR2); Bloch-Siegert (ours): ``BlochSiegertOffset`` (+f, -f in Hz) and
    the played pulse's K_BS and nominal peak (:data:`BS_KEYS`), so its images fit without the .seq."""
    if seq_path is None:
        return {}
    if model == "b1-afi":
        return {"RepetitionTimeExcitation": list(afi_repetition_times(seq_path))}
    if model == "b1-bs":
        from harmoniq.fitting.bloch_siegert import played_pulse

        pulse = played_pulse(seq_path)
        offset = abs(pulse.offset_hz)
        return {"BlochSiegertOffset": [offset, -offset],  # SET 0 plays +f, SET 1 -f (sequences.bloch_siegert)
                **dict(zip(BS_KEYS, (pulse.k_bs(), pulse.peak_t)))}
    if model == "t1-mp2rage":
        return mp2rage_timing_keys(seq_path)
    return {}


def mp2rage_timing_keys(seq_path) -> dict:
    """MP2RAGE's BIDS timing keys measured from its .seq: the excitations between its first two
    inversions form the two readout blocks of one shot (s)."""
    from harmoniq.seqfile import read_seq
    from harmoniq.sequences.timing import measure_timing

    timing = measure_timing(read_seq(seq_path))
    inversions = timing.rf_time[[u == "inversion" for u in timing.rf_use]]
    excitations = timing.excitation_times()
    shot = excitations[(excitations > inversions[0]) & (excitations < inversions[1])] if len(inversions) > 1 else []
    if len(shot) < 4 or len(shot) % 2:
        raise HarmoniqError(f"{seq_path}: {len(inversions)} inversion(s) and {len(shot)} excitation(s) in its first "
                            "shot; an MP2RAGE .seq repeats inversions with two equal readout blocks between them")
    return {"RepetitionTimeExcitation": float(np.round(np.median(np.diff(shot)), 7)),
            "RepetitionTimePreparation": float(np.round(np.median(np.diff(inversions)), 7)),
            "NumberShots": len(shot) // 2}


def run_afi(series, data, opts):
    from harmoniq.fitting.afi import fit_b1_afi

    if not series.header.flip_deg:
        raise HarmoniqError(f"{series.source}: sidecar has no 'FlipAngle'; the fit needs the nominal flip (deg)")
    tr = afi_repetition_times(opts["seq"]) if opts.get("seq") else per_volume(series, "tr_s")
    return fit_b1_afi(data, math.radians(series.header.flip_deg[0]), tr, mask=opts["mask"],
                      noise_sigma=opts["noise_sigma"])


def run_bloch_siegert(series, data, opts):
    """The pulse from, in this order: the .seq (``seq``), the Fermi options (``b1_peak_t`` with ``duration_s``),
    the sidecar's K_BS and nominal peak (:data:`BS_KEYS`); without any, a HarmoniqError naming what is missing."""
    from harmoniq.fitting.bloch_siegert import FermiPulse, StatedPulse, fit_b1_bloch_siegert, played_pulse

    if float(np.nanmax(np.abs(data))) > math.pi + 1e-3:
        raise HarmoniqError(f"{series.source}: phase images exceed pi in magnitude; give them in radians")
    if opts.get("seq"):  # the pulse, its peak and offsets as the .seq plays them
        pulse = played_pulse(opts["seq"])
        return fit_b1_bloch_siegert(data, pulse.peak_t, pulse, mask=opts["mask"])

    sidecar = read_sidecar(series.source, required=True)
    offsets = sidecar.get("BlochSiegertOffset")
    if (not isinstance(offsets, list) or len(offsets) != 2 or not all(isinstance(f, (int, float)) for f in offsets)
            or offsets[0] != -offsets[1] or offsets[0] == 0):
        raise HarmoniqError(f"{series.source}: sidecar BlochSiegertOffset={offsets!r} is not valid; give the pulse "
                            "offsets (Hz) of the two volumes, +f and -f (or the .seq with --seq)")
    offset = abs(float(offsets[0]))
    if opts.get("b1_peak_t") is not None or opts.get("duration_s") is not None:
        if opts.get("b1_peak_t") is None or opts.get("duration_s") is None:
            raise HarmoniqError(f"{series.source}: a Fermi pulse needs both --b1-peak-t (T) and --duration (s)")
        pulse = FermiPulse(opts["duration_s"], offset, opts.get("transition_s") or FermiPulse.transition_s)
        return fit_b1_bloch_siegert(data, opts["b1_peak_t"], pulse, mask=opts["mask"])
    missing = [key for key in BS_KEYS if key not in sidecar]
    if missing:
        raise HarmoniqError(
            f"{series.source}: sidecar has no {' or '.join(missing)}, so the phase cannot be scaled to B1; give the "
            ".seq that ran with --seq, add BlochSiegertKBS (K_BS of the off-resonant pulse, rad/T^2) and "
            "BlochSiegertNominalPeakB1 (its nominal peak, T) to the sidecar, or give --b1-peak-t and --duration")
    k_bs, peak = (_sidecar_number(series, key, what) for key, what in
                  zip(BS_KEYS, ("the pulse's K_BS (rad/T^2)", "the pulse's nominal peak B1 (T)")))
    return fit_b1_bloch_siegert(data, peak, StatedPulse(k_bs, offset), mask=opts["mask"])


def run_molli(series, data, opts):
    from harmoniq.fitting.look_locker import fit_t1_molli

    return fit_t1_molli(data, per_volume(series, "ti_s"), mask=opts["mask"], noise_sigma=opts["noise_sigma"])
