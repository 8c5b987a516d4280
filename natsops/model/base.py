"""Tolerant field helpers shared by every monitoring model: coercion, times, durations.

A reply from a server of another version (or a broken one) may miss fields, carry
extra ones or use the wrong types; these helpers turn any JSON value into the type a
model expects, falling back to a default instead of raising.
"""

from __future__ import annotations

import functools
import logging
import math
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, Protocol, TypeVar

from natsops.errors import MalformedReply

log = logging.getLogger(__name__)

T_co = TypeVar("T_co", covariant=True)

#: Seconds per duration unit as written by nats-server (Go durations and uptimes).
_UNITS: dict[str, float] = {
    "y": 365 * 86400.0,
    "d": 86400.0,
    "h": 3600.0,
    "m": 60.0,
    "s": 1.0,
    "ms": 1e-3,
    "us": 1e-6,
    "µs": 1e-6,  # MICRO SIGN, what Go prints
    "μs": 1e-6,  # GREEK SMALL LETTER MU
    "ns": 1e-9,
}
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ms|us|µs|μs|ns|y|d|h|m|s)")
_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?"
    r"(Z|z|[+-]\d{2}:?\d{2})?$"
)
_duration_cache: dict[str, float | None] = {}
_DURATION_CACHE_MAX = 65536


class ModelError(MalformedReply):
    """A reply's data block is not a JSON object at all, so nothing can be read."""


def require_dict(data: object, kind: str) -> dict[str, Any]:
    """Return ``data`` when it is a dict, else raise :class:`ModelError`."""
    if type(data) is dict or isinstance(data, dict):
        return data
    raise ModelError(
        f"{kind} reply has no data object (got {type(data).__name__})",
        "the server answered something natsops cannot read",
    )


class ReplyParser(Protocol[T_co]):
    """A parser of one reply's ``data`` block, as :func:`reply_parser` makes it."""

    def __call__(self, data: object, server: str = "") -> T_co: ...


def reply_parser(
    kind: str,
) -> Callable[[Callable[[dict[str, Any], str], T_co]], ReplyParser[T_co]]:
    """Wrap a parser of a ``kind`` data block with the checks every parser shares.

    The wrapped function receives a dict; a block that is not one, or any failure
    inside the parser, becomes :class:`ModelError`, never another exception.
    """

    def wrap(fn: Callable[[dict[str, Any], str], T_co]) -> ReplyParser[T_co]:
        @functools.wraps(fn)
        def parse(data: object, server: str = "") -> T_co:
            d = require_dict(data, kind)
            try:
                return fn(d, server)
            except ModelError:
                raise
            except Exception as exc:  # a parser never raises anything else
                log.warning("unreadable %s from %s: %r", kind, server or "?", exc)
                raise ModelError(
                    f"{kind} reply from {server or '?'} is unreadable"
                ) from exc

        return parse

    return wrap


def as_int(value: object, default: int = 0) -> int:
    """An int from an int, bool, finite float or numeric string; else ``default``."""
    if type(value) is int:
        return value
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return int(value) if math.isfinite(value) else default
    if isinstance(value, str):
        text = value.strip()
        if not text or len(text) > 400:
            return default
        try:
            return int(text)
        except ValueError:
            pass
        try:
            number = float(text)
        except ValueError:
            return default
        return int(number) if math.isfinite(number) else default
    return default


def as_float(value: object, default: float = 0.0) -> float:
    """A finite float from a number or numeric string; else ``default``."""
    if type(value) is float:
        return value if math.isfinite(value) else default
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int):
        try:
            return float(value)
        except OverflowError:
            return default
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else default
    if isinstance(value, str) and 0 < len(value) <= 400:
        try:
            number = float(value)
        except ValueError:
            return default
        return number if math.isfinite(number) else default
    return default


def as_str(value: object, default: str = "") -> str:
    """A str from a str or a number; anything else (null, list, dict) is ``default``."""
    if type(value) is str:
        return value
    if isinstance(value, str):
        return str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        try:
            return str(value)
        except ValueError:  # an int too long to print
            return default
    return default


def as_bool(value: object, default: bool = False) -> bool:
    """A bool from a bool, a number or a "true"/"false" string; else ``default``."""
    if type(value) is bool:
        return value
    if isinstance(value, int | float):
        return bool(value)
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("true", "1", "yes", "on"):
            return True
        if text in ("false", "0", "no", "off", ""):
            return False
    return default


def as_dict(value: object) -> dict[str, Any]:
    """``value`` when it is a dict, else an empty dict."""
    return value if isinstance(value, dict) else {}


def as_list(value: object) -> list[Any]:
    """``value`` when it is a list, else an empty list."""
    return value if isinstance(value, list) else []


def as_dicts(value: object) -> list[dict[str, Any]]:
    """The dict items of a list (other items are dropped)."""
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, dict)]


