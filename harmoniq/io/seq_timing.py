"""Echo time, repetition time and flip angle of a ``.seq`` file, for the sidecars of raw data
whose header does not carry them (files from a scanner or another simulator).

From the block walk: the excitation before each readout (the last RF pulse whose use is not
refocusing, inversion, saturation or preparation), its centre time ``delay + calc_rf_center``
and flip angle 360 deg |integral B1 dt| (B1 in Hz, pypulseq's RF signal); the ADC sample times
``start + delay + (i + 1/2) dwell`` (as ``Sequence.calculate_kspace`` places them).

- TE: echo time of the readout nearest the k-space centre (its k = 0 sample) minus the centre
  of its excitation;
- TR: the median time between consecutive excitations of the same slice (none for a single
  excitation per slice, e.g. single-shot EPI);
- flip angle: that of the readout nearest the k-space centre.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pypulseq as pp

from harmoniq.seqfile import walk_blocks
from harmoniq.simulation.prescription import NON_SELECTIVE


@dataclass(frozen=True)
class ReadoutTiming:
    """Per ADC event: ``excitation_s`` centre time of the excitation before it (NaN: none),
    ``flip_deg`` its flip angle, ``first_sample_s`` time of sample 0 and ``dwell_s``."""

    excitation_s: np.ndarray
    flip_deg: np.ndarray
    first_sample_s: np.ndarray
    dwell_s: np.ndarray


def readout_timing(seq) -> ReadoutTiming:
    """The :class:`ReadoutTiming` of a pypulseq Sequence."""
    excitation, flip = np.nan, np.nan
    rows = []
    for block in walk_blocks(seq):
        rf = block.rf
        if rf is not None and getattr(rf, "use", "excitation") not in NON_SELECTIVE:
            excitation = block.start_s + rf.delay + pp.calc_rf_center(rf)[0]
            flip = 360.0 * abs(np.sum((rf.signal[1:] + rf.signal[:-1]) / 2 * np.diff(rf.t)))
        if block.adc is not None:
            rows.append((excitation, flip, block.start_s + block.adc.delay + block.adc.dwell / 2, block.adc.dwell))
    return ReadoutTiming(*(np.array(column, dtype=np.float64) for column in zip(*rows)))


def sequence_timing(timing: ReadoutTiming, echo_sample: np.ndarray, centre: int,
                    slices: np.ndarray) -> tuple[tuple, tuple, tuple]:
    """``(te_s, tr_s, flip_deg)`` tuples (empty when undefined) from ``timing``, the fractional
    k = 0 sample of each readout ``echo_sample``, the readout ``centre`` nearest the k-space
    centre and the slice counter of each readout."""
    te = timing.first_sample_s[centre] + echo_sample[centre] * timing.dwell_s[centre] - timing.excitation_s[centre]
    steps = [np.diff(np.unique(timing.excitation_s[slices == s])) for s in np.unique(slices)]
    steps = np.concatenate(steps) if steps else np.zeros(0)
    steps = steps[np.isfinite(steps)]
    return ((float(te),) if np.isfinite(te) else (), (float(np.median(steps)),) if steps.size else (),
            (float(timing.flip_deg[centre]),) if np.isfinite(timing.flip_deg[centre]) else ())
