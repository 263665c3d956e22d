"""Operator settings for the serving process, read once from the environment."""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass
from pathlib import Path

from bentos.vllm_process import check_loopback
from guards.errors import GuardConfigError
from guards.prompt_format import PromptFormat

# In a built bento the artifact sits beside the code (src/artifact); a checkout passes $ECO_ARTIFACT.
DEFAULT_ARTIFACT = Path(__file__).resolve().parents[1] / "artifact"
ENGINES = ("hf", "vllm")


def _int(name: str, default: int, minimum: int = 1) -> int:
    raw = os.environ.get(name, str(default))
    try:
        value = int(raw)
    except ValueError:
        raise GuardConfigError(f"`{name}` must be an integer, not {raw!r}") from None
    if value < minimum:
        raise GuardConfigError(f"`{name}` must be >= {minimum}, not {value}")
    return value


def _engine() -> str:
    engine = os.environ.get("ECO_ENGINE", "hf")
    if engine not in ENGINES:
        raise GuardConfigError(f"`ECO_ENGINE` is {engine!r}; valid: {', '.join(ENGINES)}")
    return engine


def _artifact() -> Path:
    """$ECO_ARTIFACT (a folder), else $ECO_ARTIFACT_URL (hf:// or s3://, fetched and verified), else the bento's own."""
    if os.environ.get("ECO_ARTIFACT"):
        return Path(os.environ["ECO_ARTIFACT"])
    if os.environ.get("ECO_ARTIFACT_URL"):
        from guards.remote import load_remote

        return load_remote(os.environ["ECO_ARTIFACT_URL"])
    return DEFAULT_ARTIFACT


@dataclass(frozen=True)
class ServingSettings:
    """One field per environment variable; defaults suit a single-GPU replica."""

    artifact: Path = DEFAULT_ARTIFACT  # ECO_ARTIFACT (folder) or ECO_ARTIFACT_URL (hf:// or s3://)
    device: str = "auto"  # ECO_DEVICE: auto = cuda when visible, else cpu
    dtype: str = "auto"  # ECO_DTYPE: auto = bf16 on cuda, fp32 on cpu
    model_name: str | None = None  # ECO_MODEL_NAME: id in /v1/models (default: the bundle's name)
    expose_decision: bool = False  # ECO_EXPOSE_DECISION=1: send the guard decision in `x-eco-guard`
    max_tokens_limit: int = 1024  # ECO_MAX_TOKENS: largest `max_tokens` a request may ask for
    default_max_tokens: int = 256  # ECO_DEFAULT_MAX_TOKENS: used when a request sets none
    max_batch_size: int = 16  # ECO_MAX_BATCH: requests per classifier / generate call
    max_batch_wait_ms: int = 5  # ECO_BATCH_WAIT_MS: longest a request waits for generate batch-mates (hf engine)
    generation_workers: int = 2  # ECO_GENERATION_WORKERS: batches generating at once
    stream_workers: int = 4  # ECO_STREAM_WORKERS: streams generating at once
    prompt_format: PromptFormat | None = None  # ECO_PROMPT_FORMAT: a name or a {question} template
    verified_manifest: str | None = None  # ECO_ARTIFACT_VERIFIED: set by `eco-pack serve`, which hashed the files
    engine: str = "hf"  # ECO_ENGINE: hf (transformers generate, in process) or vllm (a vLLM server on loopback)
    vllm_url: str | None = None  # ECO_VLLM_URL: a running vLLM on loopback (a pod's sidecar); unset: start one
    vllm_python: str | None = None  # ECO_VLLM_PYTHON: the python that has vllm, to start it (default: this one)
    vllm_args: tuple[str, ...] = ()  # ECO_VLLM_ARGS: more flags for the vLLM it starts, e.g. "--max-model-len 4096"
    vllm_start_timeout_s: int = 1200  # ECO_VLLM_START_TIMEOUT: seconds to wait for vLLM to be healthy
    vllm_timeout_s: int = 300  # ECO_VLLM_TIMEOUT: seconds one request may take in vLLM

    def __post_init__(self) -> None:
        if self.vllm_url is not None:  # however the settings are made, vLLM stays on loopback
            object.__setattr__(self, "vllm_url", check_loopback(self.vllm_url))

    @classmethod
    def from_env(cls) -> ServingSettings:
        return cls(
            artifact=_artifact(),
            device=os.environ.get("ECO_DEVICE", "auto"),
            dtype=os.environ.get("ECO_DTYPE", "auto"),
            prompt_format=PromptFormat.parse(os.environ["ECO_PROMPT_FORMAT"]) if os.environ.get("ECO_PROMPT_FORMAT")
            else None,
            verified_manifest=os.environ.get("ECO_ARTIFACT_VERIFIED") or None,
            model_name=os.environ.get("ECO_MODEL_NAME") or None,
            expose_decision=os.environ.get("ECO_EXPOSE_DECISION", "0").lower() in ("1", "true", "yes"),
            max_tokens_limit=_int("ECO_MAX_TOKENS", 1024),
            default_max_tokens=_int("ECO_DEFAULT_MAX_TOKENS", 256),
            max_batch_size=_int("ECO_MAX_BATCH", 16),
            max_batch_wait_ms=_int("ECO_BATCH_WAIT_MS", 5, minimum=0),
            generation_workers=_int("ECO_GENERATION_WORKERS", 2),
            stream_workers=_int("ECO_STREAM_WORKERS", 4),
            engine=_engine(),
            vllm_url=os.environ.get("ECO_VLLM_URL") or None,
            vllm_python=os.environ.get("ECO_VLLM_PYTHON") or None,
            vllm_args=tuple(shlex.split(os.environ.get("ECO_VLLM_ARGS", ""))),
            vllm_start_timeout_s=_int("ECO_VLLM_START_TIMEOUT", 1200),
            vllm_timeout_s=_int("ECO_VLLM_TIMEOUT", 300),
        )
