"""Message and byte rates from successive counter samples, with sparkline history.

Counters only grow while a server (or connection) lives; a restart resets them. A
rate is therefore only computed between two samples of the same epoch (server start
time, or connection start) whose counters did not go down, over a positive interval.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from natsops.model.base import time_key
from natsops.model.conns import Connection, Connz
from natsops.model.server import ServerStats, Varz

log = logging.getLogger(__name__)

#: Fields of :class:`Rate` (and :class:`Counters`) in display order.
RATE_FIELDS = ("msgs_in", "msgs_out", "bytes_in", "bytes_out")
_BARS = "▁▂▃▄▅▆▇█"


@dataclass(slots=True, frozen=True)
class Counters:
    """Cumulative counters: ``*_in`` received by the server, ``*_out`` sent by it."""

    msgs_in: int = 0
    msgs_out: int = 0
    bytes_in: int = 0
    bytes_out: int = 0

    @classmethod
    def from_statsz(cls, stats: ServerStats) -> Counters:
        """A server's totals from STATSZ (``received``/``sent``)."""
        return cls(
            stats.received.msgs, stats.sent.msgs, stats.received.bytes, stats.sent.bytes
        )

    @classmethod
    def from_varz(cls, varz: Varz) -> Counters:
        """A server's totals from VARZ (``in_*``/``out_*``)."""
        return cls(varz.in_msgs, varz.out_msgs, varz.in_bytes, varz.out_bytes)

    @classmethod
    def from_connection(cls, conn: Connection) -> Counters:
        """A connection's totals: ``in`` is what the client published."""
        return cls(conn.in_msgs, conn.out_msgs, conn.in_bytes, conn.out_bytes)


@dataclass(slots=True, frozen=True)
class Sample:
    """Counters at a moment ``at`` (seconds on any one clock) within an ``epoch``.

    The epoch names one life of the counters (a server's start time, a connection's
    start); a different epoch means they were reset.
    """

    at: float
    counters: Counters
    epoch: str = ""


@dataclass(slots=True, frozen=True)
class Rate:
    """Per-second rates over ``interval`` seconds."""

    msgs_in: float = 0.0
    msgs_out: float = 0.0
    bytes_in: float = 0.0
    bytes_out: float = 0.0
    interval: float = 0.0

    def get(self, name: str) -> float:
        """The rate called ``name`` (one of :data:`RATE_FIELDS`); 0.0 if unknown."""
        value = getattr(self, name, 0.0) if name in RATE_FIELDS else 0.0
        return float(value)


def compute_rate(previous: Sample | None, current: Sample) -> Rate | None:
    """The rate between two samples, or None when it cannot be known honestly.

    None when there is no previous sample, the interval is zero or negative, the
    epoch changed, or any counter went down (a reset, e.g. a server restart).
    """
    if previous is None:
        return None
    interval = current.at - previous.at
    if not math.isfinite(interval) or interval <= 0:
        return None
    if previous.epoch != current.epoch:
        return None
    a, b = previous.counters, current.counters
    deltas = (
        b.msgs_in - a.msgs_in,
        b.msgs_out - a.msgs_out,
        b.bytes_in - a.bytes_in,
        b.bytes_out - a.bytes_out,
    )
    if min(deltas) < 0:
        return None
    return Rate(
        deltas[0] / interval,
        deltas[1] / interval,
        deltas[2] / interval,
        deltas[3] / interval,
        interval,
    )


