"""The runtime prompt classifier: a Hugging Face sequence classifier saved in the bundle.

Label 1 is "forget" (in scope). Calling it maps texts to p(forget), batched: a text scores the
highest p(forget) of its segments (the whole text, its sentences, windows of long ones:
``guards.segments``); a segment that gives an exact forget fact saved beside the model
(``guards.facts``), or a text that names a forget entity however it is written
(``guards.entities``), scores 1. Calibration, evaluation and serving all score through this call, so
the conformal threshold is calibrated on the decision that serves.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch

from guards.entities import EntityMatcher
from guards.errors import BundleError
from guards.facts import FactMatcher
from guards.segments import segments

FORGET_LABEL = 1


class PromptClassifier:
    """``PromptClassifier(path)(["who wrote ...?"]) -> [0.97]``."""

    def __init__(self, path: Path, device: str = "cpu", max_length: int = 256, batch_size: int = 64) -> None:
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        path = Path(path)
        if not (path / "config.json").is_file():
            raise BundleError(f"{path} holds no classifier (config.json missing)", str(path))
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.model = AutoModelForSequenceClassification.from_pretrained(path, use_safetensors=True)
        self.model.to(device).eval()
        self.facts = FactMatcher.load(path)
        self.entities = EntityMatcher.load(path)  # None: the bundle matches no entities by name
        self.device = device
        self.max_length = max_length
        self.batch_size = batch_size

    def __call__(self, texts: Sequence[str]) -> list[float]:
        parts = [segments(text) for text in texts]
        unique = list(dict.fromkeys(part for text_parts in parts for part in text_parts))
        scored = dict(zip(unique, self.score_segments(unique), strict=True))
        named = self.entities.matching(texts) if self.entities is not None else [False] * len(texts)
        return [1.0 if entity else max(scored[part] for part in text_parts)
                for text_parts, entity in zip(parts, named, strict=True)]  # fmt: skip

    @torch.inference_mode()
    def score_segments(self, texts: Sequence[str]) -> list[float]:
        """p(forget) of each text read whole, with no segmenting (1 for a text giving a forget fact).

        Texts are batched in order of length, so a batch pads to about its own length: a request's
        segments range from a clause to its whole text.
        """
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        scores = [0.0] * len(texts)
        for start in range(0, len(order), self.batch_size):
            rows = order[start : start + self.batch_size]
            batch = self.tokenizer(
                [texts[i] for i in rows], padding=True, truncation=True, max_length=self.max_length, return_tensors="pt"
            ).to(self.device)
            probs = self.model(**batch).logits.float().softmax(dim=-1)[:, FORGET_LABEL]
            for i, prob in zip(rows, probs.tolist(), strict=True):
                scores[i] = prob
        return [1.0 if fact else score for score, fact in zip(scores, self.facts(texts), strict=True)]
