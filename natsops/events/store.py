"""The event store: a bounded ring buffer with exact counts, rates and seq gaps.

Every event is counted even after the buffer has let it go, duplicates are counted
apart, and listeners get batches at a bounded rate, never one call per event.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from natsops.events.model import (
    CRITICAL,
    ERROR,
    INFO,
    KNOWN_KINDS,
    LEADER_KINDS,
    SEVERITIES,
    SEVERITY_RANK,
    WARNING,
    Event,
    parse_event,
)

log = logging.getLogger(__name__)

DEFAULT_CAPACITY = 10_000

#: A missing seq becomes a dropped event once it has been missing this long.
GAP_GRACE = 2.0
#: A seq this far below the highest one seen (same server id) means a restart.
_SEQ_RESET_DISTANCE = 64
#: At most this many missing seqs are tracked per server; larger gaps count at once.
_MAX_PENDING_GAPS = 4096
#: How many recent advisory ids are remembered to drop the second copy.
_DEDUP_WINDOW = 16_384

_CONNECT_KINDS = ("connect", "disconnect")


@dataclass(slots=True)
class LeaderChange:
    """One entry of the JetStream leadership timeline."""

    time: float
    scope: str  # "meta", "stream" or "consumer"
    leader: str
    account: str = ""
    stream: str = ""
    consumer: str = ""
    cluster: str = ""
    event: Event | None = field(default=None, repr=False)

    @property
    def target(self) -> str:
        if self.scope == "meta":
            return "meta"
        if self.scope == "consumer":
            return f"{self.stream} > {self.consumer}"
        return self.stream


@dataclass(slots=True)
class SeqGaps:
    """Sequence tracking of one server's events."""

    server: str
    server_id: str
    highest: int
    dropped: int
    pending: int
    restarts: int


@dataclass(slots=True)
class StoreStats:
    """A snapshot of the store's counters."""

    seen: int
    buffered: int
    capacity: int
    dropped_from_buffer: int
    duplicates: int
    seq_dropped: int
    by_type: dict[str, int]
    by_kind: dict[str, int]
    by_severity: dict[str, int]


@dataclass(slots=True)
class EventBatch:
    """New events for one reader; ``missed`` left the buffer before being read."""

    events: list[Event]
    missed: int = 0


class EventFilter:
    """Which events to show: by type or kind, server, account, text and severity.

    ``types``: a term that is a kind natsops knows (``connect``) matches that kind
    only; any other term matches the type or kind where it starts a word (after a
    dot, underscore or dash): ``leader_elected``, ``client_disconnect``,
    ``io.nats.jetstream``;
    ``servers`` and ``accounts`` match exactly or by substring, accounts by name or
    public key; ``text`` is a case-insensitive substring of summary or subject.
    """

    __slots__ = ("accounts", "min_severity", "servers", "sources", "text", "types")

    def __init__(
        self,
        types: Sequence[str] = (),
        servers: Sequence[str] = (),
        accounts: Sequence[str] = (),
        text: str = "",
        min_severity: str = INFO,
        sources: Sequence[str] = (),
    ) -> None:
        self.types = [t.lower() for t in types if t]
        self.servers = [s for s in servers if s]
        self.accounts = [a for a in accounts if a]
        self.text = text.lower()
        self.min_severity = SEVERITY_RANK.get(min_severity, 0)
        self.sources = list(sources)

    @property
    def empty(self) -> bool:
        return not (
            self.types
            or self.servers
            or self.accounts
            or self.text
            or self.min_severity
            or self.sources
        )

    def matches(self, ev: Event) -> bool:
        if self.min_severity and SEVERITY_RANK.get(ev.severity, 0) < self.min_severity:
            return False
        if self.types:
            k = ev.kind
            t = ev.type.lower()
            for term in self.types:
                if term in KNOWN_KINDS:
                    if k == term:
                        break
                elif _starts_word(k, term) or _starts_word(t, term):
                    break
            else:
                return False
        if self.servers and not any(s in ev.server for s in self.servers):
            return False
        if self.accounts and not any(
            a == ev.account or a == ev.account_id or a in ev.account
            for a in self.accounts
        ):
            return False
        if self.sources and ev.source not in self.sources:
            return False
        if self.text:
            if self.text not in ev.summary.lower() and self.text not in ev.subject:
                return False
        return True


def _starts_word(text: str, term: str) -> bool:
    """Whether ``term`` occurs in ``text`` at the start of a word."""
    i = text.find(term)
    while i >= 0:
        if i == 0 or text[i - 1] in "._-":
            return True
        i = text.find(term, i + 1)
    return False


