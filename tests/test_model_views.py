"""Derived views over the recorded replies: clusters, JetStream, streams, consumers,
leaders, connections, accounts, topology and health."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from natsops.model import (
    CONNECTION_SORT_KEYS,
    Connection,
    Connz,
    Jsz,
    RateTracker,
    account_rows,
    age_seconds,
    aggregate_connections,
    cluster_overview,
    consumer_rows,
    gateway_rows,
    health_rows,
    jetstream_overview,
    leader_distribution,
    leaf_rows,
    parse_account_statz,
    parse_all,
    parse_connz,
    parse_jsz,
    route_rows,
    server_names,
    server_rows,
    sort_connections,
    stream_rows,
    top_connections,
    version_key,
)

REPLIES = Path(__file__).parent / "fixtures" / "replies"
SERVERS = ["c1-n1", "c1-n2", "c1-n3", "c2-n1", "c2-n2", "c2-n3"]


def raw(name: str) -> dict[str, Any]:
    return json.loads((REPLIES / f"{name}.json").read_text())["servers"]


def parsed(kind: str, name: str) -> dict[str, Any]:
    models, errors = parse_all(kind, raw(name))
    assert not errors
    return models


def jsz(name: str = "jsz") -> dict[str, Jsz]:
    return parsed("JSZ", name)


def meta_leader() -> str:
    """The meta leader every server of the recording agreed on, read from the JSON."""
    leaders = {d["meta_cluster"]["leader"] for d in raw("jsz").values()}
    assert len(leaders) == 1
    return leaders.pop()


def raw_stream_leader(account: str, stream: str) -> str:
    """The leader that the stream's replicas reported, read from the JSON."""
    leaders = set()
    for data in raw("jsz").values():
        for acc in data["account_details"]:
            for s in acc.get("stream_detail", []):
                if acc["name"] == account and s["name"] == stream:
                    leaders.add(s["cluster"]["leader"])
    assert len(leaders) == 1
    return leaders.pop()


# -- clusters and servers ---------------------------------------------------------


@dataclass
class Info:
    """Like the fan-out's envelope server block."""

    name: str
    cluster: str
    version: str


def test_cluster_overview_from_varz() -> None:
    overview = cluster_overview(parsed("VARZ", "varz"))
    assert [c.name for c in overview.clusters] == ["c1", "c2"]
    assert overview.clusters[0].servers == ["c1-n1", "c1-n2", "c1-n3"]
    assert overview.server_count == 6
    assert not overview.drift and overview.newest == "2.15.1"
    assert overview.versions == {"2.15.1": SERVERS}
    assert overview.outdated == []


def test_cluster_overview_version_drift() -> None:
    infos = [Info(n, n[:2], "2.15.1") for n in SERVERS]
    infos[4] = Info("c2-n2", "c2", "2.14.3")
    infos.append(Info("c2-n2", "c2", "2.14.3"))  # a duplicate reply is counted once
    overview = cluster_overview(infos)
    assert overview.drift and overview.newest == "2.15.1"
    assert overview.outdated == ["c2-n2"]
    assert not overview.clusters[0].drift and overview.clusters[1].drift
    assert overview.clusters[1].versions == {
        "2.15.1": ["c2-n1", "c2-n3"],
        "2.14.3": ["c2-n2"],
    }


def test_version_key_orders_releases() -> None:
    versions = ["2.11.0", "2.9.25", "2.11.0-rc.1", "v2.10.1", "2.15.1"]
    assert sorted(versions, key=version_key) == [
        "2.9.25",
        "v2.10.1",
        "2.11.0-rc.1",
        "2.11.0",
        "2.15.1",
    ]


def test_server_rows_merge_statsz_varz_and_rates() -> None:
    statsz = parsed("STATSZ", "statsz")
    varz = parsed("VARZ", "varz")
    tracker = RateTracker()
    tracker.update_statsz(statsz, 1.0)
    rows = server_rows(statsz=statsz, varz=varz, rates=tracker)
    assert [r.name for r in rows] == SERVERS
    for row in rows:
        s = raw("statsz")[row.name]
        assert row.cluster == row.name[:2] and row.version == "2.15.1"
        assert row.connections == s["connections"]
        assert row.msgs_in == s["received"]["msgs"]
        assert row.routes == len(s["routes"]) and row.gateways == 1
        assert row.jetstream and row.rate is None
    assert next(r for r in rows if r.name == "c1-n1").leafnodes == 1

    start = statsz["c1-n1"].start_time
    assert start is not None
    later = server_rows(statsz=statsz, now=start + timedelta(seconds=90))
    assert later[0].uptime == pytest.approx(90.0)
    only = server_rows(identities={"x": Info("x", "c9", "2.9.0")})
    assert (only[0].cluster, only[0].version) == ("c9", "2.9.0")


