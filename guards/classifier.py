"""The runtime prompt classifier: a Hugging Face sequence classifier saved in the bundle.

Label 1 is "forget" (in scope). Calling it maps prompt texts to p(forget), batched; a prompt
that gives an exact forget fact saved beside the model (``guards.facts``) scores 1.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch

from guards.errors import BundleError
from guards.facts import FactMatcher

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
        self.device = device
        self.max_length = max_length
        self.batch_size = batch_size

    @torch.inference_mode()
    def __call__(self, texts: Sequence[str]) -> list[float]:
        scores: list[float] = []
        for start in range(0, len(texts), self.batch_size):
            batch = self.tokenizer(
                list(texts[start : start + self.batch_size]),
                padding=True,
                truncation=True,
                max_length=self.max_length,
                return_tensors="pt",
            ).to(self.device)
            probs = self.model(**batch).logits.float().softmax(dim=-1)[:, FORGET_LABEL]
            scores.extend(probs.tolist())
        return [1.0 if fact else score for score, fact in zip(scores, self.facts(texts), strict=True)]
