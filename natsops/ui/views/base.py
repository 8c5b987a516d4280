"""The parts every dashboard view shares: fetched payloads, selections, table views.

A view's :meth:`View.fetch` runs in a worker and only reads the data source; the
app posts the result back and :meth:`View.apply` changes state on the app's loop.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Input, Static

from natsops.audit import redact
from natsops.dispose import dispose_later
from natsops.fanout import FanoutResult
from natsops.ui.table import (
    Column,
    Entry,
    Prepared,
    Row,
    TableModel,
    WindowedTable,
)

if TYPE_CHECKING:
    from natsops.ui.source import DataSource


@dataclass
class Fetched:
    """What one poll of a view produced (built in a worker, applied by a handler)."""

    view: str
    result: FanoutResult | None = None
    rows: list[Row] | None = None
    #: Rows as plain tuples (large tables build these: cheaper than Row objects).
    entries: list[Entry] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    at: float = field(default_factory=time.monotonic)
    cost: float = 0.0
    #: Diffed and ordered in the worker, for a cheap commit in the handler.
    prepared: Prepared | None = None


def roll_call_only(result: FanoutResult, *keep: str) -> FanoutResult:
    """What a view keeps of ``result`` once its rows hold what they show: the roll
    call and the ``keep`` fields of each reply's data. The replies themselves are
    let go a slice at a time (:func:`natsops.dispose.dispose_later`), never
    mutated: a recording shares them with every view."""
    slim = result.without_payloads(*keep)
    dispose_later(result)
    return slim


@dataclass
class Selection:
    """The thing under the cursor, for detail, raw JSON and operations."""

    view: str
    kind: str
    key: str
    data: Any
    title: str


def to_json(data: Any) -> str:
    """Pretty JSON for the raw view, secrets (JWTs, seeds) replaced."""
    return json.dumps(redact(data), indent=2, sort_keys=True, default=str)


class View(Vertical):
    """One screenful of the dashboard, reachable by a key and by ``:name``."""

    NAME: ClassVar[str] = ""
    TITLE: ClassVar[str] = ""
    KEY: ClassVar[str] = ""
    ALIASES: ClassVar[tuple[str, ...]] = ()
    #: Whether the view polls the data source on the refresh interval.
    POLLS: ClassVar[bool] = True
    #: What the rows are, for selections and operations.
    KIND: ClassVar[str] = ""

    DEFAULT_CSS = """
    View { height: 1fr; }
    View .view-title { height: 1; padding: 0 1; background: $panel; color: $text; }
    """

    def __init__(self) -> None:
        super().__init__(id=f"view-{self.NAME}", classes="view")
        self.last_fetch: Fetched | None = None
        self.updated_at: float | None = None
        self.error: str = ""

    async def fetch(self, source: DataSource) -> Fetched:
        """Ask the source for this view's data (worker side: no widget access)."""
        return Fetched(self.NAME)

    def apply(self, fetched: Fetched) -> None:
        """Take a fetch's result (handler side: may change widgets)."""
        old, self.last_fetch = self.last_fetch, fetched
        # The previous fetch of a large fleet is a million objects: freed here in
        # one go it would stall the loop for tens of milliseconds.
        dispose_later(old)
        del old
        self.updated_at = fetched.at
        self.error = ""

    def failed(self, message: str) -> None:
        """A fetch failed; keep the old content and say why."""
        self.error = message

    def selection(self) -> Selection | None:
        return None

    def detail(self, selection: Selection) -> Any:
        """The renderable for ``enter`` on a selection (default: its JSON)."""
        return to_json(selection.data)

    def raw_json(self, selection: Selection) -> str:
        """The JSON shown by ``j`` for a selection."""
        return to_json(selection.data)

    async def resolve(self, source: DataSource, selection: Selection) -> Selection:
        """Worker side: complete a selection before its detail is shown (a view
        whose rows do not keep their JSON asks the cluster here)."""
        return selection

    def focus_main(self) -> None:
        """Give focus to the view's main widget."""
        self.focus()

    def clear_or_back(self) -> bool:
        """``esc``: undo the innermost state (True) or let the app go back (False)."""
        return False

    def summary(self) -> str:
        """A short description of the content for tests and the title bar."""
        return ""


