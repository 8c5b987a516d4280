"""Parsing the recorded nats-server 2.15.1 replies yields the values in the JSON."""

from __future__ import annotations

import copy
import json
import re
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest

from natsops.model import (
    PARSERS,
    Connection,
    ModelError,
    parse_account_statz,
    parse_accountz,
    parse_all,
    parse_connection,
    parse_connz,
    parse_gatewayz,
    parse_healthz,
    parse_idz,
    parse_jsz,
    parse_leafz,
    parse_reply,
    parse_routez,
    parse_statsz,
    parse_subsz,
    parse_varz,
)
from natsops.model.conns import _connection_tolerant
from natsops.model.jetstream import _stream_fast, _stream_tolerant, parse_stream

REPLIES = Path(__file__).parent / "fixtures" / "replies"
SERVERS = ["c1-n1", "c1-n2", "c1-n3", "c2-n1", "c2-n2", "c2-n3"]


def load(name: str) -> dict[str, Any]:
    """The ``servers`` map (server name to data block) of one fixture."""
    return json.loads((REPLIES / f"{name}.json").read_text())["servers"]


def request(name: str) -> dict[str, Any]:
    """The request body a fixture was recorded with."""
    return json.loads((REPLIES / f"{name}.json").read_text())["request"]


def test_every_fixture_is_small_and_holds_no_token() -> None:
    for path in REPLIES.glob("*.json"):
        text = path.read_text()
        assert len(text) < 32_000, path.name
        assert "eyJ0eXAiOiJKV1Qi" not in text, path.name  # a JWT header
        assert not re.search(r"\bS[UAO][A-Z2-7]{56}\b", text), path.name  # a seed


def test_statsz() -> None:
    raw = load("statsz")
    assert sorted(raw) == SERVERS
    for name, data in raw.items():
        stats = parse_statsz(data, name)
        assert stats.server == name
        assert stats.connections == data["connections"]
        assert stats.subscriptions == data["subscriptions"]
        assert stats.received.msgs == data["received"]["msgs"] > 0
        assert stats.sent.bytes == data["sent"]["bytes"] > 0
        assert stats.active_servers == 6
        assert stats.start_time is not None and stats.start_time.year >= 2024
        assert {r.name for r in stats.routes} == {
            s for s in SERVERS if s[:2] == name[:2] and s != name
        }
        other = "c2" if name.startswith("c1") else "c1"
        assert [g.name for g in stats.gateways] == [other]
        assert stats.jetstream is not None and stats.jetstream.meta is not None
        assert stats.jetstream.meta.leader == data["jetstream"]["meta"]["leader"]
        assert stats.jetstream.meta.cluster_size == 6
        assert stats.jetstream.meta.quorum_needed == 4
        assert stats.jetstream.config.max_storage == 2 * 1024**3


def test_statsz_accepts_the_whole_event_message() -> None:
    data = load("statsz")["c1-n2"]
    stats = parse_statsz({"server": {"name": "c1-n2"}, "statsz": data})
    assert stats.server == "c1-n2"
    assert stats.received.msgs == data["received"]["msgs"]


def test_varz() -> None:
    for name, data in load("varz").items():
        varz = parse_varz(data, name)
        assert varz.name == name == varz.server_name
        assert varz.version == "2.15.1"
        assert varz.cluster_name == name[:2]
        assert varz.cluster.pool_size == 3
        assert varz.gateway.name == name[:2]
        assert varz.gateway.remotes == ["c2" if name[:2] == "c1" else "c1"]
        assert varz.in_msgs == data["in_msgs"] and varz.out_bytes == data["out_bytes"]
        assert varz.uptime_seconds >= 0
        assert varz.jetstream is not None
        assert varz.jetstream.config.store_dir.endswith("jetstream")
        assert varz.leafnodes == (1 if name == "c1-n1" else 0)
        assert varz.raw["server_id"] == data["server_id"]
        assert varz.raw["trusted_operators_jwt"] == "[redacted]"
        assert varz.raw["trusted_operators_claim"][0]["name"] == "natsops-op"
        identity = varz.identity()
        assert (identity.name, identity.cluster, identity.version) == (
            name,
            name[:2],
            "2.15.1",
        )
    leaf_hub = parse_varz(load("varz")["c1-n1"], "c1-n1")
    assert leaf_hub.leaf.port > 0


def test_idz() -> None:
    for name, data in load("idz").items():
        idz = parse_idz(data, name)
        assert idz.name == name
        assert idz.host == "127.0.0.1"
        assert idz.id.startswith("N") and len(idz.id) == 56


