"""Timing measured back from a sequence's own blocks: RF centres and ADC k-space-centre samples.

Independent of how a builder computed its delays, this walks the blocks and measures
TE (excitation centre -> centre sample of each readout), TR (excitation to excitation) and
TI (inversion centre -> excitation centre), so tests and the sidecar report what the file
really plays.
"""

from __future__ import annotations

import numpy as np
import pypulseq as pp

from harmoniq.scanners.timeline import MeasuredTiming
from harmoniq.seqfile import walk_blocks

__all__ = ["MeasuredTiming", "measure_timing"]


def measure_timing(seq: pp.Sequence) -> MeasuredTiming:
    """RF centres and ADC centre samples of ``seq``, from one walk over its blocks."""
    rf_time, rf_use, adc_centre = [], [], []
    for block in walk_blocks(seq):
        if block.rf is not None:
            rf_time.append(block.start_s + block.rf.delay + pp.calc_rf_center(block.rf)[0])
            rf_use.append(getattr(block.rf, "use", "undefined"))
        if block.adc is not None:
            adc = block.adc
            adc_centre.append(block.start_s + adc.delay + (adc.num_samples // 2 + 0.5) * adc.dwell)
    return MeasuredTiming(np.asarray(rf_time), rf_use, np.asarray(adc_centre))
