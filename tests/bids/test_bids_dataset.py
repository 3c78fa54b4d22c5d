"""The outputs of `harmoniq batch` and `harmoniq compare` are BIDS datasets: the BIDS schema
validator (bids-validator-deno, the reference implementation, installed with the test extras)
finds no error in the raw dataset or in the derivatives dataset, each validated on its own;
series are file collections with one scalar value per file; maps carry NIfTI units, one
affine in qform and sform, the vendor and the nominal field."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from harmoniq.protocols import load_protocol

pytestmark = pytest.mark.slow

STUDY = """name = "bids-check"
[[dataset]]
site = "site-a"
subject = "head01"
protocol = "t1-irse"
scanner = "siemens-prisma-3t"
phantom = "shepp-logan"
matrix = 32
seed = 1
[[dataset]]
site = "site-b"
subject = "head01"
protocol = "b1-dam"
scanner = "philips-ingenia-1.5t"
phantom = "shepp-logan"
matrix = 32
seed = 2
"""


def harmoniq(*args):
    done = subprocess.run([sys.executable, "-m", "harmoniq.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    return done


def validator_errors(folder: Path) -> list[str]:
    """Every error the BIDS validator reports for the dataset ``folder`` (code, file)."""
    exe = shutil.which("bids-validator-deno") or str(Path(sys.executable).with_name("bids-validator-deno"))
    done = subprocess.run([exe, "--format", "json", str(folder)], capture_output=True, text=True, timeout=300)
    report = json.loads(done.stdout)
    return [f"{i['code']} {i.get('subCode') or ''} {i.get('location', '')}" for i in report["issues"]["issues"]
            if i["severity"] == "error"]


@pytest.fixture(scope="module")
def batch_out(tmp_path_factory):
    folder = tmp_path_factory.mktemp("batch")
    (folder / "study.toml").write_text(STUDY)
    harmoniq("batch", folder / "study.toml", "--workers", "1", "-o", folder / "out")
    return folder / "out"


@pytest.fixture(scope="module")
def compare_out(tmp_path_factory):
    out = tmp_path_factory.mktemp("compare") / "out"
    harmoniq("compare", "t2-se", "--scanners", "siemens-prisma-3t,ge-premier-3t", "--variants", "none",
             "--matrix", "64", "--no-ablation", "-o", out)
    return out


@pytest.mark.parametrize("which", ["batch", "compare"])
def test_the_bids_validator_finds_no_error_in_the_raw_or_the_derivatives_dataset(which, request):
    out = request.getfixturevalue(f"{which}_out")
    assert validator_errors(out) == []
    assert validator_errors(out / "derivatives" / "harmoniq") == []


def test_series_are_file_collections_with_one_scalar_value_per_file(batch_out):
    anat = batch_out / "sub-head01" / "ses-sitea" / "anat"
    irt1 = sorted(anat.glob("*_inv-*_IRT1.nii.gz"), key=lambda p: int(p.name.split("_inv-")[1].split("_")[0]))
    expected_ti = load_protocol("t1-irse").values["ti_ms"]
    assert len(irt1) == len(expected_ti)
    for path, ti_ms in zip(irt1, expected_ti):
        side = json.loads(path.with_name(path.name.replace(".nii.gz", ".json")).read_text())
        assert side["InversionTime"] == pytest.approx(ti_ms * 1e-3, abs=1e-6)
        assert nib.load(str(path)).ndim == 3
    fmap = batch_out / "sub-head01" / "ses-siteb" / "fmap"
    dam = sorted(fmap.glob("*_flip-*_TB1DAM.json"))
    assert [json.loads(p.read_text())["FlipAngle"] for p in dam] == load_protocol("b1-dam").values["flip_deg"]
    side = json.loads(dam[0].read_text())
    assert side["Manufacturer"] == "Philips" and side["MagneticFieldStrength"] == 1.5
    assert side["SimulatedScanner"] == "philips-ingenia-1.5t"


def test_maps_carry_units_one_affine_and_bids_uri_sources(batch_out):
    deriv = batch_out / "derivatives" / "harmoniq"
    maps = sorted(deriv.glob("sub-*/ses-*/*/*.nii.gz"))
    assert any(p.name.endswith("_acq-t1irse_T1map.nii.gz") for p in maps)
    assert any(p.parent.name == "fmap" and p.name.endswith("_acq-b1dam_TB1map.nii.gz") for p in maps)
    for path in maps:
        header = nib.load(str(path)).header
        assert header.get_xyzt_units() == ("mm", "sec"), path.name
        assert int(header["qform_code"]) == int(header["sform_code"]) == 1, path.name
        assert np.allclose(header.get_qform(), header.get_sform(), atol=1e-4), path.name
        side = json.loads(path.with_name(path.name.replace(".nii.gz", ".json")).read_text())
        for source in side["Sources"]:
            scheme, dataset, relative = source.split(":", 2)
            assert scheme == "bids" and dataset in ("", "raw")
            assert ((deriv if dataset == "" else batch_out) / relative).is_file(), source
        assert str(batch_out) not in json.dumps(side)  # no absolute path of the machine that wrote it


def test_fit_reads_a_bids_file_collection_and_gives_the_pipelines_map(batch_out, tmp_path):
    first = next((batch_out / "sub-head01" / "ses-sitea" / "anat").glob("*_inv-1_IRT1.nii.gz"))
    written = harmoniq("fit", "t1-ir", first, "-o", tmp_path, "--json")
    t1 = next(Path(p) for p in json.loads(written.stdout)["maps"] if p.endswith("_T1map.nii.gz"))
    pipeline = batch_out / "derivatives" / "harmoniq" / "sub-head01" / "ses-sitea" / "anat" / t1.name
    assert np.array_equal(np.asarray(nib.load(str(t1)).dataobj), np.asarray(nib.load(str(pipeline)).dataobj),
                          equal_nan=True)


def test_a_bids_dataset_is_a_batch_input_and_gives_the_same_maps(batch_out, tmp_path):
    first = next((batch_out / "sub-head01" / "ses-sitea" / "anat").glob("*_inv-3_IRT1.nii.gz"))
    study = tmp_path / "study.toml"
    study.write_text(f'name = "from-bids"\n[[dataset]]\nsite = "site-a"\nsubject = "head01"\nprotocol = "t1-irse"\n'
                     f'image = "{first}"\n')
    harmoniq("batch", study, "--workers", "1", "-o", tmp_path / "out")
    assert validator_errors(tmp_path / "out") == []
    assert validator_errors(tmp_path / "out" / "derivatives" / "harmoniq") == []
    relative = Path("derivatives/harmoniq/sub-head01/ses-sitea/anat/sub-head01_ses-sitea_acq-t1irse_T1map.nii.gz")
    again, pipeline = (np.asarray(nib.load(str(root / relative)).dataobj) for root in (tmp_path / "out", batch_out))
    assert np.array_equal(again, pipeline, equal_nan=True)
    copied = json.loads(next((tmp_path / "out" / "sub-head01").glob("ses-sitea/anat/*_inv-3_IRT1.json")).read_text())
    assert copied["SimulatedScanner"] == "siemens-prisma-3t" and copied["Manufacturer"] == "Siemens"


@pytest.mark.parametrize("folder, suffix, key, protocol, parameter", [
    ("ses-sitea/anat", "IRT1", "inversion_time_ms", "t1-irse", "ti_ms"),
    ("ses-siteb/fmap", "TB1DAM", "flip_angle_deg", "b1-dam", "flip_deg"),
])
def test_qmrpys_bids_reader_gets_each_volume_with_its_parameter(batch_out, folder, suffix, key, protocol, parameter):
    """qmrpy (a peer qMRI toolkit) reads the collection; each volume comes with the protocol's value."""
    from qmrpy.io import load_bids_relaxometry

    data, meta = load_bids_relaxometry(batch_out / "sub-head01" / folder, suffix=suffix)
    expected = load_protocol(protocol).values[parameter]
    assert data.shape[-1] == len(expected)
    by_file = dict(zip(meta["files"], meta[key]))
    for path, value in by_file.items():
        index = int(Path(path).name.split(f"_{'inv' if suffix == 'IRT1' else 'flip'}-")[1].split("_")[0])
        assert value == pytest.approx(expected[index - 1])
        volume = meta["files"].index(path)
        assert np.array_equal(data[..., volume], np.asarray(nib.load(path).dataobj))


def test_qmrpys_bids_reader_gets_the_echo_times_of_the_comparison(compare_out):
    from qmrpy.io import load_bids_relaxometry

    data, meta = load_bids_relaxometry(compare_out / "sub-nist" / "ses-siemensprisma3t" / "anat", suffix="MESE")
    assert meta["echo_time_ms"] == pytest.approx(load_protocol("t2-se").values["te_ms"])
    assert data.shape[-1] == 6
