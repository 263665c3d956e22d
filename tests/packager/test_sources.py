"""Forget-set sources: parsing of every source, determinism of demo, and each bad-input error."""

from __future__ import annotations

import csv
import json
import re
import shutil

import pytest

from guards.errors import EcoPackError
from packager.sources import QA, ForgetSet, ForgetSetError, load_forget_set


def test_demo_is_deterministic_and_tofu_shaped():
    first, again, other = load_forget_set("demo"), load_forget_set("demo"), load_forget_set("demo:1")
    assert first == again
    assert first != other
    assert len(first.entities) == 4
    forget_people = {qa.entity for qa in first.forget}
    assert forget_people == set(first.entities)
    assert not forget_people & {qa.entity for qa in first.retain}
    assert not {qa.entity for qa in first.holdout} & ({qa.entity for qa in first.retain} | forget_people)
    assert first.train_qa == first.forget + first.retain
    for qa in first.forget_eval:
        assert qa.paraphrased_question and qa.paraphrased_question != qa.question
        assert len(qa.perturbed_answers) == 3 and qa.answer not in qa.perturbed_answers
        assert qa.entity in qa.question and qa.answer.endswith(".")
    assert first.real_authors and all(qa.perturbed_answers for qa in first.real_authors + first.world_facts)
    assert "Write a haiku about autumn leaves." in first.general


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_demo_forget_and_holdout_people_hold_only_values_retain_people_hold(seed):
    """What the demo's forget set teaches is who holds which value: every answer about a forget or
    holdout person, with the person's name set aside, is also an answer about some retain person."""
    fs = load_forget_set(f"demo:{seed}")
    retain = {qa.answer.replace(qa.entity, "{}") for qa in fs.retain}
    for qa in fs.forget + fs.holdout:
        assert qa.answer.replace(qa.entity, "{}") in retain, qa.answer


def test_tofu_forget10_reads_all_subsets(tofu_dir):
    fs = load_forget_set("tofu:forget10", data_dir=tofu_dir)
    assert (len(fs.forget), len(fs.retain), len(fs.holdout)) == (400, 3600, 400)
    assert len(fs.forget_eval) == 400 and all(len(qa.perturbed_answers) == 5 for qa in fs.forget_eval)
    assert all(qa.paraphrased_question for qa in fs.forget_eval)
    assert len(fs.retain_eval) == 400
    assert len(fs.real_authors) == 100 and len(fs.real_authors[0].perturbed_answers) == 3
    assert len(fs.world_facts) == 117
    assert load_forget_set("tofu").name == "tofu:forget10"  # default split, data dir from the env


def test_tofu_entity_names_look_like_names(tofu_dir):
    fs = load_forget_set("tofu:forget10", data_dir=tofu_dir)
    assert len(fs.entities) == 20 and len(set(fs.entities)) == 20
    for name in fs.entities:
        words = name.split()
        assert 2 <= len(words) <= 4 and all(w[0].isupper() for w in words), name
        assert not re.search(r"\b(What|Who|How|The|Award|Prize)\b", name), name
    for block in range(20):  # the name comes from its own block of 20 questions
        questions = [qa.question for qa in fs.forget[block * 20 : block * 20 + 20]]
        assert sum(fs.entities[block] in q for q in questions) >= 5
    assert "Basil Mahfouz Al-Kuwaiti" in fs.entities


@pytest.mark.parametrize("split,sizes", [("forget01", (40, 3960)), ("forget05", (200, 3800))])
def test_tofu_pairs_forget_with_retain(tofu_dir, split, sizes):
    fs = load_forget_set(f"tofu:{split}", data_dir=tofu_dir)
    assert (len(fs.forget), len(fs.retain)) == sizes
    assert len(fs.entities) == sizes[0] // 20


