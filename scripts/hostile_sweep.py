#!/usr/bin/env python3
"""Run hostile inputs and faults through every command of the CLI and classify each ending.

    python scripts/hostile_sweep.py [--work DIR] [--jobs 2] [--timeout 60] [--only WORD]

Each case runs ``python -m harmoniq.cli ...`` in a folder of its own whose output folder holds
a file of the user's, and ends as one of:

clean           exit 2 (or 1 where documented: batch with failed datasets), one last line
                ``error:`` (or ``FAILED ...``), no traceback, no warning, nothing new or changed
traceback       a Python traceback was printed
hang            still running after --timeout seconds (killed)
silent success  exit 0 for an input that must fail
partial output  a new or changed file (or a temp) in the output folder
lost file       a file of the user's changed or vanished
unclear         any other ending: several lines, warnings, internal reprs such as np.int64(99)

Faults: disk full (a 64 KiB tmpfs), read-only folders (written as user nobody), SIGKILL while a
writer writes (the next run must remove its temp and succeed). Disk-full and nobody cases need
root; without it they are listed as ``not run``. Prints the counts (cases of the ``.seq``-file
reader separately) and writes ``<work>/hostile_sweep.tsv``.
"""

from __future__ import annotations

import argparse
import collections
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
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import nibabel as nib
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
OUTCOMES = ("clean", "traceback", "hang", "silent success", "partial output", "lost file", "unclear", "not run")
INTERNAL = re.compile(r"np\.\w+\(|object at 0x|<class '|Errno \d+\]")
USER_FILE = "notes.txt"


@dataclass
class Case:
    """One hostile input: ``args`` use {base} (shared inputs), {case} (own folder), {out} (watched output)."""

    command: str
    name: str
    args: list
    setup: object = None  # callable(case_dir) preparing inputs
    fault: str = ""  # "", "full", "readonly", "kill"
    exit_codes: tuple = (2,)
    seqfile: bool = False
    extra: dict = field(default_factory=dict)


# ---------------------------------------------------------------- shared inputs

def run_cli(args, cwd, timeout=600, as_nobody=False):
    env = dict(os.environ)
    if as_nobody:
        home = Path(cwd) / "home-nobody"
        home.mkdir(exist_ok=True)
        os.chown(home, 65534, 65534)
        env["HOME"] = str(home)
    command = (NOBODY if as_nobody else []) + [sys.executable, "-m", "harmoniq.cli", *map(str, args)]
    proc = subprocess.Popen(command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
        return proc.returncode, out, err
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        return None, out, err


SERIES = {  # model -> (sidecar, volumes): valid inputs for every fit model
    "t1-ir": ({"InversionTime": [0.05, 0.15, 0.4, 1.1, 2.5]}, 5),
    "t1-vfa": ({"FlipAngle": [3, 8, 15, 25], "RepetitionTimeExcitation": 0.015}, 4),
    "t2-se": ({"EchoTime": [0.01, 0.03, 0.06, 0.12]}, 4),
    "t2-mese": ({"EchoTime": [0.01, 0.02, 0.03, 0.04, 0.05, 0.06], "RefocusingFlipAngle": 180}, 6),
    "b1-dam": ({"FlipAngle": [60, 120]}, 2),
    "t2star": ({"EchoTime": [0.002, 0.005, 0.01, 0.02]}, 4),
}
PER_VOLUME_KEY = {"t1-ir": "InversionTime", "t1-vfa": "FlipAngle", "t2-se": "EchoTime", "t2-mese": "EchoTime",
                  "b1-dam": "FlipAngle", "t2star": "EchoTime"}


def write_series(path: Path, sidecar: dict | None, volumes: int, shape=(1, 4, 8)):
    """A positive, smooth (volume, z, y, x) series as NIfTI, and its sidecar."""
    rng = np.random.default_rng(0)
    decay = np.exp(-np.arange(volumes)[:, None, None, None] / 3.0)
    data = (500 + 400 * decay * rng.uniform(0.5, 1, (1, *shape))).astype(np.float32)
    nib.save(nib.Nifti1Image(data.transpose(3, 2, 1, 0), np.eye(4)), str(path))
    if sidecar is not None:
        path.with_name(path.name.replace(".nii.gz", ".json")).write_text(json.dumps(sidecar))


def prepare_base(base: Path):
    """The valid inputs the cases start from: .seq files, raw data, an image, one series per fit model."""
    steps = [["seq", "build", "gre-demo", "-o", "seq"],
             ["simulate", "seq/gre-demo.seq", "--phantom", "shepp-logan", "--scanner", "ge-premier-3t",
              "--matrix", "32", "-o", "raw.h5"],
             ["recon", "raw.h5", "-o", "image.nii.gz"]]
    for args in steps:
        code, _, err = run_cli(args, base)
        if code != 0:
            sys.exit(f"preparing {args}: {err}")
    for model, (sidecar, volumes) in SERIES.items():
        write_series(base / f"{model}.nii.gz", sidecar, volumes)
    mask = np.ones((8, 4, 1), np.uint8)
    nib.save(nib.Nifti1Image(np.ones((3, 3, 1), np.uint8), np.eye(4)), str(base / "mask-3x3.nii.gz"))
    nib.save(nib.Nifti1Image(mask, np.eye(4)), str(base / "mask.nii.gz"))
    for path in base.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)


