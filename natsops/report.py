"""Render headless reports: rich tables for people, stable JSON for scripts.

A :class:`Report` holds rows of plain JSON values (snake_case keys) plus the
:class:`RollCall` of the fan-outs it came from; :func:`emit` prints it either as
tables followed by the roll-call line or as one JSON document.
"""

from __future__ import annotations

import json
import math
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table as RichTable
from rich.text import Text

from natsops.creds import redact
from natsops.fanout import FanoutResult
from natsops.model.base import format_bytes, format_count, format_duration

#: Exit code of a command run with ``--strict`` when a server was missing or failed.
EXIT_INCOMPLETE = 3

#: Width used for tables when stdout is not a terminal (pipes, files, tests).
_PIPE_WIDTH = 200

Formatter = Callable[[Any], str]


# --------------------------------------------------------------------- roll call


@dataclass
class RollCall:
    """Who answered the fan-outs behind a report, who failed and who stayed silent.

    ``ok`` answered every request successfully; ``errors`` answered at least one with
    an error (server name to ``{"code", "description"}``); ``missing`` were expected
    and stayed silent on at least one request.
    """

    ok: list[str] = field(default_factory=list)
    errors: dict[str, dict[str, Any]] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    expected: list[str] = field(default_factory=list)
    malformed: int = 0
    elapsed: float = 0.0
    latency: dict[str, float] = field(default_factory=dict)

    @classmethod
    def of(cls, *results: FanoutResult, elapsed: float | None = None) -> RollCall:
        """Merge fan-out results: missing anywhere beats an error beats ok.

        Latencies come from the first result (the report's main request).
        """
        missing: set[str] = set()
        errors: dict[str, dict[str, Any]] = {}
        ok: set[str] = set()
        expected: set[str] = set()
        for result in results:
            missing.update(result.missing)
            expected |= result.expected
            for name, reply in result.errors.items():
                errors.setdefault(name, _error_block(reply.error))
            ok.update(result.replies)
        expected |= ok | set(errors) | missing
        errors = {n: e for n, e in errors.items() if n not in missing}
        ok -= missing | set(errors)
        first = results[0] if results else None
        return cls(
            ok=sorted(ok),
            errors=dict(sorted(errors.items())),
            missing=sorted(missing),
            expected=sorted(expected),
            malformed=sum(r.malformed for r in results),
            elapsed=elapsed if elapsed is not None else sum(r.elapsed for r in results),
            latency={n: r.latency for n, r in first.replies.items()} if first else {},
        )

    def add_error(self, name: str, description: str, code: int = 0) -> None:
        """Record that ``name`` answered something natsops could not use."""
        if name in self.missing:
            return
        if name in self.ok:
            self.ok.remove(name)
        self.errors.setdefault(name, {"code": code, "description": description})
        self.errors = dict(sorted(self.errors.items()))
        if name not in self.expected:
            self.expected = sorted({*self.expected, name})

    @property
    def answered(self) -> int:
        """Servers that answered (successfully or with an error)."""
        return len(self.ok) + len(self.errors)

    @property
    def total(self) -> int:
        """Servers that answered or were expected to."""
        return len(set(self.expected) | set(self.ok) | set(self.errors))

    @property
    def complete(self) -> bool:
        """Every expected server answered every request successfully."""
        return not self.missing and not self.errors and not self.malformed

    def state(self, name: str) -> str:
        """``ok``, ``error`` or ``missing`` for one server."""
        if name in self.missing:
            return "missing"
        if name in self.errors:
            return "error"
        return "ok"

    def text(self) -> str:
        """``6/6 servers`` or ``5/6 servers, missing: c2-n3`` (plus errors)."""
        line = f"{self.answered}/{self.total} servers"
        if self.missing:
            line += ", missing: " + ", ".join(self.missing)
        if self.errors:
            # Servers failing the same way are named together, once.
            by_text: dict[str, list[str]] = {}
            for name, err in self.errors.items():
                by_text.setdefault(_error_text(err), []).append(name)
            line += ", errors: " + ", ".join(
                f"{', '.join(names)} ({text})" for text, names in by_text.items()
            )
        if self.malformed:
            line += f", {self.malformed} malformed replies"
        return line

    def to_json(self) -> dict[str, Any]:
        """The roll call's stable JSON object (see docs/json.md)."""
        return {
            "text": self.text(),
            "answered": list(self.ok),
            "errors": {n: dict(e) for n, e in self.errors.items()},
            "missing": list(self.missing),
            "expected": list(self.expected),
            "total": self.total,
            "complete": self.complete,
            "malformed": self.malformed,
            "latency_ms": {n: ms(s) for n, s in sorted(self.latency.items())},
            "elapsed_ms": ms(self.elapsed),
        }


