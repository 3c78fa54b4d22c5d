"""Write simulated raw data as an ISMRMRD v1 HDF5 file (the format a real site sends).

Noise scans come first (flag 19), then one acquisition per ADC event in playing order with
its idx counters, flags, sample time, geometry and, for non-Cartesian data, its nominal
trajectory (what the scanner believes it played, without gradient delays, in the logical
read/phase/slice axes) in units of 1/FOV (k times the field of view). Geometry comes from the
simulation's prescription: ``read_dir``, ``phase_dir``, ``slice_dir`` (unit vectors) and
``position`` (centre of the slice or slab excited last, mm), all in patient coordinates LPS.
The header's user parameter ``HarmoniqStage`` = ``simulate`` marks the file as ours: an
existing file without it is not replaced unless ``force``. The file is built in memory and then
written atomically (HDF5 reports a full disk only as errors it cannot raise): an error never
leaves a partial file.

>>> from harmoniq.simulation import simulate                       # doctest: +SKIP
>>> write_ismrmrd("raw.h5", simulate("gre.seq", "nist", "siemens-prisma-3t"))
"""

from __future__ import annotations

import io
import os

import h5py
import ismrmrd
import numpy as np

from harmoniq.atomic import STAGE_KEY, output_files
from harmoniq.io.ismrmrd_encoding import (build_header, centre_sample, counters, echo_k, grid_size, reach_matrix,
                                           trajectory_fov_m, trajectory_kind)
from harmoniq.io.raw_formats import mrd2_bytes
from harmoniq.simulation.prescription import excited_slices, slice_numbers

STAGE = "simulate"
"""The stage recorded in the header of simulated raw data."""
TIME_STAMP_TICK_S = 2.5e-3
"""ISMRMRD time stamps count 2.5 ms ticks (the Siemens convention the converters keep)."""

_FLAG_LABELS = {"NAV": ismrmrd.ACQ_IS_NAVIGATION_DATA, "REV": ismrmrd.ACQ_IS_REVERSE,
                "NOISE": ismrmrd.ACQ_IS_NOISE_MEASUREMENT}


def geometry(raw) -> dict:
    """Encoded and recon matrix/FOV (x, y, z) from the .seq definitions, else, for a Cartesian
    trajectory, from its k steps and extent (:func:`trajectory_fov_m`: FOV = 1 / dk, matrix
    :func:`grid_size` of the k / dk range along phase axes) and, for 2D, the excited slice
    thickness (:func:`~harmoniq.simulation.prescription.excited_slices`), else from the phantom;
    the readout matrix is the sample count, except for a non-Cartesian trajectory, whose matrix is
    the one its samples reach (:func:`reach_matrix`) along the axes where k varies."""
    d = raw.definitions
    n_samples = max((s.shape[1] for s in raw.signals), default=1)
    trajectory = raw.nominal_trajectory
    inferred = np.full(3, np.nan)
    if trajectory and trajectory_kind(trajectory) == "cartesian":
        inferred = trajectory_fov_m(trajectory)
    phantom_fov = np.array(raw.phantom_fov_m[::-1], dtype=float)
    thickness = excited_slices(raw.timeline)[1]
    if "FOV" not in d and not np.isfinite(inferred[2]) and np.isfinite(thickness).any():
        inferred[2] = float(np.nanmedian(thickness))  # 2D: the encoded z extent is the slice
    fov = np.ravel(d["FOV"]).astype(float) if "FOV" in d else np.where(np.isfinite(inferred), inferred, phantom_fov)
    if "Matrix" in d:
        matrix = np.ravel(d["Matrix"]).astype(int)
    else:
        matrix = np.array([n_samples, raw.phantom_shape[1], raw.phantom_shape[0]])
        if trajectory and trajectory_kind(trajectory) != "cartesian":
            reached = reach_matrix(trajectory, fov)
            matrix = np.where(reached > 1, reached, matrix)
        elif np.isfinite(inferred).any():
            echoes = np.array([echo_k(k) for k in trajectory])
            for axis in (1, 2):
                if np.isfinite(inferred[axis]):
                    lines = np.round(echoes[:, axis] * fov[axis]).astype(np.int64)
                    matrix[axis] = grid_size(int(lines.min()), int(lines.max()))
    encoded = matrix.copy()
    encoded_fov = fov.copy()
    if n_samples > matrix[0]:  # readout oversampling
        encoded[0] = n_samples
        encoded_fov[0] = fov[0] * n_samples / matrix[0]
    return {"encoded_matrix": encoded, "encoded_fov_m": encoded_fov, "recon_matrix": matrix, "recon_fov_m": fov}


