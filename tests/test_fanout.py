"""The fan-out collector and roster against real servers."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator

import nats
import pytest
from nats.aio.client import Client

from natsops.fanout import (
    MISSING,
    OK,
    Collector,
    FanoutResult,
    PingFilter,
    Reply,
    Roster,
    parse_envelope,
)
from natsops.harness import Deployment, async_wait_for


async def _connect(dep: Deployment, creds: str | None = None) -> Client:
    return await nats.connect(
        servers=dep.urls, user_credentials=creds or dep.sys_user.creds
    )


@pytest.fixture
async def sys_nc(cluster: Deployment) -> AsyncIterator[Client]:
    nc = await _connect(cluster)
    yield nc
    await nc.close()


async def test_first_ping_learns_every_server(
    cluster: Deployment, sys_nc: Client
) -> None:
    collector = Collector(sys_nc)
    result = await collector.discover()
    assert set(result.replies) == set(cluster.servers)
    assert result.roll_call() == "3/3 servers"
    assert {e.name for e in collector.roster.entries()} == set(cluster.servers)
    await collector.close()


async def test_known_roster_finishes_when_all_answered(
    cluster: Deployment, sys_nc: Client
) -> None:
    collector = Collector(sys_nc)
    await collector.discover()
    result = await collector.ping("VARZ")
    assert result.complete
    assert set(result.replies) == set(cluster.servers)
    slowest = max(r.latency for r in result.replies.values())
    # Finishing on the last expected reply, not on a silence or timeout: the
    # collector returns right after the slowest server's reply arrived.
    assert result.elapsed < slowest + 0.025
    for name, reply in result.replies.items():
        assert reply.data is not None
        assert reply.data["server_name"] == name
    await collector.close()


async def test_filter_narrows_expected_set(supercluster: Deployment) -> None:
    nc = await _connect(supercluster)
    collector = Collector(nc)
    await collector.discover()
    assert len(collector.roster) == 6
    result = await collector.ping("STATSZ", flt=PingFilter(cluster="c2"))
    assert result.expected == {"c2-n1", "c2-n2", "c2-n3"}
    assert set(result.replies) == result.expected
    assert result.roll_call() == "3/3 servers"
    named = await collector.ping("IDZ", flt=PingFilter(server_name="c1-n2", exact=True))
    assert set(named.replies) == {"c1-n2"}
    await collector.close()
    await nc.close()


async def test_stopped_server_is_named_missing(fresh_cluster: Deployment) -> None:
    nc = await nats.connect(
        servers=[fresh_cluster.servers["c1-n1"].client_url],
        user_credentials=fresh_cluster.sys_user.creds,
    )
    collector = Collector(nc)
    await collector.discover()
    fresh_cluster.servers["c1-n3"].kill()
    result = await collector.ping("STATSZ", timeout=5)
    assert result.missing == ["c1-n3"]
    assert result.roll_call() == "2/3 servers, missing: c1-n3"
    assert result.elapsed < 1.0  # named long before the overall deadline
    assert collector.roster.get("c1-n3").state == MISSING  # type: ignore[union-attr]
    # A collector with no history still names it, through the meta group's peers.
    fresh = Collector(nc)
    found = await fresh.discover()
    assert found.missing == ["c1-n3"]
    await fresh.close()
    await collector.close()
    await nc.close()


async def test_slow_server_is_late_not_lost(fresh_cluster: Deployment) -> None:
    nc = await nats.connect(
        servers=[fresh_cluster.servers["c1-n1"].client_url],
        user_credentials=fresh_cluster.sys_user.creds,
    )
    late: list[tuple[str, Reply]] = []
    collector = Collector(nc, on_late=lambda kind, r: late.append((kind, r)))
    await collector.discover()
    assert collector.roster.expected() == set(fresh_cluster.servers)
    slow = fresh_cluster.servers["c1-n2"]
    slow.pause()
    try:
        result = await collector.ping("STATSZ", timeout=5)
        assert result.missing == ["c1-n2"], result.to_json()
        assert set(result.replies) == {"c1-n1", "c1-n3"}
    finally:
        slow.resume()
    await async_wait_for(lambda: late, 10, "the late reply")
    kind, reply = late[0]
    assert kind == "STATSZ" and reply.server.name == "c1-n2" and reply.late
    assert collector.roster.get("c1-n2").state == OK  # type: ignore[union-attr]
    await collector.close()
    await nc.close()


async def test_error_and_malformed_replies_are_reported(
    cluster: Deployment, sys_nc: Client
) -> None:
    collector = Collector(sys_nc)
    await collector.discover()
    # Every real server answers a non-JSON body with an envelope error.
    bad = await collector._collect(
        "$SYS.REQ.SERVER.PING.VARZ", "VARZ", b"not json", set(cluster.servers), 2, None
    )
    assert set(bad.errors) == set(cluster.servers)
    assert all(r.error and r.error.get("code") == 400 for r in bad.errors.values())
    assert "errors:" in bad.roll_call()

    # A misbehaving responder in the system account answers with garbage.
    async def garbage(msg: nats.aio.msg.Msg) -> None:
        await msg.respond(b"{this is not json")

    anyone = cluster.make_user("SYS", "imposter")
    imposter = await _connect(cluster, anyone.creds)
    sub = await imposter.subscribe("$SYS.REQ.SERVER.PING.STATSZ", cb=garbage)
    await imposter.flush()
    try:
        # Without a roster a round ends after a short silence; on a busy machine
        # the imposter's reply can come after it (and is then late, not counted).
        # Ask until a round holds it, bounded.
        async def counted() -> FanoutResult | None:
            result = await Collector(sys_nc).ping("STATSZ")
            return result if result.malformed else None

        result = await async_wait_for(counted, 10, "a round with the garbage reply")
        assert set(result.replies) == set(cluster.servers)
        assert result.malformed == 1
        assert "1 malformed replies" in result.roll_call()
    finally:
        await sub.unsubscribe()
        await imposter.close()
    await collector.close()


async def test_paged_connz_collects_every_connection(
    cluster: Deployment, sys_nc: Client
) -> None:
    target = cluster.servers["c1-n1"].client_url
    clients = [
        await nats.connect(servers=[target], user_credentials=cluster.app_user.creds)
        for _ in range(25)
    ]
    try:
        collector = Collector(sys_nc)
        await collector.discover()
        result = await collector.paged(
            "CONNZ",
            {"acc": cluster.accounts["APP"].public_key},
            "connections",
            page_size=7,
        )
        data = result.replies["c1-n1"].data or {}
        cids = [c["cid"] for c in data["connections"]]
        assert len(cids) == data["total"] >= 25
        assert len(set(cids)) == len(cids)
        await collector.close()
    finally:
        for c in clients:
            await c.close()


async def test_server_request_uses_fresh_id(fresh_cluster: Deployment) -> None:
    nc = await nats.connect(
        servers=[fresh_cluster.servers["c1-n1"].client_url],
        user_credentials=fresh_cluster.sys_user.creds,
    )
    collector = Collector(nc)
    await collector.discover()
    old_id = collector.roster.get("c1-n2").id  # type: ignore[union-attr]
    fresh_cluster.servers["c1-n2"].restart()
    fresh_cluster.wait_ready()
    reply = await collector.server_request("c1-n2", "VARZ")
    assert reply.data is not None and reply.data["server_name"] == "c1-n2"
    assert reply.server.id != old_id
    await collector.close()
    await nc.close()


def test_parse_envelope_shapes() -> None:
    server = {"name": "a", "id": "X", "cluster": "c", "ver": "2.15.1", "seq": 3}
    ok = parse_envelope(json.dumps({"server": server, "data": {"x": 1}}).encode())
    assert ok is not None and ok.data == {"x": 1} and ok.server.version == "2.15.1"
    stats = parse_envelope(json.dumps({"server": server, "statsz": {"y": 2}}).encode())
    assert stats is not None and stats.data == {"y": 2}
    idz = parse_envelope(b'{"name": "b", "host": "h", "id": "Y"}')
    assert idz is not None and idz.server.name == "b"
    err = parse_envelope(
        json.dumps(
            {"server": server, "error": {"code": 400, "description": "x"}}
        ).encode()
    )
    assert err is not None and err.error_text == "400 x"
    weird = parse_envelope(json.dumps({"server": server, "data": [1]}).encode())
    assert weird is not None and weird.error is not None
    for junk in (b"", b"[]", b"null", b'{"server": 5}', b'{"server": {"name": 7}}'):
        assert parse_envelope(junk) is None


def test_roster_states_and_filters() -> None:
    roster = Roster()
    roster.learn_meta(
        {
            "leader": "a",
            "replicas": [
                {"name": "b", "offline": False},
                {"name": "c", "offline": True},
            ],
        }
    )
    assert roster.expected() == {"a", "b", "c"}
    assert roster.get("c").state == MISSING  # type: ignore[union-attr]
    roster.mark("c", "shutdown")
    assert roster.expected() == {"a", "b"}
    flt = PingFilter(server_name="a", exact=True)
    assert roster.expected(flt) == {"a"}
    assert PingFilter(cluster="c1", exact=True).to_body() == {
        "cluster": "c1",
        "exact_match": True,
    }


async def test_silence_rule_without_roster_is_short(
    cluster: Deployment, sys_nc: Client
) -> None:
    collector = Collector(sys_nc)
    start = time.perf_counter()
    result = await collector.ping("IDZ")
    assert set(result.replies) == set(cluster.servers)
    assert time.perf_counter() - start < 0.3 + 0.2
    await asyncio.sleep(0)
    await collector.close()


async def test_a_finished_round_keeps_no_replies_while_its_inbox_lingers(
    cluster: Deployment, sys_nc: Client
) -> None:
    """The inbox stays open for late replies; the replies themselves belong to the
    result alone (a JSZ round of a large fleet is tens of megabytes)."""
    import gc

    def replies_alive() -> int:
        return sum(isinstance(o, Reply) for o in gc.get_objects())

    collector = Collector(sys_nc)
    await collector.discover()
    gc.collect()
    before = replies_alive()
    result = await collector.ping("VARZ")
    assert len(result.replies) == len(cluster.servers)
    assert replies_alive() >= before + len(cluster.servers)
    del result
    gc.collect()
    assert collector._lingering, "the inbox should still be open for late replies"
    assert replies_alive() == before
    await collector.close()


def test_without_payloads_keeps_the_roll_call_and_leaves_the_original() -> None:

    def reply(name: str, data: dict[str, object]) -> Reply:
        doc = {"server": {"name": name, "id": name.upper()}, "data": data}
        parsed = parse_envelope(json.dumps(doc).encode(), 0.002)
        assert parsed is not None
        return parsed

    error = {"code": 500, "description": "x"}
    bad = parse_envelope(
        json.dumps({"server": {"name": "c", "id": "C"}, "error": error}).encode()
    )
    assert bad is not None
    result = FanoutResult(
        kind="JSZ",
        replies={
            "a": reply("a", {"meta_cluster": {"leader": "a"}, "account_details": [1]}),
            "b": reply("b", {"meta_cluster": {"leader": "a"}, "account_details": [2]}),
        },
        errors={"c": bad},
        missing=["d"],
        expected={"a", "b", "c", "d"},
        elapsed=0.01,
    )
    slim = result.without_payloads("meta_cluster")
    assert slim.roll_call() == result.roll_call()
    assert result.roll_call() == "3/4 servers, missing: d, errors: c (500 x)"
    assert slim.data() == {n: {"meta_cluster": {"leader": "a"}} for n in ("a", "b")}
    assert all(r.raw is None for r in slim.replies.values())
    assert slim.replies["a"].latency == result.replies["a"].latency
    assert result.data()["a"]["account_details"] == [1]  # the original is intact
    assert result.without_payloads().data() == {"a": {}, "b": {}}
