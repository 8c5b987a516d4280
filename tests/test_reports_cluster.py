"""Report commands against the shared 3-node cluster, checked against what the
servers themselves report."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from nats.aio.client import Client
from test_reports_support import (  # noqa: F401 (fixtures)
    Background,
    _isolated_env,
    add_stream,
    background_fixture,
    connect,
    js_api,
    run_cli,
    run_json,
    system_replies,
)

from natsops import cli
from natsops.commands import reports
from natsops.harness import Deployment, run_coro_sync


@pytest.fixture(scope="module")
def app(cluster: Deployment) -> Iterator[tuple[Background, Client]]:
    """An APP-account connection on a background loop, with two streams."""
    bg = Background()
    nc = bg.run(connect(cluster.urls, cluster.app_user.creds, "reports-app"))
    bg.run(
        add_stream(nc, {"name": "RPT_R1", "subjects": ["rpt1.>"], "num_replicas": 1})
    )
    bg.run(
        add_stream(nc, {"name": "RPT_R3", "subjects": ["rpt3.>"], "num_replicas": 3})
    )

    async def load() -> None:
        for i in range(12):
            await nc.request("rpt3.x", f"m{i}".encode(), timeout=5)
        await js_api(
            nc,
            "CONSUMER.CREATE.RPT_R3.worker",
            {
                "stream_name": "RPT_R3",
                "config": {"durable_name": "worker", "ack_policy": "explicit"},
            },
        )

    bg.run(load())
    yield bg, nc
    for name in ("RPT_R1", "RPT_R3"):
        bg.run(nc.request(f"$JS.API.STREAM.DELETE.{name}", b"", timeout=5))
    bg.run(nc.close())
    bg.close()


def _names(rows: list[dict[str, Any]], key: str = "name") -> set[str]:
    return {r[key] for r in rows}


def test_servers_match_each_servers_varz(
    cluster: Deployment, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = run_json(capsys, cluster, "servers")
    varz = run_coro_sync(system_replies(cluster, "VARZ"))
    rows = {r["name"]: r for r in doc["servers"]}
    assert set(rows) == set(cluster.servers) == set(varz)
    for name, reply in varz.items():
        assert rows[name]["version"] == reply["data"]["version"]
        assert rows[name]["cluster"] == "c1"
        assert rows[name]["state"] == "ok"
        assert rows[name]["routes"] == 2  # the two other servers of c1
    assert doc["roll_call"]["text"] == "3/3 servers"
    assert doc["roll_call"]["missing"] == []
    assert doc["clusters"] == [
        {"name": "c1", "servers": sorted(cluster.servers), "versions": {"2.15.1": 3}}
    ]

    code, out, _ = run_cli(capsys, cluster, "servers")
    assert code == 0
    for name in cluster.servers:
        assert name in out
    assert out.rstrip().splitlines()[-1] == "3/3 servers"


def test_name_filter_returns_only_that_server(
    cluster: Deployment, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = run_json(capsys, cluster, "servers", "--name", "c1-n2", "--exact")
    assert _names(doc["servers"]) == {"c1-n2"}
    assert doc["roll_call"]["expected"] == ["c1-n2"]
    assert doc["roll_call"]["text"] == "1/1 servers"


def test_connection_counts_match_connz(
    cluster: Deployment,
    capsys: pytest.CaptureFixture[str],
    background: Background,
) -> None:
    tag = uuid.uuid4().hex[:8]
    target = cluster.servers["c1-n2"].client_url
    clients = [
        background.run(connect(target, cluster.app_user.creds, f"rpt-{tag}-{i}"))
        for i in range(9)
    ]
    try:
        key = cluster.accounts["APP"].public_key
        doc = run_json(capsys, cluster, "connections", "--account", "APP")
        ours = [r for r in doc["connections"] if r["name"].startswith(f"rpt-{tag}-")]
        assert len(ours) == 9
        assert {r["server"] for r in ours} == {"c1-n2"}
        assert {r["account"] for r in doc["connections"]} == {key}
        assert {r["account_name"] for r in ours} == {"APP"}

        # What the servers themselves count for the account.
        connz = run_coro_sync(system_replies(cluster, "CONNZ", {"acc": key}))
        totals = {n: r["data"]["total"] for n, r in connz.items()}
        assert doc["per_server"] == totals
        assert doc["total"] == sum(totals.values()) == len(doc["connections"])

        code, out, _ = run_cli(capsys, cluster, "connections", "--account", "APP")
        assert code == 0 and f"rpt-{tag}-0" in out
        assert f"of {doc['total']}" in out
    finally:
        for c in clients:
            background.run(c.close())


def test_account_named_by_its_connection_alias(
    cluster: Deployment,
    capsys: pytest.CaptureFixture[str],
    background: Background,
) -> None:
    tag = uuid.uuid4().hex[:8]
    client = background.run(connect(cluster.urls, cluster.app_user.creds, tag))
    try:
        creds = f"shop={cluster.app_user.creds}"
        doc = run_json(
            capsys, cluster, "connections", "--account", "shop",
            "--account-creds", creds,
        )  # fmt: skip
        key = cluster.accounts["APP"].public_key
        assert doc["account"] == key
        assert tag in _names(doc["connections"])
        assert {r["account"] for r in doc["connections"]} == {key}

        accounts = run_json(capsys, cluster, "accounts", "--account-creds", creds)
        app = next(r for r in accounts["accounts"] if r["public_key"] == key)
        assert app["natsops_connection"] == "shop" and app["name"] == "APP"
    finally:
        background.run(client.close())


def test_closed_connections_keep_their_reason(
    cluster: Deployment,
    capsys: pytest.CaptureFixture[str],
    background: Background,
) -> None:
    tag = f"closed-{uuid.uuid4().hex[:8]}"
    client = background.run(connect(cluster.urls, cluster.app_user.creds, tag))
    background.run(client.close())
    argv = ("connections", "--account", "APP", "--state", "closed")
    doc = run_json(capsys, cluster, *argv)
    (row,) = [r for r in doc["connections"] if r["name"] == tag]
    assert row["reason"] == "Client Closed" and row["stop"]
    assert doc["state"] == "closed"
    code, out, _ = run_cli(capsys, cluster, *argv)
    assert code == 0 and tag in out and "Client Closed" in out


def test_connections_are_paged_sorted_and_cut(
    cluster: Deployment,
    capsys: pytest.CaptureFixture[str],
    background: Background,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tag = uuid.uuid4().hex[:8]
    target = cluster.servers["c1-n1"].client_url

    async def open_all() -> list[Client]:
        out = []
        for i in range(20):
            nc = await connect(target, cluster.app_user.creds, f"page-{tag}-{i}")
            for j in range(i):
                await nc.subscribe(f"page.{tag}.{i}.{j}")
            await nc.flush()
            out.append(nc)
        return out

    clients = background.run(open_all())
    try:
        monkeypatch.setattr(reports, "PAGE_SIZE", 6)  # 20+ connections: 4+ pages
        doc = run_json(
            capsys, cluster, "connections", "--account", "APP", "--name", "c1-n1"
        )
        cids = [r["cid"] for r in doc["connections"]]
        assert len(cids) == len(set(cids)) == doc["total"] >= 20
        assert {f"page-{tag}-{i}" for i in range(20)} <= _names(doc["connections"])

        top = run_json(
            capsys, cluster, "connections", "--account", "APP", "--sort", "subs",
            "--top", "3",
        )  # fmt: skip
        assert [r["name"] for r in top["connections"]] == [
            f"page-{tag}-19",
            f"page-{tag}-18",
            f"page-{tag}-17",
        ]
        assert top["shown"] == 3 and top["sort"] == "subs"
    finally:
        for c in clients:
            background.run(c.close())


def test_streams_leaders_match_stream_info(
    cluster: Deployment,
    capsys: pytest.CaptureFixture[str],
    app: tuple[Background, Client],
) -> None:
    bg, nc = app
    doc = run_json(capsys, cluster, "streams", "--account", "APP")
    rows = {r["name"]: r for r in doc["streams"]}
    assert {"RPT_R1", "RPT_R3"} <= set(rows)
    for name, replicas in (("RPT_R1", 1), ("RPT_R3", 3)):
        info = bg.run(js_api(nc, f"STREAM.INFO.{name}"))
        row = rows[name]
        assert row["leader"] == info["cluster"]["leader"]
        assert row["num_replicas"] == replicas
        expected = {info["cluster"]["leader"]} | {
            r["name"] for r in info["cluster"].get("replicas", [])
        }
        assert _names(row["replicas"]) == expected
        assert len(row["hosted_by"]) == replicas
        assert row["messages"] == info["state"]["messages"]
        assert row["account"] == "APP"
    assert rows["RPT_R3"]["messages"] == 12

    code, out, _ = run_cli(capsys, cluster, "streams")
    assert code == 0
    line = next(ln for ln in out.splitlines() if "RPT_R3" in ln)
    assert rows["RPT_R3"]["leader"] in line


def test_consumers_match_consumer_info(
    cluster: Deployment,
    capsys: pytest.CaptureFixture[str],
    app: tuple[Background, Client],
) -> None:
    bg, nc = app
    doc = run_json(capsys, cluster, "consumers", "RPT_R3", "--account", "APP")
    info = bg.run(js_api(nc, "CONSUMER.INFO.RPT_R3.worker"))
    (row,) = doc["consumers"]
    assert row["name"] == "worker"
    assert row["leader"] == info["cluster"]["leader"]
    assert row["num_pending"] == info["num_pending"] == 12
    assert (
        doc["stream_leader"]
        == bg.run(js_api(nc, "STREAM.INFO.RPT_R3"))["cluster"]["leader"]
    )

    # Without --account the stream is found in whichever account has it.
    anywhere = run_json(capsys, cluster, "consumers", "RPT_R3")
    assert anywhere["account_name"] == "APP"
    assert [c["name"] for c in anywhere["consumers"]] == ["worker"]

    # A stream that does not exist is one line and exit 1.
    code, out, err = run_cli(capsys, cluster, "consumers", "NOPE", "--account", "APP")
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and "NOPE" in err and "RPT_R3" in err


def test_jetstream_meta_leader_and_peers(
    cluster: Deployment, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = run_json(capsys, cluster, "jetstream")
    leader_only = run_coro_sync(
        system_replies(cluster, "JSZ", {"leader_only": True}, want=1)
    )
    (reply,) = leader_only.values()
    assert doc["meta"]["leader"] == reply["data"]["meta_cluster"]["leader"]
    assert _names(doc["peers"]) == set(cluster.servers)
    assert [p["name"] for p in doc["peers"] if p["role"] == "leader"] == [
        doc["meta"]["leader"]
    ]
    assert _names(doc["servers"], "server") == set(cluster.servers)
    leaders = [s["server"] for s in doc["servers"] if s["meta_leader"]]
    assert leaders == [doc["meta"]["leader"]]


def test_accounts_count_what_the_servers_count(
    cluster: Deployment,
    capsys: pytest.CaptureFixture[str],
    background: Background,
) -> None:
    target = cluster.servers["c1-n3"].client_url
    clients = [
        background.run(connect(target, cluster.other_user.creds)) for _ in range(4)
    ]
    try:
        doc = run_json(capsys, cluster, "accounts")
        rows = {r["name"]: r for r in doc["accounts"]}
        key = cluster.accounts["OTHER"].public_key
        connz = run_coro_sync(system_replies(cluster, "CONNZ", {"acc": key}))
        assert rows["OTHER"]["public_key"] == key
        assert rows["OTHER"]["connections"] == sum(
            r["data"]["total"] for r in connz.values()
        )
        assert rows["OTHER"]["connections"] >= 4
        assert "c1-n3" in rows["OTHER"]["servers"]
        assert rows["SYS"]["system"] is True
        assert rows["SYS"]["connections"] >= 1  # natsops itself
    finally:
        for c in clients:
            background.run(c.close())


def test_unknown_account_is_one_line(
    cluster: Deployment, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_cli(capsys, cluster, "streams", "--account", "NOPE")
    assert code == 1 and out == ""
    assert err.startswith("natsops: unknown account 'NOPE'")
    assert "SYS" in err and err.count("\n") == 1


def test_health_ok_and_failing_check(
    cluster: Deployment, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = run_json(capsys, cluster, "health")
    assert {r["server"]: r["status"] for r in doc["servers"]} == dict.fromkeys(
        cluster.servers, "ok"
    )
    assert doc["healthy"] is True

    argv = ("health", "--account", "APP", "--stream", "NOPE")
    code, out, _ = run_cli(capsys, cluster, *argv, "--json", "--strict")
    assert code == 3
    bad = json.loads(out)
    assert bad["healthy"] is False
    for row in bad["servers"]:
        assert row["state"] == "unhealthy"
        assert any(e["stream"] == "NOPE" for e in row["errors"])


def test_malformed_body_gives_per_server_errors(
    cluster: Deployment, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run_cli(capsys, cluster, "ping", "VARZ", "--body", "not json")
    assert code == 0  # missing or failing servers are reported, not fatal
    roll = out.rstrip().splitlines()[-1]
    assert roll.startswith("3/3 servers, errors: c1-n1, c1-n2, c1-n3 (400 ")

    code, out, _ = run_cli(
        capsys, cluster, "ping", "VARZ", "--body", "not json", "--json", "--strict"
    )
    assert code == 3
    doc = json.loads(out)
    assert set(doc["roll_call"]["errors"]) == set(cluster.servers)
    assert {e["code"] for e in doc["roll_call"]["errors"].values()} == {400}
    assert doc["roll_call"]["answered"] == []
    assert {r["status"] for r in doc["replies"]} == {"error"}


def test_ping_returns_raw_replies(
    cluster: Deployment, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = run_json(
        capsys, cluster, "ping", "varz", "--body", '{"server_name": "c1-n3"}'
    )
    assert [r["server"] for r in doc["replies"]] == ["c1-n3"]
    assert doc["replies"][0]["data"]["server_name"] == "c1-n3"
    assert doc["request"] == {"server_name": "c1-n3"}

    code, out, _ = run_cli(capsys, cluster, "ping", "IDZ")
    assert code == 0
    for name in cluster.servers:
        assert f"── {name} (c1) ──" in out
    assert out.rstrip().endswith("3/3 servers")


def test_routes_name_every_peer(
    cluster: Deployment, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = run_json(capsys, cluster, "routes")
    routez = run_coro_sync(system_replies(cluster, "ROUTEZ"))
    for name in cluster.servers:
        peers = {r["peer"]: r for r in doc["routes"] if r["server"] == name}
        assert set(peers) == set(cluster.servers) - {name}
        raw = routez[name]["data"]["routes"]
        for peer, row in peers.items():
            assert row["state"] == "ok"
            assert row["connections"] == sum(r["remote_name"] == peer for r in raw)


def test_no_leafnodes_and_no_gateways(
    cluster: Deployment, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = run_json(capsys, cluster, "leafnodes")
    assert doc["leafnodes"] == []
    assert doc["per_server"] == dict.fromkeys(sorted(cluster.servers), 0)
    code, out, _ = run_cli(capsys, cluster, "gateways")
    assert code == 0 and "no gateways" in out


def test_no_jwt_reaches_the_output(
    cluster: Deployment,
    capsys: pytest.CaptureFixture[str],
    background: Background,
) -> None:
    client = background.run(connect(cluster.urls, cluster.app_user.creds, "secret"))
    try:
        key = cluster.accounts["APP"].public_key
        body = json.dumps({"auth": True, "acc": key})
        # The servers include each user's JWT in CONNZ with auth.
        raw = run_coro_sync(
            system_replies(cluster, "CONNZ", {"auth": True, "acc": key})
        )
        assert any(c.get("jwt") for r in raw.values() for c in r["data"]["connections"])
        for argv in (
            ("ping", "CONNZ", "--body", body),
            ("ping", "CONNZ", "--body", body, "--json"),
            ("connections", "--account", "APP", "--json"),
        ):
            code, out, err = run_cli(capsys, cluster, *argv)
            assert code == 0
            assert cluster.app_user.jwt not in out + err
            assert cluster.app_user.seed not in out + err
        ping = ("ping", "CONNZ", "--body", body, "--json")
        doc = json.loads(run_cli(capsys, cluster, *ping)[1])
        conns = [c for r in doc["replies"] for c in r["data"]["connections"]]
        assert {c["jwt"] for c in conns if "jwt" in c} == {"[redacted]"}
    finally:
        background.run(client.close())


def test_denied_fanout_is_reported_at_once(
    cluster: Deployment, capsys: pytest.CaptureFixture[str]
) -> None:
    user = cluster.make_user("SYS", "rpt-denied", pub_deny=["$SYS.REQ.SERVER.>"])
    argv = ["servers", "--server", cluster.url, "--creds", user.creds]
    t0 = time.perf_counter()
    code = cli.main([*argv, "--timeout", "10"])
    elapsed = time.perf_counter() - t0
    out, err = capsys.readouterr()
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and "denied" in err
    assert "$SYS.REQ.SERVER.PING.STATSZ" in err
    assert elapsed < 10  # not the request timeout: the violation ends the wait


def test_missing_account_creds_file_is_an_error(
    cluster: Deployment, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    missing = tmp_path / "nope.creds"
    code, out, err = run_cli(
        capsys, cluster, "streams", "--account-creds", f"APP={missing}"
    )
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and str(missing) in err
