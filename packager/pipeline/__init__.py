"""The ``eco-pack build`` pipeline: data -> model -> classifier -> calibration -> sigma -> bundle ->
evaluation -> model card -> bento, typed stages each cached by its inputs and code, so a rerun
resumes (docs/architecture.md).

Its names load on first use (lazy_loader): the CLI reads ``BuildConfig`` for its options without
importing the stages on every command."""

import lazy_loader

__getattr__, __dir__, __all__ = lazy_loader.attach(__name__, submod_attrs={
    "build": ["run_build"],
    "config": ["BuildConfig"],
})  # fmt: skip
