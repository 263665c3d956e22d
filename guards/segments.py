"""The parts of a text that the guard scores: the whole text, each line, each sentence, and
overlapping word windows of a long sentence. A request is in scope when any part is, so a benign
wrapper cannot dilute an in-scope clause, and a name given three turns back still counts.

>>> segments("You are a helpful bot.\\nWho is Ana Lind? Answer briefly.")[1:]
['You are a helpful bot.', 'Who is Ana Lind?', 'Answer briefly.']
"""

from __future__ import annotations

import re

SENTENCE_END = re.compile(r"(?<=[.!?;])\s+|\n+")
WINDOW_WORDS = 24  # a sentence longer than this is also read in windows of this many words
STRIDE_WORDS = 12  # half a window: every run of 12 words lies whole inside some window
MAX_SEGMENTS = 256  # a bound on the classifier's work for one request (about 3,000 words of windows)


def segments(text: str) -> list[str]:
    """The whole text first, then its distinct sentences (and windows of long ones), in order."""
    whole = text.strip()
    parts = [whole] if whole else [text]
    seen = set(parts)
    for sentence in SENTENCE_END.split(text):
        sentence = " ".join(sentence.split())
        words = sentence.split(" ")
        pieces = [sentence]
        if len(words) > WINDOW_WORDS:
            starts = range(0, len(words) - WINDOW_WORDS + STRIDE_WORDS, STRIDE_WORDS)
            pieces += [" ".join(words[s : s + WINDOW_WORDS]) for s in starts]
        for piece in pieces:
            if piece and piece not in seen:
                seen.add(piece)
                parts.append(piece)
                if len(parts) >= MAX_SEGMENTS:
                    return parts
    return parts
