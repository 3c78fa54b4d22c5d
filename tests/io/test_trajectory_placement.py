"""Readouts placed by the .seq trajectory: k = 0 between two samples (pypulseq's example
readouts), lines running towards -k (bipolar readouts) and asymmetric echoes. The raw samples
come from sigpy's NUFFT at the exact k of the .seq file (an independent forward model), so a
misplaced or unflipped line shows as a shifted, ghosted or blurred image."""

import json

import ismrmrd
import nibabel as nib
import numpy as np
import pypulseq as pp
import pytest
import sigpy
from click.testing import CliRunner

from harmoniq.cli import main

from harmoniq.io.fourier import image_to_k, k_to_image
from harmoniq.io.ismrmrd_encoding import centre_sample
from harmoniq.io.reader import read_ismrmrd
from harmoniq.io.seq_sorting import read_seq_readouts

N, FOV_M, DWELL_S = 32, 0.2, 20e-6


def _error(image, reference) -> float:
    """Complex NRMSE: ||image - reference|| / ||reference|| (a phase ramp counts)."""
    return float(np.linalg.norm(image - reference) / np.linalg.norm(reference))


def _gre(path, samples: int, echo: int, bipolar: bool):
    """Unlabelled Pulseq GRE, one x readout of ``samples`` per line ky = -N/2 .. N/2 - 1 (in
    1/FOV); k = 0 half-way between samples ``echo - 1`` and ``echo`` (pypulseq's ADC samples
    sit at the centres of their dwell intervals); ``bipolar``: odd lines run towards -kx."""
    system = pp.Opts(max_grad=28, grad_unit="mT/m", max_slew=150, slew_unit="T/m/s", rf_dead_time=100e-6,
                     rf_ringdown_time=20e-6, adc_dead_time=10e-6)
    seq = pp.Sequence(system)
    rf, gz, gz_rephase = pp.make_sinc_pulse(np.deg2rad(10), duration=1e-3, slice_thickness=6e-3,
                                            time_bw_product=4, delay=system.rf_dead_time, system=system,
                                            return_gz=True)
    gx = pp.make_trapezoid("x", flat_area=samples / FOV_M, flat_time=samples * DWELL_S, system=system)
    adc = pp.make_adc(samples, duration=gx.flat_time, delay=gx.rise_time, system=system)
    ramp_area = (gx.area - gx.flat_area) / 2
    for line, cells in enumerate(range(-N // 2, N // 2)):
        sign = -1 if bipolar and line % 2 else 1
        gx_pre = pp.make_trapezoid("x", area=sign * (-ramp_area - echo / FOV_M), duration=1e-3, system=system)
        gy = pp.make_trapezoid("y", area=cells / FOV_M, duration=1e-3, system=system)
        seq.add_block(rf, gz)
        seq.add_block(gx_pre, gy, gz_rephase)
        seq.add_block(pp.scale_grad(gx, sign), adc)
        seq.add_block(pp.scale_grad(gy, -1), pp.make_trapezoid("x", area=2 * N / FOV_M, system=system))
    seq.set_definition("FOV", [FOV_M, FOV_M, 6e-3])
    seq.write(str(path))
    return path


def _header(n_read: int) -> str:
    """A plain converter's header: x FOV scaled with the sample count (the .seq's k step wins)."""
    space = ismrmrd.xsd.encodingSpaceType(matrixSize=ismrmrd.xsd.matrixSizeType(x=n_read, y=N, z=1),
                                          fieldOfView_mm=ismrmrd.xsd.fieldOfViewMm(x=FOV_M * 1e3 * n_read / N,
                                                                                   y=FOV_M * 1e3, z=6.0))
    encoding = ismrmrd.xsd.encodingType(encodedSpace=space, reconSpace=space,
                                        trajectory=ismrmrd.xsd.trajectoryType("cartesian"),
                                        encodingLimits=ismrmrd.xsd.encodingLimitsType())
    return ismrmrd.xsd.ismrmrdHeader(
        experimentalConditions=ismrmrd.xsd.experimentalConditionsType(H1resonanceFrequency_Hz=123_200_000),
        encoding=[encoding]).toXML("utf-8")


def _images() -> np.ndarray:
    """(coil, y, x): a Shepp-Logan with a smooth phase seen by two smooth coils."""
    y, x = (np.mgrid[:N, :N] - N // 2) / N
    image = sigpy.shepp_logan((N, N)) * np.exp(1j * (0.8 * x - 0.5 * y))
    return np.stack([image * np.exp(-((x - 0.3) ** 2 + y**2)), 1j * image * np.exp(-((x + 0.3) ** 2 + y**2))])


def _raw(path, seq_path, images, noise=None):
    """Zero-counter ISMRMRD file whose samples are the NUFFT of ``images`` at the .seq's k,
    after a noise scan ``noise`` (coil, sample) when given."""
    adc = read_seq_readouts(seq_path)
    with ismrmrd.Dataset(str(path), "dataset", create_if_needed=True) as dataset:
        dataset.write_xml_header(_header(int(adc.samples[0])))
        if noise is not None:
            acq = ismrmrd.Acquisition.from_array(noise.astype(np.complex64))
            acq.setFlag(ismrmrd.ACQ_IS_NOISE_MEASUREMENT)
            dataset.append_acquisition(acq)
        for i, k in enumerate(adc.k_per_m):
            coord = (k[:, 1::-1] * FOV_M).astype(np.float32)  # (sample, (ky, kx)) in 1/FOV
            acq = ismrmrd.Acquisition.from_array(sigpy.nufft(images, coord).astype(np.complex64))
            head = acq.getHead()
            head.sample_time_us, head.scan_counter = DWELL_S * 1e6, i
            acq.setHead(head)
            dataset.append_acquisition(acq)
    return path


@pytest.mark.parametrize("bipolar", [False, True])
def test_echo_between_samples_and_reversed_lines(tmp_path, bipolar):
    seq_path = _gre(tmp_path / "gre.seq", N, N // 2, bipolar)
    adc = read_seq_readouts(seq_path)
    assert set(adc.echo_samples()) == {N // 2}  # in acquisition order, reversed or not
    images = _images()
    kspace = read_ismrmrd(_raw(tmp_path / "gre.h5", seq_path, images), seq=seq_path)
    assert kspace.grid_shape == (1, N, N)
    recon = k_to_image(kspace.data[0, 0, 0, 0, 0])[:, 0]
    assert _error(recon, images) < 0.01  # measured 0.0057 (both; sigpy NUFFT accuracy)


def test_asymmetric_echo_is_zero_filled(tmp_path):
    samples, echo = 24, 8  # k from -7.5 to +15.5 cells: 8 samples before the echo, 16 after
    seq_path = _gre(tmp_path / "partial.seq", samples, echo, bipolar=False)
    images = _images()
    raw = _raw(tmp_path / "partial.h5", seq_path, images)
    kspace = read_ismrmrd(raw, seq=seq_path)
    assert kspace.grid_shape == (1, N, N) and kspace.voxel_size_m[1:] == pytest.approx((FOV_M / N,) * 2)
    recon = k_to_image(kspace.data[0, 0, 0, 0, 0])[:, 0]
    # reference: sigpy's adjoint NUFFT of the same samples at the .seq's k (zero-filled gridding)
    coord = np.stack([k[:, 1::-1] * FOV_M for k in read_seq_readouts(seq_path).k_per_m]).astype(np.float32)
    with ismrmrd.Dataset(str(raw), "dataset") as dataset:
        data = np.stack([dataset.read_acquisition(i).data for i in range(dataset.number_of_acquisitions())], 1)
    reference = sigpy.nufft_adjoint(data, coord, oshape=(2, N, N))
    assert _error(recon, reference) < 0.015  # measured 0.0076
    assert _error(recon, images) > 0.2  # measured 0.35: the missing k is really missing


def test_writer_centre_sample_is_the_later_sample_when_k0_falls_between():
    step = 1.0 / FOV_M
    k = np.zeros((N, 3))
    k[:, 0] = (np.arange(N) - N / 2 + 0.5) * step * (1 + 1e-7)  # calculate_kspace rounding
    assert centre_sample(k) == N // 2
    assert centre_sample(k[::-1]) == N // 2  # reversed: sample N/2 runs at k = -dk/2


@pytest.mark.parametrize("no_prewhiten", [False, True])
def test_zero_variance_noise_scan_is_skipped_with_one_line(tmp_path, no_prewhiten):
    seq_path = _gre(tmp_path / "gre.seq", N, N // 2, bipolar=False)
    noise = np.zeros((2, 64), np.complex64)
    noise[0] = np.random.default_rng(0).standard_normal(64)  # coil 1 dead: zero variance
    raw = _raw(tmp_path / "gre.h5", seq_path, _images(), noise)
    output = tmp_path / "gre.nii.gz"
    result = CliRunner().invoke(main, ["recon", str(raw), "--seq", str(seq_path), "-o", str(output),
                                       "--combination", "rss"] + ["--no-prewhiten"] * no_prewhiten)
    assert result.exit_code == 0, result.output
    warning = [line for line in result.output.splitlines() if line.startswith("warning: ") and "noise" in line]
    assert warning == [f"warning: {raw}: the noise scans have zero variance in 1 of 2 channel(s); they are "
                       "skipped (no prewhitening, no noise covariance)"]
    recon = json.loads((tmp_path / "gre.json").read_text())["HarmoniqProvenance"]["recon"]
    assert recon["prewhitened"] is False
    image = np.asarray(nib.load(output).dataobj).T[0]
    assert _error(image, np.sqrt(np.sum(np.abs(_images()) ** 2, axis=0))) < 0.01


def test_no_prewhiten_keeps_the_coils(tmp_path):
    seq_path = _gre(tmp_path / "gre.seq", N, N // 2, bipolar=False)
    noise = (np.random.default_rng(0).standard_normal((2, 256)) * [[1.0], [3.0]]).astype(np.complex64)
    raw = _raw(tmp_path / "gre.h5", seq_path, _images(), noise)
    whitened = read_ismrmrd(raw, seq=seq_path)
    plain = read_ismrmrd(raw, seq=seq_path, prewhiten_noise=False)
    assert whitened.prewhitened and not plain.prewhitened
    truth_k = image_to_k(_images(), axes=(-2, -1))
    assert _error(plain.data[0, 0, 0, 0, 0, :, 0], truth_k) < 0.01
    assert _error(whitened.data[0, 0, 0, 0, 0, :, 0], truth_k) > 0.3
    result = CliRunner().invoke(main, ["recon", str(raw), "--seq", str(seq_path), "-o", str(tmp_path / "a.nii.gz"),
                                       "--no-prewhiten"])
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "a.json").read_text())["HarmoniqProvenance"]["recon"]["prewhitened"] is False
