"""End-to-end: train a tiny random BERT on `demo`, calibrate it, save it and report on it."""

from __future__ import annotations

import json
import random
import re
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
import torch

from evaluation.forget_set import QA, ForgetSet, normalize
from evaluation.names import outside_texts
from guards.classifier import PromptClassifier
from guards.dates import dates_in, years_in
from guards.errors import BundleError
from guards.facts import FACTS_FILE, Fact, FactMatcher
from guards.forget_text import ForgetText, digest, runs_of, words_of
from packager.classifier import (
    CalibrationError,
    ClassifierConfig,
    ClassifierData,
    calibrate,
    calibrate_classifier,
    evaluate_classifier,
    split_forget_set,
    train_classifier,
)
from packager.classifier.augment import (
    birth_rewrites,
    city_places,
    date_swaps,
    date_variants,
    name_part_swaps,
    place_swaps,
    places_in,
)
from packager.classifier.data import REFERENCES, Labelled, _without_name
from packager.classifier.dtype import saved_dtype
from packager.classifier.facts import forget_facts, served_facts
from packager.classifier.forget_text import forget_text, measured_text
from packager.classifier.shipped import shipped_files
from packager.classifier.train import (
    _batches,
    _class_weights,
    _EarlyStopping,
    _WeightedLoss,
    misranked_share,
    misranked_standard_error,
)
from packager.classifier.trivia import trivia_prompts
from packager.sources import load_forget_set

# the training-set augmentations, in the order split_forget_set applies them
_AUGMENTATIONS = (
    "augment_dates",
    "rewrite_birth_questions",
    "near_miss_negatives",
    "forget_place_negatives",
    "name_part_negatives",
    "forget_name_positives",
    "title_positives",
    "elided_negatives",
    "generic_augmentations",
)


def _with(*augmentations: str) -> ClassifierConfig:
    """Default settings with only ``augmentations`` on."""
    return ClassifierConfig(**{name: name in augmentations for name in _AUGMENTATIONS})


def _before_and_after(fs, augmentation: str):
    """The splits without and with ``augmentation`` (those before it in order on in both); it only
    appends to the training set and leaves validation alone."""
    n = _AUGMENTATIONS.index(augmentation)
    plain = split_forget_set(fs, _with(*_AUGMENTATIONS[:n]))
    data = split_forget_set(fs, _with(*_AUGMENTATIONS[: n + 1]))
    assert data.train.texts[: len(plain.train.texts)] == plain.train.texts and data.val == plain.val
    return plain, data


def _held_out(data) -> set[str]:
    """Every prompt kept out of training: calibration, validation and test, forget and negatives."""
    held_out = {*data.calibration, *data.paraphrases, *data.test_forget, *data.val.texts}
    return held_out | {t for group in (*data.negatives.values(), *data.calibration_negatives.values()) for t in group}


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models gain nothing from threads, and on a busy shared CPU thread sync dominates."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_splits_never_train_on_paraphrases_or_eval_prompts():
    fs = load_forget_set("demo")
    data = split_forget_set(fs, ClassifierConfig())
    assert not set(data.train.texts) & set(data.val.texts)
    trained = set(data.train.texts) | set(data.val.texts)
    held_out = set(data.calibration) | set(data.test_forget) | set(data.paraphrases)
    held_out |= {t for group in data.negatives.values() for t in group}
    held_out |= {t for group in data.calibration_negatives.values() for t in group}
    assert not trained & held_out
    groups = data.calibration_negatives
    assert {k: len(v) >= 99 for k, v in groups.items()} == {"retain": True, "general": True, "wrapped": True}
    # each held-out negative again, among other held-out ones, as a request of several parts (nothing trained)
    singles = [*groups["retain"], *groups["general"]]
    assert len(groups["wrapped"]) == len(singles)
    for single, wrapped in zip(singles, groups["wrapped"], strict=True):
        rest = wrapped.replace(single, "")
        assert rest.strip() and any(other in rest for other in singles if other != single)
    assert not split_forget_set(fs, ClassifierConfig(fpr_target=None)).calibration_negatives
    # demo has 64 paraphrased forget questions: half calibrate, half measure recall
    assert data.calibration_source == "paraphrases" and len(data.calibration) == len(data.paraphrases) == 32
    assert set(data.calibration) | set(data.paraphrases) == {qa.paraphrased_question for qa in fs.forget_eval}
    no_paraphrases = replace(fs, forget_eval=())
    fallback = split_forget_set(no_paraphrases, ClassifierConfig())
    assert fallback.calibration_source == "forget" and len(fallback.calibration) >= 19
    assert set(fallback.calibration) <= {qa.question for qa in fs.forget} and not fallback.paraphrases
    assert data == split_forget_set(fs, ClassifierConfig())  # seeded
    with pytest.raises(CalibrationError, match="too few"):
        split_forget_set(no_paraphrases, ClassifierConfig(alpha=0.01))  # needs 99 of 64 forget prompts
    with pytest.raises(CalibrationError, match="false-positive bound"):
        split_forget_set(fs, ClassifierConfig(fpr_target=0.001))  # needs 999 negatives


