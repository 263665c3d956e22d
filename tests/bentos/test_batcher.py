"""The micro-batcher and the stop-sequence handling, without a model."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from bentos.batcher import MicroBatcher
from bentos.engine import Sampling, StopScanner, cut_at_stop


def test_concurrent_items_share_a_call_and_keys_never_mix():
    calls: list[list[tuple[str, int]]] = []

    def fn(items):
        calls.append(list(items))
        return [value * 10 for _, value in items]

    async def main():
        batcher = MicroBatcher(fn, max_size=8, max_wait_s=0.05, workers=1)
        items = [("a", i) if i % 2 else ("b", i) for i in range(6)]
        results = await asyncio.gather(*(batcher.submit(item, key=item[0]) for item in items))
        batcher.close()
        return results

    assert asyncio.run(main()) == [i * 10 for i in range(6)]
    assert sorted(len(c) for c in calls) == [3, 3]
    assert all(len({key for key, _ in call}) == 1 for call in calls)


def test_without_a_window_the_first_item_runs_alone_and_arrivals_meanwhile_share_the_next_call():
    """The classifier's setting (max_wait_s=0): no request waits for batch-mates, yet under load
    the requests that queued while a call ran are batched."""
    calls: list[list[int]] = []
    first_running, release = threading.Event(), threading.Event()

    def fn(items):
        calls.append(list(items))
        if not first_running.is_set():
            first_running.set()
            release.wait(5)
        return items

    async def main():
        batcher = MicroBatcher(fn, max_size=8, max_wait_s=0.0, workers=1)
        first = asyncio.ensure_future(batcher.submit(0))
        while not first_running.is_set():  # the first item ran alone, without waiting for company
            await asyncio.sleep(0.001)
        rest = [asyncio.ensure_future(batcher.submit(i)) for i in range(1, 6)]
        await asyncio.sleep(0.05)
        release.set()
        results = await asyncio.gather(first, *rest)
        batcher.close()
        return results

    assert asyncio.run(main()) == list(range(6))
    assert calls == [[0], [1, 2, 3, 4, 5]]


def test_a_slow_batch_does_not_hold_up_the_next():
    release = threading.Event()

    def fn(items):
        if "slow" in items:
            release.wait(5)
        return items

    async def main():
        batcher = MicroBatcher(fn, max_size=4, max_wait_s=0.001, workers=2)
        slow = asyncio.ensure_future(batcher.submit("slow", key="slow"))
        await asyncio.sleep(0.05)
        started = time.perf_counter()
        fast = await batcher.submit("fast", key="fast")
        elapsed = time.perf_counter() - started
        release.set()
        await slow
        batcher.close()
        return fast, elapsed

    fast, elapsed = asyncio.run(main())
    assert fast == "fast" and elapsed < 2


def test_a_failing_batch_fails_its_callers_only():
    def fn(items):
        if "bad" in items:
            raise RuntimeError("boom")
        return items

    async def main():
        batcher = MicroBatcher(fn, max_size=4, max_wait_s=0.001, workers=1)
        with pytest.raises(RuntimeError):
            await batcher.submit("bad", key=1)
        ok = await batcher.submit("ok", key=2)
        batcher.close()
        return ok

    assert asyncio.run(main()) == "ok"


def test_stop_scanner_holds_back_partial_stops():
    scanner = StopScanner(["END", "##"])
    pieces = ["Hello E", "N", "o #", "x ok E", "ND tail"]
    out = "".join(scanner.feed(p) for p in pieces)
    assert scanner.stopped
    assert out == cut_at_stop("".join(pieces), ["END", "##"])[0] == "Hello ENo #x ok "


def test_stop_scanner_without_stops_passes_text_through():
    scanner = StopScanner([])
    assert scanner.feed("abc") == "abc" and scanner.flush() == "" and not scanner.stopped


def test_seeded_sampling_runs_alone_but_greedy_requests_batch():
    assert Sampling(8, 0.0, 1.0, 3).batch_key() == Sampling(8, 0.0, 1.0, 3).batch_key()
    assert Sampling(8, 0.0).batch_key() == Sampling(40, 0.0).batch_key()  # lengths differ: rows are cut apart
    assert Sampling(8, 0.0, 1.0, 3).batch_key() != Sampling(8, 0.0, 1.0, 4).batch_key()  # the noise's key differs
    assert Sampling(8, 0.7, 1.0, 3).batch_key() != Sampling(8, 0.7, 1.0, 3).batch_key()
    assert Sampling(8, 0.7, 1.0, None).batch_key() == Sampling(8, 0.7, 1.0, None).batch_key()
