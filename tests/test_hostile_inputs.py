"""Hostile inputs and faults through the command line: exit 2, one `error:` line, nothing written or lost.

Every case runs the real CLI in a subprocess and checks: exit status 2, exactly one stderr line
starting ``error:`` (the last; other lines may only be progress bars), no traceback, no warning,
no new or changed file in the output folder, and the user's files byte-identical. Disk full is a
small tmpfs, read-only folders are written as user ``nobody``, a killed write is SIGKILL.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import h5py
import nibabel as nib
import numpy as np
import pytest

NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
TI_S = [0.05, 0.15, 0.4, 1.1, 2.5]


def harmoniq(*args, cwd, as_nobody=False, timeout=300) -> subprocess.CompletedProcess:
    """Run the CLI; ``as_nobody``: as user nobody, with a home of its own (as a real account has)."""
    command = [sys.executable, "-m", "harmoniq.cli", *map(str, args)]
    env = dict(os.environ)
    if as_nobody:
        home = Path(cwd) / "home-nobody"
        home.mkdir(exist_ok=True)
        os.chown(home, 65534, 65534)
        env["HOME"] = str(home)
    return subprocess.run((NOBODY if as_nobody else []) + command, cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env=env)


def snapshot(folder: Path) -> dict:
    """sha256 of every file under ``folder`` (hidden ones too), by relative path."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def assert_clean_error(result: subprocess.CompletedProcess, match: str) -> str:
    """Exit 2, one last `error:` line matching ``match``, only progress bars besides, no traceback or warning."""
    lines = [line for line in re.split(r"[\r\n]", result.stderr) if line.strip()]
    errors = [line for line in lines if line.startswith("error:")]
    assert result.returncode == 2, result.stderr
    assert len(errors) == 1 and lines[-1] == errors[0], result.stderr
    assert all("%|" in line for line in lines[:-1]), result.stderr
    assert "Traceback" not in result.stderr + result.stdout and "Warning" not in result.stderr, result.stderr
    assert re.search(match, errors[0]), errors[0]
    return errors[0]


@pytest.fixture(scope="module")
def base():
    """A folder everyone may read (user ``nobody`` too) with a .seq, raw data, an image and an IR series."""
    folder = Path(tempfile.mkdtemp(dir="/tmp", prefix="hostile-"))
    folder.chmod(0o755)
    for args in (["seq", "build", "gre-demo", "-o", "seq"],
                 ["simulate", "seq/gre-demo.seq", "--phantom", "shepp-logan", "--scanner", "ge-premier-3t",
                  "--matrix", "32", "-o", "raw.h5"],
                 ["recon", "raw.h5", "-o", "image.nii.gz"]):
        done = harmoniq(*args, cwd=folder)
        assert done.returncode == 0, done.stderr
    t1 = np.linspace(0.3, 2.0, 32).reshape(1, 4, 8)
    series = np.abs(1000 * (1 - 2 * np.exp(-np.array(TI_S)[:, None, None, None] / t1))).astype(np.float32)
    nib.save(nib.Nifti1Image(series.transpose(3, 2, 1, 0), np.eye(4)), str(folder / "ir.nii.gz"))
    (folder / "ir.json").write_text(json.dumps({"InversionTime": TI_S}))
    for path in folder.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    yield folder
    shutil.rmtree(folder)


@pytest.fixture
def out(base):
    """An output folder holding one file of the user's, which must survive every failure."""
    folder = Path(tempfile.mkdtemp(dir=base, prefix="out-"))
    (folder / "notes.txt").write_text("the user's own file\n")
    yield folder
    shutil.rmtree(folder)


@pytest.fixture
def full_disk(base):
    """A 64 KiB tmpfs, 52 KiB taken by a user's file: room for about three small files."""
    folder = Path(tempfile.mkdtemp(dir=base, prefix="full-"))
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(folder)], check=True)
    try:
        (folder / "user.bin").write_bytes(os.urandom(52 * 1024))
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=True)
        folder.rmdir()


@pytest.fixture
def locked(base):
    """A folder user ``nobody`` may read but not write, with a file of the owner's."""
    folder = Path(tempfile.mkdtemp(dir=base, prefix="locked-"))
    (folder / "notes.txt").write_text("the owner's file\n")
    folder.chmod(0o555)
    yield folder
    folder.chmod(0o755)
    shutil.rmtree(folder)


