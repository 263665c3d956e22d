"""The issue's targets judged met / NOT met / not measured, and the results written as JSON and markdown."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks.gpu_speed_bench import Plan, generate_record

TARGETS = {
    "generate_ratio": "flagged/unflagged generate median <= 1.01 at the target batch",
    "classifier_ms": "classifier <= 2 ms per request at the large batch",
    "classifier_share": "classifier <= 5% of one request's generate time at batch 1",
    "serving_ratio": "bento tokens/s guarded/unguarded >= 0.95 at the target concurrency",
    "memory_gb": "guard memory overhead (peak, classifier + corruption) <= 1 GB",
}


def targets(results: dict, plan: Plan) -> dict:
    """Each of the issue's targets with its value and met (None: not measured in this run)."""
    subject, classifier = next(iter(plan.subjects)), next(iter(plan.classifiers))
    ratios = [p["ratio_flagged_unflagged"] for p in results["subjects"].get(subject, {}).get("generate", [])
              if p["batch"] == plan.target_batch]
    latency = results["classifiers"].get(classifier, {}).get("latency", [])
    large = next((e["per_request_ms"]["median"] for e in latency if e["batch"] == max(plan.classifier_batches)), None)
    values = {"generate_ratio": max(ratios) if ratios else None, "classifier_ms": large,
              "classifier_share": results["classifiers"].get(classifier, {}).get("share_of_request_b1"),
              "serving_ratio": results["serving"].get("tokens_per_s_ratio"),
              "memory_gb": results["memory"].get("guard_overhead_gb")}
    limits = {"generate_ratio": (1.01, "<="), "classifier_ms": (2.0, "<="), "classifier_share": (0.05, "<="),
              "serving_ratio": (0.95, ">="), "memory_gb": (1.0, "<=")}
    return {key: {"target": TARGETS[key], "value": value,
                  "met": None if value is None else (value <= limit if op == "<=" else value >= limit)}
            for key, value in values.items() for limit, op in [limits[key]]}


def corruption_shares(results: dict, plan: Plan) -> dict[str, float]:
    """The guard's added work per request at the target batch: corruption time / unflagged generate time.

    End-to-end generate timings vary by several percent between calls (decoding is launch-bound), so
    they cannot resolve a 1% overhead; the corruption step, timed alone, can. Keyed by prompt tokens.
    """
    subject = next(iter(plan.subjects))
    record = results["subjects"].get(subject, {})
    shares = {}
    for p in record.get("prefill", []):
        point = generate_record(results, subject, p["batch"], p["prompt_tokens"])
        if p["batch"] == plan.target_batch and point is not None:
            shares[str(p["prompt_tokens"])] = p["corruption_s"] / point["unflagged_s"]["median"]
    return shares


def _fmt(s: dict | None, scale: float = 1.0) -> str:
    return "-" if s is None else f"{s['median'] * scale:.4g} ({s['min'] * scale:.4g}-{s['max'] * scale:.4g})"


def _num(value: object) -> str:
    if value is None:
        return "-"
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def markdown(r: dict) -> str:
    """The results as a page: every figure as median (min-max), then the targets."""
    env = r["environment"]
    smoke = "; tiny shapes on CPU check the code paths only, these figures say nothing about GPU speed"
    lines = ["# GPU speed of the guard (`benchmarks/gpu_speed.py`)", "",
             f"Status: **{r['status']}** ({r['mode']} mode{smoke if r['mode'] == 'smoke' else ''}).", "",
             f"Command: `{r['command']}`", "",
             f"Device: {env['device']}; torch {env['torch']}, transformers {env['transformers']}, CUDA {env['cuda']}.",
             "", "Settings: " + "; ".join(f"{k} {v}" for k, v in r["settings"].items()) + ".", "",
             "Figures are median (min-max) over the repeats; seconds unless marked.", ""]
    for name, s in r["subjects"].items():
        lines += [f"## {name} ({s['parameters']:,} parameters; shape {s['shape']})", "",
                  "| batch | prompt tokens | unflagged s | flagged s | flagged/unflagged | paired | rows changed |",
                  "|---|---|---|---|---|---|---|"]
        lines += [f"| {p['batch']} | {p['prompt_tokens']} | {_fmt(p['unflagged_s'])} | {_fmt(p['flagged_s'])} | "
                  f"{p['ratio_flagged_unflagged']:.4f} | {_fmt(p['paired_ratio'])} | {p['changed_rows']}/{p['batch']} |"
                  for p in s["generate"]]
        lines += ["", "| batch | prompt tokens | embed ms | embed + corrupt ms | prefill ms | corruption / prefill |",
                  "|---|---|---|---|---|---|"]
        lines += [f"| {p['batch']} | {p['prompt_tokens']} | {_fmt(p['embed_s'], 1e3)} | "
                  f"{_fmt(p['embed_and_corrupt_s'], 1e3)} | {_fmt(p['prefill_s'], 1e3)} | "
                  f"{p['corruption_share_of_prefill']:.4f} |" for p in s["prefill"]]
        lines.append("")
    for name, c in r["classifiers"].items():
        share = c.get("share_of_request_b1")
        lines += [f"## Classifier {name} ({c['arch']}, {c['parameters']:,} parameters)", ""]
        lines += [f"- batch {e['batch']}: {_fmt(e['per_request_ms'])} ms per request" for e in c.get("latency", [])]
        lines += [f"- share of one request ({c.get('request')}): {_num(share)}", ""]
    m = r["memory"]
    lines += ["## Memory", "", "; ".join(f"{k} {_num(v)}" for k, v in m.items()),
              "", "## Serving", ""]
    if "variants" in r["serving"]:
        lines += ["| variant | concurrency | tokens/s | p50 ms | p95 ms | errors |", "|---|---|---|---|---|---|"]
        lines += [f"| {v} | {c} | {row['tokens_per_s']:.1f} | {row['p50_ms']:.1f} | {row['p95_ms']:.1f} | "
                  f"{row['errors']} |" for v, by_c in r["serving"]["variants"].items() for c, row in by_c.items()]
        lines += ["", f"guarded/unguarded at concurrency {r['serving']['concurrency']}: tokens/s "
                  f"{r['serving']['tokens_per_s_ratio']:.4f}, p95 latency {r['serving']['p95_ratio']:.4f}",
                  "", f"Model: {r['serving']['model']}; {r['serving']['design']}."]
    else:
        lines.append(f"Skipped: {r['serving'].get('skipped', 'not reached')}.")
    lines += ["", "## Targets", "", "| target | value | met |", "|---|---|---|"]
    verdict = {True: "met", False: "NOT met", None: "not measured"}
    lines += [f"| {t['target']} | {_num(t['value'])} | {verdict[t['met']]} |" for t in r["targets"].values()]
    shares = r.get("corruption_share_of_generate") or {}
    lines += ["", "The guard's added work at the target batch (corruption step / unflagged generate, which "
              "end-to-end timings cannot resolve at 1%): "
              + (", ".join(f"{n} prompt tokens {v:.2e}" for n, v in shares.items()) or "not measured")]
    lines += ["", f"flagged outputs differ from unflagged ones: {r['flagged_changed_output']}",
              f"- skipped: {r['skipped'] or 'none'}", f"- errors: {r['errors'] or 'none'}",
              f"- elapsed: {r.get('elapsed_s', 0):.0f} s", ""]
    return "\n".join(lines)


def write(results: dict, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, default=str) + "\n")
    out.with_suffix(".md").write_text(markdown(results))
