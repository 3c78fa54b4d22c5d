"""What every sequence builder shares: the acquisition metadata and the sequence frame.

A builder is constructed from checked protocol parameters and the harmonized system limits;
construction computes every event and the timing, and raises :class:`HarmoniqError` for an
infeasible protocol (naming the key and the feasible range). ``build()`` then lays out the
blocks and returns the pypulseq Sequence with its :class:`AcquisitionInfo`, which is also
written into the file's [DEFINITIONS] so that any later stage can read it from the .seq alone.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import pypulseq as pp

from harmoniq.errors import HarmoniqError
from harmoniq.sequences.events import COUNTERS, label_set


@dataclass
class AcquisitionInfo:
    """Acquisition metadata of a built sequence (SI units; angles in degrees as in BIDS).

    ``contrast_dimension`` names what the series varies and ``contrast_label`` which counter
    (SET for a varied preparation, ECO for echoes within one shot) runs along it;
    ``te_s``/``ti_s``/``flip_deg`` have one value per contrast where they vary, else one value.
    """

    protocol: str
    family: str
    tr_s: float
    te_s: list[float]
    flip_deg: list[float]
    matrix: tuple[int, int, int]
    fov_m: tuple[float, float, float]
    slice_thickness_m: float
    n_slices: int
    contrast_dimension: str
    contrast_label: str
    ti_s: list[float] = field(default_factory=list)
    refocusing_deg: float | None = None
    rf_spoiling_deg: float | None = None
    readout_dwell_s: float = 0.0
    duration_s: float = 0.0

    @property
    def n_contrasts(self) -> int:
        values = {"inversion_time": self.ti_s, "echo_time": self.te_s, "flip_angle": self.flip_deg}
        return len(values.get(self.contrast_dimension, [None]))

    def to_dict(self) -> dict:
        return asdict(self)

    def write_definitions(self, seq: pp.Sequence) -> None:
        """Record the metadata in the .seq [DEFINITIONS] (keys in the project's contract)."""
        seq.set_definition("Name", self.protocol)
        seq.set_definition("FOV", list(self.fov_m))
        seq.set_definition("Matrix", list(self.matrix))
        seq.set_definition("SliceThickness", self.slice_thickness_m)
        seq.set_definition("Slices", self.n_slices)
        seq.set_definition("TR", self.tr_s)
        seq.set_definition("TE", list(self.te_s))
        if self.ti_s:
            seq.set_definition("TI", list(self.ti_s))
        seq.set_definition("FlipAngle", list(self.flip_deg))
        if self.refocusing_deg is not None:
            seq.set_definition("RefocusingFlipAngle", self.refocusing_deg)
        if self.rf_spoiling_deg is not None:
            seq.set_definition("RFSpoilingIncrement", self.rf_spoiling_deg)
        seq.set_definition("ContrastDimension", self.contrast_dimension)
        seq.set_definition("ContrastLabel", self.contrast_label)
        seq.set_definition("Contrasts", self.n_contrasts)
        seq.set_definition("ReadoutDwell", self.readout_dwell_s)


#: TRID of the preamble segment (the first block); imaging segments use small TRIDs.
PREAMBLE_TRID = 100


def add_preamble(seq: pp.Sequence, system: pp.Opts) -> None:
    """First block: a quiet delay of one block raster that initialises every counter (Siemens
    rule) and opens a segment of its own (GE: the first block carries a TRID)."""
    seq.add_block(
        pp.make_delay(system.block_duration_raster), label_set("TRID", PREAMBLE_TRID), *[label_set(c, 0) for c in COUNTERS]
    )


def infeasible(source: str, key: str, value: float, unit: str, minimum: float | None = None,
               maximum: float | None = None, why: str = "") -> HarmoniqError:
    """Error for a timing the harmonized system cannot play, naming the feasible range."""
    bound = []
    if minimum is not None:
        bound.append(f"below the minimum {minimum:.4g} {unit}")
    if maximum is not None:
        bound.append(f"above the maximum {maximum:.4g} {unit}")
    reason = f" {why}" if why else ""
    return HarmoniqError(
        f"{source}: {key}={value:g} is {' and '.join(bound)}{reason} on the harmonized system"
    )