def writers(base: Path, folder: Path) -> dict:
    """Each writing command, its output in ``folder``."""
    return {
        "simulate": ["simulate", base / "seq/gre-demo.seq", "--phantom", "shepp-logan", "--scanner", "ge-premier-3t",
                     "--matrix", "32", "-o", folder / "raw.h5"],
        "recon": ["recon", base / "raw.h5", "-o", folder / "image.nii.gz"],
        "seq build": ["seq", "build", "gre-demo", "-o", folder],
        "fit": ["fit", "t1-ir", base / "ir.nii.gz", "-o", folder],
    }


@pytest.mark.parametrize("command", ["simulate", "recon", "seq build", "fit"])
def test_a_full_disk_is_one_line_and_leaves_nothing(base, full_disk, command):
    before = snapshot(full_disk)
    result = harmoniq(*writers(base, full_disk)[command], cwd=base)
    assert_clean_error(result, rf"^error: cannot write {re.escape(str(full_disk))}/\S+: No space left on device; free")
    assert snapshot(full_disk) == before


@pytest.mark.parametrize("command", ["simulate", "recon", "seq build", "fit"])
def test_a_read_only_folder_is_one_line_and_leaves_nothing(base, locked, command):
    before = snapshot(locked)
    result = harmoniq(*writers(base, locked)[command], cwd=base, as_nobody=True)
    assert_clean_error(result, rf"^error: cannot write {re.escape(str(locked))}/\S+: Permission denied; you may not")
    assert snapshot(locked) == before


@pytest.mark.parametrize("edit, key", [
    (("fov_mm = 250.0", "fov_mm = nan"), "fov_mm=nan"),
    (("tr_ms = 10.0", "tr_ms = nan"), "tr_ms=nan"),
    (("tr_ms = 10.0", "tr_ms = inf"), "tr_ms=inf"),
    (("flip_deg = [15.0]", "flip_deg = [-nan]"), "flip_deg=nan"),
])
@pytest.mark.parametrize("command", [["seq", "build"], ["protocols", "show"]])
def test_non_finite_protocol_numbers_are_refused(base, out, edit, key, command):
    protocol = out / "bad.toml"
    text = (Path(__file__).parents[1] / "protocols" / "gre-demo.toml").read_text()
    assert edit[0] in text
    protocol.write_text(text.replace(edit[0], edit[1]))
    before = snapshot(out)
    extra = ["-o", out] if command[0] == "seq" else []
    result = harmoniq(*command, protocol, *extra, cwd=base)
    assert_clean_error(result, rf"^error: protocol bad.toml: {re.escape(key)} is not a finite number")
    assert snapshot(out) == before


def broken_raw(source: Path, target: Path, how: str) -> Path:
    """A copy of ``source`` with acquisition 70 (an imaging line) or the whole table broken ``how``."""
    shutil.copy(source, target)
    with h5py.File(target, "r+") as file:
        table = file["dataset/data"]
        row = table[70]
        if how == "nan sample":
            row["data"][5] = np.nan
        elif how == "inf sample":
            row["data"][7] = -np.inf
        elif how == "channel count":
            row["head"]["active_channels"] = 99
        elif how == "sample count":
            row["head"]["number_of_samples"] = 7
        elif how == "short sample array":
            row["data"] = row["data"][:100]
        elif how == "huge counter":
            row["head"]["idx"]["slice"] = 60000
        if how == "no acquisitions":
            dtype = table.dtype
            del file["dataset/data"]
            file.create_dataset("dataset/data", shape=(0,), maxshape=(None,), dtype=dtype)
        else:
            table[70] = row
    return target


@pytest.mark.parametrize("how, message", [
    ("nan sample", r"acquisition 70 has NaN or infinite samples; raw samples must be finite"),
    ("inf sample", r"acquisition 70 has NaN or infinite samples"),
    ("channel count", r"acquisition 70 has 99 channels, but the header's receiverChannels is 16"),
    ("sample count", r"acquisition 70 holds 2048 sample values but its header gives 16 channels x 7 samples"),
    ("short sample array", r"acquisition 70 holds 100 sample values .* it must hold 2048"),
    ("no acquisitions", r"the file holds no acquisitions"),
    ("huge counter", r"sorting onto a grid of 3840064 lines .* GiB but only .* GiB are available"),
])
def test_inconsistent_raw_data_is_refused_naming_the_acquisition(base, out, how, message):
    raw = broken_raw(base / "raw.h5", out / "bad.h5", how)
    before = snapshot(out)
    result = harmoniq("recon", raw, "-o", out / "image.nii.gz", cwd=base)
    assert_clean_error(result, rf"^error: {re.escape(str(raw))}: {message}")
    assert snapshot(out) == before