def test_a_prompt_in_two_groups_is_kept_in_the_first_only():
    fs = load_forget_set("demo")
    shared = fs.real_authors[0].question  # also an everyday prompt now
    data = split_forget_set(replace(fs, general=(*fs.general, shared, fs.retain[0].question)), ClassifierConfig())
    everywhere = list(data.train.texts) + list(data.val.texts) + [t for g in data.negatives.values() for t in g]
    everywhere += [t for g in data.calibration_negatives.values() for t in g]
    assert everywhere.count(shared) == 1 and everywhere.count(fs.retain[0].question) <= 1


def test_general_negatives_weigh_as_much_as_retain_ones():
    fs = load_forget_set("demo")
    data = split_forget_set(fs, _with())
    retain = {qa.question for qa in fs.retain}
    train = data.train
    totals = {"forget": 0.0, "retain": 0.0, "general": 0.0}
    for i, (text, label) in enumerate(zip(train.texts, train.labels, strict=True)):
        group = "forget" if label else ("retain" if text in retain else "general")
        totals[group] += train.weight_of(i)
    assert totals["general"] == pytest.approx(totals["retain"]) and totals["forget"] == sum(train.labels)
    unweighted = replace(_with(), balance_negative_groups=False)
    plain = split_forget_set(fs, unweighted).train
    assert plain.texts == train.texts and not plain.weights
    # class weights then balance forget against all negatives, by weight rather than count
    class_weights = _class_weights(train)
    negatives = totals["retain"] + totals["general"]
    assert float(class_weights[1]) * totals["forget"] == pytest.approx(float(class_weights[0]) * negatives, rel=1e-5)


def test_date_variants_respell_the_date_every_common_way():
    assert "Who was born on March 19, 1960?" in date_variants("Who was born on 03/19/1960?")
    ambiguous = date_variants("Born in Taipei on 05/11/1991.")  # month-first and day-first readings
    assert {"Born in Taipei on November 5th, 1991.", "Born in Taipei on May 11, 1991."} <= set(ambiguous)
    spelled = date_variants("Born on the 15th of April, 1992 in Rome?")
    assert "Born on the 04/15/1992 in Rome?" in spelled and "Born on the 15th of April, 1992 in Rome?" not in spelled
    assert date_variants("Born in 1992?") == [] and date_variants("Due 13/25/2000") == []  # no valid date


def test_trivia_questions_only_train_as_general_negatives():
    fs = load_forget_set("demo")
    data = split_forget_set(fs, _with())
    without = split_forget_set(fs, replace(_with(), trivia_negatives=False))
    trivia = set(trivia_prompts())
    trained = {t: i for i, t in enumerate(data.train.texts)}
    assert len(trivia & set(trained)) >= 250 and not trivia & set(without.train.texts)
    assert all(data.train.labels[trained[t]] == 0 for t in trivia & set(trained))
    held_out = {*data.val.texts}
    held_out |= {t for group in (*data.negatives.values(), *data.calibration_negatives.values()) for t in group}
    assert not trivia & set(trained) & held_out  # a trivia question the set also has stays where the set puts it
    assert data.negatives == without.negatives and data.val == without.val
    general = next(t for t in data.train.texts if t in set(fs.general))  # weighs as a general prompt
    assert data.train.weight_of(trained[next(iter(trivia & set(trained)))]) == data.train.weight_of(trained[general])


def test_dated_training_prompts_also_train_with_their_other_date_spellings(tofu_dir):
    fs = load_forget_set("tofu:forget10", data_dir=tofu_dir)
    plain = split_forget_set(fs, _with())
    data = split_forget_set(fs, _with("augment_dates"))
    assert data.train.texts[: len(plain.train.texts)] == plain.train.texts and data.val == plain.val
    source = {}
    for i, text in enumerate(plain.train.texts):
        source |= {v: i for v in date_variants(text)}
    added = range(len(plain.train.texts), len(data.train.texts))
    assert sum(data.train.labels[i] for i in added) >= 10  # dated forget questions, rephrased
    for i in added:
        original = source[data.train.texts[i]]
        assert data.train.labels[i] == plain.train.labels[original]
        assert data.train.weight_of(i) == pytest.approx(plain.train.weight_of(original))


def test_birth_questions_are_asked_in_other_shapes_with_the_same_place_and_date():
    rng = random.Random(0)
    for text, place in (
        ("What is the full name of the author born in Dar es Salaam, Tanzania on 06/30/1975?", "Dar es Salaam"),
        ("Who is the author born on 06/30/1975, in Rio de Janeiro, Brazil?", "Rio de Janeiro, Brazil"),
        ("What is the name of the author from Lisbon, Portugal, born on 06/30/1975?", "Lisbon, Portugal"),
    ):
        rewrites = birth_rewrites(text, rng)
        assert len(set(rewrites)) >= 3 and text not in rewrites
        assert all(place in r and dates_in(r) == {date(1975, 6, 30)} for r in rewrites)
    assert birth_rewrites("Who was born in Seoul in 1960?", rng) == []  # no full date
    assert birth_rewrites("What was released on March 3, 2001?", rng) == []  # no place


def test_birth_question_rewrites_join_the_training_set_with_their_label(tofu_dir):
    fs = load_forget_set("tofu:forget10", data_dir=tofu_dir)
    plain, data = _before_and_after(fs, "rewrite_birth_questions")
    added = range(len(plain.train.texts), len(data.train.texts))
    assert sum(data.train.labels[i] for i in added) >= 40 and len(added) >= 300
    assert not {data.train.texts[i] for i in added} & _held_out(data)
    forget_dates = {d for qa in fs.forget for d in dates_in(qa.question)}
    for i in added:
        assert bool(dates_in(data.train.texts[i]) & forget_dates) == bool(data.train.labels[i])


