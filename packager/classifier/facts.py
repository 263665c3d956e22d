"""The forget facts (a date and a place given together) the classifier's training prompts teach."""

from __future__ import annotations

from guards.facts import Fact, FactMatcher
from packager.classifier.augment import dates_in, places_in
from packager.classifier.data import Labelled
from packager.sources.base import ForgetSet, normalize


def forget_facts(forget_set: ForgetSet, train: Labelled) -> FactMatcher:
    """Facts from the trained forget questions and their answers, so held-out prompts are judged
    on what training saw. A fact that some training negative also gives is left out: it does not
    single out the forget set."""
    trained = {normalize(t) for t, label in zip(train.texts, train.labels, strict=True) if label}
    texts = [t for qa in forget_set.forget if normalize(qa.question) in trained for t in (qa.question, qa.answer)]
    facts = FactMatcher.of(
        Fact(frozenset(dates), tuple(sorted(places)))
        for dates, places in ((dates_in(t), places_in(t)) for t in texts)
        if dates and places
    )
    dated_negatives = [t for t, label in zip(train.texts, train.labels, strict=True) if not label and dates_in(t)]
    given = [fact for fact in facts.facts if not any(FactMatcher((fact,))(dated_negatives))]
    return FactMatcher(tuple(given))