class RateTracker:
    """Rates per key (a server name) from successive samples, with bounded history.

    ``history`` is how many rates are kept per key for sparklines.
    """

    def __init__(self, history: int = 60) -> None:
        self.history_size = max(1, history)
        self._last: dict[str, Sample] = {}
        self._rate: dict[str, Rate | None] = {}
        self._history: dict[str, deque[Rate]] = {}

    def update(self, key: str, sample: Sample) -> Rate | None:
        """Record a sample for ``key`` and return the rate since the previous one.

        A sample older than (or as old as) the last one is ignored: replies may arrive
        late and out of order.
        """
        previous = self._last.get(key)
        if previous is not None and sample.at <= previous.at:
            if sample.epoch == previous.epoch:
                return self._rate.get(key)
        rate = compute_rate(previous, sample)
        self._last[key] = sample
        self._rate[key] = rate
        if rate is not None:
            ring = self._history.get(key)
            if ring is None:
                ring = self._history[key] = deque(maxlen=self.history_size)
            ring.append(rate)
        elif previous is not None and previous.epoch != sample.epoch:
            log.debug("%s: counters reset (new epoch)", key)
        return rate

    def update_statsz(
        self, stats: Mapping[str, ServerStats], at: float | Mapping[str, float]
    ) -> dict[str, Rate | None]:
        """Record every server's STATSZ taken at ``at`` (one time or one per server)."""
        out: dict[str, Rate | None] = {}
        for name, stat in stats.items():
            when = at if isinstance(at, int | float) else at.get(name)
            if when is None:
                continue
            sample = Sample(float(when), Counters.from_statsz(stat), stat.start)
            out[name] = self.update(name, sample)
        return out

    def update_varz(
        self, varz: Mapping[str, Varz], at: float | Mapping[str, float] | None = None
    ) -> dict[str, Rate | None]:
        """Record every server's VARZ; without ``at`` each reply's ``now`` is used."""
        out: dict[str, Rate | None] = {}
        for name, v in varz.items():
            if at is None:
                when: float | None = time_key(v.now) or None
            elif isinstance(at, int | float):
                when = float(at)
            else:
                when = at.get(name)
            if when is None:
                continue
            out[name] = self.update(name, Sample(when, Counters.from_varz(v), v.start))
        return out

    def rate(self, key: str) -> Rate | None:
        """The latest rate of ``key`` (None until two samples of one epoch)."""
        return self._rate.get(key)

    def rates(self) -> dict[str, Rate | None]:
        """The latest rate of every key."""
        return dict(self._rate)

    def history(self, key: str, name: str = "msgs_in") -> list[float]:
        """The recent values of one rate of ``key``, oldest first."""
        return [r.get(name) for r in self._history.get(key, ())]

    def keys(self) -> list[str]:
        """Every key with a sample."""
        return list(self._last)

    def forget(self, key: str) -> None:
        """Drop everything about ``key`` (a server removed from the fleet)."""
        self._last.pop(key, None)
        self._rate.pop(key, None)
        self._history.pop(key, None)


class ConnectionRates:
    """Per-connection rates between the last two CONNZ collections.

    :meth:`update` only swaps snapshots (cheap for 100,000 connections); :meth:`rate`
    computes a connection's rate on demand, for the rows being shown or sorted.
    Intervals come from each server's own ``now``.
    """

    def __init__(self) -> None:
        self._prev: dict[str, tuple[float, dict[int, Connection]]] = {}
        self._cur: dict[str, tuple[float, dict[int, Connection]]] = {}

    def update(self, pages: Mapping[str, Connz] | Iterable[Connz]) -> None:
        """Take a new collection; servers missing from it keep their last snapshot."""
        items = pages.values() if isinstance(pages, Mapping) else pages
        fresh: dict[str, tuple[float, dict[int, Connection]]] = {}
        for page in items:
            at = time_key(page.now)
            fresh[page.server] = (at, {c.cid: c for c in page.connections})
        for server, snap in fresh.items():
            old = self._cur.get(server)
            if old is not None:
                self._prev[server] = old
            self._cur[server] = snap

    def rate(self, conn: Connection) -> Rate | None:
        """The rate of ``conn`` since the previous collection, or None if unknown."""
        prev = self._prev.get(conn.server)
        cur = self._cur.get(conn.server)
        if prev is None or cur is None:
            return None
        old = prev[1].get(conn.cid)
        if old is None:
            return None
        return compute_rate(
            Sample(prev[0], Counters.from_connection(old), old.start),
            Sample(cur[0], Counters.from_connection(conn), conn.start),
        )

    def forget(self, server: str) -> None:
        """Drop the snapshots of one server."""
        self._prev.pop(server, None)
        self._cur.pop(server, None)


def sparkline(values: Iterable[float], width: int | None = None) -> str:
    """Block characters for ``values`` scaled to their maximum (last ``width`` only)."""
    data = [v if math.isfinite(v) and v > 0 else 0.0 for v in values]
    if width is not None:
        data = data[-width:] if width > 0 else []
    if not data:
        return ""
    top = max(data)
    if top <= 0:
        return _BARS[0] * len(data)
    last = len(_BARS) - 1
    return "".join(_BARS[min(last, int(v / top * last + 0.5))] for v in data)
