"""Which forget text the guard finds word for word (``guards.forget_text``).

The guard matches the forget prompts whole and the runs of forget answers that no text outside the
forget scope holds (a run such a text holds would flag it). Runs of questions are not kept: questions
share long templates ("what is the full name of the LGBTQ+ author who was born in"), so a run of
one flags other people's questions, while the whole question still counts. Training saves the forget
text less what the build holds out to measure the guard (``measured_text``): the report's held-out
forget prompts, the calibration prompts when they are held-out originals, and, among the outside
texts that decide which runs are shared, the held-out negatives; so the report, the false-positive
rates and the conformal threshold describe the guard on prompts it never saw. The bundle then ships
the whole forget text (``forget_text``): on forget prompts the served guard is at least as strict
as the one measured.
"""

from __future__ import annotations

from collections.abc import Iterable

from evaluation.forget_set import ForgetSet, normalize
from evaluation.names import outside_texts
from guards.forget_text import ForgetText, runs_of, words_of
from packager.classifier.data import ClassifierData


def forget_text(
    forget_set: ForgetSet, held_out: Iterable[str] = (), outside: Iterable[str] | None = None
) -> ForgetText:
    """``forget_set``'s forget prompts (less ``held_out``) and their answers' runs, less whatever
    an ``outside`` text holds (default: every text outside the forget scope)."""
    held = {normalize(text) for text in held_out}
    qas = [qa for qa in forget_set.forget if normalize(qa.question) not in held]
    runs = {run for qa in qas for run in runs_of(words_of(qa.answer))}
    candidates = ForgetText.of((qa.question for qa in qas), runs)
    outside_word_lists = [words_of(text) for text in (outside_texts(forget_set) if outside is None else outside)]
    shared_runs = {run for words in outside_word_lists for run in runs_of(words)}
    shared_prompts = {found for words in outside_word_lists for found in candidates.prompts_in(words)}
    return candidates.without(shared_prompts, shared_runs)


def measured_text(forget_set: ForgetSet, data: ClassifierData) -> ForgetText:
    """The forget text training saves: all but what ``data`` holds out to measure the guard."""
    held_out = list(data.test_forget) + (list(data.calibration) if data.calibration_source == "forget" else [])
    unseen = {normalize(t) for group in (*data.negatives.values(), *data.calibration_negatives.values()) for t in group}
    outside = [text for text in outside_texts(forget_set) if normalize(text) not in unseen]
    return forget_text(forget_set, held_out, outside)
