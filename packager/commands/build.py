"""``eco-pack build``, ``eco-pack eval`` and ``eco-pack inspect``: thin commands over packager.build."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import click

from packager.commands.options import common_options

DEVICE = click.Choice(["auto", "cpu", "cuda"])


@click.command()
@click.option(
    "--model", default="tiny", show_default=True, help="Registry alias (`eco-pack models`), Hub id or folder."
)
@click.option(
    "--forget",
    default="demo",
    show_default=True,
    help="demo | tofu (= tofu:forget10) | tofu:forget01|forget05|forget10 | custom:PATH",
)
@click.option("--name", help="Artifact name (default: <model>-<forget>-eco).")
@click.option("--retain-model", help="Tune sigma against this retain model instead of the holdout surrogate.")
@click.option("--reference-model", help="Retain model for evaluation only (sigma stays on the holdout surrogate).")
@click.option(
    "--classifier-backbone", help="Encoder for the prompt classifier (Hub id or folder; default offline MiniLM-L6)."
)
@click.option("--classifier-epochs", type=int, help="Upper bound on classifier epochs (early stopping ends sooner).")
@click.option(
    "--alpha", default=0.05, show_default=True, help="Conformal miscoverage: forget recall target is 1 - alpha."
)
@click.option(
    "--fpr-target",
    default=0.01,
    show_default=True,
    help="Conformal bound on false positives over held-out negatives (0 turns it off).",
)
@click.option(
    "--threshold-position",
    default=0.5,
    show_default=True,
    type=click.FloatRange(0.0, 1.0),
    help="Where the threshold sits between the false-positive bound (0) and the recall bound (1).",
)
@click.option(
    "--on-conflict",
    default="fpr",
    show_default=True,
    type=click.Choice(["fpr", "recall"]),
    help="Bound kept when the recall and false-positive bounds cannot both hold (tiny calibration sets).",
)
@click.option("--corruption", default="rand_noise_first_n", show_default=True, help="Corruption method.")
@click.option("--dims", default=1, show_default=True, help="Embedding dimensions the corruption touches.")
@click.option(
    "--selection",
    default="all_but_last",
    show_default=True,
    type=click.Choice(["all_but_last", "all", "entity_spans"]),
    help="Which tokens are corrupted.",
)
@click.option(
    "--optimizer",
    default="bracket",
    show_default=True,
    type=click.Choice(["bracket", "zeroth_order"]),
    help="Sigma search.",
)
@click.option("--distance", default="ks", show_default=True, type=click.Choice(["ks", "mean_abs"]))
@click.option("--noise-seeds", default=3, show_default=True, help="Noise seeds each sigma evaluation averages over.")
@click.option("--max-new-tokens", default=200, show_default=True, help="Generation budget for ROUGE (TOFU: 200).")
@click.option("--bento/--no-bento", default=True, show_default=True, help="Build the BentoML bento.")
@click.option("--force", is_flag=True, help="Replace OUT/<name>-<version> if it exists.")
@common_options
def build(
    model,
    forget,
    name,
    retain_model,
    reference_model,
    classifier_backbone,
    classifier_epochs,
    alpha,
    fpr_target,
    threshold_position,
    on_conflict,
    corruption,
    dims,
    selection,
    optimizer,
    distance,
    noise_seeds,
    max_new_tokens,
    bento,
    force,
    out,
    version,
    seed,
    device,
    dtype,
    data_dir,
) -> None:
    """Build a guarded model artifact: classifier, sigma, TOFU scores, model card and bento.

    \b
    Examples:
      eco-pack build                                   # tiny model + demo set, offline
      eco-pack build --model llama-2-7b-chat --forget tofu --device cuda
      eco-pack build --model ./my-model --forget custom:forget.jsonl --out dist
    """
    from packager.build import BuildConfig, run_build

    config = BuildConfig(
        model=model,
        forget=forget,
        out=out,
        version=version,
        name=name,
        data_dir=data_dir,
        retain_model=retain_model,
        reference_model=reference_model,
        seed=seed,
        device=device,
        dtype=dtype,
        classifier_backbone=classifier_backbone,
        classifier_epochs=classifier_epochs,
        alpha=alpha,
        fpr_target=fpr_target or None,
        on_conflict=on_conflict,
        threshold_position=threshold_position,
        corruption=corruption,
        dims=dims,
        selection=selection,
        optimizer=optimizer,
        distance=distance,
        noise_seeds=noise_seeds,
        bento=bento,
        force=force,
        max_new_tokens=max_new_tokens,
        command=shlex.join(["eco-pack", *sys.argv[1:]]),
    )
    outcome = run_build(config)
    click.echo(str(outcome.path))


@click.command(name="inspect")
@click.argument("artifact", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document instead of tables.")
def inspect_artifact(artifact: Path, as_json: bool) -> None:
    """Print an artifact's configuration, checksums and scores (verifying every checksum).

    \b
    Example:
      eco-pack inspect dist/tiny-demo-eco-0.1.0
    """
    from packager.build.inspect import describe, render

    info = describe(artifact)
    if as_json:
        import json

        click.echo(json.dumps(info, indent=2))
    else:
        render(info)


@click.command(name="eval")
@click.argument("artifact", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--forget", help="Forget set to measure on (default: the one the artifact was built for).")
@click.option("--retain-model", help="Reference for forget quality (default: the registry's retain model, if any).")
@click.option("--max-new-tokens", default=200, show_default=True, help="Generation budget for ROUGE (TOFU: 200).")
@click.option("--write", "write_to", type=click.Path(path_type=Path), help="Also write the report as JSON here.")
@common_options
def eval_artifact(
    artifact, forget, retain_model, max_new_tokens, write_to, out, version, seed, device, dtype, data_dir
) -> None:
    """Re-measure a built artifact with the TOFU metrics (unguarded, guarded, retain reference).

    \b
    Example:
      eco-pack eval dist/tiny-demo-eco-0.1.0 --write remeasured.json
    """
    from packager.build.reeval import reevaluate, render_scores

    scores = reevaluate(
        artifact,
        forget=forget,
        retain_model=retain_model,
        max_new_tokens=max_new_tokens,
        seed=seed,
        device=device,
        dtype=dtype,
        data_dir=data_dir,
        write_to=write_to,
    )
    render_scores(scores)
