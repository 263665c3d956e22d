"""Wrong answers of the same shape as a right one, made from the answers of a set alone.

TOFU's truth ratio compares a model's probability of a question's answer with that of perturbed
answers: the same sentence with another fact. Holdout questions (and custom forget sets) come with
no perturbed answers, so these are made generically, in the first of three ways that applies:

1. **Another answer's value in the same place.** Answers written from one template ("Ana Lind was
   born in Oslo." / "Cy Ro was born in Lima.") differ in the value only, once the words their
   questions name are set aside. The answer keeps its own words and takes the other's value.
2. **A fact-like span swapped** (a number, a quoted title, a run of capitalised words inside the
   sentence such as "Reykjavik, Iceland") for a span of the same kind from another answer.
3. **Another question's answer**, the closest in length.

What the question asks about ("Where was Ana Lind born?": "Ana Lind") is kept, and never drawn
as another answer's fact. Given each answer's entity (whom its question is about), a wrong answer
takes nothing from answers about the same entity: another of Ana Lind's facts may be true of the
question too, and a model that knows her holds it as surely as the right one. That holds where the
other answers name at least as many entities as wrong answers are made; with fewer, all of a
question's wrong answers would come from one or two other entities, and it draws from every answer.
The same maker serves every set compared, so two truth-ratio distributions made with it differ only
through the model.

>>> perturbed_answers(["Ana was born in Oslo.", "Cy was born in Lima."], ["Where's Ana from?", "Where's Cy from?"], k=1)
[('Ana was born in Lima.',), ('Cy was born in Oslo.',)]
"""

from __future__ import annotations

import bisect
import dataclasses
import random
import re
from collections.abc import Sequence

from guards.dates import MONTH_NAMES

_CAPITALISED = r"[A-Z][\w'-]*"
_SPAN = re.compile(
    r"[\"“‘][^\"“”‘’]{2,60}[\"”’]|'[^']{2,60}'(?!\w)|\b\d+(?:[.,]\d+)*\b"
    rf"|(?<=[a-z,;] ){_CAPITALISED}(?:(?:,? ){_CAPITALISED})*"
)
ASKED = "\0"  # stands for a word the question names, when answers are compared
MAX_VALUE_WORDS = 6  # a value told apart from a sibling answer is at most this long ...
MIN_SHARED = 0.5  # ... and the two answers share at least this share of the answer's words


def _kind(span: str) -> str:
    if span[0] in "'\"“‘":
        return "title"
    return "number" if span[0].isdigit() else "month" if span in MONTH_NAMES else "name"


def _bare(word: str) -> str:
    return re.sub(r"['’]s$", "", word.strip(".,;:!?\"“”()"))


def _compared(answer: str, question: str) -> list[str]:
    """The answer's words, with those its question names (possessives too) set to ``ASKED``."""
    named = {_bare(word) for word in question.split()} - {""}
    return [ASKED if _bare(word) in named and word[:1].isupper() else word for word in answer.split()]


def _shape(words: list[str]) -> str:
    """A value's kind: a number, a name (capitalised) or words; only values of one kind swap."""
    text = " ".join(words)
    return "number" if any(c.isdigit() for c in text) else "name" if text[:1].isupper() else "words"


def _value_from(mine: list[str], other: list[str]) -> tuple[int, int, list[str]] | None:
    """Where ``mine`` and a sibling answer ``other`` differ in one short stretch of the same kind,
    framed by shared words: (start, end) of that stretch in ``mine`` and the sibling's words there;
    else None."""
    limit = min(len(mine), len(other))
    head = next((n for n in range(limit) if mine[n] != other[n]), limit)
    tail = next((n for n in range(limit - head) if mine[-1 - n] != other[-1 - n]), limit - head)
    start, end, value = head, len(mine) - tail, other[head : len(other) - tail]
    if not (0 < end - start <= MAX_VALUE_WORDS and 0 < len(value) <= MAX_VALUE_WORDS) or ASKED in value:
        return None
    if _shape(mine[start:end]) != _shape(value):
        return None
    return (start, end, value) if head + tail >= MIN_SHARED * len(mine) else None


def _facts(answer: str, question: str) -> list[re.Match[str]]:
    """The answer's fact-like spans, less those its question names (what is asked about)."""
    return [m for m in _SPAN.finditer(answer) if m.group() not in question]


