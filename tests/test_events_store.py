"""EventStore: bounded buffer with exact counts, duplicates, seq gaps, rates, panels."""

from __future__ import annotations

import copy
import json

import pytest

from natsops.events import EventBatch, EventFilter, EventStore, parse_event
from natsops.events.samples import SAMPLES, encode, sample, storm


class Clock:
    """A hand-driven clock for rates, gap grace and listener intervals."""

    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _store(capacity: int = 10_000) -> tuple[EventStore, Clock]:
    clock = Clock()
    return EventStore(capacity, clock=clock, monotonic=clock), clock


def test_storm_counts_exactly_with_a_bounded_buffer() -> None:
    store, _ = _store(capacity=1_000)
    messages = storm(100_000, servers=4)
    new = store.ingest_many(messages)

    assert len(new) == 100_000
    assert store.seen == 100_000
    assert len(store) == store.buffered == 1_000
    assert store.dropped_from_buffer == 99_000
    assert store.by_kind == {"connect": 50_000, "disconnect": 50_000}
    assert sum(store.by_severity.values()) == 100_000
    assert store.by_type == {
        "io.nats.server.advisory.v1.client_connect": 50_000,
        "io.nats.server.advisory.v1.client_disconnect": 50_000,
    }
    assert store.events()[-1].summary == parse_event(*messages[-1]).summary
    assert store.seq_dropped == 0


def test_both_copies_of_an_advisory_count_once_and_name_the_account() -> None:
    store, _ = _store()
    assert store.ingest(*sample("stream_leader_elected@account")) is not None
    assert store.ingest(*sample("stream_leader_elected")) is None  # system copy
    key = SAMPLES["stream_leader_elected"][2]["account"]

    assert store.duplicates == 1 and len(store) == 1
    assert store.by_kind == {"stream_leader_elected": 1}
    ev = store.events()[0]
    assert (ev.account, ev.account_id) == ("APP", key)
    assert store.account_names[key] == "APP"
    for wanted in ("APP", key):
        assert store.query(EventFilter(accounts=[wanted])) == [ev]


def test_system_copy_first_is_renamed_by_the_owner_copy() -> None:
    store, _ = _store()
    store.ingest(*sample("stream_leader_elected"))
    store.ingest(*sample("stream_leader_elected@account"))
    assert [e.account for e in store.events()] == ["APP"]


def test_legacy_account_conns_copy_is_not_counted() -> None:
    store, _ = _store()
    assert store.ingest(*sample("account_conns_legacy")) is None
    assert store.ingest(*sample("account_conns")) is not None
    assert store.by_kind == {"account_conns": 1}
    assert store.duplicates == 1
    # the account connections event teaches the account's name
    key = SAMPLES["account_conns"][2]["acc"]
    assert store.account_names[key] == "APP"
    connect = store.ingest(*sample("connect"))
    assert connect is not None and connect.account == "APP"
    assert connect.account_id == key
    assert "(account APP, from 127.0.0.1)" in connect.summary


def _seq_event(seq: int, server: str = "c1-n1", server_id: str = "NID1") -> bytes:
    _subject, _source, doc = SAMPLES["connect"]
    doc = copy.deepcopy(doc)
    doc["server"].update(name=server, id=server_id, seq=seq)
    doc["id"] = f"ev{server_id}{seq}"
    return encode(doc)


def _feed_seqs(store: EventStore, seqs: list[int], server_id: str = "NID1") -> None:
    subject = SAMPLES["connect"][0]
    for seq in seqs:
        store.ingest(subject, _seq_event(seq, server_id=server_id), "system")


def test_reordered_seqs_are_not_gaps() -> None:
    store, clock = _store()
    _feed_seqs(store, [10, 11, 13, 12, 14, 16, 15])
    clock.now += 60
    (gaps,) = store.seq_gaps()
    assert (gaps.dropped, gaps.pending, gaps.highest) == (0, 0, 16)


def test_missing_seqs_become_dropped_after_the_grace() -> None:
    store, clock = _store()
    _feed_seqs(store, [1, 2, 3, 7, 8])
    (gaps,) = store.seq_gaps()
    assert (gaps.dropped, gaps.pending) == (0, 3)
    clock.now += 5
    assert store.seq_dropped == 3
    _feed_seqs(store, [5])  # too late to matter: already counted
    assert store.seq_dropped == 3


def test_a_restart_is_not_a_gap() -> None:
    store, clock = _store()
    _feed_seqs(store, [100, 101, 102])
    _feed_seqs(store, [1, 2, 3], server_id="NID2")  # new server id after restart
    _feed_seqs(store, [4, 5], server_id="NID2")
    clock.now += 60
    (gaps,) = store.seq_gaps()
    assert (gaps.dropped, gaps.restarts, gaps.server_id) == (0, 1, "NID2")


def test_seq_going_far_back_with_the_same_id_is_a_restart() -> None:
    store, clock = _store()
    _feed_seqs(store, [*range(500, 600), 1, 2, 3])
    clock.now += 60
    (gaps,) = store.seq_gaps()
    assert (gaps.dropped, gaps.restarts, gaps.highest) == (0, 1, 3)


def test_a_huge_gap_is_counted_at_once() -> None:
    store, _ = _store()
    _feed_seqs(store, [1, 100_002])
    assert store.seq_dropped == 100_000


def test_seqs_of_replies_fill_gaps() -> None:
    store, clock = _store()
    _feed_seqs(store, [1, 2, 5])
    store.note_seq("c1-n1", "NID1", 3)
    store.note_seq("c1-n1", "NID1", 4)
    clock.now += 60
    assert store.seq_dropped == 0


