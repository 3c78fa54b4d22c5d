"""Slice prescription: where in the patient a simulated scanner plays a sequence.

Coordinates are the ISMRMRD patient coordinates LPS (+x to the patient's left, +y posterior,
+z towards the head), in m; the patient lies head first supine and the gradient axes x, y, z
are the LPS axes. A phantom lives in these coordinates: its array axes (z, y, x) run along
LPS z, y, x and :meth:`harmoniq.phantoms.base.Phantom.positions_m` gives LPS positions.

A :class:`Prescription` is a rotation R, whose columns are the read, phase and slice
directions (unit vectors, LPS), and an offset p, the slice or slab centre (LPS, m). The
gradients of a Pulseq file are logical (its x, y, z are read, phase, slice); the scanner
plays them rotated, G_phys(t) = R G_log(t), and moves the field of view to p the way a
scanner does, with frequencies and phases only (Pulseq interpreters do the same):

- each RF pulse gets the frequency offset gamma/2pi G.p of the gradient G it selects on
  (its most energetic constant-gradient part, as the scanner knows it: without gradient
  delays), and a phase that keeps the pulse's phase at its centre; so the slice the
  sequence puts at logical position s is excited at p + R s;
- each ADC sample gets the phase 2 pi k(t).p, k the nominal k-space position (cycles/m,
  from the last excitation, negated by refocusing pulses): the data are demodulated as if
  the object were moved by -p, so the image centre is p.

For magnetisation excited by the last pulse this is exactly the object moved by -p and turned
by R^T; coherences that live across repetitions (RF-spoiled steady states, stimulated echoes)
see the position-dependent phases they see on a scanner. The scanner's B0, B1 and receive
maps stay put in patient coordinates: a prescription moves the field of view, not the coils.

Gradient delays belong to the physical axes: G_phys,a(t) = sum_b R_ab G_log,b(t - d_a). An
oblique timeline is therefore assembled from the sequence compiled once per distinct delay,
taking physical component a from the compilation with delay d_a (exact, not interpolated).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np
from scipy.spatial.transform import Rotation

from harmoniq.errors import HarmoniqError
from harmoniq.simulation.timeline import CompiledSequence, Free, Pulse, Readout, compile_sequence

ORTHONORMAL_TOLERANCE = 1e-6


@dataclass(frozen=True, eq=False)
class Prescription:
    """Slice/slab orientation and centre: ``rotation`` (3, 3) has the read, phase and slice
    directions (LPS) as columns; ``offset_m`` (3,) is the slice or slab centre (LPS, m)."""

    rotation: np.ndarray = field(default_factory=lambda: np.eye(3))
    offset_m: np.ndarray = field(default_factory=lambda: np.zeros(3))

    def __post_init__(self):
        rotation = np.asarray(self.rotation, dtype=np.float64)
        offset = np.asarray(self.offset_m, dtype=np.float64)
        if rotation.shape != (3, 3) or not np.allclose(rotation.T @ rotation, np.eye(3), atol=ORTHONORMAL_TOLERANCE):
            raise HarmoniqError(f"prescription: rotation {rotation.tolist()} must be a 3 x 3 matrix with orthonormal "
                                "read, phase and slice directions as columns")
        if np.linalg.det(rotation) < 0:
            raise HarmoniqError(f"prescription: rotation {rotation.tolist()} is a reflection; the slice direction "
                                "must be read x phase (a right-handed frame)")
        if offset.shape != (3,) or not np.isfinite(offset).all():
            raise HarmoniqError(f"prescription: offset_m {offset.tolist()} must be three finite numbers (LPS, m)")
        object.__setattr__(self, "rotation", rotation)
        object.__setattr__(self, "offset_m", offset)

    @classmethod
    def from_angles(cls, offset_mm=(0.0, 0.0, 0.0), angles_deg=(0.0, 0.0, 0.0)) -> "Prescription":
        """Axial frame turned by ``angles_deg`` (a, b, c): a about LPS x, then b about y, then c
        about z (extrinsic, right-hand rule); centre ``offset_mm`` (LPS, mm).

        >>> Prescription.from_angles((0, 0, 10), (90, 0, 0)).slice_dir.round(6).tolist()
        [0.0, -1.0, 0.0]
        """
        angles = np.asarray(angles_deg, dtype=np.float64)
        if angles.shape != (3,) or not np.isfinite(angles).all():
            raise HarmoniqError(f"prescription: angles_deg {np.ravel(angles).tolist()} must be three finite numbers")
        rotation = Rotation.from_euler("xyz", angles, degrees=True).as_matrix()
        return cls(rotation=rotation, offset_m=np.asarray(offset_mm, dtype=np.float64) * 1e-3)

    @property
    def read_dir(self) -> np.ndarray:
        return self.rotation[:, 0]

    @property
    def phase_dir(self) -> np.ndarray:
        return self.rotation[:, 1]

    @property
    def slice_dir(self) -> np.ndarray:
        return self.rotation[:, 2]

    @property
    def logical_offset_m(self) -> np.ndarray:
        """The centre in the logical (read, phase, slice) axes: R^T p (m)."""
        return self.rotation.T @ self.offset_m

    def is_axial(self) -> bool:
        """True when the logical axes are the LPS axes (R = identity)."""
        return bool(np.array_equal(self.rotation, np.eye(3)))

    def keeps_slice_axis(self) -> bool:
        """True when the slice direction is +-z: a 2D (z-uniform) phantom can be simulated."""
        return abs(abs(self.slice_dir[2]) - 1.0) < ORTHONORMAL_TOLERANCE

    def describe(self) -> str:
        """One line for people: centre in mm and directions."""
        def fmt(v):
            return "(" + ", ".join(f"{x:.4g}" for x in v) + ")"
        return (f"centre {fmt(self.offset_m * 1e3)} mm LPS, read {fmt(self.read_dir)}, phase {fmt(self.phase_dir)}, "
                f"slice {fmt(self.slice_dir)}")


def physical_timeline(seq, field_t: float, gradient_delays_s, prescription: Prescription,
                      nominal: CompiledSequence) -> CompiledSequence:
    """The timeline the scanner plays: ``seq``'s gradients turned by the prescription, its
    gradient delays on the physical axes, RF and ADC following the offset (module doc).

    ``nominal``: ``seq`` compiled without delays (logical axes), what the scanner believes it
    plays; it sets the RF frequencies and ADC phases of the offset.
    """
    if prescription.is_axial():
        timeline = compile_sequence(seq, field_t, gradient_delays_s)
    else:
        timeline = _rotated(seq, field_t, gradient_delays_s, prescription.rotation, nominal)
    return _moved(timeline, nominal, prescription)


def _rotated(seq, field_t, delays, rotation: np.ndarray, nominal: CompiledSequence) -> CompiledSequence:
    """Physical timeline: component a of every moment from the compilation with delay d_a."""
    compiled = {}
    for delay in delays:
        if delay not in compiled:
            compiled[delay] = nominal if delay == 0 else compile_sequence(seq, field_t, (delay,) * 3)
    sources = [compiled[d] for d in delays]
    events = [_combine_event([s.events[i] for s in sources], rotation) for i in range(len(nominal.events))]
    trajectory = [_combine([s.trajectory[i] for s in sources], rotation) for i in range(len(nominal.trajectory))]
    return replace(nominal, events=events, readouts=[e for e in events if isinstance(e, Readout)],
                   pulses=[e for e in events if isinstance(e, Pulse)], trajectory=trajectory)


def _combine(logical: list, rotation: np.ndarray) -> np.ndarray:
    """Physical vectors (..., 3) whose component a is (R v_a)_a, v_a the a-th logical vector."""
    return np.stack([np.asarray(logical[a]) @ rotation[a] for a in range(3)], axis=-1)


def _combine_event(events: list, rotation: np.ndarray):
    first = events[0]
    if isinstance(first, Free):
        return Free(first.duration_s, _combine([e.k for e in events], rotation))
    if isinstance(first, Readout):
        return replace(first, k=_combine([e.k for e in events], rotation))
    return _combine_pulse(events, rotation)


def _combine_pulse(pulses: list[Pulse], rotation: np.ndarray) -> Pulse:
    """Constant-gradient runs of the physical pulse: the union of the runs' edges of all three
    compilations, neighbours with the same gradient merged."""
    edges = sorted({i for p in pulses for i0, i1, _ in p.segments for i in (i0, i1)})
    segments: list[tuple] = []
    for i0, i1 in zip(edges[:-1], edges[1:]):
        g = _combine([next(seg[2] for seg in p.segments if seg[0] <= i0 < seg[1]) for p in pulses], rotation)
        if segments and np.array_equal(segments[-1][2], g):
            segments[-1] = (segments[-1][0], i1, g)
        else:
            segments.append((i0, i1, g))
    halves = tuple(_combine([p.k_halves[h] for p in pulses], rotation) for h in (0, 1))
    return replace(pulses[0], segments=tuple(segments), k_halves=halves)


def _moved(timeline: CompiledSequence, nominal: CompiledSequence, prescription: Prescription) -> CompiledSequence:
    """RF frequencies/phases and ADC phases that centre the field of view on the offset."""
    offset = prescription.logical_offset_m
    pulses = iter(nominal.pulses)
    events = []
    for event in timeline.events:
        if isinstance(event, Pulse):
            shift_hz = float(next(pulses).gradient @ offset)  # gamma/2pi G.p, receive sense (timeline doc)
            event = replace(event, freq_hz=event.freq_hz - shift_hz,
                            phase_rad=event.phase_rad + 2 * math.pi * shift_hz * event.shape.center_s)
        elif isinstance(event, Readout):
            event = replace(event, phase_rad=event.phase_rad + 2 * math.pi * (nominal.trajectory[event.index] @ offset))
        events.append(event)
    positions = prescription.offset_m + nominal.slice_position_m @ prescription.rotation.T
    return replace(timeline, events=events, readouts=[e for e in events if isinstance(e, Readout)],
                   pulses=[e for e in events if isinstance(e, Pulse)], slice_position_m=positions)



MIN_K_SPACING = 0.01
"""Smallest k spacing (cycles/m, a 100 m field of view) taken as a phase-encoding step; smaller
differences are rounding of the trajectory."""
NON_SELECTIVE = ("refocusing", "inversion", "saturation", "preparation")
"""RF uses that do not define the imaged slice."""


def distinct_steps(values: np.ndarray) -> int:
    """Number of distinct values (cycles/m) more than :data:`MIN_K_SPACING` apart."""
    values = np.sort(np.asarray(values, dtype=np.float64).ravel())
    return int(1 + np.sum(np.diff(values) > MIN_K_SPACING)) if values.size else 0


def echo_position(k: np.ndarray) -> tuple[int, float, float]:
    """(axis, step, position) of one readout's k (samples, 3) in cycles/m: the axis it moves
    along, its median k step per sample and the fractional sample index where k = 0 on that
    axis, interpolated between the samples around it (ramp samples are unevenly spaced), else
    extrapolated with the median step (an echo outside the readout); NaN for a readout that
    does not move."""
    axis = int(np.argmax(np.ptp(k, axis=0)))
    step = float(np.median(np.diff(k[:, axis]))) if len(k) > 1 else 0.0
    if not step:
        return axis, step, float("nan")
    along = k[:, axis] * np.sign(step)  # increasing
    if along[0] <= 0 <= along[-1]:
        return axis, step, float(np.interp(0.0, along, np.arange(len(k))))
    return axis, step, -float(k[0, axis]) / step


def echo_k(k: np.ndarray) -> np.ndarray:
    """(3,) k where one readout k (samples, 3) crosses k = 0 along its readout axis, cycles/m
    (linear between samples, so a reversed line gives the same point)."""
    position = echo_position(k)[2]
    index = np.arange(len(k))
    return np.array([np.interp(np.nan_to_num(position), index, k[:, a]) for a in range(3)])


def encoding_axes(k_echo: np.ndarray) -> list[int]:
    """Logical axes along which the echo k (readout, 3) of the readouts takes several values
    (phase encoding), the most distinct first; at most two. The readout axis has one value
    (k = 0 at the echo)."""
    distinct = [distinct_steps(k_echo[:, a]) for a in range(3)]
    return [int(a) for a in np.argsort(distinct, kind="stable")[::-1] if distinct[a] > 1][:2]


def encoded_ndim(k_echo: np.ndarray) -> int:
    """3 when the readouts are phase encoded along two axes (a 3D slab), else 2."""
    return 3 if len(encoding_axes(k_echo)) == 2 else 2


def nominal_bandwidth_hz(pulse: Pulse) -> float:
    """The bandwidth a pulse was designed with: 1 / t0 for a sinc-shaped pulse whose B1 first
    changes sign t0 from its peak (pypulseq's ``make_sinc_pulse`` plays window(t) sinc(BW t),
    BW = time-bandwidth product / duration, v1.5.0.post1 ``make_sinc_pulse.py``; a half pulse
    has its zero crossings on one side only), else the full width at half maximum of its
    small-tip spectrum."""
    b1 = pulse.shape.b1_hz
    t = np.cumsum(pulse.shape.dt_s) - pulse.shape.dt_s / 2
    peak = int(np.argmax(np.abs(b1)))
    real = (b1 * np.exp(-1j * np.angle(b1[peak]))).real
    after = np.flatnonzero(np.diff(np.sign(real)) != 0)  # sign change between i and i + 1
    if after.size == 0:
        return pulse.shape.bandwidth_hz
    crossings = t[after] + (t[after + 1] - t[after]) * real[after] / (real[after] - real[after + 1])
    return 1.0 / float(np.abs(crossings - t[peak]).min())


def excited_slices(timeline: CompiledSequence) -> tuple[np.ndarray, np.ndarray]:
    """Per readout, the centre (3,) in logical axes (m, :attr:`CompiledSequence.slice_position_m`)
    and the nominal thickness (m) of the slice excited last before it, the pulse's
    :func:`nominal_bandwidth_hz` over gamma/2pi |G| of its slice gradient; NaN when that
    excitation is non-selective."""
    thickness = np.full(len(timeline.readouts), np.nan)
    current = np.nan
    for event in timeline.events:
        if isinstance(event, Pulse) and event.use not in NON_SELECTIVE:
            g = float(np.linalg.norm(event.gradient))
            current = nominal_bandwidth_hz(event) / g if g > 0 else np.nan
        elif isinstance(event, Readout):
            thickness[event.index] = current
    return timeline.slice_position_m, thickness


def slice_numbers(positions_m: np.ndarray) -> np.ndarray:
    """(readout,) slice counter from the excited slice centres (readout, 3) in m: the rank of
    each distinct centre (to 1 um) in the order the sequence first plays them."""
    rounded = np.round(np.asarray(positions_m, dtype=np.float64) * 1e6).astype(np.int64)
    _, first, inverse = np.unique(rounded, axis=0, return_index=True, return_inverse=True)
    rank = np.argsort(np.argsort(first))
    return rank[np.ravel(inverse)]
