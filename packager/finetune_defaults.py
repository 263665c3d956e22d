"""Fine-tuning defaults per model: TOFU's learning rate for a registered family, its prompt format,
and scratch settings. Kept apart from ``packager.finetune`` (the training loop) so the loop never
imports the model registry, which itself trains the ``tiny`` models with that loop."""

from __future__ import annotations

from pathlib import Path

from guards.prompt_format import PromptFormat
from packager.finetune import FinetuneConfig, ScratchModel, TrainConfig, local_prompt_format
from packager.models import MODELS, resolve_model


def make_config(
    model: str = "scratch", *, epochs: int | None = None, lr: float | None = None, batch_size: int | None = None,
    seed: int = 42, device: str = "auto", dtype: str = "auto", scratch_model: ScratchModel | None = None,
) -> FinetuneConfig:
    """A config with the right defaults for ``model``: TOFU's for a pretrained base
    (lr 1e-5, 2e-5 for phi; 5 epochs; batch 32), ``TrainConfig.scratch()`` for ``scratch``.
    Options left as None keep those defaults.
    """
    given = {k: v for k, v in {"epochs": epochs, "lr": lr, "batch_size": batch_size}.items() if v is not None}
    if model == "scratch":
        train, fmt = TrainConfig.scratch(seed=seed, **given), PromptFormat("phi")
    elif model in MODELS:
        spec = MODELS[model]
        train, fmt = TrainConfig(seed=seed, **{"lr": spec.finetune_lr, **given}), spec.prompt_format
        model = resolve_model(model).subject.name_or_path  # the Hub id, or the offline model's folder
    else:
        path = Path(model).expanduser()
        train = TrainConfig(seed=seed, **given)
        fmt = local_prompt_format(path) if path.is_dir() else PromptFormat("chat_template")
    return FinetuneConfig(base=model, prompt_format=fmt, train=train, scratch_model=scratch_model or ScratchModel(),
                          device=device, dtype=dtype)
