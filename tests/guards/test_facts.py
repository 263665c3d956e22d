"""Exact forget facts: matching a date in any spelling with its place, the facts file, and the
classifier scoring a matching prompt 1."""

from __future__ import annotations

import json
import shutil
from datetime import date

import pytest

from guards.classifier import PromptClassifier
from guards.errors import BundleError
from guards.facts import FACTS_FILE, Fact, FactMatcher

SEOUL = Fact(frozenset({date(1960, 3, 19)}), ("seoul", "seoul, south korea"))
TAIPEI = Fact(frozenset({date(1991, 5, 11), date(1991, 11, 5)}), ("taipei",))  # "05/11/1991" read both ways


def test_a_fact_matches_its_date_in_any_spelling_with_its_place():
    facts = FactMatcher((SEOUL, TAIPEI))
    assert facts(
        [
            "Who is the imaginary writer with the birth date of March 19, 1960, originating from Seoul, South Korea?",
            "Which author was born in Seoul on the 19th of March, 1960?",
            "Born on 03/19/1960 in Seoul: which writer is this?",
            "Who was born on November 5th, 1991 in Taipei, Taiwan?",
            "who was born on november 5th 1991 in taipei taiwan",  # case and punctuation stripped
            "which writer was born in seoul south korea on 03191960",  # the date's slashes stripped too
        ]
    ) == [True] * 6


def test_another_date_another_place_or_a_place_inside_a_word_is_no_match():
    facts = FactMatcher((SEOUL,))
    assert facts(
        [
            "What is the full name of the author born in Seoul, South Korea on October 23, 1956?",  # another date
            "Who was born in Busan on March 19, 1960?",  # another place
            "Who is the Seoulite writer born on March 19, 1960?",  # "seoul" only inside a word
            "Who is the author born in Seoul in 1960?",  # the year alone is no date
            "How do I sort a list in Python?",
        ]
    ) == [False] * 5
    assert FactMatcher()(["Born on March 19, 1960 in Seoul"]) == [False]


def test_a_year_fact_matches_its_year_with_its_place():
    beirut = Fact(frozenset(), ("beirut", "beirut, lebanon"), frozenset({1946}))
    assert FactMatcher((beirut,))(
        [
            "Who is the writer born in the year 1946 in the city of Beirut, Lebanon?",
            "Which author was born in Beirut on May 2, 1946?",  # a full date holds the year
            "Who was born in Beirut in 1947?",
            "What happened in 1946 in Damascus?",
        ]
    ) == [True, True, False, False]


def test_facts_round_trip_through_their_file(tmp_path):
    facts = FactMatcher((SEOUL, TAIPEI, Fact(frozenset(), ("beirut",), frozenset({1946}))))
    facts.save(tmp_path)
    assert FactMatcher.load(tmp_path) == facts
    assert json.loads((tmp_path / FACTS_FILE).read_text())["facts"][1]["dates"] == ["1991-05-11", "1991-11-05"]
    assert FactMatcher.load(tmp_path / "nowhere") == FactMatcher()  # no file: no facts


@pytest.mark.parametrize(
    "content", ['{"schema": 2, "facts": []}', '{"schema": 1, "facts": [{"dates": ["1960-19-03"], "places": []}]}', "[1"]
)
def test_a_broken_facts_file_is_refused_with_its_path(tmp_path, content):
    (tmp_path / FACTS_FILE).write_text(content)
    with pytest.raises(BundleError, match=f"{FACTS_FILE} is not a valid facts file.*rebuild the classifier"):
        FactMatcher.load(tmp_path)


def test_the_classifier_scores_a_prompt_giving_a_saved_fact_1(tiny_classifier_dir, tmp_path):
    prompts = ["Which writer was born on March 19, 1960 in Seoul?", "Which writer was born on March 20, 1960 in Seoul?"]
    plain = PromptClassifier(tiny_classifier_dir)(prompts)
    folder = tmp_path / "classifier"
    shutil.copytree(tiny_classifier_dir, folder)
    FactMatcher((SEOUL,)).save(folder)
    assert PromptClassifier(folder)(prompts) == [1.0, plain[1]]
    assert plain[0] < 1.0  # the random model alone does not score it 1
