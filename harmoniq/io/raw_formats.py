"""Raw data containers other than ISMRMRD v1 HDF5, turned into what :func:`harmoniq.io.reader.read_raw`
gives: ``(xml, heads, samples)``, the ISMRMRD v1 header XML, the acquisition headers as the
structured array of ``ismrmrd.hdf5.acquisition_header_dtype`` and the interleaved float32
samples (coil-major) of each acquisition.

- ISMRMRD v1 streams (``ismrmrd.serialization``: a uint16 message id, 3 for the XML header,
  1008 for an acquisition) are read with the ismrmrd package's ``ProtocolDeserializer``;
- MRD v2 files (the yardl binary format of ``mrd-python``, starting with ``b"yardl"``) with
  ``mrd.BinaryMrdReader``; their header becomes the v1 XML header (the same schema, with
  optional fields that stay absent) and their acquisition headers the v1 layout;
- Siemens twix ``.dat`` files (VB and VD/VE) with ``twixtools``: counters, flags and centre
  column from each scan header, the v1 header from the protocol (:func:`read_twix`). Raw data
  of a Pulseq sequence carry no counters: pass its ``.seq`` (``--seq``).

Files are told apart by their first bytes (:func:`detect_format`), not by their name.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import ismrmrd
import numpy as np
from ismrmrd.hdf5 import acquisition_header_dtype

from harmoniq.constants import GAMMA_BAR_HZ_PER_T
from harmoniq.errors import HarmoniqError

HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
MRD2_MAGIC = b"yardl"
STREAM_FIRST_IDS = (1, 2, 3)
"""ISMRMRD stream message ids a stream may start with: config file, config text, XML header
(``ismrmrd.serialization.ISMRMRDMessageID``)."""
FORMATS = "ISMRMRD v1 HDF5 (.h5), an ISMRMRD v1 stream, MRD v2 (mrd-python) or Siemens twix (.dat)"


def detect_format(path: Path) -> str:
    """'hdf5', 'mrd2' or 'stream' from the first bytes of ``path``, else 'twix' for a ``.dat``
    file (twix has no signature); a damaged file named ``.h5``/``.hdf5`` counts as HDF5 (its
    reader names what is wrong)."""
    with open(path, "rb") as handle:
        head = handle.read(8)
    if head.startswith(HDF5_MAGIC):
        return "hdf5"
    if head.startswith(MRD2_MAGIC):
        return "mrd2"
    if len(head) >= 2 and int.from_bytes(head[:2], "little") in STREAM_FIRST_IDS:
        return "stream"
    if path.suffix.lower() == ".dat":
        return "twix"
    if path.suffix.lower() in (".h5", ".hdf5"):
        return "hdf5"
    raise HarmoniqError(f"{path}: not a raw data format harmoniq reads (first bytes {head[:8].hex()}); give "
                        f"{FORMATS}")


def _xml(header: ismrmrd.xsd.ismrmrdHeader) -> str:
    xml = header.toXML("utf-8")
    return xml.decode() if isinstance(xml, bytes) else xml


def _table(acquisitions: list[tuple[np.ndarray, np.ndarray]]):
    """(heads, samples) from (header record, (coil, sample) complex data) pairs."""
    heads = np.zeros(len(acquisitions), acquisition_header_dtype)
    samples = np.empty(len(acquisitions), object)
    for i, (head, data) in enumerate(acquisitions):
        heads[i] = head
        samples[i] = np.ascontiguousarray(data, dtype=np.complex64).view(np.float32).ravel()
    return heads, samples


def read_stream(path: Path):
    """``(xml, heads, samples)`` of an ISMRMRD v1 stream file."""
    header, acquisitions = None, []
    try:
        with ismrmrd.serialization.ProtocolDeserializer(str(path)) as stream:
            for item in stream.deserialize():
                if isinstance(item, ismrmrd.xsd.ismrmrdHeader):
                    header = item
                elif isinstance(item, ismrmrd.Acquisition):
                    head = np.frombuffer(bytes(item.getHead()), acquisition_header_dtype)[0]
                    acquisitions.append((head, item.data))
    except (ValueError, EOFError, OSError, RuntimeError) as exc:
        raise HarmoniqError(f"{path}: not a readable ISMRMRD stream ({exc}); give {FORMATS}") from exc
    if header is None:
        raise HarmoniqError(f"{path}: the ISMRMRD stream has no XML header; a stream must start with one")
    return _xml(header), *_table(acquisitions)


def read_mrd2(path: Path):
    """``(xml, heads, samples)`` of an MRD v2 file (mrd-python's binary format)."""
    import mrd

    try:
        with mrd.BinaryMrdReader(str(path)) as reader:
            header = reader.read_header()
            acquisitions = [(_v1_head(item.value), item.value.data) for item in reader.read_data()
                            if isinstance(item, mrd.StreamItem.Acquisition)]
    except Exception as exc:  # yardl raises many types on a damaged file
        raise HarmoniqError(f"{path}: not a readable MRD v2 file ({exc}); give {FORMATS}") from exc
    if header is None:
        raise HarmoniqError(f"{path}: the MRD v2 file has no header; it must start with one")
    return _xml(_v1_header(header)), *_table(acquisitions)


def _v1_head(acquisition) -> np.ndarray:
    """The v1 acquisition header record of an MRD v2 acquisition (absent optional values are 0)."""
    head, v1 = acquisition.head, np.zeros((), acquisition_header_dtype)
    v1["version"] = 1
    v1["flags"] = int(head.flags)
    v1["measurement_uid"] = head.measurement_uid
    v1["number_of_samples"], v1["active_channels"] = acquisition.data.shape[1], acquisition.data.shape[0]
    v1["available_channels"] = acquisition.data.shape[0]
    for name in ("scan_counter", "acquisition_time_stamp", "discard_pre", "discard_post", "center_sample",
                 "encoding_space_ref", "sample_time_us"):
        v1[name] = getattr(head, name) or 0
    for name in ("position", "read_dir", "phase_dir", "slice_dir", "patient_table_position"):
        v1[name] = getattr(head, name)
    for name in v1["idx"].dtype.names:
        value = getattr(head.idx, name)
        if name == "user":
            v1["idx"]["user"][:len(value)] = value
        else:
            v1["idx"][name] = value or 0
    v1["channel_mask"][:] = 0
    return v1


def _v1_space(space) -> ismrmrd.xsd.encodingSpaceType:
    m, f = space.matrix_size, space.field_of_view_mm
    return ismrmrd.xsd.encodingSpaceType(matrixSize=ismrmrd.xsd.matrixSizeType(x=m.x, y=m.y, z=m.z),
                                         fieldOfView_mm=ismrmrd.xsd.fieldOfViewMm(x=f.x, y=f.y, z=f.z))


def _v1_limits(limits) -> ismrmrd.xsd.encodingLimitsType:
    out = {}
    for name in ("kspace_encoding_step_0", "kspace_encoding_step_1", "kspace_encoding_step_2", "average", "slice",
                 "contrast", "phase", "repetition", "set", "segment"):
        limit = getattr(limits, name, None)
        if limit is not None:
            out[name] = ismrmrd.xsd.limitType(minimum=limit.minimum, maximum=limit.maximum, center=limit.center)
    return ismrmrd.xsd.encodingLimitsType(**out)


def _v1_header(header) -> ismrmrd.xsd.ismrmrdHeader:
    """The v1 XML header with what an MRD v2 header says (encodings, field, system, timing)."""
    encodings = [ismrmrd.xsd.encodingType(encodedSpace=_v1_space(e.encoded_space), reconSpace=_v1_space(e.recon_space),
                                          encodingLimits=_v1_limits(e.encoding_limits),
                                          trajectory=ismrmrd.xsd.trajectoryType(e.trajectory.name.lower()))
                 for e in header.encoding]
    system = header.acquisition_system_information
    sequence = header.sequence_parameters
    conditions = ismrmrd.xsd.experimentalConditionsType(
        H1resonanceFrequency_Hz=int(header.experimental_conditions.h1resonance_frequency_hz))
    return ismrmrd.xsd.ismrmrdHeader(
        experimentalConditions=conditions, encoding=encodings,
        acquisitionSystemInformation=None if system is None else ismrmrd.xsd.acquisitionSystemInformationType(
            systemVendor=system.system_vendor, systemModel=system.system_model,
            systemFieldStrength_T=system.system_field_strength_t, receiverChannels=system.receiver_channels),
        sequenceParameters=None if sequence is None else ismrmrd.xsd.sequenceParametersType(
            TR=list(sequence.t_r), TE=list(sequence.t_e), TI=list(sequence.t_i),
            flipAngle_deg=list(sequence.flip_angle_deg)))


TWIX_FLAGS = {"NOISEADJSCAN": ismrmrd.ACQ_IS_NOISE_MEASUREMENT, "REFLECT": ismrmrd.ACQ_IS_REVERSE,
              "PHASCOR": ismrmrd.ACQ_IS_PHASECORR_DATA, "RTFEEDBACK": ismrmrd.ACQ_IS_RTFEEDBACK_DATA,
              "HPFEEDBACK": ismrmrd.ACQ_IS_HPFEEDBACK_DATA}
"""twix evaluation flags -> ISMRMRD flag numbers, as ``siemens_to_ismrmrd`` maps them; PATREFSCAN
is parallel calibration (20), with PATREFANDIMASCAN calibration and imaging (21)."""
TWIX_COUNTERS = {"Lin": "kspace_encode_step_1", "Par": "kspace_encode_step_2", "Sli": "slice", "Eco": "contrast",
                 "Ave": "average", "Phs": "phase", "Rep": "repetition", "Set": "set", "Seg": "segment"}


def read_twix(path: Path):
    """``(xml, heads, samples)`` of a Siemens twix file (VB or VD/VE, read with twixtools):
    the last measurement of the file (the imaging one of a multi-raid file); its noise
    adjustment scans, imaging and calibration lines; the header from the protocol (``MeasYaps``:
    dwell time, Larmor frequency, slice FOV and thickness, base resolution, TR/TE/flip)."""
    import twixtools

    from harmoniq.io import flags as acq_flags

    try:
        with contextlib.redirect_stdout(io.StringIO()):  # twixtools prints its notes
            scan = twixtools.read_twix(str(path), verbose=False, parse_pmu=False, parse_geometry=False)[-1]
        prot = scan["hdr"]["MeasYaps"]
    except Exception as exc:  # twixtools raises many types on a damaged file
        raise HarmoniqError(f"{path}: not a readable Siemens twix file ({exc}); give {FORMATS}") from exc
    dwell_us = float(prot["sRXSPEC"]["alDwellTime"][0]) * 1e-3
    acquisitions = []
    for mdb in scan["mdb"]:
        if not (mdb.is_image_scan() or mdb.is_flag_set("NOISEADJSCAN") or mdb.is_flag_set("PATREFSCAN")):
            continue
        head, mdh = np.zeros((), acquisition_header_dtype), mdb.mdh
        data = np.atleast_2d(mdb.data)
        head["version"], head["scan_counter"] = 1, mdh.ScanCounter
        head["number_of_samples"], head["active_channels"] = data.shape[1], data.shape[0]
        head["available_channels"], head["center_sample"] = data.shape[0], mdh.CenterCol
        head["sample_time_us"] = dwell_us
        for twix, name in TWIX_COUNTERS.items():
            head["idx"][name] = getattr(mdh.Counter, twix)
        for twix, number in TWIX_FLAGS.items():
            if mdb.is_flag_set(twix):
                head["flags"] |= np.uint64(1 << (number - 1))
        if mdb.is_flag_set("PATREFSCAN"):
            number = (acq_flags.PARALLEL_CALIBRATION_AND_IMAGING if mdb.is_flag_set("PATREFANDIMASCAN")
                      else acq_flags.PARALLEL_CALIBRATION)
            head["flags"] |= np.uint64(1 << (number - 1))
        head["read_dir"], head["phase_dir"], head["slice_dir"] = np.eye(3)
        acquisitions.append((head, data))
    if not acquisitions:
        raise HarmoniqError(f"{path}: the twix file holds no imaging or noise scans")
    return _xml(_twix_header(prot, acquisitions)), *_table(acquisitions)


def _twix_header(prot: dict, acquisitions) -> ismrmrd.xsd.ismrmrdHeader:
    """The v1 header of a twix measurement: Siemens, its Larmor frequency and field, the slice's
    field of view (readout FOV doubled for the usual 2x readout oversampling when the lines are
    twice the base resolution), the counters' limits, TR/TE (us in the protocol)/flip."""
    frequency = int(prot["sTXSPEC"]["asNucleusInfo"][0]["lFrequency"])
    space = prot["sSliceArray"]["asSlice"][0]
    base = int(prot["sKSpace"]["lBaseResolution"])
    lines = int(prot["sKSpace"].get("lPhaseEncodingLines", base))
    noise = np.uint64(1 << (ismrmrd.ACQ_IS_NOISE_MEASUREMENT - 1))
    samples = max((int(data.shape[1]) for head, data in acquisitions if not head["flags"] & noise), default=base)
    fov = [float(space["dReadoutFOV"]), float(space["dPhaseFOV"]), float(space["dThickness"])]
    heads = np.array([head for head, _ in acquisitions])
    limits = {}
    for name, counter in (("kspace_encoding_step_1", "kspace_encode_step_1"),
                          ("kspace_encoding_step_2", "kspace_encode_step_2"), ("slice", "slice")):
        values = heads["idx"][counter]
        limits[name] = ismrmrd.xsd.limitType(minimum=int(values.min()), maximum=int(values.max()),
                                             center=int(prot["sKSpace"].get("lCenterLine", lines // 2))
                                             if name == "kspace_encoding_step_1" else int(values.max() + 1) // 2)
    encoded = ismrmrd.xsd.encodingSpaceType(matrixSize=ismrmrd.xsd.matrixSizeType(x=samples, y=lines, z=1),
                                            fieldOfView_mm=ismrmrd.xsd.fieldOfViewMm(
                                                x=fov[0] * samples / base, y=fov[1], z=fov[2]))
    recon = ismrmrd.xsd.encodingSpaceType(matrixSize=ismrmrd.xsd.matrixSizeType(x=base, y=lines, z=1),
                                          fieldOfView_mm=ismrmrd.xsd.fieldOfViewMm(x=fov[0], y=fov[1], z=fov[2]))
    encoding = ismrmrd.xsd.encodingType(encodedSpace=encoded, reconSpace=recon,
                                        encodingLimits=ismrmrd.xsd.encodingLimitsType(**limits),
                                        trajectory=ismrmrd.xsd.trajectoryType("cartesian"))
    return ismrmrd.xsd.ismrmrdHeader(
        experimentalConditions=ismrmrd.xsd.experimentalConditionsType(H1resonanceFrequency_Hz=frequency),
        encoding=[encoding],
        acquisitionSystemInformation=ismrmrd.xsd.acquisitionSystemInformationType(
            systemVendor="Siemens", systemFieldStrength_T=frequency / GAMMA_BAR_HZ_PER_T,
            receiverChannels=int(acquisitions[0][1].shape[0])),
        sequenceParameters=ismrmrd.xsd.sequenceParametersType(
            TR=[float(v) * 1e-3 for v in prot.get("alTR", [])], TE=[float(v) * 1e-3 for v in prot.get("alTE", [])],
            flipAngle_deg=[float(v) for v in prot.get("adFlipAngleDegree", [])]))


def mrd2_bytes(xml: str, heads: np.ndarray, samples: np.ndarray) -> bytes:
    """An MRD v2 file (mrd-python's binary format) holding the v1 header ``xml`` and the
    acquisitions ``(heads, samples)`` (the inverse of :func:`read_mrd2`; trajectories are not
    carried: non-Cartesian data are sorted by their ``.seq``)."""
    import mrd

    header = ismrmrd.xsd.CreateFromDocument(xml)

    def acquisitions():
        for head, values in zip(heads, samples):
            n_coils, n_samples = int(head["active_channels"]), int(head["number_of_samples"])
            counters = mrd.EncodingCounters(**{name: int(head["idx"][name]) for name in TWIX_COUNTERS.values()},
                                            user=[int(v) for v in head["idx"]["user"]])
            v2 = mrd.AcquisitionHeader(
                flags=mrd.AcquisitionFlags(int(head["flags"])), idx=counters,
                measurement_uid=int(head["measurement_uid"]), scan_counter=int(head["scan_counter"]),
                acquisition_time_stamp=int(head["acquisition_time_stamp"]), channel_order=list(range(n_coils)),
                discard_pre=int(head["discard_pre"]), discard_post=int(head["discard_post"]),
                center_sample=int(head["center_sample"]), encoding_space_ref=int(head["encoding_space_ref"]),
                sample_time_us=float(head["sample_time_us"]),
                **{name: np.asarray(head[name], np.float32) for name in ("position", "read_dir", "phase_dir",
                                                                          "slice_dir", "patient_table_position")})
            data = np.asarray(values, np.float32).view(np.complex64).reshape(n_coils, n_samples)
            yield mrd.StreamItem.Acquisition(mrd.Acquisition(head=v2, data=data))

    buffer = io.BytesIO()
    with mrd.BinaryMrdWriter(buffer) as writer:
        writer.write_header(_v2_header(header))
        writer.write_data(acquisitions())
    return buffer.getvalue()


def _v2_header(header: ismrmrd.xsd.ismrmrdHeader):
    """The MRD v2 header of a v1 header: encodings, field, system, timing, user strings."""
    import mrd

    def space(s):
        return mrd.EncodingSpaceType(
            matrix_size=mrd.MatrixSizeType(x=s.matrixSize.x, y=s.matrixSize.y, z=s.matrixSize.z),
            field_of_view_mm=mrd.FieldOfViewMm(x=s.fieldOfView_mm.x, y=s.fieldOfView_mm.y, z=s.fieldOfView_mm.z))

    def limits(lim):
        names = ("kspace_encoding_step_0", "kspace_encoding_step_1", "kspace_encoding_step_2", "average", "slice",
                 "contrast", "phase", "repetition", "set", "segment")
        return mrd.EncodingLimitsType(**{name: mrd.LimitType(minimum=v.minimum, maximum=v.maximum, center=v.center)
                                         for name in names if (v := getattr(lim, name, None)) is not None})

    encodings = [mrd.EncodingType(encoded_space=space(e.encodedSpace), recon_space=space(e.reconSpace),
                                  encoding_limits=limits(e.encodingLimits),
                                  trajectory=mrd.Trajectory[e.trajectory.value.upper()]) for e in header.encoding]
    system, sequence = header.acquisitionSystemInformation, header.sequenceParameters
    user = header.userParameters
    return mrd.Header(
        experimental_conditions=mrd.ExperimentalConditionsType(
            h1resonance_frequency_hz=int(header.experimentalConditions.H1resonanceFrequency_Hz)),
        encoding=encodings,
        acquisition_system_information=None if system is None else mrd.AcquisitionSystemInformationType(
            system_vendor=system.systemVendor, system_model=system.systemModel,
            system_field_strength_t=system.systemFieldStrength_T, receiver_channels=system.receiverChannels),
        sequence_parameters=None if sequence is None else mrd.SequenceParametersType(
            t_r=list(sequence.TR), t_e=list(sequence.TE), t_i=list(sequence.TI),
            flip_angle_deg=list(sequence.flipAngle_deg)),
        user_parameters=None if user is None else mrd.UserParametersType(user_parameter_string=[
            mrd.UserParameterStringType(name=p.name, value=p.value) for p in user.userParameterString]))
