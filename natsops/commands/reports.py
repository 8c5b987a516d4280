"""Headless reports of a whole deployment: servers, connections, accounts, JetStream,
streams, consumers, health, routes, gateways, leafnodes and raw fan-out replies.

Every command opens a :class:`~natsops.connection.Hub`, learns the roster with
:meth:`~natsops.fanout.Collector.discover`, fans out with the shared server filter
and prints a table (or ``--json``) followed by the roll call naming every server that
was expected and stayed silent. See ``docs/json.md`` for the JSON shapes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from nats.aio.client import Client

from natsops.cli import add_filter_args, run_async
from natsops.connection import Hub, watch_permission
from natsops.errors import (
    AccountConnectionMissing,
    MalformedReply,
    NotFound,
    UsageError,
)
from natsops.fanout import (
    LAME_DUCK,
    PING_KINDS,
    SHUTDOWN,
    Collector,
    FanoutResult,
    PingFilter,
    filter_from_args,
)
from natsops.model.accounts import AccountStatz, parse_account_statz
from natsops.model.conns import Connection, Connz, parse_connz
from natsops.model.jetstream import Jsz, parse_jsz
from natsops.model.server import (
    Healthz,
    ServerIdentity,
    ServerStats,
    Varz,
    parse_healthz,
    parse_statsz,
    parse_varz,
)
from natsops.model.topology import (
    Gatewayz,
    Leafz,
    Routez,
    parse_gatewayz,
    parse_leafz,
    parse_routez,
)
from natsops.model.views import CONNECTION_SORT_KEYS as _SORT_DIRECTIONS
from natsops.model.views import (
    AccountRow,
    ConsumerRow,
    LinkRow,
    ReplicaRow,
    StreamRow,
    account_rows,
    aggregate_connections,
    cluster_overview,
    consumer_rows,
    gateway_rows,
    jetstream_overview,
    leader_distribution,
    leaf_rows,
    route_rows,
    server_rows,
    sort_connections,
    stream_rows,
)
from natsops.report import (
    Column,
    PairColumn,
    Report,
    RollCall,
    Table,
    count,
    dumps,
    emit,
    joined,
    millis,
    ms,
    percent,
    redact_tree,
    seconds,
    size,
    state_style,
)
from natsops.settings import resolve_settings

#: ``--sort`` keys of ``natsops connections`` (the servers' CONNZ sort options).
CONNECTION_SORT_KEYS = tuple(_SORT_DIRECTIONS)

#: CONNZ ``state`` values by ``--state`` name.
CONNECTION_STATES = {"open": 0, "closed": 1, "all": 2}

#: Largest CONNZ/JSZ page asked of one server (the server's own default limit).
PAGE_SIZE = 1024

T = TypeVar("T")

_ACCOUNT_KEY = re.compile(r"^A[A-Z2-7]{55}$")


# ----------------------------------------------------------------------- session


@dataclass
class AccountRef:
    """An account named on the command line: its public key and, if known, name."""

    public_key: str
    name: str = ""

    @property
    def label(self) -> str:
        return self.name or self.public_key


@dataclass
class Session:
    """One command's connections, collector and filter."""

    args: argparse.Namespace
    hub: Hub
    collector: Collector
    discovery: FanoutResult
    flt: PingFilter | None
    timeout: float
    _account_names: dict[str, str] | None = field(default=None, repr=False)

    async def ping(self, kind: str, body: dict[str, Any] | None = None) -> FanoutResult:
        """A filtered fan-out of ``kind``."""
        return await guarded(
            self.hub.system,
            _ping_subject(kind),
            self.collector.ping(kind, body, self.flt, self.timeout),
        )

    async def paged(
        self,
        kind: str,
        body: dict[str, Any],
        items_key: str,
        *,
        page_size: int | None = None,
        max_items: int | None = None,
    ) -> FanoutResult:
        """A filtered fan-out whose per-server lists are fetched completely."""
        return await guarded(
            self.hub.system,
            _ping_subject(kind),
            self.collector.paged(
                kind,
                body,
                items_key,
                flt=self.flt,
                page_size=page_size or PAGE_SIZE,
                timeout=self.timeout,
                max_items=max_items,
            ),
        )

    async def raw(self, kind: str, payload: bytes) -> FanoutResult:
        """A filtered fan-out of ``kind`` with a body sent exactly as given."""
        subject = _ping_subject(kind)
        return await guarded(
            self.hub.system,
            subject,
            self.collector.request(
                subject, payload, kind=kind, flt=self.flt, timeout=self.timeout
            ),
        )

    async def account_statz(self, *, filtered: bool = True) -> FanoutResult:
        """``$SYS.REQ.ACCOUNT.PING.STATZ`` for every account, unused ones included."""
        flt = self.flt if filtered else None
        subject = "$SYS.REQ.ACCOUNT.PING.STATZ"
        return await guarded(
            self.hub.system,
            subject,
            self.collector.account_ping(
                "STATZ", {"include_unused": True}, flt, self.timeout
            ),
        )

    async def account_names(self) -> dict[str, str]:
        """Account public key to name, from the servers and the account links."""
        if self._account_names is None:
            names: dict[str, str] = {}
            result = await self.account_statz(filtered=False)
            for name, reply in result.replies.items():
                with contextlib.suppress(MalformedReply):
                    for acc in parse_account_statz(reply.data, name).accounts:
                        if acc.account:
                            names.setdefault(acc.account, acc.name or acc.account)
            for link in self.hub.accounts.values():
                if link.public_key:
                    names.setdefault(link.public_key, link.account_name or link.name)
            self._account_names = names
        return self._account_names

    async def resolve_account(self, text: str) -> AccountRef:
        """An account from ``--account``: a configured account NAME, an account's
        own name as the servers know it, or a public key."""
        with contextlib.suppress(AccountConnectionMissing):
            link = self.hub.account(text)
            if link.public_key:
                return AccountRef(link.public_key, link.account_name or link.name)
        names = await self.account_names()
        if text in names:
            return AccountRef(text, names[text] if names[text] != text else "")
        if _ACCOUNT_KEY.match(text):
            return AccountRef(text, "")
        hits = sorted(key for key, name in names.items() if name == text)
        if not hits:  # then ignoring case
            hits = sorted(k for k, n in names.items() if n.lower() == text.lower())
        if len(hits) == 1:
            return AccountRef(hits[0], names[hits[0]])
        if len(hits) > 1:
            raise UsageError(
                f"account name {text!r} is ambiguous ({', '.join(hits)})",
                "pass the account's public key with --account",
            )
        known = ", ".join(sorted({n for n in names.values() if n})) or "none"
        raise NotFound(
            f"unknown account {text!r}",
            f"known accounts: {known} (or pass a public key)",
        )


