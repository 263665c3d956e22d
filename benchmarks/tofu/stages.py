"""The benchmark's stages: fine-tune, build ECO guards, run baselines, evaluate. Each is cached.

Every function takes the run's ``Context`` and returns a ``StageRecord`` whose inputs include the
keys of the stages it reads, so changing a model re-runs everything downstream of it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from itertools import product
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rich.console import Console

from benchmarks.tofu.config import RETAIN_OF, BenchConfig
from benchmarks.tofu.unlearn import Candidate, UnlearnConfig, select_best, unlearn
from evaluation.answers import answer_text
from evaluation.evaluate import EvalConfig, evaluate
from evaluation.quantities import ks_test
from guards.guarded_model import GuardedModel
from guards.prompt_format import PromptFormat
from packager.finetune import PROTOCOL_VERSION, FinetuneConfig, ScratchModel, TrainConfig, cpu_threads, finetune
from packager.finetune_data import encode_pair, select_training_data
from packager.pipeline.cache import StageRecord, run_stage
from packager.sources import load_forget_set

FORMAT = PromptFormat("phi")
MINILM_PARAMETERS = 22_700_000  # the build's classifier dominates its CPU time
# The code each kind of stage runs, part of its cache key (``packager.pipeline.cache``): an edit
# there re-runs the stage; an edit elsewhere does not.
FINETUNE_CODE = ("packager.finetune", "packager.finetune_data", "packager.batching", "packager.bpe")
EVAL_CODE = ("evaluation", "guards")
BUILD_CODE = ("packager", "guards", "evaluation")  # the ECO build caches its own stages inside


def _set_threads(parameters: int) -> None:
    """One thread for the small Llama (faster on a shared 2-core machine), more for MiniLM when free."""
    torch.set_num_threads(cpu_threads(parameters))


@dataclass(frozen=True)
class Context:
    config: BenchConfig
    work: Path
    data_dir: Path
    data_key: str  # fingerprint of the data the run reads
    console: Console


def _finetune_config(cfg: BenchConfig) -> FinetuneConfig:
    size = ScratchModel(hidden_size=cfg.hidden, num_layers=cfg.layers, num_heads=cfg.heads,
                        intermediate_size=cfg.intermediate, vocab_size=cfg.vocab)
    train = TrainConfig.scratch(epochs=cfg.epochs, lr=cfg.lr, batch_size=cfg.batch_size,
                                micro_batch_size=cfg.batch_size, seed=cfg.seed)
    return FinetuneConfig(base="scratch", prompt_format=FORMAT, train=train, scratch_model=size, device="cpu",
                          dtype="float32")


def train_tokenizer(ctx: Context) -> StageRecord:
    """The BPE tokenizer of TOFU ``full``, shared by the subject and the retain models (as two
    fine-tunes of one pretrained base share theirs), so that all four can train at once."""
    from packager.bpe import train_bpe_tokenizer

    def run(out: Path) -> dict[str, Any]:
        corpus = select_training_data("tofu:full", general=ctx.config.general, data_dir=ctx.data_dir).tokenizer_corpus
        train_bpe_tokenizer(corpus, vocab_size=ctx.config.vocab).save_pretrained(out / "tokenizer")
        return {"tokenizer": "tokenizer", "corpus_texts": len(corpus)}

    inputs = {"data": ctx.data_key, "vocab": ctx.config.vocab, "general": ctx.config.general}
    return run_stage(ctx.work, "tokenizer", inputs, run, ctx.console, code=("packager.bpe",))


def finetune_model(ctx: Context, subset: str, tokenizer: StageRecord) -> StageRecord:
    """Fine-tune on TOFU ``subset`` (``full`` or ``retainNN``) with the shared tokenizer, plus the
    real-author and world-fact QA with ``config.general``."""
    config = _finetune_config(ctx.config)

    def run(out: Path) -> dict[str, Any]:
        data = select_training_data(f"tofu:{subset}", general=ctx.config.general, data_dir=ctx.data_dir)
        result = finetune(config, data, out / "model", tokenizer=tokenizer.path / tokenizer.result["tokenizer"],
                          progress=True)
        return {"model": "model", "pairs": len(data.pairs), "parameters": result.parameters,
                "seconds": result.seconds, "tokens_per_second": result.tokens_per_second,
                "epoch_losses": list(result.epoch_losses)}

    inputs = {"protocol": PROTOCOL_VERSION, "config": config.to_dict(), "data": ctx.data_key, "subset": subset,
              "tokenizer": tokenizer.key, "general": ctx.config.general}
    return run_stage(ctx.work, f"finetune-{subset}", inputs, run, ctx.console, code=FINETUNE_CODE)


def model_path(record: StageRecord) -> Path:
    return record.path / record.result["model"]


def build_guard(ctx: Context, split: str, subject: StageRecord, retain: StageRecord) -> StageRecord:
    """``eco-pack build`` against the subject: sigma on the holdout surrogate, the retain model for evaluation."""
    from packager.pipeline import BuildConfig, run_build

    cfg = ctx.config
    settings = {"noise_seeds": cfg.noise_seeds, "surrogate": cfg.surrogate, "optimizer": cfg.optimiser,
                "distance": cfg.distance,
                "fq_seeds": cfg.fq_seeds,
                "classifier_epochs": cfg.classifier_epochs,
                "fpr_target": cfg.fpr_target, "max_new_tokens": cfg.max_new_tokens, "seed": cfg.seed}

    def run(out: Path) -> dict[str, Any]:
        build = BuildConfig(
            model=str(model_path(subject)), forget=f"tofu:{split}", out=out / "dist", version="1.0.0",
            name=f"tofu-bench-{subject.key[:8]}-{split}", data_dir=ctx.data_dir,
            reference_model=str(model_path(retain)),
            seed=cfg.seed, device="cpu", dtype="float32", classifier_epochs=cfg.classifier_epochs,
            fpr_target=cfg.fpr_target,
            noise_seeds=cfg.noise_seeds, surrogate=cfg.surrogate, optimizer=cfg.optimiser, distance=cfg.distance,
            fq_seeds=cfg.fq_seeds,
            bento=False, force=True,
            max_new_tokens=cfg.max_new_tokens,
            command=f"run_build(model=<subject>, forget=tofu:{split}, reference_model=<{RETAIN_OF[split]}>)",
        )
        _set_threads(MINILM_PARAMETERS)
        outcome = run_build(build, ctx.console)
        return {"artifact": str(outcome.path.relative_to(out)), "seconds": outcome.seconds,
                "stage_seconds": outcome.stage_seconds, "results": outcome.results}

    inputs = {"split": split, "subject": subject.key, "retain": retain.key, "data": ctx.data_key, **settings}
    return run_stage(ctx.work, f"eco-{split}", inputs, run, ctx.console, code=BUILD_CODE)


def _load(path: Path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    return AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval(), AutoTokenizer.from_pretrained(path)


def _evaluate(model, tokenizer, fs, max_new_tokens: int | None, splits=None, reference=None):
    plain = GuardedModel(model, tokenizer, classifier=None, prompt_format=FORMAT)
    eval_config = EvalConfig(flags="none", max_new_tokens=max_new_tokens, progress=False,
                             **({"splits": splits} if splits else {}))
    with torch.no_grad():
        return evaluate(plain, fs, eval_config, reference_ratios=reference)


def retain_ratios(ctx: Context, split: str, retain: StageRecord) -> StageRecord:
    """The retain model's per-question forget truth ratios: the reference for forget quality."""

    def run(out: Path) -> dict[str, Any]:
        _set_threads(0)
        model, tokenizer = _load(model_path(retain))
        fs = load_forget_set(f"tofu:{split}", data_dir=ctx.data_dir)
        report = _evaluate(model, tokenizer, fs, None, splits=("forget",))
        return {"truth_ratios": list(report.splits["forget"].truth_ratios)}

    return run_stage(ctx.work, f"reference-{split}", {"retain": retain.key, "data": ctx.data_key}, run, ctx.console)


