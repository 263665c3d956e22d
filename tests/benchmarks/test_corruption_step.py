"""benchmarks.corruption_step on CPU with short prompts: the step is timed per subject, batch and length."""

from __future__ import annotations

import json

import pytest

from benchmarks import corruption_step


@pytest.mark.parametrize("calls", ["device", "batch"])
def test_the_step_is_measured_at_every_point_and_recorded_with_its_command(tmp_path, calls):
    out = tmp_path / "corruption_step.json"
    corruption_step.main(["--batches", "1,3", "--lengths", "8", "--repeats", "2", "--calls", calls, "--out", str(out)])
    saved = json.loads(out.read_text())
    assert saved["calls"] == calls
    points = {(p["subject"], p["batch"], p["prompt_tokens"]): p for p in saved["points"]}
    assert set(points) == {(s, b, 8) for s in corruption_step.SUBJECTS for b in (1, 3)}
    for point in points.values():
        assert point["embed_ms"]["n"] == point["embed_and_corrupt_ms"]["n"] == 2
        # corrupting every row costs more than the plain lookup, so the step is positive
        assert point["embed_and_corrupt_ms"]["median"] > point["embed_ms"]["median"]
        assert point["per_flagged_row_us"] == pytest.approx(1000 * point["corruption_ms"] / point["batch"])
    assert saved["command"].endswith("--out " + str(out)) and saved["code"].startswith("commit ")
    assert "| llama-2-7b | 3 | 8 |" in out.with_suffix(".md").read_text()
