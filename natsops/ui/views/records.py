"""Audit and Permissions views: what natsops did, and what this credential may do."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, ClassVar

from natsops.audit import read_audit
from natsops.errors import NatsopsError
from natsops.ui.table import Column, Row
from natsops.ui.views.base import Fetched, TableView

if TYPE_CHECKING:
    from natsops.ui.source import DataSource

AUDIT_LIMIT = 1000


def _result_tone(value: Any) -> str | None:
    if value == "ok":
        return "ok"
    if value in ("error", "refused"):
        return "error"
    if value in ("unverified", "cancelled"):
        return "warning"
    return None


class AuditView(TableView):
    """Every operation natsops attempted, from the audit log (newest first)."""

    NAME = "audit"
    TITLE = "Audit"
    KEY = "0"
    ALIASES = ("log",)
    KIND = "audit"
    SORT = "time"
    COLUMNS: ClassVar[list[Column]] = [
        Column("time", "TIME", max_width=24, desc=True),
        Column("action", "ACTION", max_width=22),
        Column("result", "RESULT", tone=_result_tone),
        Column("target", "TARGET", max_width=40),
        Column("connection", "CONN", max_width=12),
        Column("subject", "SUBJECT", max_width=48),
        Column("user", "USER", max_width=12),
        Column("duration", "MS", align="right", fmt=lambda v: f"{v:.0f}" if v else ""),
        Column("message", "OUTCOME", max_width=80),
    ]

    async def fetch(self, source: DataSource) -> Fetched:
        path = source.audit_path
        rows: list[Row] = []
        if path is not None:
            entries = await asyncio.to_thread(read_audit, path, AUDIT_LIMIT)
            for i, entry in enumerate(entries):
                values = (
                    entry.time,
                    entry.action,
                    entry.result,
                    entry.target,
                    entry.connection,
                    entry.subject,
                    entry.user,
                    entry.duration_ms,
                    entry.error or entry.summary,
                )
                rows.append(Row(f"{entry.time}#{i:06d}", values, entry.raw))
        return Fetched(self.NAME, rows=rows, extra={"path": str(path or "")})

    def title_extra(self) -> str:
        fetched = self.last_fetch
        path = fetched.extra.get("path") if fetched else ""
        return f"from {path}" if path else "no audit log"

    def row_title(self, row: Row) -> str:
        return f"audit {row.values[1]} at {row.values[0]}"


def _available_tone(value: Any) -> str | None:
    if value == "yes":
        return "ok"
    if value == "partial":
        return "warning"
    return "error" if value == "no" else None


class PermissionsView(TableView):
    """Per connection and feature: available or not, and why (``:perms``)."""

    NAME = "perms"
    TITLE = "Permissions"
    KEY = ""
    ALIASES = ("permissions",)
    KIND = "feature"
    SORT = "connection"
    COLUMNS: ClassVar[list[Column]] = [
        Column("connection", "CONNECTION", max_width=16),
        Column("feature", "FEATURE", max_width=24),
        Column("available", "AVAILABLE", tone=_available_tone),
        Column("status", "STATUS", max_width=16),
        Column("reason", "REASON", max_width=100),
    ]

    async def fetch(self, source: DataSource) -> Fetched:
        try:
            report = await source.perms_report(refresh=True)
        except NatsopsError as exc:
            return Fetched(self.NAME, rows=[], extra={"error": str(exc)})
        rows: list[Row] = []
        if report is not None:
            for conn in report.connections:
                if conn.error:
                    values = (conn.connection, "-", "no", "error", conn.error)
                    rows.append(Row(f"{conn.connection}/-", values, conn.to_json()))
                    continue
                for check in conn.features.values():
                    avail = (
                        "partial"
                        if check.status == "partial"
                        else ("yes" if check.available else "no")
                    )
                    values = (
                        conn.connection,
                        check.feature,
                        avail,
                        check.status,
                        check.reason,
                    )
                    key = f"{conn.connection}/{check.feature}"
                    rows.append(Row(key, values, check.to_json()))
        return Fetched(self.NAME, rows=rows, extra={"report": report})

    def title_extra(self) -> str:
        fetched = self.last_fetch
        if fetched is None:
            return ""
        if fetched.extra.get("error"):
            return str(fetched.extra["error"])
        if fetched.extra.get("report") is None:
            return "no permission report (needs a live connection)"
        denied = sum(1 for r in self.model.rows() if r.values[2] == "no")
        return f"{denied} unavailable" if denied else "everything available"

    def row_title(self, row: Row) -> str:
        return f"{row.values[1]} on {row.values[0]}"
