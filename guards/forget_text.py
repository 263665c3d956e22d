"""The forget set's own text, found word for word in a request: a whole forget prompt, or a run of
``RUN_WORDS`` words from a forget answer.

The classifier generalises from the forget prompts it trained on, and a few it never trained on
(the ones a build holds out to measure it) score below the threshold. Yet a user who asks the
forget set's exact question, in any wrapper or three turns back, is in scope by the forget set's
own definition; so is one who pastes the start of a forget answer for the model to carry on (a
prefix attack). The guard therefore scores 1 any text that holds a forget prompt of at least
``MIN_WORDS`` words whole ("Who is he?" names nothing), or any run of ``RUN_WORDS`` words of a
forget answer that the build found in no text outside the forget scope (``packager.classifier.
forget_text`` leaves out the runs that templates share).

Words are compared normalised (``normalize_words``: case, accents, punctuation and spacing do not
count; an apostrophe joins its word, so "author's" and "authors" are one). The guard keeps only
64-bit digests of the prompts and runs (``eco_forget_text.json``, in the classifier folder under
the bundle's checksums), so the artifact does not carry the forget set's text; a folder without
the file matches nothing.

>>> text = ForgetText.of(["Where was Ana Lind born, and when?"])
>>> text.matching(["Be brief. WHERE was ana lind born and when", "Where was Ana Lind born?"])
[True, False]
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from guards.entities import normalize_words
from guards.errors import BundleError

TEXT_FILE = "eco_forget_text.json"
MIN_WORDS = 5  # a shorter forget prompt is not matched whole
RUN_WORDS = 8  # a run this long of a forget answer is matched anywhere
_APOSTROPHES = re.compile(r"['\u2018\u2019\u02bc`]")


def words_of(text: str) -> tuple[str, ...]:
    """``text``'s normalised words, an apostrophe joining its word."""
    return tuple(normalize_words(_APOSTROPHES.sub("", text)))


def digest(words: Sequence[str]) -> str:
    return hashlib.blake2b(" ".join(words).encode(), digest_size=8).hexdigest()


def runs_of(words: Sequence[str]) -> list[str]:
    """The digests of every run of ``RUN_WORDS`` words."""
    return [digest(words[i : i + RUN_WORDS]) for i in range(len(words) - RUN_WORDS + 1)]


@dataclass(frozen=True)
class ForgetText:
    prompts: dict[str, dict[int, frozenset[str]]] = field(default_factory=dict)  # start's digest: length: digests
    runs: frozenset[str] = frozenset()

    def matching(self, texts: Sequence[str]) -> list[bool]:
        """Per text: does it hold a forget prompt whole, or a run of a forget answer?"""
        return [self.found_in(text) for text in texts]

    def found_in(self, text: str) -> bool:
        if not self.prompts and not self.runs:
            return False
        words = words_of(text)
        return bool(self.runs and not self.runs.isdisjoint(runs_of(words))) or bool(self.prompts_in(words))

    def prompts_in(self, words: Sequence[str]) -> set[str]:
        """The digests of the forget prompts that ``words`` (``words_of`` a text) hold whole."""
        found = set()
        for i in range(len(words) - MIN_WORDS + 1):
            for length, digests in self.prompts.get(digest(words[i : i + MIN_WORDS]), {}).items():
                whole = digest(words[i : i + length]) if i + length <= len(words) else None
                if whole in digests:
                    found.add(whole)
        return found

    def without(self, prompts: Iterable[str] = (), runs: Iterable[str] = ()) -> ForgetText:
        """This text less the prompts and runs with the given digests."""
        dropped = set(prompts)
        kept = {start: {n: d - dropped for n, d in by_length.items() if d - dropped}
                for start, by_length in self.prompts.items()}  # fmt: skip
        return ForgetText({start: by_length for start, by_length in kept.items() if by_length}, self.runs - set(runs))

    @property
    def prompt_count(self) -> int:
        return sum(len(d) for by_length in self.prompts.values() for d in by_length.values())

    def to_json(self) -> str:
        prompts = {start: {str(n): sorted(d) for n, d in sorted(by_length.items())}
                   for start, by_length in sorted(self.prompts.items())}  # fmt: skip
        data = {"schema": 1, "digest": "blake2b-64", "prompts": prompts, "runs": sorted(self.runs)}
        return json.dumps(data, separators=(",", ":")) + "\n"

    def save(self, folder: Path) -> None:
        (Path(folder) / TEXT_FILE).write_text(self.to_json())

    @classmethod
    def of(cls, prompts: Iterable[str], runs: Iterable[str] = ()) -> ForgetText:
        """``prompts`` matched whole (those of ``MIN_WORDS`` words or more) and the digests ``runs``."""
        table: dict[str, dict[int, set[str]]] = {}
        for words in map(words_of, prompts):
            if len(words) >= MIN_WORDS:
                table.setdefault(digest(words[:MIN_WORDS]), {}).setdefault(len(words), set()).add(digest(words))
        frozen = {start: {n: frozenset(d) for n, d in by_length.items()} for start, by_length in table.items()}
        return cls(frozen, frozenset(runs))

    @classmethod
    def load(cls, folder: Path) -> ForgetText:
        """The forget text saved in ``folder``; none when it has no file."""
        path = Path(folder) / TEXT_FILE
        if not path.is_file():
            return cls()
        try:
            data = json.loads(path.read_text())
            if data.get("schema") != 1 or data.get("digest") != "blake2b-64":
                raise ValueError(f"unknown schema {data.get('schema')!r} or digest {data.get('digest')!r}")
            prompts = {start: {int(n): frozenset(d) for n, d in by_length.items()}
                       for start, by_length in data["prompts"].items()}  # fmt: skip
            return cls(prompts, frozenset(data["runs"]))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise BundleError(f"{path} is not a forget-text file ({exc}); rebuild the guard", str(path)) from None
