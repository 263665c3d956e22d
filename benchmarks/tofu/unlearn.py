"""Gradient-based unlearning baselines, implemented from their published losses.

Each method is one loss function registered by name in ``LOSSES`` with one signature:
``fn(model, reference, forget, retain, config) -> loss``, where ``forget`` and ``retain`` are
collated batches (``input_ids``, ``attention_mask``, ``labels`` with -100 off the answer).
The training loop follows open-unlearning's ``UnlearnTrainer``: one epoch walks the forget
set once, each forget example paired with a random retain example (``ForgetRetainDataset``),
AdamW with a linear schedule after one warmup epoch. Defaults are open-unlearning's
(``configs/trainer/GradDiff.yaml`` / ``NPO.yaml``: gamma = alpha = 1, NLL retain loss,
NPO beta = 0.1; ``configs/experiment/unlearn/tofu/default.yaml``: 10 epochs, weight decay
0.01, warmup 1 epoch). The learning rate is swept: TOFU's 1e-5 is for 7B pretrained models.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from guards.registry import Registry
from packager.finetune_data import collate

Batch = dict[str, torch.Tensor]
Encoded = tuple[list[int], list[int]]


@dataclass(frozen=True)
class UnlearnConfig:
    """One unlearning run. ``gamma`` weighs the forget term, ``alpha`` the retain term."""

    lr: float = 1e-5
    epochs: int = 10
    batch_size: int = 16  # open-unlearning TOFU: 4 per device x 4 accumulation steps
    weight_decay: float = 0.01
    warmup_epochs: float = 1.0
    max_grad_norm: float = 1.0
    gamma: float = 1.0
    alpha: float = 1.0
    beta: float = 0.1  # NPO's inverse temperature (NPO paper and open-unlearning)
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"`{name}` must be >= 1, not {getattr(self, name)}")
        for name in ("lr", "beta"):
            if getattr(self, name) <= 0:
                raise ValueError(f"`{name}` must be > 0, not {getattr(self, name)}")


LossFn = Callable[[torch.nn.Module, "torch.nn.Module | None", Batch, Batch, UnlearnConfig], torch.Tensor]
LOSSES: Registry[LossFn] = Registry("unlearning method")
NEEDS_REFERENCE = {"npo"}


def sequence_nll(model: torch.nn.Module, batch: Batch) -> torch.Tensor:
    """Summed answer-token NLL per sequence (open-unlearning ``compute_batch_nll``), shape [B]."""
    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits[:, :-1]
    labels = batch["labels"][:, 1:]
    return F.cross_entropy(logits.float().transpose(1, 2), labels, ignore_index=-100, reduction="none").sum(-1)


def mean_nll(model: torch.nn.Module, batch: Batch) -> torch.Tensor:
    """Mean NLL over all answer tokens of the batch: the causal-LM loss HF models return."""
    labels = batch["labels"][:, 1:]
    return sequence_nll(model, batch).sum() / (labels != -100).sum().clamp(min=1)


def npo_forget_loss(log_ratios: torch.Tensor, beta: float) -> torch.Tensor:
    """NPO (Zhang et al. 2024, eq. 3): (2/beta) mean log(1 + (pi/pi_ref)^beta).

    ``log_ratios`` are log pi(y|x) - log pi_ref(y|x) per forget sequence; written as
    open-unlearning's ``compute_dpo_loss`` with no winner: -(2/beta) logsigmoid(-beta log_ratio).
    """
    return -(2.0 / beta) * F.logsigmoid(-beta * log_ratios).mean()


@LOSSES.register("graddiff")
def graddiff(model, reference, forget: Batch, retain: Batch, config: UnlearnConfig) -> torch.Tensor:
    """GradDiff (Liu et al. 2022; TOFU's Grad. Diff.): gamma * (-NLL_forget) + alpha * NLL_retain."""
    return -config.gamma * mean_nll(model, forget) + config.alpha * mean_nll(model, retain)


@LOSSES.register("npo")
def npo(model, reference, forget: Batch, retain: Batch, config: UnlearnConfig) -> torch.Tensor:
    """NPO with the retain loss (Zhang et al. 2024, "NPO-RT"): gamma * L_NPO + alpha * NLL_retain.

    ``reference`` is the frozen model before unlearning (the subject).
    """
    with torch.no_grad():
        reference_nll = sequence_nll(reference, forget)
    log_ratios = reference_nll - sequence_nll(model, forget)  # log pi - log pi_ref
    return config.gamma * npo_forget_loss(log_ratios, config.beta) + config.alpha * mean_nll(model, retain)


@dataclass(frozen=True)
class Checkpoint:
    epoch: int
    seconds: float  # training time up to this epoch


def unlearn(
    method: str, model: torch.nn.Module, forget: Sequence[Encoded], retain: Sequence[Encoded], pad_id: int,
    config: UnlearnConfig, *, on_epoch: Callable[[Checkpoint], None] | None = None,
) -> list[float]:
    """Unlearn ``forget`` from ``model`` in place with ``LOSSES[method]``; returns the mean loss per epoch.

    ``on_epoch`` is called after every epoch (the model in eval mode), e.g. to evaluate checkpoints.
    """
    loss_fn = LOSSES.get(method)
    reference = copy.deepcopy(model).eval().requires_grad_(False) if method in NEEDS_REFERENCE else None
    generator = torch.Generator().manual_seed(config.seed)
    steps_per_epoch = math.ceil(len(forget) / config.batch_size)
    total = steps_per_epoch * config.epochs
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    warmup = min(total - 1, max(1, round(steps_per_epoch * config.warmup_epochs))) if total > 1 else 0
    from transformers import get_linear_schedule_with_warmup

    schedule = get_linear_schedule_with_warmup(optimizer, warmup, total)
    losses: list[float] = []
    seconds = 0.0
    for epoch in range(1, config.epochs + 1):
        start = time.perf_counter()
        model.train()
        order = torch.randperm(len(forget), generator=generator).tolist()
        partners = torch.randint(len(retain), (len(forget),), generator=generator).tolist()
        total_loss = 0.0
        for s in range(steps_per_epoch):
            rows = order[s * config.batch_size:(s + 1) * config.batch_size]
            forget_batch = collate([forget[i] for i in rows], pad_id)
            retain_batch = collate([retain[partners[i]] for i in rows], pad_id)
            loss = loss_fn(model, reference, forget_batch, retain_batch, config)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.max_grad_norm)
            optimizer.step()
            schedule.step()
            optimizer.zero_grad(set_to_none=True)
            total_loss += loss.item()
        losses.append(total_loss / steps_per_epoch)
        seconds += time.perf_counter() - start
        model.eval()
        if on_epoch is not None:
            on_epoch(Checkpoint(epoch, seconds))
    return losses


@dataclass(frozen=True)
class Candidate:
    """One point of a sweep, scored for selection."""

    label: str
    forget_quality: float
    model_utility: float


def select_best(candidates: Sequence[Candidate], subject_utility: float, ratio: float = 0.95) -> tuple[Candidate, bool]:
    """The best forget quality among candidates with utility >= ``ratio`` x the subject's.

    Returns (candidate, constraint_met). When no candidate keeps enough utility, the one with
    the highest utility is returned with ``constraint_met = False``, so a report can say so.
    """
    if not candidates:
        raise ValueError("`candidates` is empty: the sweep produced nothing to select from")
    allowed = [c for c in candidates if c.model_utility >= ratio * subject_utility]
    if allowed:
        return max(allowed, key=lambda c: (c.forget_quality, c.model_utility)), True
    return max(candidates, key=lambda c: (c.model_utility, c.forget_quality)), False
