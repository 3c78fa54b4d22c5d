"""Pulseq sequence builders, one module per family, all Cartesian.

``FAMILIES`` maps a protocol's ``family`` to its declared parameters and its builder class.
A builder is constructed from checked parameters, the harmonized ``pypulseq.Opts`` and the
segment tail (s); construction validates the timing, ``build()`` returns
``(pypulseq.Sequence, AcquisitionInfo)``.
"""

from harmoniq.sequences import dam, gre, mese, se
from harmoniq.sequences.common import AcquisitionInfo

FAMILIES = {
    "gre": (gre.PARAMETERS, gre.SpoiledGRE),
    "se": (se.PARAMETERS, se.SpinEcho),
    "mese": (mese.PARAMETERS, mese.MultiEchoSpinEcho),
    "dam": (dam.PARAMETERS, dam.DoubleAngle),
}

__all__ = ["FAMILIES", "AcquisitionInfo"]
