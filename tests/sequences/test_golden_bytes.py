"""The bytes of every shipped protocol's .seq are part of the contract: their sha256 is committed
in ``protocols/golden.sha256`` (``sha256sum`` format), and any change of bytes, from a refactor or a
pypulseq update, must update that file and say why in CHANGELOG.md."""

import hashlib
from pathlib import Path

from harmoniq.protocols import list_protocols
from harmoniq.sequences.export import seq_bytes

GOLDEN = Path(__file__).resolve().parents[2] / "protocols" / "golden.sha256"


def _golden() -> dict[str, str]:
    rows = [line.split() for line in GOLDEN.read_text().splitlines() if line.strip()]
    return {name.removesuffix(".seq"): digest for digest, name in rows}


def test_every_shipped_protocol_has_a_golden_hash():
    assert sorted(_golden()) == list_protocols()


def test_seq_bytes_match_the_committed_sha256(shipped):
    name = shipped.protocol.name
    data = seq_bytes(shipped.seq)
    assert hashlib.sha256(data).hexdigest() == _golden()[name], (
        f"{name}.seq changed bytes: if deliberate, update protocols/golden.sha256 and CHANGELOG.md")