# -- JetStream --------------------------------------------------------------------


def test_jetstream_overview_from_the_leader() -> None:
    replies = jsz()
    overview = jetstream_overview(replies)
    assert overview.leader == meta_leader()
    assert overview.authoritative
    assert (overview.cluster_size, overview.quorum_needed) == (6, 4)
    assert sorted(p.name for p in overview.peers) == SERVERS
    assert overview.peers[0].leader and overview.peers[0].name == overview.leader
    assert all(p.current and p.answered and not p.offline for p in overview.peers)
    assert {p.cluster for p in overview.peers} == {"c1", "c2"}
    assert overview.has_quorum and overview.unhealthy_peers == []
    assert overview.leaders_seen == {overview.leader: SERVERS}
    usage = {u.server: u for u in overview.servers}
    for name, data in raw("jsz").items():
        assert usage[name].streams == data["streams"]
        assert usage[name].storage == data["storage"]
        assert usage[name].api_errors == data["api"]["errors"]
        assert usage[name].max_storage == 2 * 1024**3
        assert usage[name].meta_leader == (name == overview.leader)


def test_jetstream_overview_without_the_leader() -> None:
    replies = jsz()
    leader = meta_leader()
    del replies[leader]
    overview = jetstream_overview(replies)
    assert overview.leader == leader and not overview.authoritative
    peers = {p.name: p for p in overview.peers}
    assert set(peers) == set(SERVERS)
    assert peers[leader].leader and not peers[leader].answered
    assert not overview.has_quorum  # nobody can vouch for the peers


def test_jetstream_overview_with_offline_and_lagging_peers() -> None:
    data = copy.deepcopy(raw("jsz"))
    leader = meta_leader()
    replicas = data[leader]["meta_cluster"]["replicas"]
    replicas[0].update(current=False, offline=True)
    replicas[1].update(lag=42)
    replicas[2].update(current=False, offline=True)
    overview = jetstream_overview({n: parse_jsz(d, n) for n, d in data.items()})
    assert sorted(overview.unhealthy_peers) == sorted(
        [replicas[0]["name"], replicas[1]["name"], replicas[2]["name"]]
    )
    assert overview.current_peers == 4 and overview.has_quorum
    replicas[3].update(current=False)
    overview = jetstream_overview({n: parse_jsz(d, n) for n, d in data.items()})
    assert overview.current_peers == 3 and not overview.has_quorum


def test_stream_rows_deduplicate_across_servers_and_accounts() -> None:
    rows = stream_rows(jsz())
    assert [(r.account, r.name) for r in rows] == [
        ("APP", "EVENTS"),
        ("APP", "MOVING"),
        ("APP", "ORDERS"),
        ("OTHER", "ORDERS"),
    ]
    assert len({r.key for r in rows}) == 4
    by = {(r.account, r.name): r for r in rows}
    orders = by[("APP", "ORDERS")]
    assert orders.leader == raw_stream_leader("APP", "ORDERS")
    assert orders.authoritative and orders.status == "ok"
    assert orders.num_replicas == 3 and orders.cluster == "c1"
    assert orders.placement_cluster == "c1"
    assert sorted(r.name for r in orders.replicas) == ["c1-n1", "c1-n2", "c1-n3"]
    assert orders.replicas[0].leader and orders.replicas[0].name == orders.leader
    assert all(r.current and r.reported and r.peer for r in orders.replicas)
    assert orders.hosts == ["c1-n1", "c1-n2", "c1-n3"]
    assert (orders.messages, orders.consumers, orders.last_seq) == (20, 2, 20)
    assert orders.subjects == ["orders.>"] and orders.storage == "file"
    assert orders.lagging == [] and orders.move is None
    events = by[("APP", "EVENTS")]
    assert events.cluster == "c2" and events.hosts == [events.leader]
    assert events.storage == "memory" and events.messages == 5
    other = by[("OTHER", "ORDERS")]
    assert other.account_id != orders.account_id and other.messages == 1

    assert [r.name for r in stream_rows(jsz(), account="OTHER")] == ["ORDERS"]
    assert len(stream_rows(jsz(), account=orders.account_id)) == 3


