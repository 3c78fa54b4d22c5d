"""Encoding description of simulated raw data: counters, trajectory type, ISMRMRD header.

Counters come from the .seq labels (``Sequence.evaluate_labels(evolution='adc')``):
LIN -> kspace_encode_step_1, PAR -> kspace_encode_step_2, SLC -> slice, ECO -> contrast,
SET -> set, REP -> repetition, AVG -> average, PHS -> phase, SEG -> segment. A Cartesian
file without LIN/PAR labels gets them from its k-space: the phase-encoding moment at the
echo sample divided by its grid spacing. The trajectory is "cartesian" when every readout
moves along the same single axis with the same constant step, "radial" when every readout
is a straight line, "other" otherwise.
"""

from __future__ import annotations

import ismrmrd
import numpy as np

from harmoniq.simulation.prescription import MIN_K_SPACING, echo_k, echo_position, encoding_axes

LABEL_COUNTERS = {"LIN": "kspace_encode_step_1", "PAR": "kspace_encode_step_2", "SLC": "slice",
                  "ECO": "contrast", "SET": "set", "REP": "repetition", "AVG": "average", "PHS": "phase",
                  "SEG": "segment"}
LIMIT_NAMES = {"kspace_encode_step_1": "kspace_encoding_step_1",
               "kspace_encode_step_2": "kspace_encoding_step_2"}


def trajectory_kind(k_list) -> str:
    """'cartesian', 'radial' or 'other' from the absolute k (J, 3) of every readout."""
    if not k_list:
        return "cartesian"
    moving, steps, straight = set(), set(), True
    for k in k_list:
        if k.shape[0] < 3:
            continue
        d = np.diff(k, axis=0)
        scale = max(np.abs(d).max(), 1e-9)
        straight &= bool(np.abs(np.diff(d, axis=0)).max() <= 1e-3 * scale)
        axes = tuple(np.flatnonzero(np.abs(d).max(axis=0) > 1e-6 * scale))
        moving.add(axes)
        steps.add(round(float(np.abs(d).max()), 3))
    if not straight:
        return "other"
    if len(moving) == 1 and len(next(iter(moving))) == 1 and len(steps) == 1:
        return "cartesian"
    return "radial"


ECHO_TOLERANCE = 1e-3
"""Samples by which k = 0 may miss the half-way point between two samples and still count as
half-way (``calculate_kspace`` rounding), so that such readouts all get the same centre sample."""


def centre_sample(k: np.ndarray) -> int:
    """ISMRMRD ``center_sample`` of a readout: the sample at k = 0, the later one (N / 2 for a
    symmetric even readout) when k = 0 lies half-way between two, clipped to the readout."""
    position = echo_position(k)[2]
    if not np.isfinite(position):
        return 0
    return int(np.clip(np.floor(position + 0.5 + ECHO_TOLERANCE), 0, len(k) - 1))


def trajectory_fov_m(k_list) -> np.ndarray:
    """(x, y, z) field of view a Cartesian trajectory implies, 1 / dk in m: dk is the sample
    step along the readout axis and the smallest spacing of the echo k values (rounded to
    1e-3 cycles/m) along the others; NaN along an axis where k does not vary. Undersampled
    data (every R-th line) give FOV / R: such files need their ``FOV`` definition."""
    read = int(np.argmax(np.ptp(k_list[0], axis=0)))
    fov = np.full(3, np.nan)
    fov[read] = 1.0 / float(np.median([abs(echo_position(k)[1]) for k in k_list]))
    echoes = np.array([echo_k(k) for k in k_list])
    for axis in {0, 1, 2} - {read}:
        gaps = np.diff(np.unique(np.round(echoes[:, axis], 3)))
        gaps = gaps[gaps > MIN_K_SPACING]
        if gaps.size:
            fov[axis] = 1.0 / float(gaps.min())
    return fov


def reach_matrix(k_list, fov_m) -> np.ndarray:
    """(x, y, z) image matrix a non-Cartesian trajectory reaches on the field of view ``fov_m``
    (m): the even 2 round(max |k| FOV) along each axis where k reaches beyond half a cycle per
    FOV, 1 elsewhere (readout oversampling and ramp samples add samples, not matrix)."""
    reach = np.abs(np.concatenate(list(k_list))).max(axis=0) * np.asarray(fov_m, dtype=float)
    return np.array([max(2, 2 * int(round(r))) if r > 0.5 else 1 for r in reach], dtype=np.int64)


def grid_size(lowest: int, highest: int) -> int:
    """Matrix n of a phase-encoding axis whose lines run from ``lowest`` to ``highest`` (k in
    units of 1/FOV): 1 for a single line, else the even n whose grid -n/2 .. n/2 - 1 holds them,
    2 max(-lowest, highest + 1) (a partial-Fourier side is zero-filled), except that one line at
    +n/2 above an otherwise symmetric set (highest = 1 - lowest, e.g. k from +N/2 down to
    -N/2 + 1) is left out rather than widening the grid, as a sample at +N/2 of a readout is."""
    if lowest == highest:
        return 1
    if highest == 1 - lowest:
        return 2 * highest
    return 2 * max(-lowest, highest + 1)


def counters(labels: dict, k_echo: np.ndarray, fov_m, trajectory: str) -> dict[str, np.ndarray]:
    """ISMRMRD idx counters (name -> int array per readout) from labels, else from k-space."""
    n = k_echo.shape[0]
    out = {name: np.asarray(labels[label], dtype=np.int64) for label, name in LABEL_COUNTERS.items()
           if label in labels and len(labels[label]) == n}
    if trajectory == "cartesian" and n:
        for axis, name in phase_axes(k_echo):
            if name not in out:
                step = 1.0 / fov_m[axis]
                index = np.round(k_echo[:, axis] / step).astype(np.int64)
                out[name] = index - index.min()
    for name in LABEL_COUNTERS.values():
        out.setdefault(name, np.zeros(n, dtype=np.int64))
    return out


