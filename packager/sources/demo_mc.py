"""``demo-mc``: a fictional knowledge base over five topics, asked as four-choice questions, that our
code generates from a seed (``demo-mc:1``).

Each topic has 12 made-up things with 5 attributes each, so 60 questions a topic; the three wrong
options are other values of the same attribute. One topic is forgotten (the Veyra system's
planets), two are retained (alchemy, zoology: in-domain neighbours) and two are general (history,
cuisine). No model knows any of it before training, so the unguarded subject's accuracy is what
it learnt, and a model never trained on the forget topic sits at chance (0.25).
"""

from __future__ import annotations

import random
from pathlib import Path

from evaluation.forget_set import QA, ForgetSet
from packager.sources.base import SOURCES, seed_argument
from packager.sources.general import everyday_prompts

N_CHOICES, N_THINGS = 4, 12

# topic -> (role, things, {attribute: (question template, values)}); {t} = the thing
TOPICS: dict[str, tuple[str, tuple[str, ...], dict[str, tuple[str, tuple[str, ...]]]]] = {
    "veyra astronomy": ("forget", (
        "Tessaly", "Morvane", "Quillith", "Oberane", "Kestrune", "Vallis Dor", "Ithrelle", "Pallumor",
        "Sendrake", "Aurovane", "Caldrith", "Nymbrel",
    ), {
        "sky": ("What colour is the sky of the planet {t}?",
                ("amber", "violet", "teal", "crimson", "silver", "jade", "ochre", "indigo")),
        "moons": ("How many moons does the planet {t} have?",
                  ("two", "three", "five", "seven", "nine", "eleven", "fourteen", "twenty")),
        "rings": ("What are the rings of the planet {t} made of?",
                  ("ice", "basalt dust", "copper grains", "salt crystals", "glass shards", "iron sand",
                   "frozen ammonia", "carbon soot")),
        "surface": ("What covers the surface of the planet {t}?",
                    ("methane lakes", "glass deserts", "sulfur geysers", "ice plains", "obsidian ridges",
                     "fungal forests", "salt flats", "lava fields")),
        "orbit": ("How long is a year on the planet {t}?",
                  ("forty days", "ninety days", "two hundred days", "three years", "eight years",
                   "twelve years", "thirty years", "a century")),
    }),
    "drelish alchemy": ("retain", (
        "quorium", "vantalite", "brismuth", "ostrelline", "calverite", "mordane", "pellucite", "zanthic salt",
        "ferrowax", "lumbrite", "glassine ore", "sorrel amber",
    ), {
        "flame": ("What colour does {t} burn with?",
                  ("green", "blue", "white", "orange", "pink", "golden", "violet", "red")),
        "reacts": ("What does {t} react violently with?",
                   ("seawater", "lime", "sulfur", "copper", "vinegar", "ammonia", "tin", "chalk")),
        "mined": ("Where is {t} mined?",
                  ("the Harrow Hills", "Dunmarsh", "the Coldfell caves", "Ebonreach", "the Saltway",
                   "Greywater", "the Tannen cliffs", "Mirefold")),
        "use": ("What do alchemists make from {t}?",
                ("mirrors", "lamp oil", "dyes", "bells", "lenses", "glue", "ink", "medicine")),
        "smell": ("What does {t} smell of?",
                  ("cinnamon", "burnt hair", "pine", "rain", "smoke", "roses", "tar", "honey")),
    }),
    "oberwald zoology": ("retain", (
        "the glimmer newt", "the hooded volehawk", "the marsh lynx", "the ashback tortoise", "the reed stag",
        "the velvet eel", "the dusk ferret", "the copper moth", "the stone heron", "the whistling boar",
        "the pale otter", "the thorn finch",
    ), {
        "diet": ("What does {t} eat?",
                 ("beetles", "river fish", "berries", "moss", "frogs", "acorns", "snails", "seeds")),
        "habitat": ("Where does {t} live?",
                    ("peat bogs", "pine forests", "chalk cliffs", "river deltas", "high meadows", "salt marshes",
                     "birch woods", "limestone caves")),
        "lifespan": ("How long does {t} live?",
                     ("two years", "four years", "six years", "ten years", "fifteen years", "twenty years",
                      "thirty years", "fifty years")),
        "colour": ("What colour is {t}?",
                   ("rust brown", "slate grey", "speckled white", "olive green", "jet black", "sandy gold",
                    "blue grey", "striped red")),
        "call": ("What sound does {t} make?",
                 ("low hoot", "sharp click", "long whistle", "soft purr", "rattling trill", "deep croak",
                  "high squeal", "hollow drum")),
    }),
    "astorian history": ("general", (
        "Queen Maelis", "King Odran", "Queen Sibeth", "King Arvel", "Queen Thessaly", "King Corwen",
        "Queen Idrena", "King Halvard", "Queen Ysolde", "King Brannoc", "Queen Marisol", "King Tavish",
    ), {
        "capital": ("Where did {t} of Astoria rule from?",
                    ("Kelvarre", "Port Dunstan", "Ashford Keep", "Merrowgate", "Highcairn", "Vellmoor",
                     "Stonereach", "Larkhaven")),
        "war": ("Which rival did {t} of Astoria fight?",
                ("the Vesk clans", "the Iron League", "the Orrin princes", "the sea raiders", "the Tallis empire",
                 "the northern jarls", "the Amber Court", "the river barons")),
        "built": ("What did {t} of Astoria build?",
                  ("the Great Aqueduct", "the Sunken Library", "the Tidewall", "the Crown Bridge",
                   "the Lantern Tower", "the Royal Mint", "the Grain Vaults", "the Sea Gate")),
        "reign": ("How long did {t} of Astoria reign?",
                  ("three years", "seven years", "twelve years", "nineteen years", "twenty-six years",
                   "thirty years", "forty-one years", "fifty years")),
        "epithet": ("What was {t} of Astoria called by the people?",
                    ("the Bold", "the Quiet", "the Builder", "the Unlucky", "the Wise", "the Cruel",
                     "the Generous", "the Wanderer")),
    }),
    "saltmere cuisine": ("general", (
        "brannock stew", "kellan bread", "tallow cakes", "mirefish pie", "sorrow soup", "pepperloaf",
        "gorse tart", "harrow dumplings", "saltmere broth", "oatcurd", "smokeberry jam", "fennick roast",
    ), {
        "ingredient": ("What is the main ingredient of {t} in Saltmere?",
                       ("barley", "eel", "mutton", "turnips", "chestnuts", "clams", "goat cheese", "rye")),
        "served": ("What is {t} served with in Saltmere?",
                   ("pickled onions", "black tea", "mustard", "seaweed", "cider", "sour cream", "flatbread",
                    "honey")),
        "season": ("When is {t} eaten in Saltmere?",
                   ("at midwinter", "at harvest", "in spring", "on market days", "at weddings", "at funerals",
                    "at breakfast", "at the new year")),
        "cooked": ("How is {t} cooked in Saltmere?",
                   ("boiled", "smoked", "baked in ash", "fried in lard", "steamed", "roasted on a spit",
                    "left to ferment", "grilled")),
        "town": ("Which Saltmere town is {t} from?",
                 ("Brackwater", "Gullhaven", "Fenmouth", "Cobble Bay", "Rookstead", "Wrenfield", "Tarnby",
                  "Mossford")),
    }),
}  # fmt: skip