def _ks(reference: np.ndarray, values: np.ndarray) -> dict[str, float]:
    statistic, pvalue = ks_test(reference, values)
    return {"statistic": statistic, "pvalue": pvalue}


def surrogate_premise(ctx: Context, split: str, subject: StageRecord, retain: StageRecord) -> StageRecord:
    """How well holdout questions stand in for the forget set, the premise of the truth-ratio surrogate.

    The surrogate matches the guarded model's generic truth ratios on forget questions to the subject's
    own on holdout questions, taking those for what a model that never learned the forget set would
    give on it. The retain model is such a model for both sets, so its generic truth ratios on holdout
    against forget (KS) show how far apart the two sets are for a model that saw neither; and the
    surrogate's reference (the subject on holdout) against the retain model on forget shows how far
    the target the build aims at lies from the one it stands for. Both are made exactly as the build's
    surrogate makes its reference (``generic_truth_ratios``, same wrong-answer seed).
    The retain model only measures here.
    """
    from packager.sigma import SigmaConfig
    from packager.sigma.objective import generic_truth_ratios, ks_reject_distance

    def run(out: Path) -> dict[str, Any]:
        _set_threads(0)
        fs = load_forget_set(f"tofu:{split}", data_dir=ctx.data_dir)
        forget = fs.forget_eval or fs.forget  # what the build's search reads
        config = SigmaConfig(seed=ctx.config.seed, surrogate=ctx.config.surrogate, progress=False)

        def generic(record: StageRecord, *item_sets) -> list[np.ndarray]:
            """The model's generic truth ratios on each of ``item_sets``, the model loaded once."""
            model, tokenizer = _load(model_path(record))
            plain = GuardedModel(model, tokenizer, classifier=None, prompt_format=FORMAT)
            with torch.no_grad():
                return [generic_truth_ratios(plain, items, config, other_entities=config.other_entities)
                        for items in item_sets]

        retain_holdout, retain_forget = generic(retain, fs.holdout, forget)
        (reference,) = generic(subject, fs.holdout)
        return {
            "holdout": len(retain_holdout), "forget": len(retain_forget),
            "reject_distance": ks_reject_distance(len(retain_holdout), len(retain_forget)),
            "medians": {"retain_holdout": float(np.median(retain_holdout)),
                        "retain_forget": float(np.median(retain_forget)),
                        "subject_holdout": float(np.median(reference))},
            "retain_holdout_vs_forget": _ks(retain_holdout, retain_forget),
            "reference_vs_retain_forget": _ks(reference, retain_forget),
            "reference_vs_retain_holdout": _ks(reference, retain_holdout),
        }

    inputs = {"subject": subject.key, "retain": retain.key, "data": ctx.data_key, "seed": ctx.config.seed,
              "surrogate": ctx.config.surrogate}
    return run_stage(ctx.work, f"premise-{split}", inputs, run, ctx.console, code=EVAL_CODE + ("packager.sigma",))


