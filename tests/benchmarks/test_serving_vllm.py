"""The vLLM serving benchmark's core split: vLLM's model worker on cores of its own, the rest apart."""

import os

import pytest

from benchmarks.serving_vllm import _split_cores


def test_no_split_leaves_every_core_shared():
    engine, rest, text = _split_cores(0)
    assert engine == [] and rest == sorted(os.sched_getaffinity(0)) and "share every core" in text


def test_the_worker_takes_the_first_cores_and_the_rest_keep_at_least_one(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {5, 2, 7, 3})  # the cores this process may use
    engine, rest, text = _split_cores(3)
    assert engine == [2, 3, 5] and rest == [7] and "[2, 3, 5]" in text
    for bad in (-1, 4):  # a negative count, or nothing left for the fronts and the load
        with pytest.raises(SystemExit, match="--engine-cores"):
            _split_cores(bad)
