"""JetStream views: the meta group and per-server usage, streams, and consumers."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import replace
from typing import TYPE_CHECKING, Any, ClassVar

from rich.console import Group
from rich.table import Table
from rich.text import Text

from natsops.errors import AccountConnectionMissing
from natsops.fanout import FanoutResult
from natsops.ui import fmt
from natsops.ui.table import Column, Row
from natsops.ui.views.base import (
    Fetched,
    Selection,
    TableView,
    roll_call_only,
    to_json,
)

if TYPE_CHECKING:
    from natsops.ui.source import DataSource

CHUNK = 500


def _role_tone(value: Any) -> str | None:
    if value == "leader":
        return "accent"
    if value in ("offline", "missing"):
        return "warning"
    if value == "behind":
        return "warning"
    return None


def _status_tone(value: Any) -> str | None:
    if value == "ok":
        return None
    if value in ("no leader", "no quorum"):
        return "error"
    return "warning"


def _warn_positive(value: Any) -> str | None:
    return "warning" if isinstance(value, int | float) and value > 0 else None


def meta_of(result: FanoutResult) -> dict[str, Any]:
    """The meta group as the meta leader reports it (else any server's view)."""
    best: dict[str, Any] = {}
    for name, data in result.data().items():
        meta = data.get("meta_cluster")
        if not isinstance(meta, dict):
            continue
        if meta.get("leader") == name:
            return meta
        best = best or meta
    return best


def bar(share: float, width: int = 10) -> str:
    """A proportion as a bar of block characters."""
    cells = max(0.0, min(1.0, share)) * width
    full = int(cells)
    return "█" * full + ("▌" if cells - full >= 0.5 else "")


class JetStreamView(TableView):
    """The meta group (leader, peers, lag) and what each server holds and leads."""

    NAME = "jetstream"
    TITLE = "JetStream"
    KEY = "3"
    ALIASES = ("js",)
    KIND = "peer"
    SORT = "server"
    COLUMNS: ClassVar[list[Column]] = [
        Column("server", "SERVER"),
        Column("cluster", "CLUSTER"),
        Column("role", "META ROLE", tone=_role_tone),
        Column("current", "CURRENT"),
        Column(
            "lag", "LAG", align="right", fmt=fmt.count, tone=_warn_positive, desc=True
        ),
        Column("active", "SEEN", align="right", fmt=fmt.millis, desc=True),
        Column("memory", "MEMORY", align="right", fmt=fmt.size, desc=True),
        Column("storage", "STORAGE", align="right", fmt=fmt.size, desc=True),
        Column("streams", "STREAMS", align="right", fmt=fmt.count, desc=True),
        Column("consumers", "CONSUMERS", align="right", fmt=fmt.count, desc=True),
        Column("stream_leaders", "S-LEAD", align="right", fmt=fmt.count, desc=True),
        Column("consumer_leaders", "C-LEAD", align="right", fmt=fmt.count, desc=True),
        Column("share", "LEADER SHARE", min_width=12, max_width=12),
        Column("api", "API", align="right", fmt=fmt.count, desc=True),
        Column(
            "api_errors", "API ERR", align="right", fmt=fmt.count, tone=_warn_positive
        ),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.meta: dict[str, Any] = {}

    async def fetch(self, source: DataSource) -> Fetched:
        # nats-server 2.15 reports no per-server leader counts: they come from the
        # stream and consumer details, each leader reporting its own groups.
        body = {"accounts": True, "streams": True, "consumer": True}
        result = await source.paged("JSZ", body, "account_details")
        await asyncio.sleep(0)
        leaders = leader_counts(result)
        # Everything but the details, which are counted now.
        fields = {k for d in result.data().values() for k in d} - {"account_details"}
        return Fetched(
            self.NAME,
            result=roll_call_only(result, *sorted(fields)),
            extra={"roster": source.roster, "leaders": leaders},
        )

    def build_rows(self, fetched: Fetched) -> list[Row]:
        result = fetched.result
        assert result is not None
        self.meta = meta = meta_of(result)
        leader = meta.get("leader")
        peers: dict[str, dict[str, Any]] = {
            str(p.get("name")): p
            for p in meta.get("replicas") or []
            if isinstance(p, dict) and p.get("name")
        }
        data = result.data()
        leaders: dict[str, tuple[int, int]] = fetched.extra.get("leaders") or {}

        def led(name: str, d: dict[str, Any]) -> tuple[int, int]:
            if leaders or not d.get("streams_leader"):
                return leaders.get(name, (0, 0))
            # Older servers report their own counts.
            return int(d.get("streams_leader") or 0), int(
                d.get("consumers_leader") or 0
            )

        total_leaders = sum(led(n, d)[0] for n, d in data.items())
        names: set[str] = set(data) | {str(p) for p in peers if p} | set(result.missing)
        if isinstance(leader, str):
            names.add(leader)
        roster = fetched.extra["roster"]
        rows = []
        for name in sorted(names):
            d = data.get(name)
            peer = peers.get(name, {})
            entry = roster.get(name)
            cluster = (entry.cluster if entry else "") or peer.get("cluster", "")
            if name == leader:
                role = "leader"
            elif peer.get("offline"):
                role = "offline"
            elif d is None:
                role = "missing"
            elif peer and not peer.get("current"):
                role = "behind"
            else:
                role = "follower"
            current = "" if name == leader else ("yes" if peer.get("current") else "no")
            active = peer.get("active")
            active_s = active / 1e9 if isinstance(active, int | float) else None
            d = d or {}
            api = d.get("api") or {}
            s_lead, c_lead = led(name, d)
            values = (
                name,
                cluster,
                role,
                current,
                peer.get("lag"),
                active_s,
                d.get("memory"),
                d.get("storage"),
                d.get("streams"),
                d.get("consumers"),
                s_lead if d else None,
                c_lead if d else None,
                bar(s_lead / total_leaders) if total_leaders and d else "",
                api.get("total"),
                api.get("errors"),
            )
            tone = "warning" if role in ("offline", "missing") else None
            rows.append(Row(name, values, {"jsz": d or None, "peer": peer}, tone))
        return rows

    def title_extra(self) -> Text | str:
        meta = self.meta
        if not meta:
            return ""
        text = Text()
        leader = meta.get("leader") or "none"
        text.append("meta leader ")
        text.append(str(leader), style="bold")
        text.append(
            f"  size {meta.get('cluster_size', '?')}"
            f"  quorum {meta.get('quorum_needed', '?')}"
        )
        return text

    def row_title(self, row: Row) -> str:
        return f"server {row.key}"


def leader_counts(result: FanoutResult) -> dict[str, tuple[int, int]]:
    """Streams and consumers each server leads, from JSZ details (counted once)."""
    streams: dict[str, str] = {}
    consumers: dict[str, str] = {}
    for data in result.data().values():
        for acc in _account_details(data):
            account = str(acc.get("id") or acc.get("name") or "")
            for stream in acc.get("stream_detail") or ():
                if not isinstance(stream, dict):
                    continue
                key = f"{account}/{stream.get('name', '')}"
                leader = (stream.get("cluster") or {}).get("leader")
                if leader:
                    streams[key] = str(leader)
                for con in stream.get("consumer_detail") or ():
                    if not isinstance(con, dict):
                        continue
                    leader = (con.get("cluster") or {}).get("leader")
                    if leader:
                        consumers[f"{key}/{con.get('name', '')}"] = str(leader)
    counts: dict[str, list[int]] = {}
    for leader in streams.values():
        counts.setdefault(leader, [0, 0])[0] += 1
    for leader in consumers.values():
        counts.setdefault(leader, [0, 0])[1] += 1
    return {name: (s, c) for name, (s, c) in counts.items()}


def _account_details(data: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for acc in data.get("account_details") or ():
        if isinstance(acc, dict):
            yield acc


async def merge_streams_async(result: FanoutResult) -> dict[str, dict[str, Any]]:
    """:func:`merge_streams`, yielding to the loop after each server's streams."""
    merged: dict[str, dict[str, Any]] = {}
    for server, data in sorted(result.data().items()):
        _merge_server(merged, server, data)
        await asyncio.sleep(0)
    return merged


def merge_streams(result: FanoutResult) -> dict[str, dict[str, Any]]:
    """Each stream once (keyed ``account/stream``), preferring its leader's copy."""
    merged: dict[str, dict[str, Any]] = {}
    for server, data in sorted(result.data().items()):
        _merge_server(merged, server, data)
    return merged


def _merge_server(
    merged: dict[str, dict[str, Any]], server: str, data: dict[str, Any]
) -> None:
    """Add one server's streams to ``merged`` (the leader's copy wins)."""
    for acc in _account_details(data):
        account = str(acc.get("name") or acc.get("id") or "")
        for stream in acc.get("stream_detail") or ():
            if not isinstance(stream, dict):
                continue
            key = f"{account}/{stream.get('name', '')}"
            cluster = stream.get("cluster") or {}
            entry = merged.get(key)
            if entry is None:
                entry = merged[key] = {
                    "account": account,
                    "account_id": acc.get("id", ""),
                    "stream": stream,
                    "hosts": [],
                }
            entry["hosts"].append(server)
            if cluster.get("leader") == server:
                entry["stream"] = stream


def _stream_status(stream: dict[str, Any]) -> tuple[str, int]:
    cluster = stream.get("cluster") or {}
    replicas = [r for r in cluster.get("replicas") or [] if isinstance(r, dict)]
    lag = max((int(r.get("lag") or 0) for r in replicas), default=0)
    if cluster.get("desired"):
        return "moving", lag
    if not cluster.get("leader"):
        return "no leader", lag
    if any(r.get("offline") for r in replicas):
        return "replica offline", lag
    if any(not r.get("current") for r in replicas):
        return "catching up", lag
    return "ok", lag


def stream_row(key: str, entry: dict[str, Any]) -> Row:
    stream = entry["stream"]
    config = stream.get("config") or {}
    state = stream.get("state") or {}
    cluster = stream.get("cluster") or {}
    status, lag = _stream_status(stream)
    values = (
        entry["account"],
        stream.get("name", ""),
        cluster.get("leader") or "",
        config.get("num_replicas") or len(entry["hosts"]),
        cluster.get("name", ""),
        config.get("storage", ""),
        state.get("messages", 0),
        state.get("bytes", 0),
        state.get("consumer_count", 0),
        state.get("first_seq", 0),
        state.get("last_seq", 0),
        lag,
        status,
        ",".join(config.get("subjects") or []),
    )
    return Row(key, values, entry)


class StreamsView(TableView):
    """Every stream of every account, once, as its leader reports it."""

    NAME = "streams"
    TITLE = "Streams"
    KEY = "4"
    ALIASES = ("str", "stream")
    KIND = "stream"
    SORT = "stream"
    COLUMNS: ClassVar[list[Column]] = [
        Column("account", "ACCOUNT", max_width=16),
        Column("stream", "STREAM", max_width=30),
        Column("leader", "LEADER"),
        Column("replicas", "R", align="right"),
        Column("cluster", "CLUSTER"),
        Column("storage", "STORAGE"),
        Column("messages", "MSGS", align="right", fmt=fmt.count, desc=True),
        Column("bytes", "BYTES", align="right", fmt=fmt.size, desc=True),
        Column("consumers", "CONS", align="right", fmt=fmt.count, desc=True),
        Column("first", "FIRST", align="right", fmt=fmt.count),
        Column("last", "LAST", align="right", fmt=fmt.count, desc=True),
        Column(
            "lag", "LAG", align="right", fmt=fmt.count, tone=_warn_positive, desc=True
        ),
        Column("status", "STATUS", tone=_status_tone),
        Column("subjects", "SUBJECTS", max_width=30),
    ]

    async def fetch(self, source: DataSource) -> Fetched:
        body = {"accounts": True, "streams": True, "config": True}
        result = await source.paged("JSZ", body, "account_details")
        await asyncio.sleep(0)
        merged = await merge_streams_async(result)
        rows = []
        for i, (key, entry) in enumerate(merged.items()):
            rows.append(stream_row(key, entry))
            if i % CHUNK == CHUNK - 1:
                await asyncio.sleep(0)
        # The rows hold the copy of each stream they show (its leader's); the
        # other replicas' copies (two thirds of a fleet's JSZ for R3 streams) need
        # not wait for the next refresh.
        return Fetched(self.NAME, result=roll_call_only(result), rows=rows)

    def row_title(self, row: Row) -> str:
        return f"stream {row.values[1]} (account {row.values[0]})"

    async def resolve(self, source: DataSource, selection: Selection) -> Selection:
        """Fresh STREAM.INFO and the consumer list through the owning account's
        connection; without one, the stream as JSZ reported it (and why)."""
        entry = dict(selection.data or {})
        stream = dict(entry.get("stream") or {})
        name = str(stream.get("name", ""))
        account = str(entry.get("account", ""))
        try:
            info = await source.account_request(account, f"$JS.API.STREAM.INFO.{name}")
            listing = await source.account_request(
                account, f"$JS.API.CONSUMER.LIST.{name}", {"offset": 0}
            )
        except AccountConnectionMissing as exc:
            entry["note"] = f"{exc} (showing what JSZ reported)"
            return replace(selection, data=entry)
        for key in ("config", "state", "cluster"):
            if key in info:
                stream[key] = info[key]
        stream["consumer_detail"] = listing.get("consumers") or []
        entry["stream"] = stream
        return replace(selection, data=entry)

    def detail(self, selection: Selection) -> Any:
        return stream_detail(selection.data)


def stream_detail(entry: Any) -> Any:
    """A stream's config, state, replicas, consumers and move status."""
    if not isinstance(entry, dict) or "stream" not in entry:
        return to_json(entry)
    stream = entry["stream"]
    cluster = stream.get("cluster") or {}
    parts: list[Any] = [
        Text(f"stream {stream.get('name')}  account {entry['account']}", style="bold")
    ]

    reps = Table(title="replicas", title_justify="left")
    for col in ("server", "role", "current", "offline", "lag", "seen"):
        reps.add_column(col)
    leader = cluster.get("leader")
    if leader:
        reps.add_row(leader, "leader", "", "", "", "")
    for rep in cluster.get("replicas") or []:
        active = rep.get("active")
        reps.add_row(
            str(rep.get("name", "")),
            "replica",
            "yes" if rep.get("current") else "no",
            "yes" if rep.get("offline") else "",
            str(rep.get("lag", "")),
            fmt.millis(active / 1e9) if isinstance(active, int | float) else "",
        )
    parts.append(reps)

    desired = cluster.get("desired")
    move = Text()
    if desired:
        status = desired.get("status") or {}
        move.append("move in progress: ", style="bold yellow")
        move.append(f"target peers {', '.join(desired.get('peers') or [])}")
        if status:
            move.append(f"; {status.get('type', '')}: {status.get('description', '')}")
    else:
        move.append("no move in progress")
    parts.append(move)

    for title in ("state", "config"):
        block = stream.get(title) or {}
        table = Table(title=title, title_justify="left", show_header=False)
        table.add_column(style="bold")
        table.add_column()
        for key in sorted(block):
            table.add_row(key, _cell(block[key]))
        parts.append(table)

    consumers = stream.get("consumer_detail") or []
    if consumers:
        table = Table(title="consumers", title_justify="left")
        for col in ("name", "leader", "pending", "ack pending", "redelivered"):
            table.add_column(col)
        for con in consumers:
            table.add_row(
                str(con.get("name", "")),
                str((con.get("cluster") or {}).get("leader", "")),
                str(con.get("num_pending", "")),
                str(con.get("num_ack_pending", "")),
                str(con.get("num_redelivered", "")),
            )
        parts.append(table)
    parts.append(Text(f"hosted on {', '.join(entry.get('hosts') or [])}"))
    if entry.get("note"):
        parts.append(Text(str(entry["note"]), style="italic"))
    return Group(*parts)


def _cell(value: Any) -> str:
    if isinstance(value, dict | list):
        return " ".join(to_json(value).split())
    return str(value)


def consumer_rows(result: FanoutResult) -> list[Row]:
    """Each consumer once (keyed ``account/stream/consumer``), leader's copy first."""
    found: dict[str, tuple[str, dict[str, Any], list[str]]] = {}
    for server, data in sorted(result.data().items()):
        for acc in _account_details(data):
            account = str(acc.get("name") or acc.get("id") or "")
            for stream in acc.get("stream_detail") or ():
                for con in (stream or {}).get("consumer_detail") or ():
                    if not isinstance(con, dict):
                        continue
                    key = (
                        f"{account}/{con.get('stream_name', '')}/{con.get('name', '')}"
                    )
                    seen = found.get(key)
                    hosts = seen[2] if seen else []
                    hosts.append(server)
                    leader = (con.get("cluster") or {}).get("leader")
                    if seen is None or leader == server:
                        found[key] = (account, con, hosts)
    rows = []
    for key, (account, con, hosts) in found.items():
        config = con.get("config") or {}
        cluster = con.get("cluster") or {}
        delivered = con.get("delivered") or {}
        paused = "yes" if con.get("paused") or config.get("pause_until") else ""
        values = (
            account,
            con.get("stream_name", ""),
            con.get("name", ""),
            cluster.get("leader") or "",
            config.get("num_replicas") or len(hosts),
            con.get("num_pending", 0),
            con.get("num_ack_pending", 0),
            con.get("num_redelivered", 0),
            con.get("num_waiting", 0),
            paused,
            delivered.get("stream_seq", 0),
            fmt.parse_time(delivered.get("last_active")),
        )
        rows.append(
            Row(key, values, {"account": account, "consumer": con, "hosts": hosts})
        )
    return rows


class ConsumersView(TableView):
    """Every consumer of every stream, with its backlog and leader."""

    NAME = "consumers"
    TITLE = "Consumers"
    KEY = "5"
    ALIASES = ("con", "consumer")
    KIND = "consumer"
    SORT = "pending"
    COLUMNS: ClassVar[list[Column]] = [
        Column("account", "ACCOUNT", max_width=16),
        Column("stream", "STREAM", max_width=24),
        Column("consumer", "CONSUMER", max_width=24),
        Column("leader", "LEADER"),
        Column("replicas", "R", align="right"),
        Column("pending", "PENDING", align="right", fmt=fmt.count, desc=True),
        Column(
            "ack_pending",
            "ACK PEND",
            align="right",
            fmt=fmt.count,
            tone=_warn_positive,
            desc=True,
        ),
        Column("redelivered", "REDELIV", align="right", fmt=fmt.count, desc=True),
        Column("waiting", "WAITING", align="right", fmt=fmt.count, desc=True),
        Column("paused", "PAUSED", tone=lambda v: "warning" if v else None),
        Column("delivered", "DELIVERED", align="right", fmt=fmt.count, desc=True),
        Column("last_active", "LAST ACTIVE", fmt=fmt.clock, desc=True),
    ]

    async def fetch(self, source: DataSource) -> Fetched:
        body = {"accounts": True, "streams": True, "consumer": True, "config": True}
        result = await source.paged("JSZ", body, "account_details")
        await asyncio.sleep(0)
        return Fetched(self.NAME, result=result, rows=consumer_rows(result))

    def row_title(self, row: Row) -> str:
        return f"consumer {row.values[2]} of stream {row.values[1]} ({row.values[0]})"
