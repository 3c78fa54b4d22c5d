"""`harmoniq protocols|profiles|scanners list|show`, as text and as JSON."""

import json
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from harmoniq.cli import main

PACKAGE = Path(__file__).parents[2] / "harmoniq"
PROFILES = sorted((PACKAGE / "scanners" / "profiles").glob("*.toml"))
MODELS = sorted((PACKAGE / "simulation" / "scanners").glob("*.toml"))


def _json(*args):
    result = CliRunner().invoke(main, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.mark.parametrize("path", PROFILES, ids=lambda p: p.stem)
def test_profiles_show_gives_back_the_profile_file(path):
    """The JSON is the file itself: every key, in the file's units, with its sources."""
    assert _json("profiles", "show", path.stem) == tomllib.loads(path.read_text())
    text = CliRunner().invoke(main, ["profiles", "show", str(path)])
    assert text.exit_code == 0
    assert "grad_raster_us" in text.stdout and "max_slew_T_per_m_per_s" in text.stdout


@pytest.mark.parametrize("path", MODELS, ids=lambda p: p.stem)
def test_scanners_show_gives_back_the_model_file(path):
    assert _json("scanners", "show", path.stem) == tomllib.loads(path.read_text())
    text = CliRunner().invoke(main, ["scanners", "show", path.stem])
    assert text.exit_code == 0 and "[noise]" in text.stdout


def test_lists_name_every_shipped_file():
    assert [p["name"] for p in _json("profiles", "list")] == [p.stem for p in PROFILES]
    assert [m["name"] for m in _json("scanners", "list")] == [m.stem for m in MODELS]
    for listing, files in (("profiles", PROFILES), ("scanners", MODELS)):
        lines = CliRunner().invoke(main, [listing, "list"]).stdout.splitlines()
        assert [line.split()[0] for line in lines] == [p.stem for p in files]


def test_protocols_as_json():
    shipped = sorted(p.stem for p in (PACKAGE.parent / "protocols").glob("*.toml"))
    assert [p["name"] for p in _json("protocols", "list")] == shipped
    shown = _json("protocols", "show", "t1-vfa")
    written = tomllib.loads((PACKAGE.parent / "protocols" / "t1-vfa.toml").read_text())
    assert shown["requires"] == ["b1-dam"]
    assert {k: shown["parameters"][k] for k in written["parameters"]} == written["parameters"]


def test_phantoms_as_json():
    assert "nist" in [p["name"] for p in _json("phantoms", "list")]
    shown = _json("phantoms", "show", "shepp-logan", "--matrix", "16")
    assert shown["shape_zyx"] == [1, 16, 16]
    assert sum(r["voxels"] for r in shown["rois"]) <= 16 * 16


@pytest.mark.parametrize("args", [["profiles", "show", "siemens-prisma-3t-typo"], ["scanners", "show", "nope"]])
def test_unknown_names_list_the_valid_ones(args):
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ") and "siemens-prisma-3t" in result.stderr
