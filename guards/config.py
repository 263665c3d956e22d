"""The guard's configuration, one frozen dataclass per component, as stored in ``eco_guard.json``."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from guards.errors import GuardConfigError
from guards.prompt_format import PromptFormat

SCHEMA_VERSION = 1
SEED_POLICIES = ("keyed", "fixed", "fresh")


@dataclass(frozen=True)
class BaseModelRef:
    """The model the guard wraps: a Hub id at a revision, or a local path pinned by a weights hash.

    ``source`` is ``hub`` or ``local``. ``weights_sha256`` pins local weights (see
    ``guards.base_model.hash_weights``); a relative local path is resolved against the bundle.
    """

    source: str
    name_or_path: str
    revision: str | None = None
    weights_sha256: str | None = None

    def __post_init__(self) -> None:
        if self.source not in ("hub", "local"):
            raise GuardConfigError(f"`base_model.source` must be `hub` or `local`, not `{self.source}`")
        if not self.name_or_path:
            raise GuardConfigError("`base_model.name_or_path` is empty")


@dataclass(frozen=True)
class CorruptionConfig:
    """``method`` names a function in ``guards.corruptions.CORRUPTIONS``.

    ``dims`` is how many embedding dimensions it touches; ``strength`` is sigma for the noise
    methods and the added value for ``add_value_*``/``sub_value_*``.
    """

    method: str = "rand_noise_first_n"
    dims: int = 1
    strength: float = 1.0

    def __post_init__(self) -> None:
        from guards.corruptions import CORRUPTIONS

        CORRUPTIONS.get(self.method)  # raises, listing valid names
        if not isinstance(self.dims, int) or self.dims < 1:
            raise GuardConfigError(f"`corruption.dims` must be a positive integer, not {self.dims!r}")
        if not math.isfinite(self.strength) or self.strength < 0:
            raise GuardConfigError(f"`corruption.strength` must be finite and >= 0, not {self.strength!r}")


@dataclass(frozen=True)
class SelectionConfig:
    """``method`` names a selector in ``guards.selection.SELECTORS``; ``entities`` feed ``entity_spans``."""

    method: str = "all_but_last"
    entities: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        from guards.selection import SELECTORS

        SELECTORS.get(self.method)
        object.__setattr__(self, "entities", tuple(self.entities))


@dataclass(frozen=True)
class DecisionRule:
    """Flag a prompt when p_forget >= ``threshold``.

    A conformal rule records its calibration. Recall side: ``q_hat`` from ``n`` held-out forget
    prompts at ``alpha`` (flagging p >= 1 - q_hat keeps recall >= 1 - alpha). False-positive
    side, when ``fpr_target`` is set: ``fpr_threshold`` from ``n_negative`` held-out negatives
    (flagging only p > fpr_threshold keeps false positives <= fpr_target). ``recall_bound`` is
    the recall the chosen threshold guarantees on exchangeable forget prompts, m / (n + 1) with m
    calibration prompts flagged.
    """

    threshold: float = 0.5
    kind: str = "threshold"
    alpha: float | None = None
    n: int | None = None
    q_hat: float | None = None
    fpr_target: float | None = None
    n_negative: int | None = None
    fpr_threshold: float | None = None
    recall_bound: float | None = None

    def __post_init__(self) -> None:
        if self.kind not in ("threshold", "conformal"):
            raise GuardConfigError(f"`decision.kind` must be `threshold` or `conformal`, not `{self.kind}`")
        if not 0.0 <= self.threshold <= 1.0:
            raise GuardConfigError(f"`decision.threshold` must lie in [0, 1], not {self.threshold}")
        if self.kind == "conformal" and (self.q_hat is None or self.alpha is None or self.n is None):
            raise GuardConfigError("a conformal `decision` needs `q_hat`, `alpha` and `n`")
        if self.fpr_target is not None and (self.fpr_threshold is None or self.n_negative is None):
            raise GuardConfigError("a `decision` with `fpr_target` needs `fpr_threshold` and `n_negative`")

    @classmethod
    def conformal(cls, q_hat: float, alpha: float, n: int) -> DecisionRule:
        """The recall side alone: flag p >= 1 - q_hat."""
        return cls(threshold=min(max(1.0 - q_hat, 0.0), 1.0), kind="conformal", alpha=alpha, n=n, q_hat=q_hat)

    @property
    def recall_bound_met(self) -> bool:
        """False when the threshold sits above the recall side's 1 - q_hat."""
        return self.q_hat is None or self.threshold <= 1.0 - self.q_hat

    @property
    def fpr_bound_met(self) -> bool:
        """False when the threshold sits at or below the false-positive side's ``fpr_threshold``."""
        return self.fpr_threshold is None or self.threshold > self.fpr_threshold

    def flags(self, score: float) -> bool:
        return score >= self.threshold


@dataclass(frozen=True)
class SeedPolicy:
    """``keyed`` (serving default), ``fixed`` (benchmarks) or ``fresh`` (new noise per call).

    The keyed secret is read from ``$key_env`` or the file named by ``$key_env_FILE``; it is
    never stored in the bundle.
    """

    kind: str = "keyed"
    seed: int | None = None
    key_env: str = "ECO_GUARD_KEY"

    def __post_init__(self) -> None:
        if self.kind not in SEED_POLICIES:
            raise GuardConfigError(f"`seed_policy.kind` must be one of {', '.join(SEED_POLICIES)}, not `{self.kind}`")
        if self.kind == "fixed" and self.seed is None:
            raise GuardConfigError("`seed_policy.seed` is required for the `fixed` policy")


@dataclass(frozen=True)
class GuardConfig:
    """Everything ``eco_guard.json`` records. ``classifier_dir`` is relative to the bundle."""

    base_model: BaseModelRef
    corruption: CorruptionConfig = field(default_factory=CorruptionConfig)
    selection: SelectionConfig = field(default_factory=SelectionConfig)
    decision: DecisionRule = field(default_factory=DecisionRule)
    seed_policy: SeedPolicy = field(default_factory=SeedPolicy)
    prompt_format: PromptFormat = field(default_factory=PromptFormat)
    classifier_dir: str = "classifier"
    classifier_max_length: int = 256
    name: str = "eco-guard"
    version: str = "0.1.0"
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["selection"]["entities"] = list(self.selection.entities)
        data["prompt_format"] = self.prompt_format.to_dict()
        data["metadata"] = dict(self.metadata)
        return {"schema_version": SCHEMA_VERSION, **data}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GuardConfig:
        version = data.get("schema_version")
        if version != SCHEMA_VERSION:
            raise GuardConfigError(
                f"`schema_version` {version!r} is not supported (this runtime reads {SCHEMA_VERSION}); "
                "upgrade eco-pack or rebuild the bundle"
            )
        try:
            return cls(
                base_model=BaseModelRef(**data["base_model"]),
                corruption=CorruptionConfig(**data["corruption"]),
                selection=SelectionConfig(**data["selection"]),
                decision=DecisionRule(**data["decision"]),
                seed_policy=SeedPolicy(**data["seed_policy"]),
                prompt_format=PromptFormat.from_dict(data["prompt_format"]),
                classifier_dir=data["classifier_dir"],
                classifier_max_length=int(data.get("classifier_max_length", 256)),
                name=data.get("name", "eco-guard"),
                version=data.get("version", "0.1.0"),
                metadata=data.get("metadata", {}),
            )
        except KeyError as exc:
            raise GuardConfigError(f"field `{exc.args[0]}` is missing") from None
        except TypeError as exc:
            raise GuardConfigError(f"malformed field: {exc}") from None
