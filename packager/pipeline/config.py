"""``eco-pack build`` settings, each documented once: the ``help`` here is also the CLI's help text
(``packager.commands.config_options`` makes the click options from these fields)."""

from __future__ import annotations

import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from guards.errors import GuardConfigError
from guards.prompt_format import PromptFormat
from packager.classifier.calibration import CONFLICT_POLICIES
from packager.classifier.profiles import PROFILES, default_profile
from packager.sigma.config import DISTANCES, SURROGATES


def setting(default: Any, help: str, **click: Any) -> Any:
    """A config field with its one help text (and any click specifics: ``type``, ``flag``, ``cli``)."""
    return field(default=default, metadata={"help": help, **click})


# The tokens a flagged prompt has corrupted, by forget-set kind, where ``--selection`` is not given. A
# text corpus's prompt is a passage to continue: with its last token left clean, a corrupted prompt
# still gets a continuation in the forget corpus's style, whose VerbMem stays above that of unseen
# passages at any sigma (benchmarks/results/scopes.md, the selection sweep).
DEFAULT_SELECTION = {"text": "all"}


def selection_for(selection: str | None, kind: str) -> str:
    """``--selection`` as given, else the kind's default."""
    return selection or DEFAULT_SELECTION.get(kind, "all_but_last")


