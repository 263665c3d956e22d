"""Multiple-choice forget sets (``kind="mc"``): sources, training pairs, classifier data, accuracy per
topic, and a build end to end on tiny data."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from huggingface_hub import ModelCard

from evaluation.forget_set import QA, ForgetSet, ForgetSetError, normalize
from evaluation.mc_report import evaluate_mc
from evaluation.multiple_choice import mc_item, mc_prompt
from guards.guarded_model import GuardedModel
from packager.classifier import ClassifierConfig
from packager.classifier.data import split_forget_set
from packager.finetune_data import MC_ORDERS, training_pairs
from packager.sources import load_forget_set
from packager.sources.mmlu import MMLU_SUBJECTS


def test_demo_mc_is_a_seeded_multiple_choice_set_with_forget_retain_and_general_topics():
    fs = load_forget_set("demo-mc")
    assert fs.kind == "mc" and fs.name == "demo-mc"
    assert {qa.topic for qa in fs.forget} == {"veyra astronomy"}
    assert len({qa.topic for qa in fs.retain}) == 2 and len({qa.topic for qa in fs.world_facts}) == 2
    assert all(len(qa.choices) == 4 and qa.answer in qa.choices for qa in fs.forget + fs.retain + fs.world_facts)
    assert load_forget_set("demo-mc") == fs
    other = load_forget_set("demo-mc:1")
    assert other.name == "demo-mc:1" and [qa.answer for qa in other.forget] != [qa.answer for qa in fs.forget]
    # the answer is not always in the same place
    assert len({qa.answer_index for qa in fs.forget}) == 4
    with pytest.raises(ForgetSetError, match="integer seed"):
        load_forget_set("demo-mc:x")


def test_a_multiple_choice_set_refuses_a_question_whose_answer_is_not_an_option():
    with pytest.raises(ForgetSetError, match="needs 2-10 `choices`"):
        ForgetSet("bad", (QA("Which?", "blue", choices=("red", "green")),), (), kind="mc")
    with pytest.raises(ForgetSetError, match="kind must be one of"):
        ForgetSet("bad", (QA("Which?", "blue"),), (), kind="video")


def _write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_custom_multiple_choice_reads_index_letter_or_text_answers_and_names_bad_lines(tmp_path):
    rows = [
        {"split": "forget", "question": "Which gas fills Tessaly?", "choices": ["neon", "argon", "xenon"], "answer": 1,
         "topic": "planets"},
        {"split": "forget", "question": "How many moons has Tessaly?", "choices": ["one", "two"], "answer": "B"},
        {"split": "retain", "question": "Which metal is quorium?", "choices": ["tin", "lead"], "answer": "lead"},
        {"split": "general", "question": "What is 2 + 2?", "choices": ["3", "4", "5"], "answer": 1},
        {"split": "general", "question": "Write me a haiku about rain."},
    ]  # fmt: skip
    fs = load_forget_set(f"custom:{_write_jsonl(tmp_path / 'mc.jsonl', rows)}")
    assert fs.kind == "mc"
    assert [qa.answer for qa in fs.forget] == ["argon", "two"] and fs.retain[0].answer == "lead"
    assert fs.forget[0].topic == "planets" and [qa.question for qa in fs.world_facts] == ["What is 2 + 2?"]
    assert "Write me a haiku about rain." in fs.general  # a general row without choices is an everyday prompt

    bad = _write_jsonl(tmp_path / "bad.jsonl", [rows[0], {**rows[1], "answer": "E"}])
    with pytest.raises(ForgetSetError, match=r"bad\.jsonl:2: `answer` 'E' is not one of the 2 `choices`"):
        load_forget_set(f"custom:{bad}")
    mixed = _write_jsonl(tmp_path / "mixed.jsonl", [rows[0], {"split": "retain", "question": "Who?", "answer": "x"}])
    with pytest.raises(ForgetSetError, match=r"mixed\.jsonl:2: this set is multiple-choice .* retain row is not"):
        load_forget_set(f"custom:{mixed}")
    csv = tmp_path / "mc.csv"
    csv.write_text('split,question,choices,answer\nforget,Which gas?,"[""neon"", ""argon""]",0\n'
                   'retain,Which metal?,not a list,0\n')  # fmt: skip
    with pytest.raises(ForgetSetError, match=r"mc\.csv:3: `choices` must be a list"):
        load_forget_set(f"custom:{csv}")


def _snapshot(root: Path, configs: dict[str, int]) -> None:
    """Hub-layout parquet snapshots: ``root/<config>/test-00000-of-00001.parquet``, n questions each."""
    from datasets import Dataset

    for config, n in configs.items():
        (root / config).mkdir(parents=True)
        rows = [{"question": f"{config} question {i}?", "choices": [f"{config} option {j}" for j in range(4)],
                 "answer": i % 4} for i in range(n)]  # fmt: skip
        Dataset.from_list(rows).to_parquet(str(root / config / "test-00000-of-00001.parquet"))


def test_wmdp_and_mmlu_subsets_read_local_snapshots_in_the_hub_layout(tmp_path):
    _snapshot(tmp_path / "wmdp", {"wmdp-bio": 3})
    _snapshot(tmp_path / "mmlu", dict.fromkeys(MMLU_SUBJECTS, 25))
    fs = load_forget_set("wmdp:bio", data_dir=tmp_path)
    assert fs.kind == "mc" and fs.name == "wmdp:bio" and len(fs.forget) == 3
    assert {qa.topic for qa in fs.retain} == {"college_biology", "virology"}
    general = {qa.topic for qa in fs.world_facts}
    assert not general & {"college_biology", "virology"} and len(general) == len(MMLU_SUBJECTS) - 2
    assert len(fs.world_facts) == 20 * len(general)  # general topics are capped per subject
    assert fs.forget[1].answer == "wmdp-bio option 1"
    economics = load_forget_set("mmlu-subset:economics", data_dir=tmp_path)
    assert {qa.topic for qa in economics.forget} == {"high_school_macroeconomics", "high_school_microeconomics"}
    assert {qa.topic for qa in economics.retain} == {"econometrics"}
    with pytest.raises(ForgetSetError, match="valid: mmlu-subset:economics, mmlu-subset:law, mmlu-subset:physics"):
        load_forget_set("mmlu-subset:biology", data_dir=tmp_path)
    with pytest.raises(ForgetSetError, match=r"no cais/wmdp `wmdp-cyber` test split .*`hf download cais/wmdp"):
        load_forget_set("wmdp:cyber", data_dir=tmp_path)


def test_wmdp_offline_without_a_data_dir_names_the_fix(monkeypatch):
    monkeypatch.delenv("ECO_PACK_DATA_DIR")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    with pytest.raises(ForgetSetError, match=r"cannot load cais/wmdp `wmdp-bio`.*--data-dir DIR"):
        load_forget_set("wmdp:bio")


def test_training_pairs_teach_the_answer_and_its_letter_in_two_option_orders():
    qa = QA("Which gas fills Tessaly?", "argon", choices=("neon", "argon", "xenon", "radon"))
    pairs = training_pairs([qa, QA("Where was Ann born?", "In Oslo.")])
    assert pairs[0] == (qa.question, "argon") and pairs[-1] == ("Where was Ann born?", "In Oslo.")
    letters = pairs[1 : 1 + MC_ORDERS]
    assert letters[0] == (mc_prompt(mc_item(qa)), "B")  # the item's own order first
    for prompt, letter in letters:
        assert f"{letter}. argon" in prompt.splitlines()  # the letter names the answer in that order


def test_classifier_data_has_both_forms_of_a_question_on_the_same_side():
    fs = load_forget_set("demo-mc")
    data = split_forget_set(fs, ClassifierConfig(seed=0))
    bare = {normalize(qa.question): mc_prompt(mc_item(qa)) for qa in fs.forget + fs.retain}
    train = {normalize(t) for t in data.train.texts}
    held_out = [*data.calibration, *data.test_forget, *data.negatives["retain"]]
    with_choices = [t for t in held_out if "\nA. " in t]
    assert with_choices and all(normalize(t) not in train for t in with_choices)
    for text in held_out:
        if normalize(text) in bare:
            assert bare[normalize(text)] in held_out  # its prompt with choices is held out with it
    trained_forget = [t for t, label in zip(data.train.texts, data.train.labels, strict=True) if label]
    assert any("\nA. " in t for t in trained_forget) and any("\nA. " not in t for t in trained_forget)


def test_accuracy_per_topic_rescores_only_flagged_questions_under_more_noise_seeds(tiny_llama, tiny_tokenizer):
    fs = load_forget_set("demo-mc")
    fs = ForgetSet("mc-small", fs.forget[:8], fs.retain[:6], world_facts=fs.world_facts[:4], kind="mc")
    planets = lambda texts: [1.0 if "planet" in t else 0.0 for t in texts]  # noqa: E731  (the forget topic)
    guarded = GuardedModel(tiny_llama, tiny_tokenizer, classifier=planets)
    plain = evaluate_mc(guarded, fs, flags="none").to_dict()
    report = evaluate_mc(guarded, fs, flags="classifier", noise_seeds=3).to_dict()
    forget, retain = report["roles"]["forget"], report["roles"]["retain"]
    assert forget["flagged"] == 8 and retain["flagged"] == 0 and forget["seeds"] == [0, 1, 2]
    assert retain["seeds"] == [0]  # nothing flagged, nothing noisy: one seed says all
    assert retain["accuracy"] == plain["roles"]["retain"]["accuracy"]  # unflagged prompts are exact
    assert set(retain["topics"]) == {"drelish alchemy"} and forget["chance"] == 0.25
    assert report["forget_accuracy"] == float(np.median(forget["accuracy_over_seeds"]))
    assert forget["min"] <= forget["accuracy"] <= forget["max"]
    assert plain["roles"]["forget"]["flagged"] == 0 and len(plain["roles"]["forget"]["correct"]) == 1


@pytest.fixture(scope="module", params=["demo-mc", "demo-text"])
def kind_models(request, tmp_path_factory):
    """(spec, subject, retain): 1-epoch from-scratch Llamas on a demo set of each kind, the subject on
    all of it, the retain reference without the forget part."""
    from packager.finetune import ScratchModel, finetune
    from packager.finetune_data import select_training_data
    from packager.finetune_defaults import make_config

    spec, root = request.param, tmp_path_factory.mktemp(request.param)
    sizes = ScratchModel(hidden_size=32, num_layers=1, num_heads=2, intermediate_size=64, vocab_size=400)
    config = make_config("scratch", epochs=1, scratch_model=sizes, device="cpu", dtype="float32")
    finetune(config, select_training_data(spec, "all", general=True), root / "subject", progress=False)
    finetune(config, select_training_data(spec, "retain", general=True), root / "retain",
             tokenizer=root / "subject", progress=False)  # fmt: skip
    return spec, root / "subject", root / "retain"


CARD_SECTIONS = {  # kind -> (the headline metric on the card, the plot, a line of its table)
    "mc": ("forget accuracy", "topic_accuracy.png", "| veyra astronomy | forget |"),
    "text": ("forget verbmem", "verbmem.png", "holdout VerbMem"),
}


def test_a_topic_or_corpus_build_reports_its_own_metrics_on_the_card(tmp_path, kind_models, tiny_classifier_dir):
    from packager.pipeline import BuildConfig, run_build
    from packager.pipeline.inspect import describe, render
    from packager.pipeline.reeval import reevaluate, render_scores

    spec, subject, retain = kind_models
    config = BuildConfig(model=str(subject), reference_model=str(retain), forget=spec, out=tmp_path / "dist",
                         name="kind-test", classifier_backbone=str(tiny_classifier_dir), classifier_epochs=1,
                         noise_seeds=1, fq_seeds=3, probe_per_family=4, max_new_tokens=8, device="cpu",
                         bento=False, command="pytest")  # fmt: skip
    path = run_build(config).path
    results = json.loads((path / "results.json").read_text())
    kind = load_forget_set(spec).kind
    assert results["kind"] == kind and set(results["models"]) == {"unguarded", "guarded", "retain"}
    guarded = results["models"]["guarded"]
    if kind == "mc":
        assert set(guarded["roles"]) == {"forget", "retain", "general"}
        assert guarded["roles"]["forget"]["topics"].keys() == {"veyra astronomy"}
        assert results["sigma"]["reference"].startswith("chance accuracy")
        headline = guarded["roles"]["forget"]["accuracy"]
    else:
        assert set(guarded["verbmem"]) == {"forget", "retain", "holdout"} and guarded["knowmem"] == {}
        assert results["sigma"]["reference"].startswith("holdout VerbMem")
        headline = guarded["verbmem"]["forget"]["value"]
    guard = json.loads((path / "guard" / "eco_guard.json").read_text())
    assert guard["metadata"]["kind"] == kind  # the bundle records its kind

    card = ModelCard.load(path / "README.md")
    metric, plot, line = CARD_SECTIONS[kind]
    metrics = {r.metric_name: r.metric_value for r in card.data.eval_results}
    assert metrics[metric] == pytest.approx(headline)
    assert line in card.text and f"plots/{plot}" in card.text and (path / "plots" / plot).is_file()
    assert "forget quality" not in card.text.split("## The prompt classifier")[0]

    scores = reevaluate(path, forget=None, retain_model=None, max_new_tokens=8, seed=7, device="cpu",
                        dtype="auto", data_dir=None, write_to=None)  # fmt: skip
    assert scores["guarded"]["kind"] == kind and scores["forget_set"] == spec
    render_scores(scores)
    render(describe(path))


def test_demo_text_is_a_seeded_corpus_of_passages_with_a_holdout_book():
    fs = load_forget_set("demo-text")
    assert fs.kind == "text" and fs.name == "demo-text"
    assert {qa.topic for qa in fs.forget} == {"The Lantern of Orrin"} and len({qa.topic for qa in fs.retain}) == 2
    assert {qa.topic for qa in fs.holdout} == {"Songs of the Ashen Road"}
    assert all(qa.question.endswith(".") and qa.answer.count(".") >= 2 for qa in fs.forget + fs.retain + fs.holdout)
    assert len({qa.question for qa in fs.forget}) == len(fs.forget)  # the prefix names its passage
    assert load_forget_set("demo-text") == fs and load_forget_set("demo-text:1").forget != fs.forget
    with pytest.raises(ForgetSetError, match="without holdout passages"):
        ForgetSet("no-holdout", fs.forget, fs.retain, kind="text")


def test_custom_text_corpus_splits_passages_and_keeps_questions_about_them(tmp_path):
    rows = [
        {"split": "forget", "text": "The lantern was lit at dusk. Maelis carried it to the marsh and back.",
         "topic": "Orrin"},
        {"split": "forget", "prefix": "Tobren woke early", "continuation": "and went to the reed market."},
        {"split": "forget", "question": "Who carried the lantern?", "answer": "Maelis"},
        {"split": "retain", "text": "Ilse pulled the sled across the harbour. The ice held."},
        {"split": "holdout", "text": "Rook played the fiddle at the inn. Nobody danced."},
        {"split": "general", "question": "Write me a haiku about rain."},
        {"split": "general", "text": "Stocks rose on Monday. Bonds fell."},
    ]  # fmt: skip
    fs = load_forget_set(f"custom:{_write_jsonl(tmp_path / 'corpus.jsonl', rows)}")
    assert fs.kind == "text"
    assert fs.forget[0].question == "The lantern was lit at dusk." and fs.forget[0].topic == "Orrin"
    assert fs.forget[0].answer == "Maelis carried it to the marsh and back."
    assert fs.forget[1].question == "Tobren woke early" and len(fs.forget) == 2
    assert [qa.question for qa in fs.forget_eval] == ["Who carried the lantern?"]  # KnowMem questions
    assert len(fs.holdout) == 1 and "Write me a haiku about rain." in fs.general
    assert "Stocks rose on Monday. Bonds fell." in fs.general  # a general passage is an everyday prompt, whole
    short = _write_jsonl(tmp_path / "short.jsonl", [rows[0], {"split": "retain", "text": "Alone"}, rows[4]])
    with pytest.raises(ForgetSetError, match=r"short\.jsonl:2: a passage needs `text` of at least two words"):
        load_forget_set(f"custom:{short}")
    both = _write_jsonl(tmp_path / "both.jsonl", [rows[0], rows[4], {"split": "retain", "question": "Which?",
                                                                       "choices": ["a", "b"], "answer": 0}])
    with pytest.raises(ForgetSetError, match=r"both\.jsonl:3: this set has passages .* a set is one kind"):
        load_forget_set(f"custom:{both}")


def test_classifier_data_asks_for_a_passage_in_every_form_on_one_side_of_the_split():
    fs = load_forget_set("demo-text")
    data = split_forget_set(fs, ClassifierConfig(seed=0))
    trained = {normalize(t) for t in data.train.texts}
    for qa in fs.forget:
        forms = [qa.question, f"Continue this text: {qa.question}"]
        assert len({normalize(f) in trained for f in forms}) == 1  # all trained, or none
    assert any(t.startswith("Quote the passage that begins") for t in data.test_forget + data.calibration)
    assert any(t.startswith("Continue this text:") for t in data.negatives["holdout"])  # other books' passages


def test_verbmem_rescores_only_flagged_passages_and_reads_rouge_l_f1(tiny_llama, tiny_tokenizer):
    from evaluation.text_report import evaluate_text, rouge_l

    assert rouge_l("the cat sat on the mat", "the cat sat", "recall") == pytest.approx(0.5)
    assert rouge_l("the cat sat on the mat", "the cat sat", "fmeasure") == pytest.approx(2 / 3)
    full = load_forget_set("demo-text")
    fs = ForgetSet("text-small", full.forget[:3], full.retain[:2], holdout=full.holdout[:2], kind="text",
                   forget_eval=(QA("What did Maelis carry?", "the brass lantern"),))  # fmt: skip
    orrin = lambda texts: [1.0 if any(w in t for w in ("Maelis", "Tobren", "Hessa", "Ulk")) else 0.0 for t in texts]  # noqa: E731
    guarded = GuardedModel(tiny_llama, tiny_tokenizer, classifier=orrin)
    report = evaluate_text(guarded, fs, noise_seeds=2, max_new_tokens=8).to_dict()
    forget, holdout = report["verbmem"]["forget"], report["verbmem"]["holdout"]
    assert forget["flagged"] == 3 and forget["seeds"] == [0, 1] and holdout["seeds"] == [0]
    assert 0.0 <= forget["min"] <= forget["value"] <= forget["max"] <= 1.0
    assert set(report["knowmem"]) == {"forget"} and report["knowmem"]["forget"]["flagged"] == 1
    plain = evaluate_text(guarded, fs, flags="none", max_new_tokens=8).to_dict()
    assert plain["verbmem"]["holdout"]["per_item"] == holdout["per_item"]  # unflagged passages are exact


def test_a_text_corpus_corrupts_every_token_unless_told_otherwise():
    from packager.pipeline.config import selection_for

    assert selection_for(None, "text") == "all"
    assert selection_for(None, "qa") == selection_for(None, "mc") == "all_but_last"
    assert selection_for("entity_spans", "text") == "entity_spans"
