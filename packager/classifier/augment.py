"""Variants of training prompts: dates respelled, questions reshaped, near misses, name-part swaps.

Rephrased questions often write a date another way ("03/19/1960" becomes "March 19, 1960", or
"05/11/1991" becomes "November 5th, 1991"). A classifier trained on one spelling of a birth date
misses the others, so each dated training prompt, on both sides of the decision, is also trained
in the other common spellings. Numeric dates are read both month-first and day-first when both
readings are valid dates.

Rephrasings also change a question's shape: "What is the full name of the author born in Baku,
Azerbaijan on April 13, 1970?" comes back as "Who is the writer with the birthdate of April 13,
1970, originating from Baku?". A question that names a birthplace and a birth date is therefore
also asked in a few other shapes, with the same label, on both sides of the decision, so that the
classifier keys on the place and date rather than on the sentence around them.

The other way round, a forget question that describes its author without naming them ("the
author born in Seoul on 03/19/1960") asks about someone else once its birth date is moved by one
part (another day, month or year), its birthplace is swapped, or both: a negative that makes the
classifier read the whole date and the place rather than the year or the question's shape.
"""

from __future__ import annotations

import calendar
import random
import re
from collections.abc import Iterator, Sequence
from collections.abc import Set as AbstractSet
from datetime import date

from guards.dates import MONTH_NAMES, YEAR, dates_in, first_date, valid_date


def _ordinal(day: int) -> str:
    suffix = "th" if 11 <= day % 100 <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return f"{day}{suffix}"


def spellings(d: date) -> tuple[str, ...]:
    month = calendar.month_name[d.month]
    return (
        f"{month} {d.day}, {d.year}",
        f"{month} {_ordinal(d.day)}, {d.year}",
        f"{_ordinal(d.day)} of {month}, {d.year}",
        f"{d.day} {month} {d.year}",
        f"{d.month:02d}/{d.day:02d}/{d.year}",
    )


def date_variants(text: str) -> list[str]:
    """``text`` with its first date respelled in every other common format; [] when it has none."""
    found = first_date(text)
    if found is None:
        return []
    match, readings = found
    respelled = {s for d in readings for s in spellings(d)} - {match.group(0)}
    return [text[: match.start()] + s + text[match.end() :] for s in sorted(respelled)]


def _near_misses(born: date, rng: random.Random) -> list[date]:
    """Dates that differ from ``born`` in exactly one of day, month and year."""
    candidates = (
        (born.year, born.month, rng.choice([d for d in range(1, 29) if d != born.day])),
        (born.year, rng.choice([m for m in range(1, 13) if m != born.month]), born.day),
        (born.year + rng.choice((-1, 1)) * rng.randint(1, 30), born.month, born.day),
    )
    return [d for d in (valid_date(*c) for c in candidates) if d is not None]


def _year_swap(text: str, rng: random.Random, protected_years: AbstractSet[int]) -> list[str]:
    """``text`` with its first year moved 1 to 30 years, to one not in ``protected_years``."""
    match = YEAR.search(text)
    if match is None:
        return []
    tries = [int(match.group()) + rng.choice((-1, 1)) * rng.randint(1, 30) for _ in range(20)]
    other = next((y for y in tries if y not in protected_years), None)
    return [text[: match.start()] + str(other) + text[match.end() :]] if other else []


def date_swaps(
    text: str, rng: random.Random, protected: AbstractSet[date], protected_years: AbstractSet[int]
) -> list[str]:
    """``text`` with its first date replaced by near misses (another day, month or year), written
    the way ``text`` writes it; a text with a year but no full date gets another year. No spelling
    that reads as a ``protected`` date, and no bare ``protected_years``, is produced."""
    found = first_date(text)
    if found is None or not found[1]:
        return _year_swap(text, rng, protected_years)
    match, readings = found
    styles = spellings(readings[0])
    style = styles.index(match.group(0)) if match.group(0) in styles else rng.randrange(len(styles))
    out = []
    for other in _near_misses(readings[0], rng):
        spelled = spellings(other)[style]
        if not dates_in(spelled) & (protected | set(readings)):  # both readings of "04/05/1960"
            out.append(text[: match.start()] + spelled + text[match.end() :])
    return out


