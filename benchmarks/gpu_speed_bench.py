"""The measurements behind ``benchmarks.gpu_speed``: random-weight models at a ``Plan``'s shapes, one method per figure.

Every model is built in-process from its config with random weights (real shapes, nothing
downloaded; speed does not depend on what the weights hold), so the GPU machine needs only
torch, transformers and this repository's ``guards/`` and ``bentos/``. The tokenizer is a
WordLevel one over generated words, so a prompt of N words is exactly N tokens. Classifiers are
saved to a folder and loaded through ``guards.classifier.PromptClassifier``, the code path serving runs.
"""

from __future__ import annotations

import contextlib
import gc
import inspect
import os
import platform
import random
import statistics
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import torch

from guards.config import BaseModelRef, CorruptionConfig, DecisionRule, GuardConfig, SeedPolicy
from guards.guarded_model import GuardedModel

SPECIALS = ("<pad>", "<unk>", "<s>", "</s>")
SIGMA = 10.0


@dataclass(frozen=True)
class Plan:
    """What one run measures. The first subject and the first classifier are the primary ones."""

    subjects: dict[str, dict]  # name -> LlamaConfig fields
    classifiers: dict[str, tuple[str, dict]]  # name -> (bert | roberta, config fields)
    serving_subject: str  # small on purpose: each artifact copies and hashes its weights
    batches: tuple[int, ...]
    lengths: tuple[int, ...]  # prompt tokens
    new_tokens: int
    target_batch: int
    classifier_batches: tuple[int, ...]  # (1, large)
    concurrency: tuple[int, ...]
    target_concurrency: int
    serving_max_tokens: int
    serving_rounds: int
    repeats: int
    words: int  # tokenizer vocabulary besides SPECIALS; below every model's vocab_size
    min_step_s: float  # a step starts only with this much budget left
    serving_min_s: float  # the serving step (two servers to start) needs this much
    mode: str  # gpu | smoke, as recorded in the results


def build_tokenizer(n_words: int):
    """A fast WordLevel tokenizer over generated words: every word one token, no special tokens added."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    syllables = [c + v for c in "bdfgklmnprstvz" for v in "aeiou"]
    words = [a + b + c for a in syllables for b in syllables for c in ("", "n", "s", "r")][:n_words]
    vocab = {token: i for i, token in enumerate([*SPECIALS, *words])}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    # no token_type_ids: a causal LM's generate would reject them on some transformers versions
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, pad_token="<pad>", unk_token="<unk>",
                                        bos_token="<s>", eos_token="</s>",
                                        model_input_names=["input_ids", "attention_mask"])
    return tokenizer, words


def prompts(words: Sequence[str], n: int, length: int, seed: int) -> list[str]:
    """``n`` different prompts of exactly ``length`` tokens, the same ones for every call with ``seed``."""
    rng = random.Random(seed)
    return [" ".join(rng.choices(words, k=length)) for _ in range(n)]


@contextlib.contextmanager
def _default_dtype(dtype: torch.dtype) -> Iterator[None]:
    old = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        yield
    finally:
        torch.set_default_dtype(old)


def build_subject(shape: dict, tokenizer, device: str, dtype: torch.dtype):
    """A random-weight LlamaForCausalLM created directly on ``device`` in ``dtype`` (no slow CPU init)."""
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(**shape, pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id,
                         eos_token_id=tokenizer.eos_token_id)
    torch.manual_seed(0)
    with torch.device(device), _default_dtype(dtype):
        return LlamaForCausalLM(config).eval()


def save_classifier(arch: str, shape: dict, tokenizer, folder: Path) -> int:
    """A random 2-label sequence classifier + tokenizer saved as PromptClassifier loads it; its parameters."""
    from transformers import BertConfig, BertForSequenceClassification, RobertaConfig, RobertaForSequenceClassification

    config_cls, model_cls = {"bert": (BertConfig, BertForSequenceClassification),
                             "roberta": (RobertaConfig, RobertaForSequenceClassification)}[arch]
    torch.manual_seed(0)
    model = model_cls(config_cls(**shape, num_labels=2, pad_token_id=tokenizer.pad_token_id))
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return sum(p.numel() for p in model.parameters())


def stats(values: Sequence[float]) -> dict:
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


def _percentile(sorted_values: Sequence[float], q: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


def load_round(request: Callable, url: str, texts: Sequence[str], n: int, concurrency: int, max_tokens: int) -> dict:
    """serving_load's load generator (its ``_request`` client) with p95, which its ``_load`` does not keep."""
    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        results = list(pool.map(lambda i: request(url, texts[i % len(texts)], max_tokens), range(n)))
    wall = time.perf_counter() - started
    latencies = sorted(r[0] for r in results)
    return {"requests": n, "concurrency": concurrency, "seconds": wall,
            "tokens_per_s": sum(r[3] for r in results) / wall, "p50_ms": 1000 * _percentile(latencies, 0.5),
            "p95_ms": 1000 * _percentile(latencies, 0.95), "errors": sum(not r[1] for r in results),
            "flagged": sum(r[2].startswith("flagged=1") for r in results)}


