"""Accounts, Topology and Health views: who is connected where, and what is well."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, ClassVar

from natsops.ui import fmt
from natsops.ui.table import Column, Row
from natsops.ui.views.base import Fetched, TableView
from natsops.ui.views.connections import short_key

if TYPE_CHECKING:
    from natsops.ui.source import DataSource


def _warn_positive(value: Any) -> str | None:
    return "warning" if isinstance(value, int | float) and value > 0 else None


class AccountsView(TableView):
    """Accounts known to the servers, with connections and traffic summed."""

    NAME = "accounts"
    TITLE = "Accounts"
    KEY = "6"
    ALIASES = ("acc", "account")
    KIND = "account"
    SORT = "conns"
    COLUMNS: ClassVar[list[Column]] = [
        Column("name", "ACCOUNT", max_width=24),
        Column("key", "PUBLIC KEY", max_width=12),
        Column("system", "SYS"),
        Column("servers", "SERVERS", align="right"),
        Column("conns", "CONNS", align="right", fmt=fmt.count, desc=True),
        Column("leafnodes", "LEAFS", align="right", fmt=fmt.count, desc=True),
        Column("subs", "SUBS", align="right", fmt=fmt.count, desc=True),
        Column("in_msgs", "IN MSGS", align="right", fmt=fmt.count, desc=True),
        Column("out_msgs", "OUT MSGS", align="right", fmt=fmt.count, desc=True),
        Column("in_bytes", "IN BYTES", align="right", fmt=fmt.size, desc=True),
        Column("out_bytes", "OUT BYTES", align="right", fmt=fmt.size, desc=True),
        Column("slow", "SLOW", align="right", fmt=fmt.count, tone=_warn_positive),
    ]

    async def fetch(self, source: DataSource) -> Fetched:
        accountz = await source.ping("ACCOUNTZ", {})
        keys: set[str] = set()
        system = ""
        for data in accountz.data().values():
            keys.update(k for k in data.get("accounts") or [] if isinstance(k, str))
            system = system or str(data.get("system_account") or "")
        body = {"accounts": sorted(keys), "include_unused": True}
        statz = await source.account_ping("STATZ", body)
        return Fetched(
            self.NAME,
            result=accountz,
            extra={"statz": statz, "keys": sorted(keys), "system": system},
        )

    def build_rows(self, fetched: Fetched) -> list[Row]:
        statz = fetched.extra["statz"]
        system = fetched.extra["system"]
        sums: dict[str, dict[str, Any]] = {
            key: {"name": "", "servers": [], "stats": []}
            for key in fetched.extra["keys"]
        }
        for server, data in sorted(statz.data().items()):
            for acc in data.get("account_statz") or []:
                if not isinstance(acc, dict) or not acc.get("acc"):
                    continue
                entry = sums.setdefault(
                    acc["acc"], {"name": "", "servers": [], "stats": []}
                )
                entry["name"] = entry["name"] or acc.get("name", "")
                entry["servers"].append(server)
                entry["stats"].append(acc)
        rows = []
        for key, entry in sums.items():
            stats = entry["stats"]

            def total(*path: str, stats: list[dict[str, Any]] = stats) -> int:
                out = 0
                for s in stats:
                    value: Any = s
                    for p in path:
                        value = value.get(p) if isinstance(value, dict) else None
                    out += value if isinstance(value, int) else 0
                return out

            name = entry["name"] or ("$G" if key == "$G" else short_key(key, 12))
            values = (
                name,
                short_key(key),
                "yes" if key == system else "",
                len(entry["servers"]),
                total("conns"),
                total("leafnodes"),
                total("num_subscriptions"),
                total("received", "msgs"),
                total("sent", "msgs"),
                total("received", "bytes"),
                total("sent", "bytes"),
                total("slow_consumers"),
            )
            data = {"account": key, "name": entry["name"], "per_server": stats}
            rows.append(Row(key, values, data))
        return rows

    def account_names(self) -> dict[str, str]:
        """Public key -> account name, for other views' cells."""
        return {r.key: r.values[0] for r in self.model.rows() if r.values[0]}

    def row_title(self, row: Row) -> str:
        return f"account {row.values[0]}"


def _gateway_rows(server: str, data: dict[str, Any]) -> list[Row]:
    rows = []
    for name, gw in sorted((data.get("outbound_gateways") or {}).items()):
        conn = (gw or {}).get("connection") or {}
        rows.append(_link_row("gateway", server, name, "out", conn, gw))
    for name, links in sorted((data.get("inbound_gateways") or {}).items()):
        for i, gw in enumerate(links or []):
            conn = (gw or {}).get("connection") or {}
            rows.append(_link_row("gateway", server, name, "in", conn, gw, i))
    return rows


def _link_row(
    kind: str,
    server: str,
    remote: str,
    direction: str,
    conn: dict[str, Any],
    raw: Any,
    index: Any = "",
    detail: str = "",
) -> Row:
    ident = conn.get("rid", conn.get("cid", conn.get("id", index)))
    key = f"{kind}:{server}:{remote}:{direction}:{ident}"
    values = (
        kind,
        server,
        remote,
        detail,
        direction,
        f"{conn.get('ip', '')}:{conn.get('port', '')}" if conn.get("ip") else "",
        fmt.go_duration(conn.get("rtt")),
        conn.get("in_msgs", 0),
        conn.get("out_msgs", 0),
        conn.get("pending_size", conn.get("pending_bytes", 0)),
        fmt.go_duration(conn.get("uptime")),
    )
    return Row(key, values, raw)