def test_storm_with_known_gaps_counts_them_exactly() -> None:
    store, clock = _store(capacity=500)
    store.ingest_many(storm(30_000, servers=3, skip_every=10))
    clock.now += 60
    gaps = {g.server: g for g in store.seq_gaps()}
    # each server's seqs 1..N with every 10th left out: the last one may be a
    # skipped seq that was never followed by a higher one (not observable)
    for g in gaps.values():
        assert g.dropped == (g.highest // 10)
    assert store.seq_dropped == sum(g.highest // 10 for g in gaps.values())


def test_rates_and_connects_per_second() -> None:
    store, clock = _store()
    connect, disconnect = storm(2)
    for second in range(10):
        for _ in range(second + 1):
            store.ingest(*connect, received=clock.now + second)
        store.ingest(*disconnect, received=clock.now + second)
    now = clock.now + 9
    rates = store.rates(window=10, now=now)
    assert rates["io.nats.server.advisory.v1.client_connect"] == pytest.approx(5.5)
    assert rates["io.nats.server.advisory.v1.client_disconnect"] == pytest.approx(1)
    assert store.rates(window=10, now=now, by="kind")["connect"] == pytest.approx(5.5)
    assert store.rate(window=2, now=now) == pytest.approx((10 + 9 + 2) / 2)
    series = store.connects_per_second(12, now=now)
    assert len(series) == 12
    assert [c for _s, c, _d in series] == [0, 0, *range(1, 11)]
    assert [d for _s, _c, d in series] == [0, 0] + [1] * 10
    # nothing arrives for a minute: the rates fall to zero
    assert store.rate(window=10, now=now + 60) == 0


def test_filters() -> None:
    store, _ = _store()
    for name in sorted(SAMPLES):
        store.ingest(*sample(name))
    kinds = {e.kind for e in store.query(EventFilter(types=["leader_elected"]))}
    assert kinds == {
        "stream_leader_elected",
        "consumer_leader_elected",
        "meta_leader_elected",
    }
    assert {e.kind for e in store.query(EventFilter(types=["client_connect"]))} == {
        "connect"
    }
    assert all(e.server == "c1-n2" for e in store.query(EventFilter(servers=["n2"])))
    serious = store.query(EventFilter(min_severity="critical"))
    assert serious and all(e.severity == "critical" for e in serious)
    billing = store.query(EventFilter(text="BILLING"))
    assert {e.kind for e in billing} == {"connect", "disconnect"}
    assert len(store.query(EventFilter(), limit=3)) == 3
    both = store.query(EventFilter(types=["quorum"], accounts=["APP"]))
    assert {e.kind for e in both} == {"stream_quorum_lost", "consumer_quorum_lost"}


def test_listeners_get_batches_at_a_bounded_rate() -> None:
    store, clock = _store(capacity=100)
    calls: list[EventBatch] = []
    store.add_listener(calls.append, interval=0.1)

    store.ingest_many(storm(50))
    assert calls == []  # adding never calls anyone
    assert store.dispatch() is None
    assert len(calls) == 1 and len(calls[0].events) == 50

    store.ingest_many(storm(30))
    wait = store.dispatch()  # too soon: told how long to wait
    assert len(calls) == 1 and wait == pytest.approx(0.1)
    clock.now += 0.1
    store.ingest_many(storm(200))  # more than the buffer holds
    store.dispatch()
    assert len(calls) == 2
    assert len(calls[1].events) == 100 and calls[1].missed == 130


def test_a_failing_listener_does_not_stop_the_others() -> None:
    store, _ = _store()
    got: list[int] = []

    def broken(batch: EventBatch) -> None:
        raise RuntimeError("view crashed")

    store.add_listener(broken)
    store.add_listener(lambda b: got.append(len(b.events)))
    store.ingest_many(storm(5))
    store.dispatch()
    assert got == [5]


def test_cursor_pulls_what_is_new() -> None:
    store, _ = _store(capacity=10)
    store.ingest_many(storm(4))
    cursor = store.cursor(from_start=True)
    assert len(cursor.pull().events) == 4
    assert cursor.pull().events == []
    store.ingest_many(storm(25))
    batch = cursor.pull(limit=5)
    assert len(batch.events) == 5 and batch.missed == 20
    assert cursor.pending == 0


def test_panels_outlive_the_ring_buffer() -> None:
    store, _ = _store(capacity=5)
    store.ingest(*sample("auth_error"))
    store.ingest(*sample("auth_failure_disconnect"))
    store.ingest(*sample("stream_leader_elected@account"))
    store.ingest(*sample("consumer_leader_elected@account"))
    store.ingest(*sample("meta_leader_elected"))
    store.ingest(*sample("statsz"))
    store.ingest_many(storm(100))

    (auth,) = store.auth_errors()
    assert auth.kind == "auth_error" and "nobody" in auth.summary
    timeline = [(c.scope, c.target, c.leader) for c in store.leadership()]
    assert timeline == [
        ("stream", "ORDERS", "c1-n3"),
        ("consumer", "ORDERS > C1", "c1-n2"),
        ("meta", "meta", "c1-n1"),
    ]
    assert store.leadership()[2].cluster == "c1"
    assert set(store.latest_statsz) == {"c1-n2"}


def test_capacity_must_be_positive() -> None:
    with pytest.raises(ValueError):
        EventStore(0)


def test_to_dict_is_json() -> None:
    store, _ = _store()
    for name in sorted(SAMPLES):
        ev = store.ingest(*sample(name))
        if ev is not None:
            json.dumps(ev.to_dict())
