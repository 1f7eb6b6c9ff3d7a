"""Dynamic micro-batching: the requests that arrive within a few milliseconds are labelled in
one call of the model, in the manner of LitServe's ``max_batch_size``/``batch_timeout`` and
text-embeddings-inference's batching, bounded in reviews and in wait.

The model runs on one thread of its own, one call at a time, whatever the policy: a neural
encoder already uses every core for one batch, and two calls side by side would only slow
each other down. With ``max_wait_ms`` 0, requests are combined only when they are already
waiting while the model is busy (never delayed).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from .settings import BatchPolicy

__all__ = ["MicroBatcher"]


class MicroBatcher:
    """Labels the reviews of concurrent requests in shared calls of ``score`` (a list of texts ->
    one answer per text), as the :class:`BatchPolicy` allows. Start it inside the event loop."""

    def __init__(self, score: Callable[[list[str]], list], policy: BatchPolicy,
                 on_batch: Callable[[int], None] | None = None):
        self.score, self.policy, self.on_batch = score, policy, on_batch or (lambda n: None)
        self._queue: asyncio.Queue = asyncio.Queue()
        self._held = None  # a request that did not fit the last batch: it starts the next one
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sentibench-model")
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._serve())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def label(self, texts: list[str]) -> list:
        """The answers for ``texts``, once the batch they joined has been labelled."""
        future = asyncio.get_running_loop().create_future()
        await self._queue.put((texts, future))
        return await future

    async def _serve(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = await self._gather(loop)
            texts = [text for request, _ in batch for text in request]
            self.on_batch(len(texts))
            try:
                answers = await loop.run_in_executor(self._executor, self.score, texts)
            except Exception as exc:  # the model's own error goes to every request of the batch
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            start = 0
            for request, future in batch:
                if not future.done():  # a request that timed out is no longer waited for
                    future.set_result(answers[start:start + len(request)])
                start += len(request)

    async def _gather(self, loop) -> list:
        """The next batch: the first waiting request, then whatever arrives within the wait
        (or is already waiting) while the batch has room."""
        first, self._held = self._held or await self._queue.get(), None
        batch, size = [first], len(first[0])
        deadline = loop.time() + self.policy.max_wait_ms / 1000
        while size < self.policy.max_batch:
            item = await self._next(deadline - loop.time())
            if item is None:
                break
            if size + len(item[0]) > self.policy.max_batch:
                self._held = item
                break
            batch.append(item)
            size += len(item[0])
        return batch

    async def _next(self, wait_s: float):
        if wait_s <= 0:
            return None if self._queue.empty() else self._queue.get_nowait()
        try:
            return await asyncio.wait_for(self._queue.get(), wait_s)
        except TimeoutError:
            return None
