"""Typed errors that carry what a caller needs to name the fix."""

from __future__ import annotations


class EcoPackError(Exception):
    """Base class: every error eco-pack raises on purpose derives from it."""


class GuardConfigError(EcoPackError, ValueError):
    """A guard setting is invalid; the message names the field in backticks."""


class BundleError(EcoPackError):
    """A bundle or artifact on disk is missing, tampered with or of an unknown schema.

    ``path`` is the offending file (or directory) so the CLI can point at it.
    """

    def __init__(self, message: str, path: str | None = None) -> None:
        super().__init__(message)
        self.path = path


class ModelSourceError(EcoPackError):
    """A model could not be loaded from the Hub or a local path; the message names the offline fix."""
