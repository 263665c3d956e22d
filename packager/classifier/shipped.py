"""What a bundle ships in place of the trained classifier's matchers.

Training saves the forget text and facts that the report, the false-positive rates and the
conformal threshold were measured with: all but what the build held out (``forget_text.measured_text``,
``facts.forget_facts``). The served guard matches the whole forget set, since every forget question
is in scope, held out or not: on forget prompts it is at least as strict as the guard measured.
"""

from __future__ import annotations

from pathlib import Path

from evaluation.forget_set import ForgetSet
from guards.facts import FACTS_FILE
from guards.forget_text import TEXT_FILE
from packager.classifier.facts import served_facts
from packager.classifier.forget_text import forget_text


def shipped_files(classifier_dir: Path, forget_set: ForgetSet) -> dict[str, str]:
    """The files (name: text) a bundle ships in place of the trained classifier's: the whole forget
    text and every forget fact, where training saved the measured part (none where matching was off)."""
    folder = Path(classifier_dir)
    files = {}
    if (folder / TEXT_FILE).is_file():
        files[TEXT_FILE] = forget_text(forget_set).to_json()
    if (folder / FACTS_FILE).is_file():
        files[FACTS_FILE] = served_facts(forget_set).to_json()
    return files