class TableView(View):
    """A view whose content is one windowed table with filter and sort."""

    COLUMNS: ClassVar[list[Column]] = []
    SORT: ClassVar[str | None] = None
    #: Extra direct sort keys: letter -> column key (shown in the footer).
    SORT_KEYS: ClassVar[dict[str, str]] = {}

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "filter", "Filter"),
        Binding("s", "sort_next", "Sort"),
        Binding("d", "sort_flip", "Reverse"),
    ]

    DEFAULT_CSS = """
    TableView .view-head { height: 1; background: $panel; }
    TableView .view-head > .view-title { width: 1fr; }
    TableView Input.filter {
        width: 44; height: 1; border: none; padding: 0 1;
        background: $panel; color: $text;
    }
    TableView Input.filter:focus { background: $boost; }
    TableView Input.filter.-invalid { color: $error; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.model = TableModel(self.COLUMNS, sort=self.SORT)
        self.table = WindowedTable(self.model, id=f"table-{self.NAME}")
        self.title_bar = Static(classes="view-title")
        self.filter_input = Input(
            placeholder="/ to filter (regular expression)",
            classes="filter",
            id=f"filter-{self.NAME}",
        )
        self.filter_error = ""
        #: A palette jump waiting for the row to arrive: (row key, fallback filter).
        self.pending_jump: tuple[str, str] | None = None

    def compose(self) -> ComposeResult:
        with Horizontal(classes="view-head"):
            yield self.title_bar
            yield self.filter_input
        yield self.table

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # Direct sort keys become bindings before Textual merges the class bindings.
        keys = cls.__dict__.get("SORT_KEYS")
        if keys:
            own = list(cls.__dict__.get("BINDINGS", []))
            cls.BINDINGS = own + [
                Binding(letter, f"sort('{key}')", f"↕{key}")
                for letter, key in keys.items()
            ]
        super().__init_subclass__(**kwargs)

    def on_mount(self) -> None:
        self.update_title()

    # -- data ------------------------------------------------------------------------

    def build_rows(self, fetched: Fetched) -> list[Row]:
        """Rows for a fetch; table views that build rows in the worker skip this."""
        return fetched.rows or []

    async def prepare(self, fetched: Fetched) -> None:
        """Worker side: diff and order rows built by :meth:`fetch` off the handler."""
        entries = fetched.entries
        if entries is None and fetched.rows is not None:
            entries = [(r.key, r.values, r.data, r.tone) for r in fetched.rows]
        if entries is not None:
            fetched.prepared = await self.model.prepare(entries, chunk=500)

    def apply(self, fetched: Fetched) -> None:
        super().apply(fetched)
        if fetched.prepared is not None:
            self.model.commit(fetched.prepared)
        else:
            rows = (
                fetched.rows if fetched.rows is not None else self.build_rows(fetched)
            )
            self.model.set_rows(rows)
        self.table.sync()
        self.update_title()
        if self.pending_jump is not None:
            key, text = self.pending_jump
            self.pending_jump = None
            if not self.table.select_key(key):
                self.set_filter(text)

    def jump(self, key: str, text: str) -> None:
        """Put the cursor on row ``key``: now, or when the next data arrives (a
        row that is not there then is looked for with the filter ``text``)."""
        if self.model.filter_text and self.model.get(key) is not None:
            self.set_filter("")
        if self.table.select_key(key):
            self.pending_jump = None
            return
        self.pending_jump = (key, text)

    def failed(self, message: str) -> None:
        super().failed(message)
        self.update_title()

    def update_title(self) -> None:
        model = self.model
        text = Text()
        text.append(self.TITLE, style="bold")
        shown, total = len(model), model.total
        text.append(f"  {shown}" if shown == total else f"  {shown}/{total}")
        col = model.sort_column
        text.append(f"  sort {col.label}{'↓' if model.sort_reverse else '↑'}")
        if model.filter_text:
            text.append("  filter /", style="")
            text.append(model.filter_text, style="bold")
        if self.filter_error:
            text.append(f"  {self.filter_error}", style="bold red")
        extra = self.title_extra()
        if extra:
            text.append("  ")
            text.append(extra)
        if self.error:
            text.append(f"  {self.error}", style="bold red")
        # One line of fixed width: a new title never needs a new layout.
        self.title_bar.update(text, layout=False)

    def title_extra(self) -> Text | str:
        return ""

    def summary(self) -> str:
        return f"{self.NAME}: {len(self.model)} rows"

    # -- selection -------------------------------------------------------------------

    def selection(self) -> Selection | None:
        key = self.table.cursor_key
        if key is None:
            return None
        row = self.model.get(key)
        if row is None:
            return None
        return Selection(self.NAME, self.KIND, key, row.data, self.row_title(row))

    def row_title(self, row: Row) -> str:
        return f"{self.KIND} {row.key}"

    def focus_main(self) -> None:
        self.table.focus()

    def on_windowed_table_selected(self, event: WindowedTable.Selected) -> None:
        event.stop()
        selection = self.selection()
        if selection is not None:
            self.app.open_detail(selection)  # type: ignore[attr-defined]

    # -- filter and sort ---------------------------------------------------------------

    def action_filter(self) -> None:
        self.filter_input.value = self.model.filter_text
        self.filter_input.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input is not self.filter_input:
            return
        event.stop()
        self.set_filter(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input is not self.filter_input:
            return
        event.stop()
        self.set_filter(event.value)
        self.table.focus()

    def set_filter(self, text: str) -> bool:
        """Apply a filter; an invalid expression keeps the old one and says why."""
        try:
            self.model.set_filter(text)
        except re.error as exc:
            self.filter_error = f"invalid expression: {exc}"
            self.filter_input.add_class("-invalid")
            self.update_title()
            return False
        self.filter_error = ""
        self.filter_input.remove_class("-invalid")
        self.table.sync()
        self.update_title()
        return True

    def clear_or_back(self) -> bool:
        if self.filter_input.has_focus or self.model.filter_text or self.filter_error:
            self.filter_input.value = ""
            self.set_filter("")
            self.table.focus()
            return True
        return False

    def sort_by(self, key: str, reverse: bool | None = None) -> None:
        self.model.set_sort(key, reverse)
        self.table.sync()
        self.table.refresh()
        self.update_title()

    def action_sort(self, key: str) -> None:
        self.sort_by(key)

    def action_sort_next(self) -> None:
        cols = self.model.columns
        nxt = cols[(self.model.sort_index + 1) % len(cols)]
        self.sort_by(nxt.key, nxt.desc)

    def action_sort_flip(self) -> None:
        self.sort_by(self.model.sort_column.key, not self.model.sort_reverse)
