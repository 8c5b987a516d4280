"""Connections view: every client connection across the servers, sortable by load."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from functools import lru_cache
from typing import TYPE_CHECKING, Any, ClassVar

from natsops.errors import NotFound
from natsops.ui import fmt
from natsops.ui.table import Column, Entry, Row
from natsops.ui.views.base import Fetched, Selection, TableView

if TYPE_CHECKING:
    from natsops.ui.source import DataSource

#: Rows built between two yields to the event loop, so keys stay responsive.
CHUNK = 500


@lru_cache(maxsize=4096)
def _seconds(text: str) -> float | None:
    return fmt.go_duration(text)


def _pending_tone(value: Any) -> str | None:
    return "warning" if isinstance(value, int) and value > 0 else None


def short_key(key: Any, size: int = 8) -> str:
    """A public key shortened for a cell ('ABJ4M62L…'); names are left alone."""
    text = str(key or "")
    if len(text) < 50 or not text.isalnum():
        return text
    return text[:size] + "…"


def connection_entry(server: str, conn: dict[str, Any], names: dict[str, str]) -> Entry:
    """One CONNZ connection as a table entry keyed ``server:cid``.

    The connection's JSON is not kept (100,000 of them would double the memory);
    its detail is asked of its server when it is opened.
    """
    get = conn.get
    cid = get("cid", 0)
    account = get("account", "")
    in_msgs = get("in_msgs", 0)
    out_msgs = get("out_msgs", 0)
    values = (
        server,
        cid,
        get("name", ""),
        names.get(account, account),
        get("name_tag") or get("authorized_user") or get("user", ""),
        f"{get('ip', '')}:{get('port', '')}",
        f"{get('lang', '')} {get('version', '')}",
        _seconds(get("uptime", "")),
        _seconds(get("idle", "")),
        _seconds(get("rtt", "")),
        get("subscriptions", 0),
        get("pending_bytes", 0),
        in_msgs + out_msgs,
        in_msgs,
        out_msgs,
        get("in_bytes", 0) + get("out_bytes", 0),
    )
    return (f"{server}:{cid}", values, None, None)


class ConnectionsView(TableView):
    """Client connections of every server (CONNZ, paged so none is cut off)."""

    NAME = "connections"
    TITLE = "Connections"
    KEY = "2"
    ALIASES = ("conn", "conns")
    KIND = "connection"
    SORT = "msgs"
    SORT_KEYS: ClassVar[dict[str, str]] = {
        "m": "msgs",
        "b": "bytes",
        "g": "pending",
        "u": "subs",
        "i": "idle",
        "t": "rtt",
    }
    COLUMNS: ClassVar[list[Column]] = [
        Column("server", "SERVER"),
        Column("cid", "CID", align="right"),
        Column("name", "NAME", max_width=24),
        Column("account", "ACCOUNT", max_width=16, fmt=short_key),
        Column("user", "USER", max_width=16, fmt=short_key),
        Column("addr", "ADDRESS", max_width=22),
        Column("lang", "CLIENT", max_width=16),
        Column("uptime", "UPTIME", align="right", fmt=fmt.duration, desc=True),
        Column("idle", "IDLE", align="right", fmt=fmt.duration, desc=True),
        Column("rtt", "RTT", align="right", fmt=fmt.millis, desc=True),
        Column("subs", "SUBS", align="right", fmt=fmt.count, desc=True),
        Column(
            "pending",
            "PENDING",
            align="right",
            fmt=fmt.size,
            tone=_pending_tone,
            desc=True,
        ),
        Column("msgs", "MSGS", align="right", fmt=fmt.count, desc=True),
        Column("in_msgs", "IN", align="right", fmt=fmt.count, desc=True),
        Column("out_msgs", "OUT", align="right", fmt=fmt.count, desc=True),
        Column("bytes", "BYTES", align="right", fmt=fmt.size, desc=True),
    ]

    def __init__(self) -> None:
        super().__init__()
        #: Account public key -> name, learned by other views (read by the worker).
        self.account_names: dict[str, str] = {}

    async def fetch(self, source: DataSource) -> Fetched:
        result = await source.paged("CONNZ", {"auth": True}, "connections")
        names = dict(self.account_names)
        entries: list[Entry] = []
        append = entries.append
        for server, data in sorted(result.data().items()):
            conns = data.get("connections") or ()
            for start in range(0, len(conns), CHUNK):
                for conn in conns[start : start + CHUNK]:
                    if isinstance(conn, dict):
                        append(connection_entry(server, conn, names))
                await asyncio.sleep(0)
            # The rows hold what they show; let this server's JSON go now.
            data["connections"] = []
        return Fetched(self.NAME, result=result, entries=entries)

    async def resolve(self, source: DataSource, selection: Selection) -> Selection:
        """Ask the connection's server for it now (CONNZ with its cid)."""
        server, _, cid_text = selection.key.rpartition(":")
        cid = int(cid_text)
        body = {"cid": cid, "auth": True, "subscriptions": True}
        reply = await source.server_request(server, "CONNZ", body)
        for conn in (reply.data or {}).get("connections") or []:
            if isinstance(conn, dict) and conn.get("cid") == cid:
                return replace(selection, data={"server": server, **conn})
        raise NotFound(
            f"connection {cid} is no longer on {server}",
            "it closed since the last refresh",
        )

    def row_title(self, row: Row) -> str:
        name = row.values[2]
        return f"connection {row.key}" + (f" ({name})" if name else "")
