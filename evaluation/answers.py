"""How an answer follows a formatted prompt: one rule shared by fine-tuning and scoring, so a model
is scored on exactly the text it was trained on."""

from __future__ import annotations

from guards.prompt_format import PromptFormat


def answer_text(answer: str, prompt_format: PromptFormat) -> str:
    """The continuation that follows a formatted prompt: one space, none after a chat template."""
    return answer if prompt_format.name == "chat_template" else " " + answer


def answer_continuation(prompt_format: PromptFormat, answer: str, eos: str | None = None) -> str:
    """The scored continuation for ``answer`` after a prompt in ``prompt_format`` (EOS appended)."""
    return answer_text(answer, prompt_format) + (eos or "")
