"""Servers view: one row per known server, live rates, and the ones that went silent."""

from __future__ import annotations

import asyncio
from collections import deque
from typing import TYPE_CHECKING, Any, ClassVar

from rich.console import Group
from rich.table import Table
from rich.text import Text

from natsops.fanout import LAME_DUCK, MISSING, OK, SHUTDOWN, FanoutResult
from natsops.ui import fmt
from natsops.ui.table import Column, Row
from natsops.ui.views.base import Fetched, Selection, TableView, to_json

if TYPE_CHECKING:
    from natsops.ui.source import DataSource

_HISTORY = 24
#: Samples shown in the trend column (the table must fit a 160-column terminal).
_TREND = 12


def state_tone(state: Any) -> str | None:
    if state == OK:
        return "ok"
    if state in (MISSING, LAME_DUCK):
        return "warning"
    if state == SHUTDOWN:
        return "error"
    return None


def _nonzero_warn(value: Any) -> str | None:
    return "warning" if isinstance(value, int | float) and value > 0 else None


class RateTracker:
    """Per-key counter samples turned into per-second rates, with a short history."""

    def __init__(self) -> None:
        self._last: dict[str, tuple[float, tuple[float, ...]]] = {}
        self.history: dict[str, deque[float]] = {}

    def update(
        self, key: str, at: float, counters: tuple[float, ...]
    ) -> list[float | None]:
        """Rates since the previous sample of ``key`` (None on the first one)."""
        before = self._last.get(key)
        self._last[key] = (at, counters)
        if before is None or at <= before[0]:
            return [None] * len(counters)
        dt = at - before[0]
        rates: list[float | None] = [
            max(0.0, (now - old) / dt)
            for now, old in zip(counters, before[1], strict=True)
        ]
        return rates

    def push(self, key: str, value: float | None) -> list[float]:
        hist = self.history.setdefault(key, deque(maxlen=_HISTORY))
        if value is not None:
            hist.append(value)
        return list(hist)