def test_an_adc_too_long_for_ismrmrd_is_refused_before_any_work(base, out):
    text = (base / "seq/gre-demo.seq").read_text()
    text = text[: text.index("\n[SIGNATURE]")] + "\n"  # an unsigned file: the edit below is not a corruption
    seq = out / "long-adc.seq"
    adc = text.index("\n[ADC]\n") + len("\n[ADC]\n")
    line_end = text.index("\n", adc)
    fields = text[adc:line_end].split(" ")
    seq.write_text(text[:adc] + " ".join([fields[0], "200000000", *fields[2:]]) + text[line_end:])
    before = snapshot(out)
    result = harmoniq(*writers(base, out)["simulate"][:1], seq, *writers(base, out)["simulate"][2:], cwd=base)
    assert_clean_error(result, r"long-adc.seq: block \d+ has an ADC of 200000000 samples; a readout may have at most 65535")
    assert snapshot(out) == before


@pytest.mark.parametrize("value", [["a", "b", "c", "d", "e"], float("nan"), [0.1, None, 0.4, 1.1, 2.5], [[0.05], [0.15]]])
def test_bad_sidecar_numbers_are_refused(base, out, value):
    image = out / "series.nii.gz"
    shutil.copy(base / "ir.nii.gz", image)
    (out / "series.json").write_text(json.dumps({"InversionTime": value}))
    before = snapshot(out)
    result = harmoniq("fit", "t1-ir", image, "-o", out, cwd=base)
    assert_clean_error(result, rf"^error: {re.escape(str(out / 'series.json'))}: InversionTime=.* is not valid; "
                               r"give finite numbers \(BIDS units: s, deg\), one per volume \(5\)")
    assert snapshot(out) == before


@pytest.mark.parametrize("sigma", ["-1", "0", "nan", "inf"])
def test_a_noise_sigma_that_is_not_positive_is_refused(base, out, sigma):
    before = snapshot(out)
    result = harmoniq("fit", "t1-ir", base / "ir.nii.gz", "--noise-sigma", sigma, "-o", out, cwd=base)
    assert_clean_error(result, r"^error: --noise-sigma=\S+: give the image noise SD, a finite number > 0")
    assert snapshot(out) == before


def test_recon_never_replaces_the_sidecar_of_seq_build(base, out):
    assert harmoniq("seq", "build", "gre-demo", "-o", out, cwd=base).returncode == 0
    before = snapshot(out)
    result = harmoniq("recon", base / "raw.h5", "-o", out / "gre-demo.nii.gz", cwd=base)
    assert_clean_error(result, r"gre-demo.json exists and is the output of 'seq', not of 'recon'; choose another "
                               r"output name or use --force")
    assert snapshot(out) == before


@pytest.mark.parametrize("existing", ["image.json", "image.nii.gz"])
def test_recon_keeps_an_unrelated_image_or_sidecar(base, out, existing):
    (out / existing).write_text('{"from": "another tool"}')
    before = snapshot(out)
    result = harmoniq("recon", base / "raw.h5", "-o", out / "image.nii.gz", cwd=base)
    assert_clean_error(result, rf"{re.escape(existing)} exists and is another file, not of 'recon'")
    assert snapshot(out) == before


def test_simulate_keeps_a_raw_file_it_did_not_write(base, out):
    shutil.copy(base / "image.nii.gz", out / "raw.h5")  # any file of the user's under that name
    before = snapshot(out)
    result = harmoniq(*writers(base, out)["simulate"], cwd=base)
    assert_clean_error(result, r"raw.h5 exists and is another file, not of 'simulate'")
    assert snapshot(out) == before


def test_each_stage_rewrites_its_own_outputs(base, out):
    for command in writers(base, out).values():
        for _ in range(2):
            done = harmoniq(*command, cwd=base)
            assert done.returncode == 0, done.stderr
    assert not [p.name for p in out.iterdir() if p.name.startswith(".")]


