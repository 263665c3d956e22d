"""Generation in a vLLM server (``--engine vllm``), behind the guard front.

Per request the front has already classified the text. An unflagged prompt goes to vLLM's
Completions API as token ids, so vLLM batches and prefix-caches it as usual. A flagged one goes
as ``prompt_embeds``: the templated prompt's embeddings, corrupted with the guard's keyed noise,
as base64 of a ``torch.save``d [T, d] tensor. The request body is built here from the front's own
fields only; nothing a client sends is forwarded as is, so a client can never hand vLLM raw
embeddings or token ids. vLLM's ids come back and are decoded here as the hf engine decodes its
own, so an unflagged greedy answer is the same text on either engine.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import signal
import subprocess
import threading
import urllib.request
from collections.abc import AsyncIterator, Iterator

import aiohttp
import pybase64
import torch

from bentos.engine import Completion, Engine, Job
from bentos.errors import APIError
from bentos.launch import StopRequested, free_port, responds, wait_ready
from bentos.metrics import GuardMetrics
from bentos.settings import ServingSettings
from bentos.vllm_process import SERVED_NAME, resolve_python, start_vllm, stop_vllm, vllm_argv
from guards.base_model import base_model_source
from guards.errors import GuardConfigError

log = logging.getLogger("eco_guard.serving")
UNREACHABLE = (aiohttp.ClientError, TimeoutError)  # no answer from vLLM: refused, reset, timed out


def encode_embeddings(embeddings: torch.Tensor) -> bytes:
    """vLLM's ``prompt_embeds`` wire format: base64 (ASCII bytes) of ``torch.save`` of a dense [T, d] tensor.
    pybase64, as vLLM decodes it: the standard library's base64 took most of this step at 7B width."""
    buffer = io.BytesIO()
    torch.save(embeddings.detach().cpu().contiguous(), buffer)
    return pybase64.b64encode(buffer.getbuffer())


def completion_body(fields: dict, prompt_embeds: bytes) -> bytes:
    """vLLM's request as JSON bytes: ``fields`` with ``prompt_embeds`` (base64) spliced in as it is. The
    base64 alphabet needs no JSON escaping, and ``json.dumps`` scanning a 7B prompt's megabytes of it
    costs more than encoding them (``benchmarks/results/prompt_embeds_wire.md``)."""
    head = json.dumps(fields)
    return f"{head[:-1]}{', ' if fields else ''}\"prompt_embeds\": \"".encode() + prompt_embeds + b'"}'


class _Stopped(Exception):
    """A stop signal arrived while the service's start-up waited for vLLM."""


@contextlib.contextmanager
def _stop_signals_end_the_wait() -> Iterator[None]:
    """Let SIGTERM and SIGINT end the wait for vLLM. uvicorn's own handlers only set a flag, which a
    start-up blocked here never reads, so a stop (a pod deleted, Ctrl-C) would go unheard for up to
    ``ECO_VLLM_START_TIMEOUT``; here it ends the wait and is then handed on to those handlers."""
    if threading.current_thread() is not threading.main_thread():  # only the main thread gets signals
        yield
        return
    caught: list[int] = []

    def stop(signum: int, frame) -> None:
        caught.append(signum)
        raise _Stopped(signal.Signals(signum).name)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        for signum in caught:
            signal.raise_signal(signum)  # the server's own handler: it shuts down as it would have


class VllmStream:
    """One streamed completion from vLLM: text pieces, then ``finish()`` gives the token count.

    The pieces are decoded here from vLLM's token ids, as the non-streamed answer is, so the
    pieces join to exactly that answer; a piece that ends inside a multi-byte character waits.
    """

    def __init__(self, response: aiohttp.ClientResponse, backend: VllmBackend) -> None:
        self._response = response
        self._backend = backend
        self._ids: list[int] = []
        self._sent = ""

    async def __aiter__(self) -> AsyncIterator[str]:
        try:
            async for raw in self._response.content:  # one server-sent-event line at a time
                line = raw.decode().rstrip("\r\n")
                if not line.startswith("data: "):
                    continue
                data = line[len("data: "):]
                if data == "[DONE]":
                    break
                chunk = json.loads(data)
                if "error" in chunk:
                    raise RuntimeError(f"vLLM stream error: {chunk['error']}")
                for choice in chunk.get("choices", []):
                    self._ids += choice.get("token_ids") or []
                if piece := self._new_text(final=False):
                    yield piece
        except UNREACHABLE as exc:
            raise RuntimeError(self._backend.unreachable(exc)) from exc
        if piece := self._new_text(final=True):
            yield piece

    def _new_text(self, *, final: bool) -> str:
        text = self._backend.engine.decode(self._ids).text
        if not final and text.endswith("\ufffd"):
            return ""
        piece, self._sent = text[len(self._sent):], text
        return piece

    async def finish(self) -> int:
        self._response.release()
        return len(self._backend.engine.guarded.trim(self._ids))

    def cancel(self) -> None:
        """Close the connection: vLLM aborts a request whose client has gone."""
        self._response.close()


