"""Generic augmentations: each family rewrites without changing what a prompt asks, covers the same
share of both classes, and keeps the label of the prompt it rewrites."""

from __future__ import annotations

import random
import re
from collections import Counter
from dataclasses import replace
from pathlib import Path

from evaluation.forget_set import normalize
from packager.classifier import ClassifierConfig, split_forget_set
from packager.classifier.profiles import PROFILES
from packager.classifier.wrappers import PREAMBLES, REWRITES, generic_variants
from packager.sources import load_forget_set

QUESTION = "What was Project Falcon's budget in 2019, and who approved it?"
FILLERS = ("How do I boil an egg?", "Write a haiku about rain.", "What is the capital of Peru?")
QUILLMARK = Path(__file__).resolve().parents[1] / "data" / "quillmark.jsonl"


def test_each_family_keeps_the_question_and_changes_only_its_wrapping():
    rng = random.Random(0)
    typo = REWRITES.get("typos")(QUESTION, FILLERS, rng)
    changed = [a for a, b in zip(QUESTION.split(), typo.split(), strict=True) if a != b]
    assert 1 <= len(changed) <= 2 and all(len(word) >= 4 for word in changed)
    bare = REWRITES.get("case_punctuation")(QUESTION, FILLERS, rng)
    assert not re.search(r"[^\w\s]", bare) and bare.lower().split() == re.sub(r"[^\w\s]", " ", QUESTION).lower().split()
    for family in ("preamble", "format_suffix", "composite", "long_context"):
        wrapped = REWRITES.get(family)(QUESTION, FILLERS, rng)
        assert QUESTION in wrapped and wrapped != QUESTION, family
    assert any(f in REWRITES.get("composite")(QUESTION, FILLERS, rng) for f in FILLERS)


def test_every_family_rewrites_the_same_share_of_both_classes():
    texts = [f"Question number {i} about something?" for i in range(400)]
    labels = [1] * 100 + [0] * 300
    variants = list(generic_variants(texts, labels, FILLERS, random.Random(0), 0.3))
    by_class = Counter(labels[i] for i, _ in variants)
    assert by_class == {1: 30, 0: 90}
    assert len({i for i, _ in variants}) == len(variants)  # a prompt is rewritten once
    families = len(REWRITES)
    for label, members in ((1, 100), (0, 300)):
        share = by_class[label] / members
        assert abs(share - 0.3) < 0.01 and by_class[label] // families >= 1


def test_wrapped_forget_prompts_stay_positive_and_wrapped_negatives_negative():
    """Under `generic`, on a set that is not about people: a training text that holds a forget
    question is labelled forget, and each wrapper also dresses negatives, so it means nothing alone."""
    forget_set = load_forget_set(f"custom:{QUILLMARK}")
    config = PROFILES.get("generic")(ClassifierConfig(show_progress=False))
    data = split_forget_set(forget_set, config)
    plain = split_forget_set(forget_set, replace(config, generic_augmentations=False))
    forget = {qa.question for qa in forget_set.forget}
    added = [(t, y) for t, y in zip(data.train.texts, data.train.labels, strict=True)
             if normalize(t) not in {normalize(p) for p in plain.train.texts}]  # fmt: skip
    assert len(added) > 0.2 * len(plain.train.texts)
    for text, label in added:
        if any(q in text for q in forget):
            assert label == 1, text
    preambled = Counter(y for t, y in added if any(t.startswith(p) for p in PREAMBLES))
    assert preambled[0] and preambled[1]  # the wrapper on both sides of the decision