def test_healthz_ok_and_errors() -> None:
    for name, data in load("healthz").items():
        health = parse_healthz(data, name)
        assert health.ok and health.status_code == 200 and health.problems == []
    for name, data in load("healthz_errors").items():
        health = parse_healthz(data, name)
        assert not health.ok
        assert (health.status, health.status_code) == ("error", 404)
        [err] = health.errors
        assert (err.type, err.stream) == ("STREAM", "NOPE")
        assert err.account == request("healthz_errors")["account"]
        assert "not found" in health.problems[0]


def test_connz() -> None:
    app = request("connz")["acc"]
    conns: dict[str, Connection] = {}
    for name, data in load("connz").items():
        page = parse_connz(data, name)
        assert page.server == name
        assert page.total == data["total"] == len(page.connections)
        assert page.complete
        for conn, raw in zip(page.connections, data["connections"], strict=True):
            assert conn.server == name
            assert conn.cid == raw["cid"]
            assert conn.account == app
            assert conn.name_tag == "APP" == conn.account_label
            assert conn.subscriptions_list == tuple(raw["subscriptions_list"])
            assert conn.in_msgs == raw["in_msgs"] and conn.out_bytes == raw["out_bytes"]
            conns[conn.name] = conn
    worker = conns["worker"]
    assert (worker.kind, worker.lang, worker.type) == ("Client", "python3", "nats")
    assert set(worker.subscriptions_list) == {"work.>", "status.*"}
    assert worker.subscriptions == 2
    assert worker.rtt_seconds > 0 and worker.start_time is not None
    leaf = conns["leaf1"]
    assert leaf.kind == "Leafnode" and leaf.version == "2.15.1"
    assert conns["producer"].key == (conns["producer"].server, conns["producer"].cid)


def test_connection_fast_path_matches_tolerant_path() -> None:
    for name, data in load("connz").items():
        for raw in data["connections"]:
            fast = parse_connection(raw, name)
            slow = _connection_tolerant(raw, name)
            assert asdict(fast) == asdict(slow)


def test_connz_wrong_types_go_through_tolerant_path() -> None:
    [(server, raw)] = [
        (name, dict(c))
        for name, data in load("connz").items()
        for c in data["connections"]
        if c["name"] == "worker"
    ]
    raw["in_msgs"] = "12345"
    raw["subscriptions"] = None
    raw["lang"] = 7
    raw["subscriptions_list"] = ["a", 3, None]
    conn = parse_connection(raw, server)
    assert conn.in_msgs == 12345
    assert conn.subscriptions == 0
    assert conn.lang == "7"
    assert conn.subscriptions_list == ("a", "3")
    assert conn.cid == raw["cid"]


def test_routez() -> None:
    [(name, data)] = load("routez").items()
    routez = parse_routez(data, name)
    assert routez.server_name == "c1-n1" and routez.num_routes == len(routez.routes)
    assert {r.remote_name for r in routez.routes} == {"c1-n2", "c1-n3"}
    pinned = [r for r in routez.routes if r.account]
    assert len(pinned) == 2  # the system account's pinned route to each peer
    assert all(r.rtt_seconds > 0 for r in routez.routes)
    assert sum(r.in_msgs for r in routez.routes) == sum(
        r["in_msgs"] for r in data["routes"]
    )


def test_gatewayz() -> None:
    for name, data in load("gatewayz").items():
        gw = parse_gatewayz(data, name)
        assert gw.name == name[:2]
        assert gw.remote_clusters == ["c2" if name[:2] == "c1" else "c1"]
        [out] = gw.outbound
        assert out.outbound and out.configured
        assert out.connection.name.startswith("N")
        inbound = sum(len(v) for v in data["inbound_gateways"].values())
        assert len(gw.inbound) == inbound
        assert all(not link.outbound for link in gw.inbound)


def test_leafz() -> None:
    for name, data in load("leafz").items():
        leafz = parse_leafz(data, name)
        assert leafz.leafnodes == len(leafz.leafs) == (1 if name == "c1-n1" else 0)
    leaf = parse_leafz(load("leafz")["c1-n1"], "c1-n1").leafs[0]
    assert leaf.name == "leaf1" and not leaf.is_spoke
    assert leaf.account == request("connz")["acc"]
    assert leaf.subscriptions == len(leaf.subscriptions_list) == 5


