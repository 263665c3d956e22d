"""benchmarks.front_layers: every front measured against the stand-in vLLM, split by layer."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from benchmarks import front_layers


def test_each_front_is_measured_with_half_of_the_prompts_flagged_and_with_none(tmp_path):
    out = tmp_path / "front_layers.json"
    # its own process: the in-process front registers the guard's Prometheus metrics, once per process
    subprocess.run([sys.executable, "-m", "benchmarks.front_layers", "--rounds", "1", "--requests", "160",
                    "--out", str(out)], check=True, capture_output=True)
    result = json.loads(out.read_text())
    fronts = result["fronts"]
    assert set(fronts) == {f"{front}/{flags}" for front in front_layers.FRONTS for flags in front_layers.FLAGS}
    for name, row in fronts.items():
        assert row["errors"] == 0 and row["requests"] == 160 and row["cpu_ms_per_request"] > 0, (name, row)
        # every prompt once: the median threshold flags half of them, the other artifact none
        assert 70 <= row["flagged"] <= 90 if name.endswith("/half") else row["flagged"] == 0, (name, row)
    for flags, layers in result["layers_ms_per_request"].items():
        assert layers["total"] == fronts[f"bento/{flags}"]["cpu_ms_per_request"]
        # the bento does all that the call in this process does, and serves HTTP besides
        assert fronts[f"bento/{flags}"]["cpu_ms_per_request"] > fronts[f"in_process/{flags}"]["cpu_ms_per_request"]
    assert result["command"].endswith("--out " + str(out))
    markdown = out.with_suffix(".md").read_text()
    assert "| bento/half |" in markdown and "BentoML (bento - app_uvicorn)" in markdown


@pytest.mark.parametrize("option", ["--requests", "--rounds", "--max-tokens"])
def test_a_count_below_one_is_refused_before_any_work(option, tmp_path, capsys):
    with pytest.raises(SystemExit):
        front_layers.main([option, "0", "--out", str(tmp_path / "x.json")])
    assert f"{option} must be at least 1" in capsys.readouterr().err
    assert not (tmp_path / "x.json").exists()