def test_stream_rows_without_the_stream_leader() -> None:
    replies = jsz()
    leader = raw_stream_leader("APP", "ORDERS")
    del replies[leader]
    orders = next(
        r for r in stream_rows(replies) if (r.account, r.name) == ("APP", "ORDERS")
    )
    assert orders.leader == leader and not orders.authoritative
    assert sorted(r.name for r in orders.replicas) == ["c1-n1", "c1-n2", "c1-n3"]
    assert [r.name for r in orders.replicas if not r.reported] == [leader]


def test_stream_rows_lag_and_offline_replicas() -> None:
    data = copy.deepcopy(raw("jsz"))
    leader = raw_stream_leader("APP", "ORDERS")
    app = next(a for a in data[leader]["account_details"] if a["name"] == "APP")
    stream = next(s for s in app["stream_detail"] if s["name"] == "ORDERS")
    first, second = stream["cluster"]["replicas"]
    first.update(current=False, lag=17)
    replies = {n: parse_jsz(d, n) for n, d in data.items()}
    orders = next(r for r in stream_rows(replies, "APP") if r.name == "ORDERS")
    assert orders.status == "lagging" and orders.lagging == [first["name"]]
    lagging = next(r for r in orders.replicas if r.name == first["name"])
    assert lagging.lag == 17 and not lagging.current
    second.update(offline=True)
    replies = {n: parse_jsz(d, n) for n, d in data.items()}
    orders = next(r for r in stream_rows(replies, "APP") if r.name == "ORDERS")
    assert orders.status == "offline"
    assert sorted(orders.lagging) == sorted([first["name"], second["name"]])


def test_stream_rows_show_a_pending_move() -> None:
    rows = {r.name: r for r in stream_rows(jsz("jsz_move"), account="APP")}
    moving = rows["MOVING"]
    assert moving.status == "moving" and moving.move is not None
    assert moving.move.target_cluster == "c2" and moving.move.origin_cluster == "c1"
    assert moving.move.target_peers and moving.move.target_peers[0].startswith("c2-")
    assert moving.move.status and moving.move.description
    assert moving.cluster == "c1" and moving.messages == 3000
    assert rows["ORDERS"].move is None and rows["ORDERS"].status == "ok"


def test_consumer_rows() -> None:
    rows = consumer_rows(jsz())
    assert [(r.stream, r.name) for r in rows] == [
        ("EVENTS", "reader"),
        ("ORDERS", "audit"),
        ("ORDERS", "shipper"),
    ]
    by = {r.name: r for r in rows}
    shipper = by["shipper"]
    assert (shipper.num_pending, shipper.num_ack_pending) == (15, 5)
    assert shipper.num_redelivered == 0 and shipper.delivered_stream_seq == 5
    assert shipper.durable and not shipper.push and shipper.ack_policy == "explicit"
    assert shipper.authoritative
    assert sorted(r.name for r in shipper.replicas) == ["c1-n1", "c1-n2", "c1-n3"]
    assert shipper.hosts == ["c1-n1", "c1-n2", "c1-n3"]
    audit = by["audit"]
    assert audit.paused and audit.pause_until.startswith("2099")
    assert audit.num_pending == 20 and audit.pause_remaining > 0
    reader = by["reader"]
    assert reader.num_pending == 5 and reader.account == "APP"
    assert [r.name for r in consumer_rows(jsz(), stream="EVENTS")] == ["reader"]
    assert consumer_rows(jsz(), account="OTHER") == []


def test_leader_distribution() -> None:
    replies = jsz()
    rows = {r.server: r for r in leader_distribution(replies)}
    assert sorted(rows) == SERVERS
    assert [n for n, r in rows.items() if r.meta] == [meta_leader()]
    assert sum(r.streams for r in rows.values()) == 4
    assert sum(r.consumers for r in rows.values()) == 3
    assert rows[raw_stream_leader("APP", "ORDERS")].streams >= 1
    assert sum(r.stream_replicas for r in rows.values()) == 3 + 1 + 1 + 1
    for name, data in raw("jsz").items():
        assert rows[name].streams == data.get("streams_leader", 0)
        assert rows[name].consumers == data.get("consumers_leader", 0)

    bare = {}
    for name, data in raw("jsz").items():
        bare[name] = parse_jsz(
            {k: v for k, v in data.items() if k != "account_details"}
        )
        bare[name].server = name
    rows = {r.server: r for r in leader_distribution(bare)}
    assert sum(r.streams for r in rows.values()) == 4
    assert [n for n, r in rows.items() if r.meta] == [meta_leader()]


# -- connections ------------------------------------------------------------------


