"""Freeing large structures a slice at a time, so that it never stalls the loop.

When the last reference to a fleet's refresh goes (201 JSZ replies decoded into a
million objects), CPython frees all of it at once, in one cascade: 50 to 100 ms in
which nothing else on the event loop runs. :class:`Disposer` takes such an object
instead and lets it go from the top down: it keeps references to an object's
children, drops the object itself (cheap: its children are still alive), and
releases the children the same way in later slices of the loop, each slice within a
small time budget. Nothing is ever mutated, so an object that is still shared
elsewhere is simply kept alive by its other owners, exactly as without the disposer.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gc
import time
from collections import deque
from collections.abc import Iterator
from typing import Any

#: Containers smaller than this are dropped whole (their cascade is short).
SPLIT_AT = 8
#: Objects this many levels below the one handed over are dropped whole.
MAX_DEPTH = 6
#: Work per slice before the loop gets a turn (seconds).
SLICE = 0.003

_LEAVES = (str, bytes, bytearray, int, float, bool, type(None), memoryview)


def children(obj: Any) -> list[Any] | None:
    """The references worth releasing one by one, or None to drop ``obj`` whole."""
    if isinstance(obj, _LEAVES):
        return None
    if isinstance(obj, dict):
        return list(obj.values()) if len(obj) >= SPLIT_AT else None
    if isinstance(obj, (list, tuple, set, frozenset, deque)):
        return list(obj) if len(obj) >= SPLIT_AT else None
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return [getattr(obj, f.name, None) for f in dataclasses.fields(obj)]
    attrs = getattr(obj, "__dict__", None)
    if isinstance(attrs, dict):
        return list(attrs.values())
    return None


class Disposer:
    """Releases what it is given in slices of at most :data:`SLICE` on the loop."""

    def __init__(self, slice_seconds: float = SLICE) -> None:
        self.slice_seconds = slice_seconds
        self._pending: deque[tuple[Any, int]] = deque()
        self._task: asyncio.Task[None] | None = None
        self.released = 0  # objects taken apart (for tests and benchmarks)
        self.slices = 0  # turns of the loop it took

    def drop(self, obj: Any) -> None:
        """Take over a reference to ``obj``; the caller should hold no other."""
        if obj is None or isinstance(obj, _LEAVES):
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop: let it go here and now
            return
        self._pending.append((obj, 0))
        del obj
        task = self._task
        if task is None or task.done() or task.get_loop() is not loop:
            self._task = loop.create_task(self._run(), name="natsops-disposer")

    @property
    def pending(self) -> int:
        return len(self._pending)

    async def _run(self) -> None:
        pending = self._pending
        while pending:
            self.slices += 1
            end = time.perf_counter() + self.slice_seconds
            while pending and time.perf_counter() < end:
                obj, depth = pending.pop()
                parts = children(obj) if depth < MAX_DEPTH else None
                del obj  # frees the object itself; its parts live on in ``parts``
                if parts:
                    self.released += 1
                    below = depth + 1
                    pending.extend(
                        (part, below) for part in parts if not isinstance(part, _LEAVES)
                    )
                del parts
            await asyncio.sleep(0)

    async def wait(self) -> None:
        """Until everything handed over so far has been released."""
        while self._task is not None and not self._task.done():
            await asyncio.shield(self._task)

    async def close(self) -> None:
        """Release everything still pending at once and stop."""
        self._pending.clear()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None


_gc_holds = 0
_gc_was_enabled = False


def gc_hold() -> None:
    """No cyclic collections from here until the matching :func:`gc_release`.

    A refresh of a large fleet decodes and builds a million objects in under a
    second; the collections they trigger walk the heap again and again (a full one
    takes a couple of hundred milliseconds at that size) though none of it is
    cyclic garbage. The dashboard holds collection from the start of a fetch until
    its rows are applied and frozen. Every pause of the collector in natsops goes
    through this counter: one that saved and restored ``gc.isenabled()`` around an
    await could, interleaved with another, leave collection off for good.
    """
    global _gc_holds, _gc_was_enabled
    if _gc_holds == 0:
        _gc_was_enabled = gc.isenabled()
        gc.disable()
    _gc_holds += 1


def gc_release() -> None:
    """End one :func:`gc_hold`; collection resumes after the last."""
    global _gc_holds
    if _gc_holds == 0:
        return
    _gc_holds -= 1
    if _gc_holds == 0 and _gc_was_enabled:
        gc.enable()


@contextlib.contextmanager
def gc_held() -> Iterator[None]:
    """:func:`gc_hold` for the duration of a ``with`` block."""
    gc_hold()
    try:
        yield
    finally:
        gc_release()


_shared = Disposer()


def dispose_later(obj: Any) -> None:
    """Hand ``obj`` to the process's disposer (see :class:`Disposer`)."""
    _shared.drop(obj)
