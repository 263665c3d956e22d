"""Which forget entities the guard matches by name, and which of their name parts count alone.

A name part may name its entity by itself only when it is distinctive (``evaluation.names``): at
least four letters, rare in English, and a word of no text outside the forget scope. Anyone else
who shares a part of a forget entity's name then stays out of scope. The full name, with a few
edits or with initials, always counts (``guards.entities``).
"""

from __future__ import annotations

from evaluation.forget_set import ForgetSet
from evaluation.names import distinctive_parts, outside_words
from guards.entities import Entity, EntityMatcher


def forget_entities(forget_set: ForgetSet) -> EntityMatcher | None:
    """The matcher for ``forget_set``'s entities (None when the set names none)."""
    if not forget_set.entities:
        return None
    outside = outside_words(forget_set)
    return EntityMatcher([Entity(name, distinctive_parts(name, outside)) for name in forget_set.entities])
