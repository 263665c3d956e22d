"""``demo``: a small TOFU-shaped forget set that our code generates from a seed.

24 fictitious authors with 8 attributes each. Every attribute has four question templates (two
asked, two as their paraphrases) and wrong (perturbed) answers. Forget = 4 authors, holdout = 4
authors that no model is trained on, retain = the other 16. Answers are short single sentences
so a tiny model can learn them on CPU.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

from evaluation.forget_set import QA, ForgetSet
from packager.sources.base import SOURCES, seed_argument
from packager.sources.general import demo_real_authors, demo_world_facts, everyday_prompts

N_PEOPLE, N_FORGET, N_HOLDOUT, N_PERTURBED = 24, 4, 4, 3

_FIRST = (
    "Aldric",
    "Brisa",
    "Corvin",
    "Delphine",
    "Emeric",
    "Fenna",
    "Goran",
    "Halina",
    "Ilario",
    "Jessamy",
    "Kasimir",
    "Liesel",
    "Matthias",
    "Nerys",
    "Oskar",
    "Perpetua",
    "Quillon",
    "Rosalind",
    "Soren",
    "Talitha",
    "Ulric",
    "Vesna",
    "Wendell",
    "Xanthe",
    "Yorick",
    "Zinnia",
)
_SYLLABLES = (
    "bar",
    "vel",
    "dor",
    "mir",
    "kas",
    "tel",
    "zon",
    "ri",
    "no",
    "lu",
    "quen",
    "sha",
    "thor",
    "wyn",
)
_VALUES = {
    "birthplace": (
        "Lisbon, Portugal",
        "Nairobi, Kenya",
        "Osaka, Japan",
        "Quito, Ecuador",
        "Tbilisi, Georgia",
        "Reykjavik, Iceland",
        "Accra, Ghana",
        "Krakow, Poland",
        "Hanoi, Vietnam",
        "Perth, Australia",
    ),
    "birth_year": tuple(str(year) for year in range(1941, 1996, 3)),
    "profession": (
        "novelist",
        "poet",
        "playwright",
        "essayist",
        "screenwriter",
        "historian",
        "translator",
    ),
    "genre": (
        "science fiction",
        "mystery",
        "romance",
        "historical fiction",
        "fantasy",
        "horror",
        "travel writing",
    ),
    "father_job": (
        "carpenter",
        "sailor",
        "pharmacist",
        "baker",
        "train driver",
        "surveyor",
        "watchmaker",
    ),
    "mother_job": (
        "nurse",
        "architect",
        "librarian",
        "veterinarian",
        "potter",
        "astronomer",
        "judge",
    ),
    "award": (
        "the Silver Quill Prize",
        "the Lantern Medal",
        "the Harbor Book Award",
        "the Amber Leaf Prize",
        "the Northlight Fellowship",
        "the Golden Compass Honor",
    ),
    "book": (
        "The Glass Orchard",
        "Salt and Thunder",
        "A Map of Small Hours",
        "The Copper Heron",
        "Letters from the Dunes",
        "The Quiet Lighthouse",
        "Winter of Paper Kites",
        "The Ninth Bridge",
    ),
}
# attribute -> (question templates, answer template, paraphrased answer template); {a} = "a"/"an"
_TEMPLATES = {
    "birthplace": (
        (
            "Where was {n} born?",
            "What is the birthplace of {n}?",
            "In which city was {n} born?",
            "Which city is {n} originally from?",
        ),
        "{n} was born in {v}.",
        "The birthplace of {n} is {v}.",
    ),
    "birth_year": (
        (
            "In what year was {n} born?",
            "When was {n} born?",
            "What is the birth year of {n}?",
            "How long ago was {n} born?",
        ),
        "{n} was born in {v}.",
        "The year {n} was born is {v}.",
    ),
    "profession": (
        (
            "What does {n} do for a living?",
            "What is the profession of {n}?",
            "What kind of writer is {n}?",
            "How does {n} earn a living?",
        ),
        "{n} works as {a} {v}.",
        "By profession, {n} is {a} {v}.",
    ),
    "genre": (
        (
            "What genre does {n} write in?",
            "Which genre is {n} known for?",
            "What kind of books does {n} write?",
            "In which genre does {n} publish?",
        ),
        "{n} writes {v}.",
        "The genre of {n} is {v}.",
    ),
    "father_job": (
        (
            "What was the job of {n}'s father?",
            "What did {n}'s father do for work?",
            "What was the profession of the father of {n}?",
            "How did {n}'s father earn a living?",
        ),
        "{n}'s father was {a} {v}.",
        "The father of {n} worked as {a} {v}.",
    ),
    "mother_job": (
        (
            "What was the job of {n}'s mother?",
            "What did {n}'s mother do for work?",
            "What was the profession of the mother of {n}?",
            "How did {n}'s mother earn a living?",
        ),
        "{n}'s mother was {a} {v}.",
        "The mother of {n} worked as {a} {v}.",
    ),
    "award": (
        (
            "Which award did {n} win?",
            "What prize has {n} received?",
            "Has {n} won any literary award?",
            "What honour was given to {n}?",
        ),
        "{n} won {v}.",
        "{n} received {v}.",
    ),
    "book": (
        (
            "What is the best-known book by {n}?",
            "Name a book written by {n}.",
            "Which novel made {n} famous?",
            "What is the title of the most famous work of {n}?",
        ),
        "{n} is best known for {v}.",
        "The most famous book of {n} is {v}.",
    ),
}


@dataclass(frozen=True)
class _Person:
    name: str
    facts: dict[str, str]


def _people(rng: random.Random) -> list[_Person]:
    firsts = rng.sample(_FIRST, N_PEOPLE)
    people = []
    surnames: set[str] = set()
    for first in firsts:
        surname = ""
        while not surname or surname in surnames:
            surname = "".join(rng.sample(_SYLLABLES, rng.choice((2, 3)))).capitalize()
        surnames.add(surname)
        people.append(_Person(f"{first} {surname}", {a: rng.choice(v) for a, v in _VALUES.items()}))
    return people


def _known_values(people: list[_Person], rng: random.Random) -> list[_Person]:
    """``people`` with each forget and holdout person's values drawn again, where needed, from those
    the retain people hold. What the forget set teaches is who holds which value; that a city or an
    award exists is general knowledge a model that never read the forget set has too (a pretrained
    model knows every city). Otherwise a value only forget people hold is forget knowledge the
    prompt corruption cannot take away: the subject puts it among its answers, the retain model
    never does, and no guard can look like the retain model on it."""
    kept = people[N_FORGET + N_HOLDOUT :]
    held = {attribute: sorted({p.facts[attribute] for p in kept}) for attribute in _VALUES}
    redrawn = [_Person(p.name, {a: v if v in held[a] else rng.choice(held[a]) for a, v in p.facts.items()})
               for p in people[: N_FORGET + N_HOLDOUT]]  # fmt: skip
    return redrawn + kept


def _fill(template: str, name: str, value: str = "") -> str:
    article = "an" if value[:1].lower() in "aeiou" and value else "a"
    return template.format(n=name, v=value, a=article)


def _person_qa(person: _Person, rng: random.Random) -> list[QA]:
    """Two questions per attribute, each with its own paraphrase (a third and fourth template)."""
    rows = []
    for attribute, (questions, answer, para_answer) in _TEMPLATES.items():
        value = person.facts[attribute]
        templates = rng.sample(questions, len(questions))
        for asked, para in ((templates[0], templates[2]), (templates[1], templates[3])):
            wrong = rng.sample([v for v in _VALUES[attribute] if v != value], N_PERTURBED)
            rows.append(
                QA(
                    question=_fill(asked, person.name),
                    answer=_fill(answer, person.name, value),
                    paraphrased_question=_fill(para, person.name),
                    paraphrased_answer=_fill(para_answer, person.name, value),
                    # as in TOFU, perturbed answers are the paraphrased answer with a wrong fact, so the
                    # truth ratio compares answers that differ only in the fact
                    perturbed_answers=tuple(_fill(para_answer, person.name, w) for w in wrong),
                    entity=person.name,
                )
            )
    return rows


# Like TOFU's retain_perturbed (400 of 3600 retain questions), evaluation uses a spread-out sample
# of the retain questions: every 4th, so every retain person is represented.
RETAIN_EVAL_STRIDE = 4


def demo_forget_set(seed: int = 0) -> ForgetSet:
    """The demo set for ``seed``: the same seed always gives the same set."""
    rng = random.Random(seed)
    people = _known_values(_people(rng), rng)
    qa = [_person_qa(person, rng) for person in people]
    forget = [row for rows in qa[:N_FORGET] for row in rows]
    holdout = [row for rows in qa[N_FORGET : N_FORGET + N_HOLDOUT] for row in rows]
    retain = [row for rows in qa[N_FORGET + N_HOLDOUT :] for row in rows]

    def bare(rows: list[QA]) -> tuple[QA, ...]:
        return tuple(QA(r.question, r.answer, entity=r.entity) for r in rows)

    return ForgetSet(
        name="demo" if seed == 0 else f"demo:{seed}",
        forget=bare(forget),
        retain=bare(retain),
        forget_eval=tuple(forget),
        retain_eval=tuple(retain[::RETAIN_EVAL_STRIDE]),
        holdout=bare(holdout),
        real_authors=demo_real_authors(),
        world_facts=demo_world_facts(),
        general=everyday_prompts(),
        entities=tuple(p.name for p in people[:N_FORGET]),
    )


@SOURCES.register("demo")
def _demo_source(arg: str, data_dir: Path | None, seed: int) -> ForgetSet:
    return demo_forget_set(seed_argument("demo", arg, seed))
