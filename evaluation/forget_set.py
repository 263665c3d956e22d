"""The forget-set data model: questions with what is known about them, split by role, validated on
construction. Sources that read real data sets live in ``packager.sources``; metrics, fine-tuning and
the classifier all read this one type.

A set has a ``kind``, which picks its sigma objective and its metrics (docs/forget-sets.md):
- ``qa``: questions with free-text answers, measured by TOFU's forget quality and model utility;
- ``mc``: four-choice (or 2-10 choice) questions with a topic each, measured by accuracy per topic,
  as WMDP and the MMLU subsets are. ``forget`` holds the forget topics' questions, ``retain`` the
  retain topics', ``world_facts`` the general topics'; each ``QA`` carries its ``choices`` and its
  ``answer`` is the text of the correct one;
- ``text``: passages of a corpus, each split into a prefix (``question``) and the continuation that
  follows it (``answer``), with the book or document it comes from as ``topic``; measured by MUSE's
  VerbMem. ``forget`` holds the forget corpus, ``retain`` the retain corpus, ``holdout`` passages no
  model trains on; ``forget_eval`` and ``retain_eval`` hold questions about each corpus (KnowMem).
"""

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
    choices: tuple[str, ...] = ()  # a multiple-choice question's options; ``answer`` is one of them
    topic: str | None = None  # what a multiple-choice question is about (e.g. an MMLU subject)

    @property
    def answer_index(self) -> int:
        """The correct option's position in ``choices``."""
        return self.choices.index(self.answer)


@dataclass(frozen=True)
class ForgetSet:
    """A forget set of one ``kind``. Construction validates it, so a ForgetSet in hand is usable."""

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
    kind: str = "qa"  # one of KINDS

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ForgetSetError(f"forget set `{self.name}`: kind must be one of {', '.join(KINDS)}, not `{self.kind}`")
        if self.kind == "mc":
            _check_choices(self.name, {"forget": self.forget, "retain": self.retain, "general": self.world_facts})
        if self.kind == "text":
            _check_passages(self.name, {"forget": self.forget, "retain": self.retain, "holdout": self.holdout})
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


KINDS = ("qa", "mc", "text")
MAX_CHOICES = 10  # options are lettered A-J


def _check_choices(name: str, roles: dict[str, tuple[QA, ...]]) -> None:
    """Every question of a multiple-choice set has 2-10 options, one of them its answer."""
    for role, items in roles.items():
        for qa in items:
            if not 2 <= len(qa.choices) <= MAX_CHOICES or qa.answer not in qa.choices:
                raise ForgetSetError(
                    f"forget set `{name}` ({role}): question {qa.question!r} needs 2-{MAX_CHOICES} `choices` "
                    f"with its `answer` among them (got {len(qa.choices)} choices, answer {qa.answer!r})"
                )


def _check_passages(name: str, roles: dict[str, tuple[QA, ...]]) -> None:
    """Every passage of a text corpus has a prefix and a continuation, and there are holdout passages."""
    if not roles["holdout"]:
        raise ForgetSetError(
            f"forget set `{name}` is a text corpus without holdout passages; add passages of the same kind that no "
            "model trains on (`split: holdout`): their VerbMem is the level the forget corpus is tuned towards"
        )
    for role, items in roles.items():
        for qa in items:
            if not qa.answer.strip():
                raise ForgetSetError(
                    f"forget set `{name}` ({role}): the passage starting {qa.question[:40]!r} has no continuation; "
                    "give each passage at least two sentences, or a `prefix` and a `continuation`"
                )


def normalize(text: str) -> str:
    """The key under which two prompts count as the same prompt."""
    return " ".join(text.split()).casefold()
