"""Fan-out requests to every server, and the roster that says who should answer.

A :class:`Collector` publishes ``$SYS.REQ.SERVER.PING.<KIND>`` with one reply inbox
and gathers every reply. It finishes the moment every server the :class:`Roster`
expects has answered; without a roster it stops after a short silence that adapts to
the latencies seen, always under an overall deadline. Each result names who answered
(with latency), who answered with an error and who stayed silent; replies that arrive
after the result was returned are still delivered through ``on_late``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from nats.aio.client import Client
from nats.aio.msg import Msg

from natsops.errors import NotFound, NotSystemAccount, RequestTimeout

log = logging.getLogger(__name__)

#: Kinds answered by ``$SYS.REQ.SERVER.PING.<KIND>``.
PING_KINDS = (
    "STATSZ",
    "IDZ",
    "VARZ",
    "CONNZ",
    "ROUTEZ",
    "GATEWAYZ",
    "LEAFZ",
    "SUBSZ",
    "ACCOUNTZ",
    "JSZ",
    "HEALTHZ",
    "PROFILEZ",
    "EXPVARZ",
    "IPQUEUESZ",
    "RAFTZ",
)

#: Roster states. ``missing``: expected but silent on the last request.
OK, MISSING, LAME_DUCK, SHUTDOWN = "ok", "missing", "lame_duck", "shutdown"

_SILENCE_FLOOR = 0.03
_SILENCE_CAP = 0.3
_SILENCE_FACTOR = 5.0
_LATE_WINDOW = 10.0


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ("" if value is None else str(value))


@dataclass(slots=True)
class ServerInfo:
    """The ``server`` block of a reply envelope or an event."""

    name: str
    id: str = ""
    host: str = ""
    cluster: str = ""
    domain: str = ""
    version: str = ""
    tags: list[str] = field(default_factory=list)
    jetstream: bool = False
    seq: int = 0
    time: str = ""

    @classmethod
    def from_dict(cls, block: Any) -> ServerInfo | None:
        """Parse a server block; None when it has no usable name."""
        if not isinstance(block, dict):
            return None
        name = block.get("name")
        if not isinstance(name, str) or not name:
            return None
        tags = block.get("tags")
        seq = block.get("seq")
        return cls(
            name=name,
            id=_text(block.get("id")),
            host=_text(block.get("host")),
            cluster=_text(block.get("cluster")),
            domain=_text(block.get("domain")),
            version=_text(block.get("ver")),
            tags=[t for t in tags if isinstance(t, str)]
            if isinstance(tags, list)
            else [],
            jetstream=block.get("jetstream") is True,
            seq=seq if isinstance(seq, int) and not isinstance(seq, bool) else 0,
            time=_text(block.get("time")),
        )


@dataclass(slots=True)
class Reply:
    """One server's answer to a request."""

    server: ServerInfo
    data: dict[str, Any] | None
    error: dict[str, Any] | None
    latency: float
    late: bool = False
    raw: dict[str, Any] | None = None

    @property
    def error_text(self) -> str:
        if not self.error:
            return ""
        code = self.error.get("code", "")
        desc = self.error.get("description", "")
        return f"{code} {desc}".strip()


def parse_envelope(payload: bytes, latency: float = 0.0) -> Reply | None:
    """Turn a reply body into a :class:`Reply`; None when no server can be named.

    Understands the common envelope ``{server, data, error}``, STATSZ's
    ``{server, statsz}`` and IDZ's bare ``{name, host, id}``. A body whose ``data`` is
    not an object becomes an error reply, so one bad server never breaks a result.
    """
    try:
        doc = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(doc, dict):
        return None
    block = doc.get("server")
    if block is None and "name" in doc and "id" in doc:
        info = ServerInfo.from_dict(doc)
        return Reply(info, doc, None, latency, raw=doc) if info else None
    info = ServerInfo.from_dict(block)
    if info is None:
        return None
    error = doc.get("error")
    if error is not None:
        if not isinstance(error, dict):
            error = {"code": 0, "description": _text(error)}
        return Reply(info, None, error, latency, raw=doc)
    data = doc.get("data", doc.get("statsz"))
    if not isinstance(data, dict):
        bad = {"code": 0, "description": "malformed reply: data is not an object"}
        return Reply(info, None, bad, latency, raw=doc)
    return Reply(info, data, None, latency, raw=doc)


