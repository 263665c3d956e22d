"""Frozen dataclasses to JSON and back, so a stage's typed result survives its ``result.json``.

``to_jsonable`` turns dataclasses, paths and tuples into plain JSON values; ``from_jsonable``
rebuilds the declared type from them, following the type hints (nested dataclasses, ``X | None``,
``tuple[X, ...]``, ``dict[str, X]``, ``Path``). A ``StageResult``'s ``folder`` is where its files
are; it is never stored, the cache engine sets it from the record it read.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


@dataclass(frozen=True, kw_only=True)
class StageResult:
    """Base of every stage's result. ``folder``: the stage's folder in the work dir (not serialised)."""

    folder: Path = field(default=Path("."), compare=False)

    def file(self, name: str) -> Path:
        return self.folder / name


def to_jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: to_jsonable(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if not (isinstance(value, StageResult) and f.name == "folder")
        }
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, tuple | list):
        return [to_jsonable(v) for v in value]
    if isinstance(value, collections.abc.Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    return value


def from_jsonable(tp: Any, value: Any) -> Any:
    """``value`` (as ``to_jsonable`` wrote it) as an instance of ``tp``."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        return from_jsonable(next(a for a in args if a is not type(None)), value)
    if dataclasses.is_dataclass(tp):
        hints = typing.get_type_hints(tp)
        kwargs = {
            f.name: from_jsonable(hints[f.name], value[f.name])
            for f in dataclasses.fields(tp)
            if f.init and f.name in value
        }
        return tp(**kwargs)
    if tp is Path:
        return Path(value)
    if origin is tuple:
        item = args[0] if args else Any
        return tuple(from_jsonable(item, v) for v in value)
    if origin is list:
        return [from_jsonable(args[0] if args else Any, v) for v in value]
    if origin in (dict, collections.abc.Mapping):
        item = args[1] if len(args) == 2 else Any
        return {k: from_jsonable(item, v) for k, v in value.items()}
    if tp is float and isinstance(value, int):
        return float(value)
    return value


def load_result(tp: type[T], data: dict[str, Any], folder: Path) -> T:
    """A stage result of type ``tp`` read back from its record, with its folder set."""
    return dataclasses.replace(from_jsonable(tp, data), folder=folder)  # type: ignore[type-var]
