"""Rates from successive samples: intervals, counter resets, history and sparklines."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from natsops.model import (
    Connection,
    ConnectionRates,
    Connz,
    Counters,
    Rate,
    RateTracker,
    Sample,
    compute_rate,
    parse_statsz,
    parse_time,
    parse_varz,
    sparkline,
)

REPLIES = Path(__file__).parent / "fixtures" / "replies"


def sample(at: float, msgs: int, epoch: str = "e1") -> Sample:
    return Sample(at, Counters(msgs, msgs * 2, msgs * 100, msgs * 200), epoch)


def test_rate_over_an_interval() -> None:
    rate = compute_rate(sample(10.0, 100), sample(12.0, 300))
    assert rate == Rate(100.0, 200.0, 10_000.0, 20_000.0, 2.0)
    assert rate.get("bytes_out") == 20_000.0 and rate.get("nope") == 0.0


def test_no_rate_without_previous_or_interval() -> None:
    assert compute_rate(None, sample(1.0, 5)) is None
    assert compute_rate(sample(5.0, 1), sample(5.0, 9)) is None  # zero interval
    assert compute_rate(sample(6.0, 1), sample(5.0, 9)) is None  # clock went back


def test_counter_reset_gives_no_rate() -> None:
    assert compute_rate(sample(1.0, 1000), sample(2.0, 10)) is None
    # A restart whose counters already passed the old values is caught by the epoch.
    assert compute_rate(sample(1.0, 10, "start-1"), sample(2.0, 50, "start-2")) is None


def test_tracker_history_is_bounded_and_survives_a_restart() -> None:
    tracker = RateTracker(history=3)
    assert tracker.update("s1", sample(0.0, 0)) is None
    for i in range(1, 6):
        rate = tracker.update("s1", sample(float(i), i * 10))
        assert rate is not None and rate.msgs_in == 10.0
    assert tracker.history("s1") == [10.0, 10.0, 10.0]

    assert tracker.update("s1", sample(6.0, 3, epoch="e2")) is None  # restart
    assert tracker.rate("s1") is None
    rate = tracker.update("s1", sample(8.0, 23, epoch="e2"))
    assert rate is not None and rate.msgs_in == 10.0
    assert len(tracker.history("s1", "msgs_out")) == 3

    tracker.forget("s1")
    assert tracker.keys() == [] and tracker.history("s1") == []


def test_tracker_ignores_late_samples() -> None:
    tracker = RateTracker()
    tracker.update("s1", sample(1.0, 10))
    first = tracker.update("s1", sample(3.0, 30))
    assert tracker.update("s1", sample(2.0, 20)) == first
    later = tracker.update("s1", sample(4.0, 70))
    assert later is not None and later.msgs_in == 40.0


def test_tracker_from_recorded_statsz_and_varz() -> None:
    servers = json.loads((REPLIES / "statsz.json").read_text())["servers"]
    stats = {name: parse_statsz(data, name) for name, data in servers.items()}
    tracker = RateTracker()
    assert set(tracker.update_statsz(stats, 100.0).values()) == {None}

    grown = {}
    for name, data in servers.items():
        bumped = json.loads(json.dumps(data))
        bumped["received"]["msgs"] += 50
        bumped["sent"]["bytes"] += 4000
        grown[name] = parse_statsz(bumped, name)
    rates = tracker.update_statsz(grown, {name: 102.0 for name in grown})
    for rate in rates.values():
        assert rate is not None
        assert (rate.msgs_in, rate.bytes_out, rate.msgs_out) == (25.0, 2000.0, 0.0)

    varz_servers = json.loads((REPLIES / "varz.json").read_text())["servers"]
    varz = {n: parse_varz(d, n) for n, d in varz_servers.items()}
    vt = RateTracker()
    vt.update_varz(varz)
    later = {}
    for name, data in varz_servers.items():
        now = parse_time(data["now"])
        assert now is not None
        stamp = (now + timedelta(seconds=3)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        later[name] = parse_varz(
            dict(data, in_msgs=data["in_msgs"] + 30, now=stamp), name
        )
    for name, rate in vt.update_varz(later).items():
        assert rate is not None, name
        assert rate.msgs_in == pytest.approx(10.0, rel=1e-3), name


def connection(server: str, cid: int, msgs: int, start: str = "t0") -> Connection:
    return Connection(
        server=server, cid=cid, start=start, in_msgs=msgs, out_msgs=2 * msgs
    )


def test_connection_rates_use_server_time_and_detect_reused_cids() -> None:
    rates = ConnectionRates()
    t1, t2 = "2026-12-03T20:00:00Z", "2026-12-03T20:00:02.5Z"
    rates.update([Connz(server="s1", now=t1, connections=[connection("s1", 1, 100)])])
    assert rates.rate(connection("s1", 1, 100)) is None  # only one snapshot

    same = connection("s1", 1, 350)
    reused = connection("s1", 2, 10, start="t-new")
    rates.update({"s1": Connz(server="s1", now=t2, connections=[same, reused])})
    rate = rates.rate(same)
    assert rate is not None
    assert rate.msgs_in == pytest.approx(100.0) and rate.msgs_out == pytest.approx(200)
    assert rate.interval == pytest.approx(2.5)
    assert rates.rate(reused) is None  # not seen before
    assert rates.rate(connection("s1", 1, 400, start="other")) is None  # new epoch
    assert rates.rate(connection("s9", 1, 1)) is None
    rates.forget("s1")
    assert rates.rate(same) is None


def test_sparkline() -> None:
    assert sparkline([]) == ""
    assert sparkline([0, 0, 0]) == "▁▁▁"
    assert sparkline([0, 1, 2, 4, 8]) == "▁▂▃▅█"
    assert sparkline([1.0, float("nan"), 5.0], width=2) == "▁█"
    assert sparkline([3, 3], width=0) == ""
