"""Augmentation profiles: which training-data heuristics a forget set gets, chosen by name.

The date spellings, birth-question shapes, "City, Country" places, near-miss and name-part
negatives, title positives, trivia negatives and exact date-and-place facts are written for
biographies (TOFU's and ``demo``'s people). On other text they do harm: "in Vero cells" reads as a
place, "budget in 2019" becomes the negative "budget in 1995". So they are one named profile,
``biographies``, and every other forget set gets ``generic``, under which no augmentation turns a
forget prompt into a negative. Entity matching by name, segment scoring, the generic rewrites of
``wrappers.py`` (typos, case, preambles, format suffixes, composites, on both classes) and elided
negatives (named negatives asked with a pronoun instead) are generic, and on in both.

>>> PROFILES.get("generic")(ClassifierConfig()).near_miss_negatives
False
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from guards.registry import Registry
from packager.classifier.config import ClassifierConfig

BIOGRAPHY_HEURISTICS = (
    "augment_dates", "rewrite_birth_questions", "near_miss_negatives", "forget_place_negatives",
    "name_part_negatives", "forget_name_positives", "title_positives", "trivia_negatives", "fact_matching",
)  # fmt: skip
PROFILES: Registry[Callable[[ClassifierConfig], ClassifierConfig]] = Registry("augmentation profile")


@PROFILES.register("biographies")
def biographies(config: ClassifierConfig) -> ClassifierConfig:
    """Every heuristic on: forget sets about people with birth dates, places and books (TOFU, demo)."""
    return replace(config, **dict.fromkeys(BIOGRAPHY_HEURISTICS, True))


@PROFILES.register("generic")
def generic(config: ClassifierConfig) -> ClassifierConfig:
    """No biography heuristic: any forget set (topics, corpora, companies, custom entities)."""
    return replace(config, **dict.fromkeys(BIOGRAPHY_HEURISTICS, False))


def default_profile(forget: str) -> str:
    """``tofu`` and ``demo`` are biographies; a ``custom:`` set is not assumed to be."""
    return "biographies" if forget.split(":", 1)[0] in ("tofu", "demo") else "generic"