def test_the_run_after_a_killed_write_removes_its_temp_and_succeeds(base, out):
    """SIGKILL while simulate writes raw.h5: a hidden temp stays; the next simulate removes it."""
    command = [sys.executable, "-m", "harmoniq.cli", *map(str, writers(base, out)["simulate"])]
    for _ in range(5):  # the write itself lasts a fraction of a second: poll for it
        proc = subprocess.Popen(command, cwd=base, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        temps = []
        while proc.poll() is None and not temps:
            temps = list(out.glob(".raw.h5.hqtmp-*"))
            time.sleep(0.0005)
        if temps:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        if temps and list(out.glob(".raw.h5.hqtmp-*")):
            break
        (out / "raw.h5").unlink(missing_ok=True)
    else:
        pytest.fail("the write was never caught in progress")
    assert not (out / "raw.h5").exists()
    done = harmoniq(*writers(base, out)["simulate"], cwd=base)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt", "raw.h5"]


STUDY = """name = "hostile"
[[dataset]]
site = "a"
subject = "s1"
protocol = "gre-demo"
scanner = "ge-premier-3t"
phantom = "shepp-logan"
matrix = 32
"""


@pytest.mark.parametrize("row, message", [
    ('protocol = "gre-demo"\nraw = "missing.h5"', r"dataset 2 \(b/s1/gre-demo\): raw file \S+missing.h5 does not exist"),
    ('protocol = "t9-magic"\nraw = "../raw.h5"', r"dataset 2 \(b/s1/t9-magic\): .*t9-magic"),
    ('protocol = "gre-demo"\nscanner = "siemens-prisma-9t"', r"dataset 2 \(b/s1/gre-demo\): scanner 'siemens-prisma-9t' is not known"),
])
def test_a_bad_study_stops_before_any_stage_is_written(base, out, row, message):
    study = out / "study.toml"
    study.write_text(STUDY + f'[[dataset]]\nsite = "b"\nsubject = "s1"\n{row}\n')
    before = snapshot(out)
    result = harmoniq("batch", study, "--workers", "1", "-o", out / "study", cwd=base)
    assert_clean_error(result, rf"^error: study study.toml, {message}")
    assert snapshot(out) == before and not (out / "study").exists()


def test_a_dataset_failing_on_its_worker_is_one_line(base, out):
    (out / "corrupt.h5").write_bytes(b"not HDF5 at all")
    study = out / "study.toml"
    study.write_text(STUDY.replace('scanner = "ge-premier-3t"\nphantom = "shepp-logan"\nmatrix = 32', 'raw = "corrupt.h5"'))
    result = harmoniq("batch", study, "--workers", "1", "-o", out / "study", cwd=base)
    lines = [line for line in re.split(r"[\r\n]", result.stderr) if line.strip() and "%|" not in line]
    assert result.returncode == 1
    assert lines == [f"FAILED a/s1/gre-demo: {out / 'corrupt.h5'}: not a readable HDF5 file (truncated or another "
                     "format?): Unable to synchronously open file (file signature not found)"], result.stderr


def test_force_replaces_a_file_the_command_did_not_write(base, out):
    (out / "image.json").write_text('{"from": "another tool"}')
    done = harmoniq("recon", base / "raw.h5", "-o", out / "image.nii.gz", "--force", cwd=base)
    assert done.returncode == 0, done.stderr
    assert json.loads((out / "image.json").read_text())["HarmoniqStage"] == "recon"
    assert nib.load(str(out / "image.nii.gz")).shape == nib.load(str(base / "image.nii.gz")).shape


@pytest.mark.parametrize("options, message", [
    (["--scanner", "ge-premier-9t"], r"scanner 'ge-premier-9t' is not known"),
    (["--scanner", "ge-premier-3t", "--phantom", "banana"], r"phantom 'banana' is not known"),
    (["--raw", "missing.h5"], r"raw file missing.h5 does not exist"),
])
def test_a_run_checks_its_inputs_before_any_stage_writes(base, out, options, message):
    before = snapshot(out)
    result = harmoniq("run", "gre-demo", *options, "-o", out / "run", cwd=base)
    assert_clean_error(result, rf"^error: {message}")
    assert snapshot(out) == before


def test_a_run_into_a_read_only_folder_is_one_line(base, locked):
    before = snapshot(locked)
    result = harmoniq("run", "gre-demo", "--scanner", "ge-premier-3t", "--phantom", "shepp-logan", "--matrix", "32",
                      "-o", locked / "run", cwd=base, as_nobody=True)
    assert_clean_error(result, rf"^error: cannot write {re.escape(str(locked))}/run/sourcedata/sub-shepplogan/"
                               rf"ses-gepremier3t/gre-demo: Permission denied")
    assert snapshot(locked) == before
