"""One walk over the blocks of a pypulseq Sequence, each library event decoded once.

:func:`block_table` gives the raw table (block ids, durations, event ids) for code that
decodes the libraries itself; :func:`walk_blocks` gives every block with its start time and
decoded events, decoding each event id once through ``Sequence.get_block`` (a block whose
events are all known is not decoded again). A gradient event used on several axes is the
object decoded for the first of them: read its waveform, not its ``channel``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np


@dataclass(frozen=True)
class BlockTable:
    """Blocks in playing order: ``block_ids`` (n,) as the file numbers them, ``duration_s``
    (n,) and ``start_s`` (n,) in s, ``events`` (n, 6) library ids of RF, GX, GY, GZ, ADC and
    extension list (0: none)."""

    block_ids: np.ndarray
    duration_s: np.ndarray
    start_s: np.ndarray
    events: np.ndarray

    def __len__(self) -> int:
        return len(self.block_ids)


@dataclass(frozen=True)
class Block:
    """One block: position ``index`` (from 0), file id ``block_id``, ``start_s`` and
    ``duration_s`` (s), its decoded pypulseq events (None where absent; ``grads`` is
    (gx, gy, gz)) and its extension list id ``ext`` (0: none)."""

    index: int
    block_id: int
    start_s: float
    duration_s: float
    rf: object
    grads: tuple
    adc: object
    ext: int


def block_table(seq) -> BlockTable:
    """The block table of ``seq``; start times are the running sum of the durations."""
    block_ids = np.fromiter(seq.block_events.keys(), dtype=np.int64, count=len(seq.block_events))
    durations = np.array([seq.block_durations[b] for b in block_ids], dtype=np.float64)
    events = np.array([seq.block_events[b][1:7] for b in block_ids], dtype=np.int64).reshape(-1, 6)
    starts = np.concatenate(([0.0], np.cumsum(durations)[:-1])) if len(block_ids) else durations
    return BlockTable(block_ids, durations, starts, events)


class _EventCache:
    """Decoded events by library id."""

    def __init__(self, seq):
        self.seq = seq
        self.rf, self.grad, self.adc = {}, {}, {}

    def decode(self, block_id: int, ids: np.ndarray) -> tuple:
        rf_id, gx, gy, gz, adc_id = (int(v) for v in ids[:5])
        needed = (rf_id and rf_id not in self.rf) or (adc_id and adc_id not in self.adc) or any(
            g and g not in self.grad for g in (gx, gy, gz))
        if needed:
            block = self.seq.get_block(block_id)
            self.seq.block_cache.pop(block_id, None)
            if rf_id:
                self.rf.setdefault(rf_id, block.rf)
            if adc_id:
                self.adc.setdefault(adc_id, block.adc)
            for g, event in zip((gx, gy, gz), (block.gx, block.gy, block.gz)):
                if g:
                    self.grad.setdefault(g, event)
        return self.rf.get(rf_id), tuple(self.grad.get(g) for g in (gx, gy, gz)), self.adc.get(adc_id)


def walk_blocks(seq) -> Iterator[Block]:
    """Every block of ``seq`` (a pypulseq Sequence) in playing order, events decoded once per id."""
    table = block_table(seq)
    cache = _EventCache(seq)
    for index, (block_id, start, duration, ids) in enumerate(
            zip(table.block_ids, table.start_s, table.duration_s, table.events)):
        rf, grads, adc = cache.decode(int(block_id), ids)
        yield Block(index, int(block_id), start, duration, rf, grads, adc, int(ids[5]))
