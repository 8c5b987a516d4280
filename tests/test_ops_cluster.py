"""Operations end to end on the shared 3-node cluster, checked against the servers."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from pathlib import Path

import pytest
from test_ops_support import (
    audit_lines,
    connect,
    js,
    make_consumer,
    make_stream,
    meta_leader,
    operator_for,
    stream_info,
    unique,
)

from natsops.errors import AccountConnectionMissing, ApiError, NotFound
from natsops.harness import Deployment, async_wait_for
from natsops.ops import OperationRefused


async def test_meta_stepdown_elects_a_new_leader(
    cluster: Deployment, tmp_path: Path
) -> None:
    async with operator_for(cluster, tmp_path) as (op, sys_nc, _):
        plan = await op.plan_meta_stepdown()
        before = await meta_leader(sys_nc)
        assert plan.leader == before
        assert plan.subject == "$JS.API.META.LEADER.STEPDOWN"
        assert plan.body is None and plan.connection == "system"
        assert set(plan.candidates) == set(cluster.servers) - {before}

        outcome = await op.execute(plan)

        assert outcome.ok and outcome.verified, outcome.summary
        after = await async_wait_for(lambda: meta_leader(sys_nc), 10, "meta leader")
        assert after != before
        assert outcome.details["leader"] == after
        assert f"new meta leader: {after}" in outcome.summary


async def test_meta_stepdown_to_preferred_server(
    cluster: Deployment, tmp_path: Path
) -> None:
    async with operator_for(cluster, tmp_path) as (op, sys_nc, _):
        before = await async_wait_for(lambda: meta_leader(sys_nc), 10, "meta leader")
        preferred = sorted(set(cluster.servers) - {before})[-1]
        plan = await op.plan_meta_stepdown(preferred=preferred)
        assert plan.body == {"placement": {"preferred": preferred}}
        assert plan.candidates == [preferred]

        outcome = await op.execute(plan)

        assert outcome.verified, outcome.summary
        assert await meta_leader(sys_nc) == preferred

        with pytest.raises(OperationRefused, match="already the meta leader"):
            await op.plan_meta_stepdown(preferred=preferred)
        with pytest.raises(NotFound, match="not a JetStream meta peer"):
            await op.plan_meta_stepdown(preferred="nope-server")


async def test_stream_and_consumer_stepdown_to_preferred(
    cluster: Deployment, tmp_path: Path
) -> None:
    async with operator_for(cluster, tmp_path) as (op, _, clients):
        app = clients["APP"]
        name = unique("SD")
        await make_stream(app, name, replicas=3)
        await make_consumer(app, name, "worker")
        info = await stream_info(app, name)
        leader = info["cluster"]["leader"]
        target = sorted(r["name"] for r in info["cluster"]["replicas"])[0]

        plan = await op.plan_stream_stepdown("APP", name, preferred=target)
        assert plan.leader == leader and plan.candidates == [target]
        assert plan.subject == f"$JS.API.STREAM.LEADER.STEPDOWN.{name}"
        assert plan.connection == "APP"
        outcome = await op.execute(plan)
        assert outcome.verified, outcome.summary
        assert (await stream_info(app, name))["cluster"]["leader"] == target

        cinfo = await js(app, f"CONSUMER.INFO.{name}.worker")
        cleader = cinfo["cluster"]["leader"]
        plan = await op.plan_consumer_stepdown("APP", name, "worker")
        assert plan.leader == cleader
        outcome = await op.execute(plan)
        assert outcome.verified, outcome.summary
        cinfo = await js(app, f"CONSUMER.INFO.{name}.worker")
        assert cinfo["cluster"]["leader"] != cleader
        assert cinfo["cluster"]["leader"] == outcome.details["leader"]
        await js(app, f"STREAM.DELETE.{name}")


async def test_refusals_are_clear_and_change_nothing(
    cluster: Deployment, tmp_path: Path
) -> None:
    async with operator_for(cluster, tmp_path) as (op, _, clients):
        app = clients["APP"]
        name = unique("R1")
        await make_stream(app, name, replicas=1)
        leader = (await stream_info(app, name))["cluster"]["leader"]

        with pytest.raises(OperationRefused) as refused:
            await op.plan_stream_stepdown("APP", name)
        assert str(refused.value).startswith(
            f"stream {name} has one replica: nothing to step down to"
        )
        with pytest.raises(NotFound, match="stream 'NOPE_NOPE' not found"):
            await op.plan_stream_stepdown("APP", "NOPE_NOPE")
        with pytest.raises(NotFound, match="consumer 'ghost' not found"):
            await op.plan_consumer_stepdown("APP", name, "ghost")
        with pytest.raises(AccountConnectionMissing) as missing:
            await op.plan_stream_stepdown("OTHER", name)
        assert "'OTHER'" in str(missing.value)
        assert "--account-creds OTHER=FILE" in str(missing.value)

        assert (await stream_info(app, name))["cluster"]["leader"] == leader
        lines = audit_lines(tmp_path)
        assert [(e.action, e.result) for e in lines] == [
            ("stream-stepdown", "error"),
            ("stream-stepdown", "error"),
            ("consumer-stepdown", "error"),
            ("stream-stepdown", "error"),
        ]
        assert "one replica" in lines[0].error
        await js(app, f"STREAM.DELETE.{name}")


async def test_pause_and_resume_show_in_consumer_info(
    cluster: Deployment, tmp_path: Path
) -> None:
    async with operator_for(cluster, tmp_path) as (op, _, clients):
        app = clients["APP"]
        name = unique("PZ")
        await make_stream(app, name, replicas=3)
        await make_consumer(app, name, "slow")
        until = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=10)

        plan = await op.plan_consumer_pause("APP", name, "slow", until)
        assert plan.body is not None
        assert plan.body["pause_until"].startswith(until.strftime("%Y-%m-%dT%H:%M"))
        outcome = await op.execute(plan)
        assert outcome.verified, outcome.summary
        info = await js(app, f"CONSUMER.INFO.{name}.slow")
        assert info["paused"] is True and info["pause_remaining"] > 0

        plan = await op.plan_consumer_resume("APP", name, "slow")
        assert plan.body is None and plan.action == "consumer-resume"
        outcome = await op.execute(plan)
        assert outcome.verified and outcome.summary == "consumer resumed"
        info = await js(app, f"CONSUMER.INFO.{name}.slow")
        assert not info.get("paused")

        past = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
        with pytest.raises(OperationRefused, match="in the past"):
            await op.plan_consumer_pause("APP", name, "slow", past)
        await js(app, f"STREAM.DELETE.{name}")


async def test_unpin_releases_the_pinned_client(
    cluster: Deployment, tmp_path: Path
) -> None:
    async with operator_for(cluster, tmp_path) as (op, _, clients):
        app = clients["APP"]
        name = unique("PIN")
        await make_stream(app, name, replicas=1)
        await app.publish(f"{name.lower()}.a", b"one")
        await app.flush()
        await make_consumer(
            app,
            name,
            "pinned",
            priority_groups=["jobs"],
            priority_policy="pinned_client",
        )
        inbox = app.new_inbox()
        sub = await app.subscribe(inbox)
        request = {"batch": 1, "expires": 2_000_000_000, "group": "jobs"}
        await app.publish(
            f"$JS.API.CONSUMER.MSG.NEXT.{name}.pinned",
            json.dumps(request).encode(),
            reply=inbox,
        )
        await sub.next_msg(timeout=5)

        async def pinned_id() -> str:
            info = await js(app, f"CONSUMER.INFO.{name}.pinned")
            groups = info.get("priority_groups") or [{}]
            return str(groups[0].get("pinned_client_id") or "")

        first = await async_wait_for(pinned_id, 5, "a pinned client")
        plan = await op.plan_consumer_unpin("APP", name, "pinned", "jobs")
        assert plan.body == {"group": "jobs"}
        assert first in plan.effect
        outcome = await op.execute(plan)
        assert outcome.verified, outcome.summary
        assert await pinned_id() != first

        with pytest.raises(OperationRefused, match="no priority group 'other'"):
            await op.plan_consumer_unpin("APP", name, "pinned", "other")
        await sub.unsubscribe()
        await js(app, f"STREAM.DELETE.{name}")


async def test_reload_answers_and_reloads(cluster: Deployment, tmp_path: Path) -> None:
    async with operator_for(cluster, tmp_path) as (op, _, _clients):
        plan = await op.plan_server_reload("c1-n2")
        assert plan.subject.startswith("$SYS.REQ.SERVER.N")
        assert plan.subject.endswith(".RELOAD")
        outcome = await op.execute(plan)
        assert outcome.ok and outcome.verified, outcome.summary
        assert outcome.reply and outcome.reply["server"]["name"] == "c1-n2"
        assert outcome.details["config_load_time"] != outcome.details["previous"]
        with pytest.raises(NotFound, match="did not answer"):
            await op.plan_server_reload("no-such-server")


async def test_kick_disconnects_a_real_client(
    cluster: Deployment, tmp_path: Path
) -> None:
    url = cluster.servers["c1-n3"].client_url
    disconnected = asyncio.Event()

    async def on_disconnect() -> None:
        disconnected.set()

    victim = await connect(
        cluster,
        cluster.app_user,
        url,
        name="victim",
        allow_reconnect=False,
        disconnected_cb=on_disconnect,
    )
    try:
        async with operator_for(cluster, tmp_path) as (op, _, _clients):
            cid = victim._client_id
            assert isinstance(cid, int)
            plan = await op.plan_kick("c1-n3", cid)
            assert plan.body == {"cid": cid}
            assert "victim" in plan.target
            outcome = await op.execute(plan)
            assert outcome.verified, outcome.summary
            await asyncio.wait_for(disconnected.wait(), 5)
            assert not victim.is_connected
            with pytest.raises(NotFound, match="no open client connection"):
                await op.plan_kick("c1-n3", cid)
    finally:
        await victim.close()


async def test_peer_remove_on_r2_and_refused_on_r3(
    cluster: Deployment, tmp_path: Path
) -> None:
    async with operator_for(cluster, tmp_path) as (op, _, clients):
        app = clients["APP"]
        name = unique("PR")
        await make_stream(app, name, replicas=2)
        info = await stream_info(app, name)
        peer = info["cluster"]["replicas"][0]["name"]
        plan = await op.plan_peer_remove("APP", name, peer)
        assert plan.body == {"peer": peer}
        assert plan.candidates and peer not in plan.candidates
        outcome = await op.execute(plan)
        assert outcome.verified, outcome.summary
        info = await stream_info(app, name)
        names = {info["cluster"]["leader"]} | {
            r["name"] for r in info["cluster"].get("replicas") or []
        }
        assert peer not in names and len(names) == 2

        r3 = unique("PR3")
        await make_stream(app, r3, replicas=3)
        plan = await op.plan_peer_remove("APP", r3, "c1-n1")
        assert any("no spare server" in w for w in plan.warnings)
        with pytest.raises(ApiError, match="peer remap failed") as err:
            await op.execute(plan)
        assert "no spare server" in str(err.value)
        info = await stream_info(app, r3)
        assert len(info["cluster"]["replicas"]) == 2
        with pytest.raises(OperationRefused, match="holds no replica"):
            await op.plan_peer_remove("APP", r3, "nobody")
        for stream in (name, r3):
            await js(app, f"STREAM.DELETE.{stream}")


async def test_move_off_one_server(cluster: Deployment, tmp_path: Path) -> None:
    async with operator_for(cluster, tmp_path) as (op, _, clients):
        app = clients["APP"]
        name = unique("MV")
        await make_stream(app, name, replicas=1)
        for i in range(50):
            await app.publish(f"{name.lower()}.x", b"payload %d" % i)
        await app.flush()
        source = (await stream_info(app, name))["cluster"]["leader"]

        plan = await op.plan_move_off_server("APP", name, source)
        assert plan.connection == "system"
        assert plan.subject == (
            f"$JS.API.ACCOUNT.STREAM.MOVE.{cluster.accounts['APP'].public_key}.{name}"
        )
        assert plan.body == {"server": source}
        outcome = await op.execute(plan)
        assert outcome.ok and outcome.details["target_peers"]
        seen: list[str] = []
        snap = await op.tracker(plan).follow(
            timeout=20, on_update=lambda s: seen.append(s.describe())
        )
        assert snap.done, snap.describe()
        info = await stream_info(app, name)
        assert info["cluster"]["leader"] != source
        assert info["cluster"]["leader"] in outcome.details["target_peers"]
        assert info["state"]["messages"] == 50
        assert any("moving" in line for line in seen) or snap.elapsed < 0.5
        await js(app, f"STREAM.DELETE.{name}")
