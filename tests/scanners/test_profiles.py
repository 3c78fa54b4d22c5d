"""Scanner profiles: the six shipped files, a user's own file, and every kind of bad file."""

from pathlib import Path

import pytest

from harmoniq.errors import HarmoniqError
from harmoniq.scanners import list_profiles, load_profile

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

SHIPPED = Path(__file__).parents[2] / "harmoniq" / "scanners" / "profiles"

# Vendor datasheet gradient figures (T/m, T/m/s) as stated in each file's [sources].
GRADIENTS = {
    "siemens-prisma-3t": (0.080, 200.0),
    "siemens-sola-1.5t": (0.045, 200.0),
    "ge-premier-3t": (0.070, 200.0),
    "ge-signa-artist-1.5t": (0.045, 200.0),
    "philips-ingenia-elition-3t": (0.045, 200.0),
    "philips-ingenia-1.5t": (0.045, 200.0),
}


def test_six_shipped_profiles():
    assert list_profiles() == sorted(GRADIENTS)


@pytest.mark.parametrize("name", sorted(GRADIENTS))
def test_shipped_profile_values_and_sources(name):
    profile = load_profile(name)
    assert profile.name == name == profile.path.stem
    assert (profile.limits.max_grad, profile.limits.max_slew) == GRADIENTS[name]
    assert profile.field_t == (3.0 if name.endswith("3t") else 1.5)
    raw = tomllib.loads(profile.path.read_text())
    numbers = {k for k, v in raw.items() if k not in ("name", "vendor", "model", "sources")}
    assert set(profile.sources) == numbers, "every number carries its source"
    assert all(text.strip() for text in profile.sources.values())


def test_vendor_specific_values_in_si():
    prisma, premier, elition = (load_profile(n) for n in ("siemens-prisma-3t", "ge-premier-3t",
                                                           "philips-ingenia-elition-3t"))
    assert prisma.vendor == "Siemens" and premier.vendor == "GE" and elition.vendor == "Philips"
    assert prisma.limits.grad_raster_time == 1e-5 and prisma.limits.adc_raster_time == 1e-7
    assert prisma.limits.labels_must_be_initialised and not prisma.limits.trid_segments
    assert prisma.limits.adc_samples_limit == 8192 and prisma.limits.max_rf_freq_offset == 250e3
    assert premier.limits.grad_raster_time == 4e-6 and premier.limits.rf_raster_time == 2e-6
    assert premier.limits.adc_raster_time == 2e-6 and premier.limits.block_duration_raster == 4e-6
    assert premier.limits.trid_segments
    # pge2 documents neither an ADC sample limit nor a frequency-offset limit, nor padding in the block
    assert premier.limits.adc_samples_limit is None and premier.limits.max_rf_freq_offset is None
    assert (premier.limits.rf_dead_time, premier.limits.rf_ringdown_time, premier.limits.adc_dead_time) == (0, 0, 0)


def test_philips_timing_is_labelled_as_assumption():
    for name in ("philips-ingenia-elition-3t", "philips-ingenia-1.5t"):
        sources = load_profile(name).sources
        for key in ("grad_raster_us", "rf_raster_us", "adc_raster_us", "block_raster_us", "rf_dead_time_us",
                    "rf_ringdown_time_us", "adc_dead_time_us"):
            assert "assumption" in sources[key], (name, key)


def _user_file(tmp_path, edit=None, drop=(), add="") -> Path:
    text = (SHIPPED / "ge-premier-3t.toml").read_text()
    lines = [line for line in text.splitlines() if not any(line.startswith(f"{k} ") for k in drop)]
    text = "\n".join(lines)
    if edit:
        text = text.replace(*edit)
    head, sources = text.split("\n[sources]\n", 1)
    path = tmp_path / "site.toml"
    path.write_text(head + "\n" + add + "\n[sources]\n" + sources)
    return path


def test_user_profile_by_path(tmp_path):
    path = _user_file(tmp_path, edit=('name = "ge-premier-3t"', 'name = "site-a"'))
    path.write_text(path.read_text().replace("max_grad_mT_per_m = 70.0", "max_grad_mT_per_m = 50"))
    profile = load_profile(path)
    assert profile.name == "site-a" and profile.path == path
    assert profile.limits.max_grad == 0.05
    assert load_profile(str(path)).limits == profile.limits


@pytest.mark.parametrize(
    "kwargs, words",
    [
        (dict(add="max_gradient = 3\n"), ["unknown key", "'max_gradient'"]),
        (dict(drop=("rf_raster_us",)), ["missing key", "'rf_raster_us'"]),
        (dict(edit=("max_slew_T_per_m_per_s = 200.0", 'max_slew_T_per_m_per_s = "fast"')),
         ["'max_slew_T_per_m_per_s'", "must be a number"]),
        (dict(add="adc_samples_limit = 8192.5\n"), ["'adc_samples_limit'", "must be an integer"]),
        (dict(edit=("trid_segments = true", "trid_segments = 1")), ["'trid_segments'", "true or false"]),
        (dict(edit=("grad_raster_us = 4.0", "grad_raster_us = 0")), ["'grad_raster_us'", "positive"]),
        (dict(edit=("adc_dead_time_us = 0.0", "adc_dead_time_us = -40.0")), ["'adc_dead_time_us'", "zero or positive"]),
        (dict(add="segment_tail_gap_us = 117.0\n"), ["unknown key", "'segment_tail_gap_us'"]),
        (dict(edit=('model = "SIGNA Premier"', 'model = ""')), ["'model'", "non-empty string"]),
        (dict(edit=("\n[sources]\n", '\n[sources]\nwarp_factor = "x"\n')), ["sources", "'warp_factor'"]),
        (dict(edit=("field_strength_T = 3.0", "field_strength_T = ")), ["not valid TOML"]),
    ],
)
def test_bad_profile_file(tmp_path, kwargs, words):
    path = _user_file(tmp_path, **kwargs)
    with pytest.raises(HarmoniqError) as error:
        load_profile(path)
    message = str(error.value)
    assert str(path) in message
    for word in words:
        assert word in message


def test_unknown_name_and_missing_file(tmp_path):
    with pytest.raises(HarmoniqError, match="unknown.*siemens-prisma-3t"):
        load_profile("siemens-terra-7t")
    with pytest.raises(HarmoniqError, match="does not exist"):
        load_profile(tmp_path / "nowhere.toml")
