"""Compile a pypulseq Sequence into the flat list of events the engine runs.

Three kinds of events, in time order:

- :class:`Free` -- free precession and relaxation for ``duration_s`` while the gradients
  add the moment ``k`` (cycles/m, k = gamma/2pi * integral G dt) to every spin's phase;
- :class:`Pulse` -- one RF event with the gradients played during it;
- :class:`Readout` -- one ADC event; it has no duration of its own (the :class:`Free`
  event that follows covers its time) and lists its sample times and k-space moments
  relative to its start.

Gradients are exact piecewise-linear waveforms (trapezoids, extended trapezoids and
arbitrary shapes alike); a per-axis gradient delay shifts an axis's waveform against RF
and ADC: G_actual(t) = G(t - delay). Consecutive free periods are merged.

Phase convention: the engine integrates dM/dt = gamma M x B (gamma > 0), so a spin at
offset u precesses as Mxy exp(-2i pi u t) and the gradient phase is exp(-2i pi k.r): the
usual "k-space -> image by inverse FFT" convention. Pulseq phases and frequency offsets
follow the opposite sense (a slice at +z has a positive frequency offset), so RF and ADC
phases and frequencies enter here with their signs flipped, i.e. the played B1 is
conj(signal * exp(i(phase + 2 pi f t))).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from harmoniq.constants import PYPULSEQ_GAMMA_HZ_PER_T
from harmoniq.errors import HarmoniqError
from harmoniq.seqfile import walk_blocks
from harmoniq.seqfile.rf_rotation import rf_steps

_EPS = 1e-12


def significant(values, digits: int = 9) -> tuple:
    """Values rounded to ``digits`` significant digits: a cache key robust to round-off."""
    return tuple(float(f"{float(v):.{digits}g}") for v in np.ravel(values))


@dataclass(frozen=True)
class RfShape:
    """One RF waveform as piecewise-constant steps (B1 in Hz, already conjugated; see module doc).

    ``key`` identifies the shape (for caching rotations), ``b1_hz`` the complex step values,
    ``dt_s`` the step durations, ``center_s`` the pulse centre from its start.
    """

    key: tuple
    b1_hz: np.ndarray
    dt_s: np.ndarray
    center_s: float
    bandwidth_hz: float

    @property
    def duration_s(self) -> float:
        return float(self.dt_s.sum())


@dataclass(frozen=True)
class Free:
    """Free precession; ``k_int`` = int_0^T k(t) dt (cycles s/m, (3,)) and ``k2_int`` =
    int_0^T |k(t)|^2 dt (cycles^2 s/m^2), k(t) the moment since the event's start: what
    diffusion needs (:mod:`harmoniq.simulation.diffusion`). None: k(t) taken as linear in t."""

    duration_s: float
    k: np.ndarray  # (3,) cycles/m
    k_int: np.ndarray | None = None
    k2_int: float | None = None

    def moment_integrals(self) -> tuple[np.ndarray, float]:
        """(k_int, k2_int), the linear-ramp values T k/2 and T |k|^2/3 when not compiled."""
        if self.k_int is None:
            return 0.5 * self.duration_s * self.k, self.duration_s * float(self.k @ self.k) / 3
        return self.k_int, self.k2_int


@dataclass(frozen=True)
class Pulse:
    """RF event: ``shape`` played with receive-sense phase ``phase_rad`` and frequency ``freq_hz``.

    ``segments`` splits the pulse's steps into runs of constant gradient: tuples
    (first step, end step, gradient (3,) in Hz/m). A slice-selective pulse is one segment;
    a gradient delay adds a short one at each end; a VERSE pulse has many.
    """

    shape: RfShape
    phase_rad: float
    freq_hz: float
    use: str
    segments: tuple
    k_halves: tuple = (np.zeros(3), np.zeros(3))  # moments (cycles/m) start->centre, centre->end

    @property
    def duration_s(self) -> float:
        return self.shape.duration_s

    @property
    def gradient(self) -> np.ndarray:
        """Gradient (3,) Hz/m of the segment that carries most of the RF energy."""
        energy = np.abs(self.shape.b1_hz) ** 2 * self.shape.dt_s
        return max(self.segments, key=lambda seg: energy[seg[0]:seg[1]].sum())[2]

    def rotation_key(self) -> tuple:
        """What the spin rotation depends on besides phase: shape, gradients, frequency."""
        return (self.shape.key, tuple((i0, i1, significant(g)) for i0, i1, g in self.segments),
                significant([self.freq_hz]))


@dataclass(frozen=True)
class Readout:
    """ADC event: sample times ``t_s`` and moments ``k`` (J, 3) relative to its start.

    ``phase_rad`` (J,) is the receiver phase (sign already flipped, see module doc) that
    multiplies the samples; ``index`` counts ADC events from 0; ``start_s`` is the time of
    its block's start.
    """

    index: int
    t_s: np.ndarray
    k: np.ndarray
    phase_rad: np.ndarray
    dwell_s: float
    start_s: float


@dataclass
class CompiledSequence:
    """A sequence compiled for the engine: its events plus what the writer and spin layout need."""

    events: list
    duration_s: float
    readouts: list[Readout]
    pulses: list[Pulse]
    labels: dict = field(default_factory=dict)
    slice_position_m: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))
    trajectory: list = field(default_factory=list)

    def echo_sample(self, index: int) -> int:
        """Sample of readout ``index`` nearest to the k-space centre (its gradient or spin echo)."""
        k = self.trajectory[index]
        return int(np.argmin((k**2).sum(axis=1)))


class _PiecewiseLinear:
    """A gradient axis as a piecewise-linear waveform g(t) with its running integral."""

    def __init__(self, times: np.ndarray, values: np.ndarray):
        self.t = times
        self.g = values
        steps = 0.5 * (values[1:] + values[:-1]) * np.diff(times)
        self.cum = np.concatenate(([0.0], np.cumsum(steps)))

    def integral(self, t) -> np.ndarray:
        """Integral of g from -inf to ``t`` (exact for the piecewise-linear waveform)."""
        t = np.asarray(t, dtype=np.float64)
        if self.t.size < 2:
            return np.zeros_like(t)
        i = np.clip(np.searchsorted(self.t, t, side="right") - 1, 0, self.t.size - 2)
        t0, t1 = self.t[i], self.t[i + 1]
        g0, g1 = self.g[i], self.g[i + 1]
        span = np.maximum(t1 - t0, _EPS)
        tau = np.clip(t - t0, 0.0, span)
        inside = self.cum[i] + g0 * tau + 0.5 * (g1 - g0) / span * tau**2
        return np.where(t <= self.t[0], 0.0, np.where(t >= self.t[-1], self.cum[-1], inside))


def _grad_points(grad, raster_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Breakpoints (t, g) of one pypulseq gradient event, relative to its block start."""
    if grad.type == "trap":
        t = grad.delay + np.cumsum([0.0, grad.rise_time, grad.flat_time, grad.fall_time])
        return t, grad.amplitude * np.array([0.0, 1.0, 1.0, 0.0])
    tt = np.asarray(grad.tt, dtype=np.float64)
    on_raster = np.allclose(tt, (np.arange(tt.size) + 0.5) * raster_s, atol=1e-9)
    if on_raster:  # samples at raster centres: add the first and last edge values
        t = np.concatenate(([0.0], tt, [grad.shape_dur]))
        g = np.concatenate(([grad.first], grad.waveform, [grad.last]))
    else:
        t, g = tt, np.asarray(grad.waveform, dtype=np.float64)
    return grad.delay + t, g