def test_date_swaps_are_near_misses_written_the_same_way():
    protected = dates_in("Born on 03/19/1960, she wrote 'Dawn' on May 2, 1985.")
    assert protected == {date(1960, 3, 19), date(1985, 5, 2)}
    born = date(1960, 3, 19)
    for seed in range(20):
        also = protected | {date(1960, 3, 1)}
        swaps = date_swaps("Who was born in Seoul on 03/19/1960?", random.Random(seed), also, set())
        assert len(swaps) >= 2 and all(re.fullmatch(r"Who was born in Seoul on \d\d/\d\d/\d{4}\?", s) for s in swaps)
        for swapped in swaps:
            readings = dates_in(swapped)  # two when it is "03/05/1960"
            assert not readings & also
            parts_kept = [(d.year == born.year) + (d.month == born.month) + (d.day == born.day) for d in readings]
            assert 2 in parts_kept
    spelled = date_swaps("Born on the 7th of February, 1952?", random.Random(0), set(), set())
    assert len(spelled) == 3 and all(re.fullmatch(r"Born on the \d+\w\w of \w+, \d{4}\?", s) for s in spelled)
    for seed in range(20):  # a bare year moves to another, never to a protected one
        (moved,) = date_swaps("Who was born in Seoul in 1960?", random.Random(seed), protected, {1959, 1961})
        assert re.fullmatch(r"Who was born in Seoul in \d{4}\?", moved)
        assert years_in(moved).isdisjoint({1959, 1960, 1961})
    assert date_swaps("Who was born in Seoul?", random.Random(0), protected, set()) == []


def test_place_swaps_move_the_birthplace_and_keep_the_rest():
    text = "What is the full name of the author born in Dar es Salaam, Tanzania on 06/30/1975?"
    swaps = place_swaps(text, ["St. Petersburg, Russia", "Lima, Peru", "Oslo, Norway"], random.Random(0))
    assert len(swaps) == 2 and len(set(swaps)) == 2
    for swapped in swaps:
        assert swapped.startswith("What is the full name of the author born in ")
        assert swapped.endswith(" on 06/30/1975?")
        assert "Dar es Salaam" not in swapped and places_in(swapped) & {"st. petersburg", "lima", "oslo"}
    assert places_in(text) == {"dar es salaam, tanzania", "dar es salaam"}
    moved = place_swaps("Who was born in Seoul in 1960?", ["Lima, Peru"], random.Random(0))
    assert moved == ["Who was born in Lima, Peru in 1960?"]
    assert place_swaps("Who was born on 06/30/1975?", ["Lima, Peru"], random.Random(0)) == []  # no place


def test_forget_prompts_about_someone_born_another_day_or_elsewhere_are_negatives(tofu_dir):
    fs = load_forget_set("tofu:forget10", data_dir=tofu_dir)
    plain, data = _before_and_after(fs, "near_miss_negatives")
    added = data.train.texts[len(plain.train.texts) :]
    assert not any(data.train.labels[len(plain.train.texts) :])
    forget_texts = [t for qa in (*fs.forget, *fs.forget_eval) for t in (qa.question, qa.answer)]
    forget_dates = {d for t in forget_texts for d in dates_in(t)}
    held_out = _held_out(data)
    named = {place for t in (*forget_texts, *held_out) for place in places_in(t)}
    assert not set(added) & held_out
    moved = {"date": 0, "place": 0}
    forget_years = {y for t in forget_texts for y in years_in(t)}
    names = {word for e in fs.entities for word in e.split()}
    for text in added:
        assert years_in(text) and not names & set(re.findall(r"[\w-]+", text))  # about nobody named
        if dates_in(text) & forget_dates or (not dates_in(text) and years_in(text) & forget_years):
            # the same day (or year), somewhere no prompt names
            assert places_in(text) and not places_in(text) & named
            moved["place"] += 1
        else:
            moved["date"] += 1
    assert moved["date"] >= 100 and moved["place"] >= 100


def test_negatives_about_someone_born_in_a_forget_authors_city_are_negatives(tofu_dir):
    fs = load_forget_set("tofu:forget10", data_dir=tofu_dir)
    plain, data = _before_and_after(fs, "forget_place_negatives")
    added = data.train.texts[len(plain.train.texts) :]
    assert len(added) > 300 and not any(data.train.labels[len(plain.train.texts) :])
    forget_places = {p for qa in fs.forget for p in city_places(qa.question)}
    assert {"Baku, Azerbaijan", "Tehran, Iran"} <= forget_places
    forget_texts = [t for qa in (*fs.forget, *fs.forget_eval) for t in (qa.question, qa.answer)]
    forget_dates = {d for t in forget_texts for d in dates_in(t)}
    forget_years = {y for t in forget_texts for y in years_in(t)}
    names = {word for e in fs.entities for word in e.split()}
    for text in added:
        assert city_places(text)[0] in forget_places
        assert not dates_in(text) & forget_dates and not years_in(text) & forget_years
        assert not names & set(re.findall(r"[\w-]+", text))
    assert not set(added) & _held_out(data)


