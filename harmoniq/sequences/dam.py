"""Double-angle B1 mapping: two spoiled gradient echoes at flip a and 2a with a long TR.

With TR >> T1, S(2a)/S(a) = 2 cos(a_eff) (Insko & Bolinger, J Magn Reson A 1993;103:82), so the
relative transmit field is ``arccos(ratio / 2) / a``. Same events as the spoiled GRE; the flip
pair is SET 0 and SET 1.
"""

from __future__ import annotations

from harmoniq.errors import HarmoniqError
from harmoniq.protocols.parameters import Parameters, degrees
from harmoniq.sequences.gre import SpoiledGRE

class DoubleAngle(SpoiledGRE):
    """Builder of the double-angle B1 map acquisition."""

    family = "dam"

    def __init__(self, name: str, p: Parameters, system):
        flips = p.flip_rad
        if len(flips) != 2 or abs(flips[1] - 2 * flips[0]) > 1e-9:
            raise HarmoniqError(f"protocol {name}: flip_deg={[degrees(f) for f in flips]} must be two angles [a, 2a] for a double-angle map")
        if len(p.te_s) != 1:
            raise HarmoniqError(f"protocol {name}: te_ms={[t * 1e3 for t in p.te_s]} must be one echo time for a double-angle map")
        super().__init__(name, p, system)
