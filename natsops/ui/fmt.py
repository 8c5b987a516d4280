"""Compact formatting for dashboard cells: counts, bytes, rates, ages, sparklines."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

_SPARKS = "▁▂▃▄▅▆▇█"


def count(value: Any) -> str:
    """1234 -> '1.2K', 5_600_000 -> '5.6M'; exact below 10,000."""
    if value is None or value == "":
        return ""
    if not isinstance(value, int | float):
        return str(value)
    n = float(value)
    if abs(n) < 10_000:
        return f"{n:,.0f}" if n == int(n) else f"{n:,.1f}"
    for unit, size in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(n) >= size:
            return f"{n / size:.1f}{unit}"
    return f"{n:.0f}"


def size(value: Any) -> str:
    """Bytes as '512 B', '1.5 KiB', '2.0 GiB'."""
    if value is None or value == "":
        return ""
    if not isinstance(value, int | float):
        return str(value)
    n = float(value)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


def rate(value: Any) -> str:
    """A per-second rate, '-' when unknown (first sample)."""
    if value is None:
        return "-"
    if not isinstance(value, int | float):
        return str(value)
    if value == 0:
        return "0/s"
    return f"{count(value)}/s" if value >= 10 else f"{value:.1f}/s"


def byte_rate(value: Any) -> str:
    if value is None:
        return "-"
    return f"{size(value)}/s"


def percent(value: Any) -> str:
    if value is None or not isinstance(value, int | float):
        return ""
    return f"{value:.0f}%"


def duration(seconds: Any) -> str:
    """Seconds as '45s', '3m12s', '5h02m', '12d4h'."""
    if seconds is None or not isinstance(seconds, int | float) or math.isnan(seconds):
        return ""
    s = int(max(0, seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{(s % 3600) // 60:02d}m"
    return f"{s // 86400}d{(s % 86400) // 3600}h"


def millis(seconds: Any) -> str:
    """Seconds as milliseconds ('0.4ms', '250ms'), or seconds from one second up
    ('1.6s'); '' when unknown."""
    if seconds is None or not isinstance(seconds, int | float):
        return ""
    ms = seconds * 1000
    if ms >= 1000:
        return f"{seconds:.1f}s"
    return f"{ms:.1f}ms" if ms < 100 else f"{ms:.0f}ms"


def parse_time(text: Any) -> float | None:
    """An RFC 3339 timestamp as epoch seconds; None when absent or malformed."""
    if not isinstance(text, str) or not text or text.startswith("0001-"):
        return None
    value = text.strip()
    if value.endswith("Z"):
        value = value[:-1] + "+00:00"
    # Go prints nanoseconds; datetime accepts at most microseconds.
    if "." in value:
        head, _, rest = value.partition(".")
        digits = "".join(ch for ch in rest if ch.isdigit())
        zone = rest[len(digits) :]
        value = f"{head}.{digits[:6]}{zone}"
    try:
        stamp = datetime.fromisoformat(value)
    except ValueError:
        return None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
    return stamp.timestamp()


def go_duration(text: Any) -> float | None:
    """A Go duration string ('1h2m3.5s', '850ms', '1.2µs') as seconds."""
    if isinstance(text, int | float):
        return float(text)
    if not isinstance(text, str) or not text:
        return None
    units = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6}
    units["ns"] = 1e-9
    total = 0.0
    number = ""
    unit = ""
    for ch in text + " ":
        if ch.isdigit() or ch == ".":
            if unit:
                if unit not in units or not number:
                    return None
                total += float(number) * units[unit]
                number, unit = "", ""
            number += ch
        elif ch == " ":
            if number:
                if unit not in units:
                    return None
                total += float(number) * units[unit]
        else:
            unit += ch
    return total


def clock(epoch: float | None) -> str:
    """Epoch seconds as 'HH:MM:SS' in UTC."""
    if epoch is None:
        return ""
    return datetime.fromtimestamp(epoch, UTC).strftime("%H:%M:%S")


def sparkline(values: Sequence[float], width: int = 8) -> str:
    """The last ``width`` values as block characters scaled to their maximum."""
    tail = [v for v in values[-width:] if v is not None]
    if not tail:
        return ""
    top = max(tail)
    if top <= 0:
        return _SPARKS[0] * len(tail)
    last = len(_SPARKS) - 1
    return "".join(_SPARKS[min(last, int(v / top * last + 0.5))] for v in tail)
