"""All-or-nothing output: commit by rename, rollback, stale temps, ownership, OSError -> one line."""

import errno
import json
import os
import signal
import subprocess
import sys
import shutil
import tempfile

import pytest

from harmoniq import atomic
from harmoniq.atomic import STAGE_KEY, output_files, sidecar_text, written_by
from harmoniq.errors import HarmoniqError


def _listing(folder):
    return {p.name: p.read_bytes() for p in folder.iterdir()}


def test_commits_every_target_with_normal_permissions(tmp_path):
    with output_files(tmp_path / "a.nii.gz", tmp_path / "a.json", stage="recon") as (image, side):
        assert image.parent == tmp_path and image.name.startswith(".a.nii.gz.hqtmp-") and image.name.endswith(".nii.gz")
        image.write_bytes(b"image")
        side.write_text(sidecar_text({"x": 1}, "recon"))
        assert not (tmp_path / "a.nii.gz").exists()
    assert sorted(_listing(tmp_path)) == ["a.json", "a.nii.gz"]
    assert json.loads((tmp_path / "a.json").read_text()) == {"x": 1, STAGE_KEY: "recon"}
    umask = os.umask(0)
    os.umask(umask)
    assert (tmp_path / "a.nii.gz").stat().st_mode & 0o777 == 0o666 & ~umask


def test_an_error_in_the_block_changes_nothing(tmp_path):
    (tmp_path / "a.json").write_text(sidecar_text({"old": True}, "recon"))
    before = _listing(tmp_path)
    with pytest.raises(KeyError):
        with output_files(tmp_path / "a.nii.gz", tmp_path / "a.json", stage="recon") as (image, side):
            image.write_bytes(b"new")
            side.write_text(sidecar_text({}, "recon"))
            raise KeyError("boom")
    assert _listing(tmp_path) == before


def test_a_failed_rename_rolls_back_the_targets_already_committed(tmp_path, monkeypatch):
    for name in ("m_T1map.json", "m_M0map.json"):
        (tmp_path / name).write_text(sidecar_text({"old": name}, "fit"))
    before = _listing(tmp_path)
    real_replace, calls = os.replace, []

    def failing_replace(src, dst):
        calls.append(dst)
        if len(calls) == 4:  # target 1 aside + in, target 2 aside, then its commit fails
            raise OSError(errno.ENOSPC, "No space left on device", str(dst))
        real_replace(src, dst)

    monkeypatch.setattr(atomic.os, "replace", failing_replace)
    with pytest.raises(HarmoniqError, match=r"cannot write .*m_M0map.json: No space left on device; free some space"):
        with output_files(tmp_path / "m_T1map.json", tmp_path / "m_M0map.json", stage="fit") as temps:
            for temp in temps:
                temp.write_text(sidecar_text({"new": True}, "fit"))
    monkeypatch.setattr(atomic.os, "replace", real_replace)
    assert _listing(tmp_path) == before


def test_os_errors_in_the_block_become_one_line_naming_the_target(tmp_path):
    with pytest.raises(HarmoniqError) as info:
        with output_files(tmp_path / "raw.h5", stage="simulate"):
            raise OSError(errno.EROFS, "Read-only file system")
    message = str(info.value)
    assert "\n" not in message and f"cannot write {tmp_path / 'raw.h5'}: Read-only file system" in message
    assert list(tmp_path.iterdir()) == []


def test_a_file_of_another_origin_is_kept_unless_forced(tmp_path):
    (tmp_path / "gre-demo.json").write_text(sidecar_text({"seq": "sha"}, "seq"))
    (tmp_path / "mine.nii.gz").write_bytes(b"user data")
    before = _listing(tmp_path)
    with pytest.raises(HarmoniqError, match=r"gre-demo.json exists and is the output of 'seq', not of 'recon'.*--force"):
        with output_files(tmp_path / "gre-demo.nii.gz", tmp_path / "gre-demo.json", stage="recon"):
            pytest.fail("the block must not run")
    with pytest.raises(HarmoniqError, match=r"mine.nii.gz exists and is another file"):
        with output_files(tmp_path / "mine.nii.gz", stage="recon"):
            pytest.fail("the block must not run")
    assert _listing(tmp_path) == before
    with output_files(tmp_path / "mine.nii.gz", stage="recon", force=True) as (temp,):
        temp.write_bytes(b"forced")
    assert (tmp_path / "mine.nii.gz").read_bytes() == b"forced"


