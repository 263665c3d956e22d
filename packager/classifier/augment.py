"""Variants of training prompts: dates respelled, and names that share a word with a forget name.

Rephrased questions often write a date another way ("03/19/1960" becomes "March 19, 1960", or
"05/11/1991" becomes "November 5th, 1991"). A classifier trained on one spelling of a birth date
misses the others, so each dated training prompt, on both sides of the decision, is also trained
in the other common spellings. Numeric dates are read both month-first and day-first when both
readings are valid dates.
"""

from __future__ import annotations

import calendar
import random
import re
from collections.abc import Sequence
from datetime import date

_MONTHS = "|".join(calendar.month_name[1:])
_DAY = r"(?P<day>\d{1,2})(?:st|nd|rd|th)?"
_PATTERNS = (
    re.compile(rf"\b(?P<month>{_MONTHS}) {_DAY},? (?P<year>\d{{4}})\b"),
    re.compile(rf"\b{_DAY} (?:of )?(?P<month>{_MONTHS}),? (?P<year>\d{{4}})\b"),
    re.compile(r"\b(?P<a>\d{1,2})/(?P<b>\d{1,2})/(?P<year>\d{4})\b"),
    re.compile(r"\b(?P<year>\d{4})-(?P<a>\d{2})-(?P<b>\d{2})\b"),
)


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


def _valid(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _readings(match: re.Match[str]) -> list[date]:
    groups = match.groupdict()
    year = int(groups["year"])
    if groups.get("month"):
        found = _valid(year, list(calendar.month_name).index(groups["month"]), int(groups["day"]))
        return [found] if found else []
    a, b = int(groups["a"]), int(groups["b"])
    if "-" in match.group(0):  # ISO: year-month-day
        found = _valid(year, a, b)
        return [found] if found else []
    return list(dict.fromkeys(d for d in (_valid(year, a, b), _valid(year, b, a)) if d))


def date_variants(text: str) -> list[str]:
    """``text`` with its first date respelled in every other common format; [] when it has none."""
    for pattern in _PATTERNS:
        match = pattern.search(text)
        if match is None:
            continue
        respelled = {s for d in _readings(match) for s in spellings(d)} - {match.group(0)}
        return [text[: match.start()] + s + text[match.end() :] for s in sorted(respelled)]
    return []


def name_part_swaps(text: str, entity: str, donors: Sequence[str], rng: random.Random,
                    protected: set[str]) -> list[str]:
    """``text`` with ``entity`` (a multi-word name it mentions) replaced by names that keep one of
    its words and take the rest from a random donor name: the same question about someone else
    who shares a first name or a surname. ``protected`` names (lower case) are never produced."""
    parts = entity.split()
    match = re.search(re.escape(entity), text, flags=re.IGNORECASE)
    if len(parts) < 2 or match is None:
        return []
    out = []
    for keep in (0, len(parts) - 1):  # keep the first name, then the surname
        donor = rng.choice(donors).split()
        if len(donor) < 2:
            continue
        mixed = " ".join(donor[:-1] + [parts[-1]]) if keep else " ".join([parts[0]] + donor[1:])
        if mixed.lower() in protected or mixed.lower() == entity.lower():
            continue
        out.append(text[: match.start()] + mixed + text[match.end() :])
    return out