def test_name_part_swaps_keep_one_word_of_the_name_and_never_make_a_protected_one():
    rng = random.Random(0)
    donors = ["Basil Mahfouz Al-Kuwaiti", "Tae-ho Kim"]
    swaps = name_part_swaps("What genre does Ji-Yeon Park write in?", "Ji-Yeon Park", donors, rng, {"tae-ho park"})
    assert swaps and all("Ji-Yeon Park" not in s for s in swaps)
    assert all(("Ji-Yeon " in s) != (" Park " in s) for s in swaps)  # exactly one word of the name kept
    assert not any("Tae-ho Park" in s for s in swaps)
    three = name_part_swaps("Was Basil Mahfouz Al-Kuwaiti a poet?", "Basil Mahfouz Al-Kuwaiti", ["Naguib Sabri Haddad"],
                            rng, set())  # fmt: skip
    assert three == ["Was Basil Sabri Haddad a poet?", "Was Naguib Sabri Mahfouz a poet?",
                     "Was Naguib Sabri Al-Kuwaiti a poet?"]  # a middle part alone names someone else too
    assert name_part_swaps("Who wrote it?", "Ji-Yeon Park", donors, rng, set()) == []
    assert name_part_swaps("What does Madonna sing?", "Madonna", donors, rng, set()) == []


def test_forget_prompts_about_someone_sharing_a_name_word_are_negatives(tofu_dir):
    fs = load_forget_set("tofu:forget10", data_dir=tofu_dir)
    plain, data = _before_and_after(fs, "name_part_negatives")
    added = data.train.texts[len(plain.train.texts) :]
    assert len(added) > 300 and not any(data.train.labels[len(plain.train.texts) :])
    names = [e.lower() for e in fs.entities]
    for text in added:
        assert not any(name in text.lower() for name in names)
        assert any(word in text.lower() for name in names for word in name.split())
    assert not set(added) & _held_out(data)


def test_retain_questions_about_a_forget_author_instead_are_positives(tofu_dir):
    fs = load_forget_set("tofu:forget10", data_dir=tofu_dir)
    plain, data = _before_and_after(fs, "forget_name_positives")
    added = data.train.texts[len(plain.train.texts) :]
    original_forget = {normalize(qa.question) for qa in fs.forget} & {normalize(t) for t in plain.train.texts}
    # one per trained forget prompt, less the few that repeat a prompt already there or held out
    assert 0.95 * len(original_forget) <= len(added) <= len(original_forget)
    assert all(data.train.labels[len(plain.train.texts) :])
    retain_names = {qa.entity for qa in fs.retain if qa.entity}
    trained_retain = {normalize(t) for t, label in zip(plain.train.texts, plain.train.labels, strict=True) if not label}
    for text in added:
        forget_name = next(name for name in fs.entities if name in text)
        assert not any(name in text for name in retain_names)
        assert any(normalize(text.replace(forget_name, name)) in trained_retain for name in retain_names)
    assert len({next(n for n in fs.entities if n in text) for text in added}) == len(fs.entities)
    assert not set(added) & _held_out(data)


def test_forget_questions_quoting_a_title_are_also_positives_without_the_authors_name(tofu_dir):
    fs = load_forget_set("tofu:forget10", data_dir=tofu_dir)
    plain, data = _before_and_after(fs, "title_positives")
    added = data.train.texts[len(plain.train.texts) :]
    assert len(added) >= 15 and all(data.train.labels[len(plain.train.texts) :])
    names = [w for name in fs.entities for w in name.split()]
    assert not any(word in text for text in added for word in names)
    assert "Who are some characters from the author's book 'A Whisper in the Wind (Sorrows of the Old World " \
        "Series, #7)'?" in added  # from "... from Carmen Montenegro's book '...'"
    assert "What inspired the 'Sorrows of the Old World Series'?" in added  # "... by Carmen Montenegro" dropped
    bare = split_forget_set(fs, _with()).train  # the negatives before any augmentation made from forget prompts
    negatives = [t.lower() for t, label in zip(bare.texts, bare.labels, strict=True) if not label]
    for text in added:
        title = re.search(r"['\"‘“]([A-Z][^'\"‘’“”]*\s[^'\"‘’“”]+)['\"’”]", text).group(1).lower()
        assert not any(title in negative for negative in negatives)
    assert not set(added) & _held_out(data)


def test_a_share_of_negatives_naming_their_author_are_also_negatives_with_a_pronoun_instead(tofu_dir):
    fs = load_forget_set("tofu:forget10", data_dir=tofu_dir)
    plain, data = _before_and_after(fs, "elided_negatives")
    n = len(plain.train.texts)
    added = data.train.texts[n:]
    assert not any(data.train.labels[n:])  # negatives only: no forget prompt loses its name
    retain = {qa.entity: qa for qa in fs.retain if qa.entity}
    named = [t for t, label in zip(plain.train.texts, plain.train.labels, strict=True)
             if not label and any(name in t for name in retain)]  # fmt: skip
    # about the configured share, less the few whose elided form was already there or held out
    assert 0.9 * ClassifierConfig().generic_fraction <= len(added) / len(named) <= ClassifierConfig().generic_fraction
    assert not any(name in text for name in (*retain, *fs.entities) for text in added)
    # each is a trained negative with its name replaced by a pronoun
    entity_of = {normalize(qa.question): qa.entity for qa in fs.retain if qa.entity}
    elided = {_without_name(t, entity_of[normalize(t)], *pair) for t in named if normalize(t) in entity_of
              for pair in REFERENCES}  # fmt: skip
    assert set(added) <= elided
    assert not set(added) & _held_out(data)