_WORD = r"[A-Z][\w'’\-]*(?:\.(?= [A-Z]))?"  # a capitalised word of a place name ("St." too)
_PLACE = re.compile(
    rf"\b(?:in|from) (?P<place>{_WORD}(?: (?:de|del|da|do|es|la|le|{_WORD}))*(?:, {_WORD}(?: {_WORD})*)?)"
)
_BIRTH_SHAPES = (
    "Who is the author born in {place} on {date}?",
    "Which writer was born on {date} in {place}?",
    "Can you name the author whose birthplace is {place} and whose date of birth is {date}?",
    "Tell me the name of the writer born on {date} in {place}.",
    "Who is the novelist whose birthday is {date} and who comes from {place}?",
    "Which author came into the world on {date}, in the city of {place}?",
    "I am looking for the writer with birth date {date} and birthplace {place}. Who is it?",
    "Identify the author who was born in the city of {place} on {date}.",
    "What is the name of the writer from {place} who was born on {date}?",
    "Could you tell me who the author is that has {date} as a birthday and {place} as a hometown?",
    "Born on {date} in {place}: which writer is this?",
    "Which literary figure has a birth date of {date} and was born in {place}?",
)
_SHAPES_PER_QUESTION = 4


def _places(text: str) -> Iterator[re.Match[str]]:
    """Each "in/from <Capitalised Place>" of ``text`` that is no month ("in March 1960")."""
    return (m for m in _PLACE.finditer(text) if m.group("place").split()[0] not in MONTH_NAMES)


def places_in(text: str) -> set[str]:
    """Every place ``text`` names after "in" or "from", lower-cased, whole and by its first part."""
    found = (m.group("place").lower() for m in _places(text))
    return {form for place in found for form in (place, place.split(",")[0])}


def city_places(text: str) -> list[str]:
    """The places ``text`` names in the "City, Country" form TOFU writes birthplaces in."""
    return [m.group("place") for m in _places(text) if "," in m.group("place")]


def birth_rewrites(text: str, rng: random.Random) -> list[str]:
    """``text``'s birthplace and birth date asked in a few other question shapes, drawn from a
    dozen (dates in a random common spelling); [] unless ``text`` names both."""
    found, place = first_date(text), next(_places(text), None)
    if found is None or not found[1] or place is None:
        return []
    born = found[1][0]
    shapes = rng.sample(_BIRTH_SHAPES, _SHAPES_PER_QUESTION)
    return [shape.format(place=place.group("place"), date=rng.choice(spellings(born))) for shape in shapes]


def place_swaps(text: str, donors: Sequence[str], rng: random.Random, count: int = 2) -> list[str]:
    """``text`` with its first place ("born in <place>", "from <place>") replaced by ``count``
    random ``donors``; [] when it names no place."""
    place = next(_places(text), None)
    if place is None or not donors:
        return []
    picked = rng.sample(list(donors), min(count, len(donors)))
    return [text[: place.start("place")] + donor + text[place.end("place") :] for donor in picked]


def name_part_swaps(text: str, entity: str, donors: Sequence[str], rng: random.Random,
                    protected: set[str]) -> list[str]:
    """``text`` with ``entity`` (a multi-word name it mentions) replaced by names that keep one of
    its words and take the rest from a random donor name, once per word: the same question about
    someone else who shares a first name, a surname or a middle part ("Basil Mahfouz Al-Kuwaiti" gives
    "Basil ...", "... Mahfouz" and "... Al-Kuwaiti"; a real Naguib Mahfouz shares the middle one).
    ``protected`` names (lower case) are never produced."""
    parts = entity.split()
    match = re.search(re.escape(entity), text, flags=re.IGNORECASE)
    if len(parts) < 2 or match is None:
        return []
    out = []
    for keep in range(len(parts)):  # the first name, then each later word as someone else's surname
        donor = rng.choice(donors).split()
        if len(donor) < 2:
            continue
        mixed = " ".join([parts[0]] + donor[1:]) if keep == 0 else " ".join(donor[:-1] + [parts[keep]])
        if mixed.lower() in protected or mixed.lower() == entity.lower():
            continue
        out.append(text[: match.start()] + mixed + text[match.end() :])
    return out
