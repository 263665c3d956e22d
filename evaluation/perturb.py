"""Wrong answers of the same shape as a right one, made from the answers of a set alone.

TOFU's truth ratio compares a model's probability of a question's answer with that of perturbed
answers: the same sentence with other facts. Holdout questions (and custom forget sets) come with
no perturbed answers, so these are made generically: each fact-like span of the answer (a number,
a capitalised word inside the sentence, a quoted title) is swapped for a span of the same kind
from another answer of the set. An answer with no such span is perturbed by the answers of other
questions closest to it in length. The same maker serves every set compared, so two truth-ratio
distributions made with it differ only through the model.

>>> perturbed_answers(["Born in Paris in 1960.", "She wrote 'Blue Rain' in 1999."], k=2)[0]  # doctest: +SKIP
('Born in Paris in 1999.', 'Born in Rain in 1960.')
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence

from guards.dates import MONTH_NAMES

_SPAN = re.compile(r"[\"“‘][^\"“”‘’]{2,60}[\"”’]|'[^']{2,60}'(?!\w)|\b\d+(?:[.,]\d+)*\b|(?<=[a-z,;] )[A-Z][\w-]+")


def _kind(span: str) -> str:
    if span[0] in "'\"“‘":
        return "title"
    return "number" if span[0].isdigit() else "month" if span in MONTH_NAMES else "name"


def perturbed_answers(
    answers: Sequence[str], questions: Sequence[str] | None = None, k: int = 3, seed: int = 0
) -> list[tuple[str, ...]]:
    """For each of ``answers``, ``k`` wrong answers of its shape (fewer only when the set is too
    small to make them), drawn from ``seed``. A span its question says too ("Where was Ana Lind
    born?": "Lind") is what is asked about, not a fact of the answer, and is kept."""
    rng = random.Random(seed)
    pools: dict[str, list[str]] = {}
    for answer in answers:
        for span in _SPAN.findall(answer):
            pools.setdefault(_kind(span), []).append(span)
    by_length = sorted(range(len(answers)), key=lambda i: len(answers[i]))
    rank_of = {j: r for r, j in enumerate(by_length)}
    out = []
    for i, answer in enumerate(answers):
        asked = questions[i] if questions is not None else ""
        spans = [m for m in _SPAN.finditer(answer) if m.group() not in asked]
        made: list[str] = []
        for _ in range(4 * k):
            if len(made) == k or not spans:
                break
            text = answer
            for match in sorted(rng.sample(spans, max(1, len(spans) // 2)), key=lambda m: -m.start()):
                others = [s for s in pools.get(_kind(match.group()), []) if s != match.group()]
                if others:
                    text = text[: match.start()] + rng.choice(others) + text[match.end() :]
            if text != answer and text not in made:
                made.append(text)
        if len(made) < k:  # too few spans: answers to other questions, the nearest in length
            near = sorted((j for j in by_length if answers[j] != answer and answers[j] not in made),
                          key=lambda j: abs(rank_of[j] - rank_of[i]))  # fmt: skip
            made += [answers[j] for j in near[: k - len(made)]]
        out.append(tuple(made))
    return out