class Bench:
    """One run: the plan, the models built so far, the budget and the results each step adds to."""

    def __init__(self, plan: Plan, device: str, budget_s: float, work: Path, command: str) -> None:
        self.plan, self.device, self.work = plan, device, work
        self.cuda = device.startswith("cuda")
        self.dtype = torch.bfloat16 if self.cuda else torch.float32
        self.started, self.budget_s = time.monotonic(), budget_s
        self.tokenizer, self.words = build_tokenizer(plan.words)
        self.generate_kwargs = dict(max_new_tokens=plan.new_tokens, min_new_tokens=plan.new_tokens, do_sample=False)
        self._guards: dict[str, GuardedModel] = {}
        self._classifiers: dict[str, object] = {}
        gpu = torch.cuda.get_device_name(device) if self.cuda else None
        self.results: dict = {
            "status": "running", "mode": plan.mode, "command": command,
            "environment": {"device": gpu or f"cpu ({platform.machine()}, {torch.get_num_threads()} threads)",
                            "torch": torch.__version__, "transformers": _version("transformers"),
                            "cuda": torch.version.cuda, "python": platform.python_version()},
            "settings": {"dtype": str(self.dtype).removeprefix("torch."), "batches": plan.batches,
                         "prompt_tokens": plan.lengths, "new_tokens": plan.new_tokens, "repeats": plan.repeats,
                         "budget_s": budget_s, "selection": "all_but_last", "seed_policy": "fixed, seed 0",
                         "corruption": f"rand_noise_first_n, dims = hidden size (every dimension), sigma {SIGMA}",
                         "tokenizer": f"WordLevel over {plan.words} generated words: N words = N tokens"},
            "subjects": {}, "classifiers": {}, "memory": {}, "serving": {}, "flagged_changed_output": None,
            "targets": {}, "steps": [], "skipped": [], "errors": [],
        }

    def left(self) -> float:
        return self.budget_s - (time.monotonic() - self.started)

    def timed(self, fn: Callable[[], object]) -> float:
        if self.cuda:
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        if self.cuda:
            torch.cuda.synchronize()
        return time.perf_counter() - start

    def guard(self, name: str, classifier: object = None) -> GuardedModel:
        """The subject wrapped as a bundle would wrap it; with a classifier, every prompt is flagged."""
        if name not in self._guards:
            started, shape = time.perf_counter(), self.plan.subjects[name]
            model = build_subject(shape, self.tokenizer, self.device, self.dtype)
            self._guards[name] = self._wrap(model, None)
            self.results["subjects"][name] = {"shape": shape, "parameters": sum(p.numel() for p in model.parameters()),
                                              "build_s": time.perf_counter() - started, "generate": [], "prefill": []}
        return self._guards[name] if classifier is None else self._wrap(self._guards[name].model, classifier)

    def _wrap(self, model, classifier: object) -> GuardedModel:
        config = GuardConfig(base_model=BaseModelRef("local", "random-init"), decision=DecisionRule(threshold=0.0),
                             corruption=CorruptionConfig("rand_noise_first_n", model.config.hidden_size, SIGMA),
                             seed_policy=SeedPolicy("fixed", seed=0))
        return GuardedModel.from_config(model, self.tokenizer, classifier=classifier, config=config)

    def classifier_dir(self, name: str) -> Path:
        folder = self.work / f"classifier-{name}"
        if not folder.is_dir():
            arch, shape = self.plan.classifiers[name]
            parameters = save_classifier(arch, shape, self.tokenizer, folder)
            self.results["classifiers"][name] = {"arch": arch, "shape": shape, "parameters": parameters}
        return folder

    def classifier(self, name: str):
        if name not in self._classifiers:
            from guards.classifier import PromptClassifier

            self._classifiers[name] = PromptClassifier(self.classifier_dir(name), device=self.device,
                                                       batch_size=max(self.plan.classifier_batches))
        return self._classifiers[name]

    # -- steps -------------------------------------------------------------------------------
    def generate_point(self, name: str, batch: int, length: int) -> None:
        """GuardedModel.generate, all rows flagged against none; calls alternate (ABBA) so drift hits both."""
        guard = self.guard(name)
        texts = prompts(self.words, batch, length, seed=1000 * batch + length)

        outputs = {}  # greedy decoding and seeded noise: every call of a variant gives the same ids

        def run(flagged: bool) -> None:
            outputs[flagged] = guard.generate(texts, flags=[flagged] * batch, **self.generate_kwargs)

        pair_s = self.timed(lambda: run(False)) + self.timed(lambda: run(True))  # warm-up, also sizes the repeats
        repeats = min(self.plan.repeats, int(self.left() // pair_s))
        if repeats < 1:
            self.results["skipped"].append(f"generate {name} b{batch} L{length}: budget left < one pair")
            return
        times: dict[str, list[float]] = {"unflagged": [], "flagged": []}
        for index in range(repeats):
            for flagged in abba((False, True), index):
                times["flagged" if flagged else "unflagged"].append(self.timed(partial(run, flagged)))
        plain, corrupted = outputs[False], outputs[True]
        changed = sum(a != b for a, b in zip(plain.token_ids, corrupted.token_ids, strict=True))
        self.results["subjects"][name]["generate"].append({
            "batch": batch, "prompt_tokens": length, "new_tokens": min(len(t) for t in plain.token_ids),
            "unflagged_s": stats(times["unflagged"]), "flagged_s": stats(times["flagged"]),
            "ratio_flagged_unflagged": statistics.median(times["flagged"]) / statistics.median(times["unflagged"]),
            "paired_ratio": stats([f / u for f, u in zip(times["flagged"], times["unflagged"], strict=True)]),
            "changed_rows": changed, "flagged_changed_output": changed > 0,
        })

    def prefill(self, name: str) -> None:
        """The embedding + corruption step alone against one prefill forward, at every batch and length."""
        guard = self.guard(name)
        keep = {"logits_to_keep": 1} if "logits_to_keep" in inspect.signature(guard.model.forward).parameters else {}
        for batch in self.plan.batches:
            for length in self.plan.lengths:
                self._prefill_point(name, guard, batch, length, keep)

    @torch.inference_mode()
    def embed_step(self, guard: GuardedModel, batch: int, length: int, timed: int, warmup: int,
                   extra: Callable[[torch.Tensor, torch.Tensor], dict[str, Callable[[], object]]] | None = None,
                   ) -> tuple[dict[str, list[float]], float]:
        """generate's embedding step on ``batch`` prompts of ``length`` tokens, plain ("embed") and with
        every row corrupted ("embed_and_corrupt"), plus the calls ``extra(ids, mask)`` builds, in
        alternating rounds after ``warmup`` untimed ones: the seconds of each call and the
        corruption's own (the medians' difference)."""
        texts = prompts(self.words, batch, length, seed=1000 * batch + length)
        # generate's own steps between tokenizing and model.generate: private, but exactly what it runs
        seqs = guard._encode(texts, special=True)
        ids, mask = guard._pad_left(seqs)
        fns = {"embed": lambda: guard._embed(ids, seqs, [False] * batch, None),
               "embed_and_corrupt": lambda: guard._embed(ids, seqs, [True] * batch, None),
               **(extra(ids, mask) if extra else {})}
        times: dict[str, list[float]] = {key: [] for key in fns}
        for rep in range(warmup + timed):
            for key, fn in fns.items():
                elapsed = self.timed(fn)
                if rep >= warmup:
                    times[key].append(elapsed)
        return times, max(0.0, statistics.median(times["embed_and_corrupt"]) - statistics.median(times["embed"]))

    def _prefill_point(self, name: str, guard: GuardedModel, batch: int, length: int, keep: dict) -> None:
        def prefill(ids: torch.Tensor, mask: torch.Tensor) -> dict[str, Callable[[], object]]:
            embeds = guard.embedding(ids)  # what the unflagged embedding step gives
            return {"prefill": lambda: guard.model(inputs_embeds=embeds, attention_mask=mask, use_cache=True, **keep)}

        times, corruption = self.embed_step(guard, batch, length, timed=self.plan.repeats + 2, warmup=1,
                                            extra=prefill)
        self.results["subjects"][name]["prefill"].append({
            "batch": batch, "prompt_tokens": length, **{f"{key}_s": stats(v) for key, v in times.items()},
            "corruption_s": corruption, "corruption_share_of_prefill": corruption / statistics.median(times["prefill"]),
        })

    def classifier_latency(self, name: str) -> None:
        """PromptClassifier per request at batch 1 and the large batch; share of a batch-1 request."""
        clf, length = self.classifier(name), min(self.plan.lengths)
        record = self.results["classifiers"][name]
        record.update(query_tokens=length, latency=[])
        for batch in self.plan.classifier_batches:
            queries = prompts(self.words, batch, length, seed=7 + batch)
            for _ in range(3):
                clf(queries)
            times = [self.timed(partial(clf, queries)) for _ in range(5 * self.plan.repeats)]
            record["latency"].append({"batch": batch, "per_call_ms": stats([1000 * t for t in times]),
                                      "per_request_ms": stats([1000 * t / batch for t in times])})
        request = generate_record(self.results, next(iter(self.plan.subjects)), 1, length)
        one = record["latency"][0]["per_request_ms"]["median"] / 1000
        record["request"] = None if request is None else f"batch 1, {length} prompt + {self.plan.new_tokens} new tokens"
        record["share_of_request_b1"] = None if request is None else one / request["unflagged_s"]["median"]

    def memory(self, name: str, guarded: bool) -> None:
        """Peak GPU memory of one generate: plain model (before any classifier loads) or full guard."""
        batch, length = self.plan.target_batch, max(self.plan.lengths)
        guard = self.guard(name)
        texts = prompts(self.words, batch, length, seed=5)
        if guarded:
            guard = self.guard(name, classifier=self.classifier(next(iter(self.plan.classifiers))))
        gc.collect()
        if self.cuda:
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats(self.device)
        if guarded:
            out = guard.generate(texts, queries=texts, **self.generate_kwargs)
            self.results["memory"]["guarded_rows_flagged"] = sum(d.flagged for d in out.decisions)
        else:
            enc = self.tokenizer(texts, return_tensors="pt").to(self.device)
            with torch.inference_mode():
                guard.model.generate(**enc, pad_token_id=guard.pad_token_id, **self.generate_kwargs)
        peak = torch.cuda.max_memory_allocated(self.device) / 1e9 if self.cuda else None
        memory = self.results["memory"]
        memory.update(subject=name, batch=batch, prompt_tokens=length, new_tokens=self.plan.new_tokens)
        memory["peak_with_guard_gb" if guarded else "peak_without_guard_gb"] = peak
        if not self.cuda:
            memory["reason"] = "no CUDA device: torch.cuda.max_memory_allocated measures GPU memory only"
        if memory.get("peak_with_guard_gb") is not None and memory.get("peak_without_guard_gb") is not None:
            memory["guard_overhead_gb"] = memory["peak_with_guard_gb"] - memory["peak_without_guard_gb"]

    def serving(self) -> None:
        """The bento's OpenAI API under serving_load's load generator: guarded (threshold 0) vs unguarded (1)."""
        from benchmarks import serving_load
        from bentos.launch import wait_ready

        plan, work = self.plan, self.work / "serving"
        if self.left() < plan.serving_min_s:
            self.results["serving"] = {"skipped": f"budget: less than {plan.serving_min_s:.0f} s left"}
            return
        base = work / "base-model"
        model = build_subject(plan.subjects[plan.serving_subject], self.tokenizer, self.device, self.dtype)
        model.generation_config.eos_token_id = None  # every request decodes max_tokens, as in serving_load
        model.save_pretrained(base)
        self.tokenizer.save_pretrained(base)
        del model
        texts = prompts(self.words, 64, min(plan.lengths), seed=11)
        servers: dict[str, tuple] = {}
        try:
            for variant, threshold in serving_load.VARIANTS.items():
                artifact = serving_load._artifact(work / variant, base, self.classifier_dir(
                    next(iter(plan.classifiers))), threshold)
                servers[variant] = serving_load._start(artifact, work)
            for process, url, log in servers.values():
                wait_ready(url, process, log, timeout_s=max(30.0, self.left()))
                serving_load._load(url, texts, 8, 4, plan.serving_max_tokens)  # warm-up
            rounds = {v: {c: [] for c in plan.concurrency} for v in servers}
            for index in range(plan.serving_rounds):
                started = time.perf_counter()
                for c in plan.concurrency:
                    for variant, (_, url, _) in abba(list(servers.items()), index):
                        rounds[variant][c].append(load_round(serving_load._request, url, texts, max(8, 2 * c), c,
                                                             plan.serving_max_tokens))
                if index + 1 < plan.serving_rounds and self.left() < time.perf_counter() - started:
                    self.results["skipped"].append(f"serving rounds {index + 2}-{plan.serving_rounds}: budget")
                    break
        finally:
            for process, _, _ in servers.values():
                _stop(process)
        keys = ("tokens_per_s", "p50_ms", "p95_ms")
        summary = {v: {str(c): {**{k: statistics.median(r[k] for r in rs) for k in keys},
                                "errors": sum(r["errors"] for r in rs), "flagged": sum(r["flagged"] for r in rs),
                                "rounds": rs} for c, rs in by_c.items()} for v, by_c in rounds.items()}
        at = str(plan.target_concurrency)
        self.results["serving"] = {
            "model": f"{plan.serving_subject} shape, random weights, {self.results['settings']['dtype']}",
            "design": "serving_load's artifacts: guarded = threshold 0 (all flagged), unguarded = threshold 1",
            "max_tokens": plan.serving_max_tokens, "concurrency": plan.target_concurrency, "variants": summary,
            "tokens_per_s_ratio": summary["guarded"][at]["tokens_per_s"] / summary["unguarded"][at]["tokens_per_s"],
            "p95_ratio": summary["guarded"][at]["p95_ms"] / summary["unguarded"][at]["p95_ms"],
        }


def _stop(process: subprocess.Popen) -> None:
    """Stop a server we started and wait for its worker processes too, so they do not slow later steps."""
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)
    deadline = time.monotonic() + 15
    with contextlib.suppress(ProcessLookupError, PermissionError):
        while time.monotonic() < deadline:  # serving_load starts each server in its own session
            os.killpg(process.pid, 0)
            time.sleep(0.2)


def _version(package: str) -> str | None:
    with contextlib.suppress(ImportError):
        return __import__(package).__version__
    return None


def abba(pair: Sequence, index: int) -> Sequence:
    """The pair in order on even rounds and reversed on odd ones (ABBA): an advantage of whichever
    variant runs second in a round, or drift between rounds, hits both variants alike."""
    return pair if index % 2 == 0 else pair[::-1]


def generate_record(results: dict, subject: str, batch: int, length: int) -> dict | None:
    points = results["subjects"].get(subject, {}).get("generate", [])
    return next((p for p in points if p["batch"] == batch and p["prompt_tokens"] == length), None)
