"""Group the store work of the requests that arrive in one event-loop turn (the hot path's batching).

The work runs in one worker thread, never on the event loop: a store that hangs (a SQLite
write lock held by a backup, a Redis that does not answer) makes those requests wait, not
every request of the server. A request whose work has not finished within ``wait_s`` is
answered 503 (``StoreUnavailable``: its session's state is unknown, so it is not treated as
active), and its work is skipped if it has not started yet.
"""

from __future__ import annotations

import asyncio
import contextlib
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, ContextManager

from simulator.store.protocol import StoreBusy, StoreUnavailable

Batch = Callable[..., ContextManager[Any]]  # (keys, *, write) as SQLiteStore.batch
Item = tuple[Callable[[], Any], bool, "str | None", "asyncio.Future[Any]"]
WAIT_S = 1.0  # longest a hot-path request waits for the store (its own timeouts are shorter: 0.4 s, 0.3 s)


class SameTurn:
    """Runs the store work of the requests that reach it in one event-loop turn, back to back.

    Each piece keeps its own answer or error, in the order the requests came. Run together,
    the store's code and pages stay in the CPU caches instead of being evicted by a socket
    write between two requests; and when some of them write and the store offers
    ``batch()`` (SQLite: one write transaction), they share one lock and one commit. Every
    answer waits for that commit; if it fails, every request of the turn gets its error.
    """

    def __init__(self, batch: Batch | None = None, *, wait_s: float = WAIT_S) -> None:
        self._batch = batch
        self.wait_s = wait_s
        self._queues: dict[asyncio.AbstractEventLoop, list[Item]] = {}
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store-hot-path")

    def run(self, work: Callable[[], Any], *, writes: bool, key: str | None = None) -> asyncio.Future[Any]:
        """``work()``'s result (or error), computed with the rest of this turn's work in the worker thread.

        ``writes`` says that the work is meant to change the store (not just might, as a
        read that finds a session past its deadline does); ``key`` names the session it
        reads, so the store can read the turn's sessions in one go. StoreUnavailable when
        the work has not finished within ``wait_s``.
        """
        loop = asyncio.get_running_loop()
        queue = self._queues.setdefault(loop, [])
        if not queue:
            loop.call_soon(self._flush, loop)
        future = loop.create_future()
        queue.append((work, writes, key, future))
        return future

    def _batched(self, queue: list[Item], *, write: bool) -> ContextManager[Any]:
        if self._batch is None or len(queue) < 2:
            return contextlib.nullcontext()
        return self._batch([key for _, _, key, _ in queue if key is not None], write=write)

    def _flush(self, loop: asyncio.AbstractEventLoop) -> None:
        queue = self._queues.pop(loop, [])
        loop.call_later(self.wait_s, _give_up, [future for *_, future in queue], self.wait_s)  # one timer a turn
        self._worker.submit(self._serve, loop, queue)

    def _serve(self, loop: asyncio.AbstractEventLoop, queue: list[Item]) -> None:
        """In the worker thread: run the turn's work (skipping requests already answered), then hand the
        answers to the loop. When the turn's write transaction cannot get the write lock (``StoreBusy``),
        its reads run again on their own: the writes fail, the reads are still answered."""
        queue = [item for item in queue if not item[3].done()]
        if not queue:
            return
        outcomes = self._outcomes(queue, write=any(writes for _, writes, _, _ in queue))
        if isinstance(outcomes, StoreBusy) and not all(writes for _, writes, _, _ in queue):
            reads = [item for item in queue if not item[1]]
            busy = outcomes
            outcomes = [(future, busy, None) for _, writes, _, future in queue if writes]
            read_outcomes = self._outcomes(reads, write=False)
            outcomes += ([(future, read_outcomes, None) for *_, future in reads]
                         if isinstance(read_outcomes, Exception) else read_outcomes)
        elif isinstance(outcomes, Exception):
            outcomes = [(future, outcomes, None) for *_, future in queue]
        loop.call_soon_threadsafe(_settle, outcomes)

    def _outcomes(self, queue: list[Item], *, write: bool
                  ) -> list[tuple[asyncio.Future[Any], BaseException | None, Any]] | Exception:
        """Each request's answer or error; the error of the shared transaction when it failed (nothing stored)."""
        outcomes: list[tuple[asyncio.Future[Any], BaseException | None, Any]] = []
        try:
            with self._batched(queue, write=write):
                for work, _, _, future in queue:
                    try:
                        outcomes.append((future, None, work()))
                    except Exception as exc:  # the request's own error, raised where it awaits
                        outcomes.append((future, exc, None))
        except Exception as exc:
            return exc
        return outcomes


def _give_up(futures: list[asyncio.Future[Any]], wait_s: float) -> None:
    """On the loop, ``wait_s`` after a turn was handed over: its requests not answered yet get 503."""
    for future in futures:
        if not future.done():
            future.set_exception(StoreUnavailable(f"the store did not answer within {wait_s:g} s"))


def _settle(outcomes: list[tuple[asyncio.Future[Any], BaseException | None, Any]]) -> None:
    """On the loop: each request's answer (a request already answered 503 after ``wait_s`` keeps that)."""
    for future, error, result in outcomes:
        if future.done():
            continue
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)
