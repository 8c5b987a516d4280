"""Events view: the live event list, counts and rates, and the incident panels.

The app pulls a batch from the :class:`~natsops.events.EventStore` at most ten times
a second while this view is shown; the store keeps counting while it is hidden.
"""

from __future__ import annotations

import re
import time
from functools import total_ordering
from typing import Any, ClassVar

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Static

from natsops.events import EventCursor, EventFilter, EventStore
from natsops.ui import fmt
from natsops.ui.table import Column, Row
from natsops.ui.views.base import Selection, TableView, to_json

#: The panels are redrawn at most this often (seconds) while events arrive.
PANEL_INTERVAL = 0.5

_SEVERITY_TONES = {"critical": "error", "error": "error", "warning": "warning"}
_SPEC = re.compile(r"^(type|kind|server|account|sev|severity):(.*)$", re.IGNORECASE)


def _severity_tone(value: Any) -> str | None:
    return _SEVERITY_TONES.get(str(value))


@total_ordering
class LazyCell:
    """An event's time or summary, worked out when first shown, sorted or filtered.

    A storm brings thousands of events between two pulls and only a screenful is
    ever looked at; the summary needs the whole payload decoded and redacted.
    """

    __slots__ = ("ev", "field")

    def __init__(self, ev: Any, field: str) -> None:
        self.ev = ev
        self.field = field

    @property
    def value(self) -> Any:
        return getattr(self.ev, self.field)

    def __str__(self) -> str:
        value = self.value
        return fmt.clock(value) if self.field == "time" else str(value)

    def __eq__(self, other: object) -> bool:
        other_value = other.value if isinstance(other, LazyCell) else other
        return bool(self.value == other_value)

    def __lt__(self, other: object) -> bool:
        other_value = other.value if isinstance(other, LazyCell) else other
        return bool(self.value < other_value)

    def __hash__(self) -> int:
        return hash(self.value)


def event_row(position: int, ev: Any) -> Row:
    """One event as a row keyed by its position in the store (oldest first)."""
    values = (
        position,
        LazyCell(ev, "time"),
        ev.severity,
        ev.kind,
        ev.server,
        ev.account,
        LazyCell(ev, "summary"),
    )
    return Row(f"{position:012d}", values, ev, _SEVERITY_TONES.get(ev.severity))


def parse_event_filter(text: str) -> tuple[EventFilter, str]:
    """``type:X server:Y account:Z sev:warning rest`` -> (EventFilter, rest regex)."""
    types: list[str] = []
    servers: list[str] = []
    accounts: list[str] = []
    severity = "info"
    rest: list[str] = []
    for word in text.split():
        match = _SPEC.match(word)
        if not match or not match.group(2):
            rest.append(word)
            continue
        field, value = match.group(1).lower(), match.group(2)
        if field in ("type", "kind"):
            types.append(value)
        elif field == "server":
            servers.append(value)
        elif field == "account":
            accounts.append(value)
        else:
            severity = value.lower()
    return EventFilter(types, servers, accounts, min_severity=severity), " ".join(rest)