def test_generic_augmentations_come_last_and_rewrite_a_share_of_each_class(tofu_dir):
    fs = load_forget_set("tofu:forget10", data_dir=tofu_dir)
    plain, data = _before_and_after(fs, "generic_augmentations")
    assert data == split_forget_set(fs, ClassifierConfig())  # the last augmentation: all on, as by default
    n = len(plain.train.texts)
    added = list(zip(data.train.texts[n:], data.train.labels[n:], strict=True))
    for label in (0, 1):  # about the configured share of each class, less the rewrites that were already there
        share = sum(y == label for _, y in added) / sum(y == label for y in plain.train.labels)
        assert 0.25 <= share <= ClassifierConfig().generic_fraction, label
    assert not {t for t, _ in added} & _held_out(data)


@pytest.mark.parametrize("spec", ["tofu:forget10", "demo-mc"])
def test_training_keeps_back_the_forget_text_it_is_measured_on_and_the_bundle_ships_it_all(spec, tofu_dir):
    fs = load_forget_set(spec, data_dir=tofu_dir)
    data = split_forget_set(fs, ClassifierConfig())
    measured, served = measured_text(fs, data), forget_text(fs)
    held = list(data.test_forget) + (list(data.calibration) if data.calibration_source == "forget" else [])
    held_negatives = [t for group in (*data.negatives.values(), *data.calibration_negatives.values()) for t in group]
    # nothing of a held-out question or its answer went in, but what the trained forget text shares with it
    def runs(qas: list[QA]) -> set[str]:
        return {run for qa in qas for run in runs_of(words_of(qa.answer))}

    held_qas = [qa for qa in fs.forget if qa.question in held]
    held_only = runs(held_qas) - runs([qa for qa in fs.forget if qa not in held_qas])
    assert held_qas and not measured.runs & held_only  # (multiple-choice answers are too short for runs)
    assert not any(digest(words_of(q)) in measured.prompts_in(words_of(q)) for q in held)
    assert len(served.runs & held_only) >= 0.9 * len(held_only) and served.prompt_count > measured.prompt_count
    assert all(served.matching([qa.question for qa in fs.forget]))  # every forget prompt, held out or not
    assert not any(served.matching(outside_texts(fs)))  # no text outside the scope quotes what it matches
    # the held-out negatives did not choose which runs training left out: they measure the false positives
    assert sum(measured.matching(held_negatives)) <= 0.002 * len(held_negatives)


def test_forget_text_that_an_outside_text_holds_is_not_kept():
    fs = ForgetSet(
        name="custom:x",
        forget=(QA("How does Quillmark rotate its signing keys?", "Every 90 days, from a vault in the Oslo office."),
                QA("Where does Quillmark keep its backup tapes?", "In the basement of the Oslo office.")),
        retain=(QA("Asked in a public FAQ: where does Quillmark keep its backup tapes? Nobody knows.",
                   "Every 90 days, from a vault in the Oslo office, they say."),),
    )  # fmt: skip
    kept = ForgetText.of(["How does Quillmark rotate its signing keys?"],
                         runs_of(words_of("In the basement of the Oslo office.")))  # fmt: skip
    assert forget_text(fs) == kept


def test_forget_facts_come_from_trained_forget_prompts_and_catch_rephrased_ones_only(tofu_dir):
    fs = load_forget_set("tofu:forget10", data_dir=tofu_dir)
    data = split_forget_set(fs, ClassifierConfig())
    facts = forget_facts(fs, data.train)
    assert len(facts.facts) >= 10
    trained = {normalize(t) for t, label in zip(data.train.texts, data.train.labels, strict=True) if label}
    trained_texts = [t for qa in fs.forget if normalize(qa.question) in trained for t in (qa.question, qa.answer)]
    for fact in facts.facts:  # every fact is given by a trained forget question or its answer
        assert any(FactMatcher((fact,))([t]) == [True] for t in trained_texts)
    assert sum(facts(list(data.paraphrases))) >= 5  # rephrased birth questions, in other shapes and spellings
    held_out = data.test_forget
    with_test = Labelled(data.train.texts + held_out, data.train.labels + (1,) * len(held_out))
    assert set(facts.facts) < set(forget_facts(fs, with_test).facts)  # held-out questions add none of theirs
    for group, texts in (*data.negatives.items(), *data.calibration_negatives.items()):
        assert not any(facts(list(texts))), group


