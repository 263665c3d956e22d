"""Scores of a saved guard bundle: the unguarded subject, the guarded subject and (when given) the
retain reference, on one forget set. ``eco-pack build`` and ``eco-pack eval`` both measure through
this function, on the bundle as saved, so the scores describe the guard that ships."""

from __future__ import annotations

from dataclasses import replace
from functools import partial
from pathlib import Path

from evaluation.evaluate import EvalConfig, evaluate
from evaluation.forget_set import ForgetSet
from evaluation.mc_report import MCReport, evaluate_mc
from evaluation.result import EvalReport
from evaluation.text_report import TextReport, evaluate_text
from guards.bundle import load_bundle
from guards.guarded_model import GuardedModel
from guards.prompt_format import PromptFormat


def evaluate_guard(
    guard_dir: Path,
    forget_set: ForgetSet,
    *,
    reference=None,
    seed: int = 0,
    max_new_tokens: int | None = 200,
    noise_seeds: int = 5,
    device: str = "cpu",
    dtype: str = "auto",
    subject=None,
    hash_files: bool = True,
    prompt_format: PromptFormat | None = None,
    console=None,
) -> dict[str, EvalReport | MCReport | TextReport]:
    """Reports keyed ``retain`` (if ``reference``), ``unguarded`` and ``guarded``: TOFU's metrics for a
    ``qa`` set, accuracy per topic for an ``mc`` set (``evaluation.mc_report``), VerbMem and KnowMem for
    a ``text`` corpus (``evaluation.text_report``, continuations of at most ``max_new_tokens``).

    ``reference`` and ``subject`` are loaded ``(model, tokenizer)`` pairs; without ``subject`` the
    bundle's base model is loaded. ``seed`` fixes the corruption noise (the bundle's ``keyed``
    policy is for serving). ``hash_files=False`` trusts files the caller has just verified or written.
    ``prompt_format`` overrides the bundle's. Forget quality is read over ``noise_seeds`` seeds.
    """
    say = console.print if console is not None else (lambda *_: None)
    bundle = load_bundle(guard_dir, hash_files=hash_files)
    if prompt_format is not None:
        bundle = replace(bundle, config=replace(bundle.config, prompt_format=prompt_format))
    model, tokenizer = subject if subject is not None else (None, None)
    guarded = bundle.guarded_model(device=device, dtype=dtype, model=model, tokenizer=tokenizer,
                                   verified_base=not hash_files)  # fmt: skip
    if forget_set.kind != "qa":
        return _by_kind(guarded, forget_set, reference, seed, noise_seeds, max_new_tokens, say)
    reports: dict[str, EvalReport] = {}
    ratios = None
    if reference is not None:
        say("evaluating the retain reference")
        plain = GuardedModel(*reference, classifier=None, prompt_format=bundle.config.prompt_format)
        reports["retain"] = evaluate(plain, forget_set, EvalConfig(flags="none", seed=seed,
                                                                   max_new_tokens=max_new_tokens))  # fmt: skip
        ratios = reports["retain"].splits["forget"].truth_ratios
    for key, flags in (("unguarded", "none"), ("guarded", "classifier")):
        say(f"evaluating the {key} subject")
        config = EvalConfig(flags=flags, seed=seed, max_new_tokens=max_new_tokens, noise_seeds=noise_seeds)
        reports[key] = evaluate(guarded, forget_set, config, reference_ratios=ratios)
    return {k: reports[k] for k in ("unguarded", "guarded", "retain") if k in reports}


def _by_kind(guarded: GuardedModel, forget_set: ForgetSet, reference, seed: int, noise_seeds: int,
             max_new_tokens: int | None, say) -> dict[str, MCReport | TextReport]:  # fmt: skip
    """The unguarded, guarded and retain models on a multiple-choice set or a text corpus."""
    measure = evaluate_mc if forget_set.kind == "mc" else partial(evaluate_text, max_new_tokens=max_new_tokens or 128)
    say("evaluating the unguarded subject")
    reports = {"unguarded": measure(guarded, forget_set, flags="none", seed=seed)}
    say("evaluating the guarded subject")
    reports["guarded"] = measure(guarded, forget_set, flags="classifier", seed=seed, noise_seeds=noise_seeds)
    if reference is not None:
        say("evaluating the retain reference")
        plain = GuardedModel(*reference, classifier=None, prompt_format=guarded.prompt_format)
        reports["retain"] = measure(plain, forget_set, flags="none", seed=seed)
    return reports
