"""``eco-pack serve ARTIFACT``: the artifact's guarded model behind an OpenAI-compatible API."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from packager.commands.options import PROMPT_FORMAT


@click.command()
@click.argument("artifact", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind; 0.0.0.0 exposes it.")
@click.option("--port", default=3000, show_default=True, type=click.IntRange(1, 65535))
@PROMPT_FORMAT
def serve(artifact: Path, host: str, port: int, prompt_format: str | None) -> None:
    """Serve ARTIFACT (a built dist/<name>-<version> folder) with BentoML.

    \b
    Example:
      eco-pack serve dist/demo-0.1.0 --port 3000
      curl localhost:3000/v1/models
    """
    from bentos.launch import serve as run_server

    click.echo(f"serving {artifact} on http://{host}:{port}/v1 (OpenAI-compatible); Ctrl-C stops", err=True)
    sys.exit(run_server(artifact, host=host, port=port, prompt_format=prompt_format))
