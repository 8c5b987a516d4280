"""EventFeed: subscribes to events on real connections and fills an EventStore.

The subscription callbacks only append ``(subject, payload, source)`` to a bounded
queue, so nats-py never builds a backlog that would get natsops disconnected as a slow
consumer; a separate task parses the queue in batches, feeds the server roster and the
recording, and dispatches batched notifications to listeners. Subscriptions the
server denies are reported through :attr:`EventFeed.denied`, :attr:`EventFeed.notice`
and ``on_denied``, never silently left empty.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from natsops.errors import NatsopsError, PermissionDenied
from natsops.events.model import SERVER_STATE_KINDS, Event, parse_event
from natsops.events.record import Recorder
from natsops.events.store import EventStore

log = logging.getLogger(__name__)

#: What the system connection subscribes to.
SYSTEM_SUBJECTS = ("$SYS.SERVER.>", "$SYS.ACCOUNT.>", "$JS.EVENT.>")
#: What each account connection subscribes to (owner-only advisories).
ACCOUNT_SUBJECTS = ("$JS.EVENT.>",)

#: nats-py's per-subscription buffer; large so a busy loop never drops messages.
PENDING_MSGS_LIMIT = 1_000_000
PENDING_BYTES_LIMIT = 256 * 1024 * 1024
#: How long after the last drop the feed still says it is falling behind.
_BEHIND_HOLD = 5.0


def subject_matches(pattern: str, subject: str) -> bool:
    """Whether ``subject`` matches a subscription ``pattern`` (``*`` and ``>``)."""
    want = pattern.split(".")
    have = subject.split(".")
    for i, token in enumerate(want):
        if token == ">":
            return len(have) > i
        if i >= len(have) or (token != "*" and token.lower() != have[i].lower()):
            return False
    return len(want) == len(have)


class EventFeedError(NatsopsError):
    """The feed could not subscribe to the event subjects."""


class EventsDenied(EventFeedError, PermissionDenied):
    """The server denied subscribing to event subjects (names them all)."""


def _where(source: str) -> str:
    return "the system connection" if source == "system" else f"account {source}"


def denial_text(denied: Sequence[tuple[str, str]]) -> str:
    """``subscribe to A, B on the system connection; C on account APP``."""
    by_source: dict[str, list[str]] = {}
    for source, subject in denied:
        by_source.setdefault(source, []).append(subject)
    parts = [f"{', '.join(subs)} on {_where(src)}" for src, subs in by_source.items()]
    return "subscribe to " + "; ".join(parts)


class _Sub:
    __slots__ = ("count", "sinks", "source", "sub", "subject")

    def __init__(self, source: str, subject: str) -> None:
        self.source = source
        self.subject = subject
        self.sub: Any = None
        self.count = 0
        self.sinks: dict[int, Sink] | None = None  # the client's direct sinks


#: The parameters of nats-py's ``Client._process_msg`` the direct path replaces.
_PROCESS_MSG_PARAMS = ("self", "sid", "subject", "reply", "data", "headers")

Sink = Callable[[bytes, bytes], None]


def _direct_delivery(nc: Any) -> dict[int, Sink] | None:
    """The table of direct sinks of nats-py client ``nc``, installing the hook on
    first use; None when ``nc`` is not a nats-py client this hook knows.

    nats-py builds a ``Msg``, queues it and runs a coroutine callback for every
    message; for a flood of events that costs more than parsing them. The hook
    wraps the client's ``_process_msg`` (per instance, nothing global): a message
    for a subscription with a sink goes straight to the sink as bytes, keeping the
    client's statistics and delivered count; everything else (other
    subscriptions, messages with headers) takes nats-py's own path unchanged.
    """
    sinks = getattr(nc, "_natsops_sinks", None)
    if isinstance(sinks, dict):
        return sinks
    method = getattr(type(nc), "_process_msg", None)
    if method is None or not isinstance(getattr(nc, "_subs", None), dict):
        return None
    try:
        params = tuple(inspect.signature(method).parameters)
    except (TypeError, ValueError):
        return None
    stats = getattr(nc, "stats", None)
    if params != _PROCESS_MSG_PARAMS or not isinstance(stats, dict):
        return None
    table: dict[int, Sink] = {}
    original = nc._process_msg
    subs = nc._subs

    async def process_msg(
        sid: int, subject: bytes, reply: bytes, data: bytes, headers: Any
    ) -> None:
        sink = table.get(sid)
        sub = subs.get(sid)
        if sink is None or headers or sub is None:
            await original(sid, subject, reply, data, headers)
            return
        stats["in_msgs"] += 1
        stats["in_bytes"] += len(data)
        sub._received += 1
        sink(subject, data)

    nc._process_msg = process_msg
    nc._natsops_sinks = table
    return table


class EventFeed:
    """Live events from a system connection and any account connections.

    ``roster`` (a :class:`natsops.fanout.Roster`) learns servers from STATSZ and is
    marked ``lame_duck``/``shutdown`` by those events; ``on_server_state(name,
    state)`` and ``on_statsz(event)`` do the same for callers without a roster.
    ``on_denied(source, subject)`` is called once for each subscription the server
    denies (seen on a Hub's connections; see :meth:`start_hub`).
    """

    def __init__(
        self,
        store: EventStore,
        *,
        roster: Any = None,
        on_server_state: Callable[[str, str], None] | None = None,
        on_denied: Callable[[str, str], None] | None = None,
        on_statsz: Callable[[Event], None] | None = None,
        recorder: Recorder | None = None,
        subjects: Sequence[str] | None = None,
        raw_limit: int = 200_000,
        raw_bytes_limit: int = 128 * 1024 * 1024,
        batch_size: int = 1_000,
        pending_msgs_limit: int = PENDING_MSGS_LIMIT,
        pending_bytes_limit: int = PENDING_BYTES_LIMIT,
        direct: bool = True,
    ) -> None:
        self.store = store
        self.direct = direct
        self.roster = roster
        self.on_server_state = on_server_state
        self.on_denied = on_denied
        self.on_statsz = on_statsz
        self.recorder = recorder
        self.subjects = list(subjects) if subjects else None
        self.raw_limit = raw_limit
        self.raw_bytes_limit = raw_bytes_limit
        self._raw_bytes = 0
        self.batch_size = batch_size
        self.pending_msgs_limit = pending_msgs_limit
        self.pending_bytes_limit = pending_bytes_limit
        self._raw: deque[tuple[str, bytes, str]] = deque()
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._subs: list[_Sub] = []
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self.parsed = 0  # messages parsed (duplicates included)
        self.raw_dropped = 0
        self.slow_consumer_reports = 0
        self._client_dropped_seen = 0
        self._last_drop = 0.0
        self._server_info: Any = None
        self._hub: Any = None
        self._denied: dict[tuple[str, str], None] = {}  # ordered set

    # -- lifecycle ------------------------------------------------------------

    async def start(
        self, system: Any = None, accounts: Mapping[str, Any] | None = None
    ) -> None:
        """Subscribe on ``system`` (a nats-py Client) and each account's client.

        Denials on plain clients are only known when reported with
        :meth:`note_denied`; :meth:`start_hub` sees them by itself.
        """
        self._ensure_task()
        if system is not None:
            await self._subscribe(system, "system", self._system_subjects())
        for name, nc in (accounts or {}).items():
            await self.add_account(name, nc)

    async def start_hub(self, hub: Any) -> None:
        """Subscribe on a :class:`natsops.connection.Hub`'s connections.

        The hub reports the server's permission violations: a denied subscription
        reaches :attr:`denied`, :attr:`notice` and ``on_denied`` when the server's
        error arrives, usually before the subscriptions' flush returns but not
        always (the server may send it after the flush's PONG). The feed keeps the
        subscriptions it was allowed.
        """
        for link in getattr(hub, "accounts", {}).values():
            key = getattr(link, "public_key", "")
            if key:
                self.store.account_names[key] = link.name
        try:
            system_link = getattr(hub, "system_link", None)
        except Exception:  # no system connection: account advisories only
            system_link = None
        key = getattr(system_link, "public_key", "")
        name = getattr(system_link, "account_name", None)
        if key and name:
            self.store.account_names.setdefault(key, name)
        if self.recorder is not None:
            self.recorder.write_accounts(self.store.account_names)
        if hasattr(hub, "add_state_listener"):
            hub.add_state_listener(self._on_conn_event)
            self._hub = hub
        try:
            system = getattr(hub, "system", None)
        except Exception:
            system = None
        await self.start(
            system, {n: link.nc for n, link in getattr(hub, "accounts", {}).items()}
        )

    def _on_conn_event(self, event: Any) -> None:
        """The Hub reports nats-py's slow consumer errors and the server's permission
        violations as connection events."""
        kind = getattr(event, "kind", "")
        if kind == "permission":
            self._on_violation(event)
            return
        if kind != "slow_consumer":
            return
        subject = getattr(event, "subject", None)
        if not subject or any(subject_matches(s.subject, subject) for s in self._subs):
            self.note_slow_consumer(event)

    def _on_violation(self, event: Any) -> None:
        """A denied subscription of ours (the hub lower-cases the subject)."""
        subject = str(getattr(event, "subject", None) or "").lower()
        if not subject or "subscription" not in str(getattr(event, "message", "")):
            return
        source = str(getattr(event, "label", "") or "")
        for entry in self._subs:
            if entry.subject.lower() == subject and entry.source == source:
                self.note_denied(entry.source, entry.subject)

    def note_denied(self, source: str, subject: str) -> None:
        """Record that the server denied ``source``'s subscription to ``subject``."""
        key = (source, subject)
        if key in self._denied:
            return
        self._denied[key] = None
        log.info("events: subscribe to %s denied on %s", subject, _where(source))
        if self.on_denied is not None:
            try:
                self.on_denied(source, subject)
            except Exception:
                log.exception("denied subscription callback failed")

    @property
    def denied(self) -> list[tuple[str, str]]:
        """(source, subject) of every subscription the server denied."""
        return list(self._denied)

    def denial_error(self, sources: Iterable[str] | None = None) -> EventsDenied | None:
        """An :class:`EventsDenied` naming the denied subscriptions (of ``sources``
        only, when given), or None when there are none."""
        wanted = None if sources is None else set(sources)
        denied = [d for d in self._denied if wanted is None or d[0] in wanted]
        if not denied:
            return None
        return EventsDenied(
            f"permission denied: {denial_text(denied)}",
            "this user may not receive these events; see what it may do with "
            "'natsops perms'",
        )

    async def add_account(self, name: str, nc: Any) -> None:
        """Also watch an account connection's owner-only advisories."""
        self._ensure_task()
        subjects = [s for s in self._account_subjects()]
        if subjects:
            await self._subscribe(nc, name, subjects)

    async def stop(self) -> None:
        """Unsubscribe, parse what is queued, deliver it, and stop the parser."""
        if self._hub is not None:
            with contextlib.suppress(Exception):
                self._hub.remove_state_listener(self._on_conn_event)
            self._hub = None
        for s in self._subs:
            if s.sinks is not None:
                s.sinks.pop(getattr(s.sub, "_id", None), None)  # type: ignore[arg-type]
            with contextlib.suppress(Exception):
                await s.sub.unsubscribe()
        self._subs.clear()
        self._drain_all()
        self._closing = True
        self._wake.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
        self.store.dispatch(force=True)

    def _system_subjects(self) -> list[str]:
        return list(self.subjects) if self.subjects else list(SYSTEM_SUBJECTS)

    def _account_subjects(self) -> list[str]:
        if not self.subjects:
            return list(ACCOUNT_SUBJECTS)
        return [s for s in self.subjects if s.startswith(("$JS.", ">"))]

    def _ensure_task(self) -> None:
        if self._task is None or self._task.done():
            self._closing = False
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name="natsops-event-feed"
            )

    async def _subscribe(self, nc: Any, source: str, subjects: Iterable[str]) -> None:
        subject = ""
        try:
            for subject in subjects:
                entry = _Sub(source, subject)
                entry.sub = await nc.subscribe(
                    subject,
                    cb=self._callback(entry),
                    pending_msgs_limit=self.pending_msgs_limit,
                    pending_bytes_limit=self.pending_bytes_limit,
                )
                sinks = _direct_delivery(nc) if self.direct else None
                sid = getattr(entry.sub, "_id", None)
                if sinks is not None and isinstance(sid, int):
                    sinks[sid] = self._sink(entry)
                    entry.sinks = sinks
                self._subs.append(entry)
            await nc.flush(timeout=10)
        except NatsopsError:
            raise
        except Exception as exc:
            where = "the system connection" if source == "system" else source
            raise EventFeedError(
                f"cannot subscribe to {subject} on {where} "
                f"({type(exc).__name__}: {exc})",
                "check the connection and the user's subscribe permissions",
            ) from exc

    def _admit(self, subject: str, data: bytes, source: str) -> bool:
        """Queue one message for parsing; count it as dropped when the queue is
        full (in messages or bytes). Every way in goes through here."""
        if len(self._raw) >= self.raw_limit or self._raw_bytes > self.raw_bytes_limit:
            self.raw_dropped += 1
            self._last_drop = time.monotonic()
            return False
        self._raw_bytes += len(data)
        self._raw.append((subject, data, source))
        if not self._wake.is_set():
            self._wake.set()
        return True

    def _callback(self, entry: _Sub) -> Callable[[Any], Any]:
        """nats-py's subscription callback for ``entry``."""
        admit = self._admit
        source = entry.source

        async def on_msg(msg: Any) -> None:
            entry.count += 1
            admit(msg.subject, msg.data, source)

        return on_msg

    def _sink(self, entry: _Sub) -> Sink:
        """The direct path's equivalent of :meth:`_callback` (see
        :func:`_direct_delivery`)."""
        admit = self._admit
        source = entry.source

        def sink(subject: bytes, data: bytes) -> None:
            entry.count += 1
            admit(subject.decode(errors="replace"), data, source)

        return sink

    # -- direct input (tests, benchmarks, replays) -------------------------------

    def push(self, subject: str, payload: bytes, source: str = "system") -> bool:
        """Queue one message as if it had arrived; False when the queue was full."""
        if not self._admit(subject, payload, source):
            return False
        self._idle.clear()
        return True

    # -- parsing ------------------------------------------------------------------

    async def _run(self) -> None:
        store = self.store
        while not self._closing:
            if not self._raw:
                self._idle.set()
                self._wake.clear()
                wait = store.dispatch()
                try:
                    if wait is None:
                        await self._wake.wait()
                    else:
                        async with asyncio.timeout(wait):
                            await self._wake.wait()
                except TimeoutError:
                    pass
                continue
            self._idle.clear()
            try:
                self._process(self._take(self.batch_size))
            except Exception:  # never let one batch stop the feed
                log.exception("event batch failed")
            self._check_client_drops()
            store.dispatch()
            await asyncio.sleep(0)

    def _take(self, n: int) -> list[tuple[str, bytes, str]]:
        raw = self._raw
        n = min(n, len(raw))
        popleft = raw.popleft
        items = [popleft() for _ in range(n)]
        if raw:
            self._raw_bytes -= sum(len(item[1]) for item in items)
        else:
            self._raw_bytes = 0
        return items

    def _process(self, items: list[tuple[str, bytes, str]]) -> list[Event]:
        store = self.store
        now = time.time()
        add = store.add
        parsed = [parse_event(s, p, src, now) for s, p, src in items]
        new = [ev for ev in parsed if add(ev)]
        self.parsed += len(parsed)
        if self.recorder is not None:
            self.recorder.write(parsed)
        for ev in new:
            kind = ev.kind
            if kind == "statsz":
                self._statsz(ev)
            elif kind in SERVER_STATE_KINDS and ev.server:
                self._server_state(ev.server, SERVER_STATE_KINDS[kind])
        return new

    def _drain_all(self) -> None:
        while self._raw:
            self._process(self._take(self.batch_size))
        self._idle.set()

    def _statsz(self, ev: Event) -> None:
        if self.on_statsz is not None:
            try:
                self.on_statsz(ev)
            except Exception:
                log.exception("statsz callback failed")
        if self.roster is None:
            return
        if self._server_info is None:
            from natsops.fanout import ServerInfo

            self._server_info = ServerInfo
        info = self._server_info.from_dict(ev.raw.get("server"))
        if info is not None:
            try:
                self.roster.observe(info, "statsz")
            except Exception:
                log.exception("roster update failed")

    def _server_state(self, name: str, state: str) -> None:
        if self.roster is not None:
            try:
                self.roster.mark(name, state)
            except Exception:
                log.exception("roster update failed")
        if self.on_server_state is not None:
            try:
                self.on_server_state(name, state)
            except Exception:
                log.exception("server state callback failed")

    # -- falling behind -------------------------------------------------------------

    @property
    def client_dropped(self) -> int:
        """Messages nats-py received but dropped (its subscription buffer was full)."""
        total = 0
        for s in self._subs:
            sub = s.sub
            if sub is None:
                continue
            try:
                lost = sub.delivered - s.count - sub.pending_msgs
            except Exception:
                continue
            if lost > 0:
                total += lost
        return total

    def _check_client_drops(self) -> None:
        dropped = self.client_dropped
        if dropped > self._client_dropped_seen:
            self._client_dropped_seen = dropped
            self._last_drop = time.monotonic()

    def note_slow_consumer(self, error: Any = None) -> None:
        """Tell the feed nats-py reported a slow consumer (from an error callback)."""
        self.slow_consumer_reports += 1
        self._last_drop = time.monotonic()

    @property
    def backlog(self) -> int:
        """Messages queued but not parsed yet."""
        return len(self._raw)

    @property
    def dropped(self) -> int:
        """Every message lost before parsing: client buffer and raw queue."""
        return self.raw_dropped + self.client_dropped

    @property
    def falling_behind(self) -> bool:
        """True while the backlog is high or shortly after any message was dropped."""
        self._check_client_drops()
        if len(self._raw) > self.raw_limit // 2:
            return True
        return bool(self._last_drop) and (
            time.monotonic() - self._last_drop < _BEHIND_HOLD
        )

    @property
    def notice(self) -> str | None:
        """A line for the status bar: denied subscriptions and falling behind."""
        lines = []
        if self._denied:
            lines.append(f"events missing: {denial_text(self.denied)} denied")
        behind = self._behind_notice()
        if behind:
            lines.append(behind)
        return "; ".join(lines) or None

    def _behind_notice(self) -> str | None:
        if not self.falling_behind:
            return None
        parts = []
        client = self.client_dropped
        if client:
            parts.append(f"{client} dropped by the client (slow consumer)")
        if self.raw_dropped:
            parts.append(f"{self.raw_dropped} dropped from the event queue")
        if self.slow_consumer_reports and not client:
            parts.append(f"{self.slow_consumer_reports} slow consumer reports")
        if len(self._raw):
            parts.append(f"{len(self._raw)} waiting")
        return "events falling behind: " + ", ".join(parts or ["catching up"])

    async def wait_idle(self, timeout: float = 10.0) -> bool:
        """Wait until every queued message is parsed; False on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self._raw and self._idle.is_set():
                return True
            try:
                async with asyncio.timeout(max(deadline - time.monotonic(), 0.001)):
                    await self._idle.wait()
            except TimeoutError:
                return not self._raw
            await asyncio.sleep(0)
        return not self._raw

    @property
    def subscriptions(self) -> list[tuple[str, str]]:
        """(source, subject) of every live subscription (denied ones left out)."""
        denied = self._denied
        return [
            (s.source, s.subject)
            for s in self._subs
            if (s.source, s.subject) not in denied
        ]
