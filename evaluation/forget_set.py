"""The forget-set data model: questions with what is known about them, split by role, validated on
construction. Sources that read real data sets live in ``packager.sources``; metrics, fine-tuning and
the classifier all read this one type."""

from __future__ import annotations

from dataclasses import dataclass

from guards.errors import EcoPackError


class ForgetSetError(EcoPackError, ValueError):
    """A forget set is malformed or could not be read; the message names the problem and the fix."""


@dataclass(frozen=True)
class QA:
    """One question (a prompt) with what we know about it."""

    question: str
    answer: str = ""
    paraphrased_question: str | None = None
    paraphrased_answer: str | None = None
    perturbed_answers: tuple[str, ...] = ()
    entity: str | None = None  # whom/what the question is about, when known


@dataclass(frozen=True)
class ForgetSet:
    """A TOFU-shaped forget set. Construction validates it, so a ForgetSet in hand is usable."""

    name: str  # "tofu:forget10", "demo", "custom:<path>"
    forget: tuple[QA, ...]  # forget-scope training questions
    retain: tuple[QA, ...]  # in-domain questions that must keep working
    forget_eval: tuple[QA, ...] = ()  # forget QA with paraphrases and perturbed answers
    retain_eval: tuple[QA, ...] = ()  # retain QA with paraphrases and perturbed answers
    holdout: tuple[QA, ...] = ()  # same domain, never trained on
    real_authors: tuple[QA, ...] = ()  # general knowledge about real people, with perturbed answers
    world_facts: tuple[QA, ...] = ()  # general world knowledge, with perturbed answers
    general: tuple[str, ...] = ()  # everyday prompts (negatives)
    entities: tuple[str, ...] = ()  # names in the forget scope, for entity_spans selection

    def __post_init__(self) -> None:
        if not self.forget:
            raise ForgetSetError(
                f"forget set `{self.name}` has no forget prompts; give at least one forget question"
            )
        forget = {normalize(qa.question) for qa in self.forget}
        clash = sorted(qa.question for qa in self.retain if normalize(qa.question) in forget)
        if clash:
            shown = "; ".join(repr(q) for q in clash[:3])
            raise ForgetSetError(
                f"forget set `{self.name}`: {len(clash)} prompt(s) are in both forget and retain "
                f"(e.g. {shown}); remove each from one of the two lists"
            )

    @property
    def train_qa(self) -> tuple[QA, ...]:
        """What a subject model is fine-tuned on: forget + retain."""
        return self.forget + self.retain


def normalize(text: str) -> str:
    """The key under which two prompts count as the same prompt."""
    return " ".join(text.split()).casefold()
