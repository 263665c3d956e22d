"""Forget-set sources: ``load_forget_set("demo" | "tofu:forget10" | "custom:<path>")``."""

from evaluation.forget_set import QA, ForgetSet, ForgetSetError
from packager.sources import custom, demo, demo_mc, demo_text, mmlu, tofu  # noqa: F401  (register the sources)
from packager.sources.base import SOURCES, load_forget_set

__all__ = ["QA", "SOURCES", "ForgetSet", "ForgetSetError", "load_forget_set"]