def phase_axes(k_echo: np.ndarray):
    """(axis, counter) of the phase (most distinct k values) and partition axes
    (:func:`~harmoniq.simulation.prescription.encoding_axes`, the simulator's rule)."""
    return list(zip(encoding_axes(k_echo), ("kspace_encode_step_1", "kspace_encode_step_2")))


def centre_counter(values: np.ndarray, k_echo_axis: np.ndarray) -> int:
    """Counter value of the readout nearest to the k-space centre along its encoding axis."""
    return int(values[np.argmin(np.abs(k_echo_axis))]) if values.size else 0


def _limit(values: np.ndarray, centre: int | None = None) -> ismrmrd.xsd.limitType:
    lo, hi = (int(values.min()), int(values.max())) if values.size else (0, 0)
    return ismrmrd.xsd.limitType(minimum=lo, maximum=hi, center=int((lo + hi + 1) // 2 if centre is None else centre))


def _space(matrix, fov_m) -> ismrmrd.xsd.encodingSpaceType:
    return ismrmrd.xsd.encodingSpaceType(
        matrixSize=ismrmrd.xsd.matrixSizeType(x=int(matrix[0]), y=int(matrix[1]), z=int(matrix[2])),
        fieldOfView_mm=ismrmrd.xsd.fieldOfViewMm(x=float(fov_m[0]) * 1e3, y=float(fov_m[1]) * 1e3,
                                                 z=float(fov_m[2]) * 1e3))


def _as_list(value) -> list[float]:
    return [float(v) for v in np.ravel(value)] if value is not None else []


def build_header(raw, geometry: dict, idx: dict, trajectory: str, k_echo: np.ndarray) -> ismrmrd.xsd.ismrmrdHeader:
    """The ISMRMRD header of simulated raw data (times in ms, lengths in mm, as the schema wants)."""
    scanner, d = raw.scanner, raw.definitions
    limits = {}
    for name, values in idx.items():
        field = LIMIT_NAMES.get(name, name)
        centre = None
        if name in ("kspace_encode_step_1", "kspace_encode_step_2"):
            axes = dict((c, a) for a, c in phase_axes(k_echo)) if k_echo.size else {}
            centre = centre_counter(values, k_echo[:, axes[name]]) if name in axes else None
        limits[field] = _limit(values, centre)
    limits["kspace_encoding_step_0"] = _limit(np.array([0, geometry["encoded_matrix"][0] - 1]))
    encoding = ismrmrd.xsd.encodingType(
        encodedSpace=_space(geometry["encoded_matrix"], geometry["encoded_fov_m"]),
        reconSpace=_space(geometry["recon_matrix"], geometry["recon_fov_m"]),
        encodingLimits=ismrmrd.xsd.encodingLimitsType(**limits),
        trajectory=ismrmrd.xsd.trajectoryType(trajectory))
    sequence = ismrmrd.xsd.sequenceParametersType(
        TR=[v * 1e3 for v in _as_list(d.get("TR"))], TE=[v * 1e3 for v in _as_list(d.get("TE"))],
        TI=[v * 1e3 for v in _as_list(d.get("TI"))], flipAngle_deg=_as_list(d.get("FlipAngle")),
        sequence_type=str(d["Name"]) if "Name" in d else None)
    user = ismrmrd.xsd.userParametersType()
    mapped = {"TR", "TE", "TI", "FlipAngle", "Name", "FOV", "Matrix"}
    for key in sorted(set(d) - mapped):
        values = np.ravel(d[key])
        if values.size == 1 and isinstance(values[0], (int, float, np.number)):
            user.userParameterDouble.append(ismrmrd.xsd.userParameterDoubleType(name=key, value=float(values[0])))
        else:
            user.userParameterString.append(ismrmrd.xsd.userParameterStringType(
                name=key, value=" ".join(str(v) for v in values)))
    provenance = {"SimulatedScanner": scanner.name, "SimulatedPhantom": raw.phantom_name,
                  "SimulationSeed": "none" if raw.seed is None else str(raw.seed),
                  "SimulationNote": "simulated by harmoniq; scanner imperfections are models, not measurements",
                  "TrajectoryUnits": "k times FOV (cycles per field of view)"}
    for key, value in provenance.items():
        user.userParameterString.append(ismrmrd.xsd.userParameterStringType(name=key, value=value))
    return ismrmrd.xsd.ismrmrdHeader(
        measurementInformation=ismrmrd.xsd.measurementInformationType(
            patientPosition=ismrmrd.xsd.patientPositionType("HFS"),
            protocolName=str(d["Name"]) if "Name" in d else None),
        acquisitionSystemInformation=ismrmrd.xsd.acquisitionSystemInformationType(
            systemVendor=scanner.vendor, systemModel=scanner.model,  # simulated: SimulatedScanner above
            systemFieldStrength_T=float(scanner.field_t), receiverChannels=int(scanner.coils.channels),
            institutionName="harmoniq simulation"),
        experimentalConditions=ismrmrd.xsd.experimentalConditionsType(
            H1resonanceFrequency_Hz=int(round(scanner.larmor_hz))),
        encoding=[encoding], sequenceParameters=sequence, userParameters=user)