def test_aggregate_connections_from_the_recording() -> None:
    pages = parsed("CONNZ", "connz")
    conns = aggregate_connections(pages)
    assert {c.name for c in conns} == {"producer", "worker", "leaf1"}
    assert len({c.key for c in conns}) == len(conns) == 3
    assert all(c.key[0] in SERVERS for c in conns)
    assert len(aggregate_connections(pages, account="APP")) == 3
    assert aggregate_connections(pages, account="OTHER") == []
    by_subs = sort_connections(conns, "subs")
    assert by_subs[0].name == "leaf1" and by_subs[0].subscriptions == 5


def conn(cid: int, server: str = "s1", **fields: Any) -> Connection:
    return Connection(server=server, cid=cid, **fields)


SORT_CASES = [
    conn(
        3,
        out_msgs=5,
        in_msgs=900,
        out_bytes=10,
        in_bytes=7,
        pending_bytes=0,
        subscriptions=1,
        idle="1m2s",
        rtt="1.5ms",
        uptime="2h3m",
        start="2026-12-03T20:00:00.5Z",
        last_activity="2026-12-03T21:00:00Z",
    ),
    conn(
        1,
        server="s2",
        out_msgs=50,
        in_msgs=9,
        out_bytes=1000,
        in_bytes=70,
        pending_bytes=4096,
        subscriptions=30,
        idle="59s",
        rtt="350µs",
        uptime="1d",
        start="2026-12-03T20:00:00.25Z",
        last_activity="2026-12-03T21:00:00.000001Z",
    ),
    conn(
        2,
        out_msgs=7,
        in_msgs=90,
        out_bytes=100,
        in_bytes=700,
        pending_bytes=12,
        subscriptions=0,
        idle="0s",
        rtt="2s",
        uptime="59m59s",
        start="2026-12-03T20:00:00Z",
        last_activity="2026-12-03T20:59:59.9Z",
    ),
]


@pytest.mark.parametrize(
    ("key", "order"),
    [
        ("msgs_to", [1, 2, 3]),
        ("msgs_from", [3, 2, 1]),
        ("bytes_to", [1, 2, 3]),
        ("bytes_from", [2, 1, 3]),
        ("pending", [1, 2, 3]),
        ("subs", [1, 3, 2]),
        ("idle", [3, 1, 2]),
        ("rtt", [2, 3, 1]),
        ("uptime", [1, 3, 2]),
        ("cid", [1, 2, 3]),
        ("start", [2, 1, 3]),
        ("last", [1, 3, 2]),
    ],
)
def test_sort_connections(key: str, order: list[int]) -> None:
    assert key in CONNECTION_SORT_KEYS
    assert [c.cid for c in sort_connections(SORT_CASES, key)] == order
    flipped = sort_connections(SORT_CASES, key, reverse=not CONNECTION_SORT_KEYS[key])
    assert [c.cid for c in flipped] == order[::-1]
    assert [c.cid for c in top_connections(SORT_CASES, key, 2)] == order[:2]


def test_sort_connections_unknown_key_and_ties() -> None:
    with pytest.raises(ValueError, match="msgs_to"):
        sort_connections(SORT_CASES, "bogus")
    assert top_connections(SORT_CASES, "subs", 0) == []
    ties = [conn(i, server=f"s{i % 3}", out_msgs=1) for i in range(10)]
    assert sort_connections(ties, "msgs_to") == ties  # stable
    same_cid = [conn(7, server="b"), conn(7, server="a")]
    assert [c.server for c in sort_connections(same_cid, "cid")] == ["a", "b"]


def test_sort_by_start_with_offsets_and_garbage() -> None:
    conns = [
        conn(1, start="2026-12-03T21:00:00.5+01:00"),  # 20:00:00.5 UTC
        conn(2, start="garbage"),
        conn(3, start="2026-12-03T20:00:00.4Z"),
    ]
    assert [c.cid for c in sort_connections(conns, "start")] == [2, 3, 1]


# -- accounts, topology, health ---------------------------------------------------


def test_account_rows() -> None:
    statz = parsed("STATZ", "account_statz")
    rows = {r.name: r for r in account_rows(statz, jsz())}
    assert set(rows) == {"APP", "OTHER"}
    app = rows["APP"]
    assert (app.conns, app.leafnodes) == (2, 1)
    assert app.streams == 3 and app.jetstream
    assert app.js_storage > 12_000_000  # the MOVING stream's 3,000 x 4 KiB
    assert app.servers == sorted(
        n
        for n, d in raw("account_statz").items()
        if d["account_statz"][0]["conns"] or d["account_statz"][0]["leafnodes"]
    )
    assert app.subscriptions == sum(
        d["account_statz"][0]["num_subscriptions"]
        for d in raw("account_statz").values()
    )
    assert rows["OTHER"].streams == 1 and rows["OTHER"].conns == 0
    only_statz = account_rows([parse_account_statz(raw("account_statz")["c1-n1"])])
    assert [r.name for r in only_statz] == ["APP"]


