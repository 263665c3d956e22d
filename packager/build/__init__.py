"""The ``eco-pack build`` pipeline: data -> model -> classifier -> calibration -> sigma -> evaluation
-> bundle -> model card -> bento, each stage cached by a hash of its inputs so a rerun resumes."""

from packager.build.config import BuildConfig
from packager.build.pipeline import run_build

__all__ = ["BuildConfig", "run_build"]
