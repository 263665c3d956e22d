"""OpenAI-style error bodies, ``{"error": {"message", "type", "param", "code"}}``, for every 4xx."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

log = logging.getLogger("eco_guard.serving")


class APIError(Exception):
    """A request the server refuses; ``param`` names the offending field."""

    def __init__(self, status: int, message: str, *, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.param, self.code = status, message, param, code


def error_response(status: int, message: str, param: str | None = None, code: str | None = None) -> JSONResponse:
    kind = "invalid_request_error" if status < 500 else "server_error"
    body = {"error": {"message": message, "type": kind, "param": param, "code": code}}
    return JSONResponse(body, status_code=status)


_UNION_TAGS = frozenset({"str", "int", "float", "bool", "list[str]", "none"})


def _field(loc: tuple) -> str:
    """('body', 'messages', 0, 'content') -> 'messages[0].content' (pydantic's union tags dropped)."""
    name = ""
    for part in loc[1:] if loc and loc[0] == "body" else loc:
        if isinstance(part, int):
            name += f"[{part}]"
        elif part in _UNION_TAGS:
            continue
        else:
            name += f".{part}" if name else str(part)
    return name or "body"


async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
    first = exc.errors()[0]
    if first.get("type") == "json_invalid":
        return error_response(400, f"the request body is not valid JSON: {first.get('msg')}", "body", "invalid_json")
    field = _field(tuple(first.get("loc", ())))
    message = str(first.get("msg", "invalid value")).removeprefix("Value error, ")
    if first.get("type") == "missing":
        return error_response(400, f"`{field}` is required", field, "missing_field")
    return error_response(400, f"`{field}`: {message}", field, "invalid_value")


async def _api_error(_: Request, exc: APIError) -> JSONResponse:
    return error_response(exc.status, exc.message, exc.param, exc.code)


async def _http(_: Request, exc: HTTPException) -> JSONResponse:
    return error_response(exc.status_code, str(exc.detail), None, None)


async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
    log.exception("request failed: %s", exc.__class__.__name__)
    return error_response(500, "internal error; see the server log", None, "internal_error")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(APIError, _api_error)
    app.add_exception_handler(HTTPException, _http)
    app.add_exception_handler(Exception, _unexpected)
