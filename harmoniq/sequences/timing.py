"""Timing measured back from a sequence's own blocks: RF centres and ADC k-space-centre samples.

Independent of how a builder computed its delays, this walks the blocks and measures
TE (excitation centre -> centre sample of each readout), TR (excitation to excitation) and
TI (inversion centre -> excitation centre), so tests and the sidecar report what the file
really plays.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pypulseq as pp

from harmoniq.seqfile import walk_blocks


@dataclass
class MeasuredTiming:
    """Event times (s) from the start of the sequence.

    rf_time/rf_use: centre and use ('excitation', 'refocusing', 'inversion', ...) of each RF;
    adc_centre: time of sample n//2 of each ADC event (k = 0 for our readouts).
    """

    rf_time: np.ndarray
    rf_use: list[str]
    adc_centre: np.ndarray

    def _last_before(self, use: str, times: np.ndarray) -> np.ndarray:
        t = self.rf_time[[u == use for u in self.rf_use]]
        idx = np.searchsorted(t, times) - 1
        out = np.full(len(times), np.nan)
        out[idx >= 0] = t[idx[idx >= 0]]
        return out

    def echo_times(self) -> np.ndarray:
        """TE of every readout: its centre sample minus the preceding excitation centre."""
        return self.adc_centre - self._last_before("excitation", self.adc_centre)

    def excitation_times(self) -> np.ndarray:
        return self.rf_time[[u == "excitation" for u in self.rf_use]]

    def inversion_times(self) -> np.ndarray:
        """TI before every excitation (NaN where no inversion precedes it)."""
        exc = self.excitation_times()
        return exc - self._last_before("inversion", exc)


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