def _ping_subject(kind: str) -> str:
    return f"$SYS.REQ.SERVER.PING.{kind.upper()}"


async def guarded(nc: Client, subject: str, work: Awaitable[T]) -> T:
    """Await ``work`` (a request on ``subject``), but fail at once with
    PermissionDenied when the server reports that this user may not publish to
    ``subject`` or subscribe to its reply inbox, instead of waiting for silence."""
    task = asyncio.ensure_future(work)
    with watch_permission(nc, subject) as denied:
        try:
            await asyncio.wait({task, denied}, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            task.cancel()
            raise
        if task.done():
            return task.result()
        task.cancel()
        with contextlib.suppress(BaseException):
            await task
        raise denied.result()


@contextlib.asynccontextmanager
async def open_session(args: argparse.Namespace) -> AsyncIterator[Session]:
    """Connect, learn the roster, and close everything afterwards."""
    settings = resolve_settings(args)
    # An account connection the user asked for (a creds file, a context) that
    # cannot be opened is an error, not something to skip silently.
    hub = await Hub.open(settings)
    collector = Collector(hub.system)
    try:
        timeout = settings.system.timeout
        discovery = await guarded(
            hub.system, _ping_subject("STATSZ"), collector.discover(timeout=timeout)
        )
        yield Session(
            args=args,
            hub=hub,
            collector=collector,
            discovery=discovery,
            flt=filter_from_args(args),
            timeout=timeout,
        )
    finally:
        await collector.close()
        await hub.close()


Builder = Callable[[Session], Awaitable[Report]]


def _runner(build: Builder) -> Callable[[argparse.Namespace], int]:
    """A command function: open a session, build the report, print it."""

    def run(args: argparse.Namespace) -> int:
        async def main() -> int:
            async with open_session(args) as session:
                report = await build(session)
            emit(report, as_json=bool(getattr(args, "json", False)))
            return report.exit_code(bool(getattr(args, "strict", False)))

        return run_async(main())

    return run


# ------------------------------------------------------------------ registration


_OUTPUT_HELP = (
    "Prints a table and a roll call naming every server that was expected and "
    "stayed silent; --json prints one JSON document (docs/json.md). Exit status 0 "
    "even when servers are missing, unless --strict (then 3)."
)


def _common(p: argparse.ArgumentParser) -> None:
    add_filter_args(p)
    g = p.add_argument_group("output")
    g.add_argument("--json", action="store_true", help="print JSON (docs/json.md)")
    g.add_argument(
        "--strict",
        action="store_true",
        help="exit 3 when a server is missing, failed or is unhealthy",
    )


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value


def _kind(text: str) -> str:
    kind = text.upper()
    if kind not in PING_KINDS:
        raise argparse.ArgumentTypeError(
            f"unknown kind {text!r} (one of {', '.join(PING_KINDS)})"
        )
    return kind


def register(sub: Any, parents: list[argparse.ArgumentParser]) -> None:
    """Add the report commands to the parser."""

    def add(name: str, help_text: str, build: Builder) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = sub.add_parser(
            name, parents=parents, help=help_text, description=_OUTPUT_HELP
        )
        _common(p)
        p.set_defaults(func=_runner(build))
        return p

    p = add("ping", "raw fan-out replies of every server", _build_ping)
    p.add_argument("kind", type=_kind, metavar="KIND", help=", ".join(PING_KINDS))
    p.add_argument("--body", help="request body (JSON object, sent as given)")
    p.add_argument(
        "--brief", action="store_true", help="only the summary table, no data"
    )

    add("servers", "servers, versions and load", _build_servers)

    p = add("connections", "client connections across all servers", _build_conns)
    p.add_argument("--account", help="only this account (name or public key)")
    p.add_argument(
        "--sort",
        choices=CONNECTION_SORT_KEYS,
        metavar="KEY",
        help="sort key: " + ", ".join(CONNECTION_SORT_KEYS),
    )
    p.add_argument("--top", type=_positive, metavar="N", help="show the first N")
    p.add_argument(
        "--state", choices=tuple(CONNECTION_STATES), default="open", help="default open"
    )

    add("accounts", "accounts with connections and JetStream use", _build_accounts)
    add("jetstream", "meta group, peers, usage and leaders", _build_jetstream)

    p = add("streams", "streams of every account, with replicas", _build_streams)
    p.add_argument("--account", help="only this account (name or public key)")

    p = add("consumers", "consumers of one stream", _build_consumers)
    p.add_argument("stream", metavar="STREAM")
    p.add_argument("--account", help="the stream's account (name or public key)")

    p = add("health", "HEALTHZ of every server", _build_health)
    p.add_argument(
        "--js-enabled-only", action="store_true", help="only: is JetStream enabled"
    )
    p.add_argument(
        "--js-server-only",
        action="store_true",
        help="JetStream server checks only, no streams or consumers",
    )
    p.add_argument(
        "--js-meta-only", action="store_true", help="only the JetStream meta group"
    )
    p.add_argument("--account", help="check this account's assets")
    p.add_argument("--stream", help="check this stream (with --account)")
    p.add_argument("--consumer", help="check this consumer (with --stream)")

    add("routes", "route connections inside each cluster", _build_routes)
    add("gateways", "gateway connections between clusters", _build_gateways)
    add("leafnodes", "leafnode connections", _build_leafnodes)


# ----------------------------------------------------------------------- helpers


def _cluster_of(session: Session, name: str) -> str:
    entry = session.collector.roster.get(name)
    return entry.cluster if entry is not None else ""


def _server_order(session: Session, names: Iterable[str]) -> list[str]:
    return sorted(set(names), key=lambda n: (_cluster_of(session, n), n))


def _parse_each(
    result: FanoutResult, rc: RollCall, parse: Callable[[Any, str], Any]
) -> dict[str, Any]:
    """Server name to parsed model; an unreadable reply becomes a roll-call error."""
    out: dict[str, Any] = {}
    for name, reply in result.replies.items():
        try:
            out[name] = parse(reply.data, name)
        except MalformedReply as exc:
            rc.add_error(name, str(exc))
    return out


def _missing_rows(
    session: Session, rc: RollCall, blanks: dict[str, Any]
) -> list[dict[str, Any]]:
    """One row per server that did not answer, so it never silently vanishes."""
    rows = []
    for name in _server_order(session, [*rc.missing, *rc.errors]):
        err = rc.errors.get(name)
        rows.append(
            {
                "server": name,
                "cluster": _cluster_of(session, name),
                **blanks,
                "state": rc.state(name),
                "error": err.get("description") if err else None,
            }
        )
    return rows


# ------------------------------------------------------------------------- ping


async def _build_ping(session: Session) -> Report:
    kind: str = session.args.kind
    body_text: str | None = session.args.body
    request: Any = None
    if body_text is None:
        result = await session.ping(kind)
    else:
        try:
            request = json.loads(body_text)
        except ValueError:
            request = body_text
        if isinstance(request, dict):
            flt = _body_filter(request, session.flt)
            result = await session.collector.ping(kind, request, flt, session.timeout)
        else:
            # Not a JSON object: sent as given, so each server says what it thinks.
            result = await session.raw(kind, body_text.encode())

    rc = RollCall.of(result)
    rows = []
    blocks = []
    for name in _server_order(session, [*result.replies, *result.errors]):
        reply = result.replies.get(name) or result.errors[name]
        data = redact_tree(reply.data) if reply.data is not None else None
        rows.append(
            {
                "server": name,
                "cluster": reply.server.cluster or _cluster_of(session, name),
                "id": reply.server.id,
                "version": reply.server.version,
                "latency_ms": ms(reply.latency),
                "status": "ok" if reply.error is None else "error",
                "error": rc.errors.get(name),
                "data": data,
            }
        )
        if data is not None:
            cluster = rows[-1]["cluster"] or "-"
            blocks.append(f"── {name} ({cluster}) ──\n{dumps(data)}")
    for name in rc.missing:
        rows.append(
            {
                "server": name,
                "cluster": _cluster_of(session, name),
                "id": "",
                "version": "",
                "latency_ms": None,
                "status": "missing",
                "error": None,
                "data": None,
            }
        )

    table = Table(
        key="replies",
        title=f"{kind} replies",
        columns=[
            Column("server", "Server", no_wrap=True),
            Column("cluster", "Cluster"),
            Column("version", "Version"),
            Column("latency_ms", "Latency", millis, "right"),
            Column("status", "Status"),
            Column("error", "Error", lambda e: _describe(e)),
        ],
        rows=rows,
        style=lambda r: "yellow" if r["status"] != "ok" else None,
    )
    report = Report(
        command="ping",
        tables=[table],
        roll_call=rc,
        fields={"kind": kind, "request": redact_tree(request)},
    )
    if not session.args.brief and not session.args.json:
        report.summary = blocks
    return report


def _body_filter(body: dict[str, Any], flt: PingFilter | None) -> PingFilter | None:
    """The server filter of a ``--body``, merged with the filter flags (which win),
    so the servers a filtered body excludes are not expected to answer."""
    keys = ("cluster", "server_name", "host", "tags", "domain")
    if not any(k in body for k in keys):
        return flt
    base = flt or PingFilter()
    tags = body.get("tags")
    domain = body.get("domain")
    return PingFilter(
        cluster=base.cluster or _text_or_none(body.get("cluster")),
        server_name=base.server_name or _text_or_none(body.get("server_name")),
        host=base.host or _text_or_none(body.get("host")),
        tags=base.tags
        or ([t for t in tags if isinstance(t, str)] if isinstance(tags, list) else []),
        domain=base.domain if base.domain is not None else _text_or_none(domain),
        exact=base.exact or body.get("exact_match") is True,
    )


def _text_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _describe(error: Any) -> str:
    if not isinstance(error, dict):
        return "-"
    code = error.get("code") or ""
    return f"{code} {error.get('description', '')}".strip() or "-"


# ---------------------------------------------------------------------- servers


async def _build_servers(session: Session) -> Report:
    stats_result, varz_result = await asyncio.gather(
        session.ping("STATSZ"), session.ping("VARZ")
    )
    rc = RollCall.of(stats_result, varz_result)
    stats: dict[str, ServerStats] = _parse_each(stats_result, rc, parse_statsz)
    varz: dict[str, Varz] = _parse_each(varz_result, rc, parse_varz)
    identities = {
        name: reply.server
        for result in (varz_result, stats_result)
        for name, reply in result.replies.items()
    }
    views = {r.name: r for r in server_rows(stats, varz, identities)}

    rows = []
    for name in _server_order(session, [*rc.expected, *views]):
        view = views.get(name)
        entry = session.collector.roster.get(name)
        state = rc.state(name)
        if entry is not None and entry.state in (LAME_DUCK, SHUTDOWN):
            state = entry.state
        st, vz = stats.get(name), varz.get(name)
        err = rc.errors.get(name)
        reply = stats_result.replies.get(name)
        row: dict[str, Any] = {
            "name": name,
            "cluster": (view.cluster if view else "") or _cluster_of(session, name),
            "state": state,
            "version": view.version if view else (entry.version if entry else ""),
            "host": view.host if view else (entry.host if entry else ""),
            "tags": list(vz.tags) if vz else (list(entry.tags) if entry else []),
            "jetstream": view.jetstream if view else None,
            "start": (st.start if st else vz.start if vz else None) or None,
            "uptime_s": round(view.uptime, 3) if view else None,
            "cpu": view.cpu if view else None,
            "mem": view.mem if view else None,
            "cores": view.cores if view else None,
            "connections": view.connections if view else None,
            "total_connections": view.total_connections if view else None,
            "subscriptions": view.subscriptions if view else None,
            "slow_consumers": view.slow_consumers if view else None,
            "in_msgs": view.msgs_in if view else None,
            "out_msgs": view.msgs_out if view else None,
            "in_bytes": view.bytes_in if view else None,
            "out_bytes": view.bytes_out if view else None,
            # Route pools open several connections per peer: count peers.
            "routes": len({r.name for r in st.routes if r.name}) if st else None,
            "route_connections": len(st.routes) if st else None,
            "gateways": view.gateways if view else None,
            "leafnodes": vz.leafnodes if vz else None,
            "js_memory": view.js_memory if view and view.jetstream else None,
            "js_storage": view.js_storage if view and view.jetstream else None,
            "latency_ms": ms(reply.latency) if reply is not None else None,
            "error": err.get("description") if err else None,
        }
        rows.append(row)

    overview = cluster_overview(
        [
            ServerIdentity(name=r["name"], cluster=r["cluster"], version=r["version"])
            for r in rows
        ]
    )
    clusters = [
        {
            "name": c.name,
            "servers": list(c.servers),
            "versions": {v: len(n) for v, n in c.versions.items() if v},
        }
        for c in overview.clusters
    ]
    versions = {v: list(n) for v, n in overview.versions.items() if v}
    notes = [
        ", ".join(
            f"{c['name'] or '(no cluster)'}: {len(c['servers'])} servers"
            for c in clusters
        )
    ]
    if len(versions) > 1:
        notes.append(
            "version drift: "
            + "; ".join(f"{v} on {', '.join(n)}" for v, n in versions.items())
        )
    table = Table(
        key="servers",
        title="Servers",
        columns=[
            Column("name", "Server", no_wrap=True),
            Column("cluster", "Cluster"),
            Column("state", "State"),
            Column("version", "Version"),
            Column("uptime_s", "Uptime", seconds, "right"),
            Column("cpu", "CPU", percent, "right"),
            Column("mem", "Mem", size, "right"),
            Column("connections", "Conns", count, "right"),
            Column("subscriptions", "Subs", count, "right"),
            PairColumn("in_msgs", "Msgs in/out", count, "right", second="out_msgs"),
            PairColumn("in_bytes", "Bytes in/out", size, "right", second="out_bytes"),
            Column("slow_consumers", "Slow", count, "right"),
            Column("routes", "Routes", count, "right"),
            Column("gateways", "GWs", count, "right"),
            Column("leafnodes", "Leafs", count, "right"),
            Column("jetstream", "JS"),
            Column("latency_ms", "Latency", millis, "right"),
        ],
        rows=rows,
        style=state_style,
    )
    return Report(
        command="servers",
        tables=[table],
        roll_call=rc,
        fields={
            "clusters": clusters,
            "versions": versions,
            "version_drift": overview.drift,
            "newest_version": overview.newest or None,
            "outdated": list(overview.outdated),
        },
        notes=notes,
    )


# ------------------------------------------------------------------ connections


def _connection_row(c: Connection, names: dict[str, str]) -> dict[str, Any]:
    return {
        "server": c.server,
        "cid": c.cid,
        "kind": c.kind,
        "type": c.type,
        "name": c.name,
        "account": c.account,
        "account_name": c.name_tag or names.get(c.account, ""),
        "user": c.authorized_user,
        "ip": c.ip,
        "port": c.port,
        "lang": c.lang,
        "version": c.version,
        "tls_version": c.tls_version,
        "start": c.start,
        "last_activity": c.last_activity,
        "uptime_s": c.uptime_seconds,
        "idle_s": c.idle_seconds,
        "rtt_ms": ms(c.rtt_seconds),
        "pending_bytes": c.pending_bytes,
        "subscriptions": c.subscriptions,
        "msgs_to": c.out_msgs,
        "msgs_from": c.in_msgs,
        "bytes_to": c.out_bytes,
        "bytes_from": c.in_bytes,
        "stop": c.stop or None,
        "reason": c.reason or None,
    }


async def _build_conns(session: Session) -> Report:
    args = session.args
    body: dict[str, Any] = {"auth": True, "state": CONNECTION_STATES[args.state]}
    account: AccountRef | None = None
    if args.account:
        account = await session.resolve_account(args.account)
        body["acc"] = account.public_key
    if args.sort:
        body["sort"] = args.sort
    page_size, max_items = None, None
    if args.top and args.sort:
        # Each server sorts the same way: its first N hold every candidate.
        page_size, max_items = min(args.top, PAGE_SIZE), args.top
    result = await session.paged(
        "CONNZ", body, "connections", page_size=page_size, max_items=max_items
    )

    rc = RollCall.of(result)
    pages: dict[str, Connz] = _parse_each(result, rc, parse_connz)
    conns = aggregate_connections(pages)
    if args.sort:
        conns = sort_connections(conns, args.sort)
    total = sum(page.total for page in pages.values())
    shown = conns[: args.top] if args.top else conns
    names = {account.public_key: account.name} if account and account.name else {}
    rows = [_connection_row(c, names) for c in shown]

    columns = [
        Column("server", "Server", no_wrap=True),
        Column("cid", "CID", justify="right"),
        Column("name", "Name"),
        Column("account_name", "Account"),
        Column("kind", "Kind"),
        Column("ip", "IP"),
        Column("lang", "Lang"),
        Column("uptime_s", "Uptime", seconds, "right"),
        Column("idle_s", "Idle", seconds, "right"),
        Column("rtt_ms", "RTT", millis, "right"),
        Column("subscriptions", "Subs", count, "right"),
        Column("pending_bytes", "Pending", size, "right"),
        PairColumn("msgs_to", "Msgs to/from", count, "right", second="msgs_from"),
        PairColumn("bytes_to", "Bytes to/from", size, "right", second="bytes_from"),
    ]
    if args.state != "open":
        columns.append(Column("reason", "Closed"))
    what = f"{args.state} connections"
    if account is not None:
        what += f" of account {account.label}"
    title = f"{what[0].upper()}{what[1:]}: {len(rows)} of {total}"
    if args.sort:
        title += f", sorted by {args.sort}"
    table = Table(key="connections", title=title, columns=columns, rows=rows)
    return Report(
        command="connections",
        tables=[table],
        roll_call=rc,
        fields={
            "state": args.state,
            "sort": args.sort,
            "account": account.public_key if account else None,
            "total": total,
            "shown": len(rows),
            "per_server": {n: pages[n].total for n in _server_order(session, pages)},
        },
    )


# ---------------------------------------------------------------------- accounts


async def _build_accounts(session: Session) -> Report:
    statz_result, jsz_result = await asyncio.gather(
        session.account_statz(),
        session.paged("JSZ", {"accounts": True, "streams": True}, "account_details"),
    )
    rc = RollCall.of(statz_result, jsz_result)
    statz: dict[str, AccountStatz] = _parse_each(statz_result, rc, parse_account_statz)
    jsz: dict[str, Jsz] = _parse_each(jsz_result, rc, parse_jsz)
    system_key = session.hub.system_link.public_key
    links = {link.public_key: name for name, link in session.hub.accounts.items()}

    views = {r.account: r for r in account_rows(statz, jsz)}
    for name, link in session.hub.accounts.items():
        # Configured accounts are listed even before a server has loaded them.
        if link.public_key and link.public_key not in views:
            views[link.public_key] = AccountRow(
                account=link.public_key, name=link.account_name or name
            )
    rows: list[dict[str, Any]] = [
        {
            "name": r.name or r.account,
            "public_key": r.account,
            "system": bool(system_key) and r.account == system_key,
            "connections": r.conns,
            "leafnodes": r.leafnodes,
            "total_connections": r.total_conns,
            "subscriptions": r.subscriptions,
            "slow_consumers": r.slow_consumers,
            "sent_msgs": r.sent_msgs,
            "sent_bytes": r.sent_bytes,
            "received_msgs": r.received_msgs,
            "received_bytes": r.received_bytes,
            "servers": list(r.servers),
            "jetstream": r.jetstream,
            "js_memory": r.js_memory if r.jetstream else None,
            "js_storage": r.js_storage if r.jetstream else None,
            "streams": r.streams if r.jetstream else None,
            "natsops_connection": links.get(r.account),
        }
        for r in views.values()
    ]
    rows.sort(key=lambda r: (r["name"].lower(), r["public_key"]))
    table = Table(
        key="accounts",
        title="Accounts",
        columns=[
            Column("name", "Account", no_wrap=True),
            Column("public_key", "Public key", no_wrap=True),
            Column("connections", "Conns", count, "right"),
            Column("leafnodes", "Leafs", count, "right"),
            Column("subscriptions", "Subs", count, "right"),
            PairColumn(
                "received_msgs", "Msgs in/out", count, "right", second="sent_msgs"
            ),
            Column("slow_consumers", "Slow", count, "right"),
            Column("servers", "Servers", lambda v: joined(v or [])),
            Column("streams", "Streams", count, "right"),
            Column("js_storage", "JS storage", size, "right"),
            Column("system", "Role", lambda v: "system" if v else "-"),
        ],
        rows=rows,
    )
    return Report(
        command="accounts",
        tables=[table],
        roll_call=rc,
        notes=["only accounts loaded by a server (or configured in natsops) appear"],
    )


# --------------------------------------------------------------------- jetstream


async def _build_jetstream(session: Session) -> Report:
    result = await session.ping("JSZ", {"raft": True})
    rc = RollCall.of(result)
    reports: dict[str, Jsz] = _parse_each(result, rc, parse_jsz)
    overview = jetstream_overview(reports)
    leaders = {row.server: row for row in leader_distribution(reports)}
    exact = overview.authoritative

    peers = []
    for p in overview.peers:
        offline = p.offline or p.name in rc.missing
        current = p.current if exact or p.leader else None
        lag = p.lag if exact or p.leader else None
        if offline:
            state = "offline"
        elif current is None:
            state = "unknown"
        else:
            state = "ok" if current and not lag else "behind"
        peers.append(
            {
                "name": p.name,
                "peer": p.peer,
                "cluster": p.cluster or _cluster_of(session, p.name),
                "role": "leader" if p.leader else "follower",
                "state": state,
                "current": current,
                "offline": offline,
                "lag": lag,
                "active_s": round(p.active, 3) if exact and not p.leader else None,
                "answered": p.answered,
            }
        )

    usage = {u.server: u for u in overview.servers}
    servers = []
    for name in _server_order(session, [*rc.expected, *usage]):
        u = usage.get(name)
        lead = leaders.get(name)
        err = rc.errors.get(name)
        state = rc.state(name)
        if u is not None and u.disabled:
            state = "disabled"
        servers.append(
            {
                "server": name,
                "cluster": (u.cluster if u else "") or _cluster_of(session, name),
                "state": state,
                "meta_leader": name == overview.leader,
                "memory": u.memory if u else None,
                "storage": u.storage if u else None,
                "reserved_memory": u.reserved_memory if u else None,
                "reserved_storage": u.reserved_storage if u else None,
                "max_memory": u.max_memory if u else None,
                "max_storage": u.max_storage if u else None,
                "streams": u.streams if u else None,
                "consumers": u.consumers if u else None,
                "messages": u.messages if u else None,
                "bytes": u.bytes if u else None,
                "ha_assets": u.ha_assets if u else None,
                "api_total": u.api_total if u else None,
                "api_errors": u.api_errors if u else None,
                "streams_leader": lead.streams if lead and u else None,
                "consumers_leader": lead.consumers if lead and u else None,
                "error": err.get("description") if err else None,
            }
        )

    meta = {
        "leader": overview.leader or None,
        "authoritative": exact,
        "cluster_size": overview.cluster_size or None,
        "quorum_needed": overview.quorum_needed or None,
        "has_quorum": overview.has_quorum,
        "leaders_seen": {k: list(v) for k, v in sorted(overview.leaders_seen.items())},
    }
    notes = []
    if not overview.leader:
        notes.append("no JetStream meta leader: the meta group has no quorum")
    elif len(overview.leaders_seen) > 1:
        seen = ", ".join(sorted(overview.leaders_seen))
        notes.append(f"servers disagree on the meta leader: {seen}")
    if overview.leader and not exact:
        notes.append(
            f"meta leader {overview.leader} did not answer: "
            "peer currency and lag unknown"
        )
    summary = f"Meta leader: {overview.leader or 'none'}"
    if overview.cluster_size:
        summary += (
            f" (cluster size {overview.cluster_size}, quorum {overview.quorum_needed})"
        )
    tables = [
        Table(
            key="peers",
            title="Meta group peers",
            columns=[
                Column("name", "Peer", no_wrap=True),
                Column("cluster", "Cluster"),
                Column("role", "Role"),
                Column("state", "State"),
                Column("lag", "Lag", count, "right"),
                Column("active_s", "Last seen", seconds, "right"),
            ],
            rows=peers,
            style=lambda r: "yellow" if r["state"] not in ("ok", "unknown") else None,
            empty="no meta group peers known",
        ),
        Table(
            key="servers",
            title="JetStream per server",
            columns=[
                Column("server", "Server", no_wrap=True),
                Column("cluster", "Cluster"),
                Column("state", "State"),
                PairColumn(
                    "memory", "Memory used/max", size, "right", second="max_memory"
                ),
                PairColumn(
                    "storage", "Storage used/max", size, "right", second="max_storage"
                ),
                Column("streams", "Streams", count, "right"),
                Column("consumers", "Consumers", count, "right"),
                Column("messages", "Msgs", count, "right"),
                Column("streams_leader", "Stream leaders", count, "right"),
                Column("consumers_leader", "Consumer leaders", count, "right"),
                PairColumn(
                    "api_total", "API total/errors", count, "right", second="api_errors"
                ),
                Column("meta_leader", "Meta", lambda v: "leader" if v else "-"),
            ],
            rows=servers,
            style=state_style,
        ),
    ]
    return Report(
        command="jetstream",
        tables=tables,
        roll_call=rc,
        fields={"meta": meta},
        summary=[summary],
        notes=notes,
    )


# ----------------------------------------------------------------------- streams


def _replica_json(r: ReplicaRow, exact: bool) -> dict[str, Any]:
    """A replica; ``current`` and ``lag`` are null when only a follower reported."""
    known = exact or r.leader
    return {
        "name": r.name,
        "role": "leader" if r.leader else "follower",
        "current": r.current if known else None,
        "offline": r.offline,
        "lag": r.lag if known else None,
        "active_s": round(r.active, 3) if known and not r.leader else None,
        "pending": r.pending,
        "reported": r.reported,
    }


def stream_json(row: StreamRow) -> dict[str, Any]:
    """The ``streams`` JSON row of one merged stream (see docs/json.md)."""
    move = row.move
    return {
        "account": row.account,
        "account_id": row.account_id,
        "name": row.name,
        "status": row.status,
        "leader": row.leader or None,
        "leader_since": row.leader_since or None,
        "cluster": row.cluster,
        "num_replicas": row.num_replicas,
        "replicas": [_replica_json(r, row.authoritative) for r in row.replicas],
        "lagging": list(row.lagging) if row.authoritative else [],
        "hosted_by": list(row.hosts),
        "placement": {
            "cluster": row.placement_cluster or None,
            "tags": list(row.placement_tags),
        },
        "pending_move": None
        if move is None
        else {
            "cluster": move.target_cluster,
            "peers": list(move.target_peers),
            "status": move.status or None,
            "description": move.description or None,
        },
        "storage": row.storage,
        "retention": row.retention,
        "subjects": list(row.subjects),
        "messages": row.messages,
        "bytes": row.bytes,
        "first_seq": row.first_seq,
        "last_seq": row.last_seq,
        "consumers": row.consumers,
        "created": row.created or None,
        "authoritative": row.authoritative,
    }


def _replicas_text(replicas: list[dict[str, Any]]) -> str:
    parts = []
    for r in replicas:
        if r["role"] == "leader":
            parts.append(f"{r['name']}*")
            continue
        marks = []
        if r.get("offline"):
            marks.append("offline")
        elif r.get("current") is False:
            marks.append("not current")
        if r.get("lag"):
            marks.append(f"lag {r['lag']}")
        if r.get("pending"):
            marks.append("pending")
        parts.append(f"{r['name']} ({', '.join(marks)})" if marks else r["name"])
    return ", ".join(parts) or "-"


def _move_text(move: Any) -> str:
    if not move:
        return "-"
    status = move.get("status") or "pending"
    peers = ", ".join(move.get("peers") or [])
    return f"to {move.get('cluster') or '?'} [{peers}] ({status})"


def _placement_text(placement: Any) -> str:
    if not placement:
        return "-"
    parts = []
    if placement.get("cluster"):
        parts.append(placement["cluster"])
    if placement.get("tags"):
        parts.append("tags " + ",".join(placement["tags"]))
    return " ".join(parts) or "-"


async def _jsz_details(
    session: Session, account: AccountRef | None, *, consumers: bool
) -> tuple[RollCall, dict[str, Jsz]]:
    body: dict[str, Any] = {"accounts": True, "streams": True, "config": True}
    if consumers:
        body["consumer"] = True
    if account is not None:
        body["account"] = account.public_key
    result = await session.paged("JSZ", body, "account_details")
    rc = RollCall.of(result)
    return rc, _parse_each(result, rc, parse_jsz)


async def _build_streams(session: Session) -> Report:
    account = None
    if session.args.account:
        account = await session.resolve_account(session.args.account)
    rc, reports = await _jsz_details(session, account, consumers=False)
    merged = stream_rows(reports, account.public_key if account else None)
    rows = [stream_json(r) for r in merged]

    notes = []
    for status, label in (("moving", "pending moves"), ("no leader", "no leader")):
        hit = [f"{r['account']}/{r['name']}" for r in rows if r["status"] == status]
        if hit:
            notes.append(f"{label}: {', '.join(hit)}")
    title = "Streams" + (f" of account {account.label}" if account else "")
    table = Table(
        key="streams",
        title=title,
        columns=[
            Column("account", "Account", no_wrap=True),
            Column("name", "Stream", no_wrap=True),
            Column("status", "Status"),
            Column("leader", "Leader", lambda v: v or "NONE"),
            Column("num_replicas", "R", justify="right"),
            Column("replicas", "Replicas", _replicas_text),
            Column("placement", "Placement", _placement_text),
            Column("messages", "Msgs", count, "right"),
            Column("bytes", "Bytes", size, "right"),
            Column("consumers", "Consumers", count, "right"),
            Column("storage", "Storage"),
            Column("pending_move", "Move", _move_text),
        ],
        rows=rows,
        style=lambda r: None if r["status"] == "ok" else "yellow",
        empty="no streams",
    )
    return Report(
        command="streams",
        tables=[table],
        roll_call=rc,
        fields={"account": account.public_key if account else None},
        notes=notes,
    )


# --------------------------------------------------------------------- consumers


def consumer_json(row: ConsumerRow) -> dict[str, Any]:
    """The ``consumers`` JSON row of one merged consumer (see docs/json.md)."""
    return {
        "account": row.account,
        "account_id": row.account_id,
        "stream": row.stream,
        "name": row.name,
        "leader": row.leader or None,
        "replicas": [_replica_json(r, row.authoritative) for r in row.replicas],
        "hosted_by": list(row.hosts),
        "durable": row.durable,
        "push": row.push,
        "ack_policy": row.ack_policy,
        "deliver_policy": row.deliver_policy,
        "num_pending": row.num_pending,
        "num_ack_pending": row.num_ack_pending,
        "num_redelivered": row.num_redelivered,
        "num_waiting": row.num_waiting,
        "delivered_stream_seq": row.delivered_stream_seq,
        "ack_floor_stream_seq": row.ack_floor_stream_seq,
        "last_active": row.last_active or None,
        "paused": row.paused,
        "pause_until": row.pause_until or None,
        "created": row.created or None,
        "authoritative": row.authoritative,
    }


async def _build_consumers(session: Session) -> Report:
    stream_name: str = session.args.stream
    account = None
    if session.args.account:
        account = await session.resolve_account(session.args.account)
    rc, reports = await _jsz_details(session, account, consumers=True)
    key = account.public_key if account else None
    streams = stream_rows(reports, key)
    matches = [s for s in streams if s.name == stream_name]
    if not matches:
        where = f"account {account.label}" if account else "any account"
        known = sorted({s.name for s in streams})
        raise NotFound(
            f"stream {stream_name!r} not found in {where}",
            f"streams there: {', '.join(known)}" if known else "there are no streams",
        )
    if len(matches) > 1:
        owners = ", ".join(sorted(s.account for s in matches))
        raise UsageError(
            f"stream {stream_name!r} exists in several accounts ({owners})",
            "choose one with --account",
        )
    stream = matches[0]
    rows = [
        consumer_json(c) for c in consumer_rows(reports, stream.account_id, stream_name)
    ]
    table = Table(
        key="consumers",
        title=f"Consumers of {stream.account}/{stream_name} "
        f"(stream leader {stream.leader or 'none'})",
        columns=[
            Column("name", "Consumer", no_wrap=True),
            Column("leader", "Leader", lambda v: v or "NONE"),
            Column("replicas", "Replicas", _replicas_text),
            Column("push", "Kind", lambda v: "push" if v else "pull"),
            Column("ack_policy", "Ack"),
            Column("num_pending", "Pending", count, "right"),
            Column("num_ack_pending", "Ack pending", count, "right"),
            Column("num_redelivered", "Redelivered", count, "right"),
            Column("num_waiting", "Waiting", count, "right"),
            Column("delivered_stream_seq", "Delivered", justify="right"),
            Column("ack_floor_stream_seq", "Ack floor", justify="right"),
            Column("paused", "Paused", lambda v: "paused" if v else "-"),
        ],
        rows=rows,
        style=lambda r: "yellow" if not r["leader"] or r["paused"] else None,
        empty="no consumers",
    )
    return Report(
        command="consumers",
        tables=[table],
        roll_call=rc,
        fields={
            "account": stream.account_id,
            "account_name": stream.account,
            "stream": stream_name,
            "stream_leader": stream.leader or None,
        },
    )


# ------------------------------------------------------------------------ health


async def _build_health(session: Session) -> Report:
    args = session.args
    body: dict[str, Any] = {"details": True}
    for flag, key in (
        ("js_enabled_only", "js-enabled-only"),
        ("js_server_only", "js-server-only"),
        ("js_meta_only", "js-meta-only"),
    ):
        if getattr(args, flag):
            body[key] = True
    if args.stream and not args.account:
        raise UsageError("--stream needs --account", "add --account NAME")
    if args.consumer and not args.stream:
        raise UsageError("--consumer needs --stream", "add --stream NAME")
    if args.account:
        body["account"] = (await session.resolve_account(args.account)).public_key
    if args.stream:
        body["stream"] = args.stream
    if args.consumer:
        body["consumer"] = args.consumer
    result = await session.ping("HEALTHZ", body)
    rc = RollCall.of(result)
    health: dict[str, Healthz] = _parse_each(result, rc, parse_healthz)

    rows = []
    for name in _server_order(session, [*rc.expected, *health]):
        h = health.get(name)
        err = rc.errors.get(name)
        row: dict[str, Any] = {
            "server": name,
            "cluster": _cluster_of(session, name),
            "state": rc.state(name),
            "status": None,
            "status_code": None,
            "problems": [err["description"]] if err else [],
            "errors": [],
        }
        if h is not None:
            row.update(
                state="ok" if h.ok else "unhealthy",
                status=h.status,
                status_code=h.status_code,
                problems=h.problems,
                errors=[
                    {
                        "type": e.type,
                        "account": e.account or None,
                        "stream": e.stream or None,
                        "consumer": e.consumer or None,
                        "error": e.error,
                    }
                    for e in h.errors
                ],
            )
        rows.append(row)
    unhealthy = [r["server"] for r in rows if r["state"] == "unhealthy"]
    table = Table(
        key="servers",
        title="Health",
        columns=[
            Column("server", "Server", no_wrap=True),
            Column("cluster", "Cluster"),
            Column("state", "State"),
            Column("status", "Status"),
            Column("status_code", "Code", justify="right"),
            Column("problems", "Problems", lambda v: "; ".join(v) if v else "-"),
        ],
        rows=rows,
        style=state_style,
    )
    return Report(
        command="health",
        tables=[table],
        roll_call=rc,
        fields={"request": body, "healthy": not unhealthy and rc.complete},
        notes=[f"unhealthy: {', '.join(unhealthy)}"] if unhealthy else [],
        unhealthy=bool(unhealthy),
    )


# ---------------------------------------------------------------------- topology


def _link_json(link: LinkRow) -> dict[str, Any]:
    return {
        "rtt_ms": ms(link.rtt) if link.rtt else None,
        "in_msgs": link.in_msgs,
        "out_msgs": link.out_msgs,
        "in_bytes": link.in_bytes,
        "out_bytes": link.out_bytes,
        "pending_bytes": link.pending,
        "subscriptions": link.subscriptions,
    }


def _traffic_columns() -> list[Column]:
    return [
        Column("rtt_ms", "RTT", millis, "right"),
        PairColumn("in_msgs", "Msgs in/out", count, "right", second="out_msgs"),
        PairColumn("in_bytes", "Bytes in/out", size, "right", second="out_bytes"),
    ]


async def _build_routes(session: Session) -> Report:
    result = await session.ping("ROUTEZ")
    rc = RollCall.of(result)
    routez: dict[str, Routez] = _parse_each(result, rc, parse_routez)
    links: dict[str, dict[str, LinkRow]] = {}
    for link in route_rows(routez):
        links.setdefault(link.server, {})[link.remote] = link

    rows: list[dict[str, Any]] = []
    for server in _server_order(session, routez):
        cluster = _cluster_of(session, server)
        peers = dict(links.get(server, {}))
        # Servers of the same cluster this one has no route to.
        expected = {
            e.name
            for e in session.collector.roster.entries()
            if e.cluster == cluster and e.name != server and e.state != SHUTDOWN
        }
        for peer in sorted(set(peers) | expected):
            route = peers.get(peer)
            row: dict[str, Any] = {
                "server": server,
                "cluster": cluster,
                "peer": peer,
                "state": "ok" if route is not None else "no route",
                "connections": route.connections if route is not None else 0,
            }
            row.update(_link_json(route) if route is not None else {})
            rows.append(row)
    rows.extend(_missing_rows(session, rc, {"peer": None, "connections": None}))
    broken = [f"{r['server']}->{r['peer']}" for r in rows if r["state"] == "no route"]
    table = Table(
        key="routes",
        title="Routes",
        columns=[
            Column("server", "Server", no_wrap=True),
            Column("cluster", "Cluster"),
            Column("peer", "Peer", no_wrap=True),
            Column("state", "State"),
            Column("connections", "Conns", count, "right"),
            *_traffic_columns(),
            Column("pending_bytes", "Pending", size, "right"),
            Column("subscriptions", "Subs", count, "right"),
        ],
        rows=rows,
        style=state_style,
        empty="no routes",
    )
    notes = [f"missing routes: {', '.join(broken)}"] if broken else []
    return Report(command="routes", tables=[table], roll_call=rc, notes=notes)


async def _build_gateways(session: Session) -> Report:
    result = await session.ping("GATEWAYZ")
    rc = RollCall.of(result)
    gatewayz: dict[str, Gatewayz] = _parse_each(result, rc, parse_gatewayz)
    entries = session.collector.roster.entries()
    names = {e.id: e.name for e in entries if e.id}
    clusters = {e.cluster for e in entries if e.cluster}

    rows: list[dict[str, Any]] = []
    by_server: dict[str, list[LinkRow]] = {}
    for link in gateway_rows(gatewayz, names):
        by_server.setdefault(link.server, []).append(link)
    for server in _server_order(session, gatewayz):
        local = gatewayz[server].name
        links = by_server.get(server, [])
        for link in links:
            row: dict[str, Any] = {
                "server": server,
                "cluster": local or _cluster_of(session, server),
                "gateway": link.gateway,
                "direction": "outbound" if link.direction == "out" else "inbound",
                "remote": link.remote,
                "state": "ok",
            }
            row.update(_link_json(link))
            rows.append(row)
        if local:
            # Every server keeps one outbound gateway to each other cluster.
            have = {link.gateway for link in links if link.direction == "out"}
            for remote in sorted(clusters - {local} - have):
                rows.append(
                    {
                        "server": server,
                        "cluster": local,
                        "gateway": remote,
                        "direction": "outbound",
                        "remote": None,
                        "state": "no outbound",
                    }
                )
    rows.extend(_missing_rows(session, rc, {"gateway": None, "direction": None}))
    broken = [
        f"{r['server']}->{r['gateway']}" for r in rows if r["state"] == "no outbound"
    ]
    table = Table(
        key="gateways",
        title="Gateways",
        columns=[
            Column("server", "Server", no_wrap=True),
            Column("cluster", "Cluster"),
            Column("direction", "Direction"),
            Column("gateway", "Remote cluster"),
            Column("remote", "Remote server"),
            Column("state", "State"),
            *_traffic_columns(),
        ],
        rows=rows,
        style=lambda r: "yellow" if r["state"] != "ok" else None,
        empty="no gateways (not a supercluster)",
    )
    notes = [f"missing outbound gateways: {', '.join(broken)}"] if broken else []
    return Report(command="gateways", tables=[table], roll_call=rc, notes=notes)


async def _build_leafnodes(session: Session) -> Report:
    result = await session.ping("LEAFZ")
    rc = RollCall.of(result)
    leafz: dict[str, Leafz] = _parse_each(result, rc, parse_leafz)
    links = leaf_rows(leafz)
    names = await session.account_names() if links else {}
    rows = []
    for link in links:
        name = names.get(link.account, "")
        row: dict[str, Any] = {
            "server": link.server,
            "cluster": _cluster_of(session, link.server),
            "remote": link.remote,
            "role": link.direction,
            "account": link.account,
            "account_name": name if name != link.account else "",
        }
        row.update(_link_json(link))
        rows.append(row)
    table = Table(
        key="leafnodes",
        title="Leafnode connections",
        columns=[
            Column("server", "Server", no_wrap=True),
            Column("remote", "Leafnode", no_wrap=True),
            Column("role", "Role"),
            Column("account_name", "Account"),
            Column("subscriptions", "Subs", count, "right"),
            *_traffic_columns(),
        ],
        rows=rows,
        empty="no leafnode connections",
    )
    per_server = {name: leafz[name].leafnodes for name in _server_order(session, leafz)}
    return Report(
        command="leafnodes",
        tables=[table],
        roll_call=rc,
        fields={"per_server": per_server},
    )