def _error_block(error: dict[str, Any] | None) -> dict[str, Any]:
    error = error or {}
    code = error.get("code", 0)
    return {
        "code": code if isinstance(code, int) else 0,
        "description": redact(str(error.get("description", "") or "error")),
    }


def _error_text(error: dict[str, Any]) -> str:
    code = error.get("code") or ""
    return f"{code} {error.get('description', '')}".strip()


# ------------------------------------------------------------------------ tables


@dataclass
class Column:
    """One column: the row key it shows, its header and how a value is written."""

    key: str
    header: str
    fmt: Formatter | None = None
    justify: str = "left"
    no_wrap: bool = False

    def cell(self, row: dict[str, Any]) -> str:
        value = row.get(self.key)
        if self.fmt is not None:
            return self.fmt(value)
        return plain(value)


@dataclass
class Table:
    """Rows of one kind: shown as a rich table, emitted in JSON under ``key``."""

    key: str
    columns: list[Column]
    rows: list[dict[str, Any]]
    title: str = ""
    empty: str = "none"
    style: Callable[[dict[str, Any]], str | None] | None = None

    def render(self) -> RichTable | Text:
        """The rich renderable for table mode."""
        if not self.rows:
            label = f"{self.title}: " if self.title else ""
            return Text(f"{label}{self.empty}")
        table = RichTable(
            title=self.title or None,
            title_justify="left",
            title_style="bold",
            box=box.SIMPLE_HEAD,
            header_style="bold",
            pad_edge=False,
        )
        for col in self.columns:
            table.add_column(
                col.header,
                justify=col.justify,  # type: ignore[arg-type]
                no_wrap=col.no_wrap,
                overflow="fold",
            )
        for row in self.rows:
            style = self.style(row) if self.style is not None else None
            table.add_row(*(col.cell(row) for col in self.columns), style=style)
        return table


@dataclass
class Report:
    """What one command found: tables, extra JSON fields, notes and the roll call.

    ``fields`` are extra top-level JSON members (e.g. ``meta``); ``summary`` lines are
    printed above the tables in table mode and ``notes`` below them.
    """

    command: str
    tables: list[Table] = field(default_factory=list)
    roll_call: RollCall | None = None
    fields: dict[str, Any] = field(default_factory=dict)
    summary: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    unhealthy: bool = False

    def to_json(self) -> dict[str, Any]:
        """The command's JSON document: ``command``, each table, fields, roll call."""
        doc: dict[str, Any] = {"command": self.command}
        doc.update(self.fields)
        for table in self.tables:
            doc[table.key] = table.rows
        if self.notes:
            doc["notes"] = list(self.notes)
        if self.roll_call is not None:
            doc["roll_call"] = self.roll_call.to_json()
        return doc

    def exit_code(self, strict: bool) -> int:
        """0, or :data:`EXIT_INCOMPLETE` with ``strict`` when anything was missing."""
        if not strict:
            return 0
        incomplete = self.roll_call is not None and not self.roll_call.complete
        return EXIT_INCOMPLETE if incomplete or self.unhealthy else 0


