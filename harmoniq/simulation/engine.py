"""Isochromat Bloch engine: play a compiled sequence on the spins of a phantom.

Each chunk of spins carries (Mxy, Mz) with Mz -> 1 at equilibrium (the proton density
enters as a weight when the spins are summed). Between RF pulses nothing is computed per
spin: the engine only accumulates the time since the last update (for relaxation and for
off-resonance) and the gradient moment k, and applies them when a pulse or a readout needs
the magnetisation,

    Mxy <- Mxy exp(-t_r R2 - 2i pi df t_o) exp(-2i pi k.r),  Mz <- 1 + (Mz - 1) exp(-t_r R1),

which is exact for free precession (relaxation and precession about z commute), and the
exp(-2i pi k.r) factor is an outer product of three 1D factors on the spin grid. A pulse
of duration T is relaxation for T/2, its rotation (RF, gradients and off-resonance of the
whole pulse, :mod:`harmoniq.simulation.rotation`), then relaxation for T/2 (symmetric
splitting, error O(T^2 R omega1)). What repeats is cached per chunk: the decay factors per
elapsed time and the rotation of every (pulse shape, gradient, frequency offset) -- the
pulse phase is applied on the fly, so RF spoiling costs nothing extra. Readouts are summed
over spins by :mod:`harmoniq.simulation.readout`.

Diffusion (3D phantoms with a diffusivity): each update first damps the stored configuration
orders by the Bloch-Torrey factor of the intervals since the last one
(:mod:`harmoniq.simulation.diffusion`); a readout then updates first. The gradient played
during a pulse is left out of the damping (its moment is small next to the spoilers'); 2D
slab phantoms are simulated without diffusion.

Chunks of whole voxel rows run in worker threads (NumPy releases the GIL in its array
loops); their signals add up. The same code runs on CuPy arrays.
"""

from __future__ import annotations

import contextlib
import math
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from threadpoolctl import threadpool_limits

from harmoniq.simulation.diffusion import DiffusionState
from harmoniq.simulation.readout import TimeSegmentation, encode
from harmoniq.simulation.rotation import RotationTable, rotate_steps, rotation_factors
from harmoniq.simulation.timeline import Free, Pulse, Readout, significant


@dataclass(frozen=True)
class EngineOptions:
    """Precision, chunk size (spins), worker threads and per-chunk cache budget (MiB)."""

    double_precision: bool = False
    max_chunk_spins: int = 1 << 17
    workers: int = 2
    cache_mib: float = 256.0


MAX_TABLE_SEGMENTS = 16
"""Pulses with more constant-gradient runs than this are integrated spin by spin."""

DIRECT_STEPS = 8
"""Runs this short (a gradient ramp overlapping a pulse) are integrated spin by spin."""


def _segment_key(pulse: Pulse, i0: int, i1: int, g: np.ndarray) -> tuple:
    return (pulse.shape.key, i0, i1, significant(g), significant([pulse.freq_hz]))


class _Lru(OrderedDict):
    def __init__(self, capacity: int):
        super().__init__()
        self.capacity = max(1, capacity)

    def get_or_make(self, key, make):
        if key in self:
            self.move_to_end(key)
            return self[key]
        value = make()
        self[key] = value
        if len(self) > self.capacity:
            self.popitem(last=False)
        return value