class _SeqTrack:
    __slots__ = ("dropped", "high", "missing", "restarts", "server_id")

    def __init__(self, server_id: str, seq: int) -> None:
        self.server_id = server_id
        self.high = seq
        self.missing: dict[int, float] = {}
        self.dropped = 0
        self.restarts = 0

    def observe(self, server_id: str, seq: int, now: float) -> None:
        if server_id and server_id != self.server_id:
            self._restart(server_id, seq)
            return
        high = self.high
        if seq > high:
            gap = seq - high - 1
            if gap > 0:
                if gap > _MAX_PENDING_GAPS:
                    self.dropped += gap
                else:
                    missing = self.missing
                    for s in range(high + 1, seq):
                        missing[s] = now
                    if len(missing) > _MAX_PENDING_GAPS:
                        self._confirm_oldest(len(missing) - _MAX_PENDING_GAPS)
            self.high = seq
        elif seq < high:
            if self.missing.pop(seq, None) is None and seq < high - _SEQ_RESET_DISTANCE:
                self._restart(server_id or self.server_id, seq)

    def _restart(self, server_id: str, seq: int) -> None:
        # Seqs missing from the previous run will never come: they were dropped.
        self.dropped += len(self.missing)
        self.missing.clear()
        self.server_id = server_id
        self.high = seq
        self.restarts += 1

    def _confirm_oldest(self, count: int) -> None:
        for s in list(islice(self.missing, count)):
            del self.missing[s]
            self.dropped += 1

    def confirm(self, now: float, grace: float) -> None:
        missing = self.missing
        if not missing:
            return
        expired = []
        for s, opened in missing.items():
            if now - opened < grace:
                break
            expired.append(s)
        for s in expired:
            del missing[s]
        self.dropped += len(expired)


class Listener:
    """A batched reader registered with :meth:`EventStore.add_listener`."""

    __slots__ = ("callback", "filter", "interval", "last", "position")

    def __init__(
        self,
        callback: Callable[[EventBatch], None],
        interval: float,
        position: int,
        flt: EventFilter | None,
    ) -> None:
        self.callback = callback
        self.interval = interval
        self.position = position
        self.last = 0.0
        self.filter = flt


class EventCursor:
    """Pull-style reader: each :meth:`pull` returns what arrived since the last."""

    def __init__(self, store: EventStore, position: int) -> None:
        self._store = store
        self.position = position

    def pull(self, limit: int | None = None) -> EventBatch:
        events, self.position, missed = self._store.since(self.position, limit)
        return EventBatch(events, missed)

    @property
    def pending(self) -> int:
        return self._store.position - self.position