class ServersView(TableView):
    """Every server: identity, load, traffic rates and links; missing ones stay."""

    NAME = "servers"
    TITLE = "Servers"
    KEY = "1"
    ALIASES = ("srv", "server")
    KIND = "server"
    SORT = "name"
    COLUMNS: ClassVar[list[Column]] = [
        Column("name", "SERVER", min_width=6),
        Column("cluster", "CLUSTER"),
        Column("state", "STATE", tone=state_tone),
        Column("version", "VERSION"),
        Column("uptime", "UPTIME", align="right", fmt=fmt.duration, desc=True),
        Column("cpu", "CPU", align="right", fmt=fmt.percent, desc=True),
        Column("mem", "MEM", align="right", fmt=fmt.size, desc=True),
        Column("conns", "CONNS", align="right", fmt=fmt.count, desc=True),
        Column("subs", "SUBS", align="right", fmt=fmt.count, desc=True),
        Column("in_msgs", "IN MSG/S", align="right", fmt=fmt.rate, desc=True),
        Column("out_msgs", "OUT MSG/S", align="right", fmt=fmt.rate, desc=True),
        Column("in_bytes", "IN B/S", align="right", fmt=fmt.byte_rate, desc=True),
        Column("out_bytes", "OUT B/S", align="right", fmt=fmt.byte_rate, desc=True),
        Column("trend", "MSG/S TREND", min_width=_TREND, max_width=_TREND),
        Column(
            "slow", "SLOW", align="right", fmt=fmt.count, tone=_nonzero_warn, desc=True
        ),
        Column("routes", "ROUTES", align="right", fmt=fmt.count),
        Column("gateways", "GW", align="right", fmt=fmt.count),
        Column("leafnodes", "LEAF", align="right", fmt=fmt.count),
        Column("js", "JS"),
        Column("latency", "REPLY", align="right", fmt=fmt.millis, desc=True),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.rates = RateTracker()
        self.known: dict[str, dict[str, Any]] = {}

    async def fetch(self, source: DataSource) -> Fetched:
        varz, statsz = await asyncio.gather(source.ping("VARZ"), source.ping("STATSZ"))
        entries = {
            e.name: {"state": e.state, "cluster": e.cluster, "version": e.version}
            for e in source.roster.entries()
        }
        return Fetched(
            self.NAME,
            result=varz,
            extra={"statsz": statsz, "roster": entries, "now": source.now()},
        )

    def build_rows(self, fetched: Fetched) -> list[Row]:
        varz = fetched.result
        assert varz is not None
        statsz: FanoutResult = fetched.extra["statsz"]
        roster: dict[str, dict[str, Any]] = fetched.extra["roster"]
        now = fetched.extra["now"]
        rows: list[Row] = []
        names = (
            set(roster) | set(varz.replies) | set(statsz.replies) | set(varz.missing)
        )
        for name in sorted(names):
            reply = varz.replies.get(name)
            stats = statsz.replies.get(name)
            if reply is None or reply.data is None:
                rows.append(self._silent_row(name, roster.get(name), varz, statsz))
                continue
            rows.append(self._row(name, reply, stats, roster.get(name), now))
        return rows

    def _row(
        self,
        name: str,
        reply: Any,
        stats: Any,
        entry: dict[str, Any] | None,
        now: float,
    ) -> Row:
        data: dict[str, Any] = reply.data
        sdata: dict[str, Any] = (stats.data if stats is not None else None) or {}
        info = reply.server
        cluster = info.cluster or (data.get("cluster") or {}).get("name", "")
        state = (entry or {}).get("state", OK)
        if state == MISSING:
            state = OK  # it answered this round
        stamp = fmt.parse_time(data.get("now"))
        at = stamp if stamp is not None else now
        counters = tuple(
            float(data.get(k) or 0)
            for k in ("in_msgs", "out_msgs", "in_bytes", "out_bytes")
        )
        in_msgs, out_msgs, in_bytes, out_bytes = self.rates.update(name, at, counters)
        total = None if in_msgs is None or out_msgs is None else in_msgs + out_msgs
        trend = fmt.sparkline(self.rates.push(name, total), _TREND)
        start = fmt.parse_time(data.get("start"))
        uptime = (at - start) if start is not None else None
        gateways = sdata.get("gateways")
        js = data.get("jetstream") or {}
        has_js = bool(js.get("config")) if isinstance(js, dict) else False
        self.known[name] = {"cluster": cluster, "version": data.get("version", "")}
        values = (
            name,
            cluster,
            state,
            str(data.get("version") or info.version),
            uptime,
            data.get("cpu"),
            data.get("mem"),
            data.get("connections"),
            data.get("subscriptions"),
            in_msgs,
            out_msgs,
            in_bytes,
            out_bytes,
            trend,
            data.get("slow_consumers"),
            data.get("remotes", data.get("routes")),
            len(gateways) if isinstance(gateways, list) else None,
            data.get("leafnodes"),
            "yes" if has_js else "no",
            reply.latency,
        )
        return Row(name, values, {"varz": data, "statsz": sdata or None}, None)

    def _silent_row(
        self,
        name: str,
        entry: dict[str, Any] | None,
        varz: FanoutResult,
        statsz: FanoutResult,
    ) -> Row:
        known = self.known.get(name, {})
        state = (entry or {}).get("state") or MISSING
        if state == OK:
            state = MISSING
        error = varz.errors.get(name) or statsz.errors.get(name)
        cluster = (entry or {}).get("cluster") or known.get("cluster", "")
        version = (entry or {}).get("version") or known.get("version", "")
        values: tuple[Any, ...] = (
            name,
            cluster,
            "error" if error is not None else state,
            version,
            *([None] * 16),
        )
        data = {"name": name, "state": state, "error": error.error if error else None}
        return Row(name, values, data, "warning")

    def row_title(self, row: Row) -> str:
        return f"server {row.key}"

    def detail(self, selection: Selection) -> Any:
        """A server's VARZ sections as small tables."""
        data = selection.data or {}
        varz = data.get("varz")
        if not isinstance(varz, dict):
            return to_json(data)
        parts: list[Any] = [Text(f"server {selection.key}", style="bold")]
        scalars = Table.grid(padding=(0, 2))
        scalars.add_column(style="bold")
        scalars.add_column()
        for key in sorted(varz):
            value = varz[key]
            if not isinstance(value, dict | list):
                scalars.add_row(key, str(value))
        parts.append(scalars)
        for key in sorted(varz):
            value = varz[key]
            if isinstance(value, dict) and value:
                section = Table(title=key, title_justify="left", show_header=False)
                section.add_column(style="bold")
                section.add_column()
                for sub in sorted(value):
                    section.add_row(sub, _short(value[sub]))
                parts.append(section)
        return Group(*parts)

    def summary(self) -> str:
        return f"servers: {', '.join(self.model.keys())}"


def _short(value: Any, limit: int = 100) -> str:
    text = value if isinstance(value, str) else to_json(value).replace("\n", " ")
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
