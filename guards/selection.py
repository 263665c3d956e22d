"""Which token positions of a flagged sequence are corrupted.

A selector sees one unpadded sequence and returns a boolean mask over its tokens. Entity
matching works on character offsets from a fast tokenizer, case-insensitively.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

import torch

from guards.errors import GuardConfigError
from guards.registry import Registry


@dataclass(frozen=True)
class SequenceView:
    """One sequence as a selector sees it.

    ``offsets`` is a [length, 2] tensor of character spans into ``text`` (special tokens have
    empty spans), or None when the tokenizer cannot give offsets.
    """

    length: int
    text: str
    offsets: torch.Tensor | None
    entities: tuple[str, ...] = ()


class SelectorFn(Protocol):
    def __call__(self, view: SequenceView) -> torch.Tensor: ...


SELECTORS: Registry[SelectorFn] = Registry("token selection")


@SELECTORS.register("all")
def select_all(view: SequenceView) -> torch.Tensor:
    return torch.ones(view.length, dtype=torch.bool)


@SELECTORS.register("all_but_last")
def select_all_but_last(view: SequenceView) -> torch.Tensor:
    """The ECO paper's default: every token except the last one, which the model predicts from."""
    mask = torch.ones(view.length, dtype=torch.bool)
    if view.length:
        mask[-1] = False
    return mask


def entity_char_spans(text: str, entities: tuple[str, ...]) -> torch.Tensor:
    """[n, 2] character spans of every case-insensitive occurrence of any entity in ``text``."""
    spans = [
        (m.start(), m.end())
        for entity in entities
        if entity.strip()
        for m in re.finditer(re.escape(entity.strip()), text, flags=re.IGNORECASE)
    ]
    return torch.tensor(spans, dtype=torch.long).reshape(-1, 2)


@SELECTORS.register("entity_spans")
def select_entity_spans(view: SequenceView) -> torch.Tensor:
    """Tokens whose character span overlaps an entity; ``all_but_last`` when none is found."""
    if view.offsets is None:
        raise GuardConfigError(
            "token selection `entity_spans` needs character offsets: use a fast tokenizer "
            "(PreTrainedTokenizerFast) or choose `all_but_last`"
        )
    spans = entity_char_spans(view.text, view.entities)
    if spans.numel():
        starts, ends = view.offsets[:, 0:1], view.offsets[:, 1:2]
        overlap = (starts < spans[:, 1]) & (ends > spans[:, 0]) & (ends > starts)
        mask = overlap.any(dim=1)
        if mask.any():
            return mask
    return select_all_but_last(view)
