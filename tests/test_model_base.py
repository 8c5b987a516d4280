"""Field helpers: coercion, RFC3339 times, Go durations and display formats."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from natsops.errors import MalformedReply
from natsops.model import (
    ModelError,
    duration_seconds,
    format_bytes,
    format_count,
    format_duration,
    ns_to_seconds,
    parse_duration,
    parse_time,
    time_key,
)
from natsops.model.base import as_bool, as_float, as_int, as_str, as_str_list


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("0s", 0.0),
        ("0", 0.0),
        ("5s", 5.0),
        ("1m2s", 62.0),
        ("2h3m4s", 7384.0),
        ("1d2h", 93600.0),
        ("1y2d3h4m5s", 365 * 86400 + 2 * 86400 + 3 * 3600 + 4 * 60 + 5),
        ("350µs", 350e-6),
        ("350μs", 350e-6),
        ("350us", 350e-6),
        ("1.155095ms", 1.155095e-3),
        ("123ns", 123e-9),
        ("1m2.5s", 62.5),
        ("-1.5s", -1.5),
        ("1h0m0s", 3600.0),
    ],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "abc", "1x", "s", "1m2", "m1s", "1.2.3s", None])
def test_parse_duration_rejects_garbage(text: str | None) -> None:
    assert parse_duration(text) is None
    assert duration_seconds(text) == 0.0


def test_duration_numbers_are_seconds() -> None:
    assert parse_duration(2) == 2.0
    assert parse_duration(float("nan")) is None
    assert parse_duration(True) is None


def test_parse_time_nanoseconds_zones_and_zero() -> None:
    moment = parse_time("2026-12-03T20:36:35.727563026Z")
    assert moment == datetime(2026, 12, 3, 20, 36, 35, 727563, tzinfo=UTC)
    assert parse_time("2026-12-03T20:36:35Z") == datetime(
        2026, 12, 3, 20, 36, 35, tzinfo=UTC
    )
    assert parse_time("2026-12-03T21:36:35.5+01:00") == datetime(
        2026, 12, 3, 20, 36, 35, 500000, tzinfo=UTC
    )
    assert parse_time("0001-01-01T00:00:00Z") is None  # Go's zero time: never
    for bad in ("", "yesterday", "2026-13-03T20:36:35Z", "2026-12-03", 5, None, []):
        assert parse_time(bad) is None
    assert time_key("2026-12-03T20:36:35Z") == pytest.approx(
        datetime(2026, 12, 3, 20, 36, 35, tzinfo=UTC).timestamp()
    )
    assert time_key("garbage") == 0.0


def test_coercion() -> None:
    assert as_int("42") == 42 and as_int(" 7 ") == 7 and as_int("1e3") == 1000
    assert as_int(3.9) == 3 and as_int(True) == 1 and as_int(None, -1) == -1
    assert as_int(float("inf")) == 0 and as_int("nope") == 0 and as_int([1]) == 0
    assert as_int(2**70) == 2**70
    assert as_int("9" * 500) == 0  # absurdly long text is not a number
    assert as_float("1.5") == 1.5 and as_float(10**400) == 0.0
    assert as_float(float("nan"), 2.0) == 2.0
    assert as_str(5) == "5" and as_str(None) == "" and as_str({"a": 1}) == ""
    assert as_str(10**5000) == ""  # too long to print as a str in Python 3.11
    assert as_bool("true") and as_bool(1) and not as_bool("false")
    assert as_bool("maybe", True) is True
    assert as_str_list(["a", 1, None, {}]) == ["a", "1"]
    assert as_str_list("a") == []
    assert ns_to_seconds(1_500_000_000) == 1.5 and ns_to_seconds("x") == 0.0


def test_model_error_is_a_malformed_reply() -> None:
    err = ModelError("bad", "hint")
    assert isinstance(err, MalformedReply)
    assert str(err) == "bad: hint"


def test_formats() -> None:
    assert format_duration(None) == "-"
    assert format_duration(0) == "0s"
    assert format_duration(350e-6) == "350µs"
    assert format_duration(0.0123) == "12.3ms"
    assert format_duration(62) == "1m2s"
    assert format_duration(3 * 86400 + 4 * 3600 + 5) == "3d4h"
    assert format_bytes(512) == "512B"
    assert format_bytes(1536) == "1.5KiB"
    assert format_bytes(3 * 1024**3) == "3.0GiB"
    assert format_count(999) == "999"
    assert format_count(1234) == "1.2K"
    assert format_count(5_600_000_000) == "5.6G"
