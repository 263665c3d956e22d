"""``eco-pack build`` settings, each documented once."""

from __future__ import annotations

import os
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from guards.errors import GuardConfigError
from packager.classifier.calibration import CONFLICT_POLICIES


@dataclass(frozen=True)
class BuildConfig:
    """One build. Defaults give the embedded offline demo: the ``tiny`` model on the ``demo`` set."""

    model: str = "tiny"  # registry alias, Hub id or local folder of the subject model
    forget: str = "demo"  # forget-set spec: demo | tofu | tofu:forget01|05|10 | custom:PATH
    out: Path = Path("dist")  # artifacts land in OUT/<name>-<version>/
    version: str | None = None  # semantic version; None bumps the newest published patch
    name: str | None = None  # artifact name; None derives it from model and forget set
    data_dir: Path | None = None  # local TOFU mirror; else $ECO_PACK_DATA_DIR, else the Hub
    retain_model: str | None = None  # tune sigma against this retain model instead of the holdout surrogate
    reference_model: str | None = None  # retain model for evaluation only (sigma stays on the holdout surrogate)
    seed: int = 0
    device: str = "auto"
    dtype: str = "auto"
    classifier_backbone: str | None = None  # Hub id or path; None = offline MiniLM-L6
    classifier_epochs: int | None = None  # None = the classifier's own default
    alpha: float = 0.05  # conformal miscoverage: target recall on forget prompts is 1 - alpha
    fpr_target: float | None = 0.01  # conformal bound on false positives over held-out negatives; None = off
    on_conflict: str = "fpr"  # the bound kept when recall and false-positive bounds cannot both hold
    threshold_position: float = 0.5  # between the FPR bound (0) and the recall bound (1)
    corruption: str = "rand_noise_first_n"
    dims: int = 1
    selection: str = "all_but_last"
    optimizer: str = "bracket"  # sigma search: bracket (sign-change bracket) or zeroth_order (the paper's method)
    distance: str = "ks"  # objective distance: ks or mean_abs
    noise_seeds: int = 3  # objective averaged over this many noise seeds
    max_new_tokens: int = 200  # generation budget for ROUGE-L (TOFU: 200)
    bento: bool = True  # build the BentoML bento
    force: bool = False  # replace an existing OUT/<name>-<version>
    command: str = ""  # the command line, recorded in build.json

    def __post_init__(self) -> None:
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
        if self.noise_seeds < 1:
            raise GuardConfigError(f"`--noise-seeds` must be >= 1, not {self.noise_seeds}")
        if self.name is not None and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", self.name):
            raise GuardConfigError(f"`--name` {self.name!r} may hold only letters, digits, '.', '_' and '-'")

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
