"""The guard side of serving: load a verified artifact, format prompts, classify, embed.

Generation is a backend's job (``bentos.hf_backend`` in this process, ``bentos.vllm_backend`` in
a vLLM server). Blocking, thread-safe calls only; ``bentos.completions`` runs them off the event loop.
"""

from __future__ import annotations

import logging
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from guards.bundle import GuardBundle, load_bundle
from guards.guarded_model import Decision, GuardedModel
from guards.manifest import MANIFEST, sha256_file, verify_manifest
from guards.prompt_format import PromptFormat

log = logging.getLogger("eco_guard.serving")


@dataclass(frozen=True)
class Sampling:
    """OpenAI sampling options; temperature 0 means greedy."""

    max_tokens: int
    temperature: float = 1.0
    top_p: float = 1.0
    seed: int | None = None
    stops: tuple[str, ...] = ()  # the front cuts at these; an engine that can stops at them too

    @property
    def greedy(self) -> bool:
        return self.temperature == 0.0

    def generation_kwargs(self) -> dict:
        if self.greedy:
            return {"max_new_tokens": self.max_tokens, "do_sample": False}
        # top_k=0: OpenAI samples from the whole nucleus, not the model config's top-k.
        return {"max_new_tokens": self.max_tokens, "do_sample": True, "temperature": self.temperature,
                "top_p": self.top_p, "top_k": 0}

    def batch_key(self) -> Hashable:
        """Requests with equal keys may share a generate call without changing each other's output.

        ``max_tokens`` is not part of it: a batch generates as many tokens as its longest request
        asks, and each row is cut to its own, which is the row's own output (greedy, or sampled
        without a seed). Seeded sampling draws every row from one RNG stream, so it only reproduces alone.
        """
        if not self.greedy and self.seed is not None:
            return object()
        return (self.temperature, self.top_p, self.seed)


@dataclass(frozen=True)
class Prepared:
    prompt: str  # model-ready text
    query: str  # what the guard's classifier reads: every message of a chat, or the raw prompt
    prompt_ids: list[int]  # the prompt's token ids, special tokens included, as GuardedModel.generate encodes it

    @property
    def prompt_tokens(self) -> int:
        return len(self.prompt_ids)


@dataclass(frozen=True)
class Job:
    prepared: Prepared
    flagged: bool
    sampling: Sampling


@dataclass(frozen=True)
class Completion:
    text: str
    token_ids: list[int]


class Engine:
    """A GuardedModel loaded from a built artifact whose checksums were all verified."""

    def __init__(self, guarded: GuardedModel, name: str, bundle: GuardBundle | None = None) -> None:
        self.guarded = guarded
        self.name = name
        self.bundle = bundle  # where the base model is found, for an engine that loads it itself
        self.tokenizer = guarded.tokenizer
        config = guarded.model.config
        window = getattr(config, "max_position_embeddings", None) or getattr(self.tokenizer, "model_max_length", 0)
        self.context_window = int(window)  # a backend may lower it to what its engine allows

    @classmethod
    def load(
        cls,
        artifact: Path,
        *,
        device: str = "auto",
        dtype: str = "auto",
        name: str | None = None,
        prompt_format: PromptFormat | None = None,
        verified_manifest: str | None = None,
        embeddings_only: bool = False,
    ) -> Engine:
        """The artifact's guard; every file is hashed once, here (the artifact's manifest lists the
        bundle and the base weights, so neither is hashed again), unless ``verified_manifest`` is
        the sha256 of the manifest whose files the launcher has just hashed: then only the manifest
        is. ``prompt_format`` overrides the bundle's. ``embeddings_only``: load the base model's
        input embeddings, not the model (generation runs in another engine)."""
        artifact = Path(artifact)
        handed_over = verified_manifest is not None and sha256_file(artifact / MANIFEST) == verified_manifest
        verify_manifest(artifact, hash_files=not handed_over)
        bundle = load_bundle(artifact / "guard", hash_files=False)
        if prompt_format is not None:
            bundle = replace(bundle, config=replace(bundle.config, prompt_format=prompt_format))
        guarded = bundle.guarded_model(device=device, dtype=dtype, verified_base=True, embeddings_only=embeddings_only)
        config = bundle.config
        log.info("loaded guard `%s` %s from %s on %s", config.name, config.version, artifact, guarded.device)
        return cls(guarded, name or config.name, bundle)

    def prepare_chat(self, messages: Sequence[Mapping[str, str]]) -> Prepared:
        prompt = self.guarded.prompt_format.format_messages(list(messages), self.tokenizer)
        # the guard reads what the model reads: the system message and every turn, not only the
        # last question (a name given in an earlier turn is still in the conversation)
        query = "\n".join(m["content"] for m in messages if m.get("content"))
        return Prepared(prompt, query, self.encode(prompt))

    def prepare_completion(self, prompt: str) -> Prepared:
        return Prepared(prompt, prompt, self.encode(prompt))

    def encode(self, text: str) -> list[int]:
        with self.guarded.tokenizer_lock:  # the event loop's call; the backends' threads tokenize too
            return list(self.tokenizer(text, add_special_tokens=True)["input_ids"])

    def classify(self, queries: Sequence[str]) -> list[Decision]:
        return self.guarded.decide(list(queries))

    def embed(self, job: Job) -> torch.Tensor:
        """The job's prompt as the model would read it, [length, dim]: corrupted when flagged, with
        the noise keyed as in ``GuardedModel.generate`` (the same request gets the same noise)."""
        return self.guarded.prompt_embeddings([job.prepared.prompt], flags=[job.flagged], seed=job.sampling.seed)[0]

    def decode(self, token_ids: Sequence[int]) -> Completion:
        """Generated ids cut at the first EOS and decoded as ``GuardedModel.generate`` does."""
        kept = self.guarded.trim(list(token_ids))
        with self.guarded.tokenizer_lock:
            return Completion(self.tokenizer.decode(kept, skip_special_tokens=True), kept)


def cut_at_stop(text: str, stops: Sequence[str]) -> tuple[str, bool]:
    """``text`` up to the first stop sequence, and whether one was found."""
    hits = [i for i in (text.find(s) for s in stops) if i >= 0]
    return (text[: min(hits)], True) if hits else (text, False)


class StopScanner:
    """Releases streamed text only once it cannot be the start of a stop sequence."""

    def __init__(self, stops: Sequence[str]) -> None:
        self.stops = tuple(stops)
        self.buffer = ""
        self.stopped = False

    def feed(self, text: str) -> str:
        self.buffer += text
        cut, self.stopped = cut_at_stop(self.buffer, self.stops)
        if self.stopped:
            self.buffer = ""
            return cut
        keep = next(
            (k for k in range(min(len(self.buffer), max((len(s) - 1 for s in self.stops), default=0)), 0, -1)
             if any(s.startswith(self.buffer[-k:]) for s in self.stops)),
            0,
        )
        out, self.buffer = self.buffer[: len(self.buffer) - keep], self.buffer[len(self.buffer) - keep :]
        return out

    def flush(self) -> str:
        out, self.buffer = self.buffer, ""
        return out