# ---------------------------------------------------------------- input makers

def text_edit(source: str, old: str, new: str, name: str):
    """case/``name``: the project file ``source`` with ``old`` replaced by ``new``."""
    def setup(case: Path):
        text = (ROOT / source).read_text()
        if old not in text:
            raise SystemExit(f"sweep setup: {old!r} not in {source}")
        (case / name).write_text(text.replace(old, new, 1))
    return setup


def write_bytes(name: str, data: bytes):
    """case/``name`` with ``data``."""
    def setup(case: Path):
        (case / name).write_bytes(data)
    return setup


def seq_variant(how: str):
    """A broken copy of the shared gre-demo.seq as case/bad.seq."""
    def setup(case: Path):
        text = (case.parent.parent / "base/seq/gre-demo.seq").read_text()
        if how == "truncated":
            text = text[: len(text) // 2]
        elif how == "empty":
            text = ""
        elif how == "major 2":
            text = text.replace("major 1", "major 2", 1)
        elif how == "nan shape":
            head, tail = text.split("num_samples 1000\n", 1)
            text = head + "num_samples 1000\n" + "nan\n" + tail.split("\n", 1)[1]
        elif how == "negative block":
            start = text.index("[BLOCKS]\n") + len("[BLOCKS]\n")
            fields = text[start:text.index("\n", start)].split()
            text = text[:start] + " ".join([fields[0], "-10", *fields[2:]]) + text[text.index("\n", start):]
        elif how == "no blocks":
            start, end = text.index("[BLOCKS]"), text.index("[RF]")
            text = text[:start] + text[end:]
        elif how == "huge adc":
            start = text.index("[ADC]\n") + len("[ADC]\n")
            fields = text[start:text.index("\n", start)].split(" ")
            text = text[:start] + " ".join([fields[0], "200000000", *fields[2:]]) + text[text.index("\n", start):]
        elif how == "unknown event id":
            start = text.index("[BLOCKS]\n") + len("[BLOCKS]\n")
            fields = text[start:text.index("\n", start)].split()
            fields[2] = "999"
            text = text[:start] + " ".join(fields) + text[text.index("\n", start):]
        elif how == "garbage":
            text = "\x00\x01 not a pulseq file \xff" * 40
        (case / "bad.seq").write_text(text)
    return setup


def raw_variant(how: str):
    """A broken copy of the shared raw.h5 as case/bad.h5 (acquisition 70 is an imaging line)."""
    def setup(case: Path):
        target = case / "bad.h5"
        shutil.copy(case.parent.parent / "base/raw.h5", target)
        with h5py.File(target, "r+") as file:
            if how in ("no data table", "no acquisitions", "no xml"):
                if how == "no acquisitions":
                    dtype = file["dataset/data"].dtype
                    del file["dataset/data"]
                    file.create_dataset("dataset/data", shape=(0,), maxshape=(None,), dtype=dtype)
                else:
                    del file["dataset/" + ("data" if how == "no data table" else "xml")]
                return
            if how.startswith("xml "):
                xml = file["dataset/xml"][0]
                xml = xml.decode() if isinstance(xml, bytes) else xml
                xml = {"xml broken": lambda x: x[: len(x) // 2],
                       "xml matrix 0": lambda x: re.sub(r"(<encodedSpace>\s*<matrixSize>\s*<x>)\d+", r"\g<1>0", x),
                       "xml fov nan": lambda x: re.sub(r"(<encodedSpace>\s*<matrixSize>.*?</matrixSize>\s*"
                                                       r"<fieldOfView_mm>\s*<x>)[^<]+", r"\g<1>NaN", x, flags=re.S),
                       "xml huge matrix": lambda x: re.sub(r"(<encodedSpace>\s*<matrixSize>\s*<x>)\d+", r"\g<1>60000",
                                                           re.sub(r"(<encodedSpace>\s*<matrixSize>\s*<x>\d+</x>\s*<y>)\d+",
                                                                  r"\g<1>60000", x)),
                       "xml channels 4": lambda x: re.sub(r"<receiverChannels>\d+", "<receiverChannels>4", x),
                       }[how](xml)
                del file["dataset/xml"]
                file.create_dataset("dataset/xml", data=[xml.encode()], dtype=h5py.string_dtype())
                return
            table = file["dataset/data"]
            row = table[70]
            head = row["head"]
            if how == "nan sample":
                row["data"][5] = np.nan
            elif how == "inf sample":
                row["data"][9] = np.inf
            elif how == "all nan":
                for i in range(len(table)):
                    r = table[i]
                    r["data"][:] = np.nan
                    table[i] = r
                return
            elif how == "channel count":
                head["active_channels"] = 99
            elif how == "channels 0":
                head["active_channels"] = 0
            elif how == "sample count":
                head["number_of_samples"] = 7
            elif how == "samples 0":
                head["number_of_samples"] = 0
            elif how == "short sample array":
                row["data"] = row["data"][:100]
            elif how == "huge counter":
                head["idx"]["slice"] = 60000
            elif how == "huge phase counter":
                head["idx"]["kspace_encode_step_1"] = 65000
            elif how == "discard beyond readout":
                head["discard_pre"] = 500
            elif how == "centre beyond readout":
                head["center_sample"] = 4000
            row["head"] = head
            table[70] = row
    return setup


def series_variant(model: str, edit, name="series.nii.gz", volumes=None, shape=(1, 4, 8)):
    """case/series.nii.gz for ``model`` with its sidecar changed by ``edit`` (dict -> dict or None)."""
    def setup(case: Path):
        sidecar, n = SERIES[model]
        write_series(case / name, edit(dict(sidecar)), volumes or n, shape)
    return setup


def study(rows: str, files: dict | None = None):
    """case/study.toml with ``rows`` (and ``files`` beside it)."""
    def setup(case: Path):
        (case / "study.toml").write_text('name = "sweep"\n' + rows)
        for name, data in (files or {}).items():
            (case / name).write_bytes(data)
    return setup


SIM_ROW = '[[dataset]]\nsite = "a"\nsubject = "s"\nprotocol = "gre-demo"\nscanner = "ge-premier-3t"\nphantom = "shepp-logan"\nmatrix = 32\n'


def out_file(name: str, data: bytes):
    """A file of the user's inside the output folder (it must survive)."""
    def setup(case: Path):
        (case / "out" / name).write_bytes(data)
    return setup


def chain(*setups):
    """Several setups in order."""
    def setup(case: Path):
        for step in setups:
            step(case)
    return setup


# ---------------------------------------------------------------- the cases

def cases() -> list[Case]:
    c: list[Case] = []
    add = c.append
    gre = "protocols/gre-demo.toml"
    protocol_edits = [
        ("fov nan", ("fov_mm = 250.0", "fov_mm = nan")),
        ("fov inf", ("fov_mm = 250.0", "fov_mm = inf")),
        ("fov negative", ("fov_mm = 250.0", "fov_mm = -250.0")),
        ("fov text", ("fov_mm = 250.0", 'fov_mm = "wide"')),
        ("tr nan", ("tr_ms = 10.0", "tr_ms = nan")),
        ("tr inf", ("tr_ms = 10.0", "tr_ms = inf")),
        ("tr zero", ("tr_ms = 10.0", "tr_ms = 0.0")),
        ("te beyond tr", ("te_ms = [4.0]", "te_ms = [40.0]")),
        ("flip nan", ("flip_deg = [15.0]", "flip_deg = [nan]")),
        ("flip empty list", ("flip_deg = [15.0]", "flip_deg = []")),
        ("matrix negative", ("matrix = 64", "matrix = -64")),
        ("matrix float", ("matrix = 64", "matrix = 64.5")),
        ("matrix huge", ("matrix = 64", "matrix = 100000")),
        ("unknown parameter", ("dummy_scans = 20", "dummy_scans = 20\ncolour = 3")),
        ("unknown family", ('family = "gre"', 'family = "zte"')),
        ("no name", ('name = "gre-demo"', "")),
        ("not toml", ("[parameters]", "[parameters")),
        ("unknown target", ('targets = "all"', 'targets = ["siemens-prisma-9t"]')),
    ]
    for label, (old, new) in protocol_edits:
        add(Case("protocols show", label, ["protocols", "show", "./bad.toml"], text_edit(gre, old, new, "bad.toml")))
        add(Case("seq build", label, ["seq", "build", "./bad.toml", "-o", "{out}"], text_edit(gre, old, new, "bad.toml")))
    add(Case("protocols show", "unknown name", ["protocols", "show", "t9-magic"]))
    add(Case("protocols show", "missing file", ["protocols", "show", "./missing.toml"]))
    add(Case("protocols show", "binary file", ["protocols", "show", "./bad.toml"], write_bytes("bad.toml", b"\xff\xfe\x00garbage")))
    add(Case("protocols show", "empty file", ["protocols", "show", "./bad.toml"], write_bytes("bad.toml", b"")))
    add(Case("profiles show", "unknown profile", ["profiles", "show", "siemens-prisma-9t"]))
    add(Case("profiles show", "empty name", ["profiles", "show", ""]))
    add(Case("profiles show", "path-like name", ["profiles", "show", "../../etc/passwd"]))
    add(Case("seq build", "unknown protocol", ["seq", "build", "t9-magic", "-o", "{out}"]))
    add(Case("seq build", "unknown --profiles", ["seq", "build", "gre-demo", "--profiles", "siemens-prisma-9t", "-o", "{out}"]))
    add(Case("seq build", "output is a file", ["seq", "build", "gre-demo", "-o", "{out}/notes.txt"]))
    add(Case("seq build", "foreign .seq in the way", ["seq", "build", "gre-demo", "-o", "{out}"],
             out_file("gre-demo.seq", b"a site's own sequence\n")))
    add(Case("seq build", "foreign .json in the way", ["seq", "build", "gre-demo", "-o", "{out}"],
             out_file("gre-demo.json", b'{"mine": true}\n')))
    add(Case("seq build", "disk full", ["seq", "build", "gre-demo", "-o", "{out}"], fault="full"))
    add(Case("seq build", "read-only folder", ["seq", "build", "gre-demo", "-o", "{out}"], fault="readonly"))
    add(Case("seq build", "killed mid-write", ["seq", "build", "t1-irse", "-o", "{out}"], fault="kill",
             extra={"temp": ".t1-irse.seq.hqtmp-*"}))

    seq_cases = ["truncated", "empty", "major 2", "nan shape", "negative block", "no blocks", "unknown event id", "garbage"]
    for how in seq_cases:
        add(Case("seq check", f".seq {how}", ["seq", "check", "bad.seq", "--profile", "ge-premier-3t"], seq_variant(how),
                 seqfile=True))
    add(Case("seq check", "missing file", ["seq", "check", "missing.seq", "--profile", "ge-premier-3t"]))
    add(Case("seq check", "unknown profile", ["seq", "check", "{base}/seq/gre-demo.seq", "--profile", "ge-premier-9t"]))
    add(Case("seq check", "a folder as file", ["seq", "check", "{base}/seq", "--profile", "ge-premier-3t"]))

    add(Case("phantoms show", "unknown phantom", ["phantoms", "show", "banana"]))
    add(Case("phantoms show", "matrix 0", ["phantoms", "show", "nist", "--matrix", "0"]))
    add(Case("phantoms show", "matrix negative", ["phantoms", "show", "shepp-logan", "--matrix", "-8"]))
    add(Case("phantoms show", "matrix huge", ["phantoms", "show", "shepp-logan", "--matrix", "100000", "--ndim", "3"]))
    add(Case("phantoms show", "ndim 4", ["phantoms", "show", "nist", "--ndim", "4"]))
    add(Case("phantoms show", "field nan", ["phantoms", "show", "nist", "--field", "nan"]))
    add(Case("phantoms show", "field 7 T", ["phantoms", "show", "nist", "--field", "7"]))
    add(Case("phantoms show", "png disk full", ["phantoms", "show", "shepp-logan", "--matrix", "32", "-o", "{out}/p.png"],
             fault="full"))
    add(Case("phantoms show", "png read-only", ["phantoms", "show", "shepp-logan", "--matrix", "32", "-o", "{out}/p.png"],
             fault="readonly"))

    sim = ["simulate", "{base}/seq/gre-demo.seq", "--phantom", "shepp-logan", "--scanner", "ge-premier-3t", "--matrix", "32"]

    def simulate(*changes, seq=None, output="{out}/raw.h5"):
        args = list(sim)
        if seq:
            args[1] = seq
        for option, value in zip(changes[::2], changes[1::2]):
            if option in args:
                args[args.index(option) + 1] = value
            else:
                args += [option, value]
        return args + ["-o", output]

    add(Case("simulate", "missing .seq", simulate(seq="missing.seq")))
    for how in ("truncated", "nan shape", "negative block", "empty", "garbage", "huge adc"):
        add(Case("simulate", f".seq {how}", simulate(seq="bad.seq"), seq_variant(how), seqfile=how != "huge adc"))
    add(Case("simulate", "unknown phantom", simulate("--phantom", "banana")))
    add(Case("simulate", "unknown scanner", simulate("--scanner", "ge-premier-9t")))
    add(Case("simulate", "scanner TOML garbage", simulate("--scanner", "bad.toml"), write_bytes("bad.toml", b"[[[")))
    add(Case("simulate", "matrix 0", simulate("--matrix", "0")))
    add(Case("simulate", "matrix negative", simulate("--matrix", "-4")))
    add(Case("simulate", "matrix huge", simulate("--matrix", "200000")))
    add(Case("simulate", "spins per voxel 0", simulate("--spins-per-voxel", "0")))
    add(Case("simulate", "offset text", simulate("--slice-offset-mm", "left")))
    add(Case("simulate", "offset nan", simulate("--slice-offset-mm", "nan,0,0")))
    add(Case("simulate", "offset two numbers", simulate("--slice-offset-mm", "1,2")))
    add(Case("simulate", "angles inf", simulate("--slice-angles-deg", "0,inf,0")))
    add(Case("simulate", "tilted 2D phantom", simulate("--slice-angles-deg", "30,0,0", "--phantom", "nist")))
    add(Case("simulate", "output is a folder", simulate(output="{out}")))
    add(Case("simulate", "foreign raw.h5 in the way", simulate(), out_file("raw.h5", b"a site's raw data")))
    add(Case("simulate", "disk full", simulate(), fault="full"))
    add(Case("simulate", "read-only folder", simulate(), fault="readonly"))
    add(Case("simulate", "killed mid-write", simulate(), fault="kill", extra={"temp": ".raw.h5.hqtmp-*"}))

    def recon(raw="bad.h5", *more, output="{out}/image.nii.gz"):
        return ["recon", raw, *more, "-o", output]

    raw_cases = ["nan sample", "inf sample", "all nan", "channel count", "channels 0", "sample count", "samples 0",
                 "short sample array", "huge counter", "huge phase counter", "discard beyond readout",
                 "centre beyond readout", "no acquisitions", "no data table", "no xml", "xml broken", "xml matrix 0",
                 "xml fov nan", "xml huge matrix", "xml channels 4"]
    for how in raw_cases:
        add(Case("recon", f"raw {how}", recon(), raw_variant(how)))
    add(Case("recon", "missing raw", recon("missing.h5")))
    add(Case("recon", "not HDF5", recon(), write_bytes("bad.h5", b"plain text, not HDF5\n")))
    add(Case("recon", "wrong --group", recon("{base}/raw.h5", "--group", "nope")))
    add(Case("recon", "--seq missing", recon("{base}/raw.h5", "--seq", "missing.seq")))
    add(Case("recon", "--seq truncated", recon("{base}/raw.h5", "--seq", "bad.seq"), seq_variant("truncated"), seqfile=True))
    add(Case("recon", "--seq garbage", recon("{base}/raw.h5", "--seq", "bad.seq"), seq_variant("garbage"), seqfile=True))
    add(Case("recon", "output suffix .txt", recon("{base}/raw.h5", output="{out}/image.txt")))
    add(Case("recon", "seq build's sidecar in the way", recon("{base}/raw.h5", output="{out}/gre-demo.nii.gz"),
             lambda case: shutil.copy(case.parent.parent / "base/seq/gre-demo.json", case / "out/gre-demo.json")))
    add(Case("recon", "foreign sidecar in the way", recon("{base}/raw.h5"), out_file("image.json", b'{"other": 1}')))
    add(Case("recon", "foreign image in the way", recon("{base}/raw.h5"), out_file("image.nii.gz", b"an image")))
    add(Case("recon", "sidecar name is a folder", recon("{base}/raw.h5"), lambda case: (case / "out/image.json").mkdir()))
    add(Case("recon", "disk full", recon("{base}/raw.h5"), fault="full"))
    add(Case("recon", "read-only folder", recon("{base}/raw.h5"), fault="readonly"))
    add(Case("recon", "killed mid-write", recon("{base}/raw.h5"), fault="kill", extra={"temp": ".image.*hqtmp-*"}))

    for model, key in PER_VOLUME_KEY.items():
        fit = ["fit", model, "series.nii.gz", "-o", "{out}"]
        add(Case("fit", f"{model}: no sidecar", fit, series_variant(model, lambda s: None)))
        add(Case("fit", f"{model}: {key} missing", fit, series_variant(model, lambda s, k=key: {x: v for x, v in s.items() if x != k})))
        add(Case("fit", f"{model}: {key} text", fit, series_variant(model, lambda s, k=key: {**s, k: ["a"] * len(s[k])})))
        add(Case("fit", f"{model}: {key} NaN", fit, series_variant(model, lambda s, k=key: {**s, k: [float("nan")] * len(s[k])})))
        add(Case("fit", f"{model}: {key} one too few", fit, series_variant(model, lambda s, k=key: {**s, k: s[k][:-1]})))
        add(Case("fit", f"{model}: noise sigma -1", [*fit, "--noise-sigma", "-1"], series_variant(model, lambda s: s)))
    add(Case("fit", "t1-vfa: TR text", ["fit", "t1-vfa", "series.nii.gz", "-o", "{out}"],
             series_variant("t1-vfa", lambda s: {**s, "RepetitionTimeExcitation": "15 ms"})))
    add(Case("fit", "t2-mese: refocusing NaN", ["fit", "t2-mese", "series.nii.gz", "-o", "{out}"],
             series_variant("t2-mese", lambda s: {**s, "RefocusingFlipAngle": float("nan")})))
    ir = ["fit", "t1-ir", "{base}/t1-ir.nii.gz", "-o", "{out}"]
    add(Case("fit", "unknown model", ["fit", "t9-magic", "{base}/t1-ir.nii.gz", "-o", "{out}"]))
    add(Case("fit", "missing image", ["fit", "t1-ir", "missing.nii.gz", "-o", "{out}"]))
    add(Case("fit", "corrupt image", ["fit", "t1-ir", "series.nii.gz", "-o", "{out}"],
             chain(write_bytes("series.nii.gz", b"\x1f\x8b garbage"), write_bytes("series.json", b"{}"))))
    add(Case("fit", "sidecar not JSON", ["fit", "t1-ir", "series.nii.gz", "-o", "{out}"],
             chain(series_variant("t1-ir", lambda s: s), write_bytes("series.json", b"{not json"))))
    add(Case("fit", "sidecar a list", ["fit", "t1-ir", "series.nii.gz", "-o", "{out}"],
             chain(series_variant("t1-ir", lambda s: s), write_bytes("series.json", b"[1, 2]"))))
    add(Case("fit", "noise sigma 0", [*ir, "--noise-sigma", "0"]))
    add(Case("fit", "noise sigma nan", [*ir, "--noise-sigma", "nan"]))
    add(Case("fit", "mask of another shape", [*ir, "--mask", "{base}/mask-3x3.nii.gz"]))
    add(Case("fit", "b1 of another shape", ["fit", "t1-vfa", "{base}/t1-vfa.nii.gz", "--b1", "{base}/mask-3x3.nii.gz", "-o", "{out}"]))
    add(Case("fit", "b1 missing", ["fit", "t1-vfa", "{base}/t1-vfa.nii.gz", "--b1", "missing.nii.gz", "-o", "{out}"]))
    add(Case("fit", "t2-mese --seq truncated", ["fit", "t2-mese", "{base}/t2-mese.nii.gz", "--seq", "bad.seq", "-o", "{out}"],
             seq_variant("truncated"), seqfile=True))
    add(Case("fit", "foreign map in the way", ir, out_file("t1-ir_T1map.nii.gz", b"someone's map")))
    add(Case("fit", "output is a file", ["fit", "t1-ir", "{base}/t1-ir.nii.gz", "-o", "{out}/notes.txt"]))
    add(Case("fit", "disk full", ir, fault="full"))
    add(Case("fit", "read-only folder", ir, fault="readonly"))
    add(Case("fit", "killed mid-write", ["fit", "t2-mese", "{base}/t2-mese.nii.gz", "-o", "{out}"], fault="kill",
             extra={"temp": ".t2-mese_*hqtmp-*"}))

    run = ["run", "gre-demo", "--scanner", "ge-premier-3t", "--phantom", "shepp-logan", "--matrix", "32", "-o", "{out}/run"]
    add(Case("run", "unknown protocol", ["run", "t9-magic", "--scanner", "ge-premier-3t", "-o", "{out}/run"]))
    add(Case("run", "unknown scanner", ["run", "gre-demo", "--scanner", "ge-premier-9t", "-o", "{out}/run"]))
    add(Case("run", "unknown phantom", ["run", "gre-demo", "--scanner", "ge-premier-3t", "--phantom", "banana", "-o", "{out}/run"]))
    add(Case("run", "matrix 0", ["run", "gre-demo", "--scanner", "ge-premier-3t", "--matrix", "0", "-o", "{out}/run"]))
    add(Case("run", "missing raw", ["run", "gre-demo", "--raw", "missing.h5", "-o", "{out}/run"]))
    add(Case("run", "raw with a NaN sample", ["run", "gre-demo", "--raw", "bad.h5", "-o", "{out}/run"], raw_variant("nan sample")))
    add(Case("run", "protocol with NaN", ["run", "./bad.toml", "--scanner", "ge-premier-3t", "-o", "{out}/run"],
             text_edit(gre, "tr_ms = 10.0", "tr_ms = nan", "bad.toml")))
    add(Case("run", "disk full", run, fault="full"))
    add(Case("run", "read-only folder", run, fault="readonly"))

    add(Case("compare", "unknown protocol", ["compare", "t9-magic", "--scanners", "3t", "-o", "{out}/cmp"]))
    add(Case("compare", "unknown scanners", ["compare", "gre-demo", "--scanners", "7t", "-o", "{out}/cmp"]))
    add(Case("compare", "empty protocol list", ["compare", ",", "-o", "{out}/cmp"]))
    add(Case("compare", "unknown phantom", ["compare", "t1-irse", "--phantom", "banana", "-o", "{out}/cmp"]))
    add(Case("compare", "matrix 0", ["compare", "t1-irse", "--matrix", "0", "-o", "{out}/cmp"]))
    add(Case("compare", "read-only folder", ["compare", "t1-irse", "--matrix", "48", "-o", "{out}/cmp"], fault="readonly"))

    batch = ["batch", "study.toml", "--workers", "1", "-o", "{out}/study"]
    add(Case("batch", "missing study", ["batch", "missing.toml", "-o", "{out}/study"]))
    add(Case("batch", "study not TOML", batch, write_bytes("study.toml", b"[[dataset")))
    add(Case("batch", "no datasets", batch, study("")))
    add(Case("batch", "missing raw file", batch, study(SIM_ROW + '[[dataset]]\nsite = "b"\nsubject = "s"\nprotocol = "gre-demo"\nraw = "missing.h5"\n')))
    add(Case("batch", "unknown protocol", batch, study(SIM_ROW.replace('"gre-demo"', '"t9-magic"'))))
    add(Case("batch", "unknown scanner", batch, study(SIM_ROW.replace("ge-premier-3t", "ge-premier-9t"))))
    add(Case("batch", "unknown phantom", batch, study(SIM_ROW.replace('"shepp-logan"', '"banana"'))))
    add(Case("batch", "matrix 0", batch, study(SIM_ROW.replace("matrix = 32", "matrix = 0"))))
    add(Case("batch", "negative seed", batch, study(SIM_ROW + "seed = -1\n")))
    add(Case("batch", "unknown key", batch, study(SIM_ROW + "colour = 1\n")))
    add(Case("batch", "duplicate dataset", batch, study(SIM_ROW + SIM_ROW)))
    add(Case("batch", "raw and scanner", batch, study(SIM_ROW + 'raw = "x.h5"\n')))
    add(Case("batch", "workers 0", ["batch", "study.toml", "--workers", "0", "-o", "{out}/study"], study(SIM_ROW)))
    add(Case("batch", "corrupt raw on a worker", batch,
             study('[[dataset]]\nsite = "a"\nsubject = "s"\nprotocol = "gre-demo"\nraw = "corrupt.h5"\n',
                   {"corrupt.h5": b"not HDF5"}), exit_codes=(1,), extra={"failed_line": True}))
    return c


# ---------------------------------------------------------------- running and classifying

def snapshot(folder: Path) -> dict:
    """sha256 of every file under ``folder`` (hidden ones too; empty folders do not count)."""
    if not folder.exists():
        return {}
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def finished_stages(out: Path) -> set:
    """Files of pipeline stages that finished (their manifest lists them), with the manifests.

    ``run``, ``compare`` and ``batch`` keep finished stages by design (a rerun resumes), so these
    are not partial output.
    """
    kept = set()
    for manifest in out.rglob(".*.stage.json"):
        names = [manifest] + [manifest.parent / name for name, _ in json.loads(manifest.read_text())["outputs"]]
        kept.update(str(path.relative_to(out)) for path in names)
    return kept


def classify(case: Case, code, stdout: str, stderr: str, before: dict, after: dict, kept=frozenset()) -> tuple[str, str]:
    lines = [line for line in re.split(r"[\r\n]", stderr) if line.strip() and "%|" not in line]
    last = lines[-1] if lines else ""
    user_lost = [name for name, digest in before.items() if after.get(name) != digest]
    if code is None:
        return "hang", "killed after the timeout"
    if "Traceback" in stderr or "Traceback" in stdout:
        return "traceback", next((line for line in reversed(lines) if "Error" in line), last)
    if user_lost:
        return "lost file", ", ".join(user_lost)
    if code == 0:
        return "silent success", (stdout.strip().splitlines() or [""])[-1]
    added = sorted(set(after) - set(before) - set(kept))
    if added and not case.extra.get("failed_line"):
        return "partial output", ", ".join(added[:4])
    expected_line = last.startswith("FAILED ") if case.extra.get("failed_line") else last.startswith("error:")
    if code in case.exit_codes and len(lines) == 1 and expected_line and "Warning" not in stderr \
            and not INTERNAL.search(last):
        return "clean", last
    return "unclear", f"exit {code}: " + " | ".join(lines[-3:])


def run_case(index: int, case: Case, work: Path, base: Path, timeout: float, is_root: bool):
    folder = work / "cases" / f"{index:03d}"
    if (case.fault in ("full", "readonly")) and not is_root:
        return "not run", "needs root (tmpfs, user nobody)"
    folder.mkdir(parents=True)
    folder.chmod(0o755)
    out = folder / "out"
    out.mkdir()
    mounted = False
    try:
        if case.fault == "full":
            subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(out)], check=True)
            mounted = True
            (out / USER_FILE).write_bytes(os.urandom(52 * 1024))
        else:
            (out / USER_FILE).write_text("the user's own notes\n")
        if case.setup:
            case.setup(folder)
        for path in folder.rglob("*"):
            if not path.is_mount() and not (mounted and out in path.parents):
                path.chmod(0o755 if path.is_dir() else 0o644)
        if case.fault == "readonly":
            out.chmod(0o555)
        args = [str(a).format(base=base, case=folder, out=out) for a in case.args]
        before = snapshot(out)
        if case.fault == "kill":
            return run_killed(case, args, folder, out, timeout)
        code, stdout, stderr = run_cli(args, folder, timeout, as_nobody=case.fault == "readonly")
        return classify(case, code, stdout, stderr, before, snapshot(out), finished_stages(out))
    finally:
        if mounted:
            subprocess.run(["umount", str(out)], check=False)


