"""The model side of serving: load a verified artifact, format prompts, classify and generate.

Blocking, thread-safe calls only; ``bentos.completions`` runs them off the event loop.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import torch
from transformers import StoppingCriteria, StoppingCriteriaList

from guards.bundle import load_bundle
from guards.guarded_model import Decision, GenerationResult, GuardedModel
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

        Seeded sampling draws every row from one RNG stream, so it only reproduces alone.
        """
        if not self.greedy and self.seed is not None:
            return object()
        return (self.max_tokens, self.temperature, self.top_p, self.seed)


@dataclass(frozen=True)
class Prepared:
    prompt: str  # model-ready text
    query: str  # what the guard's classifier reads: every message of a chat, or the raw prompt
    prompt_tokens: int


@dataclass(frozen=True)
class Job:
    prepared: Prepared
    flagged: bool
    sampling: Sampling


@dataclass(frozen=True)
class Completion:
    text: str
    token_ids: list[int]


class _Cancelled(StoppingCriteria):
    def __init__(self, event: threading.Event) -> None:
        self.event = event

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor, **kwargs) -> torch.Tensor:
        return torch.full((input_ids.shape[0],), self.event.is_set(), dtype=torch.bool, device=input_ids.device)


class Engine:
    """A GuardedModel loaded from a built artifact whose checksums were all verified."""

    def __init__(self, guarded: GuardedModel, name: str) -> None:
        self.guarded = guarded
        self.name = name
        self.tokenizer = guarded.tokenizer
        config = guarded.model.config
        window = getattr(config, "max_position_embeddings", None) or getattr(self.tokenizer, "model_max_length", 0)
        self.context_window = int(window)
        # Sampling reads torch's global RNG: one sampled generate at a time keeps seeds reproducible.
        self._sampling_lock = threading.Lock()

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
    ) -> Engine:
        """The artifact's guard; every file is hashed once, here (the artifact's manifest lists the
        bundle and the base weights, so neither is hashed again), unless ``verified_manifest`` is
        the sha256 of the manifest whose files the launcher has just hashed: then only the manifest
        is. ``prompt_format`` overrides the bundle's."""
        artifact = Path(artifact)
        handed_over = verified_manifest is not None and sha256_file(artifact / MANIFEST) == verified_manifest
        verify_manifest(artifact, hash_files=not handed_over)
        bundle = load_bundle(artifact / "guard", hash_files=False)
        if prompt_format is not None:
            bundle = replace(bundle, config=replace(bundle.config, prompt_format=prompt_format))
        guarded = bundle.guarded_model(device=device, dtype=dtype, verified_base=True)
        log.info("loaded guard `%s` %s from %s on %s", bundle.config.name, bundle.config.version, artifact, device)
        return cls(guarded, name or bundle.config.name)

    def prepare_chat(self, messages: Sequence[Mapping[str, str]]) -> Prepared:
        prompt = self.guarded.prompt_format.format_messages(list(messages), self.tokenizer)
        # the guard reads what the model reads: the system message and every turn, not only the
        # last question (a name given in an earlier turn is still in the conversation)
        query = "\n".join(m["content"] for m in messages if m.get("content"))
        return Prepared(prompt, query, self.count_tokens(prompt))

    def prepare_completion(self, prompt: str) -> Prepared:
        return Prepared(prompt, prompt, self.count_tokens(prompt))

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=True)["input_ids"])

    def classify(self, queries: Sequence[str]) -> list[Decision]:
        return self.guarded.decide(list(queries))

    def generate(self, jobs: Sequence[Job]) -> list[Completion]:
        """One generate call for jobs that share a ``Sampling.batch_key``."""
        sampling = jobs[0].sampling
        with self._sampling_guard(sampling):
            result = self.guarded.generate(
                [j.prepared.prompt for j in jobs], flags=[j.flagged for j in jobs], seed=sampling.seed,
                **sampling.generation_kwargs(),
            )
        return [Completion(t, ids) for t, ids in zip(result.texts, result.token_ids, strict=True)]

    def stream(self, job: Job, streamer, cancel: threading.Event) -> GenerationResult:
        """Generate one job, pushing text to ``streamer``; stops early once ``cancel`` is set."""
        try:
            with self._sampling_guard(job.sampling):
                return self.guarded.generate(
                    [job.prepared.prompt], flags=[job.flagged], seed=job.sampling.seed, streamer=streamer,
                    stopping_criteria=StoppingCriteriaList([_Cancelled(cancel)]),
                    **job.sampling.generation_kwargs(),
                )
        finally:
            streamer.end()  # also ends the stream when generate raised

    def warmup(self) -> None:
        prepared = self.prepare_completion("warm up")
        self.generate([Job(prepared, True, Sampling(max_tokens=1, temperature=0.0))])

    def _sampling_guard(self, sampling: Sampling):
        return contextlib.nullcontext() if sampling.greedy else self._sampling_lock


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
