"""``eco-pack build``, ``eco-pack eval`` and ``eco-pack inspect``: thin commands over packager.pipeline."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import click

from guards.prompt_format import PromptFormat
from packager.commands.options import PROMPT_FORMAT, common_options, config_options
from packager.pipeline.config import BuildConfig


@click.command()
@config_options(BuildConfig)
@common_options
def build(**options) -> None:
    """Build a guarded model artifact: classifier, sigma, scores, model card and bento.

    \b
    Examples:
      eco-pack build                                   # tiny model + demo set, offline
      eco-pack build --forget demo-mc                  # a topic, as multiple choice, offline
      eco-pack build --forget demo-text                # a book, as a text corpus, offline
      eco-pack build --model HuggingFaceH4/zephyr-7b-beta --forget wmdp:bio --device cuda
      eco-pack build --model llama-2-7b-chat --forget tofu --device cuda
      eco-pack build --model ./my-model --forget custom:forget.jsonl --out dist
      eco-pack build --model ./my-model --forget tofu --prompt-format 'Question: {question}\\nAnswer:'
    """
    from packager.pipeline import run_build

    outcome = run_build(BuildConfig(**options, command=shlex.join(["eco-pack", *sys.argv[1:]])))
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
    from packager.pipeline.inspect import describe, render

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
@click.option("--max-new-tokens", default=200, show_default=True,
              help="Generation budget for ROUGE (TOFU: 200; caps a passage's continuation).")
@click.option("--write", "write_to", type=click.Path(path_type=Path), help="Also write the report as JSON here.")
@PROMPT_FORMAT
@common_options
def eval_artifact(
    artifact, forget, retain_model, max_new_tokens, write_to, prompt_format, out, version, seed, device, dtype,
    data_dir,
) -> None:
    """Re-measure a built artifact (unguarded, guarded, retain reference) with its kind's metrics:
    TOFU's, accuracy per topic, or VerbMem and KnowMem.

    \b
    Example:
      eco-pack eval dist/tiny-demo-eco-0.1.0 --write remeasured.json
    """
    from packager.pipeline.reeval import reevaluate, render_scores

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
        prompt_format=PromptFormat.parse(prompt_format) if prompt_format else None,
    )
    render_scores(scores)


@click.command(name="probe")
@click.argument("artifact", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--forget", help="Forget set to attack (default: the one the artifact was built for).")
@click.option("--per-family", default=20, show_default=True, type=click.IntRange(1), help="Attacks per family.")
@click.option("--write/--no-write", default=True, show_default=True, help="Save probe.json into the artifact.")
@common_options
def probe_command(artifact, forget, per_family, write, out, version, seed, device, dtype, data_dir) -> None:
    """Attack a built guard: recall per attack family, false positives per benign family.

    \b
    Example:
      eco-pack probe dist/tiny-demo-eco-0.1.0
    """
    from packager.pipeline.probe_artifact import probe_artifact, render_probe

    report = probe_artifact(artifact, forget=forget, per_family=per_family, seed=seed, data_dir=data_dir, write=write)
    render_probe(report)
