"""OpenAI chat and text completions through the guard.

Per request: validate limits, classify the query (batched with concurrent requests), then hand
the job to the generation backend (``bentos.hf_backend`` or ``bentos.vllm_backend``), whole or
streamed. The decision stays hidden unless the operator sets ``ECO_EXPOSE_DECISION=1``.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import AsyncIterator
from typing import Protocol

from fastapi.responses import JSONResponse, StreamingResponse

from bentos.batcher import MicroBatcher
from bentos.engine import Completion, Engine, Job, Prepared, Sampling, StopScanner, cut_at_stop
from bentos.errors import APIError
from bentos.metrics import GuardMetrics
from bentos.schemas import ChatRequest, CompletionRequest, SamplingFields
from bentos.settings import ServingSettings
from guards.guarded_model import Decision

log = logging.getLogger("eco_guard.serving")
GUARD_HEADER = "x-eco-guard"


class Stream(Protocol):
    """A backend's streamed generation: text pieces, then the count of generated tokens."""

    def __aiter__(self) -> AsyncIterator[str]: ...
    async def finish(self) -> int: ...
    def cancel(self) -> None: ...


class Backend(Protocol):
    """What generates: ``HFBackend`` (this process) or ``VllmBackend`` (a vLLM server on loopback)."""

    def ready(self) -> bool: ...
    async def complete(self, job: Job) -> Completion: ...
    async def open_stream(self, job: Job) -> Stream: ...
    async def close(self) -> None: ...


class GuardedCompletions:
    def __init__(self, engine: Engine, backend: Backend, settings: ServingSettings, metrics: GuardMetrics) -> None:
        self.engine, self.backend, self.settings, self.metrics = engine, backend, settings, metrics
        # No batching window: a classifier call is short, so a request does not wait for batch-mates;
        # those that arrive while a call runs form the next batch (the window only added latency).
        self._classifier = MicroBatcher(
            self._classify, max_size=settings.max_batch_size, max_wait_s=0.0,
            workers=1, on_batch=metrics.batch_size.labels("classify").observe,
        )

    # -- blocking work, run by the batcher's thread ------------------------------------------
    def _classify(self, queries: list[str]) -> list[Decision]:
        with self.metrics.classification_seconds.time():
            return self.engine.classify(queries)

    # -- endpoints ---------------------------------------------------------------------------
    def models(self) -> dict:
        return {"object": "list", "data": [
            {"id": self.engine.name, "object": "model", "created": 0, "owned_by": "eco-pack"}
        ]}

    async def chat(self, request: ChatRequest) -> JSONResponse | StreamingResponse:
        messages = [m.model_dump() for m in request.messages]
        prepared = self.engine.prepare_chat(messages)
        return await self._complete(request, prepared, "chat", "messages")

    async def completion(self, request: CompletionRequest) -> JSONResponse | StreamingResponse:
        prepared = self.engine.prepare_completion(request.prompt)
        return await self._complete(request, prepared, "completions", "prompt")

    async def _complete(self, request: SamplingFields, prepared: Prepared, endpoint: str, prompt_field: str):
        self._check_model(request.model)
        sampling = self._sampling(request, prepared, prompt_field)
        # the decision reads text only: a token-id or embedding prompt never gets here (bentos.schemas)
        log.debug("%s request: %r", endpoint, prepared.query)  # prompt text: debug level only
        decision = await self._classifier.submit(prepared.query)
        self.metrics.requests.labels(endpoint).inc()
        if decision.flagged:
            self.metrics.flagged.labels(endpoint).inc()
        headers = {GUARD_HEADER: f"flagged={int(decision.flagged)}; score={decision.score:.4f}"} \
            if self.settings.expose_decision else {}
        job = Job(prepared, decision.flagged, sampling)
        render = _Renderer(endpoint, self.engine.name)
        if request.stream:
            stream = await self.backend.open_stream(job)  # an engine that is down is a 503 here, not mid-stream
            events = self._stream(job, stream, render)
            return StreamingResponse(events, media_type="text/event-stream", headers=headers)
        completion = await self.backend.complete(job)
        self.metrics.tokens_generated.inc(len(completion.token_ids))
        text, stopped = cut_at_stop(completion.text, request.stops)
        finish = _finish_reason(stopped, len(completion.token_ids), sampling.max_tokens)
        usage = {"prompt_tokens": prepared.prompt_tokens, "completion_tokens": len(completion.token_ids),
                 "total_tokens": prepared.prompt_tokens + len(completion.token_ids)}
        return JSONResponse(render.full(text, finish, usage), headers=headers)

    async def _stream(self, job: Job, stream: Stream, render: _Renderer) -> AsyncIterator[str]:
        started = time.perf_counter()
        scanner = StopScanner(job.sampling.stops)
        try:
            yield render.event(render.start())
            try:
                async for piece in stream:
                    if text := scanner.feed(piece):
                        yield render.event(render.delta(text))
                    if scanner.stopped:
                        stream.cancel()  # the stop sequence arrived: no need for more tokens
                        break
                if tail := scanner.flush():
                    yield render.event(render.delta(tail))
                tokens = await stream.finish()
            except Exception:
                log.exception("streamed generation failed")
                yield render.event({"error": {"message": "generation failed; see the server log",
                                              "type": "server_error", "param": None, "code": "internal_error"}})
                return
            self.metrics.generation_seconds.labels("stream").observe(time.perf_counter() - started)
            self.metrics.tokens_generated.inc(tokens)
            yield render.event(render.finish(_finish_reason(scanner.stopped, tokens, job.sampling.max_tokens)))
            yield "data: [DONE]\n\n"
        finally:
            stream.cancel()  # a client that went away stops its generation at the next token

    # -- validation --------------------------------------------------------------------------
    def _check_model(self, model: str | None) -> None:
        if model is not None and model != self.engine.name:
            raise APIError(404, f"`model` {model!r} is not served here; GET /v1/models lists "
                                f"{self.engine.name!r}", param="model", code="model_not_found")

    def _sampling(self, request: SamplingFields, prepared: Prepared, prompt_field: str) -> Sampling:
        window, used = self.engine.context_window, prepared.prompt_tokens
        limit = self.settings.max_tokens_limit
        asked = request.requested_max_tokens
        if asked is not None and asked > limit:
            field = "max_tokens" if request.max_tokens is not None else "max_completion_tokens"
            raise APIError(400, f"`{field}` is {asked}, above this server's limit of {limit}",
                           param=field, code="max_tokens_exceeded")
        if used + (asked or 1) > window:
            raise APIError(400, f"`{prompt_field}` plus `max_tokens` need {used + (asked or 1)} tokens "
                                f"({used} in the prompt), more than the model's context window of {window}",
                           param=prompt_field, code="context_length_exceeded")
        max_tokens = asked if asked is not None else min(self.settings.default_max_tokens, window - used)
        return Sampling(max_tokens, request.temperature, request.top_p, request.seed, request.stops)


