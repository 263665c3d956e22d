"""Runtime for ECO guards: the corruption functions, token selection, the guarded model and the bundle.

This package must stay light (torch, transformers, safetensors): a serving image carries it
without any training code. It never imports from ``packager``.
"""

from guards.bundle import GuardBundle, load_bundle, save_bundle
from guards.config import (
    BaseModelRef,
    CorruptionConfig,
    DecisionRule,
    GuardConfig,
    SeedPolicy,
    SelectionConfig,
)
from guards.corruptions import CORRUPTIONS
from guards.errors import BundleError, GuardConfigError
from guards.guarded_model import Decision, GenerationResult, GuardedModel
from guards.prompt_format import PromptFormat
from guards.selection import SELECTORS

__all__ = [
    "CORRUPTIONS",
    "SELECTORS",
    "BaseModelRef",
    "BundleError",
    "CorruptionConfig",
    "Decision",
    "DecisionRule",
    "GenerationResult",
    "GuardBundle",
    "GuardConfig",
    "GuardConfigError",
    "GuardedModel",
    "PromptFormat",
    "SeedPolicy",
    "SelectionConfig",
    "load_bundle",
    "save_bundle",
]