class _ChunkRun:
    """State and caches of one chunk of spins while the events play."""

    def __init__(self, chunk, coils, shared, xp, options: EngineOptions):
        self.xp = xp
        self.shared = shared
        self.cdtype = xp.complex128 if options.double_precision else xp.complex64
        self.rdtype = xp.float64 if options.double_precision else xp.float32
        shape = chunk.shape
        self.mxy = xp.zeros(shape, dtype=self.cdtype)
        self.mz = xp.ones(shape, dtype=self.rdtype)
        self.r1, self.r2, self.df, self.b1 = (xp.asarray(a, dtype=xp.float64) for a in
                                              (chunk.r1, chunk.r2, chunk.df_hz, chunk.b1))
        self.axes = [xp.asarray(a) for a in (chunk.x_m, chunk.y_m, chunk.z_m)]
        self.voxel_axes = shared.voxel_axes(chunk)
        self.weight = xp.asarray(chunk.weight, dtype=self.rdtype)
        self.voxel_r2 = xp.asarray(chunk.voxel_r2)
        self.voxel_df = xp.asarray(chunk.voxel_df_hz)
        self.coils = xp.asarray(coils, dtype=self.cdtype)
        self.sub = shared.sub
        bytes_per_entry = self.mxy.size * (4 * self.mxy.itemsize + self.mz.itemsize)
        capacity = int(options.cache_mib * 2**20 / bytes_per_entry)
        self.rotations = _Lru(capacity // 2)
        self.decays = _Lru(capacity // 2)
        self.t_relax = self.t_offres = 0.0
        self.k = np.zeros(3)
        self.b1_weights = None
        self.diffusion = (None if chunk.diffusivity is None else
                          DiffusionState(shared.diffusion_line, chunk.diffusivity, xp))

    # -- free precession -------------------------------------------------------------------
    def _decay(self, t_relax: float, t_offres: float):
        xp = self.xp

        def make():
            transverse = xp.exp(-t_relax * self.r2 - 2j * math.pi * t_offres * self.df).astype(self.cdtype)
            return transverse, xp.exp(-t_relax * self.r1).astype(self.rdtype)

        return self.decays.get_or_make((round(t_relax, 10), round(t_offres, 10)), make)

    def _gradient_phase(self, k: np.ndarray):
        """exp(-2i pi k.r) on the spin grid as a broadcastable product (or None if k == 0)."""
        xp = self.xp
        x, y, z = self.axes
        factor = None
        for value, axis, shape in ((k[1], y, (-1, 1)), (k[0], x, (1, -1))):
            if value != 0:
                term = xp.exp(-2j * math.pi * value * axis).astype(self.cdtype).reshape(shape)
                factor = term if factor is None else factor * term
        if factor is not None:
            factor = factor[None]
        if k[2] != 0:
            term = xp.exp(-2j * math.pi * k[2] * z).astype(self.cdtype)[:, None, None]
            factor = term if factor is None else factor * term
        return factor

    def _update(self):
        """Apply the accumulated free precession to the stored magnetisation."""
        if self.t_relax == 0 and self.t_offres == 0 and not self.k.any():
            return
        if self.diffusion is not None:  # on the stored orders, before the pending moment's phase
            self.mxy, self.mz = self.diffusion.apply(self.mxy, self.mz)
        transverse, longitudinal = self._decay(self.t_relax, self.t_offres)
        self.mxy *= transverse
        phase = self._gradient_phase(self.k)
        if phase is not None:
            self.mxy *= phase
        self.mz -= 1
        self.mz *= longitudinal
        self.mz += 1
        self.t_relax = self.t_offres = 0.0
        self.k = np.zeros(3)

    def free(self, event: Free):
        if self.diffusion is not None:
            self.diffusion.hold(event.duration_s, self.k, *event.moment_integrals())
        self.t_relax += event.duration_s
        self.t_offres += event.duration_s
        self.k = self.k + event.k

    # -- RF --------------------------------------------------------------------------------
    def _rotation(self, pulse: Pulse):
        def make():
            x, y, z = self.axes
            base = self.df + pulse.freq_hz

            def offset(g):  # spins' offsets (Hz) in the frame of the pulse under gradient g
                return base + (g[0] * x)[None, None, :] + (g[1] * y)[None, :, None] + (g[2] * z)[:, None, None]

            if len(pulse.segments) > MAX_TABLE_SEGMENTS:
                steps = np.repeat(np.arange(len(pulse.segments)), [i1 - i0 for i0, i1, _ in pulse.segments])
                a, b = rotate_steps(pulse.shape.b1_hz, pulse.shape.dt_s,
                                    lambda step: offset(pulse.segments[steps[step]][2]), self.b1)
            else:
                a = b = None
                for i0, i1, g in pulse.segments:
                    if i1 - i0 <= DIRECT_STEPS:  # e.g. a gradient ramp reaching into the pulse
                        a_s, b_s = rotate_steps(pulse.shape.b1_hz[i0:i1], pulse.shape.dt_s[i0:i1], offset(g), self.b1)
                    elif (table := self.shared.tables.get(_segment_key(pulse, i0, i1, g))) is not None:
                        a_s, b_s = table.lookup(offset(g), self._b1_weights(table))
                    else:  # offsets too spread for a table
                        a_s, b_s = rotate_steps(pulse.shape.b1_hz[i0:i1], pulse.shape.dt_s[i0:i1], offset(g), self.b1)
                    a, b = (a_s, b_s) if a is None else (a_s * a - b_s * b.conj(), a_s * b + b_s * a.conj())
            return rotation_factors(a, b, 0.0, -math.pi * pulse.freq_hz * pulse.duration_s, self.cdtype)

        return self.rotations.get_or_make(pulse.rotation_key(), make)

    def _b1_weights(self, table):
        """Interpolation weights of this chunk's transmit scales (the same nodes for every table)."""
        if self.b1_weights is None:
            self.b1_weights = table.b1_weights(self.b1)
        return self.b1_weights

    def pulse(self, event: Pulse):
        half = 0.5 * event.duration_s
        self.t_relax += half
        if self.diffusion is not None:  # the pulse's own gradient is left out (module doc)
            self.diffusion.hold(half, self.k)
        self._update()
        ca2, cb2, cacb, cab, dz = self._rotation(event)
        mxy, mz = self.mxy, self.mz
        turn = complex(np.exp(1j * event.phase_rad))
        if event.phase_rad:
            mxy *= turn.conjugate()  # into the frame of the pulse phase
        new = ca2 * mxy
        new -= cb2 * mxy.conj()
        new -= 2 * cacb * mz
        mz *= dz
        mz += 2 * (cab * mxy).real
        if event.phase_rad:
            new *= turn
        self.mxy = new
        self.t_relax += half
        if self.diffusion is not None:
            self.diffusion.hold(half, self.k)

    # -- ADC -------------------------------------------------------------------------------
    def readout(self, event: Readout):
        if self.diffusion is not None:  # damping up to the readout's start
            self._update()
        k_abs = self.k[None, :] + event.k  # moment since the stored magnetisation was last updated
        echo = self.shared.echo_samples[event.index]
        t_echo = float(event.t_s[echo])
        transverse, _ = self._decay(self.t_relax + t_echo, self.t_offres + t_echo)
        m = self.mxy * transverse
        phase = self._gradient_phase(k_abs[echo])
        if phase is not None:
            m *= phase
        vz, vy, vx = self.weight.shape
        sz, sy, sx = self.sub
        voxels = m.reshape(vz, sz, vy, sy, vx, sx).sum(axis=(1, 3, 5)) * self.weight
        return encode(voxels, self.voxel_axes, self.coils, self.voxel_r2, self.voxel_df,
                      event.t_s - t_echo, k_abs - k_abs[echo], self.shared.segmentation)


class _Shared:
    """What all chunks share: rotation tables, time segmentation, voxel geometry."""

    def __init__(self, timeline, spins):
        summary = spins.summary()
        self.echo_samples = [timeline.echo_sample(i) for i in range(len(timeline.readouts))]
        self.sub = spins.sub
        self.diffusion_line = spins.diffusion_line
        self.voxel_x, self.voxel_y, self.voxel_z = spins.voxel_x, spins.voxel_y, spins.voxel_z
        self.segmentation = TimeSegmentation(summary["voxel_r2"], summary["voxel_df_hz"])
        self.tables = {}
        df_lo, df_hi = summary["df_range_hz"]
        extent = spins.position_ranges()  # (3, 2)
        for pulse in timeline.pulses:
            if len(pulse.segments) > MAX_TABLE_SEGMENTS:
                continue
            for i0, i1, g in pulse.segments:
                key = _segment_key(pulse, i0, i1, g)
                if key in self.tables or i1 - i0 <= DIRECT_STEPS:
                    continue
                spread = g[:, None] * extent
                lo = df_lo + spread.min(axis=1).sum() + pulse.freq_hz
                hi = df_hi + spread.max(axis=1).sum() + pulse.freq_hz
                b1 = pulse.shape.b1_hz[i0:i1]
                dt = pulse.shape.dt_s[i0:i1]
                peak = int(np.argmax(np.abs(b1)))
                centre = float(dt[:peak].sum() + 0.5 * dt[peak])
                try:
                    self.tables[key] = RotationTable(b1, dt, centre, (lo, hi), summary["b1_range"])
                except ValueError:
                    continue

    def voxel_axes(self, chunk):
        return (self.voxel_x, self.voxel_y[chunk.row0:chunk.row1], self.voxel_z)


def run(timeline, spins, coil_maps: np.ndarray, xp=np, options: EngineOptions = EngineOptions(), progress=None):
    """Noise-free coil signals of every readout: a list of (coils, samples) complex64 arrays.

    coil_maps: (coils, vz, vy, vx) sensitivities on the voxel grid; progress: optional
    callable receiving the number of events done since its last call.
    """
    shared = _Shared(timeline, spins)
    n_coils = coil_maps.shape[0]
    chunks = spins.row_chunks(options.max_chunk_spins)
    workers = 1 if xp is not np else max(1, min(options.workers, len(chunks)))
    # one accumulator per worker, each worker taking a fixed round-robin share of the chunks, and
    # the accumulators summed in a fixed order: the same input gives the same bits on any machine
    partial = [[np.zeros((n_coils, r.t_s.size), dtype=np.complex128) for r in timeline.readouts] for _ in range(workers)]
    report_every = 512

    def play_share(worker):
        for rows in chunks[worker::workers]:
            play(rows, partial[worker])

    def play(rows, signals):
        row0, row1 = rows
        chunk = spins.chunk(row0, row1)
        state = _ChunkRun(chunk, coil_maps[:, :, row0:row1], shared, xp, options)
        done = 0
        for event in timeline.events:
            if isinstance(event, Free):
                state.free(event)
            elif isinstance(event, Pulse):
                state.pulse(event)
            else:
                contribution = state.readout(event)
                contribution = contribution.get() if hasattr(contribution, "get") else contribution
                signals[event.index] += contribution
            done += 1
            if progress is not None and done == report_every:
                progress(done)
                done = 0
        if progress is not None and done:
            progress(done)

    # BLAS on one thread inside the workers: its sums then run in one order whatever the
    # machine's thread setting (a Dask worker has one), and two workers do not oversubscribe
    with threadpool_limits(limits=1, user_api="blas") if xp is np else contextlib.nullcontext():
        if workers == 1:
            play_share(0)
        else:
            with ThreadPoolExecutor(max_workers=workers) as pool:
                list(pool.map(play_share, range(workers)))
    signals = partial[0]
    for other in partial[1:]:
        for total, part in zip(signals, other):
            total += part
    for readout, signal in zip(timeline.readouts, signals):
        signal *= np.exp(1j * readout.phase_rad)[None, :]
    return [s.astype(np.complex64) for s in signals]


def total_events(timeline, spins, options: EngineOptions = EngineOptions()) -> int:
    """Number of progress units :func:`run` reports (events times chunks)."""
    return len(timeline.events) * len(spins.row_chunks(options.max_chunk_spins))
