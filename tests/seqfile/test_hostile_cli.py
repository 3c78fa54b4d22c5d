"""Damaged .seq files on the command line: `seq check`, `simulate` and `recon --seq` end with
exit 2 and one `error:` line within 60 s (a damaged file used to hang forever; the bound leaves room
for a loaded CI machine, where one start of the CLI alone can take seconds), print no traceback and
write nothing."""

from __future__ import annotations

import re
import subprocess
import sys
import time

import pytest
from hostile import harmoniq_seq, hostile_files, pypulseq_seq

TIMEOUT_S = 60.0


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile")
    valid = harmoniq_seq(folder)
    raw = folder / "raw.h5"
    _harmoniq("simulate", valid, "--phantom", "shepp-logan", "--scanner", "siemens-prisma-3t", "--matrix", "32",
              "--no-noise", "-o", raw, timeout=300, check=True)
    own = hostile_files(valid, folder)
    foreign = hostile_files(pypulseq_seq(folder / "pypulseq.seq"), folder)
    return {"valid": valid, "raw": raw, "harmoniq": own, "pypulseq": foreign}


def _harmoniq(*args, timeout: float, check: bool = False) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "harmoniq.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, check=check)


def _commands(seq, raw, out):
    return {
        "seq check": (["seq", "check", seq, "--profile", "ge-premier-3t"], None),
        "simulate": (["simulate", seq, "--phantom", "nist", "--scanner", "siemens-prisma-3t", "-o", out / "out.h5"],
                     out / "out.h5"),
        "recon --seq": (["recon", raw, "--seq", seq, "-o", out / "out.nii.gz"], out / "out.nii.gz"),
    }


def _assert_one_clean_error(result: subprocess.CompletedProcess, elapsed: float, expected: str, label: str) -> None:
    lines = result.stderr.splitlines()
    assert result.returncode == 2, (label, result.returncode, result.stderr[-500:])
    assert len(lines) == 1 and lines[0].startswith("error: "), (label, result.stderr[-500:])
    assert re.search(expected, lines[0]), (label, lines[0])
    assert "Traceback" not in result.stdout + result.stderr, label
    assert elapsed < TIMEOUT_S, (label, elapsed)


@pytest.mark.slow
@pytest.mark.parametrize("command", ["seq check", "simulate", "recon --seq"])
def test_every_damaged_harmoniq_file_fails_cleanly(files, tmp_path, command):
    for name, (seq, expected) in files["harmoniq"].items():
        args, output = _commands(seq, files["raw"], tmp_path)[command]
        start = time.monotonic()
        result = _harmoniq(*args, timeout=TIMEOUT_S + 5)
        _assert_one_clean_error(result, time.monotonic() - start, expected, f"{command} {name}")
        assert output is None or not output.exists(), (command, name)
        assert sorted(p.name for p in tmp_path.iterdir()) == [], (command, name)


@pytest.mark.slow
def test_every_damaged_pypulseq_file_fails_cleanly_in_seq_check(files, tmp_path):
    for name, (seq, expected) in files["pypulseq"].items():
        args, _ = _commands(seq, files["raw"], tmp_path)["seq check"]
        start = time.monotonic()
        result = _harmoniq(*args, timeout=TIMEOUT_S + 5)
        _assert_one_clean_error(result, time.monotonic() - start, expected, f"seq check {name}")


def test_the_valid_file_passes_the_same_commands(files, tmp_path):
    assert _harmoniq("seq", "check", files["valid"], "--profile", "ge-premier-3t", timeout=60).returncode == 0
    result = _harmoniq("recon", files["raw"], "--seq", files["valid"], "-o", tmp_path / "out.nii.gz", timeout=120)
    assert result.returncode == 0, result.stderr[-500:]
    assert (tmp_path / "out.nii.gz").exists()
