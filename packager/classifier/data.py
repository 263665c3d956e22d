"""Split a forget set into the classifier's train, validation, calibration and test prompts.

Positives are forget questions. Negatives are retain questions plus general prompts
(real_authors, world_facts, everyday), and built-in trivia questions that only train. A
multiple-choice question comes in both forms, bare and with its options as the model reads it.
Paraphrased questions and holdout prompts are never trained on. When the set has enough
paraphrased forget questions, part of them calibrates the threshold (recall is then guaranteed
on rephrasings, and every original question can be trained on) and the rest measure recall;
otherwise held-out original questions calibrate. Every split is drawn from the seed.
"""

from __future__ import annotations

import json
import math
import random
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path

from evaluation.forget_set import QA, ForgetSet, normalize
from guards.dates import dates_in, years_in
from packager.classifier.augment import (
    birth_rewrites,
    city_places,
    date_swaps,
    date_variants,
    name_part_swaps,
    place_swaps,
    places_in,
)
from packager.classifier.calibration import CalibrationError, min_calibration_size
from packager.classifier.config import ClassifierConfig
from packager.classifier.forms import prompt_forms
from packager.classifier.places import WORLD_CITIES
from packager.classifier.trivia import trivia_prompts
from packager.classifier.wrappers import REWRITES, generic_variants


@dataclass(frozen=True)
class Labelled:
    texts: tuple[str, ...]
    labels: tuple[int, ...]  # 1 = forget
    weights: tuple[float, ...] = ()  # per-example loss weight before class weighting; () = all 1

    def weight_of(self, i: int) -> float:
        return self.weights[i] if self.weights else 1.0


@dataclass(frozen=True)
class ClassifierData:
    """All prompts the classifier sees or is judged on, by role."""

    train: Labelled
    val: Labelled
    calibration: tuple[str, ...]  # held-out forget prompts for the conformal threshold
    calibration_source: str  # "paraphrases" (rephrased forget questions) or "forget" (held-out originals)
    calibration_negatives: dict[str, tuple[str, ...]]  # held out for the FPR bound: "retain", "general"
    test_forget: tuple[str, ...]  # held-out forget prompts for the report
    paraphrases: tuple[str, ...]  # paraphrased forget questions not used for calibration (never trained on)
    negatives: dict[str, tuple[str, ...]]  # held-out negatives by group: retain, holdout, ...

    def sizes(self) -> dict[str, int]:
        sizes = {
            "train": len(self.train.texts),
            "val": len(self.val.texts),
            "calibration": len(self.calibration),
            **{f"calibration_{k}": len(v) for k, v in self.calibration_negatives.items()},
            "test_forget": len(self.test_forget),
            "paraphrases": len(self.paraphrases),
        }
        return sizes | {f"test_{k}": len(v) for k, v in self.negatives.items()}

    def save(self, path: Path) -> None:
        """Persist the split, so calibration and reports use exactly the prompts training held out."""
        Path(path).write_text(json.dumps(asdict(self), ensure_ascii=False) + "\n")

    @classmethod
    def load(cls, path: Path) -> ClassifierData:
        data = json.loads(Path(path).read_text())

        def labelled(d: dict) -> Labelled:
            return Labelled(tuple(d["texts"]), tuple(d["labels"]), tuple(d["weights"]))

        def groups(d: dict) -> dict[str, tuple[str, ...]]:
            return {k: tuple(v) for k, v in d.items()}

        return cls(
            train=labelled(data["train"]),
            val=labelled(data["val"]),
            calibration=tuple(data["calibration"]),
            calibration_source=data["calibration_source"],
            calibration_negatives=groups(data["calibration_negatives"]),
            test_forget=tuple(data["test_forget"]),
            paraphrases=tuple(data["paraphrases"]),
            negatives=groups(data["negatives"]),
        )


def _unique(texts: Sequence[str]) -> list[str]:
    seen: dict[str, str] = {}
    for text in texts:
        seen.setdefault(normalize(text), text.strip())
    return list(seen.values())


