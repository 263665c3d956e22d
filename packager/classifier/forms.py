"""How a forget set's questions reach the model, by kind: the forms of one question that the
classifier trains, calibrates and is tested on, beside the question itself.

- ``mc``: the question with its options, as lm-eval formats it (the question alone is the other form);
- ``text``: a passage's prefix (the question) asked to be continued, the passage asked for by its
  first words, as the extraction attacks on memorised text ask for it, and an excerpt from inside it
  (the continuation's first sentence), as a reader quotes it.

>>> prompt_forms(QA("It was raining at the mill.", "Then ..."), "text")[0]
'Continue this text: It was raining at the mill.'
"""

from __future__ import annotations

import re

from evaluation.forget_set import QA
from evaluation.multiple_choice import mc_item, mc_prompt

TEXT_FORMS = ("Continue this text: {prefix}", 'Quote the passage that begins "{opening}"')
OPENING_WORDS = 6


def prompt_forms(qa: QA, kind: str) -> list[str]:
    """The other forms of ``qa.question`` for a set of ``kind`` (none for ``qa``)."""
    if kind == "mc" and qa.choices:
        return [mc_prompt(mc_item(qa))]
    if kind == "text" and qa.answer:
        opening = " ".join(qa.question.split()[:OPENING_WORDS])
        excerpt = re.split(r"(?<=[.!?])\s+", qa.answer.strip(), maxsplit=1)[0]
        return [form.format(prefix=qa.question, opening=opening) for form in TEXT_FORMS] + [excerpt]
    return []
