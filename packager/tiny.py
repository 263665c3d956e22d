"""The ``tiny`` alias: a from-scratch subject and retain reference for a small forget set.

The subject is trained on the set's forget + retain QA, the retain reference on its retain QA
only (the demo set minus its forget people), both with the set's general-knowledge QA standing
in for pretraining, and both with one tokenizer learnt from the whole set. They are cached under
``$ECO_PACK_CACHE/models/tiny-<key>/{subject,retain}``, ``key`` hashing the data, the config
and ``PROTOCOL_VERSION``, so a second call reuses them.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from guards.cache import cache_root
from guards.prompt_format import PromptFormat
from packager.finetune import PROTOCOL_VERSION, FinetuneConfig, ScratchModel, TrainConfig, finetune
from packager.finetune_data import select_training_data

TINY_FORMAT = PromptFormat("phi")


@dataclass(frozen=True)
class TinyConfig:
    """Sized so both models train from scratch in about 2-3 minutes on 2 CPU cores for ``demo``."""

    model: ScratchModel = field(default_factory=lambda: ScratchModel(
        hidden_size=128, num_layers=4, num_heads=4, intermediate_size=384, vocab_size=1024, max_positions=128))
    train: TrainConfig = field(default_factory=lambda: TrainConfig.scratch(epochs=20, lr=3e-3, seed=0))
    general: bool = True  # also train on the set's real-author / world-fact QA


@dataclass(frozen=True)
class TinyModels:
    subject: Path
    retain: Path
    trained: bool  # False when both came from the cache


def ensure_tiny(
    forget_set: str = "demo", *, config: TinyConfig | None = None, data_dir: Path | None = None,
    cache: Path | None = None, progress: bool = True,
) -> TinyModels:
    """Paths of the tiny subject and retain models for ``forget_set``, training what is missing."""
    config = config or TinyConfig()
    subject_data = select_training_data(forget_set, "all", general=config.general, data_dir=data_dir)
    retain_data = select_training_data(forget_set, "retain", general=config.general, data_dir=data_dir)
    ft = FinetuneConfig(base="scratch", prompt_format=TINY_FORMAT, train=config.train, scratch_model=config.model,
                        device="cpu", dtype="float32")
    key = hashlib.sha256(json.dumps({
        "protocol": PROTOCOL_VERSION, "config": ft.to_dict(), "tiny": asdict(config),
        "data": [subject_data.sha256, retain_data.sha256, list(subject_data.tokenizer_corpus)],
    }, sort_keys=True, default=str).encode()).hexdigest()[:16]
    root = (cache or cache_root()) / "models" / f"tiny-{key}"
    subject, retain = root / "subject", root / "retain"
    trained = False
    if not (subject / "finetune.json").is_file():
        finetune(ft, subject_data, subject, overwrite=True, progress=progress)
        trained = True
    if not (retain / "finetune.json").is_file():
        # the subject's tokenizer, so both models read the same token ids
        finetune(ft, retain_data, retain, tokenizer=subject, overwrite=True, progress=progress)
        trained = True
    return TinyModels(subject, retain, trained)
