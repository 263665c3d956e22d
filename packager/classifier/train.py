"""Fine-tune a Hugging Face encoder to tell forget prompts (label 1) from everything else.

Class-weighted cross-entropy (forget prompts are few), a validation split with early stopping
on how well it ranks forget prompts above the rest, a fixed seed, and a rich progress bar. The
best epoch's weights are saved with the tokenizer (safetensors) into a folder that
``guards.classifier.PromptClassifier`` loads.
"""

from __future__ import annotations

import copy
import json
import math
import random
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from scipy.stats import rankdata

from evaluation.forget_set import ForgetSet
from guards.atomic import atomic_directory
from guards.classifier import PromptClassifier
from guards.config import DecisionRule
from guards.errors import BundleError, ModelSourceError
from packager.batching import length_grouped_batches
from packager.classifier.calibration import calibrate
from packager.classifier.config import ClassifierConfig, check_encoder_layers
from packager.classifier.data import ClassifierData, Labelled, split_forget_set
from packager.classifier.dtype import saved_dtype
from packager.classifier.entities import forget_entities
from packager.classifier.facts import forget_facts
from packager.classifier.forget_text import measured_text


@dataclass(frozen=True)
class TrainedClassifier:
    """A saved classifier and the split it was trained on (calibrate it on ``data`` once, with
    ``calibrate_classifier``: the split holds the prompts it never saw)."""

    path: Path
    data: ClassifierData
    epochs_run: int
    best_epoch: int
    best_val_misranked: float
    train_seconds: float
    forget_facts: int | None  # exact facts saved beside the model; None with fact_matching off
    forget_entities: int | None  # entities matched by name (eco_entities.json); None with entity_matching off
    encoder_layers: int | None  # the encoder layers the saved classifier has (None: its config gives no count)
    backbone_layers: int | None  # the backbone's own, before any cut (the card says which part was kept)


@contextmanager
def _quiet_load_report():
    """transformers' load report at error level only: it would list the fresh head as missing and any
    dropped layers as unexpected, both by design."""
    from transformers.utils import logging as hf_logging

    level = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        yield
    finally:
        hf_logging.set_verbosity(level)


def load_backbone(name: str, encoder_layers: int | None = None):
    """The backbone with a fresh two-label head, its tokenizer, and its encoder layer count as
    published (None where its config gives none). With ``encoder_layers``, only its lowest layers are
    loaded (as smaller published checkpoints are cut from larger ones): the decision's cost on CPU is
    the encoder's weights read once per pass, so it falls with the layer count."""
    from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(name)
        config = AutoConfig.from_pretrained(
            name, num_labels=2, id2label={0: "keep", 1: "forget"}, label2id={"keep": 0, "forget": 1}
        )
    except OSError as exc:
        raise ModelSourceError(
            f"cannot load classifier backbone `{name}` ({exc.__class__.__name__}); pass "
            "`--classifier-backbone` a local folder, or allow network access to the Hub"
        ) from None
    check_encoder_layers(config, encoder_layers, name)
    published = getattr(config, "num_hidden_layers", None)
    if encoder_layers is not None:
        config.num_hidden_layers = encoder_layers
    with _quiet_load_report():
        model = AutoModelForSequenceClassification.from_pretrained(name, config=config)
    return model, tokenizer, published


def _freeze_lower_layers(model, trainable_layers: int | None) -> None:
    """Freeze embeddings and all but the top encoder layers: backward then stops early (CPU time)."""
    if trainable_layers is None:
        return
    base = getattr(model, model.base_model_prefix, None)
    layers = getattr(getattr(base, "encoder", None), "layer", None)
    if base is None or layers is None:  # not a BERT-like encoder: train everything
        return
    for param in base.parameters():
        param.requires_grad = False
    for layer in list(layers)[len(layers) - trainable_layers :] if trainable_layers else []:
        for param in layer.parameters():
            param.requires_grad = True
    pooler = getattr(base, "pooler", None)
    for param in pooler.parameters() if pooler is not None else []:
        param.requires_grad = True


def _batches(data: Labelled, batch_size: int, rng: random.Random | None):
    """(texts, labels, per-example weights) batches: in order without ``rng``; with it, shuffled
    batches of similar length (``length_grouped_batches``)."""
    if rng is None:
        batches = [list(range(start, min(start + batch_size, len(data.texts))))
                   for start in range(0, len(data.texts), batch_size)]
    else:
        batches = length_grouped_batches([len(text) for text in data.texts], batch_size, rng)
    for idx in batches:
        yield (
            [data.texts[i] for i in idx],
            torch.tensor([data.labels[i] for i in idx]),
            torch.tensor([data.weight_of(i) for i in idx]),
        )