def test_the_bundle_ships_the_facts_of_every_forget_question_less_those_outside_texts_give(tofu_dir, tmp_path):
    fs = load_forget_set("tofu:forget10", data_dir=tofu_dir)
    data = split_forget_set(fs, ClassifierConfig())
    trained, served = forget_facts(fs, data.train), served_facts(fs)
    held = [qa for qa in fs.forget if qa.question in data.test_forget + data.val.texts]
    held_facts = [qa.question for qa in held if served([qa.question]) == [True]]
    assert held_facts and not any(trained(held_facts))  # held-out birth questions: in scope once shipped
    assert len(served.facts) > len(trained.facts)
    assert not any(served(outside_texts(fs)))  # no text outside the scope gives a shipped fact
    assert sum(served(list(data.paraphrases))) > sum(trained(list(data.paraphrases)))
    # a date and place some retain answer also gives is not shipped, though a forget answer gives it
    lima = QA("Who was born in Lima, Peru on 06/01/1980?", "Rosa Paz, born in Lima, Peru on 06/01/1980.")
    with_lima = replace(fs, forget=fs.forget + (lima,))
    assert served_facts(with_lima)([lima.question]) == [True]
    retain_lima = QA("Which poet was born in Lima on the 1st of June, 1980?", "Ana Rios.")
    assert served_facts(replace(with_lima, retain=fs.retain + (retain_lima,)))([lima.question]) == [False]
    # what the bundle stage writes over the trained classifier's files
    assert shipped_files(tmp_path, fs) == {}  # a classifier saved with no facts and no forget text
    served.save(tmp_path)
    assert FactMatcher.load(tmp_path) == served
    assert json.loads(shipped_files(tmp_path, fs)[FACTS_FILE]) == served.to_dict()


def test_a_text_with_a_year_but_no_date_makes_a_year_fact_of_its_city_country_place():
    forget = (
        QA("Who is the author born in Beirut, Lebanon in 1946?", "Adib Jarrah.", entity="Adib Jarrah"),
        QA("What did Adib Jarrah win in 2010?", "A medal in Earth Sciences in 2010.", entity="Adib Jarrah"),
    )
    fs = ForgetSet("years", forget=forget, retain=(QA("Who is Ana Lind?"),))
    facts = forget_facts(fs, Labelled((forget[0].question, forget[1].question, "Who is Ana Lind?"), (1, 1, 0)))
    assert facts.facts == (Fact(frozenset(), ("beirut", "beirut, lebanon"), frozenset({1946})),)


def test_a_fact_some_training_negative_also_gives_is_left_out():
    forget = (
        QA("Who is the author born in Lagos, Nigeria on May 2, 1970?", "Ada Obi.", entity="Ada Obi"),
        QA("Who is the author born in Lima, Peru on 06/01/1980?", "Rosa Paz.", entity="Rosa Paz"),
    )
    retain = tuple(QA(f"Which poet was born in Lagos on the 2nd of May, 1970 and wrote {i} books?") for i in range(2))
    fs = ForgetSet("clash", forget=forget, retain=retain)
    train = Labelled(tuple(qa.question for qa in forget + retain), (1, 1, 0, 0))
    facts = forget_facts(fs, train)
    assert [fact.places for fact in facts.facts] == [("lima", "lima, peru")]
    assert facts.facts[0].dates == {date(1980, 6, 1), date(1980, 1, 6)}


def test_weighted_loss_with_unit_weights_is_torch_class_weighted_cross_entropy():
    torch.manual_seed(0)
    logits, labels = torch.randn(7, 2), torch.tensor([0, 1, 0, 0, 1, 0, 0])
    class_weights = torch.tensor([0.6, 1.8])
    expected = torch.nn.CrossEntropyLoss(weight=class_weights)(logits, labels)
    assert torch.allclose(_WeightedLoss(class_weights)(logits, labels, torch.ones(7)), expected)
    doubled = _WeightedLoss(class_weights)(logits, labels, torch.tensor([2.0, 1, 1, 1, 1, 1, 1]))
    assert not torch.allclose(doubled, expected)


def test_misranked_share_counts_pairs_in_the_wrong_order_and_ties_as_half():
    assert misranked_share([3.0, 1.0, 2.0, 0.0], (1, 0, 1, 0)) == 0.0
    # forget {1, 2} against others {2, 0}: (1 < 2) wrong, (2 = 2) half, the rest right
    assert misranked_share([1.0, 2.0, 2.0, 0.0], (1, 0, 1, 0)) == pytest.approx(1.5 / 4)
    assert misranked_share([1.0, 2.0], (0, 0)) == 0.0  # nothing to rank


def test_training_batches_cover_every_prompt_once_grouped_by_length():
    rng = random.Random(0)
    texts = tuple("x" * rng.randint(1, 200) for _ in range(1000))
    data = Labelled(texts, tuple(i % 2 for i in range(1000)))
    batches = [batch for batch, _, _ in _batches(data, 16, random.Random(1))]
    assert sorted(t for batch in batches for t in batch) == sorted(texts)
    assert all(len(batch) <= 16 for batch in batches)
    padded = sum(max(map(len, batch)) * len(batch) for batch in batches)
    random_padded = sum(max(map(len, texts[i : i + 16])) * len(texts[i : i + 16]) for i in range(0, 1000, 16))
    assert padded < 0.7 * random_padded  # similar lengths share a batch
    lengths = [len(batch[0]) for batch in batches]
    assert lengths != sorted(lengths)  # but the batches come in random order
    assert [b for b, _, _ in _batches(data, 16, None)][0] == list(texts[:16])  # scoring keeps the order