class EventStore:
    """Ring buffer of :class:`Event` with exact counters, rates and derived panels.

    Not thread-safe: feed it from one event loop (the :class:`EventFeed` does).
    """

    def __init__(
        self,
        capacity: int = DEFAULT_CAPACITY,
        *,
        rate_window: float = 10.0,
        history: int = 120,
        auth_capacity: int = 500,
        leadership_capacity: int = 1000,
        account_names: Mapping[str, str] | None = None,
        gap_grace: float = GAP_GRACE,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self.rate_window = rate_window
        self.gap_grace = gap_grace
        self._clock = clock
        self._monotonic = monotonic
        self._buffer: deque[Event] = deque(maxlen=capacity)
        self._position = 0  # events ever buffered
        self.seen = 0  # every event ingested, duplicates included
        self.duplicates = 0
        self.by_type: dict[str, int] = {}
        self.by_kind: dict[str, int] = {}
        self.by_severity: dict[str, int] = dict.fromkeys(SEVERITIES, 0)
        self._history = max(history, int(rate_window) + 1)
        # one (second, counts by type, counts by kind) per wall-clock second
        self._seconds: deque[tuple[int, dict[str, int], dict[str, int]]] = deque(
            maxlen=self._history
        )
        self._cur_sec = -1
        self._cur_types: dict[str, int] = {}
        self._cur_kinds: dict[str, int] = {}
        self._seq: dict[str, _SeqTrack] = {}
        self._recent_ids: dict[str, Event] = {}
        self._auth: deque[Event] = deque(maxlen=auth_capacity)
        self._leaders: deque[LeaderChange] = deque(maxlen=leadership_capacity)
        self.latest_statsz: dict[str, Event] = {}
        self.account_names: dict[str, str] = dict(account_names or {})
        self._listeners: list[Listener] = []
        self.last_received = 0.0

    # -- ingest ---------------------------------------------------------------

    def ingest(
        self,
        subject: str,
        payload: bytes,
        source: str = "system",
        received: float | None = None,
    ) -> Event | None:
        """Parse and add one message; returns the event, or None for a duplicate."""
        ev = parse_event(
            subject, payload, source, self._clock() if received is None else received
        )
        return ev if self.add(ev) else None

    def ingest_many(
        self,
        items: Iterable[tuple[str, bytes, str]],
        received: float | None = None,
    ) -> list[Event]:
        """Parse and add ``(subject, payload, source)`` messages; returns new events."""
        now = self._clock() if received is None else received
        add = self.add
        out: list[Event] = []
        append = out.append
        for subject, payload, source in items:
            ev = parse_event(subject, payload, source, now)
            if add(ev):
                append(ev)
        return out

    def add(self, ev: Event) -> bool:
        """Count and buffer an already parsed event; False when it is a duplicate."""
        self.seen += 1
        if ev.received > self.last_received:
            self.last_received = ev.received
        if ev.seq and ev.server:
            self._note_seq(ev.server, ev.server_id, ev.seq)
        kind = ev.kind
        if kind == "account_conns_legacy":
            self.duplicates += 1
            return False
        ev_id = ev.id
        if ev_id and ev.subject.startswith("$JS."):
            recent = self._recent_ids
            first = recent.get(ev_id)
            if first is not None:
                self.duplicates += 1
                self._learn_alias(first, ev)
                return False
            recent[ev_id] = ev
            if len(recent) > _DEDUP_WINDOW:
                del recent[next(iter(recent))]

        account = ev.account
        if account:
            name = self.account_names.get(account)
            if name is not None:
                ev.account = name
                if not ev.account_id:
                    ev.account_id = account
            elif kind == "account_conns" and ev.account_id and account != ev.account_id:
                self.account_names[ev.account_id] = account

        t = ev.type
        self.by_type[t] = self.by_type.get(t, 0) + 1
        self.by_kind[kind] = self.by_kind.get(kind, 0) + 1
        self.by_severity[ev.severity] = self.by_severity.get(ev.severity, 0) + 1

        sec = int(ev.received)
        buckets = (
            (self._cur_types, self._cur_kinds)
            if sec == self._cur_sec
            else self._bucket(sec)
        )
        if buckets is not None:
            ct, ck = buckets
            ct[t] = ct.get(t, 0) + 1
            ck[kind] = ck.get(kind, 0) + 1

        self._buffer.append(ev)
        self._position += 1

        if kind == "statsz":
            if ev.server:
                self.latest_statsz[ev.server] = ev
        elif kind == "auth_error":
            self._auth.append(ev)
        elif kind in LEADER_KINDS:
            self._leader(ev)
        return True

    def _learn_alias(self, first: Event, dup: Event) -> None:
        """Two copies of one advisory: the system's names the account's public key,
        the owner's comes through the account connection named after it."""
        if first.source == dup.source or first.account == dup.account:
            return
        owner, system = (first, dup) if dup.source == "system" else (dup, first)
        key = system.account
        name = owner.source
        if not key or not name or key == name:
            return
        self.account_names.setdefault(key, name)
        first.account = name
        first.account_id = key

    def _bucket(self, sec: int) -> tuple[dict[str, int], dict[str, int]] | None:
        """The per-second counters for ``sec`` (None when older than the history)."""
        if sec > self._cur_sec:
            self._cur_sec = sec
            self._cur_types = {}
            self._cur_kinds = {}
            self._seconds.append((sec, self._cur_types, self._cur_kinds))
            return self._cur_types, self._cur_kinds
        for s, types, kinds in reversed(self._seconds):
            if s == sec:
                return types, kinds
            if s < sec:
                break
        return None

    def _leader(self, ev: Event) -> None:
        doc = ev.raw
        scope = ev.kind.split("_", 1)[0]
        cluster = doc.get("cluster")
        self._leaders.append(
            LeaderChange(
                time=ev.time,
                scope=scope,
                leader=ev.server,
                account=ev.account,
                stream=ev.stream,
                consumer=ev.consumer,
                cluster=cluster if isinstance(cluster, str) else "",
                event=ev,
            )
        )

    # -- seq gaps -------------------------------------------------------------

    # TODO: a server numbers every message it sends with a server block, including
    # replies to anyone's $SYS.REQ requests and its own requests to other servers
    # ($SYS.REQ.ACCOUNT.<acc>.CONNS, $SYS._INBOX_ replies); natsops cannot see those
    # with the reference permissions, so a seq gap can also be such a message and
    # the dropped count is an upper bound. note_seq() removes natsops's own replies.
    def _note_seq(self, server: str, server_id: str, seq: int) -> None:
        track = self._seq.get(server)
        if track is None:
            self._seq[server] = _SeqTrack(server_id, seq)
        else:
            track.observe(server_id, seq, self._monotonic())

    def note_seq(self, server: str, server_id: str, seq: int) -> None:
        """Record a seq seen outside the event subscriptions (a request's reply).

        Every message a server sends with a ``server`` block takes the next seq,
        replies included, so a reply natsops received is not a dropped event.
        """
        if server and seq > 0:
            self._note_seq(server, server_id, seq)

    def seq_gaps(self) -> list[SeqGaps]:
        """Per-server sequence tracking, with gaps older than the grace confirmed."""
        now = self._monotonic()
        out = []
        for name, track in sorted(self._seq.items()):
            track.confirm(now, self.gap_grace)
            out.append(
                SeqGaps(
                    name,
                    track.server_id,
                    track.high,
                    track.dropped,
                    len(track.missing),
                    track.restarts,
                )
            )
        return out

    @property
    def seq_dropped(self) -> int:
        """Events a seq gap says were sent but never received (confirmed)."""
        return sum(g.dropped for g in self.seq_gaps())

    # -- reading --------------------------------------------------------------

    @property
    def position(self) -> int:
        """How many events were ever buffered (the next event's position)."""
        return self._position

    @property
    def buffered(self) -> int:
        return len(self._buffer)

    @property
    def dropped_from_buffer(self) -> int:
        return self._position - len(self._buffer)

    def __len__(self) -> int:
        return len(self._buffer)

    def __bool__(self) -> bool:  # an empty store is still a store
        return True

    def __iter__(self) -> Iterator[Event]:
        return iter(self._buffer)

    def events(self) -> list[Event]:
        """Every buffered event, oldest first."""
        return list(self._buffer)

    def since(
        self, position: int, limit: int | None = None
    ) -> tuple[list[Event], int, int]:
        """Events buffered at or after ``position``: (events, new position, missed)."""
        first = self._position - len(self._buffer)
        missed = 0
        if position < first:
            missed = first - position
            position = first
        count = self._position - position
        if count <= 0:
            return [], self._position, missed
        if limit is not None and count > limit:
            missed += count - limit
            count = limit
        events = list(islice(reversed(self._buffer), count))
        events.reverse()
        return events, self._position, missed

    def cursor(self, from_start: bool = False) -> EventCursor:
        """A pull reader starting now (or at the oldest buffered event)."""
        start = self._position - len(self._buffer) if from_start else self._position
        return EventCursor(self, start)

    def query(
        self, flt: EventFilter | None = None, limit: int | None = None
    ) -> list[Event]:
        """Buffered events matching ``flt``, oldest first (the newest ``limit``)."""
        if flt is None or flt.empty:
            events = list(self._buffer)
            return events[-limit:] if limit else events
        out: list[Event] = []
        matches = flt.matches
        for ev in reversed(self._buffer):
            if matches(ev):
                out.append(ev)
                if limit and len(out) >= limit:
                    break
        out.reverse()
        return out

    def stats(self) -> StoreStats:
        return StoreStats(
            seen=self.seen,
            buffered=len(self._buffer),
            capacity=self.capacity,
            dropped_from_buffer=self.dropped_from_buffer,
            duplicates=self.duplicates,
            seq_dropped=self.seq_dropped,
            by_type=dict(self.by_type),
            by_kind=dict(self.by_kind),
            by_severity=dict(self.by_severity),
        )

    # -- rates and series -------------------------------------------------------

    def _window(self, seconds: float, now: float | None) -> tuple[int, int]:
        end = int(self._clock() if now is None else now)
        return end - int(seconds) + 1, end

    def rates(
        self, window: float | None = None, now: float | None = None, by: str = "type"
    ) -> dict[str, float]:
        """Events per second over the last ``window`` seconds, per type (or kind)."""
        window = window or self.rate_window
        start, end = self._window(window, now)
        totals: dict[str, int] = {}
        for sec, types, kinds in self._seconds:
            if start <= sec <= end:
                for key, n in (types if by == "type" else kinds).items():
                    totals[key] = totals.get(key, 0) + n
        span = max(float(int(window)), 1.0)
        return {k: n / span for k, n in totals.items()}

    def rate(self, window: float | None = None, now: float | None = None) -> float:
        """All events per second over the window."""
        return sum(self.rates(window, now).values())

    def series(
        self, kinds: Sequence[str], seconds: int = 60, now: float | None = None
    ) -> list[tuple[int, list[int]]]:
        """Per-second counts of ``kinds`` for the last ``seconds`` (zeros included)."""
        start, end = self._window(seconds, now)
        by_sec = {s: k for s, _t, k in self._seconds if start <= s <= end}
        out = []
        for sec in range(start, end + 1):
            counts = by_sec.get(sec)
            out.append((sec, [counts.get(k, 0) if counts else 0 for k in kinds]))
        return out

    def connects_per_second(
        self, seconds: int = 60, now: float | None = None
    ) -> list[tuple[int, int, int]]:
        """(second, connects, disconnects) for the last ``seconds`` seconds."""
        return [
            (sec, c[0], c[1]) for sec, c in self.series(_CONNECT_KINDS, seconds, now)
        ]

    # -- panels -----------------------------------------------------------------

    def auth_errors(self) -> list[Event]:
        """Authentication failures, oldest first (kept apart from the ring buffer)."""
        return list(self._auth)

    def leadership(self) -> list[LeaderChange]:
        """Meta, stream and consumer leader elections, oldest first."""
        return list(self._leaders)

    def account_label(self, account: str) -> str:
        """An account's name when natsops knows it, else what was given."""
        return self.account_names.get(account, account)

    # -- listeners --------------------------------------------------------------

    def add_listener(
        self,
        callback: Callable[[EventBatch], None],
        interval: float = 0.1,
        flt: EventFilter | None = None,
        from_start: bool = False,
    ) -> Listener:
        """Call ``callback(batch)`` with new events at most once per ``interval``.

        Nothing is called from :meth:`add`; :meth:`dispatch` (run by the feed, or by
        the caller's own timer) delivers what accumulated since the last call.
        """
        start = self._position - len(self._buffer) if from_start else self._position
        listener = Listener(callback, interval, start, flt)
        self._listeners.append(listener)
        return listener

    def remove_listener(self, listener: Listener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def dispatch(self, force: bool = False) -> float | None:
        """Deliver pending batches to due listeners.

        Returns how many seconds until the next listener with pending events is due,
        or None when nothing is pending.
        """
        now = self._monotonic()
        wait: float | None = None
        for listener in list(self._listeners):
            if listener.position >= self._position:
                continue
            due = listener.last + listener.interval - now
            if due > 0 and not force:
                wait = due if wait is None else min(wait, due)
                continue
            events, listener.position, missed = self.since(listener.position)
            if listener.filter is not None and not listener.filter.empty:
                events = [e for e in events if listener.filter.matches(e)]
            listener.last = now
            if not events and not missed:
                continue
            try:
                listener.callback(EventBatch(events, missed))
            except Exception:  # a broken view must not stop ingestion
                log.exception("event listener failed")
        return wait

    @property
    def has_pending(self) -> bool:
        return any(ls.position < self._position for ls in self._listeners)


def severity_at_least(severity: str) -> Callable[[Event], bool]:
    """A predicate for events at or above ``severity``."""
    rank = SEVERITY_RANK.get(severity, 0)
    return lambda ev: SEVERITY_RANK.get(ev.severity, 0) >= rank


def counts_line(stats: StoreStats, top: int = 8) -> str:
    """A one-line summary of counts, for the end of a command."""
    kinds = sorted(stats.by_kind.items(), key=lambda kv: (-kv[1], kv[0]))
    parts = [f"{n} {k}" for k, n in kinds[:top]]
    if len(kinds) > top:
        parts.append(f"{sum(n for _k, n in kinds[top:])} other")
    sev = ", ".join(
        f"{stats.by_severity.get(s, 0)} {s}"
        for s in (CRITICAL, ERROR, WARNING)
        if stats.by_severity.get(s, 0)
    )
    line = f"{stats.seen - stats.duplicates} events"
    if parts:
        line += f" ({', '.join(parts)})"
    if sev:
        line += f"; {sev}"
    if stats.duplicates:
        line += f"; {stats.duplicates} duplicates ignored"
    if stats.seq_dropped:
        line += f"; {stats.seq_dropped} missed (seq gaps)"
    return line


def summary_counts(events: Iterable[Event]) -> dict[str, Any]:
    """Counts per kind of a list of events (used by replays and tests)."""
    out: dict[str, int] = {}
    for ev in events:
        out[ev.kind] = out.get(ev.kind, 0) + 1
    return out


__all__ = [
    "CRITICAL",
    "DEFAULT_CAPACITY",
    "ERROR",
    "INFO",
    "WARNING",
    "EventBatch",
    "EventCursor",
    "EventFilter",
    "EventStore",
    "LeaderChange",
    "Listener",
    "SeqGaps",
    "StoreStats",
    "counts_line",
    "severity_at_least",
    "summary_counts",
]