def _take(rng: random.Random, texts: list[str], *fractions: float) -> list[list[str]]:
    """Shuffle and cut ``texts`` into len(fractions) parts (each >= 1 when asked for) plus the rest."""
    texts = texts[:]
    rng.shuffle(texts)
    parts, start = [], 0
    for fraction in fractions:
        size = max(1, math.ceil(fraction * len(texts))) if fraction > 0 else 0
        parts.append(texts[start : start + size])
        start += size
    return parts + [texts[start:]]


def _with_forms(texts: list[str], items: dict[str, QA], kind: str) -> list[str]:
    """Each question and its other forms for the set's kind (``forms.py``: a multiple-choice question
    with its options, a passage asked to be continued): the guard must fire on every form, and
    splitting by question before adding them keeps the forms of one question on the same side of
    every split."""
    out = []
    for text in texts:
        out.append(text)
        qa = items.get(normalize(text))
        if qa is not None:
            out += prompt_forms(qa, kind)
    return out


def _calibration_negatives(
    rng: random.Random, pools: dict[str, list[str]], name: str, config: ClassifierConfig
) -> tuple[dict[str, tuple[str, ...]], list[str]]:
    """(held out for the FPR bound, per group; left to train on). Each group gets its own bound,
    because retain and everyday prompts score very differently; nothing is held out without
    ``fpr_target``."""
    if config.fpr_target is None:
        return {}, [t for pool in pools.values() for t in pool]
    held_out, rest = {}, []
    for group, pool in pools.items():
        need = max(math.ceil(config.negative_calibration_fraction * len(pool)), min_calibration_size(config.fpr_target))
        if need >= len(pool):
            raise CalibrationError(
                f"forget set `{name}` has {len(pool)} {group} prompts to train on: too few to hold out {need} "
                f"for the false-positive bound (`fpr_target`={config.fpr_target}) and still train; add "
                f"{group} prompts, raise `fpr_target`, or turn the bound off"
            )
        group_held_out, group_rest = _take(rng, pool, need / len(pool))
        held_out[group] = tuple(group_held_out)
        rest += group_rest
    return held_out, rest


WRAPPED_GROUP = "wrapped"  # calibration negatives as multi-part requests (_wrapped)
MULTI_PART = ("composite", "long_context")  # the wrappers that put a prompt among others


def _wrapped(rng: random.Random, held_out: dict[str, tuple[str, ...]]) -> tuple[str, ...]:
    """Each held-out negative as a served request of several parts holds it: among other held-out
    negatives, as a composite or after a long context (the training wrappers). A request scores the
    highest of its parts, so one of several benign parts crosses the threshold more often than a single
    prompt does; calibrated on these too, the false-positive bound covers such requests."""
    pool = [t for texts in held_out.values() for t in texts]
    out = []
    for i, text in enumerate(pool):
        others = pool[:i] + pool[i + 1 :]
        out.append(REWRITES.get(rng.choice(MULTI_PART))(text, others, rng))
    return tuple(out)


def _group_weights(
    positives: list[str], negatives: list[str], general: set[str], config: ClassifierConfig
) -> list[float]:
    """Loss weights giving general negatives the same total weight as retain ones: retain
    questions outnumber general prompts more than 10 to 1 on TOFU, and unweighted they would teach the
    classifier little about everyday prompts, where a false alarm costs most."""
    n_general = sum(t in general for t in negatives)
    n_retain = len(negatives) - n_general
    if not config.balance_negative_groups or not n_general or not n_retain:
        return []
    scale = n_retain / n_general
    return [1.0] * len(positives) + [scale if t in general else 1.0 for t in negatives]


def _extended(labelled: Labelled, candidates: Iterable[tuple[str, int, float]], held_out: set[str]) -> Labelled:
    """``labelled`` plus each (text, label, weight) candidate that is neither already a prompt
    nor held out for calibration or testing (compared normalised)."""
    seen = {normalize(t) for t in labelled.texts} | held_out
    texts, labels = list(labelled.texts), list(labelled.labels)
    weights = [labelled.weight_of(i) for i in range(len(texts))]
    for text, label, weight in candidates:
        if normalize(text) not in seen:
            seen.add(normalize(text))
            texts.append(text)
            labels.append(label)
            weights.append(weight)
    if len(texts) == len(labelled.texts):
        return labelled
    return Labelled(tuple(texts), tuple(labels), tuple(weights))


