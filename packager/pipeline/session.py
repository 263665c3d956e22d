"""What stages may load rather than receive: the forget set and the models, each loaded once per
process. Data between stages travels only as typed inputs and results (``stage.py``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rich.console import Console

from evaluation.forget_set import ForgetSet
from guards.config import BaseModelRef
from packager.models import load_model


@dataclass
class Session:
    console: Console
    forget_set: ForgetSet  # loaded and validated before the first stage
    device: str = "auto"
    dtype: str = "auto"
    _models: dict[str, Any] = field(default_factory=dict)

    def model(self, ref: BaseModelRef, *, alias: str | None = None):
        """(model, tokenizer) for ``ref``, loaded once; ``alias`` names it in a Hub error."""
        key = f"{ref.source}:{ref.name_or_path}@{ref.revision}"
        if key not in self._models:
            self._models[key] = load_model(ref, alias=alias, device=self.device, dtype=self.dtype)
        return self._models[key]
