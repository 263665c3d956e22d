"""Multiple-choice accuracy by top option log-likelihood (WMDP- or MMLU-shaped local JSONL).

The prompt and the options follow lm-evaluation-harness's ``wmdp`` and ``mmlu`` tasks: the
question, then ``A. ...`` lines, then ``Answer:``; each option is scored as the continuation
``" A"``, ``" B"``, ... and the highest total log-likelihood wins. The prompt then goes through
the guard's prompt format (``raw`` reproduces lm-eval exactly). The classifier decides on that
same prompt, choices included, as it would when serving it. Chance accuracy (1 / number of
choices) is the sigma target on these sets.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from evaluation.forget_set import QA
from evaluation.result import MetricResult
from evaluation.scoring import Scorer
from guards.errors import EcoPackError

LETTERS = "ABCDEFGHIJ"


class MultipleChoiceError(EcoPackError, ValueError):
    """A multiple-choice file is malformed; the message names the line and field."""


@dataclass(frozen=True)
class MCItem:
    question: str
    choices: tuple[str, ...]
    answer: int
    topic: str | None = None


def mc_item(qa: QA) -> MCItem:
    """The multiple-choice view of a forget-set question that carries ``choices``."""
    return MCItem(qa.question, qa.choices, qa.answer_index, qa.topic)


def load_mc_jsonl(path: Path) -> tuple[MCItem, ...]:
    """Read ``{"question", "choices", "answer"}`` records, one per line."""
    items = []
    for lineno, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            item = MCItem(str(record["question"]), tuple(str(c) for c in record["choices"]), int(record["answer"]))
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise MultipleChoiceError(f"{path}:{lineno}: need `question`, `choices`, `answer` ({exc})") from None
        if not 2 <= len(item.choices) <= len(LETTERS) or not 0 <= item.answer < len(item.choices):
            raise MultipleChoiceError(f"{path}:{lineno}: `answer` {item.answer} is not an index into `choices`")
        items.append(item)
    return tuple(items)


def mc_prompt(item: MCItem) -> str:
    lines = [item.question.strip()] + [f"{LETTERS[i]}. {c}" for i, c in enumerate(item.choices)]
    return "\n".join(lines) + "\nAnswer:"


def chance_accuracy(items: Sequence[MCItem]) -> float:
    return float(np.mean([1.0 / len(item.choices) for item in items]))


def multiple_choice_accuracy(
    scorer: Scorer, items: Sequence[MCItem], flags: Sequence[bool] | None = None
) -> MetricResult:
    """Accuracy; ``per_item`` is 1.0 where the top-scoring option is the answer.

    All options of all items are scored in one call. ``flags`` (per item) overrides the scorer's,
    which it decides on each item's prompt.
    """
    flags = list(flags) if flags is not None else scorer.decide([mc_prompt(it) for it in items])
    rows = [(i, LETTERS[j]) for i, it in enumerate(items) for j in range(len(it.choices))]
    prompts = [mc_prompt(items[i]) for i, _ in rows]
    scores = scorer.sum_logprob(prompts, [letter for _, letter in rows], [flags[i] for i, _ in rows])
    correct, offset = [], 0
    for item in items:
        chosen = int(np.argmax(scores[offset : offset + len(item.choices)]))
        correct.append(float(chosen == item.answer))
        offset += len(item.choices)
    return MetricResult("mc_accuracy", float(np.mean(correct)), tuple(correct))
