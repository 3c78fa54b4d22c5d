"""Pulseq sequence builders, one module per family, all Cartesian.

``BUILDERS`` maps a protocol's ``family`` to its builder class. A builder is constructed from
the protocol's typed SI parameters and the harmonized ``pypulseq.Opts``;
construction validates the timing, ``build()`` returns ``(pypulseq.Sequence, AcquisitionInfo)``.
"""

from __future__ import annotations

from harmoniq.protocols import Protocol
from harmoniq.sequences import afi, bloch_siegert, dam, gre, mese, molli, mp2rage, se
from harmoniq.sequences.common import AcquisitionInfo

BUILDERS = {"gre": gre.SpoiledGRE, "se": se.SpinEcho, "mese": mese.MultiEchoSpinEcho, "dam": dam.DoubleAngle,
            "afi": afi.ActualFlipAngle, "mp2rage": mp2rage.Mp2rage, "bs": bloch_siegert.BlochSiegert,
            "molli": molli.Molli}


def builder_for(protocol: Protocol):
    """``(builder, limits)``: the family's builder on the harmonized limits of the targets.

    Constructing it validates the timing: an infeasible protocol raises HarmoniqError naming
    the key and the feasible range.
    """
    from harmoniq.scanners import harmonize, load_profile

    limits = harmonize([load_profile(t) for t in protocol.targets])
    builder = BUILDERS[protocol.family](protocol.name, protocol.parameters, limits.to_pypulseq_opts())
    return builder, limits


def check_timing(protocol: Protocol) -> Protocol:
    """``protocol`` itself once its timing is feasible on its targets (else HarmoniqError)."""
    builder_for(protocol)
    return protocol


__all__ = ["BUILDERS", "AcquisitionInfo", "builder_for", "check_timing"]
