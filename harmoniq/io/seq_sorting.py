"""Sort raw readouts by the Pulseq ``.seq`` file they were acquired with.

Raw data converted from a Pulseq acquisition without sorting information (a plain raw
converter) carry no usable ISMRMRD counters. The ``.seq`` file knows where every readout
belongs: the n-th acquisition that is not a noise scan is the n-th ADC event of the file
(noise scans are added by the scanner, not played by the sequence), with

- its labels, ``Sequence.evaluate_labels(evolution='adc')``: LIN -> kspace_encode_step_1,
  PAR -> kspace_encode_step_2, SLC -> slice, ECO -> contrast, SET -> set, REP -> repetition,
  AVG -> average (see :mod:`harmoniq.io.ismrmrd_encoding`); a Cartesian file without LIN/PAR
  labels gets them from its phase-encoding moments;
- its k-space trajectory, ``Sequence.calculate_kspace()``: k = gamma/2pi * integral G dt in
  cycles/m for every sample, which gives the echo sample (k = 0 along the readout), the k1/k2
  centre lines, and the sample positions of non-Cartesian readouts.

A trajectory is Cartesian when every readout moves along one common axis with one constant
step and all other k coordinates lie on the 1/FOV grid; otherwise the readouts are kept with
their trajectory (:class:`NonCartesianKSpace`) for NUFFT reconstruction.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, replace
from pathlib import Path

import ismrmrd
import numpy as np

from harmoniq.errors import HarmoniqError
from harmoniq.io import flags as acq_flags
from harmoniq.io.header import AcquisitionHeader, Limit
from harmoniq.io.ismrmrd_encoding import (LABEL_COUNTERS, LIMIT_NAMES, centre_sample, counters, echo_k, echo_position,
                                           grid_size, trajectory_fov_m, trajectory_kind)
from harmoniq.io.kspace import KSpace
from harmoniq.io.seq_timing import ReadoutTiming, readout_timing, sequence_timing
from harmoniq.seqfile import block_table, read_seq
from harmoniq.simulation.prescription import excited_slices, slice_numbers
from harmoniq.simulation.timeline import compile_sequence

SLICE_FIELD_T = 3.0
"""Field (T) for compiling the .seq into slice positions: it only turns ppm offsets into Hz,
and ppm offsets belong to fat saturation or spectral pulses, not to slice selection."""
GRID_TOLERANCE = 0.05
"""Largest distance (in units of 1/FOV) of a phase-encoding moment from the Cartesian grid."""


@dataclass(frozen=True)
class SeqReadouts:
    """The ADC events of a ``.seq`` file in playing order.

    ``samples`` (n,): samples per ADC event; ``labels``: label name -> (n,) values;
    ``k_per_m``: one (samples, 3) array per ADC event, the k-space position (x, y, z) of each
    sample in cycles/m; ``fov_m``: the file's ``FOV`` definition (x, y, z), or None;
    ``slice_position_m`` (n, 3) and ``slice_thickness_m`` (n,): centre (logical axes) and
    nominal thickness of the slice excited before each readout
    (:func:`~harmoniq.simulation.prescription.excited_slices`; NaN thickness: non-selective);
    ``timing``: excitation and sample times and flip angles (:mod:`harmoniq.io.seq_timing`).
    """

    source: str
    samples: np.ndarray
    labels: dict[str, np.ndarray]
    k_per_m: list[np.ndarray]
    fov_m: np.ndarray | None
    slice_position_m: np.ndarray
    slice_thickness_m: np.ndarray
    timing: ReadoutTiming

    def __len__(self) -> int:
        return len(self.samples)

    def echo_samples(self) -> np.ndarray:
        """(n,) ISMRMRD ``center_sample`` of each readout (:func:`centre_sample`)."""
        return np.array([centre_sample(k) for k in self.k_per_m], dtype=np.int64)

    def echo_positions(self) -> tuple[np.ndarray, np.ndarray]:
        """(n,) fractional sample index of k = 0 along each readout and (n,) k step per
        sample (cycles/m; negative for a reversed line), :func:`echo_position`."""
        _, step, position = np.array([echo_position(k) for k in self.k_per_m]).reshape(-1, 3).T
        return position, step

    def echo_k_per_m(self) -> np.ndarray:
        """(n, 3) k-space position where each readout crosses k = 0 along its readout axis
        (:func:`echo_k`), cycles/m."""
        return np.array([echo_k(k) for k in self.k_per_m]).reshape(-1, 3)

    @property
    def read_axis(self) -> int:
        """The k axis (0, 1, 2 for x, y, z) the first readout moves along."""
        return int(np.argmax(np.ptp(self.k_per_m[0], axis=0)))

    def sequence_timing(self) -> tuple[tuple, tuple, tuple]:
        """(te_s, tr_s, flip_deg) of the file (:func:`~harmoniq.io.seq_timing.sequence_timing`),
        TE and flip angle of the imaging readout (not a navigator) nearest the k-space centre."""
        distance = np.linalg.norm(self.echo_k_per_m(), axis=1)
        if "NAV" in self.labels:
            distance = np.where(self.labels["NAV"] > 0, np.inf, distance)
        slices = self.labels["SLC"] if "SLC" in self.labels else slice_numbers(self.slice_position_m)
        return sequence_timing(self.timing, self.echo_positions()[0], int(np.argmin(distance)), slices)

    def grid_fov_m(self, header: AcquisitionHeader) -> np.ndarray:
        """(x, y, z) field of view of the k-space grid: the file's ``FOV``, else the one its
        trajectory implies (:func:`trajectory_fov_m`), else the header's recon FOV."""
        if self.fov_m is not None:
            return np.array(self.fov_m, dtype=float)
        inferred = trajectory_fov_m(self.k_per_m)
        return np.where(np.isfinite(inferred), inferred, np.asarray(header.recon_fov_m, dtype=float))

    def is_cartesian(self, header: AcquisitionHeader) -> bool:
        """True when the readouts are lines of one Cartesian grid with spacing 1/FOV (:meth:`grid_fov_m`)."""
        if trajectory_kind(self.k_per_m) != "cartesian":
            return False
        phase_axes = [a for a in range(3) if a != self.read_axis]
        on_grid = self.echo_k_per_m()[:, phase_axes] * self.grid_fov_m(header)[phase_axes]
        return bool(np.all(np.abs(on_grid - np.round(on_grid)) <= GRID_TOLERANCE))


