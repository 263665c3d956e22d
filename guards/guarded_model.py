"""GuardedModel: any causal LM, with ECO corruption applied to flagged inputs only.

Corruption is applied to ``inputs_embeds`` that we compute ourselves, over the unpadded tokens of
each flagged sequence, whose noise is drawn from its own keyed generator. So a row's result does
not depend on its batch, and an unflagged row's embeddings are exactly the model's own. In
``generate`` only the prompt prefill is corrupted: decoding steps embed the generated tokens
through the model as usual. In ``score`` the whole scored sequence (prompt + continuation) is
input, so selection runs over all of it, as the ECO reference code does when it scores answers.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from guards.config import CorruptionConfig, DecisionRule, SeedPolicy, SelectionConfig
from guards.corruptions import CORRUPTIONS, RowNoise
from guards.errors import GuardConfigError
from guards.prompt_format import PromptFormat
from guards.seeding import NoiseKeys
from guards.selection import SELECTORS, SequenceView

Classifier = Callable[[Sequence[str]], Sequence[float]]


@dataclass(frozen=True)
class Decision:
    flagged: bool
    score: float


@dataclass(frozen=True)
class GenerationResult:
    texts: list[str]
    token_ids: list[list[int]]
    decisions: list[Decision]


@dataclass(frozen=True)
class _Encoded:
    ids: list[int]
    text: str
    offsets: torch.Tensor | None


class GuardedModel:
    """Wraps ``model`` (any AutoModelForCausalLM) and its tokenizer.

    ``classifier`` maps query texts to p(forget); ``decision`` turns that into a flag. Callers
    may pass ``flags`` to override the classifier (benchmarks force flags on known splits).
    ``corruption`` is a plain attribute, so a sigma search can swap it between calls.
    """

    def __init__(
        self,
        model,
        tokenizer,
        *,
        classifier: Classifier | None,
        decision: DecisionRule | None = None,
        corruption: CorruptionConfig | None = None,
        selection: SelectionConfig | None = None,
        seed_policy: SeedPolicy | None = None,
        prompt_format: PromptFormat | None = None,
    ) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.classifier = classifier
        self.decision = decision or DecisionRule()
        self.corruption = corruption or CorruptionConfig()
        self.selection = selection or SelectionConfig()
        self.prompt_format = prompt_format or PromptFormat()
        self._keys = NoiseKeys(seed_policy or SeedPolicy())
        self.embedding = model.get_input_embeddings()
        self._fast = bool(getattr(tokenizer, "is_fast", False))
        # A fast (Rust) tokenizer used from two threads at once fails ("Already borrowed"). Every call
        # to it takes this lock, here and in a server that shares the tokenizer (bentos.engine), and
        # only for the call: embedding, corruption and generation run outside it, in parallel.
        self.tokenizer_lock = threading.Lock()
        # None: the whole batch in one corruption call on an accelerator, a row at a time on a CPU
        self.corrupt_whole_batch: bool | None = None
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        self.pad_token_id = int(pad if pad is not None else 0)

    @classmethod
    def from_config(cls, model, tokenizer, *, classifier: Classifier | None, config) -> GuardedModel:
        """Build from a ``guards.config.GuardConfig`` (what a bundle stores)."""
        return cls(
            model,
            tokenizer,
            classifier=classifier,
            decision=config.decision,
            corruption=config.corruption,
            selection=config.selection,
            seed_policy=config.seed_policy,
            prompt_format=config.prompt_format,
        )

    @property
    def device(self) -> torch.device:
        return self.embedding.weight.device

    def format(self, question: str) -> str:
        """The model input for a question, in this guard's prompt format."""
        return self.prompt_format.format(question, self.tokenizer)

    # -- decisions ---------------------------------------------------------------------------
    def decide(self, queries: Sequence[str]) -> list[Decision]:
        """The classifier's score and the decision rule's flag, per query."""
        if self.classifier is None:
            raise GuardConfigError("this GuardedModel has no classifier: pass `flags` explicitly")
        scores = [float(s) for s in self.classifier(list(queries))]
        return [Decision(self.decision.flags(s), s) for s in scores]

    def _decisions(self, n: int, queries: Sequence[str], flags: Sequence[bool] | None) -> list[Decision]:
        if flags is None:
            return self.decide(queries)
        if len(flags) != n:
            raise GuardConfigError(f"`flags` has {len(flags)} entries for {n} prompts")
        return [Decision(bool(f), 1.0 if f else 0.0) for f in flags]

    # -- encoding ----------------------------------------------------------------------------
    def _encode(self, texts: Sequence[str], special: bool) -> list[_Encoded]:
        with self.tokenizer_lock:
            enc = self.tokenizer(list(texts), add_special_tokens=special, return_offsets_mapping=self._fast)
        offsets = enc.get("offset_mapping") if self._fast else None
        return [
            _Encoded(list(ids), text, torch.tensor(offsets[i], dtype=torch.long).reshape(-1, 2) if offsets else None)
            for i, (ids, text) in enumerate(zip(enc["input_ids"], texts, strict=True))
        ]

    @staticmethod
    def _join(prompt: _Encoded, cont: _Encoded) -> _Encoded:
        offsets = None
        if prompt.offsets is not None and cont.offsets is not None:
            offsets = torch.cat([prompt.offsets, cont.offsets + len(prompt.text)])
        return _Encoded(prompt.ids + cont.ids, prompt.text + cont.text, offsets)

    def _pad_left(self, seqs: Sequence[_Encoded]) -> tuple[torch.Tensor, torch.Tensor]:
        width = max(len(s.ids) for s in seqs)
        ids = torch.full((len(seqs), width), self.pad_token_id, dtype=torch.long)
        mask = torch.zeros((len(seqs), width), dtype=torch.long)
        for row, seq in enumerate(seqs):
            if seq.ids:
                ids[row, width - len(seq.ids) :] = torch.tensor(seq.ids, dtype=torch.long)
                mask[row, width - len(seq.ids) :] = 1
        return ids.to(self.device), mask.to(self.device)

    # -- corruption --------------------------------------------------------------------------
    def _embed(
        self, ids: torch.Tensor, seqs: Sequence[_Encoded], flagged: Sequence[bool], seed: int | None
    ) -> torch.Tensor:
        """Embeddings of the left-padded batch, flagged rows corrupted. Per row only the positions (a
        selector reads its text) and the noise generator (keyed by its token ids, read from ``seqs`` so
        the device is never waited for) are made. On an accelerator the whole batch is corrupted in one
        call, which saves a dozen small kernels per row; on a CPU one row at a time, so each row's
        float32 copy stays in cache."""
        embeds = self.embedding(ids)
        if not any(flagged):
            return embeds
        key = self._keys.call_key(seed)
        select = SELECTORS.get(self.selection.method)
        corrupt = CORRUPTIONS.get(self.corruption.method)
        width, lengths = ids.shape[1], [len(s.ids) for s in seqs]
        mask = torch.zeros(ids.shape, dtype=torch.bool)
        generators: list[torch.Generator | None] = []
        for row, (seq, flag) in enumerate(zip(seqs, flagged, strict=True)):
            if flag:
                view = SequenceView(len(seq.ids), seq.text, seq.offsets, self.selection.entities)
                mask[row, width - len(seq.ids) :] = select(view)
            generators.append(NoiseKeys.generator(key, seq.ids, ids.device) if flag else None)
        mask = mask.to(ids.device)
        whole = self.corrupt_whole_batch if self.corrupt_whole_batch is not None else ids.device.type != "cpu"
        calls = [(0, len(seqs))] if whole else [(r, r + 1) for r, f in enumerate(flagged) if f]
        for lo, hi in calls:
            start = width - max(lengths[lo:hi])
            noise = RowNoise(generators[lo:hi], lengths[lo:hi], width - start, ids.device)
            embeds[lo:hi, start:] = corrupt(embeds[lo:hi, start:], mask[lo:hi, start:], self.corruption.dims,
                                            self.corruption.strength, noise)
        return embeds

    @torch.inference_mode()
    def prompt_embeddings(
        self, prompts: Sequence[str], *, flags: Sequence[bool], seed: int | None = None
    ) -> list[torch.Tensor]:
        """Each prompt's input embeddings, [length, dim], as ``generate`` would feed them."""
        seqs = self._encode(prompts, special=True)
        ids, _ = self._pad_left(seqs)
        embeds = self._embed(ids, seqs, list(flags), seed)
        return [embeds[i, ids.shape[1] - len(s.ids) :].clone() for i, s in enumerate(seqs)]

    # -- public API --------------------------------------------------------------------------
    @torch.inference_mode()
    def generate(
        self,
        prompts: Sequence[str],
        *,
        queries: Sequence[str] | None = None,
        flags: Sequence[bool] | None = None,
        seed: int | None = None,
        **generation_kwargs,
    ) -> GenerationResult:
        """Generate from model-ready ``prompts``; ``queries`` (default: prompts) go to the classifier.

        ``seed`` fixes both the corruption noise and the sampling, for reproducible outputs.
        """
        prompts = list(prompts)
        decisions = self._decisions(len(prompts), queries if queries is not None else prompts, flags)
        seqs = self._encode(prompts, special=True)
        ids, mask = self._pad_left(seqs)
        embeds = self._embed(ids, seqs, [d.flagged for d in decisions], seed)
        generation_kwargs.setdefault("pad_token_id", self.pad_token_id)
        with self._sampling_seed(seed):
            out = self.model.generate(input_ids=ids, inputs_embeds=embeds, attention_mask=mask, **generation_kwargs)
        new_tokens = [self.trim(row) for row in out[:, ids.shape[1] :].tolist()]
        with self.tokenizer_lock:
            texts = self.tokenizer.batch_decode(new_tokens, skip_special_tokens=True)
        return GenerationResult(texts=texts, token_ids=new_tokens, decisions=decisions)

    @torch.inference_mode()
    def score(
        self,
        prompts: Sequence[str],
        continuations: Sequence[str],
        *,
        queries: Sequence[str] | None = None,
        flags: Sequence[bool] | None = None,
        seed: int | None = None,
        batch_size: int = 16,
    ) -> list[torch.Tensor]:
        """Per-token log-probabilities (float32, CPU) of each continuation given its prompt.

        The prompt is tokenized with special tokens, the continuation without, and the two id
        lists are joined.
        """
        prompts, continuations = list(prompts), list(continuations)
        if len(prompts) != len(continuations):
            raise GuardConfigError(f"{len(prompts)} prompts but {len(continuations)} continuations")
        decisions = self._decisions(len(prompts), queries if queries is not None else prompts, flags)
        results: list[torch.Tensor] = []
        for start in range(0, len(prompts), batch_size):
            stop = start + batch_size
            heads = self._encode(prompts[start:stop], special=True)
            tails = self._encode(continuations[start:stop], special=False)
            seqs = [self._join(h, t) for h, t in zip(heads, tails, strict=True)]
            ids, mask = self._pad_left(seqs)
            embeds = self._embed(ids, seqs, [d.flagged for d in decisions[start:stop]], seed)
            positions = (mask.cumsum(-1) - 1).clamp(min=0)
            logits = self.model(inputs_embeds=embeds, attention_mask=mask, position_ids=positions).logits
            logprobs = logits[:, :-1].float().log_softmax(-1).gather(-1, ids[:, 1:, None]).squeeze(-1)
            for row, tail in enumerate(tails):
                n = len(tail.ids)
                results.append(logprobs[row, logprobs.shape[1] - n :].cpu() if n else torch.zeros(0))
        return results

    def trim(self, tokens: list[int]) -> list[int]:
        """Generated ids up to the first EOS, which ends a generation and is not part of its text."""
        eos = self.tokenizer.eos_token_id
        if eos is not None and eos in tokens:
            tokens = tokens[: tokens.index(eos)]
        return tokens

    def _sampling_seed(self, seed: int | None):
        if seed is None:
            return contextlib.nullcontext()
        devices = [self.device.index or 0] if self.device.type == "cuda" else []
        ctx = torch.random.fork_rng(devices=devices)

        @contextlib.contextmanager
        def seeded():
            with ctx:
                torch.manual_seed(seed)
                yield

        return seeded()