def _class_weights(data: Labelled) -> torch.Tensor:
    """Inverse (weighted) frequency, so the few forget prompts weigh as much as the many negatives."""
    labels = torch.tensor(data.labels)
    weights = torch.tensor([data.weight_of(i) for i in range(len(labels))])
    totals = torch.bincount(labels, weights=weights, minlength=2).clamp(min=1e-6).float()
    return totals.sum() / (2 * totals)


class _WeightedLoss:
    """Cross-entropy weighted by class and by example, normalised by the weights' sum."""

    def __init__(self, class_weights: torch.Tensor) -> None:
        self.class_weights = class_weights

    def __call__(self, logits: torch.Tensor, labels: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        w = self.class_weights[labels] * weights
        per_example = torch.nn.functional.cross_entropy(logits, labels, reduction="none")
        return (w * per_example).sum() / w.sum()


def misranked_share(scores: list[float], labels: tuple[int, ...]) -> float:
    """The share of (forget, other) pairs scored the wrong way round, ties counting half: 1 - AUC."""
    n_pos = sum(1 for label in labels if label)
    n_neg = len(labels) - n_pos
    if not n_pos or not n_neg:
        return 0.0
    ranks = rankdata(scores)  # tied scores share their mean rank, which counts a tie as half
    pos_rank_sum = sum(rank for rank, label in zip(ranks, labels, strict=True) if label)
    right = pos_rank_sum - n_pos * (n_pos + 1) / 2  # pairs with the forget prompt above (Mann-Whitney U)
    return 1.0 - right / (n_pos * n_neg)


def _misranked(model, tokenizer, data: Labelled, config: ClassifierConfig) -> float:
    """``misranked_share`` on the validation split. Calibration sets the threshold afterwards, so
    only the order of scores matters; unlike the loss, it does not grow when a few prompts are
    scored more confidently, which stopped training before the forget prompts were learnt."""
    model.eval()
    scores: list[float] = []
    with torch.inference_mode():
        for texts, _, _ in _batches(data, 128, None):
            enc = tokenizer(texts, padding=True, truncation=True, max_length=config.max_length, return_tensors="pt")
            scores += model(**enc).logits.diff(dim=-1).squeeze(-1).tolist()  # logit(forget) - logit(keep)
    return misranked_share(scores, data.labels)


def misranked_standard_error(misranked: float, n_forget: int, n_other: int) -> float:
    """The standard error of a misranked share (1 - AUC) from ``n_forget`` and ``n_other``
    prompts (Hanley and McNeil, 1982): how far it moves by chance between epochs."""
    if not n_forget or not n_other:
        return 0.0
    auc = 1.0 - misranked
    q1, q2 = auc / (2.0 - auc), 2.0 * auc * auc / (1.0 + auc)
    variance = auc * (1 - auc) + (n_forget - 1) * (q1 - auc * auc) + (n_other - 1) * (q2 - auc * auc)
    return math.sqrt(max(variance, 0.0) / (n_forget * n_other))


class _EarlyStopping:
    """Tracks the validation misranking epoch by epoch. A change smaller than its standard
    error on ``n_forget`` and ``n_other`` validation prompts (or ``min_delta``, if larger) is
    noise: it is no improvement (the epoch counts as stale), but the later of two equally good
    epochs is kept, as it fits the forget prompts better. With 40 forget prompts, one of them
    moving past a few dozen others shifts the share by about 0.002; on such noise, early stopping
    kept the first or second epoch, undertrained, in several TOFU forget10 runs."""

    def __init__(self, min_delta: float, n_forget: int, n_other: int) -> None:
        self.min_delta, self.n_forget, self.n_other = min_delta, n_forget, n_other
        self.best, self.stale = float("inf"), 0

    def _noise(self) -> float:
        return max(self.min_delta, misranked_standard_error(self.best, self.n_forget, self.n_other))

    def keeps(self, misranked: float) -> bool:
        """Record an epoch; True when its weights should be kept."""
        if self.best == float("inf"):
            self.best = misranked
            return True
        noise = self._noise()
        self.stale = 0 if misranked < self.best - noise else self.stale + 1
        if misranked > self.best + noise:
            return False
        self.best = min(self.best, misranked)
        return True


def _fit(model, tokenizer, data: ClassifierData, config: ClassifierConfig) -> tuple[int, int, float]:
    """Train with early stopping; leaves the best epoch's weights in ``model``."""
    rng = random.Random(config.seed)
    torch.manual_seed(config.seed)
    loss_fn = _WeightedLoss(_class_weights(data.train))
    _freeze_lower_layers(model, config.trainable_layers)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=config.lr, weight_decay=config.weight_decay)
    steps_per_epoch = -(-len(data.train.texts) // config.batch_size)
    total_steps = steps_per_epoch * config.epochs
    warmup = max(1, int(config.warmup_fraction * total_steps))
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: min((step + 1) / warmup, max(0.0, (total_steps - step) / max(1, total_steps - warmup)))
    )
    n_forget = sum(data.val.labels)
    stopping = _EarlyStopping(config.min_delta, n_forget, len(data.val.labels) - n_forget)
    best_epoch, best_state, epoch = 0, None, 0
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, transient=True, disable=not config.show_progress) as progress:
        epochs_task = progress.add_task("classifier epochs", total=config.epochs)
        for epoch in range(1, config.epochs + 1):
            model.train()
            steps_task = progress.add_task(f"epoch {epoch} steps", total=steps_per_epoch)
            for texts, labels, weights in _batches(data.train, config.batch_size, rng):
                enc = tokenizer(texts, padding=True, truncation=True, max_length=config.max_length, return_tensors="pt")
                loss = loss_fn(model(**enc).logits, labels, weights)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(trainable, 1.0)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad()
                progress.advance(steps_task)
            progress.remove_task(steps_task)
            misranked = _misranked(model, tokenizer, data.val, config)
            progress.update(epochs_task, advance=1, description=f"classifier epochs (val misranked {misranked:.5f})")
            if stopping.keeps(misranked):
                best_epoch, best_state = epoch, copy.deepcopy(model.state_dict())
            if stopping.stale >= config.patience:
                break
    if best_state is not None:
        model.load_state_dict(best_state)
    return epoch, best_epoch, stopping.best


