"""Valid .seq files written by harmoniq and by pypulseq itself, and damaged copies of them."""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np


def harmoniq_seq(folder: Path) -> Path:
    """gre-demo as ``harmoniq seq build`` writes it."""
    subprocess.run([sys.executable, "-m", "harmoniq.cli", "seq", "build", "gre-demo", "-o", str(folder)],
                   check=True, capture_output=True, timeout=120)
    return folder / "gre-demo.seq"


def pypulseq_seq(path: Path) -> Path:
    """A small sequence written by pypulseq's own writer: a slice-selective sinc, a block
    refocusing pulse, an extended trapezoid, an arbitrary gradient, a labelled readout,
    a trigger and a zero-duration label block."""
    import pypulseq as pp

    system = pp.Opts(max_grad=30, grad_unit="mT/m", max_slew=120, slew_unit="T/m/s", rf_ringdown_time=20e-6,
                     rf_dead_time=100e-6, adc_dead_time=10e-6)
    seq = pp.Sequence(system)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pypulseq's notes on raised delays
        rf, gz, _ = pp.make_sinc_pulse(flip_angle=np.pi / 6, duration=2e-3, slice_thickness=5e-3, system=system,
                                       return_gz=True, use="excitation", delay=system.rf_dead_time)
        refocus = pp.make_block_pulse(flip_angle=np.pi, duration=1e-3, system=system, use="refocusing",
                                      delay=system.rf_dead_time)
        gx = pp.make_trapezoid("x", flat_area=32 / 0.2, flat_time=1e-3, system=system)
        adc = pp.make_adc(32, duration=gx.flat_time, delay=gx.rise_time, system=system)
        ramp = pp.make_extended_trapezoid("y", times=np.array([0, 1e-4, 3e-4, 4e-4]),
                                          amplitudes=np.array([0, 2e5, 2e5, 0]), system=system)
        arbitrary = pp.make_arbitrary_grad("z", waveform=np.sin(np.linspace(0, np.pi, 50)) * 1e5, system=system,
                                           first=0, last=0)
        seq.add_block(pp.make_label(type="SET", label="LIN", value=0))
        for _ in range(2):
            seq.add_block(rf, gz)
            seq.add_block(refocus)
            seq.add_block(ramp, arbitrary)
            seq.add_block(gx, adc, pp.make_label(type="INC", label="LIN", value=1))
            seq.add_block(pp.make_trigger("physio1", duration=2e-3))
        seq.set_definition("FOV", [0.2, 0.2, 0.005])
        seq.write(str(path))
    return path


def _edit_row(text: str, section: str, row: int, column: int, value: str) -> str:
    """``text`` with token ``column`` of data row ``row`` (from 0) under ``section`` set to ``value``."""
    start = text.index("\n", text.index(section)) + 1
    for _ in range(row):
        start = text.index("\n", start) + 1
    end = text.index("\n", start)
    tokens = text[start:end].split()
    tokens[column] = value
    return text[:start] + " ".join(tokens) + text[end:]


def _first_sample(text: str) -> int:
    """Character offset of the first sample line of the first shape."""
    return text.index("\n", text.index("num_samples")) + 1


def hostile_files(valid: Path, folder: Path) -> dict[str, tuple[Path, str]]:
    """Damaged copies of ``valid``: name -> (path, regex the error must match)."""
    data = valid.read_bytes()
    text = data.decode()
    shapes, blocks, first = text.index("[SHAPES]"), text.index("[BLOCKS]"), _first_sample(text)
    duration = text[text.index("\n", blocks) + 1:].split("\n")[1].split()[1]  # of block 2
    cases = {
        "cut_in_shape_sample": (data[: first + 3], r"holds \d+ samples but declares|ends without the empty line"),
        "cut_after_num_samples": (data[:first], r"ends inside shape 1, which has no data"),
        "cut_mid_shapes": (data[: (shapes + len(text)) // 2], r"shape"),
        "cut_after_shapes_header": (data[: shapes + len("[SHAPES]\n")], r"names shape \d+, which is not defined"),
        "cut_in_blocks": (data[: blocks + 200], r"not defined|columns"),
        "cut_in_version": (data[: text.index("minor")], r"\[VERSION\] lacks minor"),
        "empty": (b"", r"the file is empty"),
        "major_2": (text.replace("major 1", "major 2", 1).encode(), r"format version 2\.5\.\d is not supported"),
        "nan_in_shape": ((text[:first] + "nan" + text[text.index("\n", first):]).encode(),
                         r"a sample of shape 1 is 'nan'.*finite"),
        "inf_in_trap": (_edit_row(text, "[TRAP]", 0, 1, "inf").encode(), r"column 2 of \[TRAP\] id 1 is 'inf'"),
        "negative_block_duration": (_edit_row(text, "[BLOCKS]", 1, 1, f"-{duration}").encode(),
                                    rf"block 2 lasts '-{duration}' block rasters"),
        "off_raster_block_duration": (_edit_row(text, "[BLOCKS]", 1, 1, f"{duration}.5").encode(),
                                      rf"block 2 lasts '{duration}\.5' block rasters"),
        "undefined_event": (_edit_row(text, "[BLOCKS]", 1, 2, "99").encode(),
                            r"block 2 names RF event 99, which is not defined"),
        "binary_garbage": (bytes(np.random.default_rng(7).integers(0, 256, 4096, dtype=np.uint8)), r"binary|UTF-8"),
    }
    out = {}
    for name, (content, expected) in cases.items():
        path = folder / f"{valid.stem}-{name}.seq"
        path.write_bytes(content)
        out[name] = (path, expected)
    return out
