"""Turn the stages' results into the benchmark's rows, targets, JSON, markdown and plot."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from evaluation.quantities import ks_distance_at

COLUMNS = ("forget_quality", "model_utility", "forget_truth_ratio", "forget_rougeL", "seconds")
ECO_COST_STAGES = ("classifier", "calibration", "sigma", "bundle")  # what unlearning with ECO costs
MARKERS = {"subject": "o", "retain": "s", "eco": "*", "graddiff": "^", "npo": "v"}


def build_row(split: str, method: str, summary: dict[str, Any], seconds: float, command: str) -> dict[str, Any]:
    """One table row from a build's results.json model summary."""
    forget = summary["splits"]["forget"]
    return {"split": split, "method": method, "forget_quality": summary["forget_quality"],
            **spread(summary), "model_utility": summary["model_utility"], "forget_truth_ratio": forget["truth_ratio"],
            "forget_rougeL": forget["rougeL"], "seconds": round(seconds, 1), "command": command}


def spread(summary: dict[str, Any]) -> dict[str, Any]:
    """A model's forget quality over noise seeds beside its median (issue 20): the range and the
    median KS statistic, from an evaluation summary's ``forget_quality_over_seeds``."""
    seeds = summary.get("forget_quality_over_seeds") or {}
    return {"forget_quality_min": seeds.get("min"), "forget_quality_max": seeds.get("max"),
            "noise_seeds": len(seeds.get("seeds", ())), "ks_statistic": seeds.get("ks_statistic_median")}


def _quality_cells(row: dict[str, Any]) -> list[str]:
    """The median with its range over noise seeds (one value where one seed says all), and KS D."""
    median, low, high = row["forget_quality"], row.get("forget_quality_min"), row.get("forget_quality_max")
    quality = _fmt(median) if low is None or low == high else f"{_fmt(median)} ({_fmt(low)} to {_fmt(high)})"
    return [quality, _fmt(row.get("ks_statistic"))]


def eco_cost(stage_seconds: dict[str, float]) -> float:
    return sum(stage_seconds.get(name, 0.0) for name in ECO_COST_STAGES)


FQ_FLOOR = 0.3  # issue 20: ECO's median forget quality over noise seeds, every split
SUBJECT_UTILITY_FLOOR = 0.3  # issue 20: a subject that knows something, so utility can show side effects