def test_subsz() -> None:
    for name, data in load("subsz").items():
        subsz = parse_subsz(data, name)
        assert subsz.limit == 4 and len(subsz.subscriptions) == 4
        assert subsz.num_subscriptions == data["num_subscriptions"] > 0
        assert subsz.total == data["total"]
        assert all(s.account_tag == "APP" for s in subsz.subscriptions)
    assert request("subsz_test")["test"] == "work.item.1"
    matches = {
        name: parse_subsz(data, name).subscriptions
        for name, data in load("subsz_test").items()
    }
    [(server, [queue])] = [(n, subs) for n, subs in matches.items() if subs]
    assert (queue.subject, queue.qgroup, queue.msgs) == ("work.>", "workers", 50)
    workers = [c for c in load("connz")[server]["connections"] if c["name"] == "worker"]
    assert [queue.cid] == [c["cid"] for c in workers]


def test_accountz() -> None:
    for name, data in load("accountz").items():
        accz = parse_accountz(data, name)
        assert accz.system_account in accz.accounts
        assert "$G" in accz.accounts and len(accz.accounts) == 4
        assert accz.detail is None
    [(name, data)] = load("accountz_app").items()
    detail = parse_accountz(data, name).detail
    assert detail is not None
    assert detail.account == request("accountz_app")["account"]
    assert detail.name == "APP" and detail.jetstream_enabled and detail.has_jwt
    assert detail.limits["mem_storage"] == -1
    assert {i.local_subject for i in detail.imports} >= {"$JS.API.>"}
    raw_detail = data["account_detail"]
    assert detail.client_connections == raw_detail["client_connections"]
    assert detail.leafnode_connections == 1  # leaf1 connects to c1-n1
    assert "jwt" not in {f for f in asdict(detail)}


def test_account_statz() -> None:
    app = request("account_statz")["accounts"][0]
    total = 0
    for name, data in load("account_statz").items():
        statz = parse_account_statz(data, name)
        [stat] = statz.accounts
        assert (stat.account, stat.name, stat.server) == (app, "APP", name)
        assert stat.num_subscriptions == data["account_statz"][0]["num_subscriptions"]
        assert stat.sent.msgs == data["account_statz"][0]["sent"]["msgs"]
        total += stat.conns
    assert total == 2  # the producer and the worker; the leaf counts as a leafnode


def test_jsz_meta_and_usage() -> None:
    raw = load("jsz")
    for name, data in raw.items():
        jsz = parse_jsz(data, name)
        assert jsz.meta is not None
        assert jsz.meta.leader == data["meta_cluster"]["leader"]
        assert jsz.meta.cluster_size == 6 and jsz.meta.quorum_needed == 4
        assert len(jsz.meta.replicas) == 5
        assert name not in {p.name for p in jsz.meta.replicas}
        assert jsz.streams == data["streams"] and jsz.messages == data["messages"]
        assert jsz.config.max_memory == 256 * 1024**2
        assert {a.name for a in jsz.account_details} == {"APP", "OTHER"}
        assert all(a.id.startswith("A") for a in jsz.account_details)
    leader = parse_jsz(raw["c1-n1"], "c1-n1").meta
    assert leader is not None
    own = parse_jsz(raw[leader.leader], leader.leader).meta
    assert own is not None and all(p.current for p in own.replicas)
    assert all(0 < p.active < 10 for p in own.replicas)


def test_jsz_huge_reserved_numbers_are_kept() -> None:
    jsz = parse_jsz(load("jsz")["c1-n1"], "c1-n1")
    app = next(a for a in jsz.account_details if a.name == "APP")
    assert app.reserved_memory == 18446744073709551615


def test_jsz_streams_and_consumers() -> None:
    streams = {}
    for name, data in load("jsz").items():
        for info in parse_jsz(data, name).iter_streams():
            assert info.server == name
            streams.setdefault((info.account, info.name), []).append(info)
    assert set(streams) == {
        ("APP", "ORDERS"),
        ("APP", "EVENTS"),
        ("APP", "MOVING"),
        ("OTHER", "ORDERS"),
    }
    orders = streams[("APP", "ORDERS")]
    assert sorted(s.server for s in orders) == ["c1-n1", "c1-n2", "c1-n3"]
    first = orders[0]
    assert first.num_replicas == 3 and first.placement.cluster == "c1"
    assert first.subjects == ["orders.>"] and first.storage == "file"
    assert first.state.messages == 20 and first.state.consumer_count == 2
    assert first.cluster.raft_group.startswith("S-R3F-")
    assert set(first.consumer_raft_groups) == {"shipper", "audit"}
    # Only the consumer leader's report is current: replicas may lag behind.
    consumers = {
        c.name: c for s in orders for c in s.consumers if c.server == c.cluster.leader
    }
    assert consumers["shipper"].num_ack_pending == 5
    assert consumers["shipper"].num_pending == 15
    assert consumers["shipper"].ack_wait == 30.0
    assert consumers["shipper"].max_deliver == 5
    assert consumers["audit"].paused and consumers["audit"].pause_remaining > 1e8
    assert consumers["audit"].pause_until.startswith("2099-01-01")
    assert consumers["audit"].stream == "ORDERS"
    [events] = streams[("APP", "EVENTS")]
    assert events.server.startswith("c2") and events.storage == "memory"
    assert events.cluster.leader == events.server
    [reader] = events.consumers
    assert (reader.name, reader.num_pending, reader.ack_policy) == ("reader", 5, "none")


