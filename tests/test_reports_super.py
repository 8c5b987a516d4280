"""Report commands against the 2x3 supercluster: filters, routes and gateways per
server, placement across clusters."""

from __future__ import annotations

import pytest
from test_reports_support import (  # noqa: F401 (fixtures)
    Background,
    _isolated_env,
    add_stream,
    connect,
    js_api,
    run_cli,
    run_json,
    system_replies,
)

from natsops.harness import Deployment, run_coro_sync

C1 = {"c1-n1", "c1-n2", "c1-n3"}
C2 = {"c2-n1", "c2-n2", "c2-n3"}


def test_cluster_filter_returns_only_that_cluster(
    supercluster: Deployment, capsys: pytest.CaptureFixture[str]
) -> None:
    everyone = run_json(capsys, supercluster, "servers")
    assert {r["name"] for r in everyone["servers"]} == C1 | C2
    assert everyone["roll_call"]["text"] == "6/6 servers"

    doc = run_json(capsys, supercluster, "servers", "--cluster", "c2")
    assert {r["name"] for r in doc["servers"]} == C2
    assert {r["cluster"] for r in doc["servers"]} == {"c2"}
    assert doc["roll_call"]["text"] == "3/3 servers"
    assert doc["roll_call"]["expected"] == sorted(C2)

    code, out, _ = run_cli(capsys, supercluster, "health", "--cluster", "c1")
    assert code == 0
    assert not any(name in out for name in C2)
    assert out.rstrip().splitlines()[-1] == "3/3 servers"


def test_routes_stay_inside_each_cluster(
    supercluster: Deployment, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = run_json(capsys, supercluster, "routes")
    for name in C1 | C2:
        own = C1 if name in C1 else C2
        peers = {r["peer"] for r in doc["routes"] if r["server"] == name}
        assert peers == own - {name}
    assert {r["state"] for r in doc["routes"]} == {"ok"}


def test_gateways_per_server_match_gatewayz(
    supercluster: Deployment, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = run_json(capsys, supercluster, "gateways")
    gatewayz = run_coro_sync(system_replies(supercluster, "GATEWAYZ"))
    assert {r["server"] for r in doc["gateways"]} == C1 | C2
    assert {r["state"] for r in doc["gateways"]} == {"ok"}
    for name, reply in gatewayz.items():
        data = reply["data"]
        own, other = ("c1", C2) if name in C1 else ("c2", C1)
        remote_cluster = "c2" if own == "c1" else "c1"
        rows = [r for r in doc["gateways"] if r["server"] == name]
        assert {r["cluster"] for r in rows} == {own} == {data["name"]}
        assert {r["gateway"] for r in rows} == {remote_cluster}
        outbound = [r for r in rows if r["direction"] == "outbound"]
        inbound = [r for r in rows if r["direction"] == "inbound"]
        # One outbound gateway per remote cluster, to one of its servers.
        assert len(outbound) == len(data["outbound_gateways"]) == 1
        assert outbound[0]["remote"] in other
        assert len(inbound) == len(
            data.get("inbound_gateways", {}).get("c1" if own == "c2" else "c2", [])
        )
        assert {r["remote"] for r in inbound} <= other
    # Every server opens one outbound gateway to the other cluster, so each cluster
    # receives as many inbound connections as the other has servers.
    for cluster, other in (("c1", C2), ("c2", C1)):
        inbound = [
            r
            for r in doc["gateways"]
            if r["cluster"] == cluster and r["direction"] == "inbound"
        ]
        assert sorted(r["remote"] for r in inbound) == sorted(other)


def test_jetstream_and_placement_across_clusters(
    supercluster: Deployment, capsys: pytest.CaptureFixture[str]
) -> None:
    bg = Background()
    try:
        nc = bg.run(connect(supercluster.urls, supercluster.app_user.creds))
        config = {
            "name": "RPT_C2",
            "subjects": ["rptc2.>"],
            "num_replicas": 3,
            "placement": {"cluster": "c2"},
        }
        bg.run(add_stream(nc, config))
        try:
            js = run_json(capsys, supercluster, "jetstream")
            assert {p["name"] for p in js["peers"]} == C1 | C2

            doc = run_json(capsys, supercluster, "streams", "--account", "APP")
            (row,) = [r for r in doc["streams"] if r["name"] == "RPT_C2"]
            info = bg.run(js_api(nc, "STREAM.INFO.RPT_C2"))
            assert row["leader"] == info["cluster"]["leader"]
            assert row["leader"] in C2
            assert row["placement"] == {"cluster": "c2", "tags": []}
            assert set(row["hosted_by"]) == C2
            assert row["cluster"] == "c2"
        finally:
            bg.run(nc.request("$JS.API.STREAM.DELETE.RPT_C2", b"", timeout=5))
            bg.run(nc.close())
    finally:
        bg.close()
