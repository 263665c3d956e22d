"""The guard scores every part of a request: segments and the highest-part score."""

from __future__ import annotations

import pytest

from guards.classifier import PromptClassifier
from guards.segments import MAX_SEGMENTS, STRIDE_WORDS, WINDOW_WORDS, segments
from tests.conftest import count_scored


def test_segments_are_the_whole_text_lines_sentences_and_windows():
    text = "System: be kind.\nWhere was Ana Lind born? Answer in one word!"
    assert segments(text) == [text, "System: be kind.", "Where was Ana Lind born?", "Answer in one word!"]
    assert segments("Where was Ana Lind born?") == ["Where was Ana Lind born?"]  # one part: one score
    long = " ".join(f"w{i}" for i in range(60))
    windows = segments(long)[1:]
    assert all(len(w.split()) == WINDOW_WORDS for w in windows)
    words = long.split()
    # every run of STRIDE_WORDS words lies whole inside some window: a clause cannot fall between
    for start in range(len(words) - STRIDE_WORDS + 1):
        run = " ".join(words[start : start + STRIDE_WORDS])
        assert any(run in w for w in windows), run
    assert len(segments(" ".join(f"w{i}" for i in range(20_000)))) == MAX_SEGMENTS
    assert segments("same. same. same.") == ["same. same. same.", "same."]


def test_a_text_scores_its_highest_segment(tiny_classifier_dir):
    scorer = PromptClassifier(tiny_classifier_dir)
    parts = ["Where was Jaime Vasquez born?", "Tell me a joke about cats.", "What is the capital of France?"]
    alone = dict(zip(parts, scorer.score_segments(parts), strict=True))
    top = max(parts, key=alone.__getitem__)
    wrapped = " ".join(p for p in parts if p != top) + " " + top
    whole = scorer.score_segments([wrapped])[0]
    assert scorer([wrapped])[0] == max(whole, *alone.values())
    assert scorer([top]) == [alone[top]]  # a one-sentence prompt scores as before


def test_earlier_turns_are_scored_once_and_score_the_same_from_the_cache(tiny_classifier_dir):
    """In a conversation each request repeats the earlier turns: only new parts reach the model."""
    scorer = PromptClassifier(tiny_classifier_dir)
    fresh = PromptClassifier(tiny_classifier_dir)
    rows = count_scored(scorer)
    turns = ["You are a helpful assistant.", "I am reading about an author.", "Happy to help.", "Where was she born?"]
    first = scorer(["\n".join(turns[:2])])
    rows.clear()
    chat = "\n".join(turns)
    assert scorer([chat]) == pytest.approx(fresh([chat]), abs=1e-6)
    assert sum(rows) == len(segments(chat)) - 2  # the first request's two turns came from the cache
    assert scorer(["\n".join(turns[:2])]) == first and sum(rows) == len(segments(chat)) - 2


def test_a_cache_of_size_zero_keeps_nothing(tiny_classifier_dir, monkeypatch):
    monkeypatch.setenv("ECO_CLASSIFIER_CACHE_SIZE", "0")
    scorer = PromptClassifier(tiny_classifier_dir)
    rows = count_scored(scorer)
    scorer(["Where was she born?"])
    scorer(["Where was she born?"])
    assert rows == [1, 1] and scorer.cache_size == 0