@dataclass(frozen=True)
class BuildConfig:
    """One build. Defaults give the embedded offline demo: the ``tiny`` model on the ``demo`` set."""

    model: str = setting("tiny", "Registry alias (`eco-pack models`), Hub id or local folder of the subject model.")
    forget: str = setting("demo", "Forget set: demo | demo-mc | demo-text | tofu (= tofu:forget10) | "
                          "tofu:forget01|05|10 | wmdp:bio|chem|cyber | mmlu-subset:economics|law|physics | "
                          "custom:PATH.")
    out: Path = setting(Path("dist"), "Folder that artifacts are written to (OUT/<name>-<version>/).", cli=False)
    version: str | None = setting(None, "Semantic version of the artifact (default: next patch).", cli=False)
    name: str | None = setting(None, "Artifact name (default: <model>-<forget>-eco).")
    data_dir: Path | None = setting(None, "Local data (a TOFU mirror, or wmdp/ and mmlu/ snapshots); else "
                                    "$ECO_PACK_DATA_DIR, else the Hub.", cli=False)
    prompt_format: str | None = setting(
        None,
        "How a question becomes the model's input: llama2 | phi | raw | chat_template, or a template "
        "with {question}, e.g. 'Question: {question}\\nAnswer:' (default: the model's own).",
    )
    retain_model: str | None = setting(None, "Tune sigma against this retain model instead of the holdout surrogate.")
    reference_model: str | None = setting(
        None, "Retain model for evaluation only (sigma stays on the holdout surrogate)."
    )
    seed: int = setting(0, "Seed for data splits, training and noise.", cli=False)
    device: str = setting("auto", "auto | cpu | cuda", cli=False)
    dtype: str = setting("auto", "auto | float32 | bfloat16 | float16", cli=False)
    classifier_backbone: str | None = setting(
        None, "Encoder for the prompt classifier (Hub id or folder; default offline MiniLM-L6)."
    )
    classifier_epochs: int | None = setting(
        None, "Upper bound on classifier epochs (default: the classifier's own; early stopping ends sooner).", type=int
    )
    classifier_layers: int | None = setting(
        None, "Encoder layers the classifier keeps, the lowest ones (default: the classifier's own); fewer "
        "decide faster.", type=int
    )
    augment: str | None = setting(
        None,
        "Classifier training-data profile: biographies | generic (default: biographies for tofu and demo, "
        "generic for every other set).",
        choices=("biographies", "generic"),
    )
    alpha: float = setting(0.05, "Conformal miscoverage: the recall target on forget prompts is 1 - alpha.")
    fpr_target: float | None = setting(
        0.01, "Conformal bound on false positives over held-out negatives (0 turns it off).", type=float
    )
    on_conflict: str = setting(
        "fpr", "Bound kept when the recall and false-positive bounds cannot both hold.", choices=CONFLICT_POLICIES
    )
    threshold_position: float = setting(
        0.5, "Where the threshold sits between the false-positive bound (0) and the recall bound (1)."
    )
    corruption: str = setting("rand_noise_first_n", "Corruption method.")
    dims: int = setting(1, "Embedding dimensions the corruption touches.")
    selection: str | None = setting(
        None, "Which tokens are corrupted (default: all for a text corpus, all_but_last otherwise).",
        choices=("all_but_last", "all", "entity_spans"))
    optimizer: str = setting("monotone", "Sigma search: monotone (a monotone fit of the signed distance over a "
                             "grid: its zero), valley (a unimodal fit of the distance: its floor), bracket "
                             "(sign-change bracket, fewer evaluations) or zeroth_order (the paper's).",
                             choices=("bracket", "monotone", "valley", "zeroth_order"))
    distance: str = setting("ks", "How the sigma search compares the guarded values with its reference: ks (KS "
                            "statistic), mean_abs (difference of means) or median (difference of medians).",
                            choices=DISTANCES)
    noise_seeds: int = setting(3, "Noise seeds each sigma evaluation averages over.")
    surrogate: str = setting(
        "truth_ratio_other_entities", "Sigma target without a retain model: the subject's truth ratios on holdout "
        "questions, wrong answers made generically from answers about other entities where the set names them "
        "(truth_ratio: from any other answer; truth_ratio_holdout_facts: the forget side's from holdout facts; "
        "truth_ratio_mixed_facts: from both) or its answer probability on holdout questions.", choices=SURROGATES)
    max_new_tokens: int = setting(200, "Generation budget for ROUGE-L (TOFU: 200).")
    fq_seeds: int = setting(5, "Noise seeds forget quality is read over (their median, with the range).")
    probe_per_family: int = setting(20, "Attacks (and benign counterparts) per family in the attack report.")
    bento: bool = setting(True, "Build the BentoML bento.", flag="--bento/--no-bento")
    engine: str = setting("hf", "Engine the bento serves with: hf (transformers, in the service) or vllm (its "
                          "image also holds vLLM, which the service starts on loopback).", choices=("hf", "vllm"))
    force: bool = setting(False, "Replace OUT/<name>-<version> if it exists.", flag="--force")
    command: str = setting("", "The command line, recorded in build.json.", cli=False)

    def __post_init__(self) -> None:
        if self.fpr_target == 0:  # `--fpr-target 0` turns the bound off
            object.__setattr__(self, "fpr_target", None)
        if not 0.0 < self.alpha < 1.0:
            raise GuardConfigError(f"`--alpha` must lie in (0, 1), not {self.alpha}")
        if self.fpr_target is not None and not 0.0 < self.fpr_target < 1.0:
            raise GuardConfigError(f"`--fpr-target` must lie in (0, 1) (or 0 to turn it off), not {self.fpr_target}")
        if not 0.0 <= self.threshold_position <= 1.0:
            raise GuardConfigError(f"`--threshold-position` must lie in [0, 1], not {self.threshold_position}")
        if self.on_conflict not in CONFLICT_POLICIES:
            raise GuardConfigError(
                f"`--on-conflict` must be one of {', '.join(CONFLICT_POLICIES)}, not {self.on_conflict!r}"
            )
        for name in ("noise_seeds", "fq_seeds", "dims", "max_new_tokens", "probe_per_family"):
            if getattr(self, name) < 1:
                raise GuardConfigError(f"`--{name.replace('_', '-')}` must be >= 1, not {getattr(self, name)}")
        for name in ("classifier_epochs", "classifier_layers"):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                raise GuardConfigError(f"`--{name.replace('_', '-')}` must be >= 1, not {getattr(self, name)}")
        if self.name is not None and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", self.name):
            raise GuardConfigError(f"`--name` {self.name!r} may hold only letters, digits, '.', '_' and '-'")
        if self.prompt_format is not None:
            PromptFormat.parse(self.prompt_format)
        if self.augment is not None:
            PROFILES.get(self.augment)  # an unknown name lists the known ones

    @property
    def augment_profile(self) -> str:
        return self.augment or default_profile(self.forget)

    @property
    def parsed_prompt_format(self) -> PromptFormat | None:
        return PromptFormat.parse(self.prompt_format) if self.prompt_format is not None else None

    @property
    def artifact_name(self) -> str:
        if self.name:
            return self.name
        model = Path(self.model).name if os.sep in self.model else self.model.split("/")[-1]
        forget = self.forget.split(":", 1)[-1] if self.forget.startswith("custom:") else self.forget
        raw = f"{model}-{Path(forget).stem if self.forget.startswith('custom:') else forget}-eco"
        return re.sub(r"[^A-Za-z0-9._-]+", "-", raw).strip("-").lower()

    def to_dict(self) -> dict[str, Any]:
        return {k: str(v) if isinstance(v, Path) else v for k, v in asdict(self).items()}
