"""Which question -> answer pairs a fine-tune trains on, and how each becomes masked token ids.

A pair is encoded exactly the way ``GuardedModel.score`` reads it back: the formatted prompt
with special tokens, then ``" " + answer`` without them (no space after a chat template), then
EOS. Only the answer and EOS tokens carry a label, as in the TOFU protocol; prompt and padding
positions are ``-100`` so the loss ignores them.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from evaluation.forget_set import QA
from evaluation.multiple_choice import LETTERS, mc_item, mc_prompt
from guards.errors import EcoPackError

IGNORE = -100
MC_ORDERS = 2  # a multiple-choice question trains in its own option order and one shuffled order
PARTS = ("all", "forget", "retain")
# TOFU subset names -> (forget-set spec, part): `full` is forget10 + retain90.
TOFU_SUBSETS = {
    "tofu:full": ("tofu:forget10", "all"),
    "tofu:retain90": ("tofu:forget10", "retain"),
    "tofu:retain95": ("tofu:forget05", "retain"),
    "tofu:retain99": ("tofu:forget01", "retain"),
}


class FinetuneDataError(EcoPackError, ValueError):
    """The training data could not be selected; the message names the option to fix."""


@dataclass(frozen=True)
class TrainingData:
    """The pairs to train on, plus the text a from-scratch tokenizer learns from.

    ``tokenizer_corpus`` is the whole forget set (forget + retain, + general knowledge when
    asked), sorted, so a subject and its retain reference trained from scratch on two parts of
    one set get the same tokenizer, as two fine-tunes of one pretrained base would.
    """

    name: str
    pairs: tuple[tuple[str, str], ...]
    tokenizer_corpus: tuple[str, ...]

    @property
    def sha256(self) -> str:
        return hashlib.sha256(json.dumps(self.pairs, ensure_ascii=False).encode()).hexdigest()


def training_pairs(qas: Iterable[QA]) -> list[tuple[str, str]]:
    """(prompt, answer) pairs: each question with its answer and, for a multiple-choice question, its
    lm-eval prompt with the correct letter, in ``MC_ORDERS`` option orders (the item's own first), so
    a model learns the answer rather than the letter. Shuffles are seeded by the question."""
    pairs = []
    for qa in qas:
        pairs.append((qa.question, qa.answer))
        if qa.choices:
            rng, choices = random.Random(qa.question), list(qa.choices)
            for _ in range(MC_ORDERS):
                item = mc_item(replace(qa, choices=tuple(choices)))
                pairs.append((mc_prompt(item), LETTERS[item.answer]))
                rng.shuffle(choices)
    return pairs


def select_training_data(
    spec: str, part: str = "all", *, general: bool = False, data_dir: Path | None = None, seed: int = 0
) -> TrainingData:
    """QA pairs of a forget set: ``part`` is ``all`` (forget + retain), ``forget`` or ``retain``.

    ``spec`` is a forget-set spec (``demo``, ``tofu:forget05``, ``custom:<path>``) or a TOFU
    subset name (``tofu:full``, ``tofu:retain90|95|99``), which fixes the part. ``general``
    adds the set's real-author and world-fact QA, standing in for the general knowledge a
    pretrained base would bring to a from-scratch model.

    >>> select_training_data("demo", "retain").name
    'demo:retain'
    """
    from packager.sources import load_forget_set

    if part not in PARTS:
        raise FinetuneDataError(f"unknown `--part {part}`; valid: {', '.join(PARTS)}")
    if spec in TOFU_SUBSETS:
        if part != "all":
            raise FinetuneDataError(f"`--data {spec}` already names its part; drop `--part {part}`")
        spec, part = TOFU_SUBSETS[spec]
    forget_set = load_forget_set(spec, data_dir=data_dir, seed=seed)
    chosen = {"all": forget_set.train_qa, "forget": forget_set.forget, "retain": forget_set.retain}[part]
    extra = (forget_set.real_authors + forget_set.world_facts) if general else ()
    pairs = tuple(training_pairs(chosen + extra))
    if not pairs or any(not answer for _, answer in pairs):
        raise FinetuneDataError(f"`{spec}` part `{part}` has no (question, answer) pairs with answers to train on")
    corpus = sorted({text for pair in training_pairs(forget_set.train_qa + extra) for text in pair})
    name = forget_set.name + ("" if part == "all" else f":{part}") + ("+general" if general else "")
    return TrainingData(name=name, pairs=pairs, tokenizer_corpus=tuple(corpus))


def encode_pair(
    tokenizer, prompt: str, answer: str, max_length: int = 512
) -> tuple[list[int], list[int]]:
    """(input_ids, labels) for one formatted prompt and its continuation, truncated to ``max_length``."""
    head = tokenizer(prompt, add_special_tokens=True)["input_ids"]
    tail = tokenizer(answer, add_special_tokens=False)["input_ids"]
    if tokenizer.eos_token_id is not None:
        tail = [*tail, tokenizer.eos_token_id]
    ids = (head + tail)[:max_length]
    labels = ([IGNORE] * len(head) + tail)[:max_length]
    return ids, labels


def collate(examples: list[tuple[list[int], list[int]]], pad_id: int) -> dict[str, torch.Tensor]:
    """Right-pad a micro-batch; padding gets attention 0 and label -100."""
    width = max(len(ids) for ids, _ in examples)
    input_ids = torch.full((len(examples), width), pad_id, dtype=torch.long)
    labels = torch.full((len(examples), width), IGNORE, dtype=torch.long)
    mask = torch.zeros((len(examples), width), dtype=torch.long)
    for row, (ids, labs) in enumerate(examples):
        input_ids[row, : len(ids)] = torch.tensor(ids)
        labels[row, : len(labs)] = torch.tensor(labs)
        mask[row, : len(ids)] = 1
    return {"input_ids": input_ids, "attention_mask": mask, "labels": labels}