@dataclass(slots=True)
class PingFilter:
    """Which servers should answer; sent in the request body and applied locally."""

    cluster: str | None = None
    server_name: str | None = None
    host: str | None = None
    tags: list[str] = field(default_factory=list)
    domain: str | None = None
    exact: bool = False

    @property
    def empty(self) -> bool:
        return not (self.cluster or self.server_name or self.host or self.tags) and (
            self.domain is None
        )

    def to_body(self) -> dict[str, Any]:
        body: dict[str, Any] = {}
        if self.cluster:
            body["cluster"] = self.cluster
        if self.server_name:
            body["server_name"] = self.server_name
        if self.host:
            body["host"] = self.host
        if self.tags:
            body["tags"] = list(self.tags)
        if self.domain is not None:
            body["domain"] = self.domain
        if self.exact and body:
            body["exact_match"] = True
        return body

    def _like(self, want: str | None, have: str) -> bool:
        if not want:
            return True
        return have == want if self.exact else want in have

    def matches(self, entry: RosterEntry | ServerInfo) -> bool:
        """Whether a server would answer a request with this filter."""
        if not self._like(self.cluster, entry.cluster):
            return False
        if not self._like(self.server_name, entry.name):
            return False
        if not self._like(self.host, entry.host):
            return False
        if self.domain is not None and entry.domain != self.domain:
            return False
        return all(t in entry.tags for t in self.tags)


@dataclass(slots=True)
class RosterEntry:
    """What natsops knows of one server, keyed by name (ids change on restart)."""

    name: str
    id: str = ""
    cluster: str = ""
    host: str = ""
    domain: str = ""
    version: str = ""
    tags: list[str] = field(default_factory=list)
    jetstream: bool = False
    state: str = OK
    last_seen: float = 0.0
    latency: float = 0.0
    sources: set[str] = field(default_factory=set)


