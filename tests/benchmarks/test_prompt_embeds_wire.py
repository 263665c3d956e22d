"""benchmarks.prompt_embeds_wire: each step timed per prompt length, both bodies the same request."""

from __future__ import annotations

import json

import pytest

from benchmarks import prompt_embeds_wire


def test_each_length_is_timed_and_written_with_its_command(tmp_path):
    out = tmp_path / "wire.json"
    result = prompt_embeds_wire.main(["--tokens", "3,20", "--hidden", "16", "--repeats", "2", "--out", str(out)])
    assert [row["tokens"] for row in result["rows"]] == [3, 20]
    for row in result["rows"]:
        for step in ("encode_ms", "json_dumps_ms", "spliced_ms"):
            assert 0 < row[step]["min"] <= row[step]["median"] <= row[step]["max"]
    assert result["rows"][0]["body_mb"] < result["rows"][1]["body_mb"]  # the body grows with the prompt
    assert json.loads(out.read_text())["command"].endswith("--out " + str(out))
    assert "| 20 |" in out.with_suffix(".md").read_text()


@pytest.mark.parametrize("bad", [["--hidden", "0"], ["--repeats", "0"], ["--tokens", ""], ["--tokens", "0"]])
def test_bad_sizes_are_refused_before_any_timing(bad, tmp_path):
    with pytest.raises(SystemExit):
        prompt_embeds_wire.main([*bad, "--out", str(tmp_path / "x.json")])
    assert not (tmp_path / "x.json").exists()