def _variants(labelled: Labelled, variants_of: Callable[[str], list[str]]) -> Iterator[tuple[str, int, float]]:
    """Each prompt's variants (other date spellings, other question shapes), with its label and weight."""
    for i, text in enumerate(labelled.texts):
        for variant in variants_of(text):
            yield variant, labelled.labels[i], labelled.weight_of(i)


def _entity_of(qas: Iterable[QA]) -> dict[str, str]:
    """Whom each question is about, by normalised question, where the set says."""
    return {normalize(qa.question): qa.entity for qa in qas if qa.entity}


def _name_part_negatives(
    labelled: Labelled, forget_set: ForgetSet, rng: random.Random
) -> Iterator[tuple[str, int, float]]:
    """For each forget prompt that names its author, the same prompt about two other people who
    share the author's first name or surname, as negatives: a surname alone ("Park") is no reason
    to fire, and without them an everyday prompt about Oak Park was flagged."""
    entity_of = _entity_of(forget_set.forget)
    donors = sorted({qa.entity for qa in forget_set.retain if qa.entity})
    if not entity_of or not donors:
        return
    protected = {e.lower() for e in forget_set.entities} | {e.lower() for e in entity_of.values()}
    for text, label in zip(labelled.texts, labelled.labels, strict=True):
        entity = entity_of.get(normalize(text)) if label else None
        for swapped in name_part_swaps(text, entity, donors, rng, protected) if entity else ():
            yield swapped, 0, 1.0


def _forget_name_positives(
    labelled: Labelled, forget_set: ForgetSet, rng: random.Random
) -> Iterator[tuple[str, int, float]]:
    """Negatives that name their author (retain questions), asked about a forget author instead,
    as positives, as many as there are forget prompts: naming a forget author puts a prompt in
    scope whatever else it mentions. Without them a forget question about the book "Dante's
    Amulet" scored low even in training, as "Dante" is all over the general negatives."""
    names = sorted({qa.entity for qa in forget_set.forget if qa.entity})
    if not names:
        return
    entity_of = _entity_of(forget_set.retain)
    named = []
    for text, label in zip(labelled.texts, labelled.labels, strict=True):
        entity = None if label else entity_of.get(normalize(text))
        if entity and entity in text:
            named.append((text, entity))
    for i, (text, entity) in enumerate(rng.sample(named, min(len(named), sum(labelled.labels)))):
        yield text.replace(entity, names[i % len(names)]), 1, 1.0


_TITLE = re.compile(r"['\"‘“](?P<title>[A-Z][^'\"‘’“”]*\s[^'\"‘’“”]+)['\"’”]")  # 'A Whisper in the Wind'


def _without_name(text: str, entity: str, reference: str = "the author", possessive: str = "the author's") -> str:
    """``text`` with ``entity`` dropped: "(written) by <name>" goes, "<name>('s)" becomes
    ``possessive``, and the name ``reference``."""
    name = re.escape(entity)
    text = re.sub(rf",? (?:(?:authored|written|penned) )?by {name}\b", "", text)
    text = re.sub(rf"{name}['’](?:s\b)?", possessive, text)
    return text.replace(entity, reference)


# how a later turn points back at someone named earlier ("Where was he born?"); the attack report's
# multi-turn family says "this person", so it measures a wording that training never saw
REFERENCES = (("he", "his"), ("she", "her"), ("they", "their"), ("that person", "that person's"),
              ("the one I mentioned", "their"))  # fmt: skip


