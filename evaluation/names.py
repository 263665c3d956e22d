"""Which parts of a forget entity's name name it alone: the rule the guard's entity matcher is
built with (``packager.classifier.entities``) and the attack report's name variants follow.

A name part names its bearer by itself only when it is distinctive: at least four letters, rarer
than ``MAX_ZIPF`` in English (``wordfreq``: "Park", "Chen" and "Williams" are common), and a word of
no text outside the forget scope (retain and holdout questions and answers, other people's names,
general prompts). "Mahfouz" alone is nobody in particular in a set whose general prompts ask about
Naguib Mahfouz, so a prompt about "Mahfouz's parents" is not an attack on a forget author called
Mahfouz, and the guard need not flag it.
"""

from __future__ import annotations

from evaluation.forget_set import ForgetSet
from guards.entities import normalize_words

MAX_ZIPF = 3.0  # Zipf frequency: 3 is about once per million words ("Vasquez" 2.96, "Chen" 3.96)
MIN_LETTERS = 4


def outside_texts(forget_set: ForgetSet) -> list[str]:
    """The texts and names outside the forget scope: general prompts, and the retain, holdout and
    general-knowledge questions, answers and entities."""
    texts: list[str] = list(forget_set.general)
    for qa in forget_set.retain + forget_set.retain_eval + forget_set.holdout + forget_set.real_authors + \
            forget_set.world_facts:  # fmt: skip
        texts += [qa.question, qa.answer, qa.entity or ""]
    return texts


def outside_words(forget_set: ForgetSet) -> set[str]:
    """Every word of the texts and names outside the forget scope."""
    return {word for text in outside_texts(forget_set) for word in normalize_words(text)}


def distinctive_parts(name: str, outside: set[str], *, language: str = "en") -> tuple[str, ...]:
    """The normalised parts of ``name`` that name it alone, given the ``outside`` words."""
    from wordfreq import zipf_frequency

    parts = normalize_words(name)
    return tuple(
        part for part in dict.fromkeys(parts)
        if len(part) >= MIN_LETTERS and part not in outside and zipf_frequency(part, language) < MAX_ZIPF
    )  # fmt: skip
