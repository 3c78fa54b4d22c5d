"""Sorting raw readouts by the .seq file: data with zeroed counters plus the .seq file read
exactly like the labelled data; mismatches are clear errors; off-grid k-space goes to NUFFT."""

import json

import ismrmrd
import nibabel as nib
import numpy as np
import pypulseq as pp
import pytest
import sigpy
from click.testing import CliRunner

from harmoniq.cli import main
from harmoniq.errors import HarmoniqError
from harmoniq.io.fourier import image_to_k, k_to_image
from harmoniq.io.reader import read_ismrmrd
from harmoniq.io.reference_tools import nrmse
from harmoniq.io.seq_sorting import NonCartesianKSpace, read_seq_readouts
from harmoniq.protocols import load_protocol
from harmoniq.sequences.export import export

DWELL_US = 20.0
MESE_TOML = """
name = "t2-mese-small"
family = "mese"
description = "t2-mese with a reduced matrix and echo train"
targets = ["siemens-prisma-3t"]
model = "t2-mese"
requires = []

[parameters]
matrix = 32
fov_mm = 250.0
slice_thickness_mm = 6.0
readout_dwell_us = 20.0
echo_spacing_ms = 10.0
echoes = 4
tr_ms = 200.0
"""


def _coil_images(n: int, echo_decay: np.ndarray) -> np.ndarray:
    """(echo, coil, y, x): a Shepp-Logan with a smooth phase, two smooth coils, decaying per echo."""
    y, x = (np.mgrid[:n, :n] - n // 2) / n
    image = sigpy.shepp_logan((n, n)) * np.exp(1j * (0.8 * x - 0.5 * y))
    maps = np.stack([np.exp(-((x - 0.3) ** 2 + y**2)), np.exp(-((x + 0.3) ** 2 + y**2)) * 1j])
    return (echo_decay[:, None, None, None] * image * maps).astype(np.complex64)


def _header(n_read: int, n: int, fov_m: float, n_echoes: int, limits: bool) -> str:
    """ISMRMRD XML: a labelled file's encoding limits, or none (a plain converter's zeros)."""
    def space(nx):
        return ismrmrd.xsd.encodingSpaceType(
            matrixSize=ismrmrd.xsd.matrixSizeType(x=nx, y=n, z=1),
            fieldOfView_mm=ismrmrd.xsd.fieldOfViewMm(x=fov_m * 1e3 * nx / n, y=fov_m * 1e3, z=6.0))

    def lim(high, centre):
        return ismrmrd.xsd.limitType(minimum=0, maximum=int(high), center=int(centre))

    ranges = dict(kspace_encoding_step_1=lim(n - 1, n // 2), contrast=lim(n_echoes - 1, 0)) if limits else {}
    encoding = ismrmrd.xsd.encodingType(
        encodedSpace=space(n_read), reconSpace=space(n), trajectory=ismrmrd.xsd.trajectoryType("cartesian"),
        encodingLimits=ismrmrd.xsd.encodingLimitsType(**ranges))
    header = ismrmrd.xsd.ismrmrdHeader(
        experimentalConditions=ismrmrd.xsd.experimentalConditionsType(H1resonanceFrequency_Hz=123_200_000),
        encoding=[encoding])
    return header.toXML("utf-8")


def _write_raw(path, readouts, header, idx=None, centre=None, noise=None):
    """ISMRMRD file: an optional noise scan, then ``readouts`` (coil, sample) in order, with
    the counters ``idx`` (name -> values) and echo samples ``centre``, or all zero."""
    with ismrmrd.Dataset(str(path), "dataset", create_if_needed=True) as dataset:
        dataset.write_xml_header(header)
        rows = [(noise, True)] if noise is not None else []
        for i, (samples, is_noise) in enumerate(rows + [(r, False) for r in readouts]):
            acq = ismrmrd.Acquisition.from_array(np.ascontiguousarray(samples, dtype=np.complex64))
            head = acq.getHead()
            head.sample_time_us = DWELL_US
            head.scan_counter = i
            readout = i - len(rows)
            if is_noise:
                head.flags = 1 << (ismrmrd.ACQ_IS_NOISE_MEASUREMENT - 1)
            elif idx is not None:
                head.center_sample = int(centre[readout])
                for name, values in idx.items():
                    setattr(head.idx, name, int(values[readout]))
            acq.setHead(head)
            dataset.append_acquisition(acq)
    return path


def _grid_samples(images, k_per_m, fov_m, echo):
    """Each readout's samples: the centred FFT of its echo's coil images at its k (on the grid)."""
    n = images.shape[-1]
    spectra = image_to_k(images, axes=(-2, -1))
    out = []
    for k, e in zip(k_per_m, echo):
        cells = np.round(k[:, :2] * fov_m).astype(int) + n // 2
        assert cells.min() >= 0 and cells.max() < n
        out.append(spectra[e][:, cells[:, 1], cells[:, 0]])
    return out


def _raw_pair(root, seq_path, n, fov_m):
    """(labelled file, file with zeroed counters, truth (echo, coil, y, x), readouts)."""
    adc = read_seq_readouts(seq_path)
    echo = adc.labels["ECO"]
    images = _coil_images(n, 0.8 ** np.arange(echo.max() + 1))
    readouts = _grid_samples(images, adc.k_per_m, fov_m, echo)
    echo_k = adc.echo_k_per_m()
    # counters of the labelled file from the k-space grid itself, not from the .seq labels
    idx = {"kspace_encode_step_1": np.round(echo_k[:, 1] * fov_m).astype(int) + n // 2, "contrast": echo}
    centre = [int(np.argmin(np.abs(k[:, 0]))) for k in adc.k_per_m]
    noise = (np.random.default_rng(1).standard_normal((2, 256, 2)) * [1, 0.5]).view(np.complex128)[..., 0]
    header = _header(n, n, fov_m, echo.max() + 1, limits=True)
    labelled = _write_raw(root / "labelled.h5", readouts, header, idx, centre, noise)
    zeroed = _write_raw(root / "zeroed.h5", readouts, _header(n, n, fov_m, 1, limits=False), noise=noise)
    return labelled, zeroed, images, readouts


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("sorting")
    (root / "mese.toml").write_text(MESE_TOML)
    out = {}
    for name, source, n in (("gre", "gre-demo", 64), ("mese", root / "mese.toml", 32)):
        seq_path, _ = export(load_protocol(source), root, ["siemens-prisma-3t"])
        folder = root / name
        folder.mkdir()
        out[name] = (seq_path, *_raw_pair(folder, seq_path, n, 0.25))
    return out


@pytest.mark.parametrize("name", ["gre", "mese"])
def test_zeroed_counters_with_seq_read_exactly_like_labelled_data(built, name):
    seq_path, labelled, zeroed, images, _ = built[name]
    reference = read_ismrmrd(labelled)
    from_seq = read_ismrmrd(zeroed, seq=seq_path)
    assert type(from_seq) is type(reference) and from_seq.data.shape == reference.data.shape
    np.testing.assert_array_equal(from_seq.data, reference.data)
    np.testing.assert_array_equal(from_seq.mask, reference.mask)
    assert from_seq.mask.all() and from_seq.prewhitened
    # and both are right: without whitening, every echo's coil images come back exactly
    unwhitened = read_ismrmrd(zeroed, seq=seq_path, prewhiten_noise=False)
    assert unwhitened.data.shape[3] == images.shape[0]
    for echo, truth in enumerate(images):
        recovered = k_to_image(unwhitened.data[0, 0, 0, echo, 0])[:, 0]
        np.testing.assert_allclose(recovered, truth, atol=1e-5 * np.abs(truth).max())


def test_cli_gives_the_identical_image(built, tmp_path):
    seq_path, labelled, zeroed, _, _ = built["mese"]
    runner = CliRunner()
    first = runner.invoke(main, ["recon", str(labelled), "-o", str(tmp_path / "labelled.nii.gz")])
    second = runner.invoke(main, ["recon", str(zeroed), "--seq", str(seq_path), "-o", str(tmp_path / "seq.nii.gz")])
    assert first.exit_code == 0 and second.exit_code == 0, first.output + second.output
    a = nib.load(tmp_path / "labelled.nii.gz").get_fdata()
    b = nib.load(tmp_path / "seq.nii.gz").get_fdata()
    assert a.shape == (32, 32, 1, 4) and np.array_equal(a, b)
    provenance = json.loads((tmp_path / "seq.json").read_text())["HarmoniqProvenance"]
    assert set(provenance["inputs"]) == {"raw", "seq"}


def test_zeroed_counters_without_seq_ask_for_it(built):
    with pytest.raises(HarmoniqError, match=r"same for all readouts.*--seq"):
        read_ismrmrd(built["gre"][2])


def _mismatched(built, tmp_path, kind):
    seq_path, _, _, _, readouts = built["gre"]
    header = _header(64, 64, 0.25, 1, limits=False)
    if kind == "count":
        return _write_raw(tmp_path / "short.h5", readouts[:-1], header), seq_path
    longer = [np.concatenate([r, r], axis=1) for r in readouts]
    return _write_raw(tmp_path / "long.h5", longer, _header(128, 64, 0.25, 1, limits=False)), seq_path


@pytest.mark.parametrize("kind, message", [("count", r"63 readouts .* 64 ADC events"),
                                           ("samples", r"readout 0 has 128 samples but ADC event 0 .* has 64")])
def test_mismatch_is_one_clear_error(built, tmp_path, kind, message):
    raw, seq_path = _mismatched(built, tmp_path, kind)
    with pytest.raises(HarmoniqError, match=message):
        read_ismrmrd(raw, seq=seq_path)
    output = tmp_path / "out.nii.gz"
    result = CliRunner().invoke(main, ["recon", str(raw), "--seq", str(seq_path), "-o", str(output)])
    assert result.exit_code == 2
    assert len(result.output.strip().splitlines()) == 1 and "ADC event" in result.output
    assert not output.exists() and not (tmp_path / "out.json").exists()


def _line_gre(path, n: int, ky_cells, fov_m: float):
    """A Pulseq GRE without labels: one x readout (k_x = -n/2 .. n/2 - 1 cells) per phase
    moment ``ky_cells`` (in units of 1/FOV), in the given order."""
    system = pp.Opts(max_grad=28, grad_unit="mT/m", max_slew=150, slew_unit="T/m/s", rf_dead_time=100e-6,
                     rf_ringdown_time=20e-6, adc_dead_time=10e-6)
    seq = pp.Sequence(system)
    rf, gz, gz_rephase = pp.make_sinc_pulse(np.deg2rad(10), duration=1e-3, slice_thickness=6e-3,
                                            time_bw_product=4, delay=system.rf_dead_time, system=system,
                                            return_gz=True)
    gx = pp.make_trapezoid("x", flat_area=n / fov_m, flat_time=n * DWELL_US * 1e-6, system=system)
    adc = pp.make_adc(n, duration=gx.flat_time, delay=gx.rise_time, system=system)
    gx_pre = pp.make_trapezoid("x", area=-gx.area / 2 - 0.5 / fov_m, duration=1e-3, system=system)
    for cells in ky_cells:
        gy = pp.make_trapezoid("y", area=cells / fov_m, duration=1e-3, system=system)
        seq.add_block(rf, gz)
        seq.add_block(gx_pre, gy, gz_rephase)
        seq.add_block(gx, adc)
        seq.add_block(pp.scale_grad(gy, -1), pp.make_trapezoid("x", area=2 * n / fov_m, system=system))
    seq.set_definition("FOV", [fov_m, fov_m, 6e-3])
    seq.write(str(path))
    return path


def test_unlabelled_centric_cartesian_file_sorted_by_its_kspace(tmp_path):
    n, fov = 32, 0.2
    centric = np.array([(i + 1) // 2 * (-1 if i % 2 else 1) for i in range(n)])  # 0, -1, 1, -2, 2, ..., -16
    seq_path = _line_gre(tmp_path / "centric.seq", n, centric, fov)
    adc = read_seq_readouts(seq_path)
    assert not adc.labels.get("LIN", np.zeros(1)).any() and adc.is_cartesian(None)
    images = _coil_images(n, np.ones(1))
    readouts = _grid_samples(images, adc.k_per_m, fov, np.zeros(n, int))
    raw = _write_raw(tmp_path / "centric.h5", readouts, _header(n, n, fov, 1, limits=False))
    kspace = read_ismrmrd(raw, seq=seq_path)
    assert kspace.header.limits["kspace_encoding_step_1"].center == n // 2
    np.testing.assert_allclose(k_to_image(kspace.data[0, 0, 0, 0, 0])[:, 0], images[0], atol=1e-5)


def test_off_grid_kspace_goes_to_nufft_and_is_recorded(tmp_path):
    n, fov = 32, 0.2
    seq_path = _line_gre(tmp_path / "shifted.seq", n, np.arange(-n // 2, n // 2) + 0.5, fov)  # half a cell off
    adc = read_seq_readouts(seq_path)
    images = _coil_images(n, np.ones(1))[0]
    coord = (np.stack(adc.k_per_m)[..., 1::-1] * fov).astype(np.float32)  # (readout, sample, (ky, kx))
    samples = np.moveaxis(sigpy.nufft(images, coord), 1, 0)  # (readout, coil, sample)
    raw = _write_raw(tmp_path / "shifted.h5", list(samples), _header(n, n, fov, 1, False))
    kspace = read_ismrmrd(raw, seq=seq_path)
    assert isinstance(kspace, NonCartesianKSpace) and kspace.data.shape == (1, 1, 1, 1, 1, 2, 1, n, n)
    output = tmp_path / "shifted.nii.gz"
    result = CliRunner().invoke(main, ["recon", str(raw), "--seq", str(seq_path), "-o", str(output), "--complex"])
    assert result.exit_code == 0, result.output
    recon = json.loads((tmp_path / "shifted.json").read_text())["HarmoniqProvenance"]["recon"]
    assert recon["method"] == "nufft" and recon["chosen_by_auto"]
    image = np.asarray(nib.load(output).dataobj).T[0]  # (y, x)
    truth = np.sqrt(np.sum(np.abs(images) ** 2, axis=0))
    assert nrmse(image, truth) < 0.02  # measured 0.007


def test_non_cartesian_grid_is_the_headers_recon_matrix(tmp_path):
    """Readouts of 28 samples (k_x reaching 14.5/FOV) on a header whose recon matrix is 32 x 32: the
    image grid is the header's, with one warning line naming the matrix the trajectory reaches."""
    n, samples, fov = 32, 28, 0.2
    seq_path = _line_gre(tmp_path / "short.seq", samples, np.arange(-n // 2, n // 2) + 0.5, fov)  # off-grid ky
    adc = read_seq_readouts(seq_path)
    images = _coil_images(n, np.ones(1))[0]
    coord = (np.stack(adc.k_per_m)[..., 1::-1] * fov).astype(np.float32)  # (readout, sample, (ky, kx))
    data = sigpy.nufft(images, coord)  # (coil, readout, sample)
    raw = _write_raw(tmp_path / "short.h5", list(np.moveaxis(data, 1, 0)), _header(samples, n, fov, 1, False))
    with pytest.warns(UserWarning) as caught:
        kspace = read_ismrmrd(raw, seq=seq_path)
    assert [str(w.message) for w in caught] == [f"{raw}: the header's recon matrix 32 x 32 x 1 is used; the .seq "
                                                "trajectory reaches 28 x 32 x 1 (2 max|k| FOV)"]
    assert kspace.grid_shape == (1, n, n) and kspace.voxel_size_m[1:] == pytest.approx((fov / n, fov / n))
    output = tmp_path / "short.nii.gz"
    result = CliRunner().invoke(main, ["recon", str(raw), "--seq", str(seq_path), "-o", str(output), "--complex",
                                       "--combination", "rss"])
    assert result.exit_code == 0, result.output
    image = np.abs(np.asarray(nib.load(output).dataobj).T[0])  # (y, x)
    reference = np.sqrt(np.sum(np.abs(sigpy.nufft_adjoint(data, coord, oshape=(2, n, n))) ** 2, axis=0))
    assert nrmse(image, reference) < 1e-4  # measured 1.6e-06: equally spaced lines get weight 1, as the reference


def test_unreadable_seq_file(built, tmp_path):
    bad = tmp_path / "notes.seq"
    bad.write_text("[VERSION]\nmajor 1\n[BLOCKS]\n1 1 2\n")
    with pytest.raises(HarmoniqError, match=r"notes.seq: \[VERSION\] lacks minor \(line 1\)"):
        read_ismrmrd(built["gre"][1], seq=bad)
