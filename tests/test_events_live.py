"""EventFeed on real clusters: the real events appear, storms count exactly."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import nats
import pytest

from natsops.events import (
    EventBatch,
    EventFeed,
    EventFilter,
    EventStore,
    Recorder,
    read_recording,
)
from natsops.events.feed import subject_matches
from natsops.events.samples import storm
from natsops.fanout import Roster
from natsops.harness import Deployment, Identity, async_wait_for, run_coro_sync


async def _connect(urls: list[str], user: Identity, name: str) -> Any:
    return await nats.connect(
        servers=urls,
        user_credentials=user.creds,
        name=name,
        connect_timeout=5,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.1,
    )


@asynccontextmanager
async def _feed(
    dep: Deployment,
    *,
    urls: list[str] | None = None,
    accounts: bool = True,
    **kwargs: Any,
) -> AsyncIterator[tuple[EventFeed, EventStore, Any]]:
    """A feed on a system connection (and an APP account connection)."""
    store = kwargs.pop("store", None)
    if store is None:
        store = EventStore()
    system = await _connect(urls or dep.urls, dep.sys_user, "natsops-test-sys")
    app = await _connect(urls or dep.urls, dep.app_user, "natsops-test-app")
    feed = EventFeed(store, **kwargs)
    try:
        await feed.start(system, {"APP": app} if accounts else {})
        yield feed, store, app
    finally:
        await feed.stop()
        await system.close()
        await app.close()


def _has(store: EventStore, pred: Callable[[Any], bool]) -> Callable[[], bool]:
    return lambda: any(pred(ev) for ev in store.events())


async def test_connects_and_disconnects_show_the_client_name(
    cluster: Deployment,
) -> None:
    name = f"billing-{uuid.uuid4().hex[:6]}"
    async with _feed(cluster, accounts=False) as (_f, store, _app):
        client = await _connect(cluster.urls[1:2], cluster.app_user, name)
        await client.close()

        def named(kind: str) -> Callable[[], bool]:
            return _has(store, lambda e: e.kind == kind and f"'{name}'" in e.summary)

        await async_wait_for(named("connect"), 10, "the connect event")
        await async_wait_for(named("disconnect"), 10, "the disconnect event")
        (connect,) = [
            e for e in store.events() if e.kind == "connect" and name in e.summary
        ]
        assert connect.server == "c1-n2"
        assert connect.raw["client"]["name"] == name
        assert connect.account == "APP"
        assert connect.summary.startswith(f"client '{name}' connected to c1-n2")
        (gone,) = [
            e for e in store.events() if e.kind == "disconnect" and name in e.summary
        ]
        assert gone.summary == f"client '{name}' disconnected from c1-n2: Client Closed"
        assert cluster.app_user.jwt not in json.dumps(connect.to_dict())


async def test_authentication_failure_appears(cluster: Deployment) -> None:
    user = f"nobody-{uuid.uuid4().hex[:6]}"
    async with _feed(cluster, accounts=False) as (_f, store, _app):
        with pytest.raises(Exception, match=r"(?i)authorization"):
            await nats.connect(
                servers=cluster.urls[:1],
                user=user,
                password="wrong",
                allow_reconnect=False,
                max_reconnect_attempts=0,
                connect_timeout=3,
            )

        def failed() -> bool:
            return any(user in e.summary for e in store.auth_errors())

        await async_wait_for(failed, 10, "the authentication failure")
        (err,) = [e for e in store.auth_errors() if user in e.summary]
        assert err.severity == "error" and err.server == "c1-n1"
        assert (
            err.summary
            == f"c1-n1: authentication failure: user '{user}' from 127.0.0.1"
        )


async def _stepdown(nc: Any, subject: str) -> None:
    """Ask for a stepdown until the leader accepts (a new group may not be ready)."""
    replies: list[bytes] = []

    async def accepted() -> bool:
        try:
            reply = await nc.request(subject, b"", timeout=2)
        except nats.errors.TimeoutError:
            return False
        replies.append(reply.data)
        return json.loads(reply.data).get("success") is True

    try:
        await async_wait_for(accepted, 15, f"a successful {subject}", interval=0.1)
    except TimeoutError:
        raise AssertionError(f"{subject} refused: {replies[-3:]}") from None


async def test_stepdowns_show_in_the_leadership_timeline(cluster: Deployment) -> None:
    stream = f"EV{uuid.uuid4().hex[:8].upper()}"
    async with _feed(cluster) as (_f, store, app):
        js = app.jetstream()
        await js.add_stream(name=stream, subjects=[f"{stream}.>"], num_replicas=3)
        await js.add_consumer(stream, durable_name="C1", ack_policy="explicit")
        try:
            await async_wait_for(
                _has(
                    store, lambda e: e.kind == "stream_created" and e.stream == stream
                ),
                10,
                "the stream created advisory",
            )
            created = [e for e in store.events() if e.kind == "stream_created"]
            assert {e.source for e in created if e.stream == stream} == {"APP"}

            def leaders(scope: str) -> list[str]:
                return [
                    c.leader
                    for c in store.leadership()
                    if c.scope == scope and c.stream == stream
                ]

            await async_wait_for(lambda: leaders("stream"), 10, "a stream leader")
            await async_wait_for(lambda: leaders("consumer"), 10, "a consumer leader")
            first_stream = leaders("stream")[-1]
            first_consumer = leaders("consumer")[-1]

            await _stepdown(app, f"$JS.API.STREAM.LEADER.STEPDOWN.{stream}")
            await async_wait_for(
                lambda: len(leaders("stream")) >= 2, 15, "the stream's new leader"
            )
            assert leaders("stream")[-1] != first_stream

            await _stepdown(app, f"$JS.API.CONSUMER.LEADER.STEPDOWN.{stream}.C1")
            await async_wait_for(
                lambda: len(leaders("consumer")) >= 2, 15, "the consumer's new leader"
            )
            assert leaders("consumer")[-1] != first_consumer

            # both copies arrived (system and owner) but each election counts once
            elected = [
                e
                for e in store.events()
                if e.kind == "stream_leader_elected" and e.stream == stream
            ]
            assert len({e.id for e in elected}) == len(elected)
            assert all(e.account == "APP" for e in elected)
            assert store.duplicates > 0
            assert elected[-1].summary == (
                f"stream {stream} (APP) leader elected on {elected[-1].server}"
            )
        finally:
            await js.delete_stream(stream)


async def test_shutdown_and_lame_duck_mark_the_roster(
    fresh_cluster: Deployment,
) -> None:
    roster = Roster()
    states: list[tuple[str, str]] = []
    first = fresh_cluster.servers["c1-n1"].client_url
    async with _feed(
        fresh_cluster,
        urls=[first],
        accounts=False,
        roster=roster,
        on_server_state=lambda n, s: states.append((n, s)),
    ) as (_f, store, _app):
        await async_wait_for(
            lambda: {"c1-n1", "c1-n2", "c1-n3"} <= {e.name for e in roster.entries()},
            15,
            "STATSZ from every server",
        )
        assert all("statsz" in e.sources for e in roster.entries())

        fresh_cluster.servers["c1-n3"].stop()
        await async_wait_for(
            _has(store, lambda e: e.kind == "shutdown" and e.server == "c1-n3"),
            10,
            "the SHUTDOWN event",
        )
        assert roster.get("c1-n3").state == "shutdown"  # type: ignore[union-attr]

        fresh_cluster.servers["c1-n2"].lame_duck()
        await async_wait_for(
            _has(store, lambda e: e.kind == "lame_duck" and e.server == "c1-n2"),
            10,
            "the LAMEDUCK event",
        )
        assert roster.get("c1-n2").state == "lame_duck"  # type: ignore[union-attr]
        assert states == [("c1-n3", "shutdown"), ("c1-n2", "lame_duck")]
        (shutdown,) = [e for e in store.events() if e.kind == "shutdown"]
        assert shutdown.severity == "critical"
        assert shutdown.summary == "c1-n3: server shut down"


async def _publish_storm(
    dep: Deployment, messages: list[tuple[str, bytes, str]]
) -> None:
    user = dep.make_user("SYS", f"storm-{uuid.uuid4().hex[:6]}")
    nc = await _connect(dep.urls[:1], user, "natsops-storm")
    try:
        for i, (subject, payload, _source) in enumerate(messages):
            await nc.publish(subject, payload)
            if i % 2000 == 0:
                await nc.flush()
        await nc.flush()
    finally:
        await nc.close()


@pytest.mark.parametrize("direct", [True, False], ids=["direct", "nats-py-callback"])
async def test_storm_through_a_real_server_counts_exactly(
    cluster: Deployment, direct: bool
) -> None:
    account = f"STORM{uuid.uuid4().hex[:6].upper()}"
    messages = storm(50_000, servers=5, account=account, skip_every=250)
    store = EventStore(capacity=1_000, gap_grace=0.2)
    batches: list[int] = []
    store.add_listener(lambda b: batches.append(len(b.events)), interval=0.1)
    async with _feed(
        cluster,
        urls=cluster.urls[:1],
        accounts=False,
        store=store,
        subjects=[f"$SYS.ACCOUNT.{account}.>"],
        direct=direct,
    ) as (feed, store, _app):
        # the direct path is taken exactly when asked for (nats-py is pinned)
        assert all((entry.sinks is not None) == direct for entry in feed._subs)
        await _publish_storm(cluster, messages)
        await async_wait_for(
            lambda: store.seen >= len(messages), 60, "every storm event"
        )
        await feed.wait_idle()
        assert feed.dropped == 0
        assert store.seen == len(messages) == 50_000
        assert store.by_kind == {"connect": 25_000, "disconnect": 25_000}
        assert len(store) == 1_000 and store.dropped_from_buffer == 49_000

        # every 250th seq of each server was never published: exactly those count
        expected_gaps = sum(
            g.highest // 250 for g in store.seq_gaps() if g.server.startswith("sim-")
        )
        assert expected_gaps > 0
        await async_wait_for(
            lambda: store.seq_dropped == expected_gaps, 10, "the seq gaps to settle"
        )
    # the store never called anyone per event: few, large batches
    assert len(batches) < 200
    assert max(batches) <= 1_000


async def test_a_recording_replays_to_the_same_events(
    cluster: Deployment, tmp_path: Path
) -> None:
    path = tmp_path / "events.jsonl"
    stream = f"REC{uuid.uuid4().hex[:8].upper()}"
    recorder = Recorder(path)
    async with _feed(cluster, recorder=recorder) as (feed, store, app):
        client = await _connect(cluster.urls[2:], cluster.app_user, "recorded")
        js = app.jetstream()
        await js.add_stream(name=stream, subjects=[f"{stream}.>"], num_replicas=1)
        await js.delete_stream(stream)
        await client.close()
        await async_wait_for(
            _has(store, lambda e: e.kind == "stream_deleted" and e.stream == stream),
            10,
            "the stream deleted advisory",
        )
        await async_wait_for(
            _has(store, lambda e: e.kind == "disconnect" and "'recorded'" in e.summary),
            10,
            "the disconnect",
        )
        await feed.wait_idle()
        live = [(e.kind, e.subject, e.server, e.account, e.summary) for e in store]
        live_stats = store.stats()
    recorder.close()

    text = path.read_text()
    assert cluster.app_user.jwt not in text and cluster.sys_user.jwt not in text
    assert cluster.app_user.seed not in text

    replayed = EventStore()
    for ev in read_recording(path):
        replayed.add(ev)
    again = [(e.kind, e.subject, e.server, e.account, e.summary) for e in replayed]
    assert again == live
    assert replayed.by_kind == live_stats.by_kind
    assert replayed.duplicates == live_stats.duplicates
    assert replayed.query(EventFilter(types=["stream_deleted"]))


async def test_a_full_queue_is_counted_and_reported() -> None:
    store = EventStore(capacity=50)
    feed = EventFeed(store, raw_limit=100)
    batch_sizes: list[int] = []

    def on_batch(batch: EventBatch) -> None:
        batch_sizes.append(len(batch.events))

    store.add_listener(on_batch)
    await feed.start()
    messages = storm(1_000)
    accepted = [feed.push(*m) for m in messages]  # no await: nothing is parsed yet
    assert accepted.count(True) == 100
    assert feed.raw_dropped == 900 and feed.dropped == 900
    assert feed.falling_behind
    assert "900 dropped" in (feed.notice or "")
    assert await feed.wait_idle()
    await feed.stop()
    assert store.seen == 100 and len(store) == 50
    assert sum(batch_sizes) == 50 and len(batch_sizes) == 1


async def test_client_side_slow_consumer_is_counted_and_noticed(
    cluster: Deployment,
) -> None:
    from natsops.connection import Hub
    from natsops.settings import ConnectionSettings, Settings

    settings = Settings(
        system=ConnectionSettings(
            servers=cluster.urls[:1],
            creds=cluster.sys_user.creds_path,
            connect_timeout=5,
        ),
        accounts={},
    )
    account = f"SLOW{uuid.uuid4().hex[:6].upper()}"
    messages = storm(3_000, account=account)
    store = EventStore(capacity=100)
    # a tiny client buffer, so that a busy loop overflows it; that buffer is only
    # used when the feed takes nats-py's callback path
    feed = EventFeed(
        store,
        subjects=[f"$SYS.ACCOUNT.{account}.>"],
        pending_msgs_limit=5,
        direct=False,
    )
    hub = await Hub.open(settings)
    try:
        await feed.start_hub(hub)
        publisher = threading.Thread(
            target=lambda: run_coro_sync(_publish_storm(cluster, messages))
        )
        publisher.start()
        publisher.join(60)  # blocks this loop on purpose: nats-py cannot hand on
        assert not publisher.is_alive()

        await async_wait_for(
            lambda: store.seen + feed.client_dropped >= len(messages),
            30,
            "every message received or counted as dropped",
        )
        await feed.wait_idle()
        assert feed.client_dropped > 0
        assert store.seen + feed.client_dropped == len(messages)
        assert feed.falling_behind
        assert "dropped by the client (slow consumer)" in (feed.notice or "")
        await async_wait_for(
            lambda: feed.slow_consumer_reports > 0, 10, "the hub's slow consumer event"
        )
    finally:
        await feed.stop()
        await hub.close()


def test_subject_patterns() -> None:
    assert subject_matches("$SYS.ACCOUNT.>", "$SYS.ACCOUNT.A.CONNECT")
    assert subject_matches("$SYS.*.A.CONNECT", "$SYS.ACCOUNT.A.CONNECT")
    assert not subject_matches("$SYS.ACCOUNT.>", "$SYS.ACCOUNT")
    assert not subject_matches("$SYS.SERVER.>", "$SYS.ACCOUNT.A.CONNECT")
    assert not subject_matches("a.b", "a.b.c")


async def test_the_queue_is_also_bounded_in_bytes() -> None:
    store = EventStore(capacity=10)
    messages = storm(100)
    limit = 20 * len(messages[0][1])
    feed = EventFeed(store, raw_bytes_limit=limit)
    await feed.start()
    accepted = sum(feed.push(*m) for m in messages)
    # a message is taken while the queued bytes are within the limit
    queued = expected = 0
    for _s, payload, _src in messages:
        if queued > limit:
            break
        queued += len(payload)
        expected += 1
    assert accepted == expected and feed.raw_dropped == 100 - accepted
    assert await feed.wait_idle()
    assert feed.backlog == 0
    # once parsed, the queue takes messages again
    assert feed.push(*messages[0])
    await feed.stop()
    assert store.seen == accepted + 1


async def test_the_direct_path_leaves_other_subscriptions_alone(
    cluster: Deployment,
) -> None:
    """Requests and plain subscriptions on the feed's own connection still get
    nats-py's messages; the client's statistics count the events; stopping the
    feed removes its sinks."""
    account = f"SIDE{uuid.uuid4().hex[:6].upper()}"
    messages = storm(500, account=account)
    async with _feed(
        cluster,
        urls=cluster.urls[:1],
        accounts=False,
        subjects=[f"$SYS.ACCOUNT.{account}.>"],
    ) as (feed, store, _app):
        nc = feed._subs[0].sub._conn
        sinks = nc._natsops_sinks
        assert set(sinks) == {entry.sub._id for entry in feed._subs}
        before = nc.stats["in_msgs"]
        await _publish_storm(cluster, messages)
        await async_wait_for(lambda: store.seen == len(messages), 30, "the storm")
        assert nc.stats["in_msgs"] - before >= len(messages)
        assert feed._subs[0].sub.delivered == len(messages)
        assert feed.client_dropped == 0 and feed.dropped == 0

        # a request on the same connection answers through nats-py as before
        reply = await nc.request("$SYS.REQ.SERVER.PING.STATSZ", b"", timeout=5)
        assert json.loads(reply.data)["server"]["name"] in cluster.servers
        seen: list[str] = []

        async def on_side(msg: Any) -> None:
            seen.append(msg.subject)

        side = await nc.subscribe(f"$SYS.ACCOUNT.{account}.CONNECT", cb=on_side)
        await _publish_storm(cluster, storm(4, account=account))
        await async_wait_for(lambda: len(seen) == 2, 10, "the plain subscription")
        await side.unsubscribe()
        await feed.stop()
        assert sinks == {}


def test_the_direct_path_refuses_a_client_it_does_not_know() -> None:
    """Any other client shape keeps nats-py's callback path."""
    from natsops.events.feed import _direct_delivery

    class OtherClient:
        stats: dict[str, int] = {}
        _subs: dict[int, Any] = {}

        async def _process_msg(self, sid: int, subject: bytes, data: bytes) -> None:
            raise AssertionError("never called")

    assert _direct_delivery(OtherClient()) is None
    assert _direct_delivery(object()) is None
