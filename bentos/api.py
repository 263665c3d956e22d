"""The OpenAI-compatible routes, mounted by the service under ``/v1``.

Kept free of torch so the service module imports fast; the work is done by the
``GuardedCompletions`` object that ``handler()`` returns once the service has loaded.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI

from bentos.errors import install_error_handlers
from bentos.schemas import ChatRequest, CompletionRequest

if TYPE_CHECKING:
    from bentos.completions import GuardedCompletions


def create_app(handler: Callable[[], GuardedCompletions]) -> FastAPI:
    app = FastAPI(title="eco-guard: OpenAI-compatible API", docs_url=None, redoc_url=None)
    install_error_handlers(app)

    @app.get("/models")
    async def list_models() -> dict:
        return handler().models()

    @app.post("/chat/completions")
    async def chat_completions(body: ChatRequest) -> Any:
        return await handler().chat(body)

    @app.post("/completions")
    async def completions(body: CompletionRequest) -> Any:
        return await handler().completion(body)

    return app
