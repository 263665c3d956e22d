"""Forget entities found in a prompt however they are written: case, accents, punctuation and
spacing ignored; a few character edits allowed (more for longer names, a swap of two letters
counting as one); given names as initials ("H. Y. Lind"); and a given name or surname alone when
the build found it distinctive. A prompt that names a forget entity scores 1 (``PromptClassifier``).

The build decides which name parts may match alone (``packager.classifier.entities``): a part that
is a common word, or that other people in the data share, is never enough by itself, so someone
else who shares one part of a forget entity's name stays out of scope.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from anyascii import anyascii
from rapidfuzz.distance import OSA

ENTITIES_FILE = "eco_entities.json"
_NON_WORD = re.compile(r"[^0-9a-z]+")


def normalize_words(text: str) -> list[str]:
    """Lower-case ASCII words: transliterated (anyascii), accents and punctuation dropped. A
    character of a script without spaces (Chinese, Japanese, ...) is a word of its own, so a name
    written next to it ("你知道Nerys的...") stays a word."""
    spaced = "".join(f" {c} " if unicodedata.category(c) == "Lo" else c for c in text)
    return [w for w in _NON_WORD.split(anyascii(spaced).lower()) if w]


def allowed_edits(length: int, *, alone: bool = False) -> int:
    """Edits tolerated in a name of ``length`` letters; a lone name part gets one fewer."""
    edits = 0 if length < 5 else 1 if length < 9 else 2 if length < 14 else 3
    return max(0, edits - 1) if alone else edits


@dataclass(frozen=True)
class Entity:
    name: str
    alone: tuple[str, ...] = ()  # normalised name parts that name this entity by themselves


@dataclass(frozen=True)
class _Compiled:
    words: tuple[str, ...]
    joined: str
    initials: str  # first letters of every word but the last
    surname: str
    alone: tuple[str, ...]


class EntityMatcher:
    """``EntityMatcher([Entity("Hsiao Yun-Hwa", ("hsiao",))]).matching(["Who is hsiao yun hwq?"]) -> [True]``."""

    def __init__(self, entities: Sequence[Entity]) -> None:
        self.entities = tuple(entities)
        self._compiled = []
        for entity in self.entities:
            words = tuple(normalize_words(entity.name))
            if words:
                self._compiled.append(_Compiled(words, "".join(words), "".join(w[0] for w in words[:-1]), words[-1],
                                                tuple(entity.alone)))  # fmt: skip

    def _names(self, entity: _Compiled, words: list[str]) -> bool:
        k, budget = len(entity.words), allowed_edits(len(entity.joined))
        for size in {max(1, k - 1), k, k + 1}:  # spacing may join or split a word ("YunHwa", "Al Kuwaiti")
            for start in range(len(words) - size + 1):
                window = "".join(words[start : start + size])
                if OSA.distance(window, entity.joined, score_cutoff=budget) <= budget:
                    return True
        if len(entity.words) > 1:
            surname_budget = allowed_edits(len(entity.surname))
            for i, word in enumerate(words):
                if OSA.distance(word, entity.surname, score_cutoff=surname_budget) > surname_budget:
                    continue
                for n in range(1, len(entity.words)):  # "h y lind", "hy lind"
                    if i - n >= 0 and "".join(words[i - n : i]) == entity.initials:
                        return True
        for part in entity.alone:
            budget = allowed_edits(len(part), alone=True)
            if any(OSA.distance(word, part, score_cutoff=budget) <= budget for word in words):
                return True
        return False

    def matching(self, texts: Sequence[str]) -> list[bool]:
        """Whether each text names a forget entity."""
        found = []
        for text in texts:
            words = normalize_words(text)
            found.append(any(self._names(entity, words) for entity in self._compiled))
        return found

    def save(self, folder: Path) -> Path:
        path = Path(folder) / ENTITIES_FILE
        path.write_text(json.dumps({"entities": [asdict(e) for e in self.entities]}, indent=2) + "\n")
        return path

    @classmethod
    def load(cls, folder: Path) -> EntityMatcher | None:
        path = Path(folder) / ENTITIES_FILE
        if not path.is_file():
            return None
        data = json.loads(path.read_text())
        return cls([Entity(e["name"], tuple(e.get("alone", ()))) for e in data["entities"]])
