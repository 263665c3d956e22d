"""An asyncio micro-batcher: requests that arrive together share one model call.

A batch closes after ``max_wait_s`` or at ``max_size`` items, and runs in a thread pool so the
event loop keeps accepting requests. While every worker is busy, new requests queue up and
ride in the next batch; a batch only ever holds items with the same ``key`` (for generation:
the same sampling settings), so no request changes another's result.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Generic, TypeVar

In = TypeVar("In")
Out = TypeVar("Out")


class MicroBatcher(Generic[In, Out]):
    """``await batcher.submit(item, key)`` -> ``fn([..., item, ...])[i]``, batched."""

    def __init__(
        self,
        fn: Callable[[Sequence[In]], Sequence[Out]],
        *,
        max_size: int,
        max_wait_s: float,
        workers: int,
        on_batch: Callable[[int], None] | None = None,
    ) -> None:
        self.fn = fn
        self.max_size = max_size
        self.max_wait_s = max_wait_s
        self.on_batch = on_batch
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="eco-batch")
        self._slots = asyncio.Semaphore(workers)
        self._queue: asyncio.Queue[tuple[Hashable, In, asyncio.Future]] = asyncio.Queue()
        self._dispatcher: asyncio.Task | None = None
        self._running: set[asyncio.Task] = set()

    async def submit(self, item: In, key: Hashable = None) -> Out:
        if self._dispatcher is None:
            self._dispatcher = asyncio.get_running_loop().create_task(self._dispatch())
        future: asyncio.Future = asyncio.get_running_loop().create_future()
        await self._queue.put((key, item, future))
        return await future

    async def _dispatch(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            window = [await self._queue.get()]
            await self._slots.acquire()
            deadline = loop.time() + self.max_wait_s
            while len(window) < self.max_size and (left := deadline - loop.time()) > 0:
                try:
                    window.append(await asyncio.wait_for(self._queue.get(), left))
                except TimeoutError:
                    break
            while len(window) < self.max_size and not self._queue.empty():
                window.append(self._queue.get_nowait())
            groups: dict[Hashable, list[tuple[In, asyncio.Future]]] = {}
            for key, item, future in window:
                groups.setdefault(key, []).append((item, future))
            for index, group in enumerate(groups.values()):
                task = loop.create_task(self._run(group, has_slot=index == 0))
                self._running.add(task)
                task.add_done_callback(self._running.discard)

    async def _run(self, group: list[tuple[In, asyncio.Future]], *, has_slot: bool) -> None:
        if not has_slot:
            await self._slots.acquire()
        try:
            live = [(item, future) for item, future in group if not future.done()]  # skip disconnected clients
            if not live:
                return
            if self.on_batch is not None:
                self.on_batch(len(live))
            items = [item for item, _ in live]
            try:
                results = await asyncio.get_running_loop().run_in_executor(self._executor, self.fn, items)
            except Exception as exc:  # every caller in the batch sees the failure
                for _, future in live:
                    if not future.done():
                        future.set_exception(exc)
                return
            for (_, future), result in zip(live, results, strict=True):
                if not future.done():
                    future.set_result(result)
        finally:
            self._slots.release()

    def close(self) -> None:
        if self._dispatcher is not None:
            self._dispatcher.cancel()
        self._executor.shutdown(wait=False, cancel_futures=True)
