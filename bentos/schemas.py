"""OpenAI request bodies as strict pydantic models: a wrong type is a 400 naming the field."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class _Strict(BaseModel):
    # strict: "5" is not an integer; unknown OpenAI fields (user, logit_bias, ...) are ignored.
    model_config = ConfigDict(strict=True, extra="ignore")


class ChatMessage(_Strict):
    role: Literal["system", "user", "assistant"]
    content: str

    @field_validator("content")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value


# Inputs that would reach the model without being read as text by the guard: refused by name.
# (vLLM's own server takes them; the front never forwards a client's fields to it.)
UNGUARDED_INPUTS = {
    "prompt_embeds": "raw embeddings would bypass the guard; send the prompt as text",
    "prompt_token_ids": "token-id prompts would bypass the guard; send the prompt as text",
}


class SamplingFields(_Strict):
    """The sampling options both endpoints share, as the OpenAI API defines them."""

    # declared only to be refused by name (a 400 whose `param` is the field), never used
    prompt_embeds: object = None
    prompt_token_ids: object = None

    @field_validator("prompt_embeds", "prompt_token_ids", mode="before")
    @classmethod
    def _unguarded(cls, value: object, info) -> None:
        raise ValueError(f"not accepted: {UNGUARDED_INPUTS[info.field_name]}")

    model: str | None = None
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    temperature: float = Field(default=1.0, ge=0.0, le=2.0)
    top_p: float = Field(default=1.0, gt=0.0, le=1.0)
    stop: str | list[str] | None = None
    seed: int | None = None
    stream: bool = False
    n: int = Field(default=1, ge=1, le=1)

    @field_validator("stop")
    @classmethod
    def _stops(cls, value: str | list[str] | None) -> str | list[str] | None:
        stops = [value] if isinstance(value, str) else value or []
        if len(stops) > 4:
            raise ValueError("takes at most 4 sequences")
        if any(not s for s in stops):
            raise ValueError("sequences must not be empty")
        return value

    @property
    def stops(self) -> tuple[str, ...]:
        return (self.stop,) if isinstance(self.stop, str) else tuple(self.stop or ())

    @property
    def requested_max_tokens(self) -> int | None:
        return self.max_tokens if self.max_tokens is not None else self.max_completion_tokens


class ChatRequest(SamplingFields):
    messages: list[ChatMessage] = Field(min_length=1)

    @field_validator("messages")
    @classmethod
    def _has_user(cls, value: list[ChatMessage]) -> list[ChatMessage]:
        if not any(m.role == "user" for m in value):
            raise ValueError("needs at least one `user` message")
        return value

    @property
    def last_user_message(self) -> str:
        return next(m.content for m in reversed(self.messages) if m.role == "user")


class CompletionRequest(SamplingFields):
    prompt: str

    @field_validator("prompt", mode="before")
    @classmethod
    def _text_only(cls, value: object) -> object:
        if isinstance(value, list):
            raise ValueError("must be one string: token-id or batched prompts are not accepted (the guard "
                             "classifies text)")
        return value

    @field_validator("prompt")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value