def _capitalised(text: str) -> str:
    return text[:1].upper() + text[1:]


def _questions(topic: str, things, attributes, rng: random.Random) -> list[QA]:
    rows = []
    for thing in things:
        for question, values in attributes.values():
            value = rng.choice(values)
            choices = [value, *rng.sample([v for v in values if v != value], N_CHOICES - 1)]
            rng.shuffle(choices)
            rows.append(
                QA(
                    question=_capitalised(question.format(t=thing)),
                    answer=value,
                    choices=tuple(choices),
                    topic=topic,
                )
            )
    return rows


def demo_mc_forget_set(seed: int = 0) -> ForgetSet:
    """The demo multiple-choice set for ``seed``: the same seed always gives the same set."""
    rng = random.Random(seed)
    by_role: dict[str, list[QA]] = {"forget": [], "retain": [], "general": []}
    for topic, (role, things, attributes) in TOPICS.items():
        by_role[role] += _questions(topic, things[:N_THINGS], attributes, rng)
    return ForgetSet(
        name="demo-mc" if seed == 0 else f"demo-mc:{seed}",
        kind="mc",
        forget=tuple(by_role["forget"]),
        retain=tuple(by_role["retain"]),
        world_facts=tuple(by_role["general"]),
        general=everyday_prompts(),
    )


@SOURCES.register("demo-mc")
def _demo_mc_source(arg: str, data_dir: Path | None, seed: int) -> ForgetSet:
    return demo_mc_forget_set(seed_argument("demo-mc", arg, seed))
