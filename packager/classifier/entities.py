"""Which forget entities the guard matches by name, and which of their name parts count alone.

A name part may name its entity by itself only when it is distinctive: at least four letters,
rarer than ``MAX_ZIPF`` in English (``wordfreq``: "Park", "Chen" and "Williams" are common), and a
word of no text outside the forget scope (retain and holdout questions and answers, other people's
names, general prompts). Anyone else who shares a part of a forget entity's name then stays out
of scope. The full name, with a few edits or with initials, always counts (``guards.entities``).
"""

from __future__ import annotations

from evaluation.forget_set import ForgetSet
from guards.entities import Entity, EntityMatcher, normalize_words

MAX_ZIPF = 3.0  # Zipf frequency: 3 is about once per million words ("Vasquez" 2.96, "Chen" 3.96)
MIN_LETTERS = 4


def _outside_words(forget_set: ForgetSet) -> set[str]:
    """Every word of the texts and names outside the forget scope."""
    texts: list[str] = list(forget_set.general)
    for qa in forget_set.retain + forget_set.retain_eval + forget_set.holdout + forget_set.real_authors + \
            forget_set.world_facts:  # fmt: skip
        texts += [qa.question, qa.answer, qa.entity or ""]
    return {word for text in texts for word in normalize_words(text)}


def distinctive_parts(name: str, outside: set[str], *, language: str = "en") -> tuple[str, ...]:
    from wordfreq import zipf_frequency

    parts = normalize_words(name)
    return tuple(
        part for part in dict.fromkeys(parts)
        if len(part) >= MIN_LETTERS and part not in outside and zipf_frequency(part, language) < MAX_ZIPF
    )  # fmt: skip


def forget_entities(forget_set: ForgetSet) -> EntityMatcher | None:
    """The matcher for ``forget_set``'s entities (None when the set names none)."""
    if not forget_set.entities:
        return None
    outside = _outside_words(forget_set)
    return EntityMatcher([Entity(name, distinctive_parts(name, outside)) for name in forget_set.entities])
