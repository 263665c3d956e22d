"""Options every command shares, spelled once: --out, --version, --seed, --device, --dtype, --data-dir."""

from __future__ import annotations

from collections.abc import Callable
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
