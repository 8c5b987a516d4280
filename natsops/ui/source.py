"""The dashboard's data boundary: what the views read, live from a Hub or recorded.

Views only talk to a :class:`DataSource`. :class:`LiveSource` answers from a real
deployment through a ``natsops.connection.Hub`` and the fan-out ``Collector``;
:class:`RecordedSource` answers from recorded replies (JSON files, one per request
kind, keyed by server name) so layout tests run without NATS.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from natsops.errors import AccountConnectionMissing, NatsopsError, NotFound
from natsops.fanout import (
    MISSING,
    Collector,
    FanoutResult,
    Reply,
    Roster,
    ServerInfo,
)

log = logging.getLogger(__name__)

#: Link states shown in the status bar.
CONNECTED, RECONNECTING, DISCONNECTED, OFFLINE = (
    "connected",
    "reconnecting",
    "disconnected",
    "offline",
)


@dataclass
class Identity:
    """Who the dashboard is connected as, and to which server."""

    user: str = ""
    account: str = ""
    server: str = ""
    url: str = ""
    system: bool = True


@dataclass
class LinkState:
    """The system connection's state for the status bar."""

    state: str = CONNECTED
    server: str = ""
    url: str = ""
    detail: str = ""


StateListener = Callable[[LinkState], None]