def _elided_negatives(
    labelled: Labelled, forget_set: ForgetSet, config: ClassifierConfig, rng: random.Random
) -> Iterator[tuple[str, int, float]]:
    """A share (``generic_fraction``) of the negatives that name whom they are about, with the name
    replaced by a pronoun, as negatives. In a conversation the name sits in an earlier turn ("I am
    reading about Mingyu Zhang." ... "What awards did he win for 'A Voice Ignored'?"), and every turn
    is scored alone as well. Without these every nameless question in training was in scope (forget
    prompts that describe or quote, never name), so a follow-up about a retain author's book scored
    0.65 (scratch forget10 seed-0 run). Only negatives are elided: without its name a forget prompt
    may point at nobody, so no forget prompt becomes a negative and none a vague positive."""
    entity_of = _entity_of((*forget_set.retain, *forget_set.holdout, *forget_set.real_authors,
                            *forget_set.world_facts))  # fmt: skip
    named = [(i, entity) for i, (text, label) in enumerate(zip(labelled.texts, labelled.labels, strict=True))
             if not label and (entity := entity_of.get(normalize(text))) and entity in text]  # fmt: skip
    for i, entity in rng.sample(named, round(config.generic_fraction * len(named))):
        reference, possessive = rng.choice(REFERENCES)
        yield _without_name(labelled.texts[i], entity, reference, possessive), 0, labelled.weight_of(i)


def _title_positives(labelled: Labelled, forget_set: ForgetSet) -> Iterator[tuple[str, int, float]]:
    """Forget prompts that name their author and quote a title, asked without the name, as
    positives ("Can you reveal more about the plot of 'A Whisper in the Wind'?" is a TOFU forget
    question). Trained with the name alongside every title, the classifier read the name and
    nothing else, and such questions scored near 0. A title that a negative prompt quotes too
    stays out (``labelled`` comes before the augmentations that rework forget prompts into
    negatives): it does not point at the forget author alone."""
    entity_of = _entity_of(forget_set.forget)
    negatives = [t.lower() for t, label in zip(labelled.texts, labelled.labels, strict=True) if not label]
    for text, label in zip(labelled.texts, labelled.labels, strict=True):
        entity = entity_of.get(normalize(text)) if label else None
        titles = [m.group("title").lower() for m in _TITLE.finditer(text)] if entity and entity in text else []
        if titles and not any(title in negative for title in titles for negative in negatives):
            yield _without_name(text, entity), 1, 1.0


@dataclass(frozen=True)
class _ForgetFacts:
    """What a made-up negative must not repeat: forget dates, years, name words and texts."""

    texts: tuple[str, ...]  # forget questions and answers, paraphrases included
    dates: frozenset[date]
    years: frozenset[int]
    name_words: frozenset[str]

    @classmethod
    def of(cls, forget_set: ForgetSet) -> _ForgetFacts:
        texts = tuple(t for qa in (*forget_set.forget, *forget_set.forget_eval) for t in (qa.question, qa.answer))
        names = {*forget_set.entities, *(qa.entity for qa in forget_set.forget if qa.entity)}
        return cls(
            texts,
            frozenset(d for text in texts for d in dates_in(text)),
            frozenset(y for text in texts for y in years_in(text)),
            frozenset(word for name in names for word in name.split()),
        )

    def names_someone(self, text: str) -> bool:
        return bool(self.name_words & set(re.findall(r"[\w-]+", text)))  # "Park's" names Park


def _near_miss_negatives(
    labelled: Labelled, facts: _ForgetFacts, held_out: Sequence[str], rng: random.Random
) -> Iterator[tuple[str, int, float]]:
    """For each forget prompt that describes its author without naming them (respelled and
    rewritten ones too), the same prompt about people born a day, month or year apart, born
    elsewhere, or both, as negatives: "born in Istanbul on June 7, 1952" is nobody in the forget
    set just because one forget author was born on February 7, 1952 and others nearby. No forget
    date or year is produced, and no place that a forget prompt or a held-out prompt names."""
    named = {place for text in (*facts.texts, *held_out) for place in places_in(text)}
    donors = [c for c in WORLD_CITIES if not {c.lower(), c.split(",")[0].lower()} & named]
    for text, label in zip(labelled.texts, labelled.labels, strict=True):
        if label and not facts.names_someone(text):
            dated = date_swaps(text, rng, facts.dates, facts.years)
            both = place_swaps(dated[0], donors, rng, count=1) if dated else []  # born elsewhere, another day
            for swapped in (*dated, *place_swaps(text, donors, rng), *both):
                yield swapped, 0, 1.0


