"""TE, TR and TI from event times: RF centres (with their use) and ADC centre samples.

One reduction for every timeline: the file's own (``harmoniq.sequences.timing.measure_timing``)
and the one the GE interpreter plays (``harmoniq.scanners.ge``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


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

    def summary(self) -> dict:
        """Distinct TEs and TIs (s, rounded to 0.1 us) and the median TR (s): inversion to
        inversion where there are inversions, else excitation to excitation."""
        te = np.unique(np.round(self.echo_times(), 7))
        ti = self.inversion_times()
        ti = np.unique(np.round(ti[np.isfinite(ti)], 7))
        inv = self.rf_time[[u == "inversion" for u in self.rf_use]]
        tr = np.diff(inv if len(inv) > 1 else self.excitation_times())
        te = te[np.isfinite(te)]
        return {"te_s": te.tolist(), "ti_s": ti.tolist(), "tr_s": float(np.median(tr)) if len(tr) else None}
