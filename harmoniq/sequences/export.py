"""Build a protocol into ONE .seq file for all its target scanners, check it, write it.

The file is written by pypulseq (pinned), with LF line endings and pypulseq's md5 signature;
its SHA-256 goes into a JSON sidecar together with the protocol, the harmonized limits, the
acquisition metadata, the timing measured back from the file and every target's check.
For GE targets the pge2 interpreter's ``.pge`` file, serialized from the written ``.seq``, goes
next to it with its SHA-256 in the sidecar. All files are written atomically, and only when
every target scanner accepts the sequence.
"""

from __future__ import annotations

import hashlib
import re
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import pypulseq as pp

from harmoniq import __version__
from harmoniq.atomic import check_targets, output_files, sidecar_text
from harmoniq.errors import HarmoniqError
from harmoniq.protocols import Protocol
from harmoniq.sequences import builder_for
from harmoniq.sequences.common import AcquisitionInfo
from harmoniq.sequences.timing import measure_timing

STAGE = "seq"
"""The stage recorded in the sidecar: ``.seq`` + ``.json`` of a protocol."""
_SIGNATURE = re.compile(rb"\n\[SIGNATURE\]\n.*?Hash ([0-9a-f]{32})\n", re.S)


@dataclass
class BuiltSequence:
    """A protocol built on the harmonized limits of its targets."""

    protocol: Protocol
    seq: pp.Sequence
    info: AcquisitionInfo
    limits: object  # harmoniq.scanners.HarmonizedLimits


def build(protocol: Protocol) -> BuiltSequence:
    """Build ``protocol`` on the harmonized limits of its targets."""
    builder, limits = builder_for(protocol)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # pypulseq's notes on rounded delays
        seq, info = builder.build()
    info.duration_s = float(seq.duration()[0])
    info.write_definitions(seq)
    return BuiltSequence(protocol, seq, info, limits)


def seq_bytes(seq: pp.Sequence) -> bytes:
    """The .seq file's bytes: pypulseq's writer, LF line endings, signed."""
    with tempfile.TemporaryDirectory() as tmpdir:
        path = Path(tmpdir) / "sequence.seq"
        seq.write(str(path), create_signature=True)
        data = path.read_bytes()
    # pypulseq signs the text as read back in text mode, i.e. with LF: normalising keeps it valid
    return data.replace(b"\r\n", b"\n")


def verify_signature(data: bytes) -> bool:
    """True when the file's md5 [SIGNATURE] matches its content (everything before the
    newline that precedes ``[SIGNATURE]``)."""
    match = _SIGNATURE.search(data)
    return bool(match) and hashlib.md5(data[: match.start()]).hexdigest() == match.group(1).decode()


def measured_timing(seq: pp.Sequence) -> dict:
    """TE, TR and TI measured back from the sequence's own blocks (s)."""
    return measure_timing(seq).summary()


def played_timing(report, designed: dict) -> dict:
    """TR, TE, TI (s) a vendor plays: GE's interpreter timeline where the check modelled it
    (12 us + 105 us per segment instance, ``harmoniq.scanners.ge``), else the file's own."""
    played = report.interpreter
    if played is None:
        return {**designed, "source": "as designed (the file's own timeline)"}
    return {"te_s": played["played_te_s"], "ti_s": played["played_ti_s"], "tr_s": played["played_tr_s"],
            "source": "pge2 interpreter timeline: 12 us before and 105 us after every segment instance"}


def export(protocol: Protocol, outdir: str | Path, scanners: list[str] | None = None, *,
           force: bool = False) -> tuple[Path, Path]:
    """Build, check against every target (or ``scanners``), write ``<name>.seq`` + ``<name>.json``.

    Raises HarmoniqError, writing nothing, when a target scanner rejects the sequence or a
    file of that name exists that ``export`` did not write (unless ``force``).
    """
    from harmoniq.scanners import check, load_profile
    from harmoniq.scanners.pge import pge_bytes

    if scanners is not None:
        protocol = protocol.with_targets(scanners)
    outdir = Path(outdir)
    seq_path, json_path = outdir / f"{protocol.name}.seq", outdir / f"{protocol.name}.json"
    ge_targets = [name for name in protocol.targets if load_profile(name).vendor == "GE"]
    pge_path = outdir / f"{protocol.name}.pge"  # what GE's pge2 interpreter plays, for GE targets
    targets = (seq_path, pge_path, json_path) if ge_targets else (seq_path, json_path)
    check_targets(*targets, stage=STAGE, force=force)
    built = build(protocol)
    data = seq_bytes(built.seq)
    checks, played = {}, {}
    designed = measured_timing(built.seq)
    for name in protocol.targets:
        profile = load_profile(name)
        report = check(built.seq, profile)
        checks[name] = report.to_dict()
        played[profile.vendor] = played_timing(report, designed)
        if not report.ok:
            summary = "; ".join(str(r) for r in report.summary())
            raise HarmoniqError(f"protocol {protocol.name}: the sequence fails the checks of {name}: {summary}")
    sidecar = {
        "protocol": {
            "name": protocol.name,
            "family": protocol.family,
            "file": protocol.path.name,
            "sha256": protocol.sha256,
            "parameters": protocol.values,
            "valid_range": protocol.valid_range,
        },
        "seq": {"file": f"{protocol.name}.seq", "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)},
        "pypulseq_version": pp.__version__,
        "harmoniq_version": __version__,
        "harmonized_limits": built.limits.to_dict(),
        "acquisition": built.info.to_dict(),
        "measured_timing": designed,
        "played_timing": played,
        "total_duration_s": built.info.duration_s,
        "checks": checks,
    }
    with output_files(*targets, stage=STAGE, force=force) as temps:
        temps[0].write_bytes(data)
        if ge_targets:  # serialized from the .seq as written, as pge2 does
            pge = pge_bytes(temps[0], str(pge_path))
            temps[1].write_bytes(pge)
            sidecar["pge"] = {"file": pge_path.name, "sha256": hashlib.sha256(pge).hexdigest(), "bytes": len(pge),
                              "profiles": ge_targets}
        temps[-1].write_text(sidecar_text(sidecar, STAGE), encoding="utf-8")
    return seq_path, json_path
