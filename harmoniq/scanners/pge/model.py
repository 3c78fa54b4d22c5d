"""The decoded ``.pge`` file and the format's constants (layout: :mod:`harmoniq.scanners.pge`)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

MARKER = 47  # serialize.m:49
LOOP_COLUMNS = 23  # getdynamics.m: 14 values + a 3x3 rotation
HEATING_WINDOW_BLOCKS = 40_000  # serialize.m:26 NMAXBLOCKSFORGRADHEATCHECK
DURATION_TOL_S = 1e-7  # pge2 check.m: timing tolerance, the interpreter's eps
INT_LIMITS = {"i16": (-(2**15), 2**15 - 1), "i32": (-(2**31), 2**31 - 1)}
FLOAT32_MAX = float(np.finfo(np.float32).max)
IDENTITY_ROTATION = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0)
COL_SEGMENT, COL_PARENT, COL_RF_AMP, COL_RF_PHASE, COL_FREQ = 0, 1, 2, 3, 4
COL_GRAD = [5, 7, 9]  # amplitudes; energies follow each
COL_ADC_PHASE, COL_DURATION, COL_TRIGGER = 11, 12, 13
LOOP_NAMES = ("segment", "parent block", "RF amplitude", "RF phase", "frequency offset", "gradient x",
              "gradient x energy", "gradient y", "gradient y energy", "gradient z", "gradient z energy",
              "ADC phase", "block duration", "trigger", *(f"rotation {k}" for k in range(1, 10)))


@dataclass(frozen=True)
class PgeRF:
    """RF shape of a parent block: ``kind`` 1 (regular raster) or 2 (corner points),
    ``raster_s``, ``times_s`` (corner points only, else empty), ``magnitude`` (max 1) and
    ``phase`` (rad) per sample, ``shape_duration_s``, ``delay_s``, ``energy_s``."""

    kind: int
    raster_s: float
    times_s: np.ndarray
    magnitude: np.ndarray
    phase: np.ndarray
    shape_duration_s: float
    delay_s: float
    energy_s: float


@dataclass(frozen=True)
class PgeGradient:
    """Gradient shape of a parent block on one axis: ``kind`` 1 trapezoid (``rise_s``,
    ``flat_s``, ``fall_s``), 2 regular raster (``raster_s``) or 3 corner points (``times_s``);
    ``waveform`` normalized to max |w| = 1 (kinds 2 and 3); ``delay_s``."""

    kind: int
    delay_s: float
    rise_s: float = 0.0
    flat_s: float = 0.0
    fall_s: float = 0.0
    raster_s: float = 0.0
    times_s: np.ndarray = field(default_factory=lambda: np.zeros(0))
    waveform: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def corners(self) -> tuple[np.ndarray, np.ndarray]:
        """Block-relative times (s) and unit-amplitude values of the played waveform."""
        if self.kind == 1:
            t = np.cumsum([0.0, self.rise_s, self.flat_s, self.fall_s]) + self.delay_s
            return t, np.array([0.0, 1.0, 1.0, 0.0])
        if self.kind == 2:
            return self.delay_s + (np.arange(self.waveform.size) + 0.5) * self.raster_s, self.waveform
        return self.delay_s + self.times_s, self.waveform


@dataclass(frozen=True)
class PgeADC:
    """ADC window of a parent block: samples, dwell (s), delay (s)."""

    num_samples: int
    dwell_s: float
    delay_s: float


@dataclass(frozen=True)
class ParentBlock:
    """One parent block: ``id`` (1-based), ``duration_s``, events (None where absent);
    ``grads`` is (x, y, z)."""

    id: int
    duration_s: float
    rf: PgeRF | None
    grads: tuple
    adc: PgeADC | None


@dataclass(frozen=True)
class PgeSegment:
    """One segment definition: ``id``, the parent block of each block (0: constant delay,
    -1: variable delay), the 1-based loop row of its largest-energy instance, and whether it
    plays any gradient."""

    id: int
    block_ids: tuple
    energy_row: int
    has_gradients: bool


@dataclass(frozen=True)
class PgeFile:
    """A decoded ``.pge`` file. ``loop`` is (rows, columns) float32, one row per block (see
    the module docstring for the columns); ``byte_order`` is '<' or '>'."""

    byte_order: str
    parent_blocks: tuple
    segments: tuple
    loop: np.ndarray
    max_rf_power: float
    max_b1_hz: float
    max_grad_hz_per_m: float
    max_slew_hz_per_m_per_s: float
    duration_s: float
    n_readouts: int
    n_gain_readouts: int
    n_heating_rows: int

    def instances(self) -> list[tuple[int, int]]:
        """(segment id, first row from 0) of every segment instance, in playing order."""
        out, row = [], 0
        while row < self.loop.shape[0]:
            seg = self.segments[int(self.loop[row, COL_SEGMENT]) - 1]
            out.append((seg.id, row))
            row += len(seg.block_ids)
        return out

    def played_gradient(self, row: int, axis: int) -> tuple[np.ndarray, np.ndarray]:
        """Block-relative corner times (s) and values (Hz/m) the interpreter plays on ``axis``
        (0, 1, 2) in loop row ``row`` (from 0): parent shape x the row's amplitude; empty if none."""
        parent = int(self.loop[row, COL_PARENT])
        grad = self.parent_blocks[parent - 1].grads[axis] if parent > 0 else None
        if grad is None:
            return np.zeros(0), np.zeros(0)
        t, w = grad.corners()
        return t, w * float(self.loop[row, COL_GRAD[axis]])

    def summary(self) -> dict:
        """Counts and safety values for reports (SI units)."""
        counts: dict[int, int] = {}
        for seg_id, _ in self.instances():
            counts[seg_id] = counts.get(seg_id, 0) + 1
        return {
            "parent_blocks": len(self.parent_blocks),
            "segments": [{"id": s.id, "blocks": len(s.block_ids), "instances": counts.get(s.id, 0)}
                         for s in self.segments],
            "rows": int(self.loop.shape[0]),
            "max_b1_hz": self.max_b1_hz, "max_grad_hz_per_m": self.max_grad_hz_per_m,
            "max_slew_hz_per_m_per_s": self.max_slew_hz_per_m_per_s, "duration_s": self.duration_s,
            "readouts": self.n_readouts, "heating_window_rows": self.n_heating_rows,
        }
