"""TE, TR, TI measured from each built file's own blocks, and its k-space coverage by label."""

import numpy as np
import pytest
from conftest import built

from harmoniq.sequences.timing import measure_timing

RASTER = 20e-6  # harmonized gradient raster (s)


def test_echo_inversion_and_repetition_times_match_the_protocol(shipped):
    p, info = shipped.protocol.parameters, shipped.info
    tl = measure_timing(shipped.seq)
    te = tl.echo_times()
    if shipped.protocol.family == "mese":
        expected_te = [(e + 1) * p.echo_spacing_s for e in range(p.echoes)]
    else:
        expected_te = list(p.te_s)
    measured_te = np.unique(np.round(te / 1e-6)) * 1e-6
    assert len(measured_te) == len(expected_te)
    np.testing.assert_allclose(measured_te, expected_te, atol=RASTER)

    inversions = tl.rf_time[[u == "inversion" for u in tl.rf_use]]
    if getattr(p, "ti_s", ()):
        ti, expected_ti = tl.inversion_times(), p.ti_s
        if shipped.protocol.family == "mp2rage":  # TI is that of each block's centre-partition excitation
            ti = ti[info.matrix[2] // 2::info.matrix[2]]
        if shipped.protocol.family == "molli":  # each image's centre line, at ti_ms[j] + k RR
            ti, expected_ti = ti[info.matrix[0] // 2::info.matrix[0]], sorted(info.ti_s)
        np.testing.assert_allclose(np.unique(np.round(ti / 1e-6)) * 1e-6, expected_ti, atol=RASTER)
        tr = np.diff(inversions)
        if shipped.protocol.family == "molli":  # TR: the gradient echoes of a single-shot image
            tr = np.diff(tl.excitation_times())
            tr = tr[tr < 1.5 * p.tr_s]
    else:
        assert len(inversions) == 0
        exc = tl.excitation_times()
        tr = np.diff(exc)
        if shipped.protocol.family in ("gre", "dam"):
            # consecutive excitations within a flip-angle set (dummies included) are one TR apart
            tr = tr[np.abs(tr - info.tr_s) < 0.5 * info.tr_s]
    assert len(tr) > 0
    if shipped.protocol.family == "afi":  # TR1 and TR2 = n TR1 alternate
        np.testing.assert_allclose(tr[1::2], p.tr_ratio * p.tr_s, atol=RASTER)
        tr = tr[0::2]
    np.testing.assert_allclose(tr, p.tr_s, atol=RASTER)


def test_kspace_visits_every_line_of_every_contrast_once_at_its_label(shipped):
    seq, info = shipped.seq, shipped.info
    nx, ny, nz = info.matrix
    k_adc = seq.calculate_kspace()[0]  # (3, samples) in 1/m
    labels = seq.evaluate_labels(evolution="adc")
    n_adc = len(labels["LIN"])
    k = k_adc.reshape(3, n_adc, nx)
    dk_x, dk_y = 1 / info.fov_m[0], 1 / info.fov_m[1]
    # readout: sample i at (i - n/2) dk, every readout
    np.testing.assert_allclose(k[0] / dk_x, np.broadcast_to(np.arange(nx) - nx // 2, (n_adc, nx)), atol=1e-3)
    # phase encode constant along the readout and equal to the LIN label's line
    np.testing.assert_allclose(k[1] / dk_y, np.repeat((labels["LIN"] - ny // 2)[:, None], nx, 1), atol=1e-3)
    if nz > 1:
        dk_z = 1 / info.fov_m[2]  # partitions span the slab
        np.testing.assert_allclose(k[2, :, nx // 2] / dk_z, labels["PAR"] - nz // 2, atol=1e-3)
    keys = np.stack([labels[c] for c in ("SET", "ECO", "SLC", "PAR", "LIN")], axis=1)
    assert len(np.unique(keys, axis=0)) == n_adc  # no line twice
    n_contrasts = len(np.unique(labels["SET"])) * len(np.unique(labels["ECO"]))
    assert n_adc == n_contrasts * info.n_slices * ny * nz  # every line once


@pytest.mark.parametrize("name", ["t1-irse", "t2-se"])
def test_spin_echo_refocusing_phase_alternates_line_by_line(name):
    """0, 180 deg by LIN parity: the echo (2 phi) is unchanged, the 180's FID moves to the FOV edge."""
    seq = built(name).seq
    phases = [seq.get_block(b).rf.phase_offset for b in seq.block_events
              if seq.get_block(b).rf is not None and getattr(seq.get_block(b).rf, "use", "") == "refocusing"]
    lines = seq.evaluate_labels(evolution="adc")["LIN"]
    assert len(phases) == len(lines)  # one refocusing pulse per readout
    np.testing.assert_allclose(np.mod(phases, 2 * np.pi), np.pi * (lines % 2), atol=1e-9)