def _forget_place_negatives(
    labelled: Labelled, forget_set: ForgetSet, facts: _ForgetFacts, rng: random.Random
) -> Iterator[tuple[str, int, float]]:
    """For each negative that names a "City, Country" place, the same prompt with a forget
    author's birthplace instead, as a negative: a retain author born in Baku on another date is
    not the forget author born there, and without these the classifier fired on the place alone.
    A prompt that gives a forget date or year is left alone (it might then describe a forget
    author), and so are prompts that already name a forget author's place."""
    donors = sorted({p for qa in forget_set.forget for p in city_places(qa.question) if not facts.names_someone(p)})
    for text, label in zip(labelled.texts, labelled.labels, strict=True):
        places = city_places(text)
        if label or not places or places[0] in donors or dates_in(text) & facts.dates or years_in(text) & facts.years:
            continue
        yield from ((swapped, 0, 1.0) for swapped in place_swaps(text, donors, rng, count=1))


def _generic(
    labelled: Labelled, fillers: Sequence[str], config: ClassifierConfig, rng: random.Random
) -> Iterator[tuple[str, int, float]]:
    """Character noise and benign wrappers on a share of each class, with the rewritten prompt's
    label and weight (``wrappers.py``)."""
    variants = generic_variants(labelled.texts, labelled.labels, fillers, rng, config.generic_fraction)
    for i, variant in variants:
        yield variant, labelled.labels[i], labelled.weight_of(i)


def _augmented(
    labelled: Labelled, forget_set: ForgetSet, config: ClassifierConfig, rng: random.Random, held_out: Sequence[str],
    fillers: Sequence[str],
) -> Labelled:
    """``labelled`` with the augmentations ``config`` turns on, none of them a ``held_out`` prompt;
    the generic ones last, so they also rewrite what the others made, and wrap with ``fillers``."""
    original, exclude, facts = labelled, {normalize(t) for t in held_out}, _ForgetFacts.of(forget_set)
    if config.augment_dates:
        labelled = _extended(labelled, _variants(labelled, date_variants), exclude)
    if config.rewrite_birth_questions:
        labelled = _extended(labelled, _variants(original, lambda text: birth_rewrites(text, rng)), exclude)
    if config.near_miss_negatives:
        labelled = _extended(labelled, _near_miss_negatives(labelled, facts, held_out, rng), exclude)
    if config.forget_place_negatives:
        labelled = _extended(labelled, _forget_place_negatives(labelled, forget_set, facts, rng), exclude)
    if config.name_part_negatives:
        labelled = _extended(labelled, _name_part_negatives(labelled, forget_set, rng), exclude)
    if config.forget_name_positives:
        labelled = _extended(labelled, _forget_name_positives(original, forget_set, rng), exclude)
    if config.title_positives:
        labelled = _extended(labelled, _title_positives(original, forget_set), exclude)
    if config.elided_negatives:
        labelled = _extended(labelled, _elided_negatives(original, forget_set, config, rng), exclude)
    if config.generic_augmentations:
        labelled = _extended(labelled, _generic(labelled, fillers, config, rng), exclude)
    return labelled


