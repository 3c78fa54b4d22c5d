"""Study batches on Dask: same outputs as a plain local run, resumable after a kill, failures isolated."""

import os
import signal
import subprocess
import sys
import time

import h5py
import nibabel as nib
import numpy as np
import pytest

from harmoniq.batch import load_study, run_batch, run_dataset
from harmoniq.errors import HarmoniqError

pytestmark = pytest.mark.slow

STUDY = """name = "t"
[[dataset]]
site = "a"
subject = "s1"
protocol = "gre-demo"
scanner = "siemens-prisma-3t"
seed = 1
phantom = "shepp-logan"
matrix = 32
[[dataset]]
site = "b"
subject = "s1"
protocol = "gre-demo"
scanner = "ge-premier-3t"
seed = 2
phantom = "shepp-logan"
matrix = 32
[[dataset]]
site = "c"
subject = "s1"
protocol = "b1-dam"
scanner = "philips-ingenia-elition-3t"
seed = 3
phantom = "shepp-logan"
matrix = 32
"""


@pytest.fixture
def study(tmp_path):
    path = tmp_path / "study.toml"
    (tmp_path / "corrupt.h5").write_bytes(b"not HDF5")  # exists, so only its worker finds it unreadable
    path.write_text(STUDY + '[[dataset]]\nsite = "d"\nsubject = "s1"\nprotocol = "gre-demo"\nraw = "corrupt.h5"\n')
    return path


def test_dask_cluster_outputs_equal_a_plain_local_run_and_a_failure_is_isolated(study, tmp_path):
    plan = load_study(study)
    result = run_batch(plan, tmp_path / "dask", workers=2, progress=False)
    assert sorted(result.runs) == ["a/s1/gre-demo", "b/s1/gre-demo", "c/s1/b1-dam"]
    assert list(result.failed) == ["d/s1/gre-demo"]
    assert result.failed["d/s1/gre-demo"].startswith(f"{tmp_path / 'corrupt.h5'}: not a readable HDF5 file")
    for dataset in plan.datasets[:3]:
        local = run_dataset(dataset, tmp_path / "local")
        on_dask = result.runs[dataset.key]
        # bit for bit: one-thread Dask workers and a plain process on all cores sum in the same order
        raw = [h5py.File(r.raw)["dataset/data"]["data"] for r in (local, on_dask)]
        assert all(np.array_equal(a, b) for a, b in zip(*raw))
        assert (local.maps is None) == (on_dask.maps is None) == (dataset.protocol != "b1-dam")
        a_data, b_data = (np.asarray(nib.load(str(r.image)).dataobj) for r in (local, on_dask))
        assert np.array_equal(a_data, b_data)
        if local.maps is not None:
            assert sorted(local.maps.maps) == sorted(on_dask.maps.maps)
            for name in local.maps.maps:
                assert np.array_equal(local.maps[name], on_dask.maps[name], equal_nan=True), name


def _stage_records(out) -> dict[str, set[str]]:
    """{site: names of the stages whose records exist} of a batch's BIDS dataset."""
    records = {}
    for path in out.glob("sourcedata/sub-s1/ses-*/*/.*.stage.json"):
        site = path.parts[-3].removeprefix("ses-")
        records.setdefault(site, set()).add(path.name.removeprefix(".").removesuffix(".stage.json"))
    return records


def test_a_killed_batch_recomputes_only_what_was_missing(study, tmp_path):
    out = tmp_path / "out"
    command = [sys.executable, "-m", "harmoniq.cli", "batch", str(study), "--workers", "1", "-o", str(out)]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 300
    while time.time() < deadline and not any("recon" in stages for stages in _stage_records(out).values()):
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    before = _stage_records(out)
    assert any("recon" in stages for stages in before.values())
    plan = load_study(study)
    result = run_batch(plan, out, workers=1, progress=False)
    after = _stage_records(out)
    assert len(result.runs) == 3
    assert any(run.computed for run in result.runs.values())  # the kill left work undone
    for key, run in result.runs.items():
        site = key.split("/")[0]
        # exactly the stages without a record at the kill are computed, each once
        assert sorted(run.computed) == sorted(after[site] - before.get(site, set())), (key, run.computed)


def test_bad_study_files_fail_with_one_clear_line(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[[dataset]]\nsite = "a"\nsubject = "s"\nprotocol = "gre-demo"\n')
    with pytest.raises(HarmoniqError, match="exactly one of raw"):
        load_study(bad)
    bad.write_text('[[dataset]]\nsite = "a"\nsubject = "s"\nprotocol = "gre-demo"\nscanner = "x"\ncolour = 1\n')
    with pytest.raises(HarmoniqError, match="unknown key 'colour'"):
        load_study(bad)
    bad.write_text(STUDY.replace('site = "b"', 'site = "a"'))
    with pytest.raises(HarmoniqError, match="appears twice"):
        load_study(bad)


@pytest.mark.parametrize("row, message", [
    ('raw = "missing.h5"', r"dataset 4 \(d/s1/gre-demo\): raw file .*missing.h5 does not exist"),
    ('scanner = "siemens-prisma-9t"', r"dataset 4 \(d/s1/gre-demo\): scanner 'siemens-prisma-9t' is not known"),
    ('scanner = "ge-premier-3t"\nphantom = "banana"', r"dataset 4 \(d/s1/gre-demo\): phantom 'banana' is not known"),
    ('scanner = "ge-premier-3t"\nmatrix = 0', r"dataset 4 \(d/s1/gre-demo\): matrix=0 must be a positive"),
])
def test_a_study_is_checked_before_any_worker_starts(tmp_path, row, message):
    bad = tmp_path / "bad.toml"
    bad.write_text(STUDY + f'[[dataset]]\nsite = "d"\nsubject = "s1"\nprotocol = "gre-demo"\n{row}\n')
    with pytest.raises(HarmoniqError, match=message) as info:
        load_study(bad)
    assert "\n" not in str(info.value)


def test_every_problem_of_a_study_is_counted_in_its_one_line(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text(STUDY.replace('protocol = "b1-dam"', 'protocol = "t9-magic"')
                   + '[[dataset]]\nsite = "d"\nsubject = "s1"\nprotocol = "gre-demo"\nraw = "missing.h5"\n')
    with pytest.raises(HarmoniqError, match=r"dataset 3 \(c/s1/t9-magic\): .*t9-magic.*\(and 1 more problem\(s\) in the study\)$"):
        load_study(bad)