class Roster:
    """Known servers by name, learned from replies, events, meta peers and routes."""

    def __init__(self) -> None:
        self._entries: dict[str, RosterEntry] = {}
        self.version = 0
        self._listeners: list[Callable[[RosterEntry], None]] = []

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def get(self, name: str) -> RosterEntry | None:
        return self._entries.get(name)

    def entries(self) -> list[RosterEntry]:
        """Every known server, sorted by cluster then name."""
        return sorted(self._entries.values(), key=lambda e: (e.cluster, e.name))

    def add_listener(self, callback: Callable[[RosterEntry], None]) -> None:
        """Call ``callback`` whenever an entry changes state or is added."""
        self._listeners.append(callback)

    def _changed(self, entry: RosterEntry) -> None:
        self.version += 1
        for callback in self._listeners:
            try:
                callback(entry)
            except Exception:  # a listener must never break the roster
                log.exception("roster listener failed")

    def _entry(self, name: str, source: str) -> tuple[RosterEntry, bool]:
        entry = self._entries.get(name)
        created = entry is None
        if entry is None:
            entry = RosterEntry(name=name)
            self._entries[name] = entry
        entry.sources.add(source)
        return entry, created

    def observe(
        self, info: ServerInfo, source: str = "reply", latency: float | None = None
    ) -> None:
        """A server spoke: record its identity and mark it alive."""
        entry, created = self._entry(info.name, source)
        before = entry.state
        restarted = bool(entry.id and info.id and entry.id != info.id)
        entry.id = info.id or entry.id
        entry.cluster = info.cluster or entry.cluster
        entry.host = info.host or entry.host
        entry.domain = info.domain or entry.domain
        entry.version = info.version or entry.version
        entry.tags = info.tags or entry.tags
        entry.jetstream = info.jetstream or entry.jetstream
        entry.last_seen = time.monotonic()
        if latency is not None:
            entry.latency = (
                latency if entry.latency == 0 else 0.7 * entry.latency + 0.3 * latency
            )
        if entry.state != LAME_DUCK or restarted:
            entry.state = OK
        if created or entry.state != before:
            self._changed(entry)

    def learn(
        self, name: str, source: str, cluster: str = "", offline: bool = False
    ) -> None:
        """A server was named by someone else (meta peer, route): expect it."""
        if not name:
            return
        entry, created = self._entry(name, source)
        if cluster and not entry.cluster:
            entry.cluster = cluster
        if created:
            entry.state = MISSING if offline else OK
            self._changed(entry)

    def learn_meta(self, meta: Any) -> None:
        """Learn servers from a JSZ ``meta_cluster`` block (includes offline peers)."""
        if not isinstance(meta, dict):
            return
        cluster = _text(meta.get("cluster"))
        leader = meta.get("leader")
        if isinstance(leader, str):
            self.learn(leader, "meta")
        for peer in meta.get("replicas") or []:
            if isinstance(peer, dict) and isinstance(peer.get("name"), str):
                self.learn(
                    peer["name"],
                    "meta",
                    cluster=_text(peer.get("cluster")) or cluster,
                    offline=bool(peer.get("offline")),
                )

    def learn_routes(self, statsz: Any, cluster: str) -> None:
        """Learn the route peers named in a STATSZ block."""
        if not isinstance(statsz, dict):
            return
        for route in statsz.get("routes") or []:
            if isinstance(route, dict) and isinstance(route.get("name"), str):
                self.learn(route["name"], "route", cluster=cluster, offline=False)

    def mark(self, name: str, state: str) -> None:
        """Set a server's state (``missing``, ``lame_duck``, ``shutdown``, ``ok``)."""
        entry = self._entries.get(name)
        if entry is None:
            entry, _ = self._entry(name, "event")
        if entry.state != state:
            entry.state = state
            self._changed(entry)

    def forget(self, name: str) -> None:
        """Stop expecting a server (it was removed from the cluster)."""
        if self._entries.pop(name, None) is not None:
            self.version += 1

    def expected(self, flt: PingFilter | None = None) -> set[str]:
        """Names of the servers that should answer a request with ``flt``."""
        return {
            e.name
            for e in self._entries.values()
            if e.state != SHUTDOWN and (flt is None or flt.matches(e))
        }


@dataclass(slots=True)
class FanoutResult:
    """Everything one fan-out learned, including who did not answer."""

    kind: str
    replies: dict[str, Reply]
    errors: dict[str, Reply]
    missing: list[str]
    expected: set[str]
    elapsed: float
    malformed: int = 0

    @property
    def answered(self) -> int:
        return len(self.replies) + len(self.errors)

    @property
    def total(self) -> int:
        return len(self.expected | set(self.replies) | set(self.errors))

    @property
    def complete(self) -> bool:
        return not self.missing and not self.errors and not self.malformed

    def without_payloads(self, *keep: str) -> FanoutResult:
        """The same roll call (who answered, how fast, errors, missing) with only
        the ``keep`` fields of each reply's data: for keeping a large result's
        roll call once its rows are built. ``self`` is left as it is."""

        def trimmed(reply: Reply) -> Reply:
            data = reply.data or {}
            return replace(
                reply, data={k: data[k] for k in keep if k in data}, raw=None
            )

        return FanoutResult(
            kind=self.kind,
            replies={n: trimmed(r) for n, r in self.replies.items()},
            errors=dict(self.errors),
            missing=list(self.missing),
            expected=set(self.expected),
            elapsed=self.elapsed,
            malformed=self.malformed,
        )

    def data(self) -> dict[str, dict[str, Any]]:
        """Server name to the ``data`` block of its successful reply."""
        return {name: r.data for name, r in self.replies.items() if r.data is not None}

    def roll_call(self) -> str:
        """``6/6 servers`` or ``5/6 servers, missing: c2-n3`` (plus errors)."""
        text = f"{self.answered}/{self.total} servers"
        if self.missing:
            text += ", missing: " + ", ".join(sorted(self.missing))
        if self.errors:
            text += ", errors: " + ", ".join(
                f"{name} ({r.error_text})" for name, r in sorted(self.errors.items())
            )
        if self.malformed:
            text += f", {self.malformed} malformed replies"
        return text

    def to_json(self) -> dict[str, Any]:
        """The roll call as stable JSON for ``--json`` output."""
        return {
            "kind": self.kind,
            "answered": sorted(self.replies),
            "errors": {n: r.error for n, r in sorted(self.errors.items())},
            "missing": sorted(self.missing),
            "expected": sorted(self.expected),
            "latency_ms": {
                n: round(r.latency * 1000, 3) for n, r in sorted(self.replies.items())
            },
            "elapsed_ms": round(self.elapsed * 1000, 3),
            "malformed": self.malformed,
            "roll_call": self.roll_call(),
        }


