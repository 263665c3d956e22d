"""The vLLM serving benchmark's helpers: the core split, answer lengths, paired ratios, the length sweep."""

import argparse
import json
import os
import subprocess
from pathlib import Path

import psutil
import pytest

from benchmarks.serving_vllm import (
    _cores_by_process,
    _lengths,
    _markdown,
    _paired_ratios,
    _plot_sweep,
    _split_cores,
    _token_range,
    parse_args,
)

RESULTS = Path(__file__).resolve().parents[2] / "benchmarks" / "results"


def test_no_split_leaves_every_core_shared():
    engine, rest, text = _split_cores(0)
    assert engine == [] and rest == sorted(os.sched_getaffinity(0)) and "share every core" in text


def test_vllm_takes_the_first_cores_and_the_rest_keep_at_least_one(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {5, 2, 7, 3})  # the cores this process may use
    engine, rest, text = _split_cores(3)
    assert engine == [2, 3, 5] and rest == [7] and "[2, 3, 5]" in text
    for bad in (-1, 4):  # a negative count, or nothing left for the fronts and the load
        with pytest.raises(SystemExit, match="--engine-cores"):
            _split_cores(bad)


def test_each_process_of_a_tree_is_listed_with_the_cores_its_threads_may_use():
    last = max(os.sched_getaffinity(0))
    child = subprocess.Popen(["sleep", "30"], preexec_fn=lambda: os.sched_setaffinity(0, {last}))
    try:
        layout = _cores_by_process(os.getpid())
        assert layout["sleep"] == [last]  # a child pinned to one core shows that core only
        assert set(layout[psutil.Process().name()]) >= os.sched_getaffinity(0)
    finally:
        child.kill()
        child.wait()
    assert _cores_by_process(child.pid) == {}  # a process that is gone has no cores


def test_a_token_range_is_one_length_or_a_span_and_each_prompt_keeps_its_draw():
    assert _token_range("32") == (32, 32) and _token_range("16-48") == (16, 48)
    for bad in ("0", "48-16", "many"):
        with pytest.raises(argparse.ArgumentTypeError):
            _token_range(bad)
    lengths = _lengths((16, 48), 200)
    assert all(16 <= n <= 48 for n in lengths) and len(set(lengths)) > 20  # spread over the span
    assert lengths == _lengths((16, 48), 200)  # the same per prompt in every variant and run
    assert set(_lengths((32, 32), 10)) == {32}


def test_paired_ratios_divide_each_guarded_round_by_the_unguarded_round_beside_it():
    guarded = [{"tokens_per_s": t} for t in (90.0, 50.0, 80.0)]
    unguarded = [{"tokens_per_s": t} for t in (100.0, 40.0, 100.0)]
    assert _paired_ratios(guarded, unguarded) == {
        "median": 0.9, "min": 0.8, "max": 1.25, "rounds": [0.9, 1.25, 0.8]}
    with pytest.raises(ValueError):  # rounds missing on one side are an error, not a shorter list
        _paired_ratios(guarded, unguarded[:2])


def test_the_sweep_lengths_are_a_comma_list_and_empty_skips_the_sweep(capsys):
    assert parse_args(["--length-sweep", "16,32, 64"]).length_sweep == (16, 32, 64)
    assert parse_args(["--length-sweep", ""]).length_sweep == ()
    for bad in ("16,x", "0,32"):
        with pytest.raises(SystemExit):
            parse_args(["--length-sweep", bad])
        assert "--length-sweep" in capsys.readouterr().err


def test_the_sweep_is_plotted_and_tabled_one_row_per_length(tmp_path):
    result = json.loads((RESULTS / "serving_vllm_engine_cores.json").read_text())  # a run from before the sweep
    result["length_sweep"] = [
        {"max_tokens": n, "ratio": _paired_ratios([{"tokens_per_s": g} for g in guarded],
                                                  [{"tokens_per_s": 100.0}] * len(guarded)),
         "tokens_per_s": {"vllm_guarded": 90.0, "vllm_unguarded": 100.0},
         "ms_outside_vllm": {"vllm_guarded": 30.0, "vllm_unguarded": 11.0},
         "front_cpu_ms_per_request": 3.5, "errors": 0}
        for n, guarded in ((16, (80.0, 84.0)), (128, (95.0, 97.0, 93.0)))]
    result["length_sweep_plot"] = "x_lengths.png"
    _plot_sweep(result["length_sweep"], tmp_path / "x_lengths.png")
    assert (tmp_path / "x_lengths.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    text = _markdown(result)
    assert "| 16 | **0.82** | 0.8 to 0.84 |" in text and "| 128 | **0.95** | 0.93 to 0.97 |" in text
    assert "![ratio by answer length](x_lengths.png)" in text
    assert "Command: `" in text and "; Intel" not in text  # a file from before the code and machine were recorded
    result["length_sweep"] = []  # --length-sweep '': no section
    result.update(code="commit abc1234", machine="Intel(R) Xeon(R), AVX512, 2 cores, load 0.3")
    assert "` (commit abc1234; Intel(R) Xeon(R), AVX512, 2 cores, load 0.3)" in _markdown(result)
    assert "By answer length" not in _markdown(result)


def test_metric_sums_add_a_sample_over_its_labels_and_zero_what_is_absent():
    """The Prometheus text both serving benchmarks read: vLLM's counters and the guard's classifier time."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from benchmarks.serving_load import _classifier_ms, metric_sums

    text = (b"# HELP eco_guard_classification_seconds Classifier latency per batch\n"
            b"# TYPE eco_guard_classification_seconds histogram\n"
            b'eco_guard_classification_seconds_bucket{le="+Inf"} 4.0\n'
            b"eco_guard_classification_seconds_count 4.0\n"
            b"eco_guard_classification_seconds_sum 0.01\n"
            b"# TYPE vllm:e2e_request_latency_seconds histogram\n"
            b'vllm:e2e_request_latency_seconds_count{model_name="a"} 3.0\n'
            b'vllm:e2e_request_latency_seconds_count{model_name="b"} 2.0\n')

    class Metrics(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's name)
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.end_headers()
            self.wfile.write(text)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Metrics)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        assert metric_sums(url, {"vllm:e2e_request_latency_seconds_count": "finished", "absent_total": "x"}) == {
            "finished": 5.0, "x": 0.0}
        assert _classifier_ms(url) == 2.5  # 10 ms over 4 batches
    finally:
        server.shutdown()