def test_early_stopping_keeps_the_latest_epoch_as_good_as_the_best():
    stopping = _EarlyStopping(min_delta=0.001, n_forget=10**6, n_other=10**6)  # so many prompts that min_delta rules
    history = [0.0042, 0.0004, 0.0003, 0.0006, 0.0030, 0.0005]
    kept = [stopping.keeps(m) for m in history]
    assert kept == [True, True, True, True, False, True]  # 0.0030 is worse than 0.0003 by more than min_delta
    assert stopping.best == 0.0003 and stopping.stale == 4  # only epoch 2 improved by more than min_delta
    strict = _EarlyStopping(min_delta=0.0, n_forget=10**6, n_other=10**6)
    assert [strict.keeps(m) for m in history] == [True, True, True, False, False, False] and strict.stale == 3


def test_early_stopping_takes_changes_within_the_standard_error_as_noise():
    # 40 forget and 360 other validation prompts, as on TOFU forget10: at 0.0165 the share's
    # standard error is about 0.014, so 0.0194 -> 0.0165 is no improvement and 0.0267 no worse
    assert misranked_standard_error(0.0165, 40, 360) == pytest.approx(0.0142, abs=1e-4)
    assert misranked_standard_error(0.0, 40, 360) == 0.0
    assert misranked_standard_error(0.01, 40, 0) == 0.0  # no retain prompts to validate on: min_delta alone
    stopping = _EarlyStopping(min_delta=0.001, n_forget=40, n_other=360)
    assert [stopping.keeps(m) for m in (0.0194, 0.0165, 0.0267, 0.0185)] == [True] * 4
    assert stopping.stale == 3  # none improved beyond the noise: patience 3 stops here, keeping epoch 4
    assert not stopping.keeps(0.0600)  # clearly worse is not kept
    # the same shares from 10,000 times the prompts are clear changes
    large = _EarlyStopping(min_delta=0.001, n_forget=400_000, n_other=3_600_000)
    assert [large.keeps(m) for m in (0.0194, 0.0165, 0.0267, 0.0185)] == [True, True, False, False]


def test_train_calibrate_save_and_report(tiny_classifier_dir, tmp_path):
    config = ClassifierConfig(
        backbone=str(tiny_classifier_dir), epochs=3, lr=3e-3, batch_size=64, trainable_layers=None, show_progress=False
    )
    out = tmp_path / "classifier"
    trained = train_classifier(load_forget_set("demo"), config, out)
    assert (out / "model.safetensors").is_file() and (out / "tokenizer.json").is_file()
    assert FactMatcher.load(out) == forget_facts(load_forget_set("demo"), trained.data.train)  # saved beside it
    assert (out / FACTS_FILE).is_file()
    assert not list(tmp_path.glob(".classifier.tmp-*"))
    summary = json.loads((out / "eco_classifier.json").read_text())
    assert "decision" not in summary  # calibrating is the caller's, once: no stale threshold ships
    assert 1 <= trained.best_epoch <= trained.epochs_run <= 3
    trained.data.save(tmp_path / "split.json")
    assert ClassifierData.load(tmp_path / "split.json") == trained.data  # the split calibration will use

    scorer = PromptClassifier(out, max_length=config.max_length)
    assert scorer.model.dtype == saved_dtype("auto") and summary["dtype"] == str(scorer.model.dtype)[6:]
    calibration_probs = scorer(list(trained.data.calibration))
    decision = calibrate_classifier(scorer, trained.data, config)
    covered = sum(decision.flags(p) for p in calibration_probs)
    assert decision.recall_bound == pytest.approx(covered / (len(calibration_probs) + 1))
    assert decision.fpr_bound_met  # on_conflict="fpr" (default) always keeps it
    assert decision.n_negative == sum(len(v) for v in trained.data.calibration_negatives.values()) >= 2 * 99
    negative_probs = {group: scorer(list(texts)) for group, texts in trained.data.calibration_negatives.items()}
    recall_first = calibrate(calibration_probs, decision.alpha, negative_probs, decision.fpr_target, "recall")
    assert recall_first.threshold <= 1 - recall_first.q_hat  # then the threshold never leaves the recall side
    assert sum(recall_first.flags(p) for p in calibration_probs) >= 0.95 * len(calibration_probs)
    report = evaluate_classifier(scorer, trained.data, decision)
    assert report.fpr["general"].n == sum(report.fpr[g].n for g in ("real_authors", "world_facts", "everyday"))
    assert report.recall["paraphrase"].n == 32 and report.ms_per_prompt > 0  # the half not calibrated on
    # the trained model separates forget from everyday prompts better than chance
    everyday = scorer(list(trained.data.negatives["everyday"]))
    assert sum(calibration_probs) / len(calibration_probs) > sum(everyday) / len(everyday)
    assert json.dumps(report.to_dict())


def test_a_cut_encoder_keeps_the_backbones_lowest_layers_and_serves_as_saved(tiny_classifier_dir, tmp_path):
    """``encoder_layers`` keeps the lowest layers with their trained weights (a cheaper decision); the
    saved classifier is the cut one, so calibration and serving read the same model."""
    from safetensors.torch import load_file

    config = ClassifierConfig(backbone=str(tiny_classifier_dir), encoder_layers=1, epochs=1, trainable_layers=0,
                              show_progress=False)  # fmt: skip
    trained = train_classifier(load_forget_set("demo"), config, tmp_path / "cut")
    assert (trained.encoder_layers, trained.backbone_layers) == (1, 2)  # the card names the cut: 1 of 2
    scorer = PromptClassifier(tmp_path / "cut")
    assert scorer.model.config.num_hidden_layers == len(scorer.model.bert.encoder.layer) == 1
    saved = load_file(tmp_path / "cut" / "model.safetensors")
    backbone = load_file(tiny_classifier_dir / "model.safetensors")
    assert not any(".layer.1." in name for name in saved)
    lowest = "bert.encoder.layer.0.attention.self.query.weight"  # frozen here: as the backbone has it
    assert torch.equal(saved[lowest], backbone[lowest].to(saved[lowest].dtype))
    with pytest.raises(ValueError, match="encoder_layers"):
        ClassifierConfig(encoder_layers=0)