def make_console() -> Console:
    """A console on stdout; wide and colourless when stdout is not a terminal."""
    if sys.stdout.isatty():
        return Console(highlight=False)
    width = _PIPE_WIDTH
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        width = int(columns)
    return Console(highlight=False, width=width, no_color=True, soft_wrap=False)


def emit(report: Report, *, as_json: bool, console: Console | None = None) -> None:
    """Print ``report`` as JSON, or as tables followed by the roll-call line."""
    if as_json:
        sys.stdout.write(dumps(report.to_json()) + "\n")
        sys.stdout.flush()
        return
    out = console or make_console()
    for line in report.summary:
        out.print(Text(line))
    for i, table in enumerate(report.tables):
        if i or report.summary:
            out.print()
        out.print(table.render())
    for line in report.notes:
        out.print(Text(line))
    if report.roll_call is not None:
        rc = report.roll_call
        style = "" if rc.complete else "yellow"
        out.print(Text(rc.text(), style=style))


def dumps(doc: Any) -> str:
    """Stable JSON text: two-space indent, key order as built, no NaN."""
    return json.dumps(_clean(doc), indent=2, ensure_ascii=False, allow_nan=False)


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        items = sorted(value) if isinstance(value, set) else value
        return [_clean(v) for v in items]
    return value


def redact_tree(value: Any) -> Any:
    """A copy of a reply with every ``jwt`` field and seed or JWT text redacted."""
    if isinstance(value, dict):
        return {
            k: "[redacted]" if k == "jwt" and v else redact_tree(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [redact_tree(v) for v in value]
    if isinstance(value, str):
        return redact(value)
    return value


# -------------------------------------------------------------------- formatters


def ms(seconds: float | None) -> float | None:
    """Seconds to milliseconds rounded to microseconds (None stays None)."""
    if seconds is None or not math.isfinite(seconds):
        return None
    return round(seconds * 1000, 3)


def plain(value: Any) -> str:
    """Default cell text: ``-`` for None and empty lists, ``yes``/``no`` for bools."""
    if value is None or value == "" or value == []:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ", ".join(plain(v) for v in value)
    return str(value)


def count(value: Any) -> str:
    """A count as 999, 1.2K, 3.4M."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return plain(value)
    return format_count(value)


def size(value: Any) -> str:
    """A byte count as 512B, 1.5KiB."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return plain(value)
    return format_bytes(value)


def seconds(value: Any) -> str:
    """A duration in seconds as 350µs, 1.2ms, 1m2s."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return plain(value)
    return format_duration(value)


def millis(value: Any) -> str:
    """A duration in milliseconds (JSON ``*_ms`` fields) as human text."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return plain(value)
    return format_duration(value / 1000)


def percent(value: Any) -> str:
    """A CPU figure as 12%."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return plain(value)
    return f"{value:.0f}%"


def joined(values: Iterable[Any], empty: str = "-") -> str:
    """Items joined by commas."""
    items = [plain(v) for v in values]
    return ", ".join(items) if items else empty


@dataclass
class PairColumn(Column):
    """A column showing two row values as ``a / b`` (e.g. messages in / out)."""

    second: str = field(kw_only=True)

    def cell(self, row: dict[str, Any]) -> str:
        fmt = self.fmt or plain
        return f"{fmt(row.get(self.key))} / {fmt(row.get(self.second))}"


def state_style(row: dict[str, Any]) -> str | None:
    """Row style: missing and failing servers in the warning colour."""
    state = row.get("state")
    if state in ("missing", "error", "unhealthy", "no route", "offline"):
        return "yellow"
    return None


def rows_sorted(rows: Sequence[dict[str, Any]], *keys: str) -> list[dict[str, Any]]:
    """Rows sorted by the given keys (missing values sort first)."""
    return sorted(
        rows, key=lambda r: tuple("" if r.get(k) is None else r.get(k) for k in keys)
    )
