"""The registry of named forget-set sources.

A source is a function ``(arg, data_dir, seed) -> ForgetSet`` registered by name; a spec such
as ``"tofu:forget05"`` picks the source ``tofu`` and hands it ``"forget05"``. The data model
itself (``QA``, ``ForgetSet``) lives in ``evaluation.forget_set``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from evaluation.forget_set import ForgetSet, ForgetSetError
from guards.registry import Registry

SourceFn = Callable[[str, "Path | None", int], ForgetSet]
SOURCES: Registry[SourceFn] = Registry("forget-set source")


def seed_argument(source: str, arg: str, seed: int) -> int:
    """A generated set's seed: ``arg`` (``demo:1``) when given, else the build's ``seed``."""
    if not arg:
        return seed
    try:
        return int(arg)
    except ValueError:
        raise ForgetSetError(f"`{source}:{arg}`: the {source} set takes an integer seed, e.g. `{source}:1`") from None


def load_forget_set(spec: str, data_dir: Path | None = None, seed: int = 0) -> ForgetSet:
    """Load a forget set by spec: ``demo``, ``tofu``, ``tofu:forget05``, ``custom:<path>``.

    Example: ``load_forget_set("tofu:forget05", data_dir=Path("data/tofu"))``.
    """
    name, _, arg = spec.partition(":")
    source = SOURCES.get(name.strip())
    return source(arg.strip(), Path(data_dir) if data_dir is not None else None, seed)
