"""Forget-set sources: ``load_forget_set("demo" | "tofu:forget10" | "custom:<path>")``."""

from packager.sources import custom, demo, tofu  # noqa: F401  (register the sources)
from packager.sources.base import QA, SOURCES, ForgetSet, ForgetSetError, load_forget_set

__all__ = ["QA", "SOURCES", "ForgetSet", "ForgetSetError", "load_forget_set"]
