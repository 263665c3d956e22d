"""Stage 1: fingerprint the forget set, so every later stage re-runs when the data changes."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

from evaluation.forget_set import ForgetSet
from packager.pipeline.stage import Stage
from packager.pipeline.typed import StageResult

FIELDS = ("forget", "retain", "forget_eval", "retain_eval", "holdout", "real_authors", "world_facts")


def fingerprint(fs: ForgetSet) -> str:
    payload = {name: [asdict(qa) for qa in getattr(fs, name)] for name in FIELDS}
    payload |= {"general": list(fs.general), "entities": list(fs.entities), "name": fs.name, "kind": fs.kind}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class DataInputs:
    spec: str  # as given to --forget
    seed: int
    sha256: str  # fingerprint of the loaded set: the key moves when the data does


@dataclass(frozen=True, kw_only=True)
class DataResult(StageResult):
    name: str  # the set's own name, e.g. "tofu:forget10" or "demo:1"
    kind: str  # "qa" or "mc" (evaluation.forget_set.KINDS): picks the sigma objective and the metrics
    spec: str
    seed: int
    sha256: str
    sizes: dict[str, int]
    entities: tuple[str, ...]


def data_inputs(spec: str, seed: int, fs: ForgetSet) -> DataInputs:
    return DataInputs(spec=spec, seed=seed, sha256=fingerprint(fs))


def _run(inputs: DataInputs, out: Path, session) -> DataResult:
    fs = session.forget_set
    sizes = {name: len(getattr(fs, name)) for name in FIELDS} | {"general": len(fs.general)}
    session.console.print(f"forget set [bold]{fs.name}[/bold] ({fs.kind}): "
                          + ", ".join(f"{k} {v}" for k, v in sizes.items() if v))  # fmt: skip
    return DataResult(
        name=fs.name, kind=fs.kind, spec=inputs.spec, seed=inputs.seed, sha256=inputs.sha256, sizes=sizes,
        entities=fs.entities,
    )


STAGE = Stage("data", "Forget set", DataResult, _run, code=("packager.pipeline.stages.data",))
