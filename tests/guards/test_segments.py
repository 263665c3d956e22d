"""The guard scores every part of a request: segments and the highest-part score."""

from __future__ import annotations

from guards.classifier import PromptClassifier
from guards.segments import MAX_SEGMENTS, STRIDE_WORDS, WINDOW_WORDS, segments


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