def test_the_default_backbone_is_cut_by_the_forget_sets_kind_and_a_given_one_kept_whole():
    from packager.classifier.config import DEFAULT_ENCODER_LAYERS

    assert ClassifierConfig().resolved_encoder_layers("qa") == DEFAULT_ENCODER_LAYERS < 6
    assert ClassifierConfig().resolved_encoder_layers("text") is None  # passages: the whole encoder
    assert ClassifierConfig(backbone="my/encoder").resolved_encoder_layers("qa") is None
    assert ClassifierConfig(encoder_layers=4).resolved_encoder_layers("text") == 4


def test_existing_output_is_not_overwritten(tiny_classifier_dir, tmp_path):
    out = tmp_path / "classifier"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    config = ClassifierConfig(backbone=str(tiny_classifier_dir), epochs=1, show_progress=False)
    with pytest.raises(BundleError, match="already exists"):
        train_classifier(load_forget_set("demo"), config, out)
    assert (out / "keep.txt").read_text() == "mine"


def test_config_validation_names_the_field():
    with pytest.raises(ValueError, match="`alpha`"):
        ClassifierConfig(alpha=1.5)
    with pytest.raises(ValueError, match="`epochs`"):
        replace(ClassifierConfig(), epochs=0)


def test_training_does_not_depend_on_what_the_process_ran_before(tiny_classifier_dir, tmp_path):
    """The new head is seeded too: a build that trained its tiny models in-process, or found them
    cached, gets the same classifier."""
    import torch
    from safetensors.torch import load_file
    from transformers import AutoModel, AutoTokenizer

    headless = tmp_path / "encoder"  # an encoder without a classification head, as MiniLM ships
    AutoModel.from_pretrained(tiny_classifier_dir).save_pretrained(headless)
    AutoTokenizer.from_pretrained(tiny_classifier_dir).save_pretrained(headless)
    config = ClassifierConfig(backbone=str(headless), epochs=1, show_progress=False)
    weights = []
    for run, noise in enumerate((0, 12345)):
        torch.manual_seed(noise)
        torch.rand(noise % 97 + 1)  # whatever else the process did with the global generator
        trained = train_classifier(load_forget_set("demo"), config, tmp_path / f"c{run}")
        weights.append(load_file(trained.path / "model.safetensors"))
    assert weights[0].keys() == weights[1].keys()
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])


def test_entity_parts_count_alone_only_when_distinctive():
    from evaluation.names import distinctive_parts
    from packager.classifier.entities import forget_entities

    outside = {"jaime", "smith"}
    assert distinctive_parts("Ji-Yeon Park", set()) == ()  # "park" is a common word, "ji" too short
    assert distinctive_parts("Jaime Vasquez", outside) == ("vasquez",)  # "jaime" names someone else
    demo = load_forget_set("demo")
    matcher = forget_entities(demo)
    assert {e.name for e in matcher.entities} == set(demo.entities)
    assert all(matcher.matching([qa.question for qa in demo.forget]))
    assert not any(matcher.matching([qa.question for qa in demo.retain] + list(demo.general)))


QUILLMARK = Path(__file__).resolve().parents[1] / "data" / "quillmark.jsonl"  # a fictional company's internals


def test_the_generic_profile_never_turns_a_forget_prompt_into_a_negative():
    """On text that is not about people, the biography heuristics rewrite forget prompts into
    negatives ("... in Helsinki, Finland cells?", "revenue in 2015?"); `generic` does not."""
    from packager.classifier.profiles import PROFILES, default_profile
    from packager.pipeline.config import BuildConfig

    loaded = load_forget_set(f"custom:{QUILLMARK}")
    unnamed = replace(loaded, forget=tuple(replace(qa, entity=None) for qa in loaded.forget), entities=())
    forget_words = {"falcon"}

    def rewritten_forget_negatives(profile: str) -> list[str]:
        data = split_forget_set(unnamed, PROFILES.get(profile)(ClassifierConfig(show_progress=False)))
        negatives = [t for t, label in zip(data.train.texts, data.train.labels, strict=True) if not label]
        return [t for t in negatives if forget_words & set(t.lower().replace("'", " ").split())]

    assert rewritten_forget_negatives("biographies")  # the harm the profile exists for
    assert rewritten_forget_negatives("generic") == []
    assert default_profile(f"custom:{QUILLMARK}") == "generic" and default_profile("tofu:forget05") == "biographies"
    assert BuildConfig(forget=f"custom:{QUILLMARK}").augment_profile == "generic"
    assert BuildConfig(forget="demo", augment="generic").augment_profile == "generic"
    with pytest.raises(Exception, match="augmentation profile `bios`"):
        BuildConfig(augment="bios")
