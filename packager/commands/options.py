"""Options spelled once: those every command shares (--out, --version, --seed, --device, --dtype,
--data-dir), and options made from a config dataclass's documented fields (``config_options``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import MISSING, fields
from pathlib import Path

import click

COMMON = [
    click.option(
        "--out",
        default="dist",
        show_default=True,
        type=click.Path(path_type=Path),
        help="Folder that artifacts are written to.",
    ),
    click.option("--version", "version", help="Semantic version of the artifact (default: next patch)."),
    click.option("--seed", default=0, show_default=True, help="Seed for data splits, training and noise."),
    click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True),
    click.option("--dtype", default="auto", show_default=True, help="auto | float32 | bfloat16 | float16"),
    click.option(
        "--data-dir",
        envvar="ECO_PACK_DATA_DIR",
        type=click.Path(path_type=Path),
        help="Local TOFU JSON Lines folder (default: $ECO_PACK_DATA_DIR, else the Hub).",
    ),
]


def common_options(command: Callable) -> Callable:
    for option in reversed(COMMON):
        command = option(command)
    return command


PROMPT_FORMAT = click.option(
    "--prompt-format",
    help="How a question becomes the model's input: llama2 | phi | raw | chat_template, or a template with "
    "{question}, e.g. 'Question: {question}\\nAnswer:' (default: the one recorded in the artifact).",
)


def config_options(config_type: type) -> Callable:
    """A click option for each field of ``config_type`` declared with ``setting(..., help)``.

    The field's default, help text and (optional) ``type``, ``choices`` or ``flag`` come from its
    declaration, so an option is documented once; fields with ``cli=False`` are left to COMMON.
    """

    def decorate(command: Callable) -> Callable:
        for f in reversed(fields(config_type)):
            meta = f.metadata
            if "help" not in meta or meta.get("cli", True) is False:
                continue
            default = None if f.default is MISSING else f.default
            kwargs = {"default": default, "show_default": default is not None, "help": meta["help"]}
            if "flag" in meta:
                decl = meta["flag"]
                kwargs |= {} if "/" in decl else {"is_flag": True}
            else:
                decl = "--" + f.name.replace("_", "-")
                kind = meta.get("type") or (type(default) if default is not None else str)
                kwargs["type"] = click.Choice(list(meta["choices"])) if "choices" in meta else kind
            command = click.option(decl, f.name, **kwargs)(command)
        return command

    return decorate
