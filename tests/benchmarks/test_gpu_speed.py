"""benchmarks.gpu_speed --smoke: every step of the GPU benchmark runs on CPU with tiny random models."""

from __future__ import annotations

import json

import pytest
import torch

from benchmarks import gpu_speed


@pytest.mark.slow
def test_smoke_run_measures_every_step(tmp_path, monkeypatch):
    # as on the GPU machine, where bentoml may be missing: serving must be recorded as skipped, not fail
    monkeypatch.setattr(gpu_speed, "missing_serving_dependency", lambda: "bentoml not installed")
    out = tmp_path / "gpu_speed.json"

    result = gpu_speed.main(["--smoke", "--repeats", "2", "--out", str(out)])

    saved = json.loads(out.read_text())
    assert saved["status"] == "complete" and saved["mode"] == "smoke"
    assert saved["errors"] == [] and saved["skipped"] == []
    assert saved["flagged_changed_output"] is result["flagged_changed_output"] is True
    plan = gpu_speed.SMOKE_PLAN
    assert set(saved["subjects"]) == set(plan.subjects)
    for subject in saved["subjects"].values():
        points = subject["generate"]
        assert {(p["batch"], p["prompt_tokens"]) for p in points} == {(b, 16) for b in plan.batches}
        for point in points:
            assert point["new_tokens"] == plan.new_tokens  # min_new_tokens = max: equal work per call
            assert point["unflagged_s"]["n"] == point["flagged_s"]["n"] == 2
            assert point["unflagged_s"]["median"] > 0 and point["ratio_flagged_unflagged"] > 0
        assert len(subject["prefill"]) == len(plan.batches)
        assert all(p["prefill_s"]["median"] > 0 and p["corruption_share_of_prefill"] >= 0 for p in subject["prefill"])
    # the corruption really ran: greedy outputs of some flagged rows differ from the same prompts unflagged
    assert any(p["changed_rows"] > 0 for s in saved["subjects"].values() for p in s["generate"])
    for classifier in saved["classifiers"].values():
        assert [e["batch"] for e in classifier["latency"]] == list(plan.classifier_batches)
        assert all(e["per_request_ms"]["min"] > 0 for e in classifier["latency"])
        assert classifier["share_of_request_b1"] > 0
    memory = saved["memory"]
    assert memory["peak_without_guard_gb"] is None and memory["peak_with_guard_gb"] is None
    assert "CUDA" in memory["reason"] and memory["guarded_rows_flagged"] == plan.target_batch
    assert saved["serving"] == {"skipped": "bentoml not installed"}
    assert saved["targets"]["generate_ratio"]["value"] > 0 and saved["targets"]["serving_ratio"]["met"] is None
    # the guard's added work per request: the corruption step timed alone over the same-shape generate
    subject = saved["subjects"][next(iter(plan.subjects))]
    prefill = next(p for p in subject["prefill"] if p["batch"] == plan.target_batch)
    point = next(p for p in subject["generate"] if p["batch"] == plan.target_batch)
    assert saved["corruption_share_of_generate"] == {
        "16": pytest.approx(prefill["corruption_s"] / point["unflagged_s"]["median"])}
    page = out.with_suffix(".md").read_text()
    assert "added work at the target batch" in page
    assert "## Targets" in page and "bentoml not installed" in page and saved["command"] in page


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message shown where no GPU is visible")
def test_gpu_mode_without_cuda_names_the_smoke_flag(tmp_path):
    with pytest.raises(SystemExit, match="--smoke"):
        gpu_speed.main(["--out", str(tmp_path / "gpu_speed.json")])
    assert not (tmp_path / "gpu_speed.json").exists()
