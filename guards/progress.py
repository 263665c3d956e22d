"""The model libraries' own progress bars, off where they would be noise."""

from __future__ import annotations


def quiet_progress_bars() -> None:
    """transformers' and the Hub's progress bars off (loading weights, downloads): a server's log is read
    line by line, where they print as carriage-return noise, and the CLI shows its own progress. Kept
    apart from the model loader so that turning them off imports transformers but not torch."""
    from huggingface_hub.utils import disable_progress_bars
    from transformers.utils import logging as hf_logging

    disable_progress_bars()
    hf_logging.disable_progress_bar()