class EventsView(TableView):
    """Live events, newest first, with per-type counts and incident panels."""

    NAME = "events"
    TITLE = "Events"
    KEY = "9"
    ALIASES = ("ev", "event")
    KIND = "event"
    POLLS = False
    SORT = "seq"
    COLUMNS: ClassVar[list[Column]] = [
        Column("seq", "#", align="right", desc=True),
        Column("time", "TIME", fmt=str, desc=True),
        Column("severity", "SEV", tone=_severity_tone),
        Column("kind", "KIND", max_width=26),
        Column("server", "SERVER"),
        Column("account", "ACCOUNT", max_width=14),
        Column("summary", "SUMMARY", fmt=str, max_width=160),
    ]

    DEFAULT_CSS = """
    EventsView > .events-body { height: 1fr; }
    EventsView #events-main { width: 2fr; }
    EventsView #events-panels { width: 1fr; min-width: 38; }
    EventsView .panel { border-top: solid $primary 50%; padding: 0 1; }
    EventsView #panel-counts { height: 12; }
    EventsView #panel-conns { height: 3; }
    EventsView #panel-auth { height: 8; }
    EventsView #panel-leaders { height: 1fr; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.model.set_sort("seq", True)
        self.store: EventStore | None = None
        self.reader: EventCursor | None = None
        self.missed = 0
        self.pulls = 0
        self._panels_at = 0.0
        self.replay = False
        self.counts_panel = Static(classes="panel", id="panel-counts")
        self.auth_panel = Static(classes="panel", id="panel-auth")
        self.leader_panel = Static(classes="panel", id="panel-leaders")
        self.conn_panel = Static(classes="panel", id="panel-conns")
        self.event_filter: EventFilter | None = None

    def compose(self) -> ComposeResult:
        with Horizontal(classes="view-head"):
            yield self.title_bar
            yield self.filter_input
        with Horizontal(classes="events-body"):
            with Vertical(id="events-main"):
                yield self.table
            with Vertical(id="events-panels"):
                yield self.counts_panel
                yield self.conn_panel
                yield self.auth_panel
                yield self.leader_panel

    def attach(self, store: EventStore | None, *, replay: bool = False) -> None:
        """Read from ``store`` (from its oldest buffered event)."""
        self.store = store
        self.replay = replay
        self.reader = store.cursor(from_start=True) if store is not None else None

    def pull(self) -> int:
        """Take what arrived since the last pull into the table and panels."""
        if self.store is None or self.reader is None:
            self.update_title()
            return 0
        self.pulls += 1
        start = self.reader.position
        batch = self.reader.pull(self.store.capacity)
        self.missed += batch.missed
        first = self.reader.position - len(batch.events)
        if batch.events:
            # On the top row (the newest, by default) the cursor follows new
            # events; anywhere else it stays on the event it is on.
            follow = self.table.cursor == 0
            rows = [event_row(first + i, ev) for i, ev in enumerate(batch.events)]
            # Keys and the # column grow with the position: appending is cheap.
            self.model.extend(rows, keep=self.store.capacity, in_order=0)
            self.table.sync()
            if follow:
                self.table.move_cursor(0)
        # Counts, rates and timelines change slowly to the eye: redrawing them at
        # the table's ten times a second would only cost keys their response.
        now = time.monotonic()
        if now - self._panels_at >= PANEL_INTERVAL:
            self._panels_at = now
            self.refresh_panels()
        self.update_title()
        return self.reader.position - start

    # -- filter: type/server/account/severity words plus a regex ------------------

    def set_filter(self, text: str) -> bool:
        flt, rest = parse_event_filter(text)
        try:
            self.model.set_filter(rest)
        except re.error as exc:
            self.filter_error = f"invalid expression: {exc}"
            self.filter_input.add_class("-invalid")
            self.update_title()
            return False
        self.event_filter = None if flt.empty else flt
        if self.event_filter is None:
            self.model.set_predicate(None)
        else:
            matches = self.event_filter.matches
            self.model.set_predicate(lambda row: matches(row.data))
        self.model.filter_text = text
        self.filter_error = ""
        self.filter_input.remove_class("-invalid")
        self.table.sync()
        self.update_title()
        return True

    # -- panels ---------------------------------------------------------------------

    def _now(self) -> float | None:
        if self.store is None:
            return None
        if self.replay:
            return self.store.last_received or None
        return time.time()

    def refresh_panels(self) -> None:
        store = self.store
        if store is None:
            self.counts_panel.update(Text("no event feed", style="dim"), layout=False)
            return
        now = self._now()
        rates = store.rates(now=now)
        counts = Table.grid(padding=(0, 1))
        counts.add_column(style="bold")
        counts.add_column(justify="right")
        counts.add_column(justify="right")
        top = sorted(store.by_kind.items(), key=lambda kv: (-kv[1], kv[0]))[:8]
        by_kind_rates = store.rates(now=now, by="kind")
        for kind, n in top:
            counts.add_row(kind, fmt.count(n), fmt.rate(by_kind_rates.get(kind, 0.0)))
        total = Text(
            f"{fmt.count(store.seen - store.duplicates)} events, "
            f"{fmt.rate(sum(rates.values()))}"
        )
        if store.seq_dropped:
            total.append(f", {store.seq_dropped} dropped (seq gaps)", style="bold")
        # The panels have fixed heights: new content needs no new layout, which
        # would cost the whole screen a reflow ten times a second in a storm.
        self.counts_panel.update(
            Group(Text("counts", style="bold underline"), total, counts), layout=False
        )

        series = store.connects_per_second(60, now=now)
        ups = [c for _s, c, _d in series]
        downs = [d for _s, _c, d in series]
        conn = Text()
        conn.append("connects/s    ", style="bold")
        conn.append(fmt.sparkline(ups, 30) or "-")
        conn.append(f" {ups[-1] if ups else 0}\n")
        conn.append("disconnects/s ", style="bold")
        conn.append(fmt.sparkline(downs, 30) or "-")
        conn.append(f" {downs[-1] if downs else 0}")
        self.conn_panel.update(conn, layout=False)

        auth = Text()
        auth.append("auth errors", style="bold underline")  # the title only
        errors = store.auth_errors()[-6:]
        if not errors:
            auth.append("\nnone", style="dim")
        for ev in reversed(errors):
            auth.append(f"\n{fmt.clock(ev.time)} ", style="dim")
            auth.append(ev.summary, style="bold red")
        self.auth_panel.update(auth, layout=False)

        leaders = Text()
        leaders.append("leadership", style="bold underline")  # the title only
        changes = store.leadership()[-8:]
        if not changes:
            leaders.append("\nno elections seen", style="dim")
        for change in reversed(changes):
            leaders.append(f"\n{fmt.clock(change.time)} ", style="dim")
            leaders.append(f"{change.scope} {change.target}".strip(), style="bold")
            leaders.append(f" -> {change.leader}")
        self.leader_panel.update(leaders, layout=False)

    def title_extra(self) -> Text | str:
        text = Text()
        if self.store is None:
            text.append("no event feed")
            return text
        text.append(f"buffer {len(self.store)}/{self.store.capacity}")
        if self.missed:
            text.append(f"  {self.missed} left the buffer unseen", style="bold")
        if self.replay:
            text.append("  replay", style="bold")
        return text

    def detail(self, selection: Selection) -> Any:
        return self.raw_json(selection)

    def raw_json(self, selection: Selection) -> str:
        ev = selection.data
        return to_json(ev.to_dict() if hasattr(ev, "to_dict") else ev)

    def row_title(self, row: Row) -> str:
        return f"event #{row.values[0]} {row.values[3]}"