def subject_utility(ctx: Context, subject: StageRecord) -> StageRecord:
    """The subject's model utility without ROUGE: the yardstick of the baselines' sweep."""

    def run(out: Path) -> dict[str, Any]:
        _set_threads(0)
        model, tokenizer = _load(model_path(subject))
        fs = load_forget_set(f"tofu:{ctx.config.splits[0]}", data_dir=ctx.data_dir)
        report = _evaluate(model, tokenizer, fs, None, splits=("retain", "real_authors", "world_facts"))
        return {"model_utility": report.model_utility}

    return run_stage(ctx.work, "subject-utility", {"subject": subject.key, "data": ctx.data_key}, run, ctx.console)


def sigma_sweep(ctx: Context, split: str, eco: StageRecord, reference: StageRecord) -> StageRecord:
    """Forget quality of the built guard at each sigma of ``config.sweep_sigmas`` (median and range
    over the noise seeds), beside every candidate surrogate's signed distance: shows where forget
    quality peaks, where each surrogate lands on the grid, and how far the build's choice is from it.
    Then each surrogate's own search, from ``config.search_seeds`` search seeds: how much the sigma it
    picks moves, and the forget quality there.

    The retain model's ratios are used here only to measure, as in the evaluation stage; the guard is unchanged.
    """
    from guards.bundle import load_bundle
    from packager.sigma import SigmaConfig, run_search
    from packager.sigma.tune import SURROGATES

    cfg = ctx.config

    def run(out: Path) -> dict[str, Any]:
        _set_threads(0)
        bundle = load_bundle(eco.path / eco.result["artifact"] / "guard")
        guarded = bundle.guarded_model(device="cpu", dtype="float32")
        fs = load_forget_set(f"tofu:{split}", data_dir=ctx.data_dir)
        chosen = bundle.config.corruption.strength
        forget = fs.forget_eval or fs.forget  # what the build's search reads

        def objective(name: str, seed: int):
            return SURROGATES[name](guarded, forget, fs.holdout,
                                    SigmaConfig(seeds=cfg.noise_seeds, seed=seed, surrogate=name, progress=False))

        surrogates = {name: objective(name, cfg.seed) for name in SURROGATES}
        eval_config = EvalConfig(flags="classifier", seed=cfg.seed, noise_seeds=cfg.fq_seeds, max_new_tokens=None,
                                 splits=("forget",), progress=False)

        def measure(sigma: float):
            guarded.corruption = replace(guarded.corruption, strength=float(sigma))
            with torch.no_grad():
                return evaluate(guarded, fs, eval_config, reference_ratios=reference.result["truth_ratios"])

        points = []
        for sigma in sorted({*cfg.sweep_sigmas, chosen}):
            report = measure(sigma)
            measures = {name: objective(sigma) for name, objective in surrogates.items()}
            spread = report.forget_quality_seeds.to_dict()
            points.append({
                "sigma": sigma, "forget_quality": report.forget_quality, "forget_quality_min": spread["min"],
                "forget_quality_max": spread["max"], "forget_truth_ratio": report.splits["forget"].truth_ratio,
                "surrogates": {n: {"distance": m.distance, "signed": m.signed} for n, m in measures.items()},
            })
            ctx.console.print(f"sweep {split} sigma={sigma:.3g}: forget quality {report.forget_quality:.3g}, "
                              + ", ".join(f"{n} {m.signed:+.3f}" for n, m in measures.items()))
        best = max(points, key=lambda p: p["forget_quality"])
        flagged, n = report.splits["forget"].flagged, report.splits["forget"].n
        on_grid = {name: min(points, key=lambda p: p["surrogates"][name]["distance"]) for name in surrogates}
        searches: dict[str, list[dict[str, Any]]] = {}
        for name, optimiser in product(surrogates, cfg.search_optimisers):
            for seed in range(cfg.seed, cfg.seed + cfg.search_seeds):
                search = SigmaConfig(optimiser=optimiser, seeds=cfg.noise_seeds, seed=seed, progress=False)
                found = run_search(objective(name, seed), search)
                at = measure(found.sigma)
                searches.setdefault(f"{name} ({optimiser})", []).append(
                    {"search_seed": seed, "sigma": found.sigma, "forget_quality": at.forget_quality,
                     "evaluations": found.evaluations})  # fmt: skip
                ctx.console.print(f"search {split} {name} ({optimiser}) seed {seed}: sigma {found.sigma:.3g}, "
                                  f"forget quality {at.forget_quality:.3g}")
        return {"chosen_sigma": chosen, "best_sigma": best["sigma"], "best_forget_quality": best["forget_quality"],
                "surrogate_choices": {n: {"sigma": p["sigma"], "forget_quality": p["forget_quality"]}
                                      for n, p in on_grid.items()},
                "searches": searches, "flagged": flagged, "n": n, "points": points}

    inputs = {"eco": eco.key, "reference": reference.key, "sigmas": cfg.sweep_sigmas, "seed": cfg.seed,
              "noise_seeds": cfg.noise_seeds, "fq_seeds": cfg.fq_seeds, "search_seeds": cfg.search_seeds,
              "search_optimisers": cfg.search_optimisers, "data": ctx.data_key}
    return run_stage(ctx.work, f"sweep-{split}", inputs, run, ctx.console, code=EVAL_CODE + ("packager.sigma",))


