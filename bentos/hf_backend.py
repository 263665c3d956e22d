"""Generation in this process with transformers' ``generate``: the default engine (``--engine hf``).

Non-streamed requests are micro-batched by sampling settings; streams run one per thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Sequence
from concurrent.futures import ThreadPoolExecutor

import torch
from transformers import AsyncTextIteratorStreamer, StoppingCriteria, StoppingCriteriaList

from bentos.batcher import MicroBatcher
from bentos.engine import Completion, Engine, Job, Sampling
from bentos.metrics import GuardMetrics
from bentos.settings import ServingSettings


class _Cancelled(StoppingCriteria):
    def __init__(self, event: threading.Event) -> None:
        self.event = event

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor, **kwargs) -> torch.Tensor:
        return torch.full((input_ids.shape[0],), self.event.is_set(), dtype=torch.bool, device=input_ids.device)


class _LockedStreamer(AsyncTextIteratorStreamer):
    """Decodes each new token in the generating thread under the tokenizer's lock: the event loop uses
    the same tokenizer meanwhile (see ``GuardedModel.tokenizer_lock``)."""

    def __init__(self, tokenizer, lock: threading.Lock) -> None:
        super().__init__(tokenizer, skip_prompt=True, skip_special_tokens=True)
        self._lock = lock

    def put(self, value: torch.Tensor) -> None:
        with self._lock:
            super().put(value)

    def end(self) -> None:
        with self._lock:
            super().end()


class HFStream:
    """One streamed generation: text pieces as they decode, then ``finish()`` gives the token count."""

    def __init__(self, backend: HFBackend, job: Job) -> None:
        self._streamer = _LockedStreamer(backend.engine.tokenizer, backend.engine.guarded.tokenizer_lock)
        self._cancel = threading.Event()
        self._work = asyncio.get_running_loop().run_in_executor(
            backend.streams, backend.stream_job, job, self._streamer, self._cancel
        )

    async def __aiter__(self) -> AsyncIterator[str]:
        async for piece in self._streamer:
            yield piece

    async def finish(self) -> int:
        result = await self._work  # raises what generate raised
        return len(result.token_ids[0])

    def cancel(self) -> None:
        """Stop at the next token (a stop sequence arrived, or the client went away)."""
        self._cancel.set()


class HFBackend:
    """The GuardedModel of ``engine`` generates; corruption happens inside its ``generate``."""

    def __init__(self, engine: Engine, settings: ServingSettings, metrics: GuardMetrics) -> None:
        self.engine, self.metrics = engine, metrics
        self._generator = MicroBatcher(
            self._generate, max_size=settings.max_batch_size, max_wait_s=settings.max_batch_wait_ms / 1000,
            workers=settings.generation_workers, on_batch=metrics.batch_size.labels("generate").observe,
        )
        self.streams = ThreadPoolExecutor(max_workers=settings.stream_workers, thread_name_prefix="eco-stream")
        # Sampling reads torch's global RNG: one sampled generate at a time keeps seeds reproducible.
        self._sampling_lock = threading.Lock()

    def ready(self) -> bool:
        return True

    async def complete(self, job: Job) -> Completion:
        return await self._generator.submit(job, job.sampling.batch_key())

    async def open_stream(self, job: Job) -> HFStream:
        return HFStream(self, job)

    def warmup(self) -> None:
        prepared = self.engine.prepare_completion("warm up")
        self._generate([Job(prepared, True, Sampling(max_tokens=1, temperature=0.0))])

    # -- blocking work, in the batcher's and the streams' threads ------------------------------
    def _generate(self, jobs: Sequence[Job]) -> list[Completion]:
        """One generate call for jobs that share a ``Sampling.batch_key``, as long as the longest asks;
        each job's tokens are cut to its own ``max_tokens``."""
        longest = max((j.sampling for j in jobs), key=lambda s: s.max_tokens)
        with self.metrics.generation_seconds.labels("batch").time(), self._sampling_guard(longest):
            result = self.engine.guarded.generate(
                [j.prepared.prompt for j in jobs], flags=[j.flagged for j in jobs], seed=longest.seed,
                **longest.generation_kwargs(),
            )
        return [self.engine.decode(ids[: j.sampling.max_tokens]) for j, ids in zip(jobs, result.token_ids, strict=True)]

    def stream_job(self, job: Job, streamer, cancel: threading.Event):
        """Generate one job, pushing text to ``streamer``; stops early once ``cancel`` is set."""
        try:
            with self._sampling_guard(job.sampling):
                return self.engine.guarded.generate(
                    [job.prepared.prompt], flags=[job.flagged], seed=job.sampling.seed, streamer=streamer,
                    stopping_criteria=StoppingCriteriaList([_Cancelled(cancel)]),
                    **job.sampling.generation_kwargs(),
                )
        finally:
            streamer.end()  # also ends the stream when generate raised

    def _sampling_guard(self, sampling):
        return contextlib.nullcontext() if sampling.greedy else self._sampling_lock

    async def close(self) -> None:
        self._generator.close()
        self.streams.shutdown(wait=False, cancel_futures=True)
