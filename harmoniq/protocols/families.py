"""The parameters each sequence family declares: name (unit in the name), type, default, range.

This is the schema of a protocol file's ``[parameters]`` table. It lives with the protocols,
below the sequence builders, so that a protocol is loaded and checked without importing any
builder; each builder reads the typed SI object (:mod:`harmoniq.protocols.parameters`) made
from it.
"""

from __future__ import annotations

import dataclasses

from harmoniq.protocols.parameters import Param, parameter_type

GEOMETRY = (
    Param("matrix", "int", 128, "in-plane matrix (square), multiple of 4", 16, 512),
    Param("fov_mm", "float", 200.0, "in-plane field of view (mm)", 20.0, 500.0),
    Param("slice_thickness_mm", "float", 5.0, "2D slice or 3D slab thickness (mm)", 0.5, 300.0),
    Param("slices", "int", 1, "2D slices, played one after the other", 1, 128),
    Param("slice_gap_mm", "float", 0.0, "gap between 2D slices (mm)", 0.0, 100.0),
    Param("readout_dwell_us", "float", 20.0, "ADC dwell (us), a multiple of the 2 us harmonized raster", 2.0, 200.0),
    Param("rf_duration_ms", "float", 2.0, "excitation pulse duration (ms)", 0.2, 20.0),
    Param("rf_tbw", "float", 4.0, "excitation time-bandwidth product", 1.0, 20.0),
)

GRE = GEOMETRY + (
    Param("dimensions", "int", 2, "2 (multi-slice) or 3 (slab with partition encoding)", 2, 3),
    Param("partitions", "int", 1, "3D partitions (k2 lines) across the slab", 1, 512),
    Param("flip_deg", "float", [15.0], "flip angle(s); several make a VFA series (SET)", 0.0, 180.0, list_of=True, low_open=True),
    Param("te_ms", "float", [4.0], "echo time(s) (ms); several make a multi-echo train (ECO)", 0.0, 1e4, list_of=True, low_open=True),
    Param("tr_ms", "float", 10.0, "repetition time (ms)", 0.0, 6e4, low_open=True),
    Param("rf_spoiling_inc_deg", "float", 117.0, "RF-spoiling phase increment (deg); 0 turns it off", 0.0, 180.0),
    Param("spoiler_cycles", "float", 4.0, "gradient spoiling: phase cycles across one voxel (slice and readout)", 0.0, 32.0),
    Param("dummy_scans", "int", 100, "TRs without ADC before each flip angle (steady state)", 0, 100000),
)

REFOCUSING = (
    Param("flip_deg", "float", 90.0, "excitation flip angle (deg)", 0.0, 180.0, low_open=True),
    Param("refocusing_deg", "float", 180.0, "refocusing flip angle (deg)", 0.0, 360.0, low_open=True),
    Param("refocusing_duration_ms", "float", 3.0, "refocusing pulse duration (ms)", 0.2, 20.0),
    Param("refocusing_thickness_factor", "float", 1.2, "refocusing slice thickness / excitation thickness", 1.0, 3.0),
    Param("crusher_cycles", "float", 4.0, "crusher phase cycles across one slice on each side of a 180", 0.0, 32.0),
    Param("tr_ms", "float", 3000.0, "repetition time (ms)", 0.0, 6e4, low_open=True),
)

SE = GEOMETRY + REFOCUSING + (
    Param("te_ms", "float", [15.0], "echo time(s) (ms); several make a T2 series (SET)", 0.0, 1e4, list_of=True, low_open=True),
    Param("ti_ms", "float", [], "inversion time(s) (ms); empty for no inversion; several make an IR series (SET)", 0.0, 6e4, list_of=True, low_open=True),
    Param("inversion_duration_ms", "float", 10.24, "adiabatic inversion pulse duration (ms)", 2.0, 30.0),
)

MESE = GEOMETRY + REFOCUSING + (
    Param("echo_spacing_ms", "float", 10.0, "echo spacing ESP (ms); echo n at n * ESP", 0.0, 1000.0, low_open=True),
    Param("echoes", "int", 16, "echo train length", 1, 128),
)

