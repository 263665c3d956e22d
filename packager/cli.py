"""The ``eco-pack`` command line: a thin layer over the packager library.

Each command parses options, calls one library function and prints the result. Errors that
eco-pack raises on purpose are turned into one readable line here, once.
"""

from __future__ import annotations

import sys

import click
from rich.console import Console

from guards.errors import EcoPackError

console = Console(stderr=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="eco-pack", prog_name="eco-pack", message="%(prog)s %(version)s")
def cli() -> None:
    """Turn a language model plus a forget set into a guarded, servable model artifact (ECO).

    \b
    Example:
      eco-pack build --model tiny --forget demo
    """


# Commands register here, one line each (keep this block sorted).
# -- commands --


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
