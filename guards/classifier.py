"""The runtime prompt classifier: a Hugging Face sequence classifier saved in the bundle.

Label 1 is "forget" (in scope). Calling it maps texts to p(forget), batched: a text scores the
highest p(forget) of its segments (the whole text, its sentences, windows of long ones:
``guards.segments``); a segment that gives an exact forget fact saved beside the model
(``guards.facts``), or a text that names a forget entity however it is written
(``guards.entities``), scores 1. Calibration, evaluation and serving all score through this call, so
the conformal threshold is calibrated on the decision that serves.
"""

from __future__ import annotations

import hashlib
import os
import threading
from array import array
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

import torch

from guards.entities import EntityMatcher
from guards.errors import BundleError
from guards.facts import FactMatcher
from guards.segments import segments

FORGET_LABEL = 1
CACHE_SIZE = 16384  # segment scores kept: about 2 MB
CACHE_ENV = "ECO_CLASSIFIER_CACHE_SIZE"
PASS_COST_TOKENS = 32  # a forward pass costs about as much as this many more padded tokens (MiniLM, CPU)


def _length_batches(rows: list[tuple[bytes, list[int]]], size: int) -> list[list[tuple[bytes, list[int]]]]:
    """(key, ids) ``rows``, sorted by length, cut into batches of at most ``size`` rows; a row starts
    a new batch when padding the batch up to it would cost more than one more forward pass."""
    batches: list[list[tuple[bytes, list[int]]]] = []
    for row in rows:
        batch = batches[-1] if batches else []
        padding = len(batch) * (len(row[1]) - len(batch[-1][1])) if batch else 0
        if not batch or len(batch) == size or padding > PASS_COST_TOKENS:
            batches.append([])
        batches[-1].append(row)
    return batches


def _key(ids: list[int]) -> bytes:
    """16 bytes standing for a token sequence: the cache holds these, not the sequences."""
    return hashlib.blake2b(array("i", ids).tobytes(), digest_size=16).digest()


class PromptClassifier:
    """``PromptClassifier(path)(["who wrote ...?"]) -> [0.97]``.

    ``cache_size`` segment scores are kept (default ``$ECO_CLASSIFIER_CACHE_SIZE``, else
    ``CACHE_SIZE``; 0 keeps none). The cache is shared by every request, so a client that times its
    requests can tell whether a text was scored recently: a deployment whose clients must not learn
    that about each other sets 0 (docs/threat-model.md).
    """

    def __init__(
        self, path: Path, device: str = "cpu", max_length: int = 256, batch_size: int = 64,
        cache_size: int | None = None,
    ) -> None:  # fmt: skip
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
        self.cache_size = int(os.environ.get(CACHE_ENV, CACHE_SIZE)) if cache_size is None else cache_size
        self._cache: OrderedDict[bytes, float] = OrderedDict()
        self._lock = threading.Lock()  # the server scores from several threads

    def __call__(self, texts: Sequence[str]) -> list[float]:
        parts = [segments(text) for text in texts]
        unique = list(dict.fromkeys(part for text_parts in parts for part in text_parts))
        scored = dict(zip(unique, self.score_segments(unique), strict=True))
        named = self.entities.matching(texts) if self.entities is not None else [False] * len(texts)
        return [1.0 if entity else max(scored[part] for part in text_parts)
                for text_parts, entity in zip(parts, named, strict=True)]  # fmt: skip

    def clear_cache(self) -> None:
        """Forget every kept segment score (to time a cold decision)."""
        with self._lock:
            self._cache.clear()

    @torch.inference_mode()
    def score_segments(self, texts: Sequence[str]) -> list[float]:
        """p(forget) of each text read whole, with no segmenting (1 for a text giving a forget fact).

        Scores are kept by a digest of the token ids (an LRU of ``cache_size``): in a conversation
        every request repeats the earlier turns, and only the new parts reach the model. The rest are batched in
        order of length: a request's parts run from a clause to its whole text, and padding the
        clauses to the whole text costs more than one more forward pass.
        """
        if not texts:
            return []
        encoded = self.tokenizer(list(texts), truncation=True, max_length=self.max_length)["input_ids"]
        keys = [_key(ids) for ids in encoded]
        with self._lock:
            known = {key: self._cache[key] for key in keys if key in self._cache}
        missing = sorted({key: ids for key, ids in zip(keys, encoded, strict=True) if key not in known}.items(),
                         key=lambda item: len(item[1]))  # fmt: skip
        for rows in _length_batches(missing, self.batch_size):
            batch = self.tokenizer.pad({"input_ids": [ids for _, ids in rows]}, return_tensors="pt").to(self.device)
            probs = self.model(**batch).logits.float().softmax(dim=-1)[:, FORGET_LABEL]
            known.update(zip((key for key, _ in rows), probs.tolist(), strict=True))
        with self._lock:
            for key in keys:
                self._cache[key] = known[key]
                self._cache.move_to_end(key)
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        return [1.0 if fact else known[key] for key, fact in zip(keys, self.facts(texts), strict=True)]
