"""The forget facts (a date or year and a place given together) the classifier's training prompts teach."""

from __future__ import annotations

from evaluation.forget_set import ForgetSet, normalize
from guards.dates import dates_in, years_in
from guards.facts import Fact, FactMatcher
from packager.classifier.augment import city_places, places_in
from packager.classifier.data import Labelled


def _fact(text: str) -> Fact | None:
    """The date and places ``text`` gives; without a full date, its year and "City, Country"
    places (a looser "in <Capitalised words>" would make a place of "in Earth Sciences")."""
    dates = dates_in(text)
    if dates:
        places = places_in(text)
        return Fact(frozenset(dates), tuple(sorted(places))) if places else None
    years = years_in(text)
    cities = {form for place in city_places(text) for form in (place.lower(), place.split(",")[0].lower())}
    return Fact(frozenset(), tuple(sorted(cities)), frozenset(years)) if years and cities else None


def forget_facts(forget_set: ForgetSet, train: Labelled) -> FactMatcher:
    """Facts from the trained forget questions and their answers, so held-out prompts are judged
    on what training saw. A fact that some training negative also gives is left out: it does not
    single out the forget set."""
    trained = {normalize(t) for t, label in zip(train.texts, train.labels, strict=True) if label}
    texts = [t for qa in forget_set.forget if normalize(qa.question) in trained for t in (qa.question, qa.answer)]
    facts = FactMatcher.of(fact for fact in map(_fact, texts) if fact is not None)
    negatives = [t for t, label in zip(train.texts, train.labels, strict=True) if not label]
    shared = {fact for text in negatives for fact in facts.matching(text)}
    return FactMatcher(tuple(fact for fact in facts.facts if fact not in shared))
