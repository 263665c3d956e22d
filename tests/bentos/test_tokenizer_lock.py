"""The tokenizer is shared by the event loop and the backends' threads: one lock covers each call to it,
and only the call, so a long corruption or generation never holds up another request's tokenizing."""

from __future__ import annotations

import threading
import time

import pytest

from bentos.engine import Engine, Job, Sampling


@pytest.fixture(scope="module")
def engine(tiny_artifact):
    return Engine.load(tiny_artifact.path, device="cpu")


def _flagged(engine: Engine, text: str) -> Job:
    return Job(engine.prepare_completion(text), True, Sampling(max_tokens=4, temperature=0.0))


def test_a_prompt_being_corrupted_leaves_the_tokenizer_to_other_requests(engine, monkeypatch):
    inside, release = threading.Event(), threading.Event()
    corrupt = engine.guarded._embed

    def slow_corruption(*args, **kwargs):  # the corruption of a long prompt, held open
        inside.set()
        release.wait(10)
        return corrupt(*args, **kwargs)

    monkeypatch.setattr(engine.guarded, "_embed", slow_corruption)
    corrupting = threading.Thread(target=engine.embed, args=(_flagged(engine, "Where was he born?"),))
    corrupting.start()
    try:
        assert inside.wait(10)
        encoded: list = []
        encoder = threading.Thread(target=lambda: encoded.append(engine.encode("the next request")))
        encoder.start()
        encoder.join(5)
        assert encoded and not encoder.is_alive()  # tokenized while the other prompt was being corrupted
    finally:
        release.set()
        corrupting.join(10)


def test_every_call_to_the_tokenizer_waits_for_its_lock(engine):
    done: list[str] = []
    calls = {
        "embed": lambda: engine.embed(_flagged(engine, "Where was he born?")),
        "decode": lambda: engine.decode([5, 6, 7]),
        "encode": lambda: engine.encode("a question"),
        "generate": lambda: engine.guarded.generate(["a question"], flags=[True], max_new_tokens=2, do_sample=False),
    }
    threads = [threading.Thread(target=lambda n=name, c=call: (c(), done.append(n))) for name, call in calls.items()]
    with engine.guarded.tokenizer_lock:
        for thread in threads:
            thread.start()
        time.sleep(0.5)
        assert done == []  # each is waiting to tokenize, or to decode
    for thread in threads:
        thread.join(30)
    assert sorted(done) == sorted(calls)