def calibrate_classifier(scorer: PromptClassifier, data: ClassifierData, config: ClassifierConfig) -> DecisionRule:
    """Score ``data``'s held-out calibration prompts (and negatives, for the FPR side) and calibrate."""
    negatives = (
        {group: scorer(list(texts)) for group, texts in data.calibration_negatives.items()}
        if config.fpr_target is not None
        else None
    )
    forget = scorer(list(data.calibration))
    return calibrate(forget, config.alpha, negatives, config.fpr_target, config.on_conflict, config.threshold_position)


def train_classifier(
    forget_set: ForgetSet, config: ClassifierConfig, out_dir: Path, *, overwrite: bool = False
) -> TrainedClassifier:
    """Train and save (atomically) a prompt classifier for ``forget_set``; calibrating is the caller's."""
    out_dir = Path(out_dir)
    if out_dir.exists() and not overwrite:  # fail before the long part, not after it
        raise BundleError(f"{out_dir} already exists; pass --force (overwrite=True) to replace it", str(out_dir))
    data = split_forget_set(forget_set, config)
    torch.manual_seed(config.seed)  # the new classification head's initial weights, whatever ran before
    model, tokenizer, backbone_layers = load_backbone(config.resolved_backbone(),
                                                      config.resolved_encoder_layers(forget_set.kind))
    started = time.perf_counter()
    epochs_run, best_epoch, best_misranked = _fit(model, tokenizer, data, config)
    train_seconds = time.perf_counter() - started
    with atomic_directory(out_dir, overwrite=overwrite) as tmp:
        dtype = saved_dtype(config.dtype)
        model.eval().to(dtype).save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        facts = forget_facts(forget_set, data.train) if config.fact_matching else None
        n_facts = None if facts is None else len(facts.facts)
        if facts is not None:
            facts.save(tmp)
        entities = forget_entities(forget_set) if config.entity_matching else None
        n_entities = None if entities is None else len(entities.entities)
        if entities is not None:
            entities.save(tmp)
        if config.text_matching:
            measured_text(forget_set, data).save(tmp)
        summary = {
            "forget_set": forget_set.name,
            "config": asdict(config),
            "dtype": str(dtype).removeprefix("torch."),
            "splits": data.sizes(),
            "epochs_run": epochs_run,
            "best_epoch": best_epoch,
            "best_val_misranked": best_misranked,
            "train_seconds": train_seconds,
            "forget_facts": n_facts,
        }
        (tmp / "eco_classifier.json").write_text(json.dumps(summary, indent=2) + "\n")
    return TrainedClassifier(
        out_dir, data, epochs_run, best_epoch, best_misranked, train_seconds, n_facts, n_entities,
        getattr(model.config, "num_hidden_layers", None), backbone_layers,
    )