class TopologyView(TableView):
    """Routes, gateways and leafnodes of every server, with round-trip times."""

    NAME = "topology"
    TITLE = "Topology"
    KEY = "7"
    ALIASES = ("topo",)
    KIND = "link"
    SORT = "kind"
    COLUMNS: ClassVar[list[Column]] = [
        Column("kind", "LINK"),
        Column("server", "SERVER"),
        Column("remote", "REMOTE", max_width=24),
        Column("detail", "ACCOUNT", max_width=16),
        Column("direction", "DIR"),
        Column("addr", "ADDRESS", max_width=22),
        Column("rtt", "RTT", align="right", fmt=fmt.millis, desc=True),
        Column("in_msgs", "IN MSGS", align="right", fmt=fmt.count, desc=True),
        Column("out_msgs", "OUT MSGS", align="right", fmt=fmt.count, desc=True),
        Column("pending", "PENDING", align="right", fmt=fmt.size, tone=_warn_positive),
        Column("uptime", "UPTIME", align="right", fmt=fmt.duration, desc=True),
    ]

    async def fetch(self, source: DataSource) -> Fetched:
        routez, gatewayz, leafz = await asyncio.gather(
            source.ping("ROUTEZ", {}),
            source.ping("GATEWAYZ", {}),
            source.ping("LEAFZ", {}),
        )
        rows: list[Row] = []
        for server, data in sorted(routez.data().items()):
            for route in data.get("routes") or []:
                remote = str(
                    route.get("remote_name") or short_key(route.get("remote_id"))
                )
                rows.append(_link_row("route", server, remote, "-", route, route))
        for server, data in sorted(gatewayz.data().items()):
            rows.extend(_gateway_rows(server, data))
        for server, data in sorted(leafz.data().items()):
            for leaf in data.get("leafs") or []:
                remote = str(leaf.get("name") or leaf.get("ip") or "")
                account = str(leaf.get("account") or "")
                direction = "out" if leaf.get("is_spoke") else "in"
                rows.append(
                    _link_row(
                        "leafnode",
                        server,
                        remote,
                        direction,
                        leaf,
                        leaf,
                        "",
                        short_key(account),
                    )
                )
        return Fetched(
            self.NAME,
            result=routez,
            rows=rows,
            extra={"gatewayz": gatewayz, "leafz": leafz},
        )

    def title_extra(self) -> str:
        kinds: dict[str, int] = {}
        for row in self.model.rows():
            kinds[row.values[0]] = kinds.get(row.values[0], 0) + 1
        return "  ".join(f"{k}s {n}" for k, n in sorted(kinds.items()))

    def row_title(self, row: Row) -> str:
        return f"{row.values[0]} {row.values[1]} -> {row.values[2]}"


def _health_tone(value: Any) -> str | None:
    if value == "ok":
        return "ok"
    if value in ("missing", "unavailable"):
        return "warning"
    return "error" if value else None


class HealthView(TableView):
    """HEALTHZ of every server; silent servers are listed, not hidden."""

    NAME = "health"
    TITLE = "Health"
    KEY = "8"
    ALIASES = ("healthz",)
    KIND = "server"
    SORT = "server"
    COLUMNS: ClassVar[list[Column]] = [
        Column("server", "SERVER"),
        Column("cluster", "CLUSTER"),
        Column("status", "STATUS", tone=_health_tone),
        Column("code", "CODE", align="right"),
        Column("errors", "ERRORS", align="right", fmt=fmt.count, tone=_warn_positive),
        Column("first", "FIRST ERROR", max_width=80),
    ]

    async def fetch(self, source: DataSource) -> Fetched:
        result = await source.ping("HEALTHZ", {"details": True})
        roster = {e.name: e.cluster for e in source.roster.entries()}
        rows = []
        for name in sorted(set(result.expected) | set(result.replies) | set(roster)):
            reply = result.replies.get(name) or result.errors.get(name)
            cluster = (reply.server.cluster if reply else "") or roster.get(name, "")
            values: tuple[Any, ...]
            if reply is None:
                values = (name, cluster, "missing", None, None, "did not answer")
                rows.append(Row(name, values, {"server": name}, "warning"))
                continue
            if reply.error is not None:
                values = (name, cluster, "error", None, 1, reply.error_text)
                rows.append(Row(name, values, reply.error))
                continue
            data = reply.data or {}
            errors = [e for e in data.get("errors") or [] if isinstance(e, dict)]
            first = ""
            if errors:
                first = str(
                    errors[0].get("error") or errors[0].get("description") or ""
                )
            elif data.get("error"):
                first = str(data.get("error"))
            values = (
                name,
                cluster,
                str(data.get("status", "")),
                data.get("status_code"),
                len(errors),
                first,
            )
            rows.append(Row(name, values, data))
        return Fetched(self.NAME, result=result, rows=rows)
