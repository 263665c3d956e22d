"""Settings of one benchmark run, each documented once; ``BenchConfig.quick()`` is the smoke test."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

SPLITS = ("forget01", "forget05", "forget10")
RETAIN_OF = {"forget01": "retain99", "forget05": "retain95", "forget10": "retain90"}
METHODS = ("graddiff", "npo")


@dataclass(frozen=True)
class BenchConfig:
    """Defaults are sized (docs/tofu_benchmark.md) so the whole run fits 2 hours on 2 CPU cores."""

    data_dir: Path | None = None  # TOFU mirror; None = $ECO_PACK_DATA_DIR
    work_dir: Path | None = None  # stage cache; None = $ECO_PACK_CACHE/benchmarks/tofu
    results_dir: Path = Path(__file__).resolve().parents[1] / "results"
    results_name: str | None = None  # None = tofu_cpu (tofu_cpu_quick with quick)
    jobs: int = 2  # stages run side by side, each in a worker process with an equal share of the cores
    splits: tuple[str, ...] = SPLITS
    quick: bool = False  # the quick subset of TOFU (docs: data.py) and tiny sizes
    # subject and retain models: from-scratch Llama trained with `eco-pack finetune`'s API
    hidden: int = 256  # 4.46M parameters: issue 20's subject size, which memorises TOFU in 12 epochs
    layers: int = 4
    heads: int = 4
    intermediate: int = 768
    vocab: int = 4096
    epochs: int = 12
    lr: float = 3e-3
    batch_size: int = 16
    seed: int = 0
    exchangeable_holdout: bool = False  # set authors of full aside as the holdout (data.write_exchangeable_holdout):
    # no model of the run learns them, and they were written as the forget authors were, unlike TOFU's holdout
    general: bool = True  # subject and retain models also learn real_authors and world_facts QA, as a pretrained
    # base would know them: model utility then measures side effects (a from-scratch model knows nothing else)
    # baselines: a sweep of learning rate x epochs (evaluated as checkpoints of one run per rate)
    methods: tuple[str, ...] = METHODS
    unlearn_lrs: tuple[float, ...] = (1e-4, 1e-3)
    unlearn_epochs: tuple[int, ...] = (2, 4)
    utility_ratio: float = 0.95  # keep model utility >= ratio x the subject's
    # ECO guard build (`eco-pack build` settings)
    noise_seeds: int = 3
    surrogate: str = "truth_ratio_other_entities"  # the build's sigma target (packager.sigma.config.SURROGATES)
    optimiser: str = "monotone"  # the build's sigma search (packager.sigma.OPTIMISERS)
    distance: str = "ks"  # how that search compares guarded and reference values (packager.sigma.config.DISTANCES)
    fq_seeds: int = 5  # forget quality is read over this many noise seeds (median and range)
    search_seeds: int = 3  # each surrogate's sigma search is rerun from this many seeds in the sweep
    search_optimisers: tuple[str, ...] = ("monotone", "valley")  # ... with each of these searches
    fpr_target: float | None = 0.01  # the classifier's false-positive bound; None = off (the quick set is too small)
    classifier_epochs: int | None = 2  # MiniLM epochs: ~5 min each on forget10 at 2 cores
    max_new_tokens: int = 200  # TOFU's generation budget for ROUGE
    # forget quality of each built guard re-measured at these sigmas, e.g. 0.5,1,2,4,10,20 (empty: no sweep,
    # the default, as the sweep and its search reruns would take the run past 2 hours at this size)
    sweep_sigmas: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        unknown = [s for s in self.splits if s not in SPLITS]
        if unknown or not self.splits:
            raise ValueError(f"`--splits` must name some of {', '.join(SPLITS)}, not {', '.join(unknown) or 'none'}")
        if self.jobs < 1:
            raise ValueError(f"`--jobs` must be at least 1, not {self.jobs}")
        if self.hidden % self.heads:
            raise ValueError(f"`--hidden` ({self.hidden}) must be divisible by `--heads` ({self.heads})")
        if not self.unlearn_lrs or not self.unlearn_epochs or min(self.unlearn_epochs) < 1:
            raise ValueError("`--unlearn-lrs` and `--unlearn-epochs` need at least one value each (epochs >= 1)")
        if any(s <= 0 for s in self.sweep_sigmas):
            raise ValueError(f"`--sweep-sigmas` must all be positive, not {self.sweep_sigmas}")
        if self.fq_seeds < 1 or self.search_seeds < 1:
            raise ValueError(f"`--fq-seeds` and `--search-seeds` must be at least 1, not {self.fq_seeds}, "
                             f"{self.search_seeds}")
        from packager.sigma import OPTIMISERS
        from packager.sigma.config import DISTANCES, SURROGATES

        if self.surrogate not in SURROGATES:  # the builds would take it only after hours of fine-tuning
            raise ValueError(f"`--surrogate` must be one of {', '.join(SURROGATES)}, not {self.surrogate}")
        if self.distance not in DISTANCES:
            raise ValueError(f"`--distance` must be one of {', '.join(DISTANCES)}, not {self.distance}")
        unknown = [o for o in (self.optimiser, *self.search_optimisers) if o not in OPTIMISERS]
        if unknown:
            raise ValueError(f"`--optimiser` and `--search-optimisers` must name some of "
                             f"{', '.join(OPTIMISERS.names())}, not {', '.join(unknown)}")
        if not 0 < self.utility_ratio <= 1:
            raise ValueError(f"`--utility-ratio` must lie in (0, 1], not {self.utility_ratio}")

    @classmethod
    def quick_config(cls, **overrides) -> BenchConfig:
        """A few minutes end to end: 8 authors, tiny models, one split, short sweeps."""
        return replace(cls(
            quick=True, splits=("forget01",), hidden=64, layers=2, heads=2, intermediate=128, vocab=1024, epochs=3,
            unlearn_lrs=(1e-3,), unlearn_epochs=(1, 2), noise_seeds=1, fq_seeds=2, search_seeds=1,
            search_optimisers=("monotone",),
            classifier_epochs=1, fpr_target=None,
            max_new_tokens=32, sweep_sigmas=(1.0, 10.0),
        ), **overrides)

    @property
    def name(self) -> str:
        return self.results_name or ("tofu_cpu_quick" if self.quick else "tofu_cpu")

    def model_sizes(self) -> dict[str, int]:
        return {"hidden": self.hidden, "layers": self.layers, "heads": self.heads,
                "intermediate": self.intermediate, "vocab": self.vocab}