class _Round:
    """The replies of one request while it is being collected."""

    def __init__(
        self,
        t0: float,
        expected: set[str],
        want: int | None,
        flt: PingFilter | None = None,
    ) -> None:
        self.t0 = t0
        self.flt = flt
        self.expected = expected
        self.want = want
        self.replies: dict[str, Reply] = {}
        self.errors: dict[str, Reply] = {}
        self.malformed = 0
        self.last_at = 0.0
        self.max_latency = 0.0
        self.changed = asyncio.Event()
        self.finished = False
        self.sub: Any = None

    @property
    def queued(self) -> int:
        """Replies received by the client but not yet processed."""
        try:
            return int(self.sub.pending_msgs) if self.sub is not None else 0
        except Exception:
            return 0

    @property
    def answered(self) -> set[str]:
        return set(self.replies) | set(self.errors)


class Collector:
    """Fan-out requests over a system-account connection."""

    def __init__(
        self,
        nc: Client,
        roster: Roster | None = None,
        *,
        on_late: Callable[[str, Reply], None] | None = None,
        on_reply: Callable[[Reply], None] | None = None,
        late_window: float = _LATE_WINDOW,
    ) -> None:
        self.nc = nc
        self.roster = roster if roster is not None else Roster()
        self.on_late = on_late
        #: Called for every parsed reply, on time or late (for example so an event
        #: store can account for the server's ``seq`` numbers used by replies).
        self.on_reply = on_reply
        self.late_window = late_window
        self._lingering: set[asyncio.Task[None]] = set()

    async def ping(
        self,
        kind: str,
        body: dict[str, Any] | None = None,
        flt: PingFilter | None = None,
        timeout: float = 2.0,
        *,
        want: int | None = None,
    ) -> FanoutResult:
        """Ask every (matching) server ``kind``; return when all expected answered.

        ``want`` stops after that many replies (for questions one server answers).
        """
        kind = kind.upper()
        request = dict(body or {})
        if flt is not None:
            request.update(flt.to_body())
        payload = json.dumps(request).encode() if request else b""
        expected = self.roster.expected(flt)
        return await self._collect(
            f"$SYS.REQ.SERVER.PING.{kind}", kind, payload, expected, timeout, want, flt
        )

    async def request(
        self,
        subject: str,
        payload: bytes = b"",
        *,
        kind: str | None = None,
        flt: PingFilter | None = None,
        timeout: float = 2.0,
        want: int | None = None,
    ) -> FanoutResult:
        """A fan-out on any subject with a body sent exactly as given.

        ``flt`` narrows the expected set (and is applied to replies locally); it is
        not added to ``payload``.
        """
        return await self._collect(
            subject,
            kind or subject.rsplit(".", 1)[-1],
            payload,
            self.roster.expected(flt),
            timeout,
            want,
            flt,
        )

    async def account_ping(
        self,
        kind: str,
        body: dict[str, Any] | None = None,
        flt: PingFilter | None = None,
        timeout: float = 2.0,
    ) -> FanoutResult:
        """``$SYS.REQ.ACCOUNT.PING.<KIND>`` (STATZ is the only real account
        fan-out; every server answers for the accounts it holds)."""
        request = dict(body or {})
        if flt is not None:
            request.update(flt.to_body())
        payload = json.dumps(request).encode() if request else b""
        return await self.request(
            f"$SYS.REQ.ACCOUNT.PING.{kind.upper()}",
            payload,
            kind=f"ACCOUNT_{kind.upper()}",
            flt=flt,
            timeout=timeout,
        )

    async def _collect(
        self,
        subject: str,
        kind: str,
        payload: bytes,
        expected: set[str],
        timeout: float,
        want: int | None,
        flt: PingFilter | None = None,
    ) -> FanoutResult:
        inbox = self.nc.new_inbox()
        t0 = time.perf_counter()
        rnd = _Round(t0, expected, want, flt)

        async def on_msg(msg: Msg) -> None:
            self._receive(rnd, kind, msg)
            # nats-py hands queued replies to this callback one after another
            # without returning to the loop; a fleet's JSZ replies decoded in one
            # go would stall everything else on it for hundreds of milliseconds.
            await asyncio.sleep(0)

        sub = await self.nc.subscribe(inbox, cb=on_msg)
        rnd.sub = sub
        try:
            await self.nc.publish(subject, payload, reply=inbox)
            await self._wait(rnd, t0 + timeout)
        except BaseException:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()
            raise
        rnd.finished = True
        elapsed = time.perf_counter() - t0
        missing = sorted(expected - rnd.answered)
        self._mark_missing(missing)
        if not rnd.answered and not rnd.malformed and not expected:
            log.debug("no server answered %s", subject)
        result = FanoutResult(
            kind=kind,
            replies=rnd.replies,
            errors=rnd.errors,
            missing=missing,
            expected=set(expected),
            elapsed=elapsed,
            malformed=rnd.malformed,
        )
        # The inbox stays open for late replies, and with it this round: it must
        # not keep every reply alive too (a JSZ round of a large fleet holds tens
        # of megabytes). The result owns them now.
        rnd.replies = {}
        rnd.errors = {}
        self._linger(sub, t0 + max(self.late_window, timeout))
        return result

    def _receive(self, rnd: _Round, kind: str, msg: Msg) -> None:
        now = time.perf_counter()
        latency = now - rnd.t0
        reply = parse_envelope(msg.data, latency)
        if reply is None:
            if not rnd.finished:
                rnd.malformed += 1
                rnd.changed.set()
            return
        name = reply.server.name
        self.roster.observe(reply.server, "reply", latency)
        if self.on_reply is not None:
            try:
                self.on_reply(reply)
            except Exception:  # an observer must never break a fan-out
                log.exception("fan-out reply observer failed")
        if rnd.flt is not None and not rnd.flt.matches(reply.server):
            # IDZ ignores the request's filter: every server answers it.
            return
        if rnd.finished:
            reply.late = True
            if self.on_late is not None:
                self.on_late(kind, reply)
            return
        if reply.error is not None:
            rnd.errors[name] = reply
        else:
            rnd.replies[name] = reply
        rnd.last_at = now
        rnd.max_latency = max(rnd.max_latency, latency)
        rnd.changed.set()

    def _stop_at(self, rnd: _Round, deadline: float) -> float:
        """When to give up on the servers that have not answered yet."""
        if rnd.want is not None and len(rnd.answered) >= rnd.want:
            return 0.0
        if rnd.expected and rnd.expected <= rnd.answered:
            return 0.0
        if not rnd.answered and not rnd.malformed:
            return deadline
        silence = min(
            _SILENCE_CAP, max(_SILENCE_FLOOR, _SILENCE_FACTOR * rnd.max_latency)
        )
        stop = rnd.last_at + silence
        for name in rnd.expected - rnd.answered:
            entry = self.roster.get(name)
            if entry is not None and entry.state == OK and entry.latency > 0:
                stop = max(stop, rnd.t0 + min(_SILENCE_CAP, 3 * entry.latency))
        return min(deadline, stop)

    async def _wait(self, rnd: _Round, deadline: float) -> None:
        while True:
            now = time.perf_counter()
            stop = self._stop_at(rnd, deadline)
            if now >= stop and now < deadline:
                if rnd.queued:
                    # Replies wait in the client's queue (the loop was busy): the
                    # silence is ours, not the servers'. Process them first.
                    stop = deadline
                elif await self._unread_replies(rnd):
                    continue
            if now >= stop:
                return
            rnd.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(rnd.changed.wait(), stop - now)

    @staticmethod
    async def _unread_replies(rnd: _Round) -> bool:
        """Give the client's reader a few loop turns: after a busy loop, replies
        can still sit unread in the socket. True when any arrived."""
        before = len(rnd.replies) + len(rnd.errors) + rnd.malformed
        for _ in range(3):
            await asyncio.sleep(0)
            if (
                rnd.queued
                or len(rnd.replies) + len(rnd.errors) + rnd.malformed > before
            ):
                return True
        return False

    def _linger(self, sub: Any, until: float) -> None:
        """Keep the inbox open a while so late replies still reach ``on_late``."""

        async def close_later() -> None:
            with contextlib.suppress(Exception):
                await asyncio.sleep(max(0.0, until - time.perf_counter()))
            with contextlib.suppress(Exception):
                await sub.unsubscribe()

        task = asyncio.get_running_loop().create_task(close_later())
        self._lingering.add(task)
        task.add_done_callback(self._lingering.discard)

    async def close(self) -> None:
        """Close every inbox still waiting for late replies."""
        for task in list(self._lingering):
            task.cancel()
        for task in list(self._lingering):
            with contextlib.suppress(BaseException):
                await task

    async def discover(self, timeout: float = 2.0) -> FanoutResult:
        """Learn the roster: STATSZ from everyone, plus the meta group's peers.

        Returns the STATSZ result; servers named by the meta group or by routes but
        silent appear in ``missing``.
        """
        stats = await self.ping("STATSZ", timeout=timeout)
        if not stats.answered and not stats.malformed:
            raise NotSystemAccount(
                "no server answered a system request",
                "connect with a system-account user (--creds of a SYS user)",
            )
        for reply in stats.replies.values():
            self.roster.learn_routes(reply.data, reply.server.cluster)
        if any(r.server.jetstream for r in stats.replies.values()):
            # Every server's meta_cluster names its peers (offline ones too), so
            # this works while a meta leader election is still under way.
            meta = await self.ping("JSZ", timeout=min(timeout, 1.0))
            for reply in meta.replies.values():
                self.roster.learn_meta((reply.data or {}).get("meta_cluster"))
        expected = self.roster.expected()
        answered = set(stats.replies) | set(stats.errors)
        stats.expected = expected | answered
        stats.missing = sorted(expected - answered)
        self._mark_missing(stats.missing)
        return stats

    def _mark_missing(self, names: Iterable[str]) -> None:
        """Mark silent servers ``missing``, keeping a known lame duck or shutdown."""
        for name in names:
            entry = self.roster.get(name)
            if entry is None or entry.state == OK:
                self.roster.mark(name, MISSING)

    async def server_id(self, name: str, timeout: float = 2.0) -> str:
        """The current id of a server, asked fresh (ids change on every restart)."""
        result = await self.ping(
            "IDZ", flt=PingFilter(server_name=name, exact=True), timeout=timeout, want=1
        )
        reply = result.replies.get(name)
        if reply is None:
            known = ", ".join(e.name for e in self.roster.entries()) or "none known"
            raise NotFound(
                f"server {name!r} did not answer",
                f"check the name (known servers: {known})",
            )
        return reply.server.id

    async def server_request(
        self,
        name: str,
        kind: str,
        body: dict[str, Any] | None = None,
        timeout: float = 2.0,
    ) -> Reply:
        """Ask one server by name through ``$SYS.REQ.SERVER.<id>.<KIND>``."""
        server_id = await self.server_id(name, timeout)
        return await self._ask_id(name, server_id, kind, body, timeout)

    async def _ask_id(
        self,
        name: str,
        server_id: str,
        kind: str,
        body: dict[str, Any] | None,
        timeout: float,
    ) -> Reply:
        payload = json.dumps(body).encode() if body else b""
        t0 = time.perf_counter()
        try:
            msg = await self.nc.request(
                f"$SYS.REQ.SERVER.{server_id}.{kind.upper()}", payload, timeout=timeout
            )
        except TimeoutError as exc:
            raise RequestTimeout(
                f"server {name} did not answer {kind.upper()} within {timeout:g}s",
                "the server may be overloaded; try again or raise --timeout",
            ) from exc
        reply = parse_envelope(msg.data, time.perf_counter() - t0)
        if reply is None:
            info = ServerInfo(name=name, id=server_id)
            bad = {"code": 0, "description": "malformed reply"}
            return Reply(info, None, bad, time.perf_counter() - t0)
        return reply

    async def paged(
        self,
        kind: str,
        body: dict[str, Any],
        items_key: str,
        *,
        flt: PingFilter | None = None,
        page_size: int = 1024,
        timeout: float = 2.0,
        max_items: int | None = None,
        concurrency: int = 4,
    ) -> FanoutResult:
        """A fan-out whose per-server lists are fetched completely, page by page.

        The first page comes from the fan-out; for servers holding more items
        (``total`` above what was returned) the remaining pages are asked
        concurrently on the server's own subject, with the id the first reply
        carried (so a restarted server is never asked under its old id).
        """
        first = await self.ping(kind, {**body, "limit": page_size}, flt, timeout)
        gate = asyncio.Semaphore(max(1, concurrency))

        async def page(reply: Reply, offset: int) -> list[Any]:
            async with gate:
                got = await self._ask_id(
                    reply.server.name,
                    reply.server.id,
                    kind,
                    {**body, "limit": page_size, "offset": offset},
                    timeout,
                )
            more = (got.data or {}).get(items_key)
            return more if got.error is None and isinstance(more, list) else []

        async def complete(reply: Reply) -> None:
            data = reply.data or {}
            items = data.get(items_key)
            total = data.get("total")
            if not isinstance(items, list) or not isinstance(total, int):
                return
            if max_items is not None:
                total = min(total, max_items)
            offsets = range(len(items), total, page_size)
            pages = await asyncio.gather(*(page(reply, o) for o in offsets))
            for more in pages:
                items.extend(more)
            data[items_key] = items

        await asyncio.gather(*(complete(r) for r in first.replies.values()))
        return first


def filter_from_args(args: Any) -> PingFilter | None:
    """A :class:`PingFilter` from the CLI's ``--cluster --name --host --tags
    --domain --exact`` flags, or None when none was given."""
    tags_arg = getattr(args, "tags", None)
    tags: Iterable[str] = (
        [t.strip() for t in tags_arg.split(",") if t.strip()] if tags_arg else []
    )
    flt = PingFilter(
        cluster=getattr(args, "cluster", None),
        server_name=getattr(args, "name", None),
        host=getattr(args, "host", None),
        tags=list(tags),
        domain=getattr(args, "domain", None),
        exact=bool(getattr(args, "exact", False)),
    )
    return None if flt.empty else flt