def _finish_reason(stopped: bool, tokens: int, max_tokens: int) -> str:
    return "length" if not stopped and tokens >= max_tokens else "stop"


class _Renderer:
    """OpenAI response and chunk bodies for one request."""

    def __init__(self, endpoint: str, model: str) -> None:
        self.chat = endpoint == "chat"
        self.id = f"{'chatcmpl' if self.chat else 'cmpl'}-{uuid.uuid4().hex}"
        self.model = model
        self.created = int(time.time())

    def _body(self, kind: str, choice: dict, **extra) -> dict:
        return {"id": self.id, "object": kind, "created": self.created, "model": self.model,
                "choices": [{"index": 0, "logprobs": None, **choice}], **extra}

    def full(self, text: str, finish: str, usage: dict) -> dict:
        if self.chat:
            choice = {"message": {"role": "assistant", "content": text}, "finish_reason": finish}
            return self._body("chat.completion", choice, usage=usage)
        return self._body("text_completion", {"text": text, "finish_reason": finish}, usage=usage)

    def _chunk(self, payload: dict, finish: str | None) -> dict:
        if self.chat:
            return self._body("chat.completion.chunk", {"delta": payload, "finish_reason": finish})
        return self._body("text_completion", {"text": payload.get("content", ""), "finish_reason": finish})

    def start(self) -> dict:
        return self._chunk({"role": "assistant", "content": ""}, None)

    def delta(self, text: str) -> dict:
        return self._chunk({"content": text}, None)

    def finish(self, reason: str) -> dict:
        return self._chunk({}, reason)

    @staticmethod
    def event(body: dict) -> str:
        return f"data: {json.dumps(body)}\n\n"