def _encode(tokenizer, qas) -> list[tuple[list[int], list[int]]]:
    """Forget/retain QA as (input_ids, labels), exactly as fine-tuning encoded them."""
    return [encode_pair(tokenizer, FORMAT.format(q.question, tokenizer), answer_text(q.answer, FORMAT)) for q in qas]


def _summary(report) -> dict[str, Any]:
    forget = report.splits["forget"]
    return {"forget_quality": report.forget_quality, "model_utility": report.model_utility,
            "forget_truth_ratio": forget.truth_ratio, "forget_rougeL": forget.rougeL}


def run_baseline(
    ctx: Context, method: str, split: str, subject: StageRecord, reference: StageRecord, utility: StageRecord,
) -> StageRecord:
    """Sweep ``method`` over learning rates x epoch checkpoints, keep the best under the utility
    constraint, then evaluate it fully (with ROUGE). Selection uses utility without ROUGE on both sides."""
    cfg = ctx.config
    base = UnlearnConfig(epochs=max(cfg.unlearn_epochs), seed=cfg.seed)

    def run(out: Path) -> dict[str, Any]:
        fs = load_forget_set(f"tofu:{split}", data_dir=ctx.data_dir)
        ratios = reference.result["truth_ratios"]
        candidates: list[dict[str, Any]] = []
        kept: dict[str, dict[str, torch.Tensor]] = {}
        _, tokenizer = _load(model_path(subject))
        forget, retain = _encode(tokenizer, fs.forget), _encode(tokenizer, fs.retain)
        for lr in cfg.unlearn_lrs:
            model, _ = _load(model_path(subject))
            _set_threads(sum(p.numel() for p in model.parameters()))

            def checkpoint(point, lr=lr, model=model):
                if point.epoch not in cfg.unlearn_epochs:
                    return
                report = _evaluate(model, tokenizer, fs, None, reference=ratios)
                label = f"lr={lr:g},epochs={point.epoch}"
                candidates.append({"label": label, "lr": lr, "epochs": point.epoch, "seconds": point.seconds,
                                   "forget_quality": report.forget_quality, "model_utility": report.model_utility})
                kept[label] = {k: v.clone() for k, v in model.state_dict().items()}
                ctx.console.print(f"{method} {split} {label}: forget quality {report.forget_quality:.3g}, "
                                  f"utility {report.model_utility:.3f}")

            unlearn(method, model, forget, retain, tokenizer.pad_token_id, UnlearnConfig(**{**asdict(base), "lr": lr}),
                    on_epoch=checkpoint)
        best, met = select_best([Candidate(c["label"], c["forget_quality"], c["model_utility"]) for c in candidates],
                                utility.result["model_utility"], cfg.utility_ratio)
        chosen = next(c for c in candidates if c["label"] == best.label)
        model, _ = _load(model_path(subject))
        model.load_state_dict(kept[best.label])
        model.save_pretrained(out / "model")
        tokenizer.save_pretrained(out / "model")
        final = _evaluate(model, tokenizer, fs, cfg.max_new_tokens, reference=ratios)
        sweep_seconds = sum(max(c["seconds"] for c in candidates if c["lr"] == lr) for lr in cfg.unlearn_lrs)
        (out / "report.json").write_text(json.dumps(final.to_dict()) + "\n")
        return {"model": "model", "selected": chosen, "constraint_met": met, "candidates": candidates,
                "seconds": chosen["seconds"], "sweep_seconds": sweep_seconds, **_summary(final)}

    inputs = {"method": method, "split": split, "subject": subject.key, "reference": reference.key,
              "utility": utility.key, "config": asdict(base), "lrs": cfg.unlearn_lrs, "epochs": cfg.unlearn_epochs,
              "ratio": cfg.utility_ratio, "max_new_tokens": cfg.max_new_tokens, "data": ctx.data_key}
    return run_stage(ctx.work, f"{method}-{split}", inputs, run, ctx.console,
                     code=EVAL_CODE + FINETUNE_CODE + ("benchmarks.tofu.unlearn",))
