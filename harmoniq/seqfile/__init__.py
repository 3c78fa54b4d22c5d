"""Reading Pulseq ``.seq`` files: one validating reader, one block walk, one RF rotation.

A leaf of the package: it imports nothing from the stages that use it (sequences, scanners,
simulation, io, recon, fitting, analysis).

>>> from harmoniq.seqfile import read_seq, walk_blocks        # doctest: +SKIP
>>> seq = read_seq("gre.seq")                                  # HarmoniqError if malformed
>>> [b.start_s for b in walk_blocks(seq) if b.adc is not None] # doctest: +SKIP
"""

from harmoniq.seqfile.blocks import Block, BlockTable, block_table, walk_blocks
from harmoniq.seqfile.reader import DETECT_RF_USE, read_seq
from harmoniq.seqfile.structure import validate_seq_text

__all__ = ["Block", "BlockTable", "DETECT_RF_USE", "block_table", "read_seq", "validate_seq_text", "walk_blocks"]
