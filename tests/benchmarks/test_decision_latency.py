"""The decision-latency benchmark runs on the offline backbone and writes its figures with its command."""

from __future__ import annotations

import json

from benchmarks import decision_latency


def test_decision_latency_writes_cold_and_in_conversation_medians(tmp_path, monkeypatch):
    monkeypatch.delenv("ECO_PACK_DATA_DIR", raising=False)
    out = tmp_path / "latency.json"
    result = decision_latency.main(["--repeats", "2", "--encoder-layers", "2", "--out", str(out)])
    saved = json.loads(out.read_text())
    assert saved == json.loads(json.dumps(result))
    assert saved["entities"].startswith("demo (") and saved["chat_parts"] > len(decision_latency.CHAT)
    assert all(saved["median_ms"][k] > 0 for k in ("cold", "in_conversation", "one_sentence"))
    assert saved["machine"]  # latency figures are read against the machine they come from
    assert saved["encoder_layers"] == 2  # the backbone cut as training cuts it
    assert saved["command"].endswith(f"--repeats 2 --encoder-layers 2 --out {out}")
    assert "| cold (no part scored before) |" in out.with_suffix(".md").read_text()
