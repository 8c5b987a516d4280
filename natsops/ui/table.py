"""A windowed table: the model holds every row, the widget paints only what is seen.

:class:`TableModel` keeps rows by key with raw values, sorts and filters them and
applies keyed diffs. :class:`WindowedTable` is a Line API widget that formats and
paints just the visible window, so 100,000 rows cost no more than 50 to draw and a
refresh never rebuilds widgets.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from itertools import islice
from typing import Any, ClassVar

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from natsops.dispose import gc_held

#: Tones a cell or row may carry; each maps to a component class of the widget.
TONES = ("ok", "warning", "error", "dim", "accent")

Formatter = Callable[[Any], str]
ToneFn = Callable[[Any], "str | None"]


def _plain(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


@dataclass(frozen=True, slots=True)
class Column:
    """One column: how to label, format, colour and sort its raw values."""

    key: str
    label: str
    align: str = "left"
    min_width: int = 0
    max_width: int = 40
    fmt: Formatter = _plain
    tone: ToneFn | None = None
    #: Sort descending first (numbers people look at the top of).
    desc: bool = False


@dataclass(slots=True)
class Row:
    """A row by key: raw values (one per column), the source JSON and a row tone."""

    key: str
    values: tuple[Any, ...]
    data: Any = None
    tone: str | None = None
    _text: str | None = field(default=None, repr=False)

    def text(self) -> str:
        """All values as one string, for the regular-expression filter."""
        if self._text is None:
            self._text = " ".join(_plain(v) for v in self.values)
        return self._text


@dataclass(slots=True)
class Diff:
    """What a keyed update changed."""

    added: int = 0
    removed: int = 0
    changed: int = 0
    reordered: bool = False

    @property
    def any(self) -> bool:
        return bool(self.added or self.removed or self.changed or self.reordered)


#: A row as built by a worker: (key, values, source JSON, row tone).
Entry = tuple[str, tuple[Any, ...], Any, "str | None"]


@dataclass(slots=True)
class Prepared:
    """New content diffed and ordered off the handler, ready to :meth:`commit`."""

    rows: dict[str, Row]
    by_key: list[str]
    order: list[str] | None
    index: dict[str, int] | None
    diff: Diff
    base: dict[str, Row]
    state: tuple[Any, ...]


async def _ordered_keys_async(
    rows: dict[str, Row], keys: list[str], index: int, reverse: bool, chunk: int
) -> list[str]:
    """:func:`_ordered_keys` that yields to the loop while decorating."""
    decorated: list[tuple[bool, Any, str]] = []
    append = decorated.append
    for start in range(0, len(keys), chunk):
        with gc_held():
            for k in keys[start : start + chunk]:
                v = rows[k].values[index]
                append((v is not None, 0 if v is None else v, k))
        await asyncio.sleep(0)
    with gc_held():
        try:
            decorated.sort(reverse=reverse)
        except TypeError:  # mixed types in one column: order by their text
            decorated = [(a, _plain(b), k) for a, b, k in decorated]
            decorated.sort(reverse=reverse)
    await asyncio.sleep(0)
    return [k for _a, _b, k in decorated]


def _ordered_keys(
    rows: dict[str, Row],
    keys: list[str],
    index: int,
    reverse: bool,
) -> list[str]:
    """``keys`` sorted by column ``index`` (None first), ties by key, in C."""
    decorated: list[tuple[bool, Any, str]] = []
    append = decorated.append
    for k in keys:
        v = rows[k].values[index]
        append((v is not None, 0 if v is None else v, k))
    try:
        decorated.sort(reverse=reverse)
    except TypeError:  # mixed types in one column: order by their text
        decorated = [(a, _plain(b), k) for a, b, k in decorated]
        decorated.sort(reverse=reverse)
    return [k for _a, _b, k in decorated]


class TableModel:
    """Every row of a table, with a sorted and filtered order of keys."""

    def __init__(
        self,
        columns: Sequence[Column],
        *,
        sort: str | None = None,
        reverse: bool | None = None,
    ) -> None:
        self.columns = list(columns)
        self._rows: dict[str, Row] = {}
        self._by_key: list[str] = []
        self._order: list[str] = []
        self._index: dict[str, int] | None = None
        self.filter_text = ""
        self._filter: re.Pattern[str] | None = None
        self._predicate: Callable[[Row], bool] | None = None
        self.sort_index = self.column_index(sort) if sort else 0
        col = self.columns[self.sort_index]
        self.sort_reverse = col.desc if reverse is None else reverse
        #: Bumped whenever rows or their order change; the widget repaints on it.
        self.version = 0

    # -- reading -------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._order)

    @property
    def total(self) -> int:
        """Rows held, before the filter."""
        return len(self._rows)

    def column_index(self, key: str) -> int:
        for i, col in enumerate(self.columns):
            if col.key == key:
                return i
        raise KeyError(key)

    @property
    def sort_column(self) -> Column:
        return self.columns[self.sort_index]

    def key_at(self, index: int) -> str:
        return self._order[index]

    def row_at(self, index: int) -> Row:
        return self._rows[self._order[index]]

    def get(self, key: str) -> Row | None:
        return self._rows.get(key)

    def keys(self) -> list[str]:
        """Visible keys in display order (a copy)."""
        return list(self._order)

    def rows(self) -> list[Row]:
        """Visible rows in display order."""
        return [self._rows[k] for k in self._order]

    def index_of(self, key: str) -> int | None:
        """Position of ``key`` in the display order (a C-speed scan, no index)."""
        if self._index is not None:
            return self._index.get(key)
        if key not in self._rows:
            return None
        try:
            return self._order.index(key)
        except ValueError:
            return None

    # -- changing ------------------------------------------------------------------

    def set_rows(self, rows: Iterable[Row]) -> Diff:
        """Replace the content with ``rows``, keyed: unchanged rows are kept as is."""
        diff = Diff()
        old = self._rows
        new: dict[str, Row] = {}
        sort_i = self.sort_index
        resort = False
        refilter = False
        for row in rows:
            before = old.get(row.key)
            if before is None:
                diff.added += 1
                new[row.key] = row
                continue
            if before.values == row.values and before.tone == row.tone:
                before.data = row.data
                new[row.key] = before
                continue
            diff.changed += 1
            new[row.key] = row
            if before.values[sort_i] != row.values[sort_i]:
                resort = True
            if self._filter is not None or self._predicate is not None:
                refilter = True
        diff.removed = len(old) - (len(new) - diff.added)
        self._rows = new
        membership = bool(diff.added or diff.removed)
        if membership:
            self._by_key = sorted(new)
        if membership or resort or refilter:
            self._reorder()
            diff.reordered = True
        if diff.any:
            self.version += 1
        return diff

    def _state(self) -> tuple[Any, ...]:
        return (self.sort_index, self.sort_reverse, self.filter_text, self._predicate)

    async def prepare(self, entries: Iterable[Entry], chunk: int = 2000) -> Prepared:
        """Diff ``entries`` against the current rows and order them, without
        changing the model; yields to the loop every ``chunk`` rows (worker side).

        Unchanged rows keep their Row object, so only changed rows are allocated.
        """
        old = self._rows
        state = self._state()
        sort_i = self.sort_index
        filtered = self._filter is not None or self._predicate is not None
        new: dict[str, Row] = {}
        diff = Diff()
        resort = False
        it = iter(entries)
        while True:
            taken = 0
            with gc_held():
                for key, values, data, tone in islice(it, chunk):
                    taken += 1
                    before = old.get(key)
                    if before is None:
                        diff.added += 1
                        new[key] = Row(key, values, data, tone)
                    elif before.values == values and before.tone == tone:
                        before.data = data
                        new[key] = before
                    else:
                        diff.changed += 1
                        new[key] = Row(key, values, data, tone)
                        if before.values[sort_i] != values[sort_i]:
                            resort = True
            if taken < chunk:
                break
            await asyncio.sleep(0)
        diff.removed = len(old) - (len(new) - diff.added)
        membership = bool(diff.added or diff.removed)
        by_key = sorted(new) if membership else self._by_key
        order: list[str] | None = None
        index: dict[str, int] | None = None
        if membership or resort or (filtered and diff.changed):
            await asyncio.sleep(0)
            if not membership and not filtered:
                # The same rows: start from the current order, which is nearly
                # sorted already, so the sort below runs in close to linear time.
                keys = self._order
            else:
                keys = by_key
                if self._filter is not None:
                    search = self._filter.search
                    keys = [k for k in keys if search(new[k].text())]
                if self._predicate is not None:
                    keep = self._predicate
                    keys = [k for k in keys if keep(new[k])]
            await asyncio.sleep(0)
            order = await _ordered_keys_async(
                new, list(keys), sort_i, self.sort_reverse, chunk
            )
            diff.reordered = True
        return Prepared(new, by_key, order, index, diff, old, state)

    def commit(self, prepared: Prepared) -> Diff:
        """Take prepared content (handler side, cheap); re-sorts only if the sort or
        filter changed since it was prepared."""
        if prepared.base is not self._rows:
            return self.set_rows(
                [Row(r.key, r.values, r.data, r.tone) for r in prepared.rows.values()]
            )
        self._rows = prepared.rows
        self._by_key = prepared.by_key
        if prepared.state != self._state():
            self._reorder()
        elif prepared.order is not None:
            self._order = prepared.order
            self._index = prepared.index
        if prepared.diff.any:
            self.version += 1
        return prepared.diff

    def set_sort(self, key: str, reverse: bool | None = None) -> None:
        """Sort by column ``key``; the same column again flips the direction."""
        index = self.column_index(key)
        if reverse is None:
            if index == self.sort_index:
                reverse = not self.sort_reverse
            else:
                reverse = self.columns[index].desc
        self.sort_index = index
        self.sort_reverse = reverse
        self._reorder()
        self.version += 1

    def set_filter(self, text: str) -> None:
        """Keep rows whose values match ``text`` (a case-insensitive regex).

        Raises ``re.error`` for an invalid expression and keeps the old filter.
        """
        pattern = re.compile(text, re.IGNORECASE) if text else None
        self.filter_text = text
        self._filter = pattern
        self._reorder()
        self.version += 1

    def set_predicate(self, predicate: Callable[[Row], bool] | None) -> None:
        """Also keep only rows for which ``predicate`` holds (None: all)."""
        self._predicate = predicate
        self._reorder()
        self.version += 1

    def extend(
        self, rows: Iterable[Row], keep: int | None = None, in_order: int | None = None
    ) -> Diff:
        """Add new rows (an append-only feed), dropping the oldest beyond ``keep``.

        ``in_order`` names a column whose values, like the keys, grow with every
        row ever added (a sequence number): sorted by it, the new rows go to one
        end of the order and the dropped ones leave the other, without a re-sort.
        """
        diff = Diff()
        new: list[str] = []
        for row in rows:
            if row.key not in self._rows:
                diff.added += 1
                new.append(row.key)
            self._rows[row.key] = row
        dropped: list[str] = []
        if keep is not None and len(self._rows) > keep:
            excess = len(self._rows) - keep
            dropped = list(islice(self._rows, excess))
            for key in dropped:
                del self._rows[key]
            diff.removed = excess
        if not (diff.added or diff.removed):
            return diff
        fast = (
            in_order is not None
            and in_order == self.sort_index
            and diff.added == len(new)
            and (not self._by_key or not new or new[0] > self._by_key[-1])
        )
        if fast:
            self._append_in_order(new, set(dropped))
        else:
            self._by_key = sorted(self._rows)
            self._reorder()
        diff.reordered = True
        self.version += 1
        return diff

    def _append_in_order(self, new: list[str], dropped: set[str]) -> None:
        """:meth:`extend`'s fast path: new keys at one end, dropped off the other."""
        rows = self._rows
        if dropped:
            # A batch larger than ``keep`` drops some of its own rows too.
            new = [k for k in new if k in rows]
            self._by_key = [k for k in self._by_key if k in rows]
        self._by_key.extend(new)
        visible = new
        if self._filter is not None:
            search = self._filter.search
            visible = [k for k in visible if search(rows[k].text())]
        if self._predicate is not None:
            keep = self._predicate
            visible = [k for k in visible if keep(rows[k])]
        order = self._order
        if self.sort_reverse:
            while order and order[-1] in dropped:
                order.pop()
            visible.reverse()
            self._order = visible + order
        else:
            start = 0
            while start < len(order) and order[start] in dropped:
                start += 1
            self._order = order[start:] + visible
        self._index = None

    def _reorder(self) -> None:
        rows = self._rows
        if len(self._by_key) != len(rows):
            self._by_key = sorted(rows)
        keys = self._by_key
        if self._filter is not None:
            search = self._filter.search
            keys = [k for k in keys if search(rows[k].text())]
        else:
            keys = list(keys)
        if self._predicate is not None:
            keep = self._predicate
            keys = [k for k in keys if keep(rows[k])]
        self._order = _ordered_keys(rows, keys, self.sort_index, self.sort_reverse)
        self._index = None


