"""The ``tiny`` alias: a from-scratch subject and retain reference for a small forget set.

The subject is trained on the set's forget + retain QA, the retain reference on its retain QA
only (the demo set minus its forget people), both with the set's general-knowledge QA standing
in for pretraining (for a multiple-choice set, its general topics), and both with one tokenizer
learnt from the whole set. They are cached under
``$ECO_PACK_CACHE/models/tiny-<key>/{subject,retain}``, ``key`` hashing the data, the config
and ``PROTOCOL_VERSION``, so a second call reuses them.
"""

from __future__ import annotations

import hashlib
import json
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from multiprocessing import get_context
from pathlib import Path

from guards.atomic import atomic_directory
from guards.cache import cache_root
from guards.prompt_format import PromptFormat
from packager.finetune import PROTOCOL_VERSION, FinetuneConfig, ScratchModel, TrainConfig, finetune
from packager.finetune_data import TrainingData, select_training_data

TINY_FORMAT = PromptFormat("phi")


# by forget-set kind: one-letter answers carry less signal per step, and a corpus has few passages
EPOCHS = {"qa": 20, "mc": 40, "text": 150}


@dataclass(frozen=True)
class TinyConfig:
    """Sized so both models train from scratch in about a minute on 2 CPU cores for ``demo``, and
    about four for ``demo-mc``."""

    model: ScratchModel = field(
        default_factory=lambda: ScratchModel(
            hidden_size=128, num_layers=4, num_heads=4, intermediate_size=384, vocab_size=1024, max_positions=128
        )
    )
    train: TrainConfig = field(default_factory=lambda: TrainConfig.scratch(epochs=EPOCHS["qa"], lr=3e-3, seed=0))
    general: bool = True  # also train on the set's real-author / world-fact QA

    @classmethod
    def for_kind(cls, kind: str) -> TinyConfig:
        """The default for a forget set of ``kind`` (``evaluation.forget_set.KINDS``)."""
        return cls(train=replace(cls().train, epochs=EPOCHS[kind]))


@dataclass(frozen=True)
class TinyModels:
    subject: Path
    retain: Path
    trained: bool  # False when both came from the cache


def ensure_tiny(
    forget_set: str = "demo",
    *,
    config: TinyConfig | None = None,
    data_dir: Path | None = None,
    cache: Path | None = None,
    progress: bool = True,
    seed: int = 0,
) -> TinyModels:
    """Paths of the tiny subject and retain models for ``forget_set`` drawn with ``seed``, training
    what is missing."""
    if config is None:
        from packager.sources import load_forget_set

        config = TinyConfig.for_kind(load_forget_set(forget_set, data_dir=data_dir, seed=seed).kind)
    subject_data = select_training_data(forget_set, "all", general=config.general, data_dir=data_dir, seed=seed)
    retain_data = select_training_data(forget_set, "retain", general=config.general, data_dir=data_dir, seed=seed)
    ft = FinetuneConfig(
        base="scratch",
        prompt_format=TINY_FORMAT,
        train=config.train,
        scratch_model=config.model,
        device="cpu",
        dtype="float32",
    )
    key = hashlib.sha256(
        json.dumps(
            {
                "protocol": PROTOCOL_VERSION,
                "config": ft.to_dict(),
                "tiny": asdict(config),
                "data": [subject_data.sha256, retain_data.sha256, list(subject_data.tokenizer_corpus)],
            },
            sort_keys=True,
            default=str,
        ).encode()
    ).hexdigest()[:16]
    root = (cache or cache_root()) / "models" / f"tiny-{key}"
    subject, retain = root / "subject", root / "retain"
    todo = [(data, dest) for data, dest in ((subject_data, subject), (retain_data, retain))
            if not (dest / "finetune.json").is_file()]  # fmt: skip
    if todo:
        _train_both(ft, todo, root, progress)
    return TinyModels(subject, retain, bool(todo))


def _train_both(ft: FinetuneConfig, todo: list[tuple[TrainingData, Path]], root: Path, progress: bool) -> None:
    """Train the missing models, side by side when two cores are free (each uses one thread).

    Both read one tokenizer, learnt first from the whole set's text (the subject's corpus: both
    ``TrainingData`` share it), so they see the same token ids; it is exactly the tokenizer the
    subject would learn on its own.
    """
    from packager.bpe import train_bpe_tokenizer

    tokenizer = root / "tokenizer"
    if not (tokenizer / "tokenizer.json").is_file():
        with atomic_directory(tokenizer, overwrite=True) as tmp:
            train_bpe_tokenizer(todo[0][0].tokenizer_corpus, vocab_size=ft.scratch_model.vocab_size).save_pretrained(
                tmp
            )
    if len(todo) == 1 or len(os.sched_getaffinity(0)) < 2:
        for data, dest in todo:
            finetune(ft, data, dest, tokenizer=tokenizer, overwrite=True, progress=progress)
        return
    with ProcessPoolExecutor(max_workers=len(todo), mp_context=get_context("spawn")) as pool:
        jobs = [pool.submit(finetune, ft, data, dest, tokenizer=tokenizer, overwrite=True, progress=False)
                for data, dest in todo]  # fmt: skip
        for job in jobs:
            job.result()