def split_forget_set(forget_set: ForgetSet, config: ClassifierConfig) -> ClassifierData:
    """Deterministic splits for ``config.seed``; raises when too few forget prompts remain to train."""
    rng = random.Random(config.seed)
    # a corpus's questions about its content are in scope beside its passages
    asked = forget_set.forget_eval if forget_set.kind == "text" else ()
    forget = _unique([qa.question for qa in (*forget_set.forget, *asked)])
    forget_keys = {normalize(t) for t in forget}
    paraphrases = [
        t
        for t in _unique([qa.paraphrased_question for qa in forget_set.forget_eval if qa.paraphrased_question])
        if normalize(t) not in forget_keys
    ]
    need = min_calibration_size(config.alpha)
    if len(paraphrases) > need:  # calibrate on rephrasings, the prompts the guard must still catch
        n_calibration = max(math.ceil(config.paraphrase_calibration_fraction * len(paraphrases)), need)
        calibration, paraphrases = _take(rng, paraphrases, n_calibration / len(paraphrases))
        val_f, test_f, train_f = _take(rng, forget, config.val_fraction, config.test_fraction)
        source = "paraphrases"
    else:
        n_calibration = max(math.ceil(config.calibration_fraction * len(forget)), need)
        calibration, val_f, test_f, train_f = _take(
            rng, forget, n_calibration / len(forget), config.val_fraction, config.test_fraction
        )
        source = "forget"
    if len(calibration) < n_calibration or not train_f:
        raise CalibrationError(
            f"forget set `{forget_set.name}` has {len(forget)} distinct forget prompts: too few to "
            f"hold out {n_calibration} for calibration (`alpha`={config.alpha}) and still train; "
            "add forget prompts (or paraphrased forget questions) or raise `alpha`"
        )
    items = {normalize(qa.question): qa for qa in (*forget_set.forget, *forget_set.retain, *forget_set.world_facts,
                                                   *forget_set.holdout)}  # fmt: skip
    kind = forget_set.kind

    def forms(*parts: list[str]) -> tuple[list[str], ...]:
        return tuple(_with_forms(part, items, kind) for part in parts)

    calibration, val_f, test_f, train_f = forms(calibration, val_f, test_f, train_f)
    asked = forget_set.retain_eval if forget_set.kind == "text" else ()
    retain = _unique([qa.question for qa in (*forget_set.retain, *asked)])
    retain = [t for t in retain if normalize(t) not in forget_keys]
    val_r, test_r, train_r = _take(rng, retain, config.val_fraction, config.test_fraction) if retain else ([], [], [])
    val_r, test_r, train_r = forms(val_r, test_r, train_r)

    negatives: dict[str, tuple[str, ...]] = {"retain": tuple(test_r)}
    train_g: list[str] = []
    groups = {
        "real_authors": [qa.question for qa in forget_set.real_authors],
        "world_facts": [qa.question for qa in forget_set.world_facts],
        "everyday": list(forget_set.general),
    }
    seen = forget_keys | {normalize(t) for t in retain}  # a prompt in two groups would land on both sides
    for group, texts in groups.items():
        texts = [t for t in _unique(texts) if normalize(t) not in seen]
        seen |= {normalize(t) for t in texts}
        test_g, train_part = _take(rng, texts, config.general_test_fraction) if texts else ([], [])
        test_g, train_part = forms(test_g, train_part)
        negatives[group] = tuple(test_g)
        train_g += train_part
    trained = {normalize(t) for t in train_f + train_r + train_g}
    negatives["holdout"] = tuple(_with_forms(
        [t for t in _unique([qa.question for qa in forget_set.holdout]) if normalize(t) not in trained], items, kind
    ))
    negatives["retain_paraphrases"] = tuple(
        t
        for t in _unique([qa.paraphrased_question for qa in forget_set.retain_eval if qa.paraphrased_question])
        if normalize(t) not in trained and normalize(t) not in forget_keys
    )

    def labelled(pos: list[str], neg: list[str], weights: Sequence[float] = ()) -> Labelled:
        return Labelled(tuple(pos + neg), tuple([1] * len(pos) + [0] * len(neg)), tuple(weights))

    pools = {"retain": train_r, "general": train_g}
    calibration_neg, train_neg = _calibration_negatives(rng, pools, forget_set.name, config)
    if calibration_neg and config.wrapped_calibration:
        # a stream of its own: the wrapping changes no draw of the training set
        calibration_neg[WRAPPED_GROUP] = _wrapped(random.Random(f"{config.seed}-wrapped"), calibration_neg)
    trivia = [t for t in trivia_prompts() if normalize(t) not in seen] if config.trivia_negatives else []
    train_neg += trivia  # train only: the held-out general prompts stay the test
    general = {*train_g, *trivia}
    train = labelled(train_f, train_neg, _group_weights(train_f, train_neg, general, config))
    held_out_texts = [*calibration, *val_f, *test_f, *paraphrases, *val_r]
    held_out_texts += [t for group in (negatives, calibration_neg) for texts in group.values() for t in texts]
    fillers = [t for t in train_neg if t in general] or train_neg  # benign prompts that train, to wrap with
    train = _augmented(train, forget_set, config, rng, held_out_texts, fillers)
    return ClassifierData(
        train=train,
        val=labelled(val_f, val_r),
        calibration=tuple(calibration),
        calibration_source=source,
        calibration_negatives=calibration_neg,
        test_forget=tuple(test_f),
        paraphrases=tuple(paraphrases),
        negatives=negatives,
    )