class VllmBackend:
    """A vLLM server on loopback: ``ECO_VLLM_URL``'s, or one this process starts and owns."""

    def __init__(self, engine: Engine, settings: ServingSettings, metrics: GuardMetrics, url: str,
                 process: subprocess.Popen | None = None) -> None:
        self.engine, self.metrics, self.url, self.process = engine, metrics, url, process
        # sock_read: the longest wait for vLLM's next bytes (a whole answer, or a stream's next chunk)
        self._timeout = aiohttp.ClientTimeout(total=None, connect=5.0, sock_read=settings.vllm_timeout_s)
        self._session: aiohttp.ClientSession | None = None  # made in the event loop, by the first request
        self.embed_dtype = engine.guarded.embedding.weight.dtype

    @classmethod
    def start(cls, engine: Engine, settings: ServingSettings, metrics: GuardMetrics) -> VllmBackend:
        """Connect to ``settings.vllm_url``, or start vLLM on the artifact's base model; wait until it
        is healthy and take its context length."""
        process = None
        url = settings.vllm_url
        if url is None:
            port = free_port()
            url = f"http://127.0.0.1:{port}"
            if engine.bundle is None:
                raise GuardConfigError("starting vLLM needs the artifact's bundle; or set `ECO_VLLM_URL`")
            ref = engine.bundle.config.base_model
            argv = vllm_argv(resolve_python(settings.vllm_python), base_model_source(ref, engine.bundle.path), port,
                             dtype=settings.dtype, revision=ref.revision if ref.source != "local" else None,
                             extra=settings.vllm_args)
            process = start_vllm(argv)
        backend = cls(engine, settings, metrics, url, process)
        whose = "the vLLM this front started" if process else "nothing is started here: is vLLM running there?"
        log.info("waiting for vLLM at %s to answer /health (%s; up to %d s, ECO_VLLM_START_TIMEOUT)",
                 url, whose, settings.vllm_start_timeout_s)
        try:
            with _stop_signals_end_the_wait():
                wait_ready(backend.url, process, None, settings.vllm_start_timeout_s, path="/health",
                           on_wait=lambda seconds: log.info("still waiting for vLLM at %s: %.0f s", url, seconds))
        except TimeoutError as exc:
            raise TimeoutError(f"vLLM: {exc}\n(`ECO_VLLM_START_TIMEOUT` sets the wait)") from None
        except _Stopped as stopped:
            if process is not None:
                stop_vllm(process)
            raise StopRequested(f"stopped by {stopped} while waiting for vLLM at {url}") from None
        backend._read_model()
        return backend

    def _read_model(self) -> None:
        with urllib.request.urlopen(f"{self.url}/v1/models", timeout=10) as response:
            models = json.load(response)["data"]
        served = next((m for m in models if m["id"] == SERVED_NAME), models[0])
        self.model = served["id"]
        if served.get("max_model_len"):
            self.engine.context_window = min(self.engine.context_window, int(served["max_model_len"]))
        log.info("vLLM at %s serves %s (context %d)", self.url, self.model, self.engine.context_window)

    def ready(self) -> bool:
        return responds(f"{self.url}/health")

    def unreachable(self, exc: Exception) -> str:
        return (f"the vLLM engine at {self.url} is unreachable ({exc.__class__.__name__}: {exc}); the guard "
                "front is up, the engine behind it is not: check the vLLM container or process")

    def _unavailable(self, exc: Exception) -> APIError:
        """The 503 a request gets when vLLM does not answer, before or while sending its reply."""
        return APIError(503, self.unreachable(exc), code="engine_unavailable")

    # -- requests ----------------------------------------------------------------------------
    def _body(self, job: Job, stream: bool) -> dict:
        """vLLM's request, from the front's own fields only (a flagged job's embeddings are spliced in
        apart, by ``completion_body``)."""
        s = job.sampling
        body = {"model": self.model, "max_tokens": s.max_tokens, "temperature": s.temperature, "top_p": s.top_p,
                "seed": s.seed, "stream": stream, "return_token_ids": True, "skip_special_tokens": True}
        if s.stops:
            body["stop"] = list(s.stops)
        if not job.flagged:
            body["prompt"] = job.prepared.prompt_ids
        return body

    def _flagged_body(self, job: Job, fields: dict) -> bytes:
        """The flagged job's request with its corrupted prompt as ``prompt_embeds`` (blocking: run off the
        event loop)."""
        return completion_body(fields, encode_embeddings(self.engine.embed(job).to(self.embed_dtype)))

    def _client(self) -> aiohttp.ClientSession:
        """One pooled session for every request. aiohttp, not httpx: httpx's pool scans every pooled
        connection on each request, and the front's CPU per request is what holds vLLM back under load."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(self.url, timeout=self._timeout,
                                                  connector=aiohttp.TCPConnector(limit=0))  # no cap: vLLM queues
        return self._session

    async def _request(self, job: Job, stream: bool) -> aiohttp.ClientResponse:
        fields = self._body(job, stream)
        if job.flagged:
            body = await asyncio.get_running_loop().run_in_executor(None, self._flagged_body, job, fields)
            send = {"data": body, "headers": {"Content-Type": "application/json"}}
        else:
            send = {"json": fields}
        try:
            response = await self._client().post("/v1/completions", **send)
        except UNREACHABLE as exc:
            raise self._unavailable(exc) from exc
        if response.status != 200:
            detail = (await response.read()).decode(errors="replace")[:500]
            response.release()
            log.error("vLLM answered %d: %s", response.status, detail)
            status = 503 if response.status >= 500 else 502
            raise APIError(status, f"the vLLM engine refused the request ({response.status}): {detail}",
                           code="engine_error")
        return response

    async def complete(self, job: Job) -> Completion:
        with self.metrics.generation_seconds.labels("batch").time():
            response = await self._request(job, stream=False)
            try:
                choice = (await response.json())["choices"][0]
            except UNREACHABLE as exc:
                raise self._unavailable(exc) from exc
            finally:
                response.release()
        return self.engine.decode(choice["token_ids"])

    async def open_stream(self, job: Job) -> VllmStream:
        return VllmStream(await self._request(job, stream=True), self)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
        if self.process is not None:
            await asyncio.get_running_loop().run_in_executor(None, stop_vllm, self.process)
