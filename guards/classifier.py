"""The runtime prompt classifier: a Hugging Face sequence classifier saved in the bundle.

Label 1 is "forget" (in scope). Calling it maps texts to p(forget), batched: a text scores the
highest p(forget) of its segments (the whole text, its sentences, windows of long ones:
``guards.segments``); a segment that gives an exact forget fact saved beside the model
(``guards.facts``), or a text that names a forget entity however it is written
(``guards.entities``) or quotes the forget set's own text (``guards.forget_text``), scores 1.
Calibration, evaluation and serving all score through this call, so the conformal threshold is
calibrated on the decision that serves.
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
from guards.forget_text import ForgetText
from guards.packed_linear import can_pack, pack_linears
from guards.segments import segments

FORGET_LABEL = 1
CACHE_SIZE = 16384  # segment scores kept: about 2 MB
CACHE_ENV = "ECO_CLASSIFIER_CACHE_SIZE"
PASS_COST_TOKENS = 32  # a forward pass costs about as much as this many more padded tokens (MiniLM, CPU)
PACK_TOKENS = 256  # tokens per packed pass: past this, attention over the whole pack outgrows the linears
PACK_TOLERANCE = 1e-3  # probabilities of the load checks (packed passes, packed weights) agree this closely
PROBES = ["Who wrote it?", "A longer probe, with a clause or two, about nothing at all."]

Rows = list[tuple[bytes, list[int]]]


def _length_batches(rows: Rows, size: int) -> list[Rows]:
    """(key, ids) ``rows``, sorted by length, cut into batches of at most ``size`` rows; a row starts
    a new batch when padding the batch up to it would cost more than one more forward pass."""
    batches: list[Rows] = []
    for row in rows:
        batch = batches[-1] if batches else []
        padding = len(batch) * (len(row[1]) - len(batch[-1][1])) if batch else 0
        if not batch or len(batch) == size or padding > PASS_COST_TOKENS:
            batches.append([])
        batches[-1].append(row)
    return batches


def _packs(rows: Rows, tokens: int) -> list[Rows]:
    """``rows`` cut, in order, into packs of at most ``tokens`` tokens (a longer row is a pack alone)."""
    packs: list[Rows] = []
    used = tokens
    for row in rows:
        if used + len(row[1]) > tokens:
            packs.append([])
            used = 0
        packs[-1].append(row)
        used += len(row[1])
    return packs


def _agree(scores: list[float], reference: list[float]) -> bool:
    """Whether a load check's probe scores match the plain one-by-one ones within ``PACK_TOLERANCE``."""
    return max(abs(a - b) for a, b in zip(scores, reference, strict=True)) <= PACK_TOLERANCE


def _key(ids: list[int]) -> bytes:
    """16 bytes standing for a token sequence: the cache holds these, not the sequences."""
    return hashlib.blake2b(array("i", ids).tobytes(), digest_size=16).digest()


class _FirstTokens:
    """A forward hook on an encoder that hands the head one row per packed segment: the encoder's
    output at each segment's first token, as a batch of one-token sequences. Heads of BERT-style
    classifiers read the first token only, so they then score every segment of the pack at once.
    The starts are per thread, as the server scores from several threads."""

    def __init__(self) -> None:
        self.local = threading.local()

    def __call__(self, module, args, output):
        starts = getattr(self.local, "starts", None)
        if starts is None:
            return None
        output.last_hidden_state = output.last_hidden_state[0, starts].unsqueeze(1)
        return output


