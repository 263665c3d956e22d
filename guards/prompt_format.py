"""How a question becomes model input text, per model family.

TOFU's conventions are the defaults: Llama-2 ``[INST] q [/INST]`` and Phi ``Question: q\\nAnswer:``.
``chat_template`` defers to the tokenizer's own template. The format is recorded in the bundle
so that serving and evaluation format prompts the same way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from guards.errors import GuardConfigError

TEMPLATES: dict[str, str] = {
    "raw": "{question}",
    "llama2": "[INST] {question} [/INST]",
    "phi": "Question: {question}\nAnswer:",
}
FORMAT_NAMES = (*TEMPLATES, "chat_template", "template")


@dataclass(frozen=True)
class PromptFormat:
    """``name`` is one of FORMAT_NAMES; ``template`` (with ``{question}``) only for ``template``."""

    name: str = "raw"
    template: str | None = None

    def __post_init__(self) -> None:
        if self.name not in FORMAT_NAMES:
            raise GuardConfigError(f"unknown prompt format `{self.name}`; valid: {', '.join(FORMAT_NAMES)}")
        if self.name == "template" and (not self.template or "{question}" not in self.template):
            raise GuardConfigError("prompt format `template` needs a `template` containing {question}")

    def format(self, question: str, tokenizer=None) -> str:
        """The model input for one user question."""
        return self.format_messages([{"role": "user", "content": question}], tokenizer)

    def format_messages(self, messages: Sequence[Mapping[str, str]], tokenizer=None) -> str:
        """The model input for a chat, ending where the assistant's reply starts."""
        if self.name == "chat_template":
            if tokenizer is None or not getattr(tokenizer, "chat_template", None):
                raise GuardConfigError(
                    "prompt format `chat_template` needs a tokenizer with a chat template; "
                    "choose `llama2`, `phi`, `raw` or a `template`"
                )
            return tokenizer.apply_chat_template(list(messages), tokenize=False, add_generation_prompt=True)
        template = self.template if self.name == "template" else TEMPLATES[self.name]
        parts: list[str] = []
        system = " ".join(m["content"] for m in messages if m["role"] == "system")
        for message in messages:
            if message["role"] == "user":
                content = f"{system}\n\n{message['content']}" if system and not parts else message["content"]
                parts.append(template.format(question=content))
            elif message["role"] == "assistant":
                parts.append(" " + message["content"])
        return "".join(parts)

    def to_dict(self) -> dict:
        return {"name": self.name, "template": self.template}

    @classmethod
    def from_dict(cls, data: Mapping) -> PromptFormat:
        return cls(name=data.get("name", "raw"), template=data.get("template"))

    @classmethod
    def parse(cls, value: str) -> PromptFormat:
        """``--prompt-format``: a format name, or a template holding ``{question}`` (a typed ``\\n``
        counts as a newline, as a shell passes it)."""
        if "{question}" in value:
            return cls("template", template=value.replace("\\n", "\n"))
        if value in FORMAT_NAMES and value != "template":
            return cls(value)
        names = ", ".join(f"`{n}`" for n in FORMAT_NAMES if n != "template")
        raise GuardConfigError(
            f"`--prompt-format {value}` is neither a format name ({names}) nor a template with "
            "`{question}`, e.g. --prompt-format 'Question: {question}\\nAnswer:'"
        )