def read_seq_readouts(path: str | Path) -> SeqReadouts:
    """Read the ADC table (samples, labels, trajectory) of the ``.seq`` file ``path``."""
    path = Path(path)
    seq = read_seq(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pypulseq's notes on rounding
            k_adc = seq.calculate_kspace()[0]
            labels = seq.evaluate_labels(evolution="adc")
    except Exception as exc:  # pypulseq raises many types on events it cannot play
        raise HarmoniqError(f"{path}: pypulseq cannot compute its trajectory or labels ({exc}); "
                            "give a .seq file pypulseq can play") from exc
    adc_ids = [int(i) for i in block_table(seq).events[:, 4] if i]
    samples = np.array([int(seq.adc_library.data[i][0]) for i in adc_ids], dtype=np.int64)
    if samples.size == 0:
        raise HarmoniqError(f"{path}: the .seq file has no ADC events, so it cannot sort raw data")
    k_per_m = np.split(np.asarray(k_adc, dtype=np.float64).T, np.cumsum(samples)[:-1])
    fov = seq.definitions.get("FOV")
    positions, thickness = excited_slices(compile_sequence(seq, SLICE_FIELD_T))
    return SeqReadouts(source=str(path), samples=samples,
                       labels={name: np.asarray(values, dtype=np.int64) for name, values in labels.items()},
                       k_per_m=k_per_m, fov_m=None if fov is None else np.ravel(fov).astype(float)[:3],
                       slice_position_m=positions, slice_thickness_m=thickness, timing=readout_timing(seq))


def counters_vary(heads: np.ndarray) -> bool:
    """True when the idx counters tell the readouts apart (some counter takes two values)."""
    return len(heads) < 2 or any(np.ptp(heads["idx"][name]) > 0 for name in LABEL_COUNTERS.values())


def _label_flags(labels: dict[str, np.ndarray], n: int) -> np.ndarray:
    """Acquisition flag bits from the NAV (navigator) and REF/IMA (calibration) labels."""
    flags = np.zeros(n, np.uint64)

    def label(name):
        return labels[name] > 0 if name in labels else np.zeros(n, bool)

    for selected, number in ((label("NAV"), ismrmrd.ACQ_IS_NAVIGATION_DATA),
                             (label("REF") & ~label("IMA"), acq_flags.PARALLEL_CALIBRATION),
                             (label("REF") & label("IMA"), acq_flags.PARALLEL_CALIBRATION_AND_IMAGING)):
        flags[selected] |= np.uint64(1 << (number - 1))
    return flags


def _encoding_limits(header: AcquisitionHeader, idx: dict[str, np.ndarray], echo_k: np.ndarray) -> dict:
    """The header's limits with k1/k2 ranges from ``idx`` and their centres at the readout
    nearest to the k-space centre (k1/k2 counters of the smallest echo |k|)."""
    centre = int(np.argmin(np.linalg.norm(echo_k, axis=1)))
    limits = dict(header.limits)
    for counter, limit in LIMIT_NAMES.items():
        values = idx[counter]
        limits[limit] = Limit(int(values.min()), int(values.max()), int(values[centre]))
    return limits


def _phase_matrix(header: AcquisitionHeader, limits: dict) -> AcquisitionHeader:
    """``header`` with k1/k2 matrices (encoded and recon) that hold the lines, the limit centre
    at n // 2 (:func:`grid_size`), where the header's are too small."""
    encoded, recon = list(header.encoded_matrix), list(header.recon_matrix)
    for axis, name in ((1, "kspace_encoding_step_1"), (2, "kspace_encoding_step_2")):
        limit = limits[name]
        needed = grid_size(limit.minimum - limit.center, limit.maximum - limit.center)
        if needed > encoded[axis]:
            encoded[axis] = recon[axis] = needed
    return replace(header, encoded_matrix=tuple(encoded), recon_matrix=tuple(recon))


def assign_readouts(heads: np.ndarray, header: AcquisitionHeader, readouts: SeqReadouts,
                    source: str | Path) -> tuple[np.ndarray, AcquisitionHeader, np.ndarray]:
    """Match the acquisitions of raw data ``source`` to the ADC events of ``readouts``.

    Returns ``(heads, header, adc)``: ``adc`` (acquisition,) is the ADC event of each
    acquisition (-1 for noise scans). The ``.seq`` file places the readouts: the k1/k2
    counters of a Cartesian trajectory come from its phase-encoding moments (not from LIN/PAR
    labels, which need not follow k), and ``header`` gets their limits and a matrix that holds
    them; the other counters and the flags come from the labels when the data's counters do
    not tell the readouts apart, else they are the data's; ``center_sample`` is the sample at
    k = 0. Raises :class:`HarmoniqError` when the numbers of readouts or of samples differ.
    """
    is_noise = acq_flags.has_flag(heads["flags"], acq_flags.NOISE)
    rows = np.flatnonzero(~is_noise)
    if rows.size != len(readouts):
        raise HarmoniqError(f"{source}: {rows.size} readouts (acquisitions other than noise scans) but "
                            f"{readouts.source} plays {len(readouts)} ADC events; give the .seq file the data "
                            "were acquired with (or the complete raw data)")
    n_samples = heads["number_of_samples"][rows].astype(np.int64)
    wrong = np.flatnonzero(n_samples != readouts.samples)
    if wrong.size:
        first = int(wrong[0])
        raise HarmoniqError(f"{source}: readout {first} has {n_samples[first]} samples but ADC event {first} of "
                            f"{readouts.source} has {readouts.samples[first]} ({wrong.size} readouts differ); give "
                            "the .seq file the data were acquired with")
    adc = np.full(len(heads), -1, np.int64)
    adc[rows] = np.arange(rows.size)
    echo_k = readouts.echo_k_per_m()
    cartesian = readouts.is_cartesian(header)
    labels = {name: values for name, values in readouts.labels.items()
              if not (cartesian and name in ("LIN", "PAR"))}
    idx = counters(labels, echo_k, readouts.grid_fov_m(header), "cartesian" if cartesian else "other")
    slices_from_seq = "SLC" not in readouts.labels and np.ptp(heads["idx"]["slice"][rows]) == 0
    if slices_from_seq:
        idx["slice"] = slice_numbers(readouts.slice_position_m)
    from_labels = not counters_vary(heads[rows])
    heads = heads.copy()
    for name, values in idx.items():
        if from_labels or (cartesian and name in LIMIT_NAMES) or (slices_from_seq and name == "slice"):
            heads["idx"][name][rows] = values
    if from_labels:
        heads["flags"][rows] |= _label_flags(readouts.labels, rows.size)
    heads["center_sample"][rows] = readouts.echo_samples()
    if not (from_labels or cartesian):
        return heads, header, adc
    limits = _encoding_limits(header, idx, echo_k)
    header = replace(header, limits=limits)
    return heads, _phase_matrix(header, limits) if cartesian else header, adc


@dataclass
class NonCartesianKSpace(KSpace):
    """Readouts along a non-Cartesian trajectory, sorted into frames.

    ``data`` (repetition, set, phase, contrast, slice, coil, 1, readout, sample) holds each
    frame's readouts in acquisition order; ``k_per_m`` (repetition, set, phase, contrast,
    slice, 1, readout, sample, 3) the k-space position (x, y, z) of every sample, cycles/m.
    The image grid is the header's recon space: :attr:`grid_shape` is its (z, y, x) matrix.
    """

    k_per_m: np.ndarray | None = None

    @property
    def grid_shape(self) -> tuple[int, int, int]:
        """(z, y, x) matrix of the reconstructed image (the header's recon space)."""
        return tuple(int(n) for n in self.header.recon_matrix[::-1])

    @property
    def voxel_size_m(self) -> tuple[float, float, float]:
        """(dz, dy, dx) of the recon space (dz: slice spacing of 2D multi-slice data)."""
        dz = super().voxel_size_m[0]
        (fx, fy, fz), (nx, ny, nz) = self.header.recon_fov_m, self.header.recon_matrix
        return (float(dz if nz == 1 else fz / nz), float(fy / ny), float(fx / nx))
