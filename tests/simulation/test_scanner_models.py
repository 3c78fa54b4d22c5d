"""The shipped simulated scanners: models named like the hardware profiles, clearly different."""

import numpy as np
import pytest

from harmoniq.errors import HarmoniqError
from harmoniq.simulation import list_scanner_models, load_scanner_model
from harmoniq.simulation.scanner_model import _models_folder

PROFILES = ["ge-premier-3t", "ge-signa-artist-1.5t", "philips-ingenia-1.5t", "philips-ingenia-elition-3t",
            "siemens-prisma-3t", "siemens-sola-1.5t"]


def _grid():
    axis = np.linspace(-0.09, 0.09, 19)
    zz, yy, xx = np.meshgrid([0.0], axis, axis, indexing="ij")
    return np.stack([xx, yy, zz], axis=-1)


def test_six_models_named_like_the_profiles_state_they_are_models():
    assert list_scanner_models() == sorted(PROFILES + ["ideal-3t"])  # ideal-3t: tests/physics/test_ideal_scanner.py
    for name in PROFILES:
        text = (_models_folder() / f"{name}.toml").read_text()
        assert "not measurements of one installed scanner" in text  # sources per number: test_scanner_models_sources
        model = load_scanner_model(name)
        assert model.profile == name and model.field_t == (3.0 if name.endswith("3t") else 1.5)


def test_imperfections_are_plausible_and_different():
    grid = _grid()
    b1_spread, b0_maps = {}, {}
    for name in PROFILES:
        model = load_scanner_model(name)
        b1 = model.b1_scale(grid)[np.hypot(grid[..., 0], grid[..., 1]) <= 0.08]  # a head-sized disc
        assert 0.7 < b1.min() and b1.max() < 1.3
        b1_spread[name] = b1.max() - b1.min()
        b0_maps[name] = model.b0_hz(grid)
        assert np.abs(b0_maps[name]).max() < 150
        maps = model.coil_maps(grid)
        rss_centre = np.sqrt((np.abs(maps[:, 0, 9, 9]) ** 2).sum())
        assert rss_centre == pytest.approx(1.0, rel=1e-6)
        covariance = model.noise_covariance(10e-6)
        assert np.linalg.eigvalsh(covariance).min() > 0
        assert 1e-6 <= max(abs(d) for d in model.gradient_delays_s) <= 10e-6
    assert min(b1_spread[n] for n in PROFILES if n.endswith("3t")) > 2 * max(
        b1_spread[n] for n in PROFILES if n.endswith("1.5t"))
    for a in PROFILES:
        for b in PROFILES:
            if a < b:
                assert np.abs(b0_maps[a] - b0_maps[b]).max() > 5


def test_noise_scales_with_bandwidth():
    model = load_scanner_model("ge-premier-3t")
    assert np.allclose(model.noise_covariance(5e-6), 2 * model.noise_covariance(10e-6))


def test_unknown_and_malformed_models(tmp_path):
    with pytest.raises(HarmoniqError, match="choose one of"):
        load_scanner_model("no-such-scanner")
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\nvendor = "v"\nmodel = "m"\nfield_strength_T = 3.0\n[b1]\n[receive]\nchannels = 3\n'
                   'rings = 2\narray_radius_mm = 1\nloop_radius_mm = 1\n[noise]\nstd_at_100khz = 1\n'
                   'neighbour_correlation = 0.1\n')
    with pytest.raises(HarmoniqError, match="multiple of rings"):
        load_scanner_model(bad)


@pytest.mark.parametrize("vendor,flag,ok", [("Siemens", "true", True), ("Siemens", "false", False),
                                            ("GE", "true", False), ("Philips", "false", True), ("GE", None, True)])
def test_conjugation_follows_the_vendor_as_the_reader_does(tmp_path, vendor, flag, ok):
    """The reader conjugates raw data whose vendor names Siemens (harmoniq.io.header); a scanner
    file stating otherwise would give images rotated by 180 deg, so it is refused."""
    path = tmp_path / "model.toml"
    path.write_text(f'name = "x"\nvendor = "{vendor}"\nmodel = "m"\nfield_strength_T = 3.0\n'
                    + (f"raw_data_conjugated = {flag}\n" if flag else "")
                    + '[b1]\n[receive]\nchannels = 1\narray_radius_mm = 200\nloop_radius_mm = 100\n'
                    '[noise]\nstd_at_100khz = 1\nneighbour_correlation = 0.1\n')
    if ok:
        assert load_scanner_model(path).raw_data_conjugated == (vendor == "Siemens")
    else:
        with pytest.raises(HarmoniqError, match="conjugated for Siemens only"):
            load_scanner_model(path)
