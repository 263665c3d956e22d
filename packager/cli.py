"""The ``eco-pack`` command line: a thin layer over the packager library.

Each command parses options, calls one library function and prints the result. Errors that
eco-pack raises on purpose are turned into one readable line here, once.
"""

from __future__ import annotations

import sys

import click
from rich.console import Console

from guards.errors import EcoPackError
from packager.commands.build import build, eval_artifact, inspect_artifact, probe_command
from packager.commands.distribute import deploy, pull, push
from packager.commands.models import finetune, models
from packager.commands.serve import serve

console = Console(stderr=True)


# The commands that load models or talk to the Hub in this process. The others (serve's launcher, deploy,
# inspect, models) load none, so they skip the quieting and its import of transformers (half a second).
LIBRARY_COMMANDS = {"build", "eval", "finetune", "probe", "pull", "push"}


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="eco-pack", prog_name="eco-pack", message="%(prog)s %(version)s")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Turn a language model plus a forget set into a guarded, servable model artifact (ECO).

    \b
    Example:
      eco-pack build --model tiny --forget demo
    """
    if ctx.invoked_subcommand in LIBRARY_COMMANDS:
        _quiet_libraries()


for command in (build, deploy, eval_artifact, finetune, inspect_artifact, models, probe_command, pull, push, serve):
    cli.add_command(command)


def _quiet_libraries() -> None:
    """Our rich progress is the progress; the libraries' own bars and load reports are noise."""
    from transformers.utils import logging as hf_logging

    from guards.progress import quiet_progress_bars

    quiet_progress_bars()
    hf_logging.set_verbosity_error()


def main() -> None:
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        console.print("[red]aborted[/red]: nothing was published")
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except EcoPackError as exc:
        console.print(f"[bold red]error:[/bold red] {exc}")
        sys.exit(1)
    except KeyboardInterrupt:
        console.print("[red]interrupted[/red]: nothing was published")
        sys.exit(130)