def test_route_rows_merge_the_pool() -> None:
    rows = route_rows(parsed("ROUTEZ", "routez"))
    assert [(r.server, r.remote) for r in rows] == [
        ("c1-n1", "c1-n2"),
        ("c1-n1", "c1-n3"),
    ]
    total = len(raw("routez")["c1-n1"]["routes"])
    assert sum(r.connections for r in rows) == total
    assert all(r.kind == "route" and r.rtt > 0 for r in rows)


def test_gateway_rows_resolve_server_names() -> None:
    names = server_names(parsed("IDZ", "idz"))
    assert sorted(names.values()) == SERVERS
    rows = gateway_rows(parsed("GATEWAYZ", "gatewayz"), names)
    outbound = [r for r in rows if r.direction == "out"]
    assert len(outbound) == 6
    for row in outbound:
        assert row.remote in SERVERS and row.remote[:2] == row.gateway
        assert row.gateway != row.server[:2]
    inbound = [r for r in rows if r.direction == "in"]
    assert len(inbound) == 6  # every server's outbound lands somewhere
    assert all(r.remote[:2] != r.server[:2] for r in inbound)


def test_leaf_rows() -> None:
    [row] = leaf_rows(parsed("LEAFZ", "leafz"))
    assert (row.server, row.remote, row.kind, row.direction) == (
        "c1-n1",
        "leaf1",
        "leaf",
        "hub",
    )
    assert row.subscriptions == 5 and row.rtt > 0


def test_health_rows() -> None:
    healthy = health_rows(parsed("HEALTHZ", "healthz"))
    assert [r.server for r in healthy] == SERVERS and all(r.ok for r in healthy)
    mixed = parsed("HEALTHZ", "healthz_errors")
    mixed.update({k: v for k, v in parsed("HEALTHZ", "healthz").items() if k < "c2"})
    rows = health_rows(mixed)
    assert [r.ok for r in rows] == [False] * 3 + [True] * 3
    assert rows[0].status_code == 404 and "NOPE" in rows[0].problems[0]


def test_age_seconds() -> None:
    now = datetime(2026, 12, 3, 20, 0, 10, tzinfo=UTC)
    assert age_seconds("2026-12-03T20:00:00Z", now) == 10.0
    assert age_seconds("2026-12-03T20:00:00Z", "2026-12-03T20:01:00.5Z") == 60.5
    assert age_seconds("", now) is None
    assert age_seconds("2026-12-03T20:00:20Z", now) == 0.0


def test_views_accept_empty_input() -> None:
    assert stream_rows({}) == [] and consumer_rows([]) == []
    assert leader_distribution({}) == []
    empty = jetstream_overview({})
    assert empty.leader == "" and not empty.has_quorum
    assert cluster_overview([]).clusters == []
    assert aggregate_connections([]) == []
    assert parse_connz({}, "x").complete


def test_aggregate_merges_pages_of_one_server() -> None:
    first = Connz(server="s1", connections=[conn(1, out_msgs=1), conn(2, out_msgs=2)])
    second = Connz(server="s1", connections=[conn(2, out_msgs=5), conn(3)])
    other = Connz(server="s0", connections=[conn(1, server="s0")])
    merged = aggregate_connections([first, other, second])
    assert [c.key for c in merged] == [("s0", 1), ("s1", 1), ("s1", 2), ("s1", 3)]
    assert merged[2].out_msgs == 5  # the later page wins


def test_stream_rows_replica_sets_are_ordered_and_complete() -> None:
    """Leader first, then the others by name, each server once; every server that
    reported the stream is marked so, and the order of the replies does not
    change a row that has its leader's report."""
    replies = jsz()
    rows = stream_rows(replies)
    assert rows
    for row in rows:
        names = [r.name for r in row.replicas]
        assert len(names) == len(set(names)), row.name
        assert [r.leader for r in row.replicas].count(True) == (1 if row.leader else 0)
        if row.leader:
            assert row.replicas[0].leader and row.replicas[0].name == row.leader
        others = [r.name for r in row.replicas if not r.leader]
        assert others == sorted(others)
        assert {r.name for r in row.replicas if r.reported} == set(row.hosts)
        assert all(r.peer for r in row.replicas), row.name  # from the meta group
    backwards = stream_rows(list(reversed([replies[n] for n in sorted(replies)])))
    for before, after in zip(rows, backwards, strict=True):
        if before.authoritative:
            assert before == after
