"""The forget facts (a date or year and a place given together) the guard matches: those the
classifier's training prompts teach, which calibration and the report measure, and those of the whole
forget set, which the bundle ships."""

from __future__ import annotations

from collections.abc import Iterable

from evaluation.forget_set import ForgetSet, normalize
from evaluation.names import outside_texts
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


def _facts(forget_texts: Iterable[str], outside: Iterable[str]) -> FactMatcher:
    """The facts ``forget_texts`` give, less any that an ``outside`` text also gives: such a fact
    does not single out the forget set."""
    facts = FactMatcher.of(fact for fact in map(_fact, forget_texts) if fact is not None)
    shared = {fact for text in outside for fact in facts.matching(text)}
    return FactMatcher(tuple(fact for fact in facts.facts if fact not in shared))


def forget_facts(forget_set: ForgetSet, train: Labelled) -> FactMatcher:
    """Facts from the trained forget questions and their answers, less those a training negative
    gives, so held-out prompts are judged on what training saw."""
    trained = {normalize(t) for t, label in zip(train.texts, train.labels, strict=True) if label}
    texts = [t for qa in forget_set.forget if normalize(qa.question) in trained for t in (qa.question, qa.answer)]
    return _facts(texts, (t for t, label in zip(train.texts, train.labels, strict=True) if not label))


def served_facts(forget_set: ForgetSet) -> FactMatcher:
    """Facts from every forget question and answer, less those any text outside the forget scope
    gives: what the bundle ships, since a held-out forget question asks about a fact in scope too."""
    return _facts((t for qa in forget_set.forget for t in (qa.question, qa.answer)), outside_texts(forget_set))