def _rf_bandwidth_hz(values: np.ndarray, dt: np.ndarray) -> float:
    """Full width at half maximum of the small-tip excitation spectrum |FT(B1)| (Hz)."""
    step = float(dt.min())
    samples = np.repeat(values, np.maximum(1, np.round(dt / step).astype(int)))
    n = max(4096, 8 * samples.size)
    spectrum = np.abs(np.fft.fftshift(np.fft.fft(samples, n)))
    freqs = np.fft.fftshift(np.fft.fftfreq(n, step))
    above = freqs[spectrum >= 0.5 * spectrum.max()]
    return float(above.max() - above.min() + 1.0 / (n * step))


def compile_sequence(seq, field_t: float, gradient_delays_s=(0.0, 0.0, 0.0)) -> CompiledSequence:
    """Compile ``seq`` (a pypulseq Sequence) into a :class:`CompiledSequence`.

    ``field_t`` converts ppm offsets to Hz; ``gradient_delays_s`` (x, y, z) delay each
    gradient axis against RF and ADC.
    """
    blocks = list(walk_blocks(seq))
    if not blocks:
        raise HarmoniqError("sequence: it has no blocks; a .seq file with at least one block is needed")
    system = seq.system

    axes = []
    for axis in range(3):
        pieces_t, pieces_g = [], []
        for block in blocks:
            grad = block.grads[axis]
            if grad is not None:
                t, g = _grad_points(grad, system.grad_raster_time)
                pieces_t.append(block.start_s + t)
                pieces_g.append(g)
        if pieces_t:
            axes.append(_PiecewiseLinear(np.concatenate(pieces_t), np.concatenate(pieces_g)))
        else:
            axes.append(_PiecewiseLinear(np.zeros(0), np.zeros(0)))
    delays = np.asarray(gradient_delays_s, dtype=np.float64)

    def moment(times) -> np.ndarray:
        """k (cycles/m) from time 0 to ``times``, shape (..., 3)."""
        times = np.asarray(times, dtype=np.float64)
        return np.stack([axes[a].integral(times - delays[a]) for a in range(3)], axis=-1)

    ppm_hz = 1e-6 * PYPULSEQ_GAMMA_HZ_PER_T * field_t
    shapes: dict[tuple, RfShape] = {}
    boundaries, kinds = [0.0], []
    pulses, readouts = [], []
    for block in blocks:
        rf, adc, start, duration = block.rf, block.adc, block.start_s, block.duration_s
        if rf is not None and adc is not None:
            raise HarmoniqError(f"sequence block {block.block_id}: RF and ADC in one block are not "
                                "supported by the simulator; put them in separate blocks")
        if rf is not None:
            pulse = _pulse(rf, start, moment, shapes, ppm_hz, system.rf_raster_time)
            rf_start = start + rf.delay
            boundaries += [rf_start, rf_start + pulse.duration_s]
            kinds += ["free", pulse]
            pulses.append(pulse)
        if adc is not None:
            readout = _readout(adc, start, len(readouts), moment, ppm_hz)
            readouts.append(readout)
            kinds.append(readout)
            boundaries.append(start)
        boundaries.append(start + duration)
        kinds.append("free")

    edges = np.asarray(boundaries)
    k_edges = moment(edges)
    k_int, k2_int = _moment_integrals(edges, k_edges, axes, delays, moment)
    events: list = []
    position = 0
    for kind in kinds:
        if kind == "free" or isinstance(kind, Pulse):
            t0, t1 = edges[position], edges[position + 1]
            k = k_edges[position + 1] - k_edges[position]
            position += 1
            if kind == "free":
                _append_free(events, Free(t1 - t0, k, k_int[position - 1], float(k2_int[position - 1])))
            else:
                events.append(kind)
        else:
            position += 1  # a readout marks its start; the following free period covers its time
            events.append(kind)
    labels = seq.evaluate_labels(evolution="adc") if readouts else {}
    return CompiledSequence(events=events, duration_s=float(blocks[-1].start_s + blocks[-1].duration_s),
                            readouts=readouts,
                            pulses=pulses, labels=labels, slice_position_m=_slice_positions(events, readouts),
                            trajectory=_trajectory(events))


