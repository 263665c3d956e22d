"""Shuffled batches of similar length, as transformers' ``group_by_length`` makes them.

Random batches pad every example to the longest in its batch; on CPU that padding was a third of
a classifier's training time and as much of a fine-tune's. Sorting by length inside pools of a few
dozen batches, then shuffling the batches, keeps the order random at the batch level while most
of the padding goes.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

POOL_BATCHES = 50  # batches per pool sorted by length


def length_grouped_batches(lengths: Sequence[int], batch_size: int, rng: random.Random) -> list[list[int]]:
    """Index batches covering ``range(len(lengths))`` once each: shuffled, sorted by length within
    pools of ``POOL_BATCHES`` batches, the batches in random order. At most one batch is short."""
    order = list(range(len(lengths)))
    rng.shuffle(order)
    pool = batch_size * POOL_BATCHES  # a whole number of batches, so no batch spans two pools
    order = [i for start in range(0, len(order), pool)
             for i in sorted(order[start:start + pool], key=lengths.__getitem__)]
    batches = [order[start:start + batch_size] for start in range(0, len(order), batch_size)]
    rng.shuffle(batches)
    return batches
