"""Read an ISMRMRD v1 HDF5 file into a sorted :class:`~harmoniq.io.kspace.KSpace`.

The ``<group>/data`` compound dataset is read in one bulk h5py call (headers, then the
sample arrays), not one acquisition at a time. Then, in order:

1. noise scans (flag 19) give the coil noise covariance; all other data are prewhitened;
2. ``discard_pre``/``discard_post`` samples are dropped;
3. lines are placed on the encoded grid by their idx counters (``center_sample`` at k0
   index ``n0 // 2``, the encoding-limit centres at ``n // 2`` of k1 and k2); averages are
   averaged; calibration lines (flag 20) go to the calibration grid only, lines flagged
   "calibration and imaging" (21) to both; idx.user[5]/user[6], which ``siemens_to_ismrmrd``
   fills with the centre line/partition, are not used;
4. readout oversampling is removed in image space after the readout FFT (the encoded to
   recon field-of-view ratio of the header);
5. Siemens data are conjugated to our convention (:mod:`harmoniq.io.fourier`).

Raw data without usable counters (a plain converter of Pulseq data) are sorted by the
``.seq`` file they were acquired with (:mod:`harmoniq.io.seq_sorting`); so are non-Cartesian
data, whose readouts keep their trajectory (:class:`~harmoniq.io.seq_sorting.NonCartesianKSpace`).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, replace
from pathlib import Path

import h5py
import numpy as np

from harmoniq.errors import HarmoniqError
from harmoniq.io import flags as acq_flags
from harmoniq.io.epi_ghost import correct_reversed, navigator_phase
from harmoniq.io.fourier import image_to_k, k_to_image
from harmoniq.io.header import AcquisitionHeader, parse_header
from harmoniq.io.ismrmrd_encoding import ECHO_TOLERANCE, phase_axes, reach_matrix
from harmoniq.io.kspace import KSpace
from harmoniq.io.raw_formats import detect_format, read_mrd2, read_stream, read_twix
from harmoniq.io.noise import noise_covariance, prewhiten, whitening_matrix
from harmoniq.io.seq_sorting import NonCartesianKSpace, assign_readouts, counters_vary, read_seq_readouts
from harmoniq.memory import check_fits
from harmoniq.simulation.prescription import slice_numbers

SORT_COUNTERS = ("repetition", "set", "phase", "contrast", "slice", "kspace_encode_step_2",
                 "kspace_encode_step_1")
_LIMIT_NAMES = {"kspace_encode_step_1": "kspace_encoding_step_1",
                "kspace_encode_step_2": "kspace_encoding_step_2"}
CARTESIAN_TRAJECTORIES = ("cartesian", "epi")


def read_raw(path: str | Path, group: str = "dataset"):
    """Bulk read of an ISMRMRD file: ``(xml, heads, samples)``; ISMRMRD v1 streams, MRD v2 and
    Siemens twix files are converted to the same (:mod:`harmoniq.io.raw_formats`).

    ``heads`` is the structured array of all acquisition headers, ``samples`` an object
    array of float32 arrays (interleaved real/imag, coil-major).
    """
    path = Path(path)
    if not path.is_file():
        raise HarmoniqError(f"{path}: no such file; give an ISMRMRD .h5 raw data file")
    kind = detect_format(path)
    if kind == "stream":
        return read_stream(path)
    if kind == "mrd2":
        return read_mrd2(path)
    if kind == "twix":
        return read_twix(path)
    try:
        with h5py.File(path, "r") as handle:
            if group not in handle:
                raise HarmoniqError(f"{path}: no group {group!r} (found: {', '.join(handle.keys()) or 'none'}); "
                                    "pass the ISMRMRD dataset group name")
            node = handle[group]
            missing = [name for name in ("xml", "data") if name not in node]
            if missing:
                raise HarmoniqError(f"{path}: group {group!r} lacks {' and '.join(missing)}; an ISMRMRD dataset "
                                    "holds an 'xml' header and a 'data' acquisition table")
            xml = node["xml"][0]
            table = node["data"]
            heads = table.fields("head")[...]
            samples = table.fields("data")[...]
    except OSError as exc:
        raise HarmoniqError(f"{path}: not a readable HDF5 file (truncated or another format?): {exc}") from exc
    return (xml.decode() if isinstance(xml, bytes) else xml), heads, samples


def _complex_lines(samples: np.ndarray, n_coils: int, n_samples: int) -> np.ndarray:
    """Stack interleaved float32 sample arrays into (lines, coil, sample) complex64."""
    stacked = np.stack(list(samples)).astype(np.float32, copy=False)
    return stacked.view(np.complex64).reshape(len(samples), n_coils, n_samples)


def check_acquisitions(heads: np.ndarray, samples: np.ndarray, header: AcquisitionHeader, source: Path) -> int:
    """Check every acquisition against the header; return the channel count.

    Every acquisition must carry the header's ``receiverChannels`` (or, without it, the same
    count as the others), at least one sample, exactly 2 x channels x samples float32 values,
    and only finite samples.
    """
    if len(heads) == 0:
        raise HarmoniqError(f"{source}: the file holds no acquisitions; raw data need at least one imaging readout")
    channels = heads["active_channels"].astype(np.int64)
    expected = header.receiver_channels or int(np.bincount(channels).argmax())
    where = "the header's receiverChannels is" if header.receiver_channels else "the other acquisitions have"
    wrong = np.flatnonzero(channels != expected)
    if wrong.size:
        i = int(wrong[0])
        raise HarmoniqError(f"{source}: acquisition {i} has {int(channels[i])} channels, but {where} {expected}; "
                            f"every acquisition must have {expected} ({wrong.size} do not)")
    n_samples = heads["number_of_samples"].astype(np.int64)
    for i, (values, count) in enumerate(zip(samples, n_samples)):
        if count < 1 or values.size != 2 * expected * count:
            raise HarmoniqError(f"{source}: acquisition {i} holds {values.size} sample values but its header gives "
                                f"{expected} channels x {int(count)} samples; it must hold {2 * expected * int(count)} "
                                "(real, imaginary) values and at least one sample")
        if not np.isfinite(values).all():
            raise HarmoniqError(f"{source}: acquisition {i} has NaN or infinite samples; raw samples must be finite "
                                "(a corrupt or badly converted file?)")
    return expected


def _grid_index(heads, counter: str, size: int, header: AcquisitionHeader, source: Path) -> np.ndarray:
    """Grid index of each line along k1 or k2: counter - centre + size // 2; ``size`` for a
    line one cell beyond an even grid (k = +N/2, not part of -N/2 .. N/2 - 1; it is dropped)."""
    values = heads["idx"][counter].astype(np.int64)
    limit = header.limits.get(_LIMIT_NAMES[counter])
    centre = limit.center if limit is not None and limit.center > 0 else size // 2
    index = values - centre + size // 2
    if index.min() < 0 or index.max() > size or (index.max() == size and size % 2):
        raise HarmoniqError(f"{source}: idx.{counter} runs {values.min()}..{values.max()} with centre {centre}, "
                            f"which does not fit the encoded matrix size {size}; fix encodedSpace/encodingLimits")
    return index


def _noise(heads, samples, data_dwell_s: float, source: Path):
    """Coil noise covariance scaled to the imaging dwell time (None without noise scans)."""
    is_noise = acq_flags.has_flag(heads["flags"], acq_flags.NOISE)
    if not is_noise.any():
        return None, is_noise
    noise_heads, noise_samples = heads[is_noise], samples[is_noise]
    n_coils = int(noise_heads["active_channels"][0])
    lines = [_complex_lines(noise_samples[i:i + 1], n_coils, int(h["number_of_samples"]))[0]
             for i, h in enumerate(noise_heads)]
    covariance = noise_covariance(np.concatenate(lines, axis=-1), f"{source}: noise scans")
    noise_dwell_s = float(noise_heads["sample_time_us"][0]) * 1e-6
    if noise_dwell_s > 0 and data_dwell_s > 0:
        covariance = covariance * (noise_dwell_s / data_dwell_s)
    return covariance, is_noise


@dataclass(frozen=True)
class ReadoutWindow:
    """Where each line's samples go on the k0 grid, after discards.

    ``first``: first kept sample; ``start``: grid index of the first kept sample in k order,
    relative to the centre ``n0 // 2``; ``length``: kept samples; ``reverse``: the line ran
    towards -k (its kept samples are flipped); ``shift``: fractional grid offset delta of the
    samples, k = (g - n0 // 2 + delta) dk, removed by interpolation (:func:`_shift_k`).
    """

    first: np.ndarray
    start: np.ndarray
    length: np.ndarray
    reverse: np.ndarray
    shift: np.ndarray


def readout_window(heads, source: Path, echo=None) -> tuple[ReadoutWindow, int]:
    """(window of each line, smallest k0 matrix holding them all with k = 0 at n0 // 2).

    ``echo``: (position, step) of each line from the ``.seq`` trajectory
    (:meth:`~harmoniq.io.seq_sorting.SeqReadouts.echo_positions`); without it, k = 0 is at
    ``center_sample`` (N // 2 when 0) and lines flagged reverse run towards -k. The echo
    position in the kept, k-ordered samples is rounded half up as in :func:`centre_sample`.
    """
    n_samples = heads["number_of_samples"].astype(np.int64)
    pre = heads["discard_pre"].astype(np.int64)
    length = n_samples - pre - heads["discard_post"].astype(np.int64)
    if (length <= 0).any():
        raise HarmoniqError(f"{source}: a readout keeps no samples ({int(n_samples.min())} samples, discard "
                            f"{int(pre.max())}/{int(heads['discard_post'].max())}); discards must leave samples")
    if echo is None:
        centre = heads["center_sample"].astype(np.int64)
        position = np.where(centre > 0, centre, n_samples // 2).astype(float)
        reverse = acq_flags.has_flag(heads["flags"], acq_flags.REVERSE)
    else:
        position, step = echo
        reverse = step < 0
    kept = position - pre
    kept = np.where(reverse, length - 1 - kept, kept)
    rounded = np.floor(kept + 0.5 + ECHO_TOLERANCE).astype(np.int64)
    n0 = 2 * int(max(rounded.max(), (length - rounded).max(), 1))
    window = ReadoutWindow(first=pre, start=-rounded, length=length, reverse=reverse,
                           shift=np.round(rounded - kept, 3))  # 1e-3 sample: ECHO_TOLERANCE
    return window, n0


def _select(window: ReadoutWindow, select) -> ReadoutWindow:
    """The window of the lines ``select`` (boolean or index array)."""
    return ReadoutWindow(*(getattr(window, name)[select] for name in ReadoutWindow.__dataclass_fields__))


def _seq_axes(readouts) -> list[int]:
    """The logical axes (0, 1, 2 for x, y, z) of the sorted grid's k0, k1, k2: the readout
    axis, then the phase-encoding axes (:func:`phase_axes`), then the remaining axis."""
    axes = [readouts.read_axis] + [axis for axis, _ in phase_axes(readouts.echo_k_per_m())]
    return axes + [axis for axis in range(3) if axis not in axes]


def _seq_fov(header: AcquisitionHeader, readouts) -> AcquisitionHeader:
    """``header`` with the encoded (read, phase, partition) field of view of the ``.seq``
    file's Cartesian grid: 1 / (sample step) along the readout, the phase-encoding grid's
    (:meth:`~harmoniq.io.seq_sorting.SeqReadouts.grid_fov_m`) along the others, the
    recon field of view keeping its ratio to it (readout oversampling); for 2D data without
    a ``FOV`` definition, the excited slice thickness along z. Without a ``FOV`` definition in
    the file, one warning line says what the trajectory and the RF events gave."""
    fov = readouts.grid_fov_m(header)
    fov[readouts.read_axis] = 1.0 / float(np.median(np.abs(readouts.echo_positions()[1])))
    axes = _seq_axes(readouts)
    encoded_axes = len(phase_axes(readouts.echo_k_per_m())) + 1
    encoded, recon = list(header.encoded_fov_m), list(header.recon_fov_m)
    for i, axis in enumerate(axes[:encoded_axes]):
        ratio = recon[i] / encoded[i] if encoded[i] > 0 else 1.0
        encoded[i], recon[i] = float(fov[axis]), float(fov[axis]) * ratio
    thickness = readouts.slice_thickness_m
    if readouts.fov_m is None:
        what = f"{encoded_axes}D, field of view " + " x ".join(f"{v * 1e3:.1f}" for v in encoded[:encoded_axes])
        what += f" mm ({' x '.join(('read', 'phase', 'partition')[:encoded_axes])})"
        if encoded_axes == 2 and np.isfinite(thickness).any():
            encoded[2] = recon[2] = float(np.nanmedian(thickness))
            n_slices = int(slice_numbers(readouts.slice_position_m).max()) + 1
            what += f", {n_slices} slice(s) of {encoded[2] * 1e3:.2f} mm"
        warnings.warn(f"{readouts.source}: no FOV definition; from its trajectory and RF events: {what}",
                      stacklevel=3)
    return replace(header, encoded_fov_m=tuple(encoded), recon_fov_m=tuple(recon))


def _seq_timing(header: AcquisitionHeader, readouts) -> AcquisitionHeader:
    """``header`` with TE, TR and flip angle from the ``.seq`` file where the raw data's header
    has none (files from scanners or other simulators), for the image sidecar."""
    te, tr, flip = readouts.sequence_timing()
    return replace(header, te_s=header.te_s or te, tr_s=header.tr_s or tr, flip_deg=header.flip_deg or flip)


def _trajectory_matrix(header: AcquisitionHeader, readouts, k_per_m: list, source: Path) -> AcquisitionHeader:
    """``header`` with the recon grid of a non-Cartesian trajectory: the ``.seq`` file's FOV
    (else the header's recon FOV) and the header's recon matrix (the image grid; the encoded
    one may count oversampled readout samples) along the axes where it has more than one cell;
    along the others, the matrix the samples reach (:func:`reach_matrix`). One warning line
    when the trajectory reaches another matrix than the header's; encoded space alike."""
    fov = np.asarray(readouts.fov_m if readouts.fov_m is not None else header.recon_fov_m, dtype=float)
    reached = reach_matrix(k_per_m, fov)
    given = np.asarray(header.recon_matrix, dtype=np.int64)
    matrix = np.where(given > 1, given, reached)
    if (reached > 1).any() and not np.array_equal(matrix[reached > 1], reached[reached > 1]):
        warnings.warn(f"{source}: the header's recon matrix {' x '.join(map(str, given))} is used; the .seq "
                      f"trajectory reaches {' x '.join(map(str, reached))} (2 max|k| FOV)", stacklevel=3)
    matrix = tuple(int(n) for n in matrix)
    return replace(header, encoded_matrix=matrix, recon_matrix=matrix,
                   encoded_fov_m=tuple(float(f) for f in fov), recon_fov_m=tuple(float(f) for f in fov))


def _zero_filled(header: AcquisitionHeader, n0: int) -> AcquisitionHeader:
    """``header`` with an encoded (and recon) readout matrix of ``n0`` when its own is more than
    one cell per side smaller, the fields of view unchanged: asymmetric echoes are zero-filled,
    at the same k step, to the k range their longer side reaches. A sample one cell beyond the
    header's matrix (k = +N/2 of an even grid, or the -N/2 of reversed lines) is dropped."""
    old = header.encoded_matrix[0]
    if n0 <= old + 2:
        return header
    recon = max(1, int(round(header.recon_matrix[0] * n0 / old)))
    return replace(header, encoded_matrix=(n0, *header.encoded_matrix[1:]),
                   recon_matrix=(recon, *header.recon_matrix[1:]))


def _shift_k(lines: np.ndarray, shift: float) -> np.ndarray:
    """Resample lines (..., n0) from k = (g - n0 // 2 + shift) dk onto k = (g - n0 // 2) dk:
    by the shift theorem their image is m(x) exp(-i 2 pi shift dk x), undone by the opposite
    ramp, x = (i - n0 // 2) / (n0 dk)."""
    n0 = lines.shape[-1]
    ramp = np.exp(2j * np.pi * shift * (np.arange(n0) - n0 // 2) / n0)
    return image_to_k(k_to_image(lines, axes=(-1,)) * ramp, axes=(-1,)).astype(np.complex64)


def _place(lines_index, heads, samples, n_lines, n_coils, n0, whiten, conjugate, window: ReadoutWindow,
           ghost=None):
    """Sum the lines into a (n_lines, coil, n0) grid; returns (grid, count per grid line).

    ``window``: where each line's samples go (:func:`readout_window`); samples beyond the
    grid's ends are dropped. ``ghost``: (slice, n0) navigator phase multipliers for reversed
    lines (:mod:`harmoniq.io.epi_ghost`), or None.
    """
    grid = np.zeros((n_lines, n_coils, n0), np.complex64)
    count = np.zeros(n_lines, np.int64)
    keys = np.stack([heads["number_of_samples"], window.first, window.start, window.length, window.reverse,
                     window.shift], axis=1)
    for key in np.unique(keys, axis=0):
        members = np.flatnonzero((keys == key).all(axis=1))
        n_samples, first, begin, size, reverse = (int(v) for v in key[:5])
        lines = _complex_lines(samples[members], n_coils, n_samples)[..., first:first + size]
        if whiten is not None:
            lines = prewhiten(lines, whiten, coil_axis=1)
        if conjugate:
            lines = np.conj(lines)
        rows = np.zeros((len(members), n_coils, n0), np.complex64)
        low, high = n0 // 2 + begin, n0 // 2 + begin + size
        lines = (lines[..., ::-1] if reverse else lines)[..., max(0, -low):size - max(0, high - n0)]
        rows[..., max(low, 0):min(high, n0)] = lines
        if key[5]:
            rows = _shift_k(rows, float(key[5]))
        if ghost is not None and reverse:
            rows = correct_reversed(rows, ghost[heads["idx"]["slice"][members].astype(np.int64)][:, None, :])
        np.add.at(grid, lines_index[members], rows)
        np.add.at(count, lines_index[members], 1)
    return grid, count


def _ghost_phase(heads, samples, window: ReadoutWindow, n_slices: int, n_coils, n0, whiten, conjugate):
    """(slice, n0) navigator phase multipliers for the reversed lines of each slice, or None
    without navigators of both polarities (:func:`harmoniq.io.epi_ghost.navigator_phase`)."""
    if len(heads) == 0 or window.reverse.all() or not window.reverse.any():
        return None
    slices = heads["idx"]["slice"].astype(np.int64)
    if slices.max() >= n_slices:
        return None
    line = 2 * slices + window.reverse
    grid, count = _place(line, heads, samples, 2 * n_slices, n_coils, n0, whiten, conjugate, window)
    grid /= np.maximum(count, 1)[:, None, None]
    ghost = np.ones((n_slices, n0), np.complex64)
    for s in range(n_slices):
        if count[2 * s] and count[2 * s + 1]:
            ghost[s] = navigator_phase(grid[2 * s], grid[2 * s + 1])
    return ghost


def _remove_readout_oversampling(data: np.ndarray, header: AcquisitionHeader) -> np.ndarray:
    """Crop the readout to the recon field of view in image space (after the k0 FFT)."""
    n0 = data.shape[-1]
    keep = int(round(n0 * header.recon_fov_m[0] / header.encoded_fov_m[0]))
    image = k_to_image(data, axes=(-1,))
    first = n0 // 2 - keep // 2
    return np.ascontiguousarray(image_to_k(image[..., first:first + keep], axes=(-1,)).astype(np.complex64))


def _geometry(heads, n_slices: int):
    """Slice centres (slice, 3) in m and the read/phase/slice unit vectors (LPS)."""
    defaults = np.eye(3)
    dirs = []
    for name, default in zip(("read_dir", "phase_dir", "slice_dir"), defaults):
        vector = heads[name][0].astype(np.float64)
        norm = np.linalg.norm(vector)
        dirs.append(vector / norm if norm > 0 else default)
    positions = np.zeros((n_slices, 3))
    slices = heads["idx"]["slice"]
    for s in range(n_slices):
        found = np.flatnonzero(slices == s)
        if found.size:
            positions[s] = heads["position"][found[0]] * 1e-3
    return positions, dirs


def _sort_along_trajectory(heads, samples, k_per_m, header, n_coils, whiten, source):
    """Non-Cartesian readouts into (repetition, set, phase, contrast, slice, coil, 1, readout,
    sample) frames, each frame's readouts in acquisition order, and their k (..., 3) alike."""
    index = [heads["idx"][name].astype(np.int64) for name in SORT_COUNTERS[:5]]
    sizes = [int(i.max()) + 1 for i in index]
    frame = np.ravel_multi_index(index, sizes)
    per_frame = np.bincount(frame, minlength=int(np.prod(sizes)))
    pre, post = heads["discard_pre"].astype(np.int64), heads["discard_post"].astype(np.int64)
    length = heads["number_of_samples"].astype(np.int64) - pre - post
    if per_frame.min() != per_frame.max() or np.ptp(length) > 0:
        raise HarmoniqError(f"{source}: non-Cartesian frames hold {per_frame.min()}..{per_frame.max()} readouts of "
                            f"{length.min()}..{length.max()} samples; a frame (repetition, set, phase, contrast, "
                            "slice) must hold the same number of equally long readouts")
    n1, n0 = int(per_frame[0]), int(length[0])
    order = np.argsort(frame, kind="stable")
    line = np.empty_like(frame)
    line[order] = np.arange(frame.size) % n1 + frame[order] * n1
    window = ReadoutWindow(first=pre, start=np.full_like(pre, -(n0 // 2)), length=length,
                           reverse=np.zeros(len(pre), bool), shift=np.zeros(len(pre)))
    grid, _ = _place(line, heads, samples, frame.size, n_coils, n0, whiten, header.is_siemens, window)
    data = np.moveaxis(grid.reshape(*sizes, 1, n1, n_coils, n0), -2, -4)
    k_sorted = np.zeros((frame.size, n0, 3), np.float32)
    k_sorted[line] = [k[p:p + n0] for k, p in zip(k_per_m, pre)]
    return data, k_sorted.reshape(*sizes, 1, n1, n0, 3), np.ones((*sizes, 1, n1), bool)


def read_ismrmrd(path: str | Path, group: str = "dataset", *, seq: str | Path | None = None,
                 prewhiten_noise: bool = True, remove_oversampling: bool = True) -> KSpace:
    """Read and sort an ISMRMRD v1 HDF5 file.

    ``seq``: the ``.seq`` file the data were acquired with; it must play one ADC event per
    readout with the same number of samples, sorts data whose counters are unusable, and
    gives the trajectory of non-Cartesian data (then a :class:`NonCartesianKSpace` is
    returned). ``prewhiten_noise``: whiten the coils with the covariance of the noise scans
    (when the file has some; noise scans with a zero-variance channel are skipped with a
    warning); ``remove_oversampling``: crop the readout to the recon field
    of view (Cartesian data).
    """
    path = Path(path)
    xml, heads, samples = read_raw(path, group)
    header = parse_header(xml, source=str(path))
    n_coils = check_acquisitions(heads, samples, header, path)
    readouts = read_seq_readouts(seq) if seq is not None else None
    if readouts is not None:
        heads, header, adc = assign_readouts(heads, header, readouts, path)
        header = _seq_timing(header, readouts)
    elif header.trajectory not in CARTESIAN_TRAJECTORIES:
        raise HarmoniqError(f"{path}: trajectory {header.trajectory!r} is not Cartesian; pass the .seq file the "
                            "data were acquired with (--seq), whose k-space trajectory places the samples")
    non_cartesian = header.trajectory not in CARTESIAN_TRAJECTORIES or (
        readouts is not None and not readouts.is_cartesian(header))
    flags = heads["flags"]
    is_imaging = ~acq_flags.has_any_flag(flags, acq_flags.NOT_IMAGING)
    is_calibration = acq_flags.has_any_flag(flags, (acq_flags.PARALLEL_CALIBRATION,
                                                    acq_flags.PARALLEL_CALIBRATION_AND_IMAGING))
    data_dwell_s = float(heads["sample_time_us"][np.argmax(is_imaging)]) * 1e-6
    covariance, is_noise = _noise(heads, samples, data_dwell_s, path)
    usable = (is_imaging | is_calibration) & ~is_noise & (heads["encoding_space_ref"] == 0)
    if not (usable & is_imaging).any():
        raise HarmoniqError(f"{path}: no imaging acquisitions (all {len(heads)} are noise, calibration "
                            "or navigator scans)")
    if readouts is None and not counters_vary(heads[usable & is_imaging]):
        raise HarmoniqError(f"{path}: the acquisition counters (idx) are the same for all readouts, so they cannot "
                            "be sorted; pass the .seq file the data were acquired with (--seq)")
    is_navigator = acq_flags.has_flag(flags, acq_flags.NAVIGATION) & ~is_noise & (heads["encoding_space_ref"] == 0)
    navigators = (heads[is_navigator], samples[is_navigator], np.flatnonzero(is_navigator))
    heads, samples = heads[usable], samples[usable]
    is_imaging, is_calibration = is_imaging[usable], is_calibration[usable]
    whiten = None
    if covariance is not None and not np.all(np.diag(covariance).real > 0):
        dead = int(np.sum(~(np.diag(covariance).real > 0)))
        warnings.warn(f"{path}: the noise scans have zero variance in {dead} of {len(covariance)} channel(s); "
                      "they are skipped (no prewhitening, no noise covariance)", stacklevel=2)
        covariance = None
    if prewhiten_noise and covariance is not None:
        whiten = whitening_matrix(covariance, f"{path}: noise scans")
    if non_cartesian:
        imaging = np.flatnonzero(is_imaging)
        k_per_m = [readouts.k_per_m[i] for i in adc[usable][imaging]]
        if readouts is not None:
            header = _trajectory_matrix(header, readouts, k_per_m, path)
        data, k_sorted, mask = _sort_along_trajectory(heads[imaging], samples[imaging], k_per_m, header, n_coils,
                                                      whiten, path)
        positions, (read_dir, phase_dir, slice_dir) = _geometry(heads, data.shape[4])
        return NonCartesianKSpace(data=data, mask=mask, header=header, slice_position_m=positions,
                                  read_dir=read_dir, phase_dir=phase_dir, slice_dir=slice_dir,
                                  noise_covariance=covariance, prewhitened=whiten is not None, k_per_m=k_sorted)

    echo = nav_echo = None
    if readouts is not None:
        position, step = readouts.echo_positions()
        echo = (position[adc[usable]], step[adc[usable]])
        nav_echo = (position[adc[navigators[2]]], step[adc[navigators[2]]])
        header = _seq_fov(header, readouts)
    window, n0_needed = readout_window(heads, path, echo)
    header = _zero_filled(header, n0_needed)
    n0, n1, n2 = header.encoded_matrix
    sizes = [int(heads["idx"][name].max()) + 1 for name in SORT_COUNTERS[:5]] + [n2, n1]
    index = [heads["idx"][name].astype(np.int64) for name in SORT_COUNTERS[:5]]
    index += [_grid_index(heads, name, size, header, path) for name, size in zip(SORT_COUNTERS[5:], (n2, n1))]
    inside = (index[5] < n2) & (index[6] < n1)
    if not inside.all():
        index = [i[inside] for i in index]
        heads, samples, window = heads[inside], samples[inside], _select(window, inside)
        is_imaging, is_calibration = is_imaging[inside], is_calibration[inside]
    n_lines = int(np.prod(sizes, dtype=np.float64))
    check_fits(n_lines * n_coils * n0 * np.dtype(np.complex64).itemsize * (2 + is_calibration.any()),
               f"{path}: sorting onto a grid of {n_lines} lines x {n_coils} channels x {n0} samples",
               "check the header's encodedSpace matrix and the acquisitions' idx counters")
    line = np.ravel_multi_index(index, sizes)
    crop_readout = remove_oversampling and header.recon_fov_m[0] < header.encoded_fov_m[0]
    ghost = None
    if len(navigators[0]):
        ghost = _ghost_phase(navigators[0], navigators[1], readout_window(navigators[0], path, nav_echo)[0], sizes[4],
                             n_coils, n0, whiten, header.is_siemens)

    def sorted_grid(select):
        grid, count = _place(line[select], heads[select], samples[select], n_lines, n_coils, n0, whiten,
                             header.is_siemens, _select(window, select), ghost)
        grid /= np.maximum(count, 1)[:, None, None]
        data = np.moveaxis(grid.reshape(*sizes, n_coils, n0), -2, -4)
        if crop_readout:
            data = _remove_readout_oversampling(data, header)
        return data, (count > 0).reshape(sizes)

    data, mask = sorted_grid(is_imaging)
    calibration = calibration_mask = None
    if is_calibration.any():
        calibration, calibration_mask = sorted_grid(is_calibration)
    positions, directions = _geometry(heads, sizes[4])
    if readouts is not None:  # the grid's k0, k1, k2 run along the .seq's readout and phase axes
        directions = [directions[axis] for axis in _seq_axes(readouts)]
    read_dir, phase_dir, slice_dir = directions
    return KSpace(data=data, mask=mask, header=header, slice_position_m=positions, read_dir=read_dir,
                  phase_dir=phase_dir, slice_dir=slice_dir, calibration=calibration,
                  calibration_mask=calibration_mask, noise_covariance=covariance, prewhitened=whiten is not None,
                  readout_oversampling_removed=crop_readout)
