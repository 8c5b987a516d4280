"""Read-only mode is enforced in the core: every action refuses and is audited."""

from __future__ import annotations

import datetime as dt
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

from natsops.errors import ReadOnlyError
from natsops.harness import Deployment
from natsops.ops import Operator


async def test_read_only_refuses_every_action(
    cluster: Deployment, tmp_path: Path
) -> None:
    victim = await connect(cluster, cluster.app_user, name="ro-victim")
    async with operator_for(cluster, tmp_path, read_only=True) as (op, sys_nc, c):
        app = c["APP"]
        name = unique("RO")
        await make_stream(app, name, replicas=3)
        await make_consumer(
            app,
            name,
            "ro",
            priority_groups=["g"],
            priority_policy="pinned_client",
        )
        info = await stream_info(app, name)
        leader = info["cluster"]["leader"]
        meta = await meta_leader(sys_nc)
        until = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)
        conn_server = victim._server_info["server_name"]
        plans = [
            await op.plan_meta_stepdown(),
            await op.plan_stream_stepdown("APP", name),
            await op.plan_consumer_stepdown("APP", name, "ro"),
            await op.plan_move_off_server("APP", name, leader),
            await op.plan_peer_remove("APP", name, leader),
            await op.plan_peer_remove("APP", name, leader, evacuate=True),
            await op.plan_server_remove("c1-n3"),
            await op.plan_server_remove("c1-n3", evacuate=True),
            await op.plan_account_purge("APP"),
            await op.plan_consumer_pause("APP", name, "ro", until),
            await op.plan_consumer_resume("APP", name, "ro"),
            await op.plan_consumer_unpin("APP", name, "ro", "g"),
            await op.plan_server_reload("c1-n1"),
            await op.plan_kick(conn_server, victim._client_id),
        ]
        for plan in plans:
            with pytest.raises(ReadOnlyError, match="refused: read-only mode"):
                await op.execute(plan)

        after = await stream_info(app, name)
        assert after["cluster"]["leader"] == leader
        assert await meta_leader(sys_nc) == meta
        assert not (await js(app, f"CONSUMER.INFO.{name}.ro")).get("paused")
        assert victim.is_connected
        entries = audit_lines(tmp_path)
        assert [e.action for e in entries] == [p.action for p in plans]
        assert {e.result for e in entries} == {"refused"}
        assert all(e.subject for e in entries)
        await js(app, f"STREAM.DELETE.{name}")
    await victim.close()


async def test_plans_are_allowed_and_writable_mode_is_separate(
    cluster: Deployment, tmp_path: Path
) -> None:
    async with operator_for(cluster, tmp_path, read_only=True) as (op, _, _c):
        plan = await op.plan_meta_stepdown()
        rw = Operator(op.conns, audit=op.audit)
        rw.check_writable(plan)  # no error: only the read-only operator refuses
        with pytest.raises(ReadOnlyError):
            op.check_writable(plan)
        assert [e.result for e in audit_lines(tmp_path)] == ["refused"]
