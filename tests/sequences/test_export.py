"""One .seq per protocol, accepted by every target scanner, byte-identical across processes: the CLI's build in
a fresh process gives the bytes whose sha256 is committed in protocols/golden.sha256 (written by another
process, on another day)."""

import hashlib
import json
import re
import subprocess
import sys

from pathlib import Path

import pytest

from harmoniq.protocols import list_protocols

GOLDEN = Path(__file__).resolve().parents[2] / "protocols" / "golden.sha256"


def _md5_signature_ok(data: bytes) -> bool:
    """Pulseq's rule: md5 of the file up to (not including) the newline before [SIGNATURE]."""
    head, _, tail = data.partition(b"\n[SIGNATURE]\n")
    digest = re.search(rb"Hash ([0-9a-f]{32})", tail).group(1).decode()
    return hashlib.md5(head).hexdigest() == digest


def _build(outdir):
    subprocess.run(
        [sys.executable, "-m", "harmoniq.cli", "seq", "build", "all", "-o", str(outdir)],
        check=True, capture_output=True, text=True,
    )


@pytest.mark.slow
def test_every_protocol_builds_one_file_that_every_target_accepts_with_the_committed_bytes(tmp_path):
    _build(tmp_path / "a")
    golden = {name: digest for digest, name in (line.split() for line in GOLDEN.read_text().splitlines() if line)}
    for name in list_protocols():
        data = (tmp_path / "a" / f"{name}.seq").read_bytes()
        assert hashlib.sha256(data).hexdigest() == golden[f"{name}.seq"], name
        assert b"\r" not in data
        assert _md5_signature_ok(data)
        side = json.loads((tmp_path / "a" / f"{name}.json").read_text())
        assert side["seq"]["sha256"] == hashlib.sha256(data).hexdigest()
        assert side["pypulseq_version"] == "1.5.0.post1"
        assert len(side["checks"]) == 6
        assert all(report["ok"] for report in side["checks"].values()), name
        assert b"GradientRasterTime 2e-05" in data and b"RadiofrequencyRasterTime 2e-06" in data
