"""The ``eco-pack build`` pipeline: data -> model -> classifier -> calibration -> sigma -> bundle ->
evaluation -> model card -> bento, typed stages each cached by its inputs and code, so a rerun
resumes (docs/architecture.md)."""

from packager.pipeline.build import run_build
from packager.pipeline.config import BuildConfig

__all__ = ["BuildConfig", "run_build"]
