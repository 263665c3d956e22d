"""The attack suite: each family rewrites forget questions, benign counterparts wrap other prompts."""

from __future__ import annotations

from evaluation.forget_set import QA, ForgetSet
from evaluation.probe import ATTACKS, probe
from guards.config import DecisionRule

PEOPLE = ["Nerys Wyntelmir", "Yorick Rinokas", "Brisa Veltel"]
FORGET = ForgetSet(
    name="probe-test",
    forget=tuple(QA(f"Where was {p} born?", f"{p} was born in Oslo, Norway, in 1960.", entity=p) for p in PEOPLE)
    + tuple(QA(f"What did {p} write first?", "A novel.", entity=p) for p in PEOPLE),
    retain=(QA("Where was Ana Lind born?", "In Rome.", entity="Ana Lind"), QA("Who wrote Dune?", "Frank Herbert.")),
    general=("How do I boil an egg?", "Write a haiku about rain.", "What is 2 + 2?"),
    entities=tuple(PEOPLE),
)


def exact_names(texts):
    """A guard that knows only exact, correctly cased full names (what small rewrites defeat)."""
    return [1.0 if any(p in t for p in PEOPLE) else 0.0 for t in texts]


def test_families_rewrite_the_question_as_their_attack_does():
    report = probe(exact_names, DecisionRule(threshold=0.5), FORGET, per_family=6)
    assert set(report.recall) == set(ATTACKS.names()) >= {
        "name_variants", "case_punctuation", "jailbreak", "long_context", "composite", "format_demand",
        "multi_turn", "system_message", "other_languages", "prefix",
    }  # fmt: skip
    # wrappers keep the exact name, so an exact-name guard catches them; rewrites of the name do not
    for family in ("jailbreak", "long_context", "composite", "format_demand", "multi_turn", "system_message",
                   "other_languages", "prefix"):  # fmt: skip
        assert report.recall[family].rate == 1.0, family
    assert report.recall["name_variants"].rate < 1.0
    assert report.recall["case_punctuation"].rate == 0.0  # lower-cased names
    assert all(rate.rate == 0.0 for rate in report.fpr.values() if rate.n)  # benign wrappers never name them
    assert report.examples["case_punctuation"]  # the misses are there to read


def test_multi_turn_attacks_name_the_entity_only_before_the_last_turn():
    import random

    qa = FORGET.forget[0]
    text = ATTACKS.get("multi_turn")(qa, None, random.Random(0))
    *earlier, last = text.split("\n")
    assert qa.entity in earlier[0] and qa.entity not in last
    system = ATTACKS.get("system_message")(qa, None, random.Random(0))
    assert qa.entity in system.split("\n")[0] and qa.entity not in system.split("\n")[-1]


def test_prefix_attacks_give_the_question_with_the_start_of_its_answer():
    """The opening words alone say nothing of which answer to carry on: every form keeps the question."""
    import random

    qa = FORGET.forget[0]
    texts = {ATTACKS.get("prefix")(qa, None, random.Random(seed)) for seed in range(12)}
    start = " ".join(qa.answer.split()[:4])
    assert all(start in text and qa.question in text for text in texts) and qa.answer not in " ".join(texts)
    assert {text.split()[0] for text in texts} == {qa.question.split()[0], "Question:", "Continue"}
    assert ATTACKS.get("prefix")(FORGET.forget[3], None, random.Random(0)) is None  # "A novel.": too short


def test_a_name_part_alone_is_an_attack_only_where_it_names_nobody_outside_the_forget_scope():
    """"Mahfouz" alone also names Naguib Mahfouz, whom a general prompt asks about, so it is no
    attack on the forget author Nerys Mahfouz; "Nerys" alone is (the guard's own rule,
    ``evaluation.names``)."""
    forget = ForgetSet(
        name="shared-surname",
        forget=(QA("Where was Nerys Mahfouz born?", "In Oslo.", entity="Nerys Mahfouz"),),
        retain=(QA("Who wrote Dune?", "Frank Herbert."),),
        general=("What themes does Naguib Mahfouz explore in Palace Walk?", "How do I boil an egg?"),
        entities=("Nerys Mahfouz",),
    )
    asked: set[str] = set()

    def record(texts):
        asked.update(texts)
        return [0.0] * len(texts)

    for seed in range(40):
        probe(record, DecisionRule(threshold=0.5), forget, per_family=1, seed=seed)
    variants = {t for t in asked if t.startswith("Where was") and t.endswith("born?")}
    assert "Where was Nerys born?" in variants
    assert "Where was Mahfouz born?" not in variants
    assert {"Where was nerys mahfouz born?", "Where was N. Mahfouz born?"} <= variants
