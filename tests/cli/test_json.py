"""`--json`: one JSON document on stdout that agrees with the files the command wrote."""

import hashlib
import json
from pathlib import Path

import nibabel as nib
import pytest
from click.testing import CliRunner

from harmoniq.cli import main


def _json(*args):
    result = CliRunner().invoke(main, [*map(str, args), "--json"])
    assert result.exit_code in (0, 1), result.output
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("json")


def test_seq_build_and_check(folder):
    built = _json("seq", "build", "b1-dam", "-o", folder / "seq")
    assert len(built) == 1 and built[0]["protocol"] == "b1-dam" and all(built[0]["checks"].values())
    seq = folder / "seq" / "b1-dam.seq"
    assert built[0]["sha256"] == hashlib.sha256(seq.read_bytes()).hexdigest()
    checked = _json("seq", "check", seq, "--profile", "ge-premier-3t,siemens-prisma-3t")
    assert sorted(checked) == ["ge-premier-3t", "siemens-prisma-3t"]


def test_simulate_recon_fit(folder):
    seq = folder / "seq" / "b1-dam.seq"
    if not seq.is_file():  # the build test may run on another worker
        _json("seq", "build", "b1-dam", "-o", folder / "seq")
    raw = _json("simulate", seq, "--phantom", "shepp-logan", "--scanner", "ge-premier-3t", "--matrix", 16,
                "--no-noise", "-o", folder / "raw.h5")
    assert raw["scanner"] == "ge-premier-3t" and raw["channels"] == 16
    image = _json("recon", folder / "raw.h5", "--filter", "hanning", "-o", folder / "b1.nii.gz")
    assert image["volumes"] == 2 == nib.load(image["image"]).shape[-1]
    provenance = json.loads((folder / "b1.json").read_text())["HarmoniqProvenance"]
    assert image["recon"]["filter"] == "hanning" == provenance["recon"]["filter"]
    maps = _json("fit", "b1-dam", folder / "b1.nii.gz", "-o", folder / "maps")
    assert any(m.endswith("_TB1map.nii.gz") for m in maps["maps"])
    grid = nib.load(image["image"]).shape[:3]
    assert all(nib.load(m).shape[:3] == grid for m in maps["maps"] if m.endswith(".nii.gz"))


def test_run(folder):
    result = _json("run", "b1-dam", "--phantom", "shepp-logan", "--scanner", "siemens-prisma-3t", "--matrix", 16,
                   "--combination", "rss", "-o", folder / "run")
    assert result["computed"] == ["seq", "simulate", "recon", "fit"]
    assert result["maps"]["B1"].endswith("derivatives/harmoniq/sub-shepplogan/ses-siemensprisma3t/fmap/"
                                         "sub-shepplogan_ses-siemensprisma3t_acq-b1dam_TB1map.nii.gz")
    assert all(nib.load(path).shape == nib.load(result["image"]).shape[:3] for path in result["maps"].values())
    sidecar = json.loads(Path(result["image"].replace(".nii.gz", ".json")).read_text())
    assert sidecar["HarmoniqProvenance"]["recon"]["coil_combination"] == "rss"
