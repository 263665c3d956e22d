"""Dates in free text, in the common English spellings ("March 19, 1960", "19th of March,
1960", "03/19/1960", "1960-03-19"), in any case, and with the punctuation stripped ("march 19 1960",
"03191960"), and bare years. Numeric dates are read both month-first and day-first when both
readings are valid dates. The runtime's fact matcher and the packager's training-set
augmentations read dates the same way, from here.
"""

from __future__ import annotations

import calendar
import re
from datetime import date

MONTH_NAMES = frozenset(calendar.month_name[1:])
_MONTHS = "|".join(calendar.month_name[1:])
_DAY = r"(?P<day>\d{1,2})(?:st|nd|rd|th)?"
_PATTERNS = (
    re.compile(rf"\b(?P<month>{_MONTHS}) {_DAY},? (?P<year>\d{{4}})\b", re.IGNORECASE),
    re.compile(rf"\b{_DAY} (?:of )?(?P<month>{_MONTHS}),? (?P<year>\d{{4}})\b", re.IGNORECASE),
    re.compile(r"\b(?P<a>\d{1,2})/(?P<b>\d{1,2})/(?P<year>\d{4})\b"),
    re.compile(r"\b(?P<year>\d{4})-(?P<a>\d{2})-(?P<b>\d{2})\b"),
    re.compile(r"\b(?P<a>\d{2})(?P<b>\d{2})(?P<year>(?:1[5-9]|20)\d\d)\b"),  # "03/19/1960", slashes stripped
)
_MONTH_NUMBER = {name.lower(): i for i, name in enumerate(calendar.month_name) if name}


YEAR = re.compile(r"\b(?:1[5-9]|20)\d\d\b")


def valid_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _readings(match: re.Match[str]) -> list[date]:
    groups = match.groupdict()
    year = int(groups["year"])
    if groups.get("month"):
        found = valid_date(year, _MONTH_NUMBER[groups["month"].lower()], int(groups["day"]))
        return [found] if found else []
    a, b = int(groups["a"]), int(groups["b"])
    if "-" in match.group(0):  # ISO: year-month-day
        found = valid_date(year, a, b)
        return [found] if found else []
    return list(dict.fromkeys(d for d in (valid_date(year, a, b), valid_date(year, b, a)) if d))


def first_date(text: str) -> tuple[re.Match[str], list[date]] | None:
    """The first date-like span of ``text`` and its valid readings (None when there is no date)."""
    for pattern in _PATTERNS:
        match = pattern.search(text)
        if match is not None:
            return match, _readings(match)
    return None


def dates_in(text: str) -> set[date]:
    """Every valid reading of every date in ``text``."""
    return {d for pattern in _PATTERNS for match in pattern.finditer(text) for d in _readings(match)}


def years_in(text: str, dates: set[date] | None = None) -> set[int]:
    """Every four-digit year (1500 to 2099) in ``text``, alone or in a date ("03191960"); pass
    ``dates_in(text)`` as ``dates`` when it is at hand."""
    dates = dates_in(text) if dates is None else dates
    return {int(m.group()) for m in YEAR.finditer(text)} | {d.year for d in dates}
