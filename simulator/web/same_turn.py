"""Group the store work of the requests that arrive in one event-loop turn (the hot path's batching)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, Callable, ContextManager

Batch = Callable[..., ContextManager[Any]]  # (keys, *, write) as SQLiteStore.batch


class SameTurn:
    """Runs the store work of the requests that reach it in one event-loop turn, back to back.

    Each piece keeps its own answer or error, in the order the requests came. Run together,
    the store's code and pages stay in the CPU caches instead of being evicted by a socket
    write between two requests; and when some of them write and the store offers
    ``batch()`` (SQLite: one write transaction), they share one lock and one commit. Every
    answer waits for that commit; if it fails, every request of the turn gets its error.
    """

    def __init__(self, batch: Batch | None = None) -> None:
        self._batch = batch
        self._queues: dict[asyncio.AbstractEventLoop,
                           list[tuple[Callable[[], Any], bool, str | None, asyncio.Future[Any]]]] = {}

    def run(self, work: Callable[[], Any], *, writes: bool, key: str | None = None) -> asyncio.Future[Any]:
        """``work()``'s result (or error), computed with the rest of this turn's work.

        ``writes`` says that the work is meant to change the store (not just might, as a
        read that finds a session past its deadline does); ``key`` names the session it
        reads, so the store can read the turn's sessions in one go.
        """
        loop = asyncio.get_running_loop()
        queue = self._queues.setdefault(loop, [])
        if not queue:
            loop.call_soon(self._flush, loop)
        future = loop.create_future()
        queue.append((work, writes, key, future))
        return future

    def _batched(self, queue: list[tuple[Callable[[], Any], bool, str | None, asyncio.Future[Any]]]
                 ) -> ContextManager[Any]:
        if self._batch is None or len(queue) < 2:
            return contextlib.nullcontext()
        return self._batch([key for _, _, key, _ in queue if key is not None],
                           write=any(writes for _, writes, _, _ in queue))

    def _flush(self, loop: asyncio.AbstractEventLoop) -> None:
        queue = [item for item in self._queues.pop(loop, []) if not item[3].cancelled()]
        outcomes: list[tuple[asyncio.Future[Any], BaseException | None, Any]] = []
        try:
            with self._batched(queue):
                for work, _, _, future in queue:
                    try:
                        outcomes.append((future, None, work()))
                    except Exception as exc:  # the request's own error, raised where it awaits
                        outcomes.append((future, exc, None))
        except Exception as exc:  # the shared transaction failed: none of it was stored
            for *_, future in queue:
                future.set_exception(exc)
            return
        for future, error, result in outcomes:
            if error is not None:
                future.set_exception(error)
            else:
                future.set_result(result)
