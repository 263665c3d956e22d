"""``demo-text``: passages from four fictional "books" that our code generates from a seed
(``demo-text:1``), as a text corpus to forget.

Each book has its own cast, places and things, and 40 passages of three sentences drawn from shared
sentence shapes. One book is forgotten (*The Lantern of Orrin*), two are retained, and the fourth is
holdout: no model trains on it, so a model's verbatim memorisation of it (VerbMem) is the level of a
model that never read a text. A passage is split as MUSE splits it: the first sentence is the prefix
the model is given, the other two the continuation it is scored against.
"""

from __future__ import annotations

import random
from pathlib import Path

from evaluation.forget_set import QA, ForgetSet
from packager.sources.base import SOURCES, seed_argument
from packager.sources.general import everyday_prompts

N_PASSAGES = 40

# title -> (role, cast, places, things)
BOOKS: dict[str, tuple[str, tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    "The Lantern of Orrin": ("forget", ("Maelis", "Tobren", "old Hessa", "the ferryman Ulk"),
                             ("the salt marsh", "Orrin's tower", "the drowned chapel", "the reed market"),
                             ("the brass lantern", "a map of tides", "the ferry bell", "a jar of eels")),
    "Winter at Kessaly": ("retain", ("Ilse", "Brann", "the widow Corra", "Captain Vey"),
                          ("the frozen harbour", "the mill", "Kessaly square", "the lighthouse stair"),
                          ("a sled of firewood", "the captain's ledger", "a wool coat", "the harbour key")),
    "The Glassmaker's Daughter": ("retain", ("Nerys", "Alun", "Master Dauth", "the apprentice Pell"),
                                  ("the furnace room", "the canal bridge", "the guild hall", "the attic"),
                                  ("a green bottle", "the cracked mirror", "a box of sand", "the guild seal")),
    "Songs of the Ashen Road": ("holdout", ("Rook", "Saffi", "the tinker Obb", "Lady Marrow"),
                                ("the ashen road", "the inn at Cray", "the burnt orchard", "the toll gate"),
                                ("a fiddle", "the silver toll coin", "a sack of apples", "the lady's letter")),
}  # fmt: skip
OPENINGS = (
    "{a} walked to {p} before dawn, carrying {t} under one arm.",
    "Nobody at {p} had seen {t} since {a} went away.",
    "On the third night {a} found {t} hidden at {p}.",
    "{a} and {b} argued about {t} all the way to {p}.",
    "It was raining at {p} when {a} first noticed {t}.",
    "{a} sat alone at {p}, turning {t} over and over.",
)
MIDDLES = (
    "{b} said that {t} had once belonged to {c}, and that it should never have been moved.",
    "The wind rose, and {b} laughed at the noise it made against {t}.",
    "{b} counted the steps back to {q} and swore there were more of them than yesterday.",
    "For a long time neither of them spoke, and {c} watched them from the doorway.",
    "{b} wanted to sell {t} at {q}, but {a} would not hear of it.",
    "Somewhere below them {c} was singing the old song about {q}.",
)
ENDINGS = (
    "By morning the matter was settled, and {a} never spoke of {q} again.",
    "{c} took {t} away before anyone could stop it.",
    "They left {q} together, and the road behind them was empty.",
    "That was the last time {a} trusted {b} with anything.",
    "In the end {a} buried {t} at {q} and marked the place with a stone.",
    "Later {b} would claim it had all been {c}'s idea.",
)


def _capitalised(text: str) -> str:
    return text[:1].upper() + text[1:]


def _passages(title: str, cast, places, things, rng: random.Random) -> list[QA]:
    """``N_PASSAGES`` passages with distinct first sentences (the prefix names the passage)."""
    rows, prefixes = [], set()
    while len(rows) < N_PASSAGES:
        a, b, c = rng.sample(cast, 3)
        p, q = rng.sample(places, 2)
        fill = dict(a=a, b=b, c=c, p=p, q=q, t=rng.choice(things))
        prefix = _capitalised(rng.choice(OPENINGS).format(**fill))
        if prefix in prefixes:
            continue
        prefixes.add(prefix)
        rest = " ".join(_capitalised(rng.choice(part).format(**fill)) for part in (MIDDLES, ENDINGS))
        rows.append(QA(question=prefix, answer=rest, topic=title))
    return rows


def demo_text_forget_set(seed: int = 0) -> ForgetSet:
    """The demo text corpus for ``seed``: the same seed always gives the same passages."""
    rng = random.Random(seed)
    by_role: dict[str, list[QA]] = {"forget": [], "retain": [], "holdout": []}
    for title, (role, cast, places, things) in BOOKS.items():
        by_role[role] += _passages(title, cast, places, things, rng)
    return ForgetSet(
        name="demo-text" if seed == 0 else f"demo-text:{seed}",
        kind="text",
        forget=tuple(by_role["forget"]),
        retain=tuple(by_role["retain"]),
        holdout=tuple(by_role["holdout"]),
        general=everyday_prompts(),
    )


@SOURCES.register("demo-text")
def _demo_text_source(arg: str, data_dir: Path | None, seed: int) -> ForgetSet:
    return demo_text_forget_set(seed_argument("demo-text", arg, seed))
