"""Removals, evacuation and account purge, each on a cluster of its own."""

from __future__ import annotations

import json
from pathlib import Path

from test_ops_support import (
    connect,
    js,
    make_consumer,
    make_stream,
    meta_leader,
    operator_for,
    stream_info,
    unique,
)

from natsops.audit import read_audit
from natsops.harness import Deployment, async_wait_for


async def test_server_remove_warns_lists_risks_and_removes_the_peer(
    fresh_cluster: Deployment, tmp_path: Path
) -> None:
    dep = fresh_cluster
    async with operator_for(dep, tmp_path) as (op, sys_nc, clients):
        app = clients["APP"]
        single = unique("ONE")
        await make_stream(app, single, replicas=1)
        triple = unique("THREE")
        await make_stream(app, triple, replicas=3)
        await make_consumer(app, triple, "durable")
        host = (await stream_info(app, single))["cluster"]["leader"]
        victim = sorted(set(dep.servers) - {host})[0]
        dep.servers[victim].stop()

        async def victim_offline() -> bool:
            try:
                info = await stream_info(app, triple)
            except Exception:  # electing a new leader: ask again
                return False
            return any(
                r["name"] == victim and (r.get("offline") or not r.get("current"))
                for r in info["cluster"].get("replicas") or []
            )

        await async_wait_for(victim_offline, 30, f"{victim} seen offline")
        # The victim may have been the meta leader: planning asks the new one.
        await async_wait_for(lambda: meta_leader(sys_nc), 30, "a meta leader")

        online = await op.plan_server_remove(host)
        assert any(f"server {host} is ONLINE" in w for w in online.warnings)
        assert online.destructive
        problems = {(r.stream, r.consumer): r.problem for r in online.at_risk}
        assert "data would be lost" in problems[(single, None)]
        assert "without quorum" in problems[(triple, None)]
        assert "without quorum" in problems[(triple, "durable")]

        offline = await op.plan_server_remove(victim)
        assert not any("ONLINE" in w for w in offline.warnings)
        assert "(offline)" in offline.target
        assert not [r for r in offline.at_risk if r.stream == single]
        outcome = await op.execute(offline)
        assert outcome.verified, outcome.summary

        msg = await sys_nc.request(
            "$SYS.REQ.SERVER.PING.JSZ", b'{"leader_only":true}', timeout=2
        )
        meta = json.loads(msg.data)["data"]["meta_cluster"]
        names = {meta["leader"]} | {r["name"] for r in meta.get("replicas") or []}
        assert victim not in names
        assert (await stream_info(app, single))["cluster"]["leader"] == host
        assert [(e.action, e.result) for e in read_audit(tmp_path / "audit.jsonl")] == [
            ("server-remove", "ok")
        ]


async def test_server_evacuate_moves_streams_away(
    fresh_cluster: Deployment, tmp_path: Path
) -> None:
    async with operator_for(fresh_cluster, tmp_path) as (op, _, clients):
        app = clients["APP"]
        name = unique("EV")
        await make_stream(app, name, replicas=1)
        for i in range(20):
            await app.publish(f"{name.lower()}.x", b"%d" % i)
        await app.flush()
        host = (await stream_info(app, name))["cluster"]["leader"]

        plan = await op.plan_server_remove(host, evacuate=True)
        assert plan.subject == "$JS.API.SERVER.EVACUATE"
        assert not plan.destructive
        assert f"APP/{name}" in plan.streams
        outcome = await op.execute(plan, wait=20)
        assert outcome.verified, outcome.summary

        async def moved() -> bool:
            try:
                info = await stream_info(app, name)
            except Exception:  # the stream is changing leader: ask again
                return False
            return info["cluster"].get("leader") not in (None, host)

        await async_wait_for(moved, 20, "the stream off the evacuated server")
        assert (await stream_info(app, name))["state"]["messages"] == 20


async def test_account_purge_deletes_only_that_accounts_streams(
    fresh_cluster: Deployment, tmp_path: Path
) -> None:
    dep = fresh_cluster
    async with operator_for(dep, tmp_path, accounts=("APP", "OTHER")) as (
        op,
        _,
        clients,
    ):
        other, app = clients["OTHER"], clients["APP"]
        doomed = [unique("GONE"), unique("GONE")]
        for name in doomed:
            await make_stream(other, name, replicas=3)
        await make_consumer(other, doomed[0], "c")
        keep = unique("KEEP")
        await make_stream(app, keep, replicas=1)

        plan = await op.plan_account_purge(dep.accounts["OTHER"].public_key)
        assert plan.destructive and plan.confirm == "OTHER"
        assert plan.streams == sorted(doomed)
        assert plan.subject == (
            f"$JS.API.ACCOUNT.PURGE.{dep.accounts['OTHER'].public_key}"
        )
        assert plan.confirms("OTHER") and not plan.confirms("y")
        assert "2 streams and 1 consumers" in plan.effect
        outcome = await op.execute(plan, wait=20)
        assert outcome.verified, outcome.summary

        names = await js(other, "STREAM.NAMES")
        assert not names.get("streams")
        assert keep in (await js(app, "STREAM.NAMES"))["streams"]

        by_name = await op.plan_account_purge("OTHER")
        assert by_name.account == dep.accounts["OTHER"].public_key or (
            by_name.streams == []
        )


async def test_no_account_user_no_stream_ops(
    fresh_cluster: Deployment, tmp_path: Path
) -> None:
    """Only a system connection: stream moves still plan through JSZ."""
    async with operator_for(fresh_cluster, tmp_path, accounts=()) as (op, _, _c):
        app = await connect(fresh_cluster, fresh_cluster.app_user)
        try:
            name = unique("SYSONLY")
            await make_stream(app, name, replicas=1)
            host = (await stream_info(app, name))["cluster"]["leader"]
            key = fresh_cluster.accounts["APP"].public_key
            plan = await op.plan_move_off_server(key, name, host)
            assert plan.connection == "system"
            assert plan.account_name == "APP"
            await op.execute(plan)
            snap = await op.tracker(plan).follow(timeout=20)
            assert snap.done, snap.describe()
            assert (await stream_info(app, name))["cluster"]["leader"] != host
        finally:
            await app.close()


async def test_removal_impact_reads_every_page_of_accounts(
    cluster: Deployment, tmp_path: Path
) -> None:
    """With one account per JSZ page, the streams of both accounts on a server are
    still found: the later pages come from the server's own subject."""
    async with operator_for(cluster, tmp_path, accounts=("APP", "OTHER")) as (
        op,
        _,
        clients,
    ):
        names = {}
        for account in ("APP", "OTHER"):
            name = unique(f"PG{account}")
            await make_stream(clients[account], name, replicas=1)
            names[account] = name
        hosts = {
            account: (await stream_info(clients[account], name))["cluster"]["leader"]
            for account, name in names.items()
        }
        op.jsz_page_size = 1
        for account, name in names.items():
            plan = await op.plan_server_remove(hosts[account], evacuate=True)
            assert f"{account}/{name}" in plan.streams, plan.streams
            assert not any("pages missing" in w for w in plan.warnings)