def as_str_list(value: object) -> list[str]:
    """The string items of a list (numbers are turned into strings)."""
    if not isinstance(value, list):
        return []
    out: list[str] = []
    for item in value:
        text = as_str(item, "")
        if text or item == "":
            out.append(text)
    return out


def ns_to_seconds(value: object) -> float:
    """Seconds from a nanosecond count (JetStream's ``active``, ``ack_wait``)."""
    return as_float(value, 0.0) / 1e9


def parse_time(value: object) -> datetime | None:
    """A UTC datetime from RFC3339 text (nanoseconds allowed); None if absent or zero.

    Go's zero time (``0001-01-01T00:00:00Z``) means "never" and gives None.
    """
    if not isinstance(value, str) or not value or len(value) > 64:
        return None
    match = _RFC3339.match(value.strip())
    if match is None:
        return None
    year, month, day, hour, minute, second, frac, zone = match.groups()
    if year == "0001" and month == "01" and day == "01":
        return None
    micro = int((frac or "0")[:6].ljust(6, "0"))
    try:
        tz: timezone = UTC
        if zone and zone not in ("Z", "z"):
            sign = -1 if zone[0] == "-" else 1
            digits = zone[1:].replace(":", "")
            offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
            tz = timezone(sign * offset)
        moment = datetime(
            int(year),
            int(month),
            int(day),
            int(hour),
            int(minute),
            min(int(second), 59),
            micro,
            tzinfo=tz,
        )
        return moment.astimezone(UTC)
    except (ValueError, OverflowError):
        return None


def time_key(value: object) -> float:
    """Seconds since the epoch of an RFC3339 time, for sorting; 0.0 when unknown."""
    moment = parse_time(value)
    if moment is None:
        return 0.0
    return moment.timestamp()


def parse_duration(value: object) -> float | None:
    """Seconds from a nats-server duration ("1m2s", "350µs", "1.5ms", "2d3h"), or None.

    Numbers are taken as seconds already. Results are cached: the same few strings
    recur across thousands of connections.
    """
    if type(value) is str:
        cached = _duration_cache.get(value, _MISSING)
        if cached is not _MISSING:
            return cached  # type: ignore[no-any-return]
        result = _parse_duration_text(value)
        if len(_duration_cache) >= _DURATION_CACHE_MAX:
            _duration_cache.clear()
        _duration_cache[value] = result
        return result
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        number = as_float(value, math.nan)
        return None if math.isnan(number) else number
    return None


_MISSING: Any = object()


def _parse_duration_text(text: str) -> float | None:
    text = text.strip()
    if not text or len(text) > 64:
        return None
    sign = 1.0
    if text[0] in "+-":
        sign = -1.0 if text[0] == "-" else 1.0
        text = text[1:]
    if text == "0":
        return 0.0
    total = 0.0
    pos = 0
    for match in _DURATION_PART.finditer(text):
        if match.start() != pos:
            return None
        total += float(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    if pos != len(text) or pos == 0:
        return None
    return sign * total


def duration_seconds(value: object) -> float:
    """Like :func:`parse_duration` but 0.0 when the value is not a duration."""
    seconds = parse_duration(value)
    return 0.0 if seconds is None else seconds


def format_duration(seconds: float | None) -> str:
    """Short text for a duration in seconds: "350µs", "1.2ms", "1m2s", "3d4h"."""
    if seconds is None or not math.isfinite(seconds):
        return "-"
    if seconds < 0:
        return "-" + format_duration(-seconds)
    if seconds == 0:
        return "0s"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f}µs"
    if seconds < 1:
        return f"{seconds * 1e3:.1f}ms"
    if seconds < 60:
        return f"{seconds:.1f}s" if seconds < 10 else f"{seconds:.0f}s"
    whole = int(seconds)
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d{hours}h"
    if hours:
        return f"{hours}h{minutes}m"
    return f"{minutes}m{secs}s"


def format_bytes(count: float) -> str:
    """Human text for a byte count with binary units: "512B", "1.5KiB", "3.0GiB"."""
    if not math.isfinite(count):
        return "-"
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(value) < 1024 or unit == "PiB":
            return f"{value:.0f}{unit}" if unit == "B" else f"{value:.1f}{unit}"
        value /= 1024
    return f"{value:.1f}EiB"  # pragma: no cover - the loop always returns


def format_count(count: float) -> str:
    """Human text for a count: "999", "1.2K", "3.4M", "5.6G"."""
    if not math.isfinite(count):
        return "-"
    value = float(count)
    for unit in ("", "K", "M", "G", "T"):
        if abs(value) < 1000 or unit == "T":
            return f"{value:.0f}" if unit == "" else f"{value:.1f}{unit}"
        value /= 1000
    return f"{value:.1f}P"  # pragma: no cover - the loop always returns