class WindowedTable(ScrollView, can_focus=True):
    """Paints the visible window of a :class:`TableModel`; the cursor follows keys."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "cursor(-1)", "Up", show=False),
        Binding("down", "cursor(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "jump(0)", "Top", show=False),
        Binding("end", "jump(-1)", "Bottom", show=False),
        Binding("enter", "select", "Detail"),
    ]

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "windowed-table--header",
        "windowed-table--header-sorted",
        "windowed-table--cursor",
        *(f"windowed-table--{tone}" for tone in TONES),
    }

    DEFAULT_CSS = """
    WindowedTable {
        background: $surface;
        color: $foreground;
        height: 1fr;
        scrollbar-gutter: stable;
    }
    WindowedTable > .windowed-table--header {
        background: $panel;
        color: $text;
        text-style: bold;
    }
    WindowedTable > .windowed-table--header-sorted {
        background: $panel;
        color: $accent;
        text-style: bold;
    }
    WindowedTable > .windowed-table--cursor {
        background: $secondary 30%;
    }
    WindowedTable:focus > .windowed-table--cursor {
        background: $block-cursor-background;
        color: $block-cursor-foreground;
        text-style: $block-cursor-text-style;
    }
    WindowedTable > .windowed-table--ok { color: $success; }
    WindowedTable > .windowed-table--warning { color: $warning; text-style: bold; }
    WindowedTable > .windowed-table--error { color: $error; text-style: bold; }
    WindowedTable > .windowed-table--dim { color: $text-muted; }
    WindowedTable > .windowed-table--accent { color: $accent; }
    """

    class Highlighted(Message):
        """The cursor moved to another row."""

        def __init__(self, table: WindowedTable, key: str | None) -> None:
            super().__init__()
            self.table = table
            self.key = key

    class Selected(Message):
        """``enter`` on a row."""

        def __init__(self, table: WindowedTable, key: str) -> None:
            super().__init__()
            self.table = table
            self.key = key

    def __init__(
        self,
        model: TableModel,
        *,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.model = model
        self.cursor = 0
        self.cursor_key: str | None = None
        # Room for the label and the sort arrow; values widen columns as needed.
        self._widths = [max(c.min_width, cell_len(c.label) + 1) for c in model.columns]
        self._seen_version = -1
        self._cells: dict[str, tuple[tuple[Any, ...], list[str]]] = {}
        self._lines: dict[tuple[Any, ...], Strip] = {}
        self._widths_gen = 0
        self._styles: dict[str, Style] | None = None
        self.lines_rendered = 0

    # -- model sync ----------------------------------------------------------------

    @property
    def body_height(self) -> int:
        """Rows that fit under the header."""
        return max(1, self.scrollable_content_region.height - 1)

    def sync(self) -> None:
        """Take the model's new content: keep the cursor on its key and the scroll."""
        model = self.model
        count = len(model)
        if self.cursor_key is not None:
            index = model.index_of(self.cursor_key)
            if index is not None:
                self.cursor = index
        self.cursor = min(self.cursor, max(0, count - 1))
        new_key = model.key_at(self.cursor) if count else None
        moved = new_key != self.cursor_key
        self.cursor_key = new_key
        self._seen_version = model.version
        if len(self._cells) > 4 * max(64, self.body_height):
            self._cells.clear()
        if len(self._lines) > 4 * max(64, self.body_height):
            self._lines.clear()
        self.virtual_size = Size(self._total_width(), count + 1)
        self._keep_cursor_visible()
        self.refresh()
        if moved:
            self.post_message(self.Highlighted(self, new_key))

    def _total_width(self) -> int:
        return sum(self._widths) + len(self._widths) + 1

    # -- cursor --------------------------------------------------------------------

    def move_cursor(self, index: int) -> None:
        """Put the cursor on row ``index`` (clamped) and scroll it into view."""
        count = len(self.model)
        index = max(0, min(index, count - 1)) if count else 0
        key = self.model.key_at(index) if count else None
        changed = key != self.cursor_key or index != self.cursor
        old = self.cursor
        top = round(self.scroll_y)
        self.cursor = index
        self.cursor_key = key
        self._keep_cursor_visible()
        if changed:
            if round(self.scroll_y) == top:
                # Only the two cursor lines changed. ``refresh_line`` takes virtual
                # lines (it subtracts the scroll): row i is virtual line i + 1, as
                # line 0 of the widget is the header.
                self.refresh_line(old + 1)
                self.refresh_line(index + 1)
            else:
                self.refresh()
            self.post_message(self.Highlighted(self, key))

    def select_key(self, key: str) -> bool:
        """Move the cursor to the row with ``key``; False when it is not shown."""
        index = self.model.index_of(key)
        if index is None:
            return False
        self.move_cursor(index)
        return True

    def _keep_cursor_visible(self) -> None:
        top = round(self.scroll_y)
        height = self.body_height
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False, immediate=True)
        elif self.cursor >= top + height:
            self.scroll_to(y=self.cursor - height + 1, animate=False, immediate=True)

    def action_cursor(self, step: int) -> None:
        self.move_cursor(self.cursor + step)

    def action_page(self, step: int) -> None:
        self.move_cursor(self.cursor + step * self.body_height)

    def action_jump(self, where: int) -> None:
        self.move_cursor(0 if where == 0 else len(self.model) - 1)

    def action_select(self) -> None:
        if self.cursor_key is not None:
            self.post_message(self.Selected(self, self.cursor_key))

    async def _on_click(self, event: events.Click) -> None:
        if event.y >= 1:
            self.move_cursor(round(self.scroll_y) + event.y - 1)

    # -- painting ------------------------------------------------------------------

    def _cells_for(self, row: Row) -> list[str]:
        cached = self._cells.get(row.key)
        if cached is not None and cached[0] is row.values:
            return cached[1]
        texts = [
            col.fmt(v) for col, v in zip(self.model.columns, row.values, strict=False)
        ]
        self._cells[row.key] = (row.values, texts)
        return texts

    def render_lines(self, crop: Region) -> list[Strip]:
        """Widen columns to fit the visible rows before painting them."""
        model = self.model
        top = round(self.scroll_y)
        end = min(len(model), top + self.body_height)
        widths = self._widths
        grew = False
        for i in range(top, end):
            for c, text in enumerate(self._cells_for(model.row_at(i))):
                need = min(cell_len(text), model.columns[c].max_width)
                if need > widths[c]:
                    widths[c] = need
                    grew = True
        if grew:
            self._widths_gen += 1
            self.virtual_size = Size(self._total_width(), len(model) + 1)
        self._styles = self._style_set()
        try:
            return super().render_lines(crop)
        finally:
            self._styles = None

    def _style_set(self) -> dict[str, Style]:
        """The base and component styles, resolved once per paint (not per cell)."""
        styles = {"base": self.rich_style}
        for name in ("header", "header-sorted", "cursor", *TONES):
            styles[name] = self.get_component_rich_style(f"windowed-table--{name}")
        return styles

    def _tone_style(self, tone: str | None) -> Style | None:
        if tone is None:
            return None
        styles = self._styles or self._style_set()
        return styles.get(tone)

    def _fit(self, text: str, width: int, align: str) -> str:
        size = cell_len(text)
        if size > width:
            return set_cell_size(text, width - 1) + "…" if width > 1 else text[:width]
        pad = " " * (width - size)
        return pad + text if align == "right" else text + pad

    def _header_strip(self, base: Style) -> list[Segment]:
        model = self.model
        styles = self._styles or self._style_set()
        header = base + styles["header"]
        sorted_style = base + styles["header-sorted"]
        segments = [Segment(" ", header)]
        for i, col in enumerate(model.columns):
            label = col.label
            style = header
            if i == model.sort_index:
                label = f"{label}{'↓' if model.sort_reverse else '↑'}"
                style = sorted_style
            segments.append(
                Segment(self._fit(label, self._widths[i], col.align), style)
            )
            segments.append(Segment(" ", header))
        return segments

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        scroll_x = round(self.scroll_x)
        self.lines_rendered += 1
        if y > 0:
            index = round(self.scroll_y) + y - 1
            if index < len(self.model):
                row = self.model.row_at(index)
                cache_key = (
                    row.key,
                    id(row.values),
                    row.tone,
                    index == self.cursor,
                    self.has_focus,
                    self._widths_gen,
                    scroll_x,
                    width,
                    self.app.theme,
                )
                strip = self._lines.get(cache_key)
                if strip is None:
                    strip = self._render_row(y, width, scroll_x)
                    self._lines[cache_key] = strip
                return strip
        return self._render_row(y, width, scroll_x)

    def _render_row(self, y: int, width: int, scroll_x: int) -> Strip:
        styles = self._styles or self._style_set()
        base = styles["base"]
        if y == 0:
            segments = self._header_strip(base)
            line_style = base + styles["header"]
        else:
            index = round(self.scroll_y) + y - 1
            if index >= len(self.model):
                return Strip.blank(width, base)
            row = self.model.row_at(index)
            texts = self._cells_for(row)
            line_style = base
            row_tone = self._tone_style(row.tone)
            if row_tone is not None:
                line_style = base + row_tone
            cursor = index == self.cursor
            if cursor:
                line_style = line_style + styles["cursor"]
            segments = [Segment(" ", line_style)]
            for i, col in enumerate(self.model.columns):
                style = line_style
                if col.tone is not None and not cursor:
                    tone = self._tone_style(col.tone(row.values[i]))
                    if tone is not None:
                        style = line_style + tone
                text = texts[i] if i < len(texts) else ""
                segments.append(
                    Segment(self._fit(text, self._widths[i], col.align), style)
                )
                segments.append(Segment(" ", line_style))
        strip = Strip(segments)
        return strip.crop_extend(scroll_x, scroll_x + width, line_style)