class DataSource:
    """Everything the dashboard reads or does, behind one interface.

    Subclasses implement :meth:`ping`; the rest have safe defaults so a recorded or
    synthetic source only provides what it has.
    """

    #: Label for the header when there is no live identity.
    kind = "source"

    def __init__(self, roster: Roster | None = None) -> None:
        self.roster = roster if roster is not None else Roster()
        self.read_only = False
        self.refresh = 2.0
        self.theme: str | None = None
        self.audit_path: Path | None = None
        self.events: Any = None
        self.ops: Any = None
        self.account_names: list[str] = []
        #: Account public key -> NAME, for the accounts natsops has a link to.
        self.account_keys: dict[str, str] = {}
        self._listeners: list[StateListener] = []
        self.link = LinkState()
        self.me = Identity()

    # -- lifecycle -----------------------------------------------------------------

    async def start(self) -> None:
        """Prepare (learn the roster, identity); called once the app runs."""

    async def close(self) -> None:
        """Release what :meth:`start` opened (not the Hub, which its owner closes)."""

    # -- state ---------------------------------------------------------------------

    def identity(self) -> Identity:
        return self.me

    def link_state(self) -> LinkState:
        return self.link

    def add_state_listener(self, callback: StateListener) -> None:
        self._listeners.append(callback)

    def _set_link(self, link: LinkState) -> None:
        self.link = link
        for callback in list(self._listeners):
            try:
                callback(link)
            except Exception:  # a listener must never break the connection
                log.exception("link state listener failed")

    def now(self) -> float:
        """Wall-clock seconds for ages (recorded sources freeze it)."""
        return time.time()

    # -- requests ------------------------------------------------------------------

    async def ping(
        self, kind: str, body: dict[str, Any] | None = None, timeout: float = 2.0
    ) -> FanoutResult:
        raise NotImplementedError

    async def paged(
        self,
        kind: str,
        body: dict[str, Any],
        items_key: str,
        timeout: float = 2.0,
        *,
        page_size: int = 1024,
        max_items: int | None = None,
    ) -> FanoutResult:
        """A fan-out whose per-server lists are complete (CONNZ, JSZ streams), or
        hold the first ``max_items`` of each server."""
        return await self.ping(kind, body, timeout)

    async def account_ping(
        self, kind: str, body: dict[str, Any] | None = None, timeout: float = 2.0
    ) -> FanoutResult:
        """``$SYS.REQ.ACCOUNT.PING.<KIND>`` (only STATZ is a real fan-out)."""
        return _result(f"ACCOUNT_{kind.upper()}", {}, {}, set())

    async def server_request(
        self, name: str, kind: str, body: dict[str, Any] | None = None
    ) -> Reply:
        result = await self.ping(kind, {**(body or {}), "server_name": name})
        reply = result.replies.get(name) or result.errors.get(name)
        if reply is None:
            raise NotFound(f"server {name!r} did not answer {kind}")
        return reply

    async def perms_report(self, refresh: bool = False) -> Any:
        """The permission report of every connection (None when unknown)."""
        return None

    async def account_request(
        self, account: str, subject: str, body: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        raise AccountConnectionMissing(
            f"no connection for account {account}",
            "add one with --account-creds NAME=FILE",
        )


def _result(
    kind: str,
    replies: dict[str, Reply],
    errors: dict[str, Reply],
    expected: set[str],
    elapsed: float = 0.0,
) -> FanoutResult:
    answered = set(replies) | set(errors)
    return FanoutResult(
        kind=kind,
        replies=replies,
        errors=errors,
        missing=sorted(expected - answered),
        expected=set(expected) | answered,
        elapsed=elapsed,
    )


class LiveSource(DataSource):
    """A real deployment through an open Hub (system plus account connections)."""

    kind = "live"

    def __init__(self, hub: Any, *, timeout: float = 2.0) -> None:
        super().__init__()
        self.hub = hub
        settings = hub.settings
        self.read_only = bool(settings.read_only)
        self.refresh = float(settings.refresh)
        self.theme = settings.theme
        self.audit_path = settings.audit_log
        self.timeout = timeout
        links = getattr(hub, "accounts", {}) or {}
        self.account_names = sorted(links)
        self.account_keys = {
            str(link.public_key): str(name)
            for name, link in links.items()
            if getattr(link, "public_key", "")
        }
        self.collector = Collector(hub.system, self.roster, on_late=self._late)
        self.late_replies = 0
        self._perms: Any = None
        self.feed: Any = None
        self.recorder: Any = None
        self.ops = self._operator()
        self.link = LinkState(CONNECTED, url=self._url())
        if hasattr(hub, "add_state_listener"):
            hub.add_state_listener(self._on_conn_event)

    def _url(self) -> str:
        getter = getattr(self.hub, "connected_url", None)
        return str(getter("system") or "") if callable(getter) else ""

    def _server(self) -> str:
        getter = getattr(self.hub, "server_name", None)
        return str(getter("system") or "") if callable(getter) else ""

    def _late(self, kind: str, reply: Reply) -> None:
        self.late_replies += 1
        log.debug("late %s reply from %s", kind, reply.server.name)

    def _on_conn_event(self, event: Any) -> None:
        """Translate the Hub's connection events into link states."""
        if getattr(event, "label", "system") != "system":
            return
        kind = str(getattr(event, "kind", ""))
        server = str(getattr(event, "server", "") or self._server())
        url = str(getattr(event, "url", "") or self._url())
        if kind in ("connected", "reconnected"):
            self.me.server = server or self.me.server
            self.me.url = url
            self._set_link(LinkState(CONNECTED, server, url, kind))
        elif kind in ("disconnected", "reconnecting"):
            self._set_link(LinkState(RECONNECTING, "", url, "reconnecting"))
        elif kind == "closed":
            self._set_link(LinkState(DISCONNECTED, "", url, "connection closed"))
        elif kind == "lame_duck":
            self._set_link(
                LinkState(self.link.state, self.link.server, url, "server in lame duck")
            )

    def _operator(self) -> Any:
        from natsops.ops.operator import Operator

        return Operator.from_hub(self.hub, collector=self.collector)

    async def start(self) -> None:
        self._identity_from_hub()
        await self._start_events()
        try:
            await self.collector.discover(self.timeout)
        except NatsopsError as exc:
            log.warning("roster discovery: %s", exc)

    async def _start_events(self) -> None:
        """Subscribe to the system events and each account's advisories."""
        from natsops.events import EventFeed, EventStore, Recorder

        settings = self.hub.settings
        store = EventStore(capacity=max(1, int(settings.event_buffer)))
        if settings.record is not None:
            self.recorder = Recorder(settings.record)
        self.feed = EventFeed(store, roster=self.roster, recorder=self.recorder)
        self.events = store
        try:
            await self.feed.start_hub(self.hub)
        except NatsopsError as exc:
            log.warning("event feed: %s", exc)

    def _identity_from_hub(self) -> None:
        link = getattr(self.hub, "system_link", None)
        info = getattr(link, "info", None)
        user = ""
        account = ""
        if link is not None:
            user = (getattr(info, "user_name", None) or "") if info else ""
            if not user:
                desc = str(getattr(link, "user_description", "") or "")
                user = desc.removeprefix("user ").strip("'")
            account = str(getattr(link, "account_name", None) or "")
        server = self._server() or (info.server_name if info is not None else "")
        self.me = Identity(
            user=user,
            account=account or "SYS",
            server=server,
            url=self._url(),
            system=bool(getattr(link, "is_system", True) is not False),
        )
        self._set_link(LinkState(CONNECTED, server, self._url()))

    async def close(self) -> None:
        if self.feed is not None:
            try:
                await self.feed.stop()
            except Exception as exc:  # closing must not fail the exit
                log.debug("stopping the event feed: %s", exc)
        if self.recorder is not None:
            self.recorder.close()
        await self.ops.close()
        await self.collector.close()

    async def ping(
        self, kind: str, body: dict[str, Any] | None = None, timeout: float = 2.0
    ) -> FanoutResult:
        return await self.collector.ping(kind, body, timeout=timeout)

    async def paged(
        self,
        kind: str,
        body: dict[str, Any],
        items_key: str,
        timeout: float = 2.0,
        *,
        page_size: int = 1024,
        max_items: int | None = None,
    ) -> FanoutResult:
        return await self.collector.paged(
            kind,
            body,
            items_key,
            timeout=timeout,
            page_size=page_size,
            max_items=max_items,
        )

    async def account_ping(
        self, kind: str, body: dict[str, Any] | None = None, timeout: float = 2.0
    ) -> FanoutResult:
        return await self.collector.account_ping(kind, body, timeout=timeout)

    async def server_request(
        self, name: str, kind: str, body: dict[str, Any] | None = None
    ) -> Reply:
        return await self.collector.server_request(name, kind, body, self.timeout)

    async def perms_report(self, refresh: bool = False) -> Any:
        if self._perms is None or refresh:
            self._perms = await build_perms_report(self.hub, self.timeout)
        return self._perms

    async def account_request(
        self, account: str, subject: str, body: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        from natsops.connection import request_json

        link = self.hub.account(account)
        return await request_json(link.nc, subject, body, timeout=self.timeout)


@dataclass
class Recording:
    """Recorded replies: per kind, the request body and each server's data block."""

    kinds: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def load(cls, directory: Path) -> Recording:
        """Read every ``<kind>.json`` file ``{"request": .., "servers": {..}}``."""
        rec = cls()
        for path in sorted(directory.glob("*.json")):
            try:
                doc = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise NatsopsError(f"{path}: not a recorded reply ({exc})") from None
            if isinstance(doc, dict) and isinstance(doc.get("servers"), dict):
                rec.kinds[path.stem.lower()] = doc
        return rec

    def servers(self, kind: str) -> dict[str, Any]:
        return dict((self.kinds.get(kind.lower()) or {}).get("servers") or {})


class RecordedSource(DataSource):
    """Answers fan-outs from a :class:`Recording`; nothing touches the network.

    ``silent`` names servers that behave as if stopped: they answer nothing but stay
    expected, so the roll call and the missing rows can be shown offline.
    """

    kind = "recorded"

    def __init__(
        self,
        recording: Recording,
        *,
        silent: Iterable[str] = (),
        now: float | None = None,
        user: str = "natsops",
        account: str = "SYS",
    ) -> None:
        super().__init__()
        self.recording = recording
        self.silent = set(silent)
        self.infos = self._server_infos()
        self._now = now if now is not None else self._recorded_now()
        first = next(iter(sorted(self.infos)), "")
        self.me = Identity(user=user, account=account, server=first, url="recorded")
        self.link = LinkState(OFFLINE, first, "recorded", "recorded replies")
        for info in self.infos.values():
            self.roster.observe(info, "recording")
        for name in self.silent:
            self.roster.mark(name, MISSING)
        self.requests: list[tuple[str, dict[str, Any] | None]] = []

    def _server_infos(self) -> dict[str, ServerInfo]:
        infos: dict[str, ServerInfo] = {}
        varz = self.recording.servers("varz")
        statsz = self.recording.servers("statsz")
        for name in sorted(set(varz) | set(statsz)):
            v = varz.get(name) or {}
            cluster = v.get("cluster") or {}
            infos[name] = ServerInfo(
                name=name,
                id=str(v.get("server_id", "")),
                host=str(v.get("host", "")),
                cluster=str(cluster.get("name", ""))
                if isinstance(cluster, dict)
                else "",
                version=str(v.get("version", "")),
                jetstream=bool(v.get("jetstream")),
                tags=list(v.get("tags") or []),
            )
        return infos

    def _recorded_now(self) -> float:
        from natsops.ui.fmt import parse_time

        for data in self.recording.servers("varz").values():
            stamp = parse_time((data or {}).get("now"))
            if stamp is not None:
                return stamp
        return 0.0

    def now(self) -> float:
        return self._now

    def info(self, name: str) -> ServerInfo:
        return self.infos.get(name) or ServerInfo(name=name)

    async def account_ping(
        self, kind: str, body: dict[str, Any] | None = None, timeout: float = 2.0
    ) -> FanoutResult:
        return await self.ping(f"account_{kind}", body, timeout)

    async def ping(
        self, kind: str, body: dict[str, Any] | None = None, timeout: float = 2.0
    ) -> FanoutResult:
        self.requests.append((kind.upper(), body))
        servers = self.recording.servers(kind)
        wanted = (body or {}).get("server_name")
        replies: dict[str, Reply] = {}
        for name, data in servers.items():
            if name in self.silent or (wanted and name != wanted):
                continue
            if isinstance(data, dict) and set(data) == {"code", "description"}:
                continue
            replies[name] = Reply(self.info(name), data, None, 0.0004)
        expected = set(self.infos) if not wanted else {wanted}
        if not servers:
            expected = set()
        return _result(
            kind.upper(), replies, {}, expected & (set(servers) | self.silent)
        )


async def build_perms_report(hub: Any, timeout: float = 2.0) -> Any:
    """The permission report for every connection of ``hub`` (no probing)."""
    from natsops.perms.check import check_hub

    return await check_hub(hub, timeout=timeout)