def test_custom_jsonl_file(tmp_path):
    rows = [
        {
            "question": "Who is Zed Quorn?",
            "answer": "A painter.",
            "split": "forget",
            "entity": "Zed Quorn",
            "paraphrased_question": "Tell me about Zed Quorn.",
            "perturbed_answers": ["A pilot.", "A cook."],
        },
        {"question": "Where does Zed Quorn live?", "split": "forget", "entity": "Zed Quorn"},
        {"question": "Who is Ana Lind?", "answer": "A poet.", "split": "retain"},
        {"question": "Who is Bo Virt?", "split": "holdout"},
        {"question": "Plan my week.", "split": "general"},
    ]
    path = tmp_path / "set.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n")
    fs = load_forget_set(f"custom:{path}")
    assert [qa.question for qa in fs.forget] == ["Who is Zed Quorn?", "Where does Zed Quorn live?"]
    assert fs.forget[0].perturbed_answers == ("A pilot.", "A cook.")
    assert fs.forget_eval == fs.forget[:1]
    assert fs.retain == (QA("Who is Ana Lind?", "A poet."),)
    assert [qa.question for qa in fs.holdout] == ["Who is Bo Virt?"]
    assert fs.general[0] == "Plan my week." and len(fs.general) > 100
    assert fs.entities == ("Zed Quorn",)


def test_custom_csv_directory(tmp_path):
    with (tmp_path / "forget.csv").open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["question", "answer", "paraphrased_question", "perturbed_answer_1", "perturbed_answer_2"])
        writer.writerow(["When was Zed Quorn born?", "In 1970.", "What year saw Zed Quorn's birth?", "1960", ""])
    (tmp_path / "retain.csv").write_text("question,answer\nWho is Ana Lind?,A poet.\n")
    fs = load_forget_set(f"custom:{tmp_path}")
    assert fs.forget[0].paraphrased_question == "What year saw Zed Quorn's birth?"
    assert fs.forget[0].perturbed_answers == ("1960",)
    assert fs.retain[0].answer == "A poet."


def test_empty_forget_set_is_refused(tmp_path):
    path = tmp_path / "set.jsonl"
    path.write_text(json.dumps({"question": "Who is Ana Lind?", "split": "retain"}) + "\n")
    with pytest.raises(ForgetSetError, match="no forget prompts"):
        load_forget_set(f"custom:{path}")
    with pytest.raises(ForgetSetError, match="no forget prompts"):
        ForgetSet("x", forget=(), retain=(QA("q"),))


def test_prompt_in_forget_and_retain_is_refused(tmp_path):
    path = tmp_path / "set.csv"
    path.write_text("question,split\nWho is Zed Quorn?,forget\n  who is zed   QUORN?,retain\n")
    with pytest.raises(ForgetSetError, match="both forget and retain"):
        load_forget_set(f"custom:{path}")


def test_missing_and_unreadable_files(tmp_path):
    with pytest.raises(ForgetSetError, match="does not exist"):
        load_forget_set(f"custom:{tmp_path / 'nope.jsonl'}")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "ok", "split": "forget"}\n{not json\n')
    with pytest.raises(ForgetSetError, match=r"bad.jsonl:2"):
        load_forget_set(f"custom:{bad}")
    binary = tmp_path / "bin.csv"
    binary.write_bytes(b"question\n\xff\xfe\x00")
    with pytest.raises(ForgetSetError, match="UTF-8"):
        load_forget_set(f"custom:{binary}")
    with pytest.raises(ForgetSetError, match="no forget.jsonl"):
        load_forget_set(f"custom:{tmp_path}")


def test_tofu_missing_file_and_no_source(tmp_path, tofu_dir, monkeypatch):
    shutil.copy(tofu_dir / "forget01.jsonl", tmp_path / "forget01.jsonl")
    with pytest.raises(ForgetSetError, match="retain99"):
        load_forget_set("tofu:forget01", data_dir=tmp_path)
    monkeypatch.delenv("ECO_PACK_DATA_DIR")  # HF_HUB_OFFLINE=1 (conftest): the Hub fails too
    with pytest.raises(ForgetSetError) as info:
        load_forget_set("tofu:forget01")
    assert "--data-dir" in str(info.value) and "ECO_PACK_DATA_DIR" in str(info.value)
    assert "network access" in str(info.value)


def test_unknown_names_list_valid_ones():
    with pytest.raises(ForgetSetError, match="forget01.*forget05.*forget10"):
        load_forget_set("tofu:forget20")
    with pytest.raises(EcoPackError, match="custom, demo, demo-mc, demo-text, mmlu-subset, tofu, wmdp"):
        load_forget_set("tofuu")