def _moment_integrals(edges, k_edges, axes, delays, moment):
    """int k dt and int |k|^2 dt over each interval [edges[i], edges[i+1]], k from the
    interval's start: 3-point Gauss-Legendre on every piece between gradient breakpoints
    (k is quadratic there, |k|^2 quartic: exact)."""
    breaks = np.concatenate([a.t + d for a, d in zip(axes, delays)] + [edges])
    times = np.unique(np.clip(breaks, edges[0], edges[-1]))
    a, b = times[:-1], times[1:]
    owner = np.clip(np.searchsorted(edges, a, side="right") - 1, 0, edges.size - 2)
    nodes = 0.5 + np.array([-1.0, 0.0, 1.0]) * math.sqrt(3 / 5) / 2
    weights = np.array([5.0, 8.0, 5.0]) / 18
    k = moment(a[:, None] + (b - a)[:, None] * nodes[None, :]) - k_edges[owner][:, None, :]  # (P, 3, 3)
    w = (b - a)[:, None] * weights[None, :]
    k_int = np.zeros((edges.size - 1, 3))
    k2_int = np.zeros(edges.size - 1)
    np.add.at(k_int, owner, np.einsum("pn,pna->pa", w, k))
    np.add.at(k2_int, owner, np.einsum("pn,pn->p", w, (k**2).sum(axis=2)))
    return k_int, k2_int