def _span_swaps(answer: str, facts: list[re.Match[str]], pools: dict[str, list[str]], rng: random.Random) -> str:
    """``answer`` with about half its ``facts`` (at least one) swapped for others of the same kind."""
    text = answer
    for match in sorted(rng.sample(facts, max(1, len(facts) // 2)), key=lambda m: -m.start()):
        others = [s for s in pools.get(_kind(match.group()), []) if s != match.group()]
        if others:
            text = text[: match.start()] + rng.choice(others) + text[match.end() :]
    return text


@dataclasses.dataclass(frozen=True)
class _Read:
    """A set's answers as the maker reads them: each answer's compared words and fact-like spans."""

    answers: Sequence[str]
    compared: list[list[str]]
    facts: list[list[re.Match[str]]]


def _read(answers: Sequence[str], questions: Sequence[str] | None) -> _Read:
    asked = list(questions) if questions is not None else [""] * len(answers)
    pairs = list(zip(answers, asked, strict=True))
    return _Read(answers, [_compared(a, q) for a, q in pairs], [_facts(a, q) for a, q in pairs])


def _pools(facts: list[list[re.Match[str]]], drawn: Sequence[int]) -> dict[str, list[str]]:
    """The fact-like spans of the answers ``drawn``, by kind."""
    pools: dict[str, list[str]] = {}
    for match in (match for j in drawn for match in facts[j]):
        pools.setdefault(_kind(match.group()), []).append(match.group())
    return pools


def perturbed_answers(
    answers: Sequence[str], questions: Sequence[str] | None = None, k: int = 3, seed: int = 0,
    source: tuple[Sequence[str], Sequence[str] | None] | None = None,
    entities: Sequence[str | None] | None = None,
) -> list[tuple[str, ...]]:
    """For each of ``answers``, ``k`` wrong answers of its shape (fewer only when the set is too
    small to make them), drawn from ``seed``. Their facts come from the set's other answers, or from
    ``source`` ((answers, questions) of another set): facts a model has never read stay new to it
    in a wrong answer, as TOFU's perturbed answers are. ``entities`` (one per answer, None where
    unknown; the set's own answers only): an answer's wrong answers take nothing from answers about
    its entity, where at least ``k`` other entities are named."""
    rng = random.Random(seed)
    own = source is None
    if entities is not None and (not own or len(entities) != len(answers)):
        raise ValueError("`entities` needs one entity per answer, and the set's own answers as the source")
    mine = _read(answers, questions)
    theirs = mine if own else _read(*source)
    everyone = range(len(theirs.answers))
    entity_of = list(entities) if entities is not None else [None] * len(answers)
    named = set(entity_of) - {None}
    # the answers an answer about each entity may draw from: those about other entities where there are
    # at least ``k`` of them (one per wrong answer), else all, as where the entity is unknown (None)
    apart = {e: e is not None and len(named - {e}) >= k for e in set(entity_of)}
    drawable = {e: [j for j in everyone if not apart[e] or entity_of[j] != e] for e in set(entity_of)}
    pools_for = {e: _pools(theirs.facts, js) for e, js in drawable.items()}
    by_length = sorted(everyone, key=lambda j: len(theirs.answers[j]))
    rank_of = {j: r for r, j in enumerate(by_length)}
    lengths = [len(theirs.answers[j]) for j in by_length]
    out = []
    for i, answer in enumerate(answers):
        words = answer.split()
        made: list[str] = []
        drawn = [j for j in drawable[entity_of[i]] if j != i or not own]
        pools = pools_for[entity_of[i]]
        values = [found for j in drawn if (found := _value_from(mine.compared[i], theirs.compared[j]))]
        for start, end, value in rng.sample(values, len(values)):
            text = " ".join(words[:start] + value + words[end:])
            if len(made) < k and text != answer and text not in made:
                made.append(text)
        for _ in range(4 * k):
            if len(made) >= k or not mine.facts[i]:
                break
            text = _span_swaps(answer, mine.facts[i], pools, rng)
            if text != answer and text not in made:
                made.append(text)
        if len(made) < k:
            here = rank_of[i] if own else bisect.bisect_left(lengths, len(answer))
            allowed = set(drawn)
            near = sorted((j for j in by_length if j in allowed and theirs.answers[j] != answer
                           and theirs.answers[j] not in made), key=lambda j: abs(rank_of[j] - here))  # fmt: skip
            made += [theirs.answers[j] for j in near[: k - len(made)]]
        out.append(tuple(made))
    return out
