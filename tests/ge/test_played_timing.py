"""Played timing: GE adds 12 us + 105 us to every segment instance (pge2 ``opts.m``:
segment_dead_time, segment_ringdown_time), so TR plays longer there; the sidecar lists the
played TR/TE/TI per vendor, and a VFA fit of GE raw data uses the TR its header records."""

import json
import warnings

import ismrmrd
import numpy as np
import pytest

from harmoniq.fitting.bids import fit_files
from harmoniq.io.nifti import read_map, write_image_series
from harmoniq.io.reader import read_ismrmrd
from harmoniq.protocols import load_protocol
from harmoniq.recon.reconstruct import reconstruct
from harmoniq.scanners import check
from harmoniq.sequences.export import build, export

INSTANCE_OVERHEAD_S = 12e-6 + 105e-6  # pge2 opts.m: segment_dead_time + segment_ringdown_time


def _built(name):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return build(load_protocol(name))


@pytest.mark.parametrize("name, within", [("t1-vfa", False), ("gre-demo", False), ("b1-dam", True),
                                          ("t1-irse", True), ("t2-se", True), ("t2-mese", True)])
def test_ge_plays_every_tr_one_instance_overhead_longer(name, within):
    """One segment instance per TR: +117 us; within 0.1 % of the protocol's TR only for long TRs
    (15 ms + 117 us is +0.78 %; no single file plays 15.000 ms on GE and on Siemens at once)."""
    played = check(_built(name).seq, "ge-premier-3t").interpreter
    tr = load_protocol(name).parameters.tr_s
    assert played["tr_s"] == pytest.approx(tr, abs=1e-9)
    assert played["played_tr_s"] == pytest.approx(tr + INSTANCE_OVERHEAD_S, abs=1e-9)
    assert (abs(played["played_tr_s"] / tr - 1) <= 1e-3) == within
    # excitation, refocusing, inversion and readouts of one TR share an instance: TE and TI play as written
    assert played["played_te_s"] == played["te_s"] and played["played_ti_s"] == played["ti_s"]


def test_sidecar_lists_the_played_timing_per_vendor(tmp_path):
    _, sidecar = export(load_protocol("t1-vfa"), tmp_path)
    played = json.loads(sidecar.read_text())["played_timing"]
    assert set(played) == {"GE", "Siemens", "Philips"}
    assert played["Siemens"]["tr_s"] == played["Philips"]["tr_s"] == pytest.approx(15e-3)
    assert played["GE"]["tr_s"] == pytest.approx(15e-3 + INSTANCE_OVERHEAD_S)
    assert played["GE"]["te_s"] == played["Siemens"]["te_s"]


def _spgr(flip_rad, tr_s, t1_s):
    e1 = np.exp(-tr_s / t1_s)
    return np.sin(flip_rad) * (1 - e1) / (1 - e1 * np.cos(flip_rad))


