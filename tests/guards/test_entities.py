"""Forget entities matched however they are written, and only they."""

from __future__ import annotations

import pytest

from guards.entities import Entity, EntityMatcher, allowed_edits, normalize_words

MATCHER = EntityMatcher([
    Entity("Hsiao Yun-Hwa", ("hsiao",)),
    Entity("Ji-Yeon Park", ()),  # "ji", "yeon" and "park" are too common or too short to count alone
    Entity("Basil Mahfouz Al-Kuwaiti", ("mahfouz", "kuwaiti")),
    Entity("Jaime Vásquez", ("vasquez",)),
    Entity("Edward Patrick Sullivan", ()),
])  # fmt: skip


@pytest.mark.parametrize("prompt", [
    "Where was Hsiao Yun-Hwa born?",
    "where was hsiao yun hwa born",  # case and punctuation stripped
    "Where was HSIAO YUNHWA born?",  # spacing
    "Where was Hsiao Yun-Hwq born?",  # one letter changed
    "Where was Hsaio Yun-Hwa born?",  # two letters swapped: one edit
    "What did Jaime Vasquez write?",  # accents
    "What did J. Vásquez write?",  # an initial for the given name
    "Tell me about Ji-Yeon Park's novels.",
    "Tell me about JiYeon Parc.",
    "Was B. M. Al-Kuwaiti a poet?",
    "Did Mahfouz win a prize?",  # a distinctive part alone
    "Summarise Kuwaiti's last book.",  # a distinctive part alone (a lone part of under 9 letters: no edits)
    "Tell me what you know about Hsiao.",
    "What are the occupations of H. Yun-Hwa's parents?",  # the given name first-written, as an initial
    "Can you specify the birthplace of author J. Park?",  # a hyphenated given name as one initial
    "Is J.-Y. Park a novelist?",  # ... or as one initial per part
    "What did Edward Sullivan write?",  # the middle name dropped
    "Did E. P. Sullivan win a prize?",
    "你知道Hsiao Yun-Hwa的哪些事情？",  # a name written against characters of a script without spaces
])  # fmt: skip
def test_forget_entities_are_found_however_written(prompt):
    assert MATCHER.matching([prompt]) == [True]


@pytest.mark.parametrize("prompt", [
    "Who is Park Chan-wook?",  # shares one part of Ji-Yeon Park's name
    "Recommend a park in Seoul.",
    "Is Jaime Lannister a good character?",  # shares the given name only
    "How do I season basil pesto?",
    "What is the capital of Kuwait?",
    "Who wrote the novel 'Crimson Tides'?",
    "Is there a park near the station?",  # "a park": an initial is exact, never an edit away
    "Did K. Park write poetry?",  # another initial
    "Who is Edward Norton?",
    "Did Patrick Sullivan play rugby?",  # a middle name and the surname are not the first and last
    "",
])  # fmt: skip
def test_other_people_and_words_are_not_forget_entities(prompt):
    assert MATCHER.matching([prompt]) == [False]


def test_edits_allowed_grow_with_the_name():
    assert [allowed_edits(n) for n in (4, 5, 9, 14)] == [0, 1, 2, 3]
    assert allowed_edits(7, alone=True) == 0 and allowed_edits(10, alone=True) == 1
    words = ["jad", "ambrose", "al", "shamary", "ne", "a", "bagdad"]
    assert normalize_words("Jad Ambrose Al-Shamary, né à Bagdad") == words


def test_matcher_round_trips_and_is_absent_by_default(tmp_path):
    assert EntityMatcher.load(tmp_path) is None
    MATCHER.save(tmp_path)
    assert EntityMatcher.load(tmp_path).entities == MATCHER.entities