def write_ismrmrd(path: str | os.PathLike, raw, dataset: str = "dataset", *, force: bool = False,
                  container: str = "ismrmrd") -> None:
    """Write ``raw`` (:class:`harmoniq.simulation.SimulatedRaw`) to ``path`` atomically, as
    ISMRMRD v1 HDF5 (``container`` 'ismrmrd') or MRD v2 ('mrd2', :func:`~harmoniq.io.raw_formats.mrd2_bytes`).

    Raises HarmoniqError when ``path`` holds a file the simulator did not write (unless ``force``)
    or the disk refuses the write.
    """
    timeline = raw.timeline
    trajectory = raw.nominal_trajectory
    geo = geometry(raw)
    kind = trajectory_kind(trajectory)
    k_echo = np.array([echo_k(k) for k in trajectory]) if trajectory else np.zeros((0, 3))
    idx = counters(timeline.labels, k_echo, geo["recon_fov_m"], kind)
    if "SLC" not in timeline.labels and len(trajectory):
        idx["slice"] = slice_numbers(timeline.slice_position_m)
    header = build_header(raw, geo, idx, kind, k_echo)
    header.userParameters.userParameterString.append(ismrmrd.xsd.userParameterStringType(name=STAGE_KEY, value=STAGE))
    n_coils = raw.scanner.coils.channels
    buffer = io.BytesIO()
    with ismrmrd.Dataset(buffer, dataset, mode="w") as file:
        file.write_xml_header(header.toXML("utf-8"))
        counter = 0
        for scan in raw.noise_scans:
            acq = _acquisition(scan, raw.noise_dwell_s, counter, raw.prescription.rotation)
            acq.setFlag(ismrmrd.ACQ_IS_NOISE_MEASUREMENT)
            file.append_acquisition(acq)
            counter += 1
        flags = _flags(timeline.labels, idx, len(raw.signals))
        for i, (signal, readout) in enumerate(zip(raw.signals, timeline.readouts)):
            acq = _acquisition(signal, readout.dwell_s, counter, raw.prescription.rotation,
                               trajectory=trajectory[i] * geo["recon_fov_m"] if kind != "cartesian" else None)
            head = acq.getHead()
            head.flags = int(flags[i])
            head.acquisition_time_stamp = int(round(readout.start_s / TIME_STAMP_TICK_S))
            head.center_sample = centre_sample(trajectory[i]) if kind == "cartesian" else 0
            head.position[:] = [float(v) * 1e3 for v in timeline.slice_position_m[i]]
            for name, values in idx.items():
                setattr(head.idx, name, int(values[i]))
            head.available_channels = n_coils
            acq.setHead(head)
            file.append_acquisition(acq)
            counter += 1
    content = buffer.getbuffer()
    if container == "mrd2":
        with h5py.File(buffer, "r") as handle:
            table = handle[dataset]["data"]
            xml = handle[dataset]["xml"][0]
            content = mrd2_bytes(xml.decode() if isinstance(xml, bytes) else xml, table.fields("head")[...],
                                 table.fields("data")[...])
    with output_files(path, stage=STAGE, force=force) as (tmp,):
        tmp.write_bytes(content)


def _acquisition(samples: np.ndarray, dwell_s: float, counter: int, rotation: np.ndarray,
                 trajectory=None) -> ismrmrd.Acquisition:
    """One acquisition; ``rotation`` (3, 3) has the read, phase and slice directions as columns."""
    n_coils, n_samples = samples.shape
    dims = 0 if trajectory is None else 3
    acq = ismrmrd.Acquisition.from_array(np.ascontiguousarray(samples, dtype=np.complex64),
                                         None if trajectory is None else trajectory.astype(np.float32))
    head = acq.getHead()
    head.scan_counter = counter
    head.sample_time_us = float(dwell_s) * 1e6
    head.active_channels = n_coils
    head.available_channels = n_coils
    head.trajectory_dimensions = dims
    head.read_dir[:], head.phase_dir[:], head.slice_dir[:] = (rotation[:, i].tolist() for i in range(3))
    acq.setHead(head)
    return acq


def _flags(labels: dict, idx: dict, n: int) -> np.ndarray:
    """Acquisition flag words: label flags plus first/last in slice and last in measurement."""
    flags = np.zeros(n, dtype=np.uint64)

    def set_flag(mask, number):
        flags[mask] |= np.uint64(1 << (number - 1))

    for label, number in _FLAG_LABELS.items():
        if label in labels and len(labels[label]) == n:
            set_flag(np.asarray(labels[label]) > 0, number)
    if "REF" in labels and len(labels["REF"]) == n:
        reference = np.asarray(labels["REF"]) > 0
        imaging = np.asarray(labels["IMA"]) > 0 if "IMA" in labels else np.zeros(n, bool)
        set_flag(reference & ~imaging, ismrmrd.ACQ_IS_PARALLEL_CALIBRATION)
        set_flag(reference & imaging, ismrmrd.ACQ_IS_PARALLEL_CALIBRATION_AND_IMAGING)
    if n:
        slices = idx["slice"]
        for s in np.unique(slices):
            members = np.flatnonzero(slices == s)
            set_flag(members[:1], ismrmrd.ACQ_FIRST_IN_SLICE)
            set_flag(members[-1:], ismrmrd.ACQ_LAST_IN_SLICE)
        set_flag(np.array([n - 1]), ismrmrd.ACQ_LAST_IN_MEASUREMENT)
    return flags