def _ge_raw(path, tr_played_s, t1_s, header_tr_s, n=8):
    """ISMRMRD raw data of a uniform object played with TR ``tr_played_s`` and a header that records
    ``header_tr_s``; two SETs at 3 and 20 deg, each line the 2D FFT row of a constant image."""
    flips = [3.0, 20.0]
    header = ismrmrd.xsd.ismrmrdHeader(experimentalConditions=ismrmrd.xsd.experimentalConditionsType(
        H1resonanceFrequency_Hz=127_728_000))
    space = lambda: ismrmrd.xsd.encodingSpaceType(  # noqa: E731
        matrixSize=ismrmrd.xsd.matrixSizeType(x=n, y=n, z=1),
        fieldOfView_mm=ismrmrd.xsd.fieldOfViewMm(x=200.0, y=200.0, z=5.0))
    limits = ismrmrd.xsd.encodingLimitsType(
        kspace_encoding_step_0=ismrmrd.xsd.limitType(minimum=0, maximum=n - 1, center=n // 2),
        kspace_encoding_step_1=ismrmrd.xsd.limitType(minimum=0, maximum=n - 1, center=n // 2),
        set=ismrmrd.xsd.limitType(minimum=0, maximum=1, center=0))
    header.encoding.append(ismrmrd.xsd.encodingType(encodedSpace=space(), reconSpace=space(), encodingLimits=limits,
                                                    trajectory=ismrmrd.xsd.trajectoryType("cartesian")))
    header.acquisitionSystemInformation = ismrmrd.xsd.acquisitionSystemInformationType(
        systemVendor="GE", receiverChannels=1, systemFieldStrength_T=3.0)
    header.sequenceParameters = ismrmrd.xsd.sequenceParametersType(
        TR=[header_tr_s * 1e3], TE=[4.0], flipAngle_deg=flips)
    dataset = ismrmrd.Dataset(str(path), "dataset", create_if_needed=True)
    dataset.write_xml_header(header.toXML("utf-8"))
    counter = 0
    for s, flip in enumerate(flips):
        k = np.fft.fftshift(np.fft.fft2(np.fft.ifftshift(np.full((n, n), _spgr(np.radians(flip), tr_played_s, t1_s)))))
        for line in range(n):
            acq = ismrmrd.Acquisition.from_array(k[line][None, :].astype(np.complex64))
            acq.scan_counter = counter
            acq.idx.kspace_encode_step_1 = line
            acq.idx.set = s
            acq.center_sample = n // 2
            acq.sample_time_us = 10.0
            acq.read_dir[:] = [1, 0, 0]
            acq.phase_dir[:] = [0, 1, 0]
            acq.slice_dir[:] = [0, 0, 1]
            dataset.append_acquisition(acq)
            counter += 1
    dataset.close()


def _fitted_t1(folder, tr_played_s, t1_s, header_tr_s):
    folder.mkdir()
    _ge_raw(folder / "ge.h5", tr_played_s, t1_s, header_tr_s)
    series = reconstruct(read_ismrmrd(folder / "ge.h5"))
    image = write_image_series(series, folder / "vfa.nii.gz", inputs={"raw": folder / "ge.h5"})
    image = image[0] if isinstance(image, (list, tuple)) else image
    maps = fit_files("t1-vfa", image, folder / "maps")
    t1_map = next(p for p in maps if p.name.endswith("_T1map.nii.gz"))
    values, _ = read_map(t1_map, series.spatial_shape, "T1 map")
    return float(np.median(values))


def test_vfa_fit_of_ge_raw_data_uses_the_played_tr(tmp_path):
    """GE raw data record the played 15.117 ms: the fit finds the true T1. Had the raw data (or
    the fit) kept the nominal 15 ms, T1 would come out 0.78 % low (T1 scales with TR)."""
    played_tr = check(_built("t1-vfa").seq, "ge-premier-3t").interpreter["played_tr_s"]
    t1 = 1.0
    assert _fitted_t1(tmp_path / "played", played_tr, t1, played_tr) == pytest.approx(t1, rel=1e-3)
    nominal = _fitted_t1(tmp_path / "nominal", played_tr, t1, 15e-3)
    assert nominal == pytest.approx(t1 * 15e-3 / played_tr, rel=1e-3) and nominal < t1 * (1 - 5e-3)


def test_seq_check_json_reports_segments_stimulation_and_played_timing(tmp_path):
    from click.testing import CliRunner

    from harmoniq.cli import main

    seq_path, _ = export(load_protocol("gre-demo"), tmp_path)
    result = CliRunner().invoke(main, ["seq", "check", str(seq_path), "--profile", "ge-premier-3t", "--json"])
    assert result.exit_code == 0, result.output
    played = json.loads(result.stdout)["ge-premier-3t"]["interpreter"]
    assert [(s["trid"], s["n_instances"]) for s in played["segments"]] == [(100, 1), (2, 20), (1, 64)]
    assert set(played["pns_percent"]) == {"hrmw", "xrm"} and 0 < max(played["pns_percent"].values()) <= 80
    assert played["played_tr_s"] == pytest.approx(10e-3 + INSTANCE_OVERHEAD_S)
    assert played["played_te_s"] == played["te_s"] and played["played_ti_s"] == []