def test_a_stage_replaces_its_own_outputs(tmp_path):
    for round_ in range(2):
        with output_files(tmp_path / "a.nii.gz", tmp_path / "a.json", stage="recon") as (image, side):
            image.write_bytes(b"image %d" % round_)
            side.write_text(sidecar_text({}, "recon"))
    assert (tmp_path / "a.nii.gz").read_bytes() == b"image 1"
    assert written_by(tmp_path / "a.nii.gz") == "recon"


def test_a_sidecar_without_its_stage_is_refused(tmp_path):
    with pytest.raises(RuntimeError, match=STAGE_KEY):
        with output_files(tmp_path / "a.json", stage="recon") as (side,):
            side.write_text("{}")
    assert list(tmp_path.iterdir()) == []


def _dead_pid():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_stale_temps_of_a_dead_process_are_removed_and_a_moved_target_restored(tmp_path):
    pid = _dead_pid()
    stale = tmp_path / f".a.nii.gz.hqtmp-{pid}-0badc0de.nii.gz"
    stale.write_bytes(b"half")
    aside = tmp_path / f".a.json.hqold-{pid}-0badc0de.json"
    aside.write_text(sidecar_text({"old": 1}, "recon"))
    unrelated = tmp_path / ".b.nii.gz.hqtmp-1-0badc0de.nii.gz"  # another target: not touched
    unrelated.write_bytes(b"other")
    atomic.remove_stale(tmp_path / "a.nii.gz")
    atomic.remove_stale(tmp_path / "a.json")
    assert not stale.exists() and not aside.exists() and unrelated.exists()
    assert json.loads((tmp_path / "a.json").read_text())["old"] == 1


WRITER = """
import sys, time
from harmoniq.atomic import output_files, sidecar_text
with output_files(sys.argv[1], stage="recon") as (temp,):
    temp.write_text(sidecar_text({"partial": True}, "recon"))
    print("writing", flush=True)
    time.sleep(60)
"""


def test_the_run_after_a_killed_write_removes_its_temp_and_succeeds(tmp_path):
    target = tmp_path / "a.json"
    child = subprocess.Popen([sys.executable, "-c", WRITER, str(target)], stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "writing"
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    child.stdout.close()
    left = [p.name for p in tmp_path.iterdir()]
    assert len(left) == 1 and left[0].startswith(".a.json.hqtmp-") and not target.exists()
    with output_files(target, stage="recon") as (temp,):
        temp.write_text(sidecar_text({"done": True}, "recon"))
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]


def test_a_running_writers_temp_is_left_alone(tmp_path):
    target = tmp_path / "a.json"
    child = subprocess.Popen([sys.executable, "-c", WRITER, str(target)], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "writing"
        with output_files(tmp_path / "a.json", stage="recon") as (temp,):
            temp.write_text(sidecar_text({}, "recon"))
        assert len([p for p in tmp_path.iterdir() if p.name.startswith(".a.json.hqtmp-")]) == 1
    finally:
        child.kill()
        child.wait()
        child.stdout.close()


def test_a_read_only_folder_is_one_line_for_a_user_without_permission():
    parent = tempfile.mkdtemp(dir="/tmp")  # pytest's tmp_path lies under a folder only root may enter
    try:
        folder = os.path.join(parent, "locked")
        os.mkdir(folder)
        os.chmod(parent, 0o755)
        os.chmod(folder, 0o555)
        target = os.path.join(folder, "x.txt")
        code = f"from harmoniq.atomic import write_text_atomic; write_text_atomic({target!r}, 'x')"
        done = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable, "-c", code],
                              capture_output=True, text=True, cwd="/", timeout=60)
        assert done.returncode != 0
        assert f"HarmoniqError: cannot write {target}: Permission denied; you may not write there" in done.stderr
        assert os.listdir(folder) == []
    finally:
        shutil.rmtree(parent)
