"""Runtime for ECO guards: the corruption functions, token selection, the guarded model and the bundle.

This package must stay light (torch, transformers, safetensors): a serving image carries it
without any training code. It never imports from ``packager``.

Its names load on first use (lazy_loader), so a module used alone, such as ``guards.errors`` for
the CLI or ``guards.manifest`` for the launcher's checksums, does not import torch.
"""

import lazy_loader

__getattr__, __dir__, __all__ = lazy_loader.attach(__name__, submod_attrs={
    "bundle": ["GuardBundle", "load_bundle", "save_bundle"],
    "config": ["BaseModelRef", "CorruptionConfig", "DecisionRule", "GuardConfig", "SeedPolicy", "SelectionConfig"],
    "corruptions": ["CORRUPTIONS"],
    "errors": ["BundleError", "GuardConfigError"],
    "guarded_model": ["Decision", "GenerationResult", "GuardedModel"],
    "prompt_format": ["PromptFormat"],
    "selection": ["SELECTORS"],
})  # fmt: skip