def _append_free(events: list, free: Free) -> None:
    """Append ``free``, merged with a free event just before it (moments integrated through)."""
    if free.duration_s <= _EPS and not np.any(free.k):
        return
    if events and isinstance(events[-1], Free):
        last = events.pop()
        k_int, k2_int = last.moment_integrals()
        m1, m2 = free.moment_integrals()
        free = Free(last.duration_s + free.duration_s, last.k + free.k,
                    k_int + free.duration_s * last.k + m1,
                    k2_int + free.duration_s * float(last.k @ last.k) + 2 * float(last.k @ m1) + m2)
    events.append(free)


def _pulse(rf, block_start, moment, shapes, ppm_hz, raster_s) -> Pulse:
    shape_key = (rf.signal.tobytes(), np.asarray(rf.t).tobytes())
    shape = shapes.get(shape_key)
    if shape is None:
        values, dt = rf_steps(rf, raster_s)
        values = np.conj(values)
        shape = RfShape(key=(len(shapes),), b1_hz=values, dt_s=dt, center_s=float(rf.center),
                        bandwidth_hz=_rf_bandwidth_hz(values, dt))
        shapes[shape_key] = shape
    rf_start = block_start + rf.delay
    step_edges = rf_start + np.concatenate(([0.0], np.cumsum(shape.dt_s)))
    k_edges = moment(step_edges)
    step_gradients = np.diff(k_edges, axis=0) / shape.dt_s[:, None]
    k_centre = moment(rf_start + shape.center_s)
    phase = rf.phase_offset + rf.phase_ppm * ppm_hz
    freq = rf.freq_offset + rf.freq_ppm * ppm_hz
    return Pulse(shape=shape, phase_rad=-float(phase), freq_hz=-float(freq), use=str(getattr(rf, "use", "")),
                 segments=_constant_runs(step_gradients), k_halves=(k_centre - k_edges[0], k_edges[-1] - k_centre))


def _constant_runs(step_gradients: np.ndarray) -> tuple:
    """Runs of RF steps with the same gradient (to 1e-6 of the largest): (first, end, mean)."""
    tolerance = 1e-6 * max(1.0, float(np.abs(step_gradients).max()))
    change = np.abs(np.diff(step_gradients, axis=0)).max(axis=1) > tolerance
    edges = np.concatenate(([0], np.flatnonzero(change) + 1, [step_gradients.shape[0]]))
    return tuple((int(i0), int(i1), step_gradients[i0:i1].mean(axis=0)) for i0, i1 in zip(edges[:-1], edges[1:]))


def _readout(adc, block_start, index, moment, ppm_hz) -> Readout:
    j = np.arange(adc.num_samples)
    t = adc.delay + (j + 0.5) * adc.dwell
    k = moment(block_start + t) - moment(block_start)
    freq = adc.freq_offset + adc.freq_ppm * ppm_hz
    phase = adc.phase_offset + adc.phase_ppm * ppm_hz + 2 * np.pi * freq * (t - adc.delay)
    modulation = np.asarray(getattr(adc, "phase_modulation", ()), dtype=np.float64)
    if modulation.size == adc.num_samples:
        phase = phase + modulation
    # receive-sense conversion (module doc): the recorded sample is s * exp(+i phase)
    return Readout(index=index, t_s=t, k=k, phase_rad=np.asarray(phase, np.float64),
                   dwell_s=float(adc.dwell), start_s=float(block_start))


def _trajectory(events) -> list[np.ndarray]:
    """k-space position (J, 3) of every readout sample, in cycles/m, the way pypulseq's
    ``calculate_kspace`` counts it: 0 at the centre of an excitation, negated at the centre
    of a refocusing pulse."""
    k = np.zeros(3)
    out = []
    for event in events:
        if isinstance(event, Free):
            k = k + event.k
        elif isinstance(event, Pulse):
            k = k + event.k_halves[0]
            if event.use == "refocusing":
                k = -k
            elif event.use not in ("inversion", "saturation", "preparation"):
                k = np.zeros(3)
            k = k + event.k_halves[1]
        else:
            out.append(k[None, :] + event.k)
    return out


def _slice_positions(events, readouts) -> np.ndarray:
    """Centre (x, y, z) in m of the slab excited last before each readout (0 when non-selective)."""
    positions = np.zeros((len(readouts), 3))
    current = np.zeros(3)
    for event in events:
        if isinstance(event, Pulse) and event.use != "refocusing":
            g = event.gradient
            norm2 = float(g @ g)
            current = g * (-event.freq_hz) / norm2 if norm2 > 0 else np.zeros(3)
        elif isinstance(event, Readout):
            positions[event.index] = current
    return positions
