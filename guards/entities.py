"""Forget entities found in a prompt however they are written: case, accents, punctuation and
spacing ignored; a few character edits allowed (more for longer names, a swap of two letters
counting as one); a middle name dropped ("Edward Sullivan"); given names as initials ("H. Y. Lind",
and a hyphenated given name as one initial or one per part: "J. Park", "J.-Y. Park"); and a given
name or surname alone when the build found it distinctive. A prompt that names a forget entity
scores 1 (``PromptClassifier``).

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

import numpy as np
from anyascii import anyascii
from rapidfuzz import process
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
    forms: tuple[tuple[str, int], ...]  # (joined, words): the whole name; also without middle names
    surname: str  # the last name as written ("Yun-Hwa"), joined: "yunhwa"
    surname_words: int
    initials: frozenset[str]  # the given names as initials: every one, the first, or the last
    alone: tuple[str, ...]


def _initials(given: list[list[str]]) -> frozenset[str]:
    """Each given name (a list of its hyphen parts) as one initial or an initial per part, for
    every given name, the first alone and the last alone."""
    options = [{parts[0][0], "".join(p[0] for p in parts)} for parts in given]

    def spelled(chosen: list[set[str]]) -> set[str]:
        out = {""}
        for choice in chosen:
            out = {prefix + c for prefix in out for c in choice}
        return out

    return frozenset(spelled(options) | spelled(options[:1]) | spelled(options[-1:])) if given else frozenset()


def _compiled(entity: Entity) -> _Compiled | None:
    names = [parts for parts in (normalize_words(word) for word in entity.name.split()) if parts]
    if not names:
        return None
    kept = [names, [names[0], names[-1]]] if len(names) > 2 else [names]
    forms = tuple(("".join(p for parts in words for p in parts), sum(map(len, words))) for words in kept)
    return _Compiled(forms, "".join(names[-1]), len(names[-1]), _initials(names[:-1]), tuple(entity.alone))


def _windows(words: list[str], sizes: Sequence[int]) -> tuple[list[int], list[int], list[str]]:
    """(starts, sizes, joined) of each run of ``sizes`` consecutive words."""
    starts, lengths, joined = [], [], []
    for size in sizes:
        for start in range(len(words) - size + 1):
            starts.append(start)
            lengths.append(size)
            joined.append("".join(words[start : start + size]))
    return starts, lengths, joined


@dataclass(frozen=True)
class _Target:
    """One string a window of words is compared with: a whole name form, a surname (then given
    names as initials must come before it), or a name part that counts alone."""

    text: str
    budget: int  # edits allowed
    sizes: frozenset[int]  # window sizes (in words) compared with it
    initials: frozenset[str] = frozenset()  # a surname: the initials that must come before it


def _targets(entity: _Compiled) -> list[_Target]:
    targets = [_Target(form, allowed_edits(len(form)), frozenset({max(1, k - 1), k, k + 1}))
               for form, k in entity.forms]  # spacing may join or split a word ("YunHwa", "Al Kuwaiti")
    if entity.initials:
        n = entity.surname_words
        targets.append(_Target(entity.surname, allowed_edits(len(entity.surname)),
                               frozenset({max(1, n - 1), n, n + 1}), entity.initials))
    targets += [_Target(part, allowed_edits(len(part), alone=True), frozenset({1})) for part in entity.alone]
    return targets  # fmt: skip


class EntityMatcher:
    """``EntityMatcher([Entity("Hsiao Yun-Hwa", ("hsiao",))]).matching(["Who is hsiao yun hwq?"]) -> [True]``.

    Every window of a text is compared with every entity's names in one ``rapidfuzz`` call
    (``process.cdist``), so a request costs one pass in C rather than a Python loop per entity."""

    def __init__(self, entities: Sequence[Entity]) -> None:
        self.entities = tuple(entities)
        self._targets = [t for c in map(_compiled, self.entities) if c is not None for t in _targets(c)]
        self._sizes = sorted({size for t in self._targets for size in t.sizes})
        self._budgets = np.array([t.budget for t in self._targets])
        self._allowed = {size: np.array([size in t.sizes for t in self._targets]) for size in self._sizes}

    def _names(self, words: list[str]) -> bool:
        starts, sizes, joined = _windows(words, self._sizes)
        if not joined or not self._targets:
            return False
        distances = process.cdist(joined, [t.text for t in self._targets], scorer=OSA.distance,
                                  score_cutoff=int(self._budgets.max()), dtype=np.int32)  # fmt: skip
        close = (distances <= self._budgets) & np.stack([self._allowed[size] for size in sizes])
        for row, column in zip(*np.nonzero(close), strict=True):
            initials, start = self._targets[column].initials, starts[row]
            if not initials:
                return True
            longest = max(map(len, initials))
            if any("".join(words[start - i : start]) in initials for i in range(1, min(start, longest) + 1)):
                return True  # "h y lind", "hy lind", "j park"
        return False

    def matching(self, texts: Sequence[str]) -> list[bool]:
        """Whether each text names a forget entity."""
        return [self._names(normalize_words(text)) for text in texts]

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