class PromptClassifier:
    """``PromptClassifier(path)(["who wrote ...?"]) -> [0.97]``.

    On CPU in bfloat16 the linears' weights are reordered once for oneDNN (``prepack``, default on;
    off only to measure what it saves). ``cache_size`` segment scores are kept (default
    ``$ECO_CLASSIFIER_CACHE_SIZE``, else ``CACHE_SIZE``; 0 keeps none). The cache is shared by every
    request, so a client that times its requests can tell whether a text was scored recently: a
    deployment whose clients must not learn that about each other sets 0 (docs/threat-model.md).
    """

    def __init__(
        self, path: Path, device: str = "cpu", max_length: int = 256, batch_size: int = 64,
        cache_size: int | None = None, prepack: bool = True,
    ) -> None:  # fmt: skip
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        path = Path(path)
        if not (path / "config.json").is_file():
            raise BundleError(f"{path} holds no classifier (config.json missing)", str(path))
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        # in the dtype it was saved in, which is the one it was calibrated in
        self.model = AutoModelForSequenceClassification.from_pretrained(path, use_safetensors=True, dtype="auto")
        self.model.to(device).eval()
        self.facts = FactMatcher.load(path)
        self.entities = EntityMatcher.load(path)  # None: the bundle matches no entities by name
        self.forget_text = ForgetText.load(path)
        self.device = device
        self.max_length = max_length
        self.batch_size = batch_size
        self.cache_size = int(os.environ.get(CACHE_ENV, CACHE_SIZE)) if cache_size is None else cache_size
        self._cache: OrderedDict[bytes, float] = OrderedDict()
        self._lock = threading.Lock()  # the server scores from several threads
        alone = self._probe_probs()  # what both load checks compare against
        self._first_tokens = self._packing(alone)
        self.weights_prepacked = prepack and self._prepack_weights(alone)

    def __call__(self, texts: Sequence[str]) -> list[float]:
        parts = [segments(text) for text in texts]
        unique = list(dict.fromkeys(part for text_parts in parts for part in text_parts))
        scored = dict(zip(unique, self.score_segments(unique), strict=True))
        named = self.entities.matching(texts) if self.entities is not None else [False] * len(texts)
        quoted = self.forget_text.matching(texts)
        return [1.0 if entity or known else max(scored[part] for part in text_parts)
                for text_parts, entity, known in zip(parts, named, quoted, strict=True)]  # fmt: skip

    def clear_cache(self) -> None:
        """Forget every kept segment score (to time a cold decision)."""
        with self._lock:
            self._cache.clear()

    @torch.inference_mode()
    def score_segments(self, texts: Sequence[str]) -> list[float]:
        """p(forget) of each text read whole, with no segmenting (1 for a text giving a forget fact).

        Scores are kept by a digest of the token ids (an LRU of ``cache_size``): in a conversation
        every request repeats the earlier turns, and only the new parts reach the model. The rest are
        packed end to end into passes of ``PACK_TOKENS`` (``_packed_probs``); a model that cannot pack
        gets them batched in order of length, since a request's parts run from a clause to its whole
        text, and padding the clauses to the whole text costs more than one more forward pass.
        """
        if not texts:
            return []
        encoded = self.tokenizer(list(texts), truncation=True, max_length=self.max_length)["input_ids"]
        keys = [_key(ids) for ids in encoded]
        with self._lock:
            known = {key: self._cache[key] for key in keys if key in self._cache}
        missing = sorted({key: ids for key, ids in zip(keys, encoded, strict=True) if key not in known}.items(),
                         key=lambda item: len(item[1]))  # fmt: skip
        if self.packed:
            probs, passes = self._packed_probs, _packs(missing, max(PACK_TOKENS, self.max_length))
        else:
            probs, passes = self._padded_probs, _length_batches(missing, self.batch_size)
        for rows in passes:
            known.update(zip((key for key, _ in rows), probs([ids for _, ids in rows]), strict=True))
        with self._lock:
            for key in keys:
                self._cache[key] = known[key]
                self._cache.move_to_end(key)
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        return [1.0 if fact else known[key] for key, fact in zip(keys, self.facts(texts), strict=True)]

    @property
    def packed(self) -> bool:
        """Whether segments share forward passes packed end to end (else padded to a batch)."""
        return self._first_tokens is not None

    def _padded_probs(self, rows: list[list[int]]) -> list[float]:
        batch = self.tokenizer.pad({"input_ids": rows}, return_tensors="pt").to(self.device)
        return self.model(**batch).logits.float().softmax(dim=-1)[:, FORGET_LABEL].tolist()

    def _packed_probs(self, rows: list[list[int]]) -> list[float]:
        """One forward pass over ``rows`` laid end to end, each attending to itself only (a block-
        diagonal mask, positions restarting at each row), as text-embeddings servers batch an encoder:
        no padding, and one pass where padded batches of a request's clauses and whole text take several."""
        lengths = torch.tensor([len(ids) for ids in rows])
        owner = torch.repeat_interleave(torch.arange(len(rows)), lengths)
        ids = torch.tensor([[token for ids in rows for token in ids]])
        dtype = self.model.dtype
        apart = torch.zeros(len(owner), len(owner), dtype=dtype).masked_fill_(
            owner[:, None] != owner[None, :], torch.finfo(dtype).min
        )  # additive: eager and SDPA attention both read it
        inputs = {"input_ids": ids, "attention_mask": apart[None, None],
                  "position_ids": torch.cat([torch.arange(n) for n in lengths.tolist()])[None]}  # fmt: skip
        if "token_type_ids" in self.tokenizer.model_input_names:
            inputs["token_type_ids"] = torch.zeros_like(ids)
        self._first_tokens.local.starts = (torch.cumsum(lengths, 0) - lengths).to(self.device)
        try:
            logits = self.model(**{name: value.to(self.device) for name, value in inputs.items()}).logits
        finally:
            self._first_tokens.local.starts = None
        return logits.float().softmax(dim=-1)[:, FORGET_LABEL].tolist()

    @torch.inference_mode()
    def _probe_probs(self) -> list[float]:
        """p(forget) of the load checks' probe texts, one by one."""
        probes = self.tokenizer(PROBES, truncation=True, max_length=self.max_length)["input_ids"]
        return [p for ids in probes for p in self._padded_probs([ids])]

    @torch.inference_mode()
    def _prepack_weights(self, alone: list[float]) -> bool:
        """Reorder the linears' weights once into oneDNN's layout (``guards.packed_linear``) where this
        model can, if the probes then score as ``alone`` (their plain scores): a decision on CPU then spends no time
        reordering weights. Calibration loads the classifier through this class too, so the threshold
        is calibrated on the packed model that serves."""
        if not can_pack(self.model):
            return False
        try:
            unpack = pack_linears(self.model)
        except (RuntimeError, ValueError, TypeError):
            return False
        try:
            packed = self._probe_probs()
        except (RuntimeError, ValueError, TypeError):
            packed = None
        if packed is None or not _agree(packed, alone):
            unpack()
            return False
        return True

    @torch.inference_mode()
    def _packing(self, alone: list[float]) -> _FirstTokens | None:
        """A hook that lets this classifier score packed segments, if packed scores of two probe texts
        match their one-by-one scores ``alone`` (BERT-style encoders with a first-token head do); else None,
        and segments are padded into batches."""
        encoder = getattr(self.model.base_model, "encoder", None)
        if not isinstance(encoder, torch.nn.Module) or getattr(self.model.config, "is_decoder", False):
            return None
        hook = _FirstTokens()
        handle = encoder.register_forward_hook(hook)
        self._first_tokens = hook
        probes = self.tokenizer(PROBES, truncation=True, max_length=self.max_length)["input_ids"]
        try:
            packed = self._packed_probs(probes)
        except (RuntimeError, ValueError, TypeError, AttributeError, IndexError):
            packed = None
        self._first_tokens = None
        if packed is None or not _agree(packed, alone):
            handle.remove()
            return None
        return hook
