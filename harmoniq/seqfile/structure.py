"""Check the text structure of a Pulseq ``.seq`` file before any parser sees it.

pypulseq's reader trusts its input: a file cut inside ``[SHAPES]`` makes it loop forever,
and NaN samples, negative durations or dangling event ids pass silently. This module reads
the file once, line by line, and raises a one-line :class:`HarmoniqError` --
``"<file>: <what is wrong> (line N); <what would be valid>"`` -- unless

- the file is text of at most :data:`MAX_BYTES` bytes with a ``[VERSION]`` of major 1,
  minor 2 to 5 (the formats pypulseq 1.5.0 reads) before its ``[BLOCKS]``;
- every section is known, appears once, and every row has the columns of its version;
- every number is finite; times, durations, sample counts and dwell times are not negative
  (counts and dwells positive); a block lasts a positive whole number of
  ``BlockDurationRaster`` (format 1.4 and later, which must declare its four rasters), or
  0 when it holds extensions (labels, triggers) alone, as pypulseq writes such blocks;
- every event id a block, RF, gradient, ADC or extension row names is defined, and no
  extension list loops;
- every shape's data end with an empty line (pypulseq's reader needs it) and decompress to
  exactly its declared ``num_samples`` (at most :data:`MAX_SHAPE_SAMPLES`): a cut file
  cannot pass;
- a ``[SIGNATURE]``, when present, is the last section and its hash matches the text
  before it. A file cut exactly before its ``[SIGNATURE]`` is a complete unsigned file and
  is read as one.
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from harmoniq.errors import HarmoniqError

MAX_BYTES = 1 << 30
"""Largest .seq file read (1 GiB; a 20-minute 3D sequence is a few tens of MB)."""

MAX_SHAPE_SAMPLES = 1 << 24
"""Largest declared sample count of one shape (16.8 M; an RF pulse has thousands)."""

OLDEST, NEWEST = (1, 2), (1, 5)
"""(major, minor) range of the file formats pypulseq 1.5.0.post1 reads."""

RF_USES = "eriospu"
"""Initials of the RF uses of format 1.5: excitation refocusing inversion saturation preparation other undefined."""

EXTENSIONS = ("TRIGGERS", "LABELSET", "LABELINC", "DELAYS")
"""The extensions pypulseq 1.5.0.post1 reads."""

RASTERS = ("GradientRasterTime", "RadiofrequencyRasterTime", "AdcRasterTime", "BlockDurationRaster")

_INTEGER = re.compile(r"[+-]?\d+\Z")
_TABLES = ("BLOCKS", "RF", "GRADIENTS", "TRAP", "ADC", "DELAYS", "EXTENSIONS")


@dataclass
class _Row:
    line: int
    tokens: list[str]


@dataclass
class _Shape:
    line: int
    shape_id: int
    num_samples: int
    data: list[tuple[int, float]] = field(default_factory=list)


class _File:
    """The rows of every section of one file, and the errors that name it."""

    def __init__(self, path: Path):
        self.path = path
        self.sections: dict[str, list[_Row]] = {}
        self.header_line: dict[str, int] = {}
        self.shapes: dict[int, _Shape] = {}
        self.version = (0, 0, 0)
        self.extension_ids: dict[str, int] = {}

    def error(self, what: str, line: int | None, valid: str) -> HarmoniqError:
        where = f" (line {line})" if line else ""
        return HarmoniqError(f"{self.path}: {what}{where}; {valid}")

    def rows(self, name: str) -> list[_Row]:
        return self.sections.get(name, [])

    def number(self, row: _Row, column: int, what: str) -> float:
        """Column ``column`` of ``row`` as a finite float."""
        token = row.tokens[column]
        try:
            value = float(token)
        except ValueError:
            value = math.nan
        if not math.isfinite(value) or "_" in token:
            raise self.error(f"{what} is {token!r}", row.line, "every number in a .seq file must be finite")
        return value

    def integer(self, row: _Row, column: int, what: str, minimum: int | None = 0) -> int:
        token = row.tokens[column]
        if not _INTEGER.match(token):
            raise self.error(f"{what} is {token!r}", row.line, "it must be a whole number")
        value = int(token)
        if minimum is not None and value < minimum:
            raise self.error(f"{what} is {value}", row.line, f"it must be at least {minimum}")
        return value


def validate_seq_text(path: str | Path) -> tuple[int, int, int]:
    """Check the file ``path`` (see module doc); returns its format version (major, minor, revision)."""
    path = Path(path)
    text = _read_text(path)
    f = _File(path)
    _split_sections(f, text)
    f.version = _version(f)
    _definitions(f)
    ids = _libraries(f)
    _shapes(f)
    _blocks(f, ids)
    _signature(f, text)
    return f.version


def _read_text(path: Path) -> str:
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise HarmoniqError(f"{path}: {size} bytes is larger than any Pulseq file; "
                                f"a .seq file has at most {MAX_BYTES} bytes")
        data = path.read_bytes()
    except OSError as exc:
        raise HarmoniqError(f"{path}: cannot be read ({exc.strerror}); give a readable .seq file") from exc
    if b"\0" in data:
        raise HarmoniqError(f"{path}: a binary file, not a Pulseq .seq text file; give a .seq file")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise HarmoniqError(f"{path}: not UTF-8 text (byte {exc.start}); a .seq file is plain text") from exc
    if not text.strip():
        raise HarmoniqError(f"{path}: the file is empty; a .seq file has [VERSION], [DEFINITIONS] and [BLOCKS]")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _split_sections(f: _File, text: str) -> None:
    """Rows of each section: its consecutive lines after the header, up to an empty or comment line."""
    current: str | None = None
    open_rows = False
    shape: _Shape | None = None
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()  # the newline that ends the last line starts no empty line
    for number, raw in enumerate(lines, 1):
        line = raw.strip()
        if line.startswith("[") or line.startswith("extension "):
            if shape is not None:
                raise f.error(f"shape {shape.shape_id}'s data run into {line!r}", number,
                              "end the data of every shape with an empty line")
            current, open_rows = _header(f, line, number), True
        elif not line or line.startswith("#"):
            # pypulseq skips empty and comment lines before the first row of these two
            open_rows = open_rows and current in ("DEFINITIONS", "SIGNATURE") and not f.sections[current]
            if shape is not None and shape.data:
                shape = None  # the empty line that ends a shape's data
        elif current == "SHAPES":
            shape = _shape_line(f, shape, line, number)
        elif current is None or not open_rows:
            raise f.error(f"{line[:40]!r} is outside any section", number,
                          "rows belong directly under a section header such as [BLOCKS]")
        else:
            f.sections[current].append(_Row(number, line.split()))
    if shape is not None:
        what = "has no data" if not shape.data else "ends without the empty line that closes its data"
        raise f.error(f"the file ends inside shape {shape.shape_id}, which {what}", len(lines),
                      f"shape {shape.shape_id} needs {max(shape.num_samples, 1)} samples and an empty line after "
                      "them (is the file cut short?)")


def _header(f: _File, line: str, number: int) -> str:
    if line.startswith("extension "):
        parts = line.split()
        if len(parts) != 3 or parts[1] not in EXTENSIONS or not _INTEGER.match(parts[2]):
            raise f.error(f"unknown extension header {line[:60]!r}", number,
                          f"give 'extension NAME ID' with NAME one of {', '.join(EXTENSIONS)}")
        name = f"extension {parts[1]}"
        f.extension_ids[name] = int(parts[2])
    else:
        name = line[1:-1] if line.endswith("]") else line
        known = ("VERSION", "DEFINITIONS", "SIGNATURE", "SHAPES", *_TABLES)
        if name not in known:
            raise f.error(f"unknown section {line[:40]!r}", number,
                          f"sections are {', '.join(f'[{k}]' for k in known)} and 'extension NAME ID'")
    if name in f.sections:
        raise f.error(f"section {line!r} appears a second time", number, "a .seq file has each section once")
    if "SIGNATURE" in f.sections:
        raise f.error(f"section {line!r} follows [SIGNATURE]", number, "[SIGNATURE] is the last section")
    f.sections[name] = []
    f.header_line[name] = number
    return name


def _shape_line(f: _File, shape: _Shape | None, line: str, number: int) -> _Shape:
    """One line of [SHAPES]: 'shape_id N', 'num_samples M' or a sample of the current shape."""
    tokens = line.split()
    if shape is None:
        row = _Row(number, tokens)
        if tokens[0] != "shape_id" or len(tokens) != 2:
            raise f.error(f"{line[:40]!r} where a shape starts", number, "each shape starts with 'shape_id N'")
        shape_id = f.integer(row, 1, "shape_id", 1)
        if shape_id in f.shapes:
            raise f.error(f"shape_id {shape_id} is defined twice", number, "each shape id once")
        shape = f.shapes[shape_id] = _Shape(number, shape_id, -1)
        return shape
    if shape.num_samples < 0:
        row = _Row(number, tokens)
        if tokens[0] != "num_samples" or len(tokens) != 2:
            raise f.error(f"{line[:40]!r} after shape_id {shape.shape_id}", number,
                          "'num_samples M' follows 'shape_id N'")
        shape.num_samples = f.integer(row, 1, f"num_samples of shape {shape.shape_id}", 1)
        if shape.num_samples > MAX_SHAPE_SAMPLES:
            raise f.error(f"shape {shape.shape_id} declares {shape.num_samples} samples", number,
                          f"a shape has at most {MAX_SHAPE_SAMPLES}")
        return shape
    if len(tokens) != 1:
        raise f.error(f"{line[:40]!r} inside the data of shape {shape.shape_id}", number,
                      "shape data are one number per line, ended by an empty line")
    shape.data.append((number, f.number(_Row(number, tokens), 0, f"a sample of shape {shape.shape_id}")))
    return shape


def _version(f: _File) -> tuple[int, int, int]:
    if "VERSION" not in f.sections:
        raise f.error("no [VERSION] section", None, "a .seq file starts with [VERSION], major 1, minor 2 to 5")
    if "BLOCKS" in f.header_line and f.header_line["BLOCKS"] < f.header_line["VERSION"]:
        raise f.error("[BLOCKS] comes before [VERSION]", f.header_line["BLOCKS"], "[VERSION] comes first")
    values = {}
    for row in f.rows("VERSION"):
        if len(row.tokens) != 2 or row.tokens[0] not in ("major", "minor", "revision"):
            raise f.error(f"{' '.join(row.tokens)[:40]!r} in [VERSION]", row.line,
                          "[VERSION] holds 'major N', 'minor N' and 'revision N'")
        token = row.tokens[1][:1] if row.tokens[0] == "revision" else row.tokens[1]
        values[row.tokens[0]] = f.integer(_Row(row.line, [token]), 0, f"the version's {row.tokens[0]}")
    missing = [key for key in ("major", "minor") if key not in values]
    if missing:
        raise f.error(f"[VERSION] lacks {' and '.join(missing)}", f.header_line["VERSION"],
                      "[VERSION] gives 'major 1' and 'minor 2' to 'minor 5'")
    version = (values["major"], values["minor"], values.get("revision", 0))
    if not OLDEST <= version[:2] <= NEWEST:
        raise f.error(f"format version {'.'.join(map(str, version))} is not supported", f.header_line["VERSION"],
                      f"Pulseq formats {OLDEST[0]}.{OLDEST[1]} to {NEWEST[0]}.{NEWEST[1]} are read")
    return version


def _definitions(f: _File) -> None:
    present = {}
    for row in f.rows("DEFINITIONS"):
        values = row.tokens[1:]
        numeric = True
        for token in values:
            try:
                float(token)
            except ValueError:
                numeric = False
        if numeric:  # pypulseq reads a definition as numbers when every value parses as one
            for column in range(1, len(row.tokens)):
                f.number(row, column, f"definition {row.tokens[0]}")
        present[row.tokens[0]] = row
    for key in RASTERS:
        if key not in present:
            if f.version >= (1, 4, 0):
                raise f.error(f"[DEFINITIONS] lacks {key}", f.header_line.get("DEFINITIONS"),
                              f"format 1.4 and later declares {', '.join(RASTERS)}")
            continue
        row = present[key]
        if len(row.tokens) != 2 or f.number(row, 1, key) <= 0:
            raise f.error(f"{key} is {' '.join(row.tokens[1:])!r}", row.line, "it must be one positive time in s")


def _columns(f: _File, name: str, count: int, row: _Row) -> None:
    if len(row.tokens) != count:
        raise f.error(f"a [{name}] row has {len(row.tokens)} columns", row.line,
                      f"format {f.version[0]}.{f.version[1]} has {count}")


def _library(f: _File, name: str, count: int, integers: tuple = (), times: tuple = (), text: int | None = None
             ) -> dict[int, _Row]:
    """Rows of table ``name`` by id: ``count`` columns, finite numbers (``text``: a text column),
    whole numbers in ``integers`` and non-negative values in ``times``."""
    table = {}
    for row in f.rows(name):
        _columns(f, name, count, row)
        event_id = f.integer(row, 0, f"a [{name}] id", 1)
        if event_id in table:
            raise f.error(f"[{name}] id {event_id} is defined twice", row.line, "each id once")
        for column in range(1, count):
            if column == text:
                continue
            what = f"column {column + 1} of [{name}] id {event_id}"
            if column in integers:
                f.integer(row, column, what, None)
            elif f.number(row, column, what) < 0 and column in times:
                raise f.error(f"{what} is {row.tokens[column]}", row.line, "times and durations are not negative")
        table[event_id] = row
    return table


def _libraries(f: _File) -> dict[str, dict[int, _Row]]:
    v15, v14 = f.version >= (1, 5, 0), f.version >= (1, 4, 0)
    if v15:
        rf = _library(f, "RF", 12, integers=(2, 3, 4), times=(5, 6), text=11)
        for row in rf.values():
            if row.tokens[11] not in RF_USES:
                raise f.error(f"RF use {row.tokens[11]!r}", row.line, f"one of {', '.join(RF_USES)}")
        grad = _library(f, "GRADIENTS", 7, integers=(4, 5), times=(6,))
        adc = _library(f, "ADC", 9, integers=(1, 8), times=(2, 3))
    else:
        rf = _library(f, "RF", 8 if v14 else 7, integers=(2, 3, 4) if v14 else (2, 3), times=(5,) if v14 else (4,))
        grad = _library(f, "GRADIENTS", 5 if v14 else 4, integers=(2, 3) if v14 else (2,), times=(4,) if v14 else (3,))
        adc = _library(f, "ADC", 6, integers=(1,), times=(2, 3))
    trap = _library(f, "TRAP", 6, times=(2, 3, 4, 5))
    if v14 and "DELAYS" in f.sections:
        raise f.error("[DELAYS] in a format 1.4+ file", f.header_line["DELAYS"], "block durations replace [DELAYS]")
    delays = _library(f, "DELAYS", 2, times=(1,))
    for row in adc.values():
        if int(row.tokens[1]) < 1 or float(row.tokens[2]) <= 0:
            raise f.error(f"ADC {row.tokens[0]} has {row.tokens[1]} samples of dwell {row.tokens[2]} ns", row.line,
                          "an ADC has at least one sample and a positive dwell")
    twice = sorted(set(grad) & set(trap))
    if twice:
        raise f.error(f"gradient id {twice[0]} is in both [GRADIENTS] and [TRAP]", f.header_line["TRAP"],
                      "gradient ids are shared by both tables")
    extensions = _extensions(f)
    _shape_refs(f, rf, "RF", (2, 3, 4) if v14 else (2, 3), required=2)
    _shape_refs(f, grad, "GRADIENTS", (4, 5) if v15 else ((2, 3) if v14 else (2,)), required=1)
    if v15:
        _shape_refs(f, adc, "ADC", (8,), required=0)
    return {"RF": rf, "GRAD": {**grad, **trap}, "ADC": adc, "EXT": extensions, "DELAYS": delays}


def _shape_refs(f: _File, table: dict[int, _Row], name: str, columns: tuple, required: int) -> None:
    """Shape ids in ``columns`` are defined (the first ``required`` of them must be non-zero;
    a gradient's time id may be -1, oversampled)."""
    for row in table.values():
        for k, column in enumerate(columns):
            shape_id = int(row.tokens[column])
            if shape_id in f.shapes or (k >= required and shape_id in (0, -1)):
                continue
            raise f.error(f"[{name}] id {row.tokens[0]} names shape {shape_id}, which is not defined", row.line,
                          f"shape ids of this file: {_ranges(f.shapes)}")


def _extensions(f: _File) -> dict[int, _Row]:
    types = {}
    for name in EXTENSIONS:
        key = f"extension {name}"
        if key not in f.sections:
            continue
        count = {"TRIGGERS": 5, "LABELSET": 3, "LABELINC": 3, "DELAYS": 5}[name]
        label = name.startswith("LABEL")
        rows = _library(f, key, count, integers=(1,) if label else ((1, 2, 3) if name == "DELAYS" else ()),
                        text=2 if label else (4 if name == "DELAYS" else None))
        if label:
            from pypulseq.supported_labels_rf_use import get_supported_labels

            labels = get_supported_labels()
            for row in rows.values():
                if row.tokens[2] not in labels:
                    raise f.error(f"label {row.tokens[2]!r}", row.line, f"labels are {', '.join(labels)}")
        types[f.extension_ids[key]] = rows
    table = {}
    for row in f.rows("EXTENSIONS"):
        _columns(f, "EXTENSIONS", 4, row)
        ext_id = f.integer(row, 0, "an [EXTENSIONS] id", 1)
        if ext_id in table:
            raise f.error(f"[EXTENSIONS] id {ext_id} is defined twice", row.line, "each id once")
        kind, ref = f.integer(row, 1, "an extension type", 1), f.integer(row, 2, "an extension reference", 1)
        f.integer(row, 3, "an extension's next id")
        if kind not in types or ref not in types[kind]:
            raise f.error(f"extension {ext_id} names type {kind} event {ref}, which is not defined", row.line,
                          "types and events come from the 'extension NAME ID' sections")
        table[ext_id] = row
    for ext_id, row in table.items():  # every list ends (next id 0) without a loop
        seen, next_id = {ext_id}, int(row.tokens[3])
        while next_id:
            if next_id not in table:
                raise f.error(f"extension {ext_id} continues with {next_id}, which is not defined", row.line,
                              "next ids are defined extension ids or 0")
            if next_id in seen:
                raise f.error(f"extension list {ext_id} loops back to {next_id}", row.line, "a list ends with next id 0")
            seen.add(next_id)
            next_id = int(table[next_id].tokens[3])
    return table


def _shapes(f: _File) -> None:
    for shape in f.shapes.values():
        if shape.num_samples < 0 or not shape.data:
            raise f.error(f"shape {shape.shape_id} has no data", shape.line, "num_samples and the samples follow")
        decoded = _decompressed_length(f, shape)
        if decoded != shape.num_samples:
            raise f.error(f"shape {shape.shape_id} holds {decoded} samples but declares {shape.num_samples}",
                          shape.data[-1][0], "the data must give every declared sample (is the file cut short?)")


def _decompressed_length(f: _File, shape: _Shape) -> int:
    """Samples that pypulseq's run-length decoding (``decompress_shape``) makes of the data."""
    values = [v for _, v in shape.data]
    if len(values) == shape.num_samples:
        return len(values)  # stored uncompressed
    count, i = 0, 0
    while i < len(values):
        if i + 1 < len(values) and values[i + 1] == values[i]:  # a repeat: value, value, count
            if i + 2 >= len(values):
                raise f.error(f"shape {shape.shape_id} ends inside a repeat", shape.data[-1][0],
                              "a repeated value is followed by its count (is the file cut short?)")
            repeats = values[i + 2]
            if repeats < 0 or repeats != int(repeats):
                raise f.error(f"shape {shape.shape_id} repeats a value {values[i + 2]} times", shape.data[i + 2][0],
                              "a repeat count is a whole number >= 0")
            count += int(repeats) + 2
            i += 3
        else:
            count += 1
            i += 1
        if count > shape.num_samples:
            break
    return count


def _blocks(f: _File, ids: dict[str, dict[int, _Row]]) -> None:
    rows = f.rows("BLOCKS")
    if not rows:
        line = f.header_line.get("BLOCKS")
        raise f.error("no blocks" if line else "no [BLOCKS] section", line, "a sequence has at least one block")
    v14 = f.version >= (1, 4, 0)
    count = 7 if f.version <= (1, 2, 1) else 8
    raster = next((r.tokens[1] for r in f.rows("DEFINITIONS") if r.tokens[0] == "BlockDurationRaster"), "?")
    names = ("RF", "GRAD", "GRAD", "GRAD", "ADC", "EXT")
    seen = set()
    for row in rows:
        _columns(f, "BLOCKS", count, row)
        block = f.integer(row, 0, "a block id", 1)
        if block in seen:
            raise f.error(f"block id {block} is defined twice", row.line, "each block id once")
        seen.add(block)
        if v14:
            timed = any(token != "0" for token in row.tokens[2:7])  # RF, gradients or ADC
            if not _INTEGER.match(row.tokens[1]) or int(row.tokens[1]) < (1 if timed else 0):
                raise f.error(f"block {block} lasts {row.tokens[1]!r} block rasters", row.line,
                              f"a duration is a positive whole number of BlockDurationRaster ({raster} s); "
                              "0 only for a block of extensions alone")
        elif f.integer(row, 1, f"block {block}'s delay id") and int(row.tokens[1]) not in ids["DELAYS"]:
            raise f.error(f"block {block} names delay {row.tokens[1]}, which is not defined", row.line,
                          f"delay ids of this file: {_ranges(ids['DELAYS'])}")
        for column, name in zip(range(2, count), names):
            event = f.integer(row, column, f"column {column + 1} of block {block}")
            if event and event not in ids[name]:
                raise f.error(f"block {block} names {name} event {event}, which is not defined", row.line,
                              f"{name} ids of this file: {_ranges(ids[name])} (0 for none)")


def _ranges(keys) -> str:
    """Sorted ids as compact ranges: '1-4, 7'."""
    keys = sorted(keys)
    if not keys:
        return "none"
    parts, start, prev = [], keys[0], keys[0]
    for k in keys[1:] + [None]:
        if k is not None and k == prev + 1:
            prev = k
            continue
        parts.append(f"{start}" if start == prev else f"{start}-{prev}")
        if k is not None:
            start = prev = k
    return ", ".join(parts[:5]) + (", ..." if len(parts) > 5 else "")


def _signature(f: _File, text: str) -> None:
    if "SIGNATURE" not in f.sections:
        return
    fields = {row.tokens[0]: row.tokens[1] for row in f.rows("SIGNATURE") if len(row.tokens) == 2}
    line = f.header_line["SIGNATURE"]
    kind, value = fields.get("Type", "").lower(), fields.get("Hash", "").lower()
    if kind not in ("md5", "sha1", "sha256") or not value:
        raise f.error("[SIGNATURE] lacks 'Type md5|sha1|sha256' or 'Hash'", line,
                      "a signed file ends with both (is the file cut short?)")
    signed = text[: text.rindex("\n[SIGNATURE]")] if "\n[SIGNATURE]" in text else ""
    if hashlib.new(kind, signed.encode("utf-8")).hexdigest() != value:
        raise f.error(f"the {kind} [SIGNATURE] does not match the file's content", line,
                      "the file was changed or cut after it was written; write it again, or remove "
                      "[SIGNATURE] to read it unsigned")
