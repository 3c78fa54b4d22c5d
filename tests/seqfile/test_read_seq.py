"""read_seq: every shipped protocol and pypulseq's own files pass; damaged files fail in one line."""

from __future__ import annotations

import hashlib
import re
import warnings

import numpy as np
import pypulseq as pp
import pytest
from hostile import harmoniq_seq, hostile_files, pypulseq_seq

from harmoniq.errors import HarmoniqError
from harmoniq.protocols import list_protocols, load_protocol
from harmoniq.seqfile import block_table, read_seq, validate_seq_text, walk_blocks
from harmoniq.seqfile import structure
from harmoniq.sequences.export import build, seq_bytes


@pytest.fixture(scope="module")
def valid_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("valid")
    return {"harmoniq": harmoniq_seq(folder), "pypulseq": pypulseq_seq(folder / "pypulseq.seq")}


def _pypulseq_read(path):
    seq = pp.Sequence()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        seq.read(str(path))
    return seq


@pytest.mark.parametrize("name", list_protocols())
def test_every_shipped_protocol_reads_as_pypulseq_reads_it(name, tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        built = build(load_protocol(name))
    path = tmp_path / f"{name}.seq"
    path.write_bytes(seq_bytes(built.seq))
    assert validate_seq_text(path) == (1, 5, 0)
    seq, reference = read_seq(path), _pypulseq_read(path)
    assert list(seq.block_events) == list(reference.block_events) == list(built.seq.block_events)
    assert seq.block_durations == reference.block_durations
    assert seq.rf_library.type == reference.rf_library.type  # the RF uses the file stores


def test_a_pypulseq_written_file_reads_with_its_events(valid_files):
    path = valid_files["pypulseq"]
    seq = read_seq(path)
    blocks = list(walk_blocks(seq))
    assert len(blocks) == 11 and blocks[0].duration_s == 0.0 and blocks[0].ext  # the label-only block
    assert [b.rf.use for b in blocks if b.rf is not None] == ["excitation", "refocusing"] * 2
    assert sum(b.adc is not None for b in blocks) == 2
    np.testing.assert_allclose([b.start_s for b in blocks], np.cumsum([0] + [b.duration_s for b in blocks[:-1]]))
    assert blocks[-1].start_s + blocks[-1].duration_s == pytest.approx(_pypulseq_read(path).duration()[0])


def test_a_loaded_sequence_is_returned_as_it_is(valid_files):
    seq = read_seq(valid_files["harmoniq"])
    assert read_seq(seq) is seq
    with pytest.raises(HarmoniqError, match="expected a .seq path or a pypulseq Sequence, got int"):
        read_seq(42)


@pytest.mark.parametrize("source", ["harmoniq", "pypulseq"])
def test_each_damage_is_named_in_one_line_with_what_would_be_valid(valid_files, tmp_path, source):
    for name, (path, expected) in hostile_files(valid_files[source], tmp_path).items():
        with pytest.raises(HarmoniqError) as error:
            read_seq(path)
        message = str(error.value)
        assert "\n" not in message and message.startswith(f"{path}: ") and "; " in message, name
        assert re.search(expected, message), (name, message)


def test_a_cut_at_any_offset_is_an_error_unless_it_leaves_the_complete_unsigned_file(valid_files, tmp_path):
    data = valid_files["harmoniq"].read_bytes()
    unsigned_end = data.index(b"\n[SIGNATURE]")
    offsets = {i + 1 for i, byte in enumerate(data) if byte == ord("\n")} | set(range(0, len(data), 53))
    offsets.add(len(data) - 1)
    accepted = []
    cut = tmp_path / "cut.seq"
    for offset in sorted(o for o in offsets if o < len(data)):
        cut.write_bytes(data[:offset])
        try:
            validate_seq_text(cut)
        except HarmoniqError:
            continue
        accepted.append(offset)
    # only the file without its signature (ended by the blank lines before [SIGNATURE]) and the
    # signed file without its final newline pass: both hold every event of the file
    assert accepted == [unsigned_end, unsigned_end + 1, len(data) - 1]
    cut.write_bytes(data[:unsigned_end])
    assert list(read_seq(cut).block_events) == list(read_seq(valid_files["harmoniq"]).block_events)


def test_the_signature_guards_the_content(valid_files, tmp_path):
    text = valid_files["harmoniq"].read_text()
    edited = tmp_path / "edited.seq"
    edited.write_text(text.replace("FlipAngle 15", "FlipAngle 16"))
    with pytest.raises(HarmoniqError, match=r"the md5 \[SIGNATURE\] does not match the file's content"):
        read_seq(edited)
    signed = text[: text.index("\n[SIGNATURE]")]
    assert hashlib.md5(signed.encode()).hexdigest() in text  # the writer's own rule, checked independently
    edited.write_text(signed.replace("FlipAngle 15", "FlipAngle 16") + "\n")
    assert read_seq(edited).definitions["FlipAngle"] == 16


@pytest.mark.parametrize("edit, expected", [
    (lambda t: t.replace("[TRAP]", "[TRAPS]", 1), r"unknown section '\[TRAPS\]'"),
    (lambda t: t.replace("[SIGNATURE]", "[ADC]\n1 64 20000 80 0 0 0 0 0\n\n[SIGNATURE]", 1),
     r"section '\[ADC\]' appears a second time"),
    (lambda t: re.sub(r"(?m)^1 1 1 0$", "1 1 1 1", t, count=1), r"extension list 1 loops back to 1"),
    (lambda t: t.replace("minor 5", "minor 6", 1), r"format version 1\.6\.0 is not supported.*1\.2 to 1\.5"),
    (lambda t: re.sub(r"(?m)^BlockDurationRaster.*\n", "", t), r"\[DEFINITIONS\] lacks BlockDurationRaster"),
    (lambda t: t.replace("shape_id 2\nnum_samples 1000", "shape_id 2\nnum_samples 1001", 1),
     r"shape 2 holds 1000 samples but declares 1001"),
    (lambda t: t.replace("shape_id 1\nnum_samples 1000", "shape_id 1\nnum_samples 999", 1),
     r"shape 1 repeats a value 0\.99\d+ times"),
    (lambda t: re.sub(r"(\[ADC\]\n(?:#.*\n)*)1 \d+ ", r"\g<1>1 0 ", t, count=1), r"ADC 1 has 0 samples"),
    (lambda t: t.replace("[VERSION]", "stray text\n[VERSION]", 1), r"'stray text' is outside any section \(line 4\)"),
])
def test_structure_rules(valid_files, tmp_path, edit, expected):
    path = tmp_path / "edited.seq"
    path.write_text(edit(valid_files["harmoniq"].read_text()))
    with pytest.raises(HarmoniqError, match=expected):
        validate_seq_text(path)


def test_a_timed_block_of_zero_duration_and_an_oversized_file_are_refused(valid_files, tmp_path, monkeypatch):
    text = valid_files["pypulseq"].read_text()
    path = tmp_path / "zero.seq"
    path.write_text(re.sub(r"(?m)^ *2 +\d+ ", "2 0 ", text, count=1))
    with pytest.raises(HarmoniqError, match=r"block 2 lasts '0' block rasters.*0 only for a block of extensions"):
        validate_seq_text(path)
    monkeypatch.setattr(structure, "MAX_BYTES", 1000)
    with pytest.raises(HarmoniqError, match=r"bytes is larger than any Pulseq file"):
        validate_seq_text(valid_files["pypulseq"])


def test_a_missing_or_unreadable_path(tmp_path):
    with pytest.raises(HarmoniqError, match=r"missing.seq: no such .seq file"):
        read_seq(tmp_path / "missing.seq")
    with pytest.raises(HarmoniqError, match=r"no such .seq file"):
        read_seq(tmp_path)


FORMAT_1_4 = """[VERSION]
major 1
minor 4
revision 1

[DEFINITIONS]
AdcRasterTime 1e-07
BlockDurationRaster 1e-05
GradientRasterTime 1e-05
RadiofrequencyRasterTime 1e-06

[BLOCKS]
1 30 1 0 0 0 0 0
2 30 2 0 0 0 0 0
3 20 0 0 0 0 1 0

[RF]
1 2500 1 2 0 100 0 0
2 5000 1 2 0 100 0 0

[ADC]
1 16 10000 10 0 0

[SHAPES]

shape_id 1
num_samples 100
1
0
0
97

shape_id 2
num_samples 100
0
0
98

"""


def test_a_format_1_4_file_gets_its_rf_use_detected_as_every_former_reader_did(tmp_path):
    """Format 1.4 stores no RF use (shapes: run-length coded derivatives, so '1 0 0 97' is 100 ones):
    a 90 degree block pulse reads as excitation, a 180 as refocusing,
    the same with pypulseq's default policy (read_seq) as with detection forced on."""
    path = tmp_path / "format14.seq"
    path.write_text(FORMAT_1_4)
    assert validate_seq_text(path) == (1, 4, 1)
    seq = read_seq(path)
    forced = pp.Sequence()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        forced.read(str(path), detect_rf_use=True)
    assert [b.rf.use for b in walk_blocks(seq) if b.rf is not None] == ["excitation", "refocusing"]
    assert seq.rf_library.type == forced.rf_library.type
    assert [b.duration_s for b in walk_blocks(seq)] == pytest.approx([300e-6, 300e-6, 200e-6])


def test_the_block_walk_decodes_each_event_once(valid_files, monkeypatch):
    seq = read_seq(valid_files["harmoniq"])
    table = block_table(seq)
    decoded = []
    get_block = seq.get_block
    monkeypatch.setattr(seq, "get_block", lambda block_id: decoded.append(block_id) or get_block(block_id))
    blocks = list(walk_blocks(seq))
    distinct = {(column, event) for column in range(5) for event in table.events[:, column] if event}
    assert len(blocks) == len(table) == len(seq.block_events) and len(decoded) <= len(distinct) < len(blocks)
    assert [b.block_id for b in blocks] == table.block_ids.tolist()
    assert blocks[-1].start_s + blocks[-1].duration_s == pytest.approx(seq.duration()[0], abs=1e-12)
