"""argparse types shared by the benchmarks' command lines."""

from __future__ import annotations

import argparse
from collections.abc import Callable


def positive_list(kind: type[int] | type[float], example: str) -> Callable[[str], tuple]:
    """An argparse ``type``: ``"7,10.5"`` -> (7.0, 10.5) for ``float``; ``""`` -> () (the option's
    step is skipped); a value that is not a ``kind`` or not above 0 is a usage error naming ``example``."""

    def parse(text: str) -> tuple:
        try:
            values = tuple(kind(part) for part in text.split(",") if part.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of numbers, "
                                             f"e.g. {example}") from None
        if any(value <= 0 for value in values):
            raise argparse.ArgumentTypeError(f"{text!r}: every value must be above 0, e.g. {example}")
        return values

    return parse
