"""Connections view: client connections across the servers, sortable by load.

A small deployment is fetched completely. A large one (more connections in total
than :data:`LARGE_DEPLOYMENT`, counted from STATSZ) is asked for each server's top
N by the current sort key with CONNZ's own ``sort`` and ``limit``: the global top N
by that key is then exact, and deeper pages are fetched as the cursor gets there.
Filter words (``acc:`` ``user:`` ``state:``) become CONNZ's server-side filters.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import re
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text

from natsops.errors import NatsopsError, NotFound
from natsops.ui import fmt
from natsops.ui.table import Column, Entry, Row, WindowedTable
from natsops.ui.views.base import Fetched, Selection, TableView, roll_call_only

if TYPE_CHECKING:
    from natsops.ui.source import DataSource

log = logging.getLogger(__name__)

#: Rows built between two yields to the event loop, so keys stay responsive.
CHUNK = 500
#: Above this many connections in the deployment, only the top N are fetched.
LARGE_DEPLOYMENT = 20_000
#: Rows fetched beyond what the window shows (also the least a deeper page adds).
MARGIN = 60
#: Top-N sizes are rounded up to a multiple of this.
PAGE_STEP = 100
#: CONNZ sort options, by column: (server sort key, largest first).
SERVER_SORT: dict[str, tuple[str, bool]] = {
    "cid": ("cid", False),
    "uptime": ("start", True),  # oldest start first: the longest uptime
    "idle": ("idle", True),
    "rtt": ("rtt", True),
    "subs": ("subs", True),
    "pending": ("pending", True),
    "in_msgs": ("msgs_from", True),
    "out_msgs": ("msgs_to", True),
    "in_bytes": ("bytes_from", True),
    "out_bytes": ("bytes_to", True),
}
_STATES = {"open": 0, "closed": 1, "all": 2}
_WORD = re.compile(r"^(acc|account|user|state):(.+)$", re.IGNORECASE)


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


def _is_key(text: str, prefix: str) -> bool:
    return len(text) == 56 and text.startswith(prefix) and text.isalnum()


def connection_entry(server: str, conn: dict[str, Any], names: dict[str, str]) -> Entry:
    """One CONNZ connection as a table entry keyed ``server:cid``.

    The connection's JSON is not kept (100,000 of them would double the memory);
    its detail is asked of its server when it is opened. After the columns come
    three hidden values for the filter words: account key, user, open or closed.
    """
    get = conn.get
    cid = get("cid", 0)
    account = get("account", "")
    authorized = get("authorized_user") or get("user", "")
    values = (
        server,
        cid,
        get("name", ""),
        names.get(account, account),
        get("name_tag") or authorized,
        f"{get('ip', '')}:{get('port', '')}",
        f"{get('lang', '')} {get('version', '')}",
        _seconds(get("uptime", "")),
        _seconds(get("idle", "")),
        _seconds(get("rtt", "")),
        get("subscriptions", 0),
        get("pending_bytes", 0),
        get("in_msgs", 0),
        get("out_msgs", 0),
        get("in_bytes", 0),
        get("out_bytes", 0),
        account,
        authorized,
        "closed" if get("stop") else "open",
    )
    return (f"{server}:{cid}", values, None, None)


@dataclass
class ConnFilter:
    """The Connections filter: words CONNZ can apply itself, plus a regex rest."""

    accounts: list[str] = field(default_factory=list)
    users: list[str] = field(default_factory=list)
    state: str = "open"
    rest: str = ""

    @property
    def words(self) -> bool:
        return bool(self.accounts or self.users or self.state != "open")


def parse_conn_filter(text: str) -> ConnFilter:
    """``acc:APP user:UABC… state:closed regex`` -> the words and the regex."""
    flt = ConnFilter()
    rest: list[str] = []
    for word in text.split():
        match = _WORD.match(word)
        if not match:
            rest.append(word)
            continue
        kind, value = match.group(1).lower(), match.group(2)
        if kind in ("acc", "account"):
            flt.accounts.append(value)
        elif kind == "user":
            flt.users.append(value)
        elif value.lower() in _STATES:
            flt.state = value.lower()
        else:
            rest.append(word)
    flt.rest = " ".join(rest)
    return flt


class ConnectionsView(TableView):
    """Client connections of every server (CONNZ), all or the top N by the sort."""

    NAME = "connections"
    TITLE = "Connections"
    KEY = "2"
    ALIASES = ("conn", "conns")
    KIND = "connection"
    SORT = "out_msgs"
    SORT_KEYS: ClassVar[dict[str, str]] = {
        "m": "out_msgs",
        "b": "out_bytes",
        "g": "pending",
        "u": "subs",
        "i": "idle",
        "t": "rtt",
    }
    COLUMNS: ClassVar[list[Column]] = [
        Column("server", "SERVER"),
        Column("cid", "CID", align="right"),
        Column("name", "NAME", max_width=20),
        Column("account", "ACCOUNT", max_width=12, fmt=short_key),
        Column("user", "USER", max_width=12, fmt=short_key),
        Column("addr", "ADDRESS", max_width=21),
        Column("lang", "CLIENT", max_width=14),
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
        Column("in_msgs", "IN MSGS", align="right", fmt=fmt.count, desc=True),
        Column("out_msgs", "OUT MSGS", align="right", fmt=fmt.count, desc=True),
        Column("in_bytes", "IN BYTES", align="right", fmt=fmt.size, desc=True),
        Column("out_bytes", "OUT BYTES", align="right", fmt=fmt.size, desc=True),
    ]
    #: Where the hidden filter values start in a row's values.
    HIDDEN = len(COLUMNS)

    def __init__(self) -> None:
        super().__init__()
        #: Account public key -> name, learned by other views (read by the worker).
        self.account_names: dict[str, str] = {}
        self.conn_filter = ConnFilter()
        #: Connections asked of each server in top-N mode (grows as the user
        #: scrolls down); 0 until the window's height is known.
        self.limit = 0
        #: The CONNZ sort of the last top-N fetch (kept for unsortable columns).
        self.server_sort = SERVER_SORT[self.SORT]
        self.mode = ""
        self.scope: dict[str, Any] = {}

    # -- fetching ----------------------------------------------------------------

    def page_size(self, more: int = 0) -> int:
        """What the window needs plus a margin (plus ``more``), rounded up."""
        need = self.table.body_height + MARGIN + more
        return -(-need // PAGE_STEP) * PAGE_STEP

    def server_filters(self) -> tuple[dict[str, Any], bool]:
        """CONNZ filters for the filter words, and whether they cover all of them
        (a regex, a name CONNZ does not know, or two values of one word do not)."""
        flt = self.conn_filter
        body: dict[str, Any] = {}
        complete = not flt.rest and len(flt.accounts) <= 1 and len(flt.users) <= 1
        if flt.accounts:
            wanted = flt.accounts[0]
            by_name = {v: k for k, v in self.account_names.items()}
            key = wanted if _is_key(wanted, "A") else by_name.get(wanted)
            if key:
                body["acc"] = key
            else:
                complete = False
        if flt.users:
            wanted = flt.users[0]
            if _is_key(wanted, "U"):
                body["user"] = wanted
            else:
                complete = False  # CONNZ knows users by public key only
        if flt.state != "open":
            body["state"] = _STATES[flt.state]
        return body, complete

    async def fetch(self, source: DataSource) -> Fetched:
        try:
            statsz = await source.ping("STATSZ")
        except NatsopsError as exc:
            # Without the counts the deployment is taken as small: every
            # connection is fetched, as before CONNZ's top N was used.
            log.debug("STATSZ for the connection count: %s", exc)
            total = 0
        else:
            total = sum(
                int(d.get("connections") or 0)
                for d in statsz.data().values()
                if isinstance(d, dict)
            )
        # Names the event store learnt from account events, then the views'.
        store = getattr(source, "events", None)
        names = dict(getattr(store, "account_names", None) or {})
        names.update(self.account_names)
        body, complete = self.server_filters()
        body["auth"] = True
        column = self.model.sort_column.key
        server_sort = SERVER_SORT.get(column, self.server_sort)
        limit = self.limit or self.page_size()
        scope: dict[str, Any] = {"total": total, "filters": dict(body)}
        scope["filters"].pop("auth")
        if total <= LARGE_DEPLOYMENT or not complete:
            result = await source.paged("CONNZ", body, "connections")
            scope["mode"] = "all" if total <= LARGE_DEPLOYMENT else "all-filtered"
        else:
            body["sort"] = server_sort[0]
            result = await source.paged(
                "CONNZ",
                body,
                "connections",
                page_size=min(limit, 1024),
                max_items=limit,
            )
            scope.update(mode="top", sort=server_sort, limit=limit)
        entries: list[Entry] = []
        append = entries.append
        matching = 0
        for server, data in sorted(result.data().items()):
            conns = data.get("connections") or ()
            matching += int(data.get("total") or 0)
            for start in range(0, len(conns), CHUNK):
                for conn in conns[start : start + CHUNK]:
                    if isinstance(conn, dict):
                        append(connection_entry(server, conn, names))
                await asyncio.sleep(0)
        if scope["mode"] == "top":
            entries = top_entries(entries, self.COLUMNS, *scope["sort"], limit)
            # CONNZ counts a user filter's matches before filtering them.
            scope["matching"] = None if "user" in body else matching
        return Fetched(
            self.NAME, result=roll_call_only(result), entries=entries, extra=scope
        )

    def apply(self, fetched: Fetched) -> None:
        self.scope = dict(fetched.extra)
        self.mode = str(self.scope.get("mode") or "")
        if self.mode == "top":
            self.server_sort = self.scope["sort"]
            # A deeper page asked meanwhile keeps its larger limit.
            self.limit = max(self.limit, int(self.scope["limit"]))
        super().apply(fetched)

    # -- filter, sort and deeper pages -------------------------------------------

    def set_filter(self, text: str) -> bool:
        flt = parse_conn_filter(text)
        try:
            self.model.set_filter(flt.rest)
        except re.error as exc:
            self.filter_error = f"invalid expression: {exc}"
            self.filter_input.add_class("-invalid")
            self.update_title()
            return False
        old = self.conn_filter
        words_changed = (flt.accounts, flt.users, flt.state) != (
            old.accounts,
            old.users,
            old.state,
        )
        large = self.mode in ("top", "all-filtered")
        self.conn_filter = flt
        self.model.set_predicate(self._word_predicate(flt) if flt.words else None)
        self.model.filter_text = text
        self.filter_error = ""
        self.filter_input.remove_class("-invalid")
        self.table.sync()
        self.update_title()
        # Refetch when what CONNZ is asked changes: other server-side filters, or
        # (in a large deployment) a regex that starts or stops needing everything.
        if words_changed or (large and bool(flt.rest) != bool(old.rest)):
            self.limit = 0
            self._refetch()
        return True

    def _word_predicate(self, flt: ConnFilter) -> Any:
        """The filter words applied to rows as well (CONNZ applied them already
        on a live source; recorded replies and names need it here)."""
        acc_i, user_i, state_i = self.HIDDEN, self.HIDDEN + 1, self.HIDDEN + 2
        accounts = {a.lower() for a in flt.accounts}
        users = {u.lower() for u in flt.users}
        state = flt.state

        def keep(row: Row) -> bool:
            values = row.values
            if accounts and not (
                str(values[acc_i]).lower() in accounts
                or str(values[3]).lower() in accounts
            ):
                return False
            if users and not (
                str(values[user_i]).lower() in users or str(values[4]).lower() in users
            ):
                return False
            return state == "all" or values[state_i] == state

        return keep

    def sort_by(self, key: str, reverse: bool | None = None) -> None:
        super().sort_by(key, reverse)
        if self.mode == "top" and key in SERVER_SORT:
            if SERVER_SORT[key] != self.server_sort:
                # Another ranking: start again from its top.
                self.limit = 0
                self.table.move_cursor(0)
                self._refetch()

    def on_windowed_table_highlighted(self, event: WindowedTable.Highlighted) -> None:
        """Near the end of the top N: ask for a deeper page."""
        if self.mode != "top" or event.table is not self.table:
            return
        loaded = len(self.model)
        total = int(self.scope.get("total") or 0)
        near_end = self.table.cursor >= loaded - self.table.body_height
        if near_end and loaded < total and self.limit <= loaded:
            self.limit = self.page_size(more=self.limit)
            self._refetch()

    def _refetch(self) -> None:
        app: Any = self.app
        if getattr(app, "started", False) and app.current == self.NAME:
            app.poll_now(self.NAME)

    def title_extra(self) -> Text | str:
        scope = self.scope
        text = Text()
        total = scope.get("total")
        filters = scope.get("filters") or {}
        where = " ".join(
            f"{k}:{short_key(self.account_names.get(v, v)) if k == 'acc' else v}"
            for k, v in sorted(filters.items())
        )
        if self.mode == "top":
            key, _largest = scope["sort"]
            text.append(f"top {scope['limit']:,} of {total:,} by {key}", style="bold")
            if where:
                matching = scope.get("matching")
                text.append(f", filter {where}")
                if matching is not None:
                    text.append(f" ({matching:,} match)")
            column = self.model.sort_column.key
            if SERVER_SORT.get(column) != scope["sort"]:
                text.append(f", shown by {self.model.sort_column.label}")
            elif self.model.sort_reverse != scope["sort"][1]:
                text.append(", shown in reverse")
        elif self.mode == "all-filtered":
            text.append(
                f"the filter needs every connection: fetched all {total:,}",
                style="bold yellow",
            )
        elif where:
            text.append(f"server filter {where}")
        return text

    # -- selection -----------------------------------------------------------------

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


def top_entries(
    entries: list[Entry],
    columns: list[Column],
    server_key: str,
    largest: bool,
    limit: int,
) -> list[Entry]:
    """The ``limit`` entries first by the column CONNZ sorted on (None last)."""
    column = next(
        (c for c, (key, _) in SERVER_SORT.items() if key == server_key), "cid"
    )
    index = next(i for i, c in enumerate(columns) if c.key == column)

    def value(entry: Entry) -> Any:
        v = entry[1][index]
        return v if isinstance(v, int | float) else float("-inf" if largest else "inf")

    pick = heapq.nlargest if largest else heapq.nsmallest
    return pick(limit, entries, key=value)