def targets(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The issue's ECO targets per split, each with the measured value and whether it holds."""
    checks = []
    for split in dict.fromkeys(r["split"] for r in rows):
        by = {r["method"]: r for r in rows if r["split"] == split}
        eco, subject = by.get("eco"), by.get("subject")
        if not eco or eco["forget_quality"] is None:
            continue
        checks.append({"split": split, "target": f"median forget quality >= {FQ_FLOOR}", "value": eco["forget_quality"],
                       "met": eco["forget_quality"] >= FQ_FLOOR})
        if subject:
            checks.append({"split": split, "target": f"subject's utility >= {SUBJECT_UTILITY_FLOOR}",
                           "value": subject["model_utility"], "met": subject["model_utility"] >= SUBJECT_UTILITY_FLOOR})
            gap = abs(eco["model_utility"] - subject["model_utility"])
            checks.append({"split": split, "target": "utility within 0.01 of subject's", "value": gap,
                           "met": gap <= 0.01})
        for method in ("graddiff", "npo"):
            if method in by and by[method]["forget_quality"] is not None:
                checks.append({"split": split, "target": f"forget quality > {method}'s",
                               "value": by[method]["forget_quality"],
                               "met": eco["forget_quality"] > by[method]["forget_quality"]})
    return checks


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1e-2 or abs(value) >= 1e3 else f"{value:.3f}"
    return str(value)


def markdown(data: dict[str, Any]) -> str:
    lines = [f"# TOFU at CPU scale{' (QUICK smoke configuration, not a result)' if data['quick'] else ''}", "",
             f"Command: `{data['command']}`", "",
             f"Subject: {data['subject']['parameters']:,}-parameter Llama from scratch, {data['config']['epochs']} "
             f"epochs on {_training_set(data)} ({data['subject']['pairs']} QA). Stage times add up to "
             f"{data['stage_seconds_total']:.0f} s (one core each; cached stages count with the time they took when "
             f"run); this invocation took {data['invocation_seconds']:.0f} s.", "",
             *_holdout_lines(data.get("holdout_authors")),
             "| split | method | forget_quality (median, min to max over noise seeds) | KS D | "
             + " | ".join(COLUMNS[1:]) + " |", "|" + "---|" * (len(COLUMNS) + 3)]
    for row in data["rows"]:
        cells = _quality_cells(row) + [_fmt(row[c]) for c in COLUMNS[1:-1]] + [f"{row['seconds']:.1f}"]
        lines.append(f"| {row['split']} | {row['method']} | " + " | ".join(cells) + " |")
    lines += ["", "forget_quality: the KS test's p-value against the retain model's truth ratios; for ECO the "
              "median over the noise seeds of the guard's corruption (`--fq-seeds`), with the range, the other "
              "models having no noise. KS D: the test's statistic (median over seeds).", "",
              "`seconds`: unlearning cost. subject/retain: fine-tuning time (retain = retraining); "
              "eco: classifier + calibration + sigma + bundle stages; graddiff/npo: training time of the selected "
              "sweep point (the whole sweep is under `baselines`). Every row was produced by the command above.", "",
              "## Targets (ECO)", "", "| split | target | value | met |", "|---|---|---|---|"]
    lines += [f"| {t['split']} | {t['target']} | {_fmt(t['value'])} | {'yes' if t['met'] else 'NO'} |"
              for t in data["targets"]]
    lines += ["", "## Guard", "", "| split | FPR retain | FPR general | ms per prompt | sigma (surrogate) |",
              "|---|---|---|---|---|"]
    lines += [f"| {s} | {_fmt(g['fpr_retain'])} | {_fmt(g['fpr_general'])} | {_fmt(g['ms_per_prompt'])} "
              f"| {_fmt(g.get('sigma'))} |" for s, g in data["guard"].items()]
    lines += search_markdown(data["guard"], data["config"].get("distance", "ks"))
    lines += premise_markdown(data.get("surrogate_premise", {}))
    lines += sweep_markdown(data.get("sigma_sweep", {}))
    lines += ["", "## Cost", "", f"Total unlearning cost (s): {json.dumps(data['unlearning_cost'])}", "",
              f"forget10 build seconds per stage: {json.dumps(data['forget10_build_seconds'])}", "",
              "Stage timings (s): " + ", ".join(f"{k} {v['seconds']:.0f}{' (cached)' if v['cached'] else ''}"
                                                for k, v in data["stages"].items()), ""]
    return "\n".join(lines)


def _training_set(data: dict[str, Any]) -> str:
    """What the subject learned: TOFU full, less any authors set aside, with the general QA if any."""
    authors = data.get("holdout_authors")
    less = f" less the {len(authors)} holdout authors," if authors else ""
    general = " plus its real_authors and world_facts QA" if data["config"].get("general") else ""
    return f"TOFU full{less}{general}"


def _holdout_lines(authors: list[int] | None) -> list[str]:
    """What the builds' surrogate read as its holdout: TOFU's subsets, or authors of full set aside."""
    if not authors:
        return ["Holdout (the sigma surrogate's reference): TOFU's holdout subsets.", ""]
    return [f"Holdout (the sigma surrogate's reference): {len(authors)} authors of TOFU full set aside "
            f"(`--exchangeable-holdout`; positions {', '.join(map(str, authors))}), learned by no model here; the "
            "subject and retain models trained on the rest.", ""]


def search_summary(sigma: dict) -> dict:
    """The build's sigma search as the results keep it: its optimiser and every evaluation, by sigma."""
    return {"optimiser": sigma["optimiser"], "noise_seeds": sigma["noise_seeds"], "evaluations": sigma["evaluations"],
            "trace": [{"sigma": p["sigma"], "distance": p["objective"], "signed": p["signed"]}
                      for p in sorted(sigma["trace"], key=lambda p: p["sigma"])],
            "question_spread": sigma.get("question_spread")}


DISTANCE_LABELS = {"ks": "KS distance", "mean_abs": "difference of means", "median": "difference of medians"}


def search_markdown(guard: dict, distance: str = "ks") -> list[str]:
    """Each build's sigma search: the surrogate's distance (and its signed form) at every sigma it evaluated;
    ``distance`` names the builds' (``--distance``)."""
    searches = {split: g["search"] for split, g in guard.items() if g.get("search")}
    if not searches:
        return []
    lines = ["", "## Sigma search", "", "Every sigma each build's search evaluated: the surrogate's "
             f"{DISTANCE_LABELS[distance]} (signed form in brackets), averaged over its noise seeds. Questions "
             "drawn again: where the distance crosses zero in the central 90% of bootstrap resamples of the forget "
             "and the reference's questions (share that never crossed in brackets).", "",
             "| split | optimiser | chosen | questions drawn again | distance at each sigma |", "|---|---|---|---|---|"]
    lines += [f"| {split} | {s['optimiser']} ({s['evaluations']} evaluations x {s['noise_seeds']} seeds) "
              f"| {_fmt(guard[split]['sigma'])} | {_spread(s.get('question_spread'))} | "
              + ", ".join(f"{_fmt(p['sigma'])}: {p['distance']:.3f} ({p['signed']:+.3f})" for p in s["trace"]) + " |"
              for split, s in searches.items()]
    return lines


def _spread(spread: dict[str, Any] | None) -> str:
    if spread is None:
        return "n/a"
    return f"{_fmt(spread['low'])} to {_fmt(spread['high'])} ({spread['unbracketed']:.0%})"


def premise_markdown(premise: dict[str, Any]) -> list[str]:
    """How far holdout questions stand from the forget set for a model that saw neither (the retain
    model), and the surrogate's reference from the target it stands for, beside what sampling alone
    gives and what forget quality tolerates."""
    if not premise:
        return []

    def ks(result: dict[str, float]) -> str:
        return f"{result['statistic']:.3f} (p {_fmt(result['pvalue'])})"

    lines = ["", "## The surrogate's premise", "",
             "The truth-ratio surrogate takes the subject's generic truth ratios on holdout questions for what a "
             "model that never learned the forget set gives on the forget questions. The retain model never saw "
             "either set: its generic truth ratios on the two (KS D, p) show how far apart they are in themselves; "
             "the surrogate's reference (the subject on holdout) against the retain model on forget shows how far the "
             "build's target lies from the one it stands for. Wrong answers are made as the build makes them; the "
             "retain model only measures here. For scale (asymptotic KS): `sampling` is the median D between two "
             "samples of the holdout's and the forget set's sizes drawn from one distribution, what sampling alone "
             "typically puts between a target read on other questions and the one it stands for; `FQ 0.3` is the "
             "D between the guarded and the retain model's truth ratios on the same forget questions at which "
             "forget quality is 0.3, the target; "
             "`reject` is the D above which a test at 5% calls holdout and forget different.", "",
             "| split | holdout / forget questions | retain: holdout vs forget | reference vs retain on forget | "
             "reference vs retain on holdout | sampling | FQ 0.3 | reject | medians (retain holdout, retain forget, "
             "reference) |", "|---|---|---|---|---|---|---|---|---|"]
    for split, p in premise.items():
        m, n_holdout, n_forget = p["medians"], p["holdout"], p["forget"]
        lines.append(f"| {split} | {n_holdout} / {n_forget} | {ks(p['retain_holdout_vs_forget'])} "
                     f"| {ks(p['reference_vs_retain_forget'])} | {ks(p['reference_vs_retain_holdout'])} "
                     f"| {ks_distance_at(0.5, n_holdout, n_forget):.3f} "
                     f"| {ks_distance_at(FQ_FLOOR, n_forget, n_forget):.3f} | {p['reject_distance']:.3f} "
                     f"| {m['retain_holdout']:.3f}, {m['retain_forget']:.3f}, {m['subject_holdout']:.3f} |")
    return lines


def sweep_markdown(sweeps: dict[str, Any]) -> list[str]:
    """Where forget quality peaks over sigma, against where each candidate surrogate lands."""
    if not sweeps:
        return []
    names = list(next(iter(sweeps.values()))["surrogate_choices"])
    lines = ["", "## Forget quality against sigma", "",
             "Each guard re-measured at fixed sigmas (same classifier and retain reference as the evaluation); "
             "forget quality is the median over the noise seeds, with the range. A surrogate's column is its "
             "signed KS distance (the search drives it to zero); its choice on the grid is where that distance is "
             "smallest. The retain model only measures here; no surrogate sees it.", "",
             "| split | flagged | sigma the build chose | best sigma in sweep | best FQ | "
             + " | ".join(f"{n}: sigma on grid (FQ there)" for n in names) + " |",
             "|---|---|---|---|---|" + "---|" * len(names)]
    for split, sweep in sweeps.items():
        choices = " | ".join(f"{_fmt(c['sigma'])} ({_fmt(c['forget_quality'])})"
                             for c in sweep["surrogate_choices"].values())
        lines.append(f"| {split} | {sweep['flagged']}/{sweep['n']} | {_fmt(sweep['chosen_sigma'])} "
                     f"| {_fmt(sweep['best_sigma'])} | {_fmt(sweep['best_forget_quality'])} | {choices} |")
    lines += ["", "| split | sigma | forget quality (median, min to max) | forget truth ratio | "
              + " | ".join(f"{n} (signed)" for n in names) + " |", "|---|---|---|---|" + "---|" * len(names)]
    lines += [f"| {split} | {_fmt(p['sigma'])} | {_fmt(p['forget_quality'])} ({_fmt(p['forget_quality_min'])} to "
              f"{_fmt(p['forget_quality_max'])}) | {_fmt(p['forget_truth_ratio'])} | "
              + " | ".join(f"{p['surrogates'][n]['signed']:+.3f}" for n in names) + " |"
              for split, sweep in sweeps.items() for p in sweep["points"]]
    searched = [(split, name, runs) for split, sweep in sweeps.items()
                for name, runs in sweep.get("searches", {}).items()]  # fmt: skip
    if searched:
        lines += ["", "Each surrogate's own search, with each optimiser, rerun from several search seeds (noise and "
                  "wrong answers drawn anew): how far the sigma it picks moves, and the forget quality (median over "
                  "noise seeds) there.",
                  "", "| split | surrogate (optimiser) | sigma per search seed | max / min | forget quality there |",
                  "|---|---|---|---|---|"]
        lines += [f"| {split} | {name} | {', '.join(_fmt(r['sigma']) for r in runs)} "
                  f"| {max(r['sigma'] for r in runs) / min(r['sigma'] for r in runs):.2f} "
                  f"| {', '.join(_fmt(r['forget_quality']) for r in runs)} |" for split, name, runs in searched]
    return lines


def plot_sweep(sweeps: dict[str, Any], dest: Path, title: str) -> None:
    """Forget quality (top, median with the seeds' range) and each surrogate's signed distance
    (bottom, one line style per surrogate) against sigma; the build's sigma dashed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(6.5, 6), sharex=True)
    styles = ("o-", "s:", "^--")
    for (split, sweep), colour in zip(sweeps.items(), ("tab:blue", "tab:orange", "tab:green"), strict=False):
        points = sweep["points"]
        sigmas = [p["sigma"] for p in points]
        top.plot(sigmas, [max(p["forget_quality"], 1e-300) for p in points], "o-", color=colour, label=split)
        top.fill_between(sigmas, [max(p["forget_quality_min"], 1e-300) for p in points],
                         [max(p["forget_quality_max"], 1e-300) for p in points], color=colour, alpha=0.15)
        for name, style in zip(sweep["surrogate_choices"], styles, strict=False):
            bottom.plot(sigmas, [p["surrogates"][name]["signed"] for p in points], style, color=colour,
                        label=f"{split}: {name}")
        for ax in (top, bottom):
            ax.axvline(sweep["chosen_sigma"], color=colour, linestyle="--", linewidth=1)
    top.set_yscale("log")
    top.set_ylabel("forget quality (log; band: noise seeds)")
    top.set_title(title)
    top.legend(fontsize=8)
    bottom.axhline(0.0, color="black", linewidth=0.8)
    bottom.set_xscale("log")
    bottom.set_xlabel("sigma (dashed: chosen by the build's search)")
    bottom.set_ylabel("surrogate signed KS")
    bottom.legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(dest, dpi=120)
    plt.close(fig)


def plot(rows: list[dict[str, Any]], dest: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    colours = dict(zip(dict.fromkeys(r["split"] for r in rows), ("tab:blue", "tab:orange", "tab:green"), strict=False))
    for row in rows:
        if row["forget_quality"] is None or row["model_utility"] is None:
            continue
        ax.scatter(row["model_utility"], max(row["forget_quality"], 1e-300), marker=MARKERS[row["method"]], s=70,
                   color=colours[row["split"]], label=f"{row['split']} {row['method']}", edgecolors="black")
    ax.set_yscale("log")
    ax.set_xlabel("model utility")
    ax.set_ylabel("forget quality (log)")
    ax.set_title(title)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(dest, dpi=120)
    plt.close(fig)


def write(data: dict[str, Any], results_dir: Path, name: str) -> list[Path]:
    """``<name>.json``, ``<name>.md``, ``<name>.png`` and, with a sweep, ``<name>_sigma.png`` under ``results_dir``."""
    results_dir.mkdir(parents=True, exist_ok=True)
    paths = [results_dir / f"{name}.{ext}" for ext in ("json", "md", "png")]
    paths[0].write_text(json.dumps(data, indent=2) + "\n")
    paths[1].write_text(markdown(data))
    suffix = " (quick)" if data["quick"] else ""
    plot(data["rows"], paths[2], "TOFU, CPU scale" + suffix)
    if data.get("sigma_sweep"):
        paths.append(results_dir / f"{name}_sigma.png")
        plot_sweep(data["sigma_sweep"], paths[-1], "Forget quality against sigma" + suffix)
    return paths
