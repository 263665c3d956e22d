"""The eco-guard bento: one GPU replica serving a built artifact's guarded model.

Run from a checkout with ``ECO_ARTIFACT=dist/<name>-<version> bentoml serve bentos.service:EcoGuardService``
(or ``eco-pack serve ARTIFACT``); a built bento carries its artifact in ``src/artifact``.
``ECO_ENGINE=vllm`` generates in vLLM instead: at ``ECO_VLLM_URL`` (a sidecar on the pod's
loopback), or in a vLLM server this service starts on loopback from ``ECO_VLLM_PYTHON``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
from pathlib import Path

import bentoml
import psutil

from bentos.api import create_app
from bentos.launch import STARTUP_ERROR_ENV, StopRequested, is_bentoml_server
from bentos.settings import ServingSettings


def _show_guard_logs() -> None:
    """BentoML's worker logs its own INFO lines and only WARNING from the rest: the guard's start-up
    steps (what it loaded, the vLLM it starts or waits for) are INFO, so they would never show."""
    root = logging.getLogger().level
    logging.getLogger("eco_guard").setLevel(logging.INFO if root <= logging.WARNING else root)  # quiet: as quiet


def _stop_the_server(error: BaseException) -> None:
    """A worker whose start-up failed (a vLLM that will not start or answer, an artifact that fails its
    checks) fails the same way again, and BentoML restarts it every few seconds, forever, outside a
    container: stop the server (the worker's parent, ``bentoml serve``) instead, so the error is the
    last thing it prints. A worker started some other way is left to its starter. The server exits 0
    regardless, so the cause of a failure (not of a requested stop) also goes to ``ECO_STARTUP_ERROR_FILE``
    where ``eco-pack serve`` set one: it exits 1 with it."""
    logging.getLogger("eco_guard.serving").error("start-up failed, so the server stops (a restart would fail "
                                                 "the same way): %s", error)
    if (path := os.environ.get(STARTUP_ERROR_ENV)) and not isinstance(error, StopRequested):
        with contextlib.suppress(OSError):
            Path(path).write_text(f"{type(error).__name__}: {error}")
    with contextlib.suppress(psutil.Error):
        parent = psutil.Process(os.getppid())
        if is_bentoml_server(parent.cmdline()):
            parent.send_signal(signal.SIGTERM)


TRAFFIC = {"timeout": 300, "max_concurrency": 64}  # seconds for one request; requests in flight per worker

app = create_app(lambda: bentoml.get_current_service().completions)


@bentoml.service(name="eco_guard", resources={"gpu": 1}, traffic=TRAFFIC, workers=1)
@bentoml.asgi_app(app, path="/v1")
class EcoGuardService:
    """Verifies every checksum of the artifact, loads the guard and warms it up before it is ready."""

    def __init__(self) -> None:
        try:
            self._start()
        except Exception as error:
            _stop_the_server(error)
            raise

    def _start(self) -> None:
        from bentos.completions import GuardedCompletions
        from bentos.engine import Engine
        from bentos.metrics import GuardMetrics
        from guards.progress import quiet_progress_bars

        _show_guard_logs()
        quiet_progress_bars()  # their warnings stay
        settings = ServingSettings.from_env()
        metrics = GuardMetrics.create()
        vllm = settings.engine == "vllm"
        engine = Engine.load(
            settings.artifact, device=settings.device, dtype=settings.dtype, name=settings.model_name,
            prompt_format=settings.prompt_format, verified_manifest=settings.verified_manifest,
            embeddings_only=vllm,  # vLLM holds the model; the front needs the embedding matrix only
        )
        if vllm:
            from bentos.vllm_backend import VllmBackend

            backend = VllmBackend.start(engine, settings, metrics)
        else:
            from bentos.hf_backend import HFBackend

            backend = HFBackend(engine, settings, metrics)
            backend.warmup()
        self.completions = GuardedCompletions(engine, backend, settings, metrics)

    def __is_ready__(self) -> bool:
        """Ready once the model is loaded and warmed up, and its engine answers: ``/readyz`` is 200 only then."""
        completions = getattr(self, "completions", None)
        return completions is not None and completions.backend.ready()

    @bentoml.on_shutdown
    async def _stop_engine(self) -> None:
        """A vLLM this worker started stops with it."""
        if getattr(self, "completions", None) is not None:
            await self.completions.backend.close()