def recorded_streams() -> list[dict[str, Any]]:
    """Every ``stream_detail`` entry of the recorded JSZ replies."""
    out = []
    for name in ("jsz", "jsz_move"):
        for data in load(name).values():
            for acc in data.get("account_details") or []:
                out.extend(acc.get("stream_detail") or [])
    assert len(out) >= 10
    return out


def test_every_recorded_stream_takes_the_fast_path() -> None:
    for detail in recorded_streams():
        fast = _stream_fast(detail, "c1-n1", "APP", "AAPP")
        assert fast is not None, detail["name"]
        tolerant = _stream_tolerant(detail, "c1-n1", "APP", "AAPP")
        assert asdict(fast) == asdict(tolerant)
        if "config" in detail:
            assert fast.config is detail["config"]  # the raw block, as before
    moving = [d for d in recorded_streams() if (d.get("cluster") or {}).get("desired")]
    assert moving, "the move recording holds a stream in flight"
    info = parse_stream(moving[0])
    assert info.cluster.desired is not None and info.cluster.desired.replicas


def test_stream_with_a_wrongly_typed_field_goes_through_the_tolerant_path() -> None:
    detail = copy.deepcopy(
        next(d for d in recorded_streams() if d["cluster"].get("replicas"))
    )
    detail["state"]["messages"] = "20"
    detail["cluster"]["replicas"][0]["lag"] = True
    assert _stream_fast(detail, "s1", "A", "B") is None
    info = parse_stream(detail, "s1", "A", "B")
    assert info.state.messages == 20 and info.cluster.replicas[0].lag == 1
    assert asdict(info) == asdict(_stream_tolerant(detail, "s1", "A", "B"))


def test_stream_without_config_or_cluster() -> None:
    """JSZ without ``config``, from a server outside any cluster."""
    detail = {"name": "S1", "created": "2026-12-03T21:00:52Z", "state": {"bytes": 9}}
    fast = _stream_fast(detail, "solo", "A", "B")
    assert fast is not None
    assert asdict(fast) == asdict(_stream_tolerant(detail, "solo", "A", "B"))
    assert fast.num_replicas == 1 and fast.config == {} and fast.subjects == []
    assert fast.state.bytes == 9 and fast.cluster.leader == ""


def test_jsz_move_in_flight() -> None:
    moving = []
    for name, data in load("jsz_move").items():
        for info in parse_jsz(data, name).iter_streams():
            if info.name == "MOVING" and info.cluster.desired is not None:
                moving.append(info)
    assert moving, "the recording caught the move of MOVING to c2"
    desired = moving[0].cluster.desired
    assert desired is not None
    assert desired.cluster == "c2"
    assert desired.origin_cluster == "c1" and desired.origin_replicas == 1
    assert desired.peers and all(p.startswith("c2-") for p in desired.peers)
    assert desired.status_type in {
        "meta",
        "membership",
        "snapshot",
        "catchup",
        "quorum",
        "blocked",
        "unavailable",
    }
    assert desired.status_description


def test_parse_reply_dispatch_and_errors() -> None:
    assert set(PARSERS) >= {"STATSZ", "VARZ", "CONNZ", "JSZ", "HEALTHZ", "IDZ"}
    stats = parse_reply("statsz", load("statsz")["c1-n1"], "c1-n1")
    assert stats.server == "c1-n1"
    with pytest.raises(ModelError):
        parse_reply("NOPE", {}, "x")
    with pytest.raises(ModelError):
        parse_reply("JSZ", None, "x")
    with pytest.raises(ModelError, match="CONNZ"):
        parse_connz([1, 2], "x")


def test_parse_all_separates_bad_servers() -> None:
    blocks: dict[str, object] = dict(load("healthz"))
    blocks["broken"] = "not a dict"
    parsed, errors = parse_all("HEALTHZ", blocks)
    assert sorted(parsed) == SERVERS
    assert list(errors) == ["broken"]
    assert "HEALTHZ" in str(errors["broken"])