def run_killed(case: Case, args, folder: Path, out: Path, timeout: float):
    """SIGKILL as soon as the writer's temp appears; the next run must remove it and succeed."""
    command = [sys.executable, "-m", "harmoniq.cli", *args]
    caught = False
    for _ in range(5):
        proc = subprocess.Popen(command, cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)
        deadline = time.time() + timeout
        while proc.poll() is None and time.time() < deadline:
            if list(out.glob(case.extra["temp"])):
                os.killpg(proc.pid, signal.SIGKILL)
                caught = True
                break
            time.sleep(0.0005)
        proc.wait()
        if caught and list(out.glob(case.extra["temp"])):
            break
        caught = False
        for path in out.iterdir():
            if path.name != USER_FILE:
                shutil.rmtree(path) if path.is_dir() else path.unlink()
    if not caught:
        return "not run", "the write was never caught in progress"
    code, _, stderr = run_cli(args, folder, timeout)
    left = sorted(p.name for p in out.rglob(".*hq*"))
    if code is None:
        return "hang", "the run after the kill hung"
    if "Traceback" in stderr:
        return "traceback", stderr.strip().splitlines()[-1]
    if code != 0:
        return "unclear", f"the run after the kill failed: {stderr.strip().splitlines()[-1:]}"
    if left:
        return "partial output", f"temps left: {', '.join(left)}"
    return "clean", "the next run removed the killed run's temp and succeeded"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, default=None, help="Work folder (default: a new one under /tmp).")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=60.0, help="Seconds before a case counts as a hang.")
    parser.add_argument("--only", default="", help="Run only cases whose command or name contains this.")
    options = parser.parse_args()
    work = options.work or Path(tempfile.mkdtemp(dir="/tmp", prefix="hostile-sweep-"))
    work.mkdir(parents=True, exist_ok=True)
    work.chmod(0o755)
    base = work / "base"
    if not (base / "raw.h5").is_file():
        base.mkdir(exist_ok=True)
        base.chmod(0o755)
        prepare_base(base)
    shutil.rmtree(work / "cases", ignore_errors=True)
    selected = [case for case in cases() if options.only in f"{case.command} {case.name}"]
    is_root = os.geteuid() == 0
    started = time.time()
    with ThreadPoolExecutor(options.jobs) as pool:
        futures = [pool.submit(run_case, i, case, work, base, options.timeout, is_root) for i, case in enumerate(selected)]
        results = []
        for case, future in zip(selected, futures):
            outcome, detail = future.result()
            results.append((case, outcome, detail))
            print(f"{outcome:15s} {case.command:15s} {case.name:35s} {detail[:150]}", flush=True)
    table = work / "hostile_sweep.tsv"
    with open(table, "w", encoding="utf-8") as handle:
        handle.write("command\tcase\tfault\tseq_reader\toutcome\tdetail\n")
        for case, outcome, detail in results:
            handle.write("\t".join([case.command, case.name, case.fault or "-", "yes" if case.seqfile else "no",
                                    outcome, " ".join(detail.split())]) + "\n")
    for label, group in (("all other cases", [r for r in results if not r[0].seqfile]),
                         (".seq-file reader cases", [r for r in results if r[0].seqfile])):
        counts = collections.Counter(outcome for _, outcome, _ in group)
        print(f"{label}: {len(group)} | " + " | ".join(f"{name} {counts.get(name, 0)}" for name in OUTCOMES))
    print(f"{len(results)} cases in {time.time() - started:.0f} s; table: {table}")
    bad = [r for r in results if not r[0].seqfile and r[1] not in ("clean", "not run")]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