# double-angle B1: the spoiled GRE's parameters with a long TR and the flip pair [a, 2a]
_DAM_DEFAULTS = {"flip_deg": [60.0, 120.0], "tr_ms": 6000.0, "te_ms": [4.0], "dummy_scans": 1}
DAM = tuple(dataclasses.replace(p, default=_DAM_DEFAULTS.get(p.name, p.default)) for p in GRE)

# actual flip-angle imaging: the spoiled GRE's parameters (tr_ms is TR1) and TR2 / TR1
# AFI's strong spoiling (Yarnykh, MRM 2010;63:1610: 450 mT ms/m after TR1) is about 70 cycles across a 3.9 mm voxel
AFI = tuple(dataclasses.replace(p, high=512.0) if p.name == "spoiler_cycles" else p for p in GRE) + (
    Param("tr_ratio", "float", 5.0, "AFI: TR2 / TR1 (Yarnykh, MRM 2007: 5)", 2.0, 20.0),)

# MP2RAGE: the spoiled GRE's parameters, tr_ms the shot (TR_MP2RAGE), the GRE TR its echo spacing
_MP2RAGE_DEFAULTS = {"dimensions": 3, "flip_deg": [4.0, 5.0], "tr_ms": 5000.0, "dummy_scans": 1}
MP2RAGE = tuple(dataclasses.replace(p, default=_MP2RAGE_DEFAULTS.get(p.name, p.default)) for p in GRE) + (
    Param("echo_spacing_ms", "float", 7.0, "MP2RAGE: gradient-echo TR inside a block (ms)", 0.0, 100.0, low_open=True),
    Param("ti_ms", "float", [700.0, 2500.0], "MP2RAGE: TI1, TI2 (ms), inversion to the centre partition's excitation",
          0.0, 6e4, list_of=True, low_open=True),
    Param("inversion_duration_ms", "float", 10.24, "adiabatic inversion pulse duration (ms)", 2.0, 30.0),
)

# Bloch-Siegert B1 map: the spoiled GRE's parameters and the off-resonant Fermi pulse (Sacolick et al.,
# MRM 2010;63:1315: 8 ms at 4 kHz)
BS = GRE + (
    Param("bs_offset_hz", "float", 4000.0, "Bloch-Siegert: Fermi pulse offset (Hz), played at + and -", 500.0, 20000.0),
    Param("bs_duration_ms", "float", 8.0, "Bloch-Siegert: Fermi pulse duration (ms)", 1.0, 20.0),
    Param("bs_transition_ms", "float", 0.16, "Bloch-Siegert: Fermi transition width (ms)", 0.01, 1.0),
    Param("bs_peak_ut", "float", 8.0, "Bloch-Siegert: Fermi pulse peak B1 (uT)", 0.0, 25.0, low_open=True),
)

# MOLLI: the spoiled GRE's parameters (tr_ms the gradient-echo TR of a single-shot image), one 2D slice
_MOLLI_DEFAULTS = {"flip_deg": [10.0], "tr_ms": 3.0, "te_ms": [1.5], "dummy_scans": 0}
MOLLI = tuple(dataclasses.replace(p, default=_MOLLI_DEFAULTS.get(p.name, p.default)) for p in GRE) + (
    Param("heart_rate_bpm", "float", 60.0, "MOLLI: simulated heart rate (beats per minute; fixed RR, no ECG)", 20.0,
          200.0),
    Param("scheme", "int", [5, 3, 3], "MOLLI: images, pause beats, images, ... (5(3)3)", 0, 32, list_of=True),
    Param("ti_ms", "float", [100.0, 180.0], "MOLLI: TI of each inversion's first image (ms), inversion to centre "
          "line", 0.0, 6e4, list_of=True, low_open=True),
    Param("inversion_duration_ms", "float", 10.24, "adiabatic inversion pulse duration (ms)", 2.0, 30.0),
)

#: family -> its declared parameters
DECLARED = {"gre": GRE, "se": SE, "mese": MESE, "dam": DAM, "afi": AFI, "mp2rage": MP2RAGE, "bs": BS, "molli": MOLLI}
#: family -> the typed SI parameter object it is read into
TYPES = {family: parameter_type(family, declared) for family, declared in DECLARED.items()}
