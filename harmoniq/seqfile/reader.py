"""The one way harmoniq reads a ``.seq`` file: check its text, then let pypulseq parse it."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

from harmoniq.errors import HarmoniqError
from harmoniq.seqfile.structure import validate_seq_text

DETECT_RF_USE = None
"""The RF-use policy passed to pypulseq's reader (``detect_rf_use``): None lets pypulseq
guess the use of each RF pulse (excitation, refocusing, saturation) from its flip angle only
for files older than format 1.5, which do not store it, and take the stored use from 1.5
files. Every earlier reader of the package behaved this way in effect (True is turned off by
pypulseq for 1.5 files), so shipped protocols and pre-1.5 files read exactly as before."""


def read_seq(seq):
    """A pypulseq ``Sequence`` from ``seq``: a path to a ``.seq`` file (checked by
    :func:`~harmoniq.seqfile.structure.validate_seq_text` before pypulseq parses it) or an
    already loaded ``Sequence``, returned as it is.

    Raises :class:`HarmoniqError` (one line naming the file) when the file is missing or
    malformed; never hangs on a damaged file.
    """
    import pypulseq as pp

    if isinstance(seq, pp.Sequence):
        return seq
    if not isinstance(seq, (str, os.PathLike)):
        raise HarmoniqError(f"sequence: expected a .seq path or a pypulseq Sequence, got {type(seq).__name__}")
    path = Path(seq)
    if not path.is_file():
        raise HarmoniqError(f"{path}: no such .seq file")
    validate_seq_text(path)
    sequence = pp.Sequence()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pypulseq's notes on file versions and defaults
            sequence.read(str(path), detect_rf_use=DETECT_RF_USE)
    except Exception as exc:  # pypulseq raises many types for what the text check lets through
        raise HarmoniqError(f"{path}: pypulseq cannot read it ({type(exc).__name__}: {exc}); "
                            "give a Pulseq file of format 1.2 to 1.5") from exc
    return sequence
