"""Exact forget facts: a date (or a year) and a place that a forget prompt or answer gives together.

A small encoder learns names well and exact dates badly: "Who is the writer born on March 19,
1960 in Seoul?" asks about a forget author, and "the author born in Seoul on October 23, 1956"
about somebody else, one digit-heavy span apart. A prompt that gives a forget fact's date (in
any common spelling) and names its place is in scope whatever its wording, so the classifier
scores it 1. A text that gives only a year ("born in Beirut, Lebanon in 1946") makes a fact of
the year. The facts sit in the classifier folder (``eco_facts.json``), under the bundle's
checksums; a classifier folder without the file has no facts.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from guards.dates import dates_in, years_in
from guards.entities import normalize_words
from guards.errors import BundleError

FACTS_FILE = "eco_facts.json"


def _words(text: str) -> str:
    return " ".join(normalize_words(text))


@functools.lru_cache(maxsize=4096)  # every prompt is matched against the same few places
def _place_pattern(place: str) -> re.Pattern[str]:
    return re.compile(rf"\b{re.escape(_words(place))}\b")


@dataclass(frozen=True)
class Fact:
    """A date (every reading of it) or a bare year, and the places (lower case) one forget text
    gives together."""

    dates: frozenset[date]
    places: tuple[str, ...]
    years: frozenset[int] = frozenset()

    def matches(self, words: str, dates: set[date], years: set[int]) -> bool:
        """True when ``words`` (a text's normalised words, with ``dates`` and ``years`` read from
        it) give this fact's date or year and one of its places, whatever their case, accents or
        punctuation ("taipei taiwan" is "Taipei, Taiwan")."""
        when = self.dates & dates or self.years & years
        return bool(when) and any(_place_pattern(p).search(words) for p in self.places)


@dataclass(frozen=True)
class FactMatcher:
    facts: tuple[Fact, ...] = ()

    def matching(self, text: str) -> list[Fact]:
        """The facts whose date (or year) and place ``text`` gives."""
        if not self.facts:
            return []
        dates = dates_in(text)
        years = years_in(text, dates)  # every date holds a year
        if not years:
            return []
        words = _words(text)
        return [fact for fact in self.facts if fact.matches(words, dates, years)]

    def __call__(self, texts: Sequence[str]) -> list[bool]:
        """Per text: does it give some fact's date (or year) and place?"""
        return [bool(self.matching(text)) for text in texts]

    def to_dict(self) -> dict:
        facts = [
            {"dates": sorted(d.isoformat() for d in f.dates), "years": sorted(f.years), "places": list(f.places)}
            for f in self.facts
        ]
        return {"schema": 1, "facts": facts}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2) + "\n"

    def save(self, folder: Path) -> None:
        (Path(folder) / FACTS_FILE).write_text(self.to_json())

    @classmethod
    def of(cls, facts: Iterable[Fact]) -> FactMatcher:
        return cls(tuple(dict.fromkeys(facts)))

    @classmethod
    def load(cls, folder: Path) -> FactMatcher:
        """The facts saved in ``folder``; none when it has no facts file."""
        path = Path(folder) / FACTS_FILE
        if not path.is_file():
            return cls()
        try:
            data = json.loads(path.read_text())
            if data.get("schema") != 1:
                raise ValueError(f"unknown schema {data.get('schema')!r}")
            return cls.of(
                Fact(
                    frozenset(date.fromisoformat(d) for d in f["dates"]),
                    tuple(str(p).lower() for p in f["places"]),
                    frozenset(int(y) for y in f.get("years", ())),
                )
                for f in data["facts"]
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise BundleError(f"{path} is not a valid facts file ({exc}); rebuild the classifier", str(path)) from None
