"""Audit log of every attempted operation: one JSON object per line, appended safely.

Each line records who tried what against which server and how it ended; request
bodies pass through :func:`redact` first so that no seed, JWT or password is written.
"""

from __future__ import annotations

import datetime as _dt
import getpass
import json
import logging
import os
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from natsops.creds import redact as redact_secrets
from natsops.errors import NatsopsError

log = logging.getLogger(__name__)

#: Results an audit line can carry.
RESULTS = ("ok", "unverified", "error", "refused", "cancelled")

_SECRET_KEYS = re.compile(
    r"(seed|jwt|password|passwd|pass|token|secret|creds|credentials|nkey|private)",
    re.IGNORECASE,
)
_CREDS_BLOCK = re.compile(
    r"-----BEGIN [A-Z ]+-----.*?------END [A-Z ]+------", re.DOTALL
)
_REDACTED = "<redacted>"
_write_lock = threading.Lock()


class AuditError(NatsopsError):
    """The audit log cannot be written, so the operation was not performed."""


def redact(value: Any) -> Any:
    """A copy of ``value`` with secrets replaced by ``<redacted>``.

    Keys that name a secret (seed, jwt, password, token, ...) lose their value; any
    string that looks like an nkey seed, a JWT or a creds block is masked wherever
    it appears.
    """
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            text_key = str(key)
            if _SECRET_KEYS.search(text_key) and item not in (None, "", [], {}):
                out[text_key] = _REDACTED
            else:
                out[text_key] = redact(item)
        return out
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    if isinstance(value, bytes):
        return redact(value.decode("utf-8", "replace"))
    if isinstance(value, str):
        return redact_secrets(_CREDS_BLOCK.sub(_REDACTED, value), _REDACTED)
    return value


def local_user() -> str:
    """The local login name, or ``"unknown"`` when the system cannot tell."""
    try:
        return getpass.getuser()
    except Exception:  # no passwd entry, no LOGNAME: still audit
        return "unknown"


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="milliseconds")


@dataclass
class AuditEntry:
    """One line of the audit log."""

    time: str
    action: str
    result: str
    user: str = ""
    url: str = ""
    server: str = ""
    connection: str = ""
    account: str = ""
    account_name: str = ""
    user_key: str = ""
    target: str = ""
    subject: str = ""
    body: Any = None
    summary: str = ""
    error: str = ""
    duration_ms: float = 0.0
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> AuditEntry:
        """Parse a line already decoded from JSON (unknown keys are kept in raw)."""

        def text(key: str) -> str:
            value = doc.get(key)
            return value if isinstance(value, str) else ""

        duration = doc.get("duration_ms")
        return cls(
            time=text("time"),
            action=text("action"),
            result=text("result"),
            user=text("user"),
            url=text("url"),
            server=text("server"),
            connection=text("connection"),
            account=text("account"),
            account_name=text("account_name"),
            user_key=text("user_key"),
            target=text("target"),
            subject=text("subject"),
            body=doc.get("body"),
            summary=text("summary"),
            error=text("error"),
            duration_ms=float(duration) if isinstance(duration, int | float) else 0.0,
            raw=dict(doc),
        )


class AuditLog:
    """Appends audit lines to one file; each line is written whole and fsynced."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path).expanduser()

    def check_writable(self) -> None:
        """Raise :class:`AuditError` unless a line could be appended now."""
        try:
            self._ensure_dir()
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            os.close(fd)
        except OSError as exc:
            raise AuditError(
                f"cannot write the audit log {self.path} ({exc.strerror or exc})",
                "fix its permissions or choose another file with --audit-log PATH",
            ) from exc

    def _ensure_dir(self) -> None:
        parent = self.path.parent
        if not parent.exists():
            parent.mkdir(parents=True, exist_ok=True, mode=0o700)

    def append(self, record: Mapping[str, Any]) -> dict[str, Any]:
        """Redact and append one record; returns what was written.

        ``time`` and ``user`` are filled in when missing. The line is written with a
        single ``write`` on a file opened with ``O_APPEND``, then fsynced, so lines
        from concurrent writers never interleave and survive a crash.
        """
        line = dict(redact(dict(record)))
        line.setdefault("time", _now())
        line.setdefault("user", local_user())
        data = (json.dumps(line, sort_keys=True, default=str) + "\n").encode()
        with _write_lock:
            try:
                self._ensure_dir()
                fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
                try:
                    written = os.write(fd, data)
                    while written < len(data):  # short writes are rare but legal
                        written += os.write(fd, data[written:])
                    os.fsync(fd)
                finally:
                    os.close(fd)
            except OSError as exc:
                raise AuditError(
                    f"cannot write the audit log {self.path} ({exc.strerror or exc})",
                    "fix its permissions or choose another file with --audit-log",
                ) from exc
        return line


def _tail_lines(path: Path, limit: int, block: int = 65536) -> list[bytes]:
    """The last ``limit`` non-empty lines of a file, read backwards in blocks."""
    if limit <= 0:
        return []
    with path.open("rb") as fh:
        fh.seek(0, os.SEEK_END)
        end = fh.tell()
        buf = b""
        while end > 0 and buf.count(b"\n") <= limit:
            start = max(0, end - block)
            fh.seek(start)
            buf = fh.read(end - start) + buf
            end = start
    parts = buf.split(b"\n")
    if end > 0:
        parts = parts[1:]  # the first piece may be the tail of an older line
    return [p for p in parts if p.strip()][-limit:]


def read_audit(path: Path | str, limit: int = 500) -> list[AuditEntry]:
    """The newest ``limit`` entries of an audit log, oldest first.

    A missing file gives an empty list; lines that are not JSON objects are skipped
    (and logged at debug level), so a torn last line never hides the rest.
    """
    file = Path(path).expanduser()
    if not file.exists():
        return []
    try:
        # Read a margin beyond ``limit`` so that skipped torn lines do not shorten
        # the answer.
        raw_lines = _tail_lines(file, limit * 2 + 16) if limit > 0 else []
    except OSError as exc:
        raise AuditError(
            f"cannot read the audit log {file} ({exc.strerror or exc})",
            "check the file's permissions or pass --audit-log PATH",
        ) from exc
    entries: list[AuditEntry] = []
    for raw in raw_lines:
        try:
            doc = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            log.debug("skipping a malformed audit line in %s", file)
            continue
        if isinstance(doc, dict):
            entries.append(AuditEntry.from_dict(doc))
    return entries[-limit:] if limit > 0 else []
