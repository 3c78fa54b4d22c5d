"""Protocol files: shipped library, and one clear error per kind of bad input."""

import json
import subprocess
import sys

import pytest

from harmoniq.errors import HarmoniqError
from harmoniq.protocols import ReconOptions, list_protocols, load_protocol
from harmoniq.scanners import list_profiles
from harmoniq.sequences import check_timing

REQUIRED = {"t1-irse", "t1-vfa", "b1-dam", "t2-se", "t2-mese", "gre-demo"}


def test_library_ships_the_required_protocols_for_all_scanners():
    assert REQUIRED <= set(list_protocols())
    for name in list_protocols():
        p = load_protocol(name)
        assert list(p.targets) == list_profiles() and len(p.targets) == 6
        assert len(p.description) > 100
    irse = load_protocol("t1-irse").parameters
    assert min(irse.ti_s) == 0.05 and max(irse.ti_s) == 3.0  # SI inside: ti_ms in the file, seconds in code
    assert len(load_protocol("t1-vfa").parameters.flip_rad) >= 2
    assert load_protocol("t2-mese").parameters.echoes >= 16
    assert len(load_protocol("t2-se").parameters.te_s) >= 2
    assert load_protocol("t1-vfa").requires == ("b1-dam",)


def _protocol(tmp_path, family, params, extra=""):
    body = "\n".join(f"{k} = {json.dumps(v)}" for k, v in params.items())
    path = tmp_path / "p.toml"
    path.write_text(f'name = "p"\nfamily = "{family}"\ndescription = "test"\n{extra}\n[parameters]\n{body}\n')
    return path


@pytest.mark.parametrize(
    "family, params, words",
    [
        ("gre", {"te_ms": [1.0]}, ["te_ms=1", "below the minimum", "ms"]),
        ("gre", {"tr_ms": 3.0}, ["tr_ms=3", "below the minimum"]),
        ("gre", {"flip_deg": [200.0]}, ["flip_deg=200", "out of range", "(0, 180]"]),
        ("se", {"ti_ms": [-10.0]}, ["ti_ms=-10", "out of range"]),
        ("se", {"ti_ms": [5.0]}, ["ti_ms=5", "below the minimum"]),
        ("se", {"ti_ms": [2000.0], "tr_ms": 1000.0}, ["tr_ms=1000", "below the minimum"]),
        ("mese", {"echo_spacing_ms": 3.0}, ["echo_spacing_ms=3", "below the minimum"]),
        ("gre", {"te_ms": "4"}, ["te_ms='4'", "wrong type"]),
        ("gre", {"matrix": 66}, ["matrix=66", "multiple of 4"]),
        ("gre", {"readout_dwell_us": 5.0}, ["readout_dwell_us=5", "multiple of", "2 us"]),
        ("gre", {"tr_msec": 10.0}, ["unknown parameter 'tr_msec'", "tr_ms"]),
        ("dam", {"flip_deg": [60.0, 100.0]}, ["flip_deg", "[a, 2a]"]),
    ],
)
def test_bad_protocols_fail_with_one_clear_line(tmp_path, family, params, words):
    path = _protocol(tmp_path, family, params)
    with pytest.raises(HarmoniqError) as err:
        check_timing(load_protocol(path))
    message = str(err.value)
    assert "\n" not in message
    for w in words:
        assert w in message


def test_bad_top_level_keys_and_targets(tmp_path):
    with pytest.raises(HarmoniqError, match="unknown key 'colour'"):
        load_protocol(_protocol(tmp_path, "gre", {}, extra='colour = "red"'))
    with pytest.raises(HarmoniqError, match="family='epi' is unknown"):
        load_protocol(_protocol(tmp_path, "epi", {}))
    with pytest.raises(HarmoniqError, match="target 'toshiba-9t' is not a scanner profile"):
        load_protocol(_protocol(tmp_path, "gre", {}, extra='targets = ["toshiba-9t"]'))
    with pytest.raises(HarmoniqError, match="model='t9' is unknown"):
        load_protocol(_protocol(tmp_path, "gre", {}, extra='model = "t9"'))
    with pytest.raises(HarmoniqError, match="requires 'b2-map', which is not a protocol"):
        load_protocol(_protocol(tmp_path, "gre", {}, extra='requires = ["b2-map"]'))
    with pytest.raises(HarmoniqError, match="not valid TOML"):
        bad = tmp_path / "bad.toml"
        bad.write_text("name = \n")
        load_protocol(bad)
    with pytest.raises(HarmoniqError, match="neither a file nor a shipped protocol"):
        load_protocol("t9-magic")


def test_cli_reports_an_infeasible_protocol_on_one_line_and_writes_nothing(tmp_path):
    path = _protocol(tmp_path, "gre", {"te_ms": [1.0]})
    out = tmp_path / "out"
    run = subprocess.run(
        [sys.executable, "-m", "harmoniq.cli", "seq", "build", str(path), "-o", str(out)],
        capture_output=True, text=True,
    )
    assert run.returncode == 2
    assert run.stderr.count("\n") == 1 and "te_ms=1 is below the minimum" in run.stderr
    assert not out.exists()


def test_site_variants_carry_protocol_changes_and_a_vendor_like_reconstruction(tmp_path):
    variant = load_protocol("t2-se").site_variant("GE")
    assert (variant.recon.filter, variant.recon.combination) == ("fermi", "rss")
    assert variant.protocol.values["te_ms"] == [10.0, 20.0, 40.0, 80.0, 160.0, 320.0]
    assert variant.protocol.parameters.te_s == pytest.approx((0.01, 0.02, 0.04, 0.08, 0.16, 0.32), rel=1e-15)
    assert load_protocol("t2-se").site_variant("unknown-vendor").recon == ReconOptions()
    for table, words in [
        ('[site_variants.ge]\nrecon_combination = "sum"', "recon_combination='sum'; valid are auto, rss"),
        ('[site_variants.ge]\nrecon_filter = "gauss"', "recon_filter='gauss'; valid are none"),
        ('[site_variants.toshiba]\ntr_ms = 10.0', "site_variants.toshiba is not a vendor"),
        ('[site_variants.ge]\ncolour = 1', "site_variants.ge.colour is not a parameter of family gre"),
    ]:
        with pytest.raises(HarmoniqError, match=words.replace("(", r"\(")):
            load_protocol(_protocol(tmp_path, "gre", {}, extra=table))
