"""Turning questions and answers into model scores through a ``GuardedModel``.

Every metric reads model outputs through a ``Scorer``: who is flagged, the mean token NLL of
answers, greedy generations. ``QAScorer`` is the real one; tests pass a fake with hand-picked
numbers. Each call scores a whole list at once (``GuardedModel.score`` batches it), so no metric
loops over examples around the model.

A question and an answer are joined exactly as our fine-tuning joins them
(``evaluation.answers.answer_text``: one space, none after a chat template), so a subject
model is scored on the text it was trained on. That matches open-unlearning's Phi template
(``"Question: " q "\\n" "Answer: " a``). For Llama-2 open-unlearning uses ``"[INST] " q " [/INST]"``
followed by ``a`` with no space, but it tokenizes the joined string, where a SentencePiece
tokenizer gives the answer's first word no word-start marker; ``GuardedModel.score`` tokenizes the
continuation on its own, so the space is what reproduces a word start. As in open-unlearning's
``preprocess_chat_instance`` (and TOFU's ``convert_raw_data_to_model_format``) the EOS token is
appended to the scored answer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal, Protocol

import numpy as np

from evaluation.answers import answer_continuation
from guards.guarded_model import GuardedModel

FlagMode = Literal["classifier", "all", "none"]
FLAG_MODES: tuple[str, ...] = ("classifier", "all", "none")


class Scorer(Protocol):
    """What metrics need from a model. ``flags`` are per question, decided once per split."""

    def decide(self, questions: Sequence[str]) -> list[bool]: ...

    def mean_nll(self, questions: Sequence[str], answers: Sequence[str], flags: Sequence[bool]) -> np.ndarray: ...

    def sum_logprob(self, questions: Sequence[str], answers: Sequence[str], flags: Sequence[bool]) -> np.ndarray: ...

    def generate(self, questions: Sequence[str], flags: Sequence[bool], max_new_tokens: int) -> list[str]: ...


class QAScorer:
    """A ``Scorer`` over a ``GuardedModel``.

    ``flags`` picks the rows that are corrupted: ``classifier`` (the guard's classifier decides,
    on the raw question), ``all`` (every row: the guard's effect when it always fires) or
    ``none`` (the unguarded model, bit for bit). ``seed`` fixes the corruption noise.
    """

    def __init__(
        self,
        guarded: GuardedModel,
        *,
        flags: FlagMode = "classifier",
        seed: int | None = 0,
        batch_size: int = 16,
        score_eos: bool = True,
    ) -> None:
        if flags not in FLAG_MODES:
            raise ValueError(f"`flags` must be one of {', '.join(FLAG_MODES)}, not `{flags}`")
        self.guarded = guarded
        self.flags = flags
        self.seed = seed
        self.batch_size = batch_size
        self.eos = guarded.tokenizer.eos_token if score_eos else None

    def decide(self, questions: Sequence[str]) -> list[bool]:
        if self.flags == "all":
            return [True] * len(questions)
        if self.flags == "none":
            return [False] * len(questions)
        return [d.flagged for d in self.guarded.decide(list(questions))]

    def token_logprobs(self, questions: Sequence[str], answers: Sequence[str], flags: Sequence[bool]):
        prompts = [self.guarded.format(q) for q in questions]
        conts = [answer_continuation(self.guarded.prompt_format, a, self.eos) for a in answers]
        return self.guarded.score(prompts, conts, flags=list(flags), seed=self.seed, batch_size=self.batch_size)

    def mean_nll(self, questions: Sequence[str], answers: Sequence[str], flags: Sequence[bool]) -> np.ndarray:
        """Mean token NLL of each answer (open-unlearning's ``avg_loss``)."""
        return np.array([mean_nll(lp) for lp in self.token_logprobs(questions, answers, flags)], dtype=np.float64)

    def sum_logprob(self, questions: Sequence[str], answers: Sequence[str], flags: Sequence[bool]) -> np.ndarray:
        """Total log-likelihood of each answer, no EOS (lm-eval's multiple-choice score)."""
        prompts = [self.guarded.format(q) for q in questions]
        conts = [answer_continuation(self.guarded.prompt_format, a) for a in answers]
        scores = self.guarded.score(prompts, conts, flags=list(flags), seed=self.seed, batch_size=self.batch_size)
        return np.array([float(lp.sum()) for lp in scores], dtype=np.float64)

    def generate(self, questions: Sequence[str], flags: Sequence[bool], max_new_tokens: int) -> list[str]:
        """Greedy generations, stripped, in batches of ``batch_size``."""
        prompts = [self.guarded.format(q) for q in questions]
        texts: list[str] = []
        for start in range(0, len(prompts), self.batch_size):
            stop = start + self.batch_size
            out = self.guarded.generate(
                prompts[start:stop],
                flags=list(flags[start:stop]),
                seed=self.seed,
                do_sample=False,
                max_new_tokens=max_new_tokens,
            )
            texts.extend(t.strip() for t in out.texts)
        return texts


def mean_nll(token_logprobs) -> float:
    """-mean(log p) over the answer tokens; an empty answer has no likelihood (inf)."""
    n = len(token_logprobs)
    return float(-token_logprobs.sum() / n) if n else float("inf")


def over_noise_seeds(
    first: Sequence[float],
    flagged: Sequence[bool],
    *,
    flags: FlagMode,
    seed: int | None,
    noise_seeds: int,
    rescore: Callable[[int, list[int]], Sequence[float]],
) -> tuple[list[int | None], list[np.ndarray]]:
    """Per-item values under ``seed`` (``first``) and ``noise_seeds - 1`` more seeds. Only flagged items
    depend on the noise, so only they are re-scored (``rescore(seed, items)``); with nothing flagged,
    no corruption or unseeded noise, one seed says all."""
    seeds, rows = [seed], [np.asarray(first, dtype=np.float64)]
    hot = [i for i, f in enumerate(flagged) if f]
    if hot and flags != "none" and seed is not None:
        for extra in range(seed + 1, seed + noise_seeds):
            row = rows[0].copy()
            row[hot] = rescore(extra, hot)
            seeds.append(extra)
            rows.append(row)
    return seeds, rows
