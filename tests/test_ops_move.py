"""Stream moves across the supercluster: tracked to the end, and cancelled."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from test_ops_support import js, make_stream, operator_for, stream_info, unique

from natsops import cli
from natsops.audit import read_audit
from natsops.harness import Deployment
from natsops.ops import MoveSnapshot, OperationRefused

pytestmark = pytest.mark.supercluster


async def test_move_from_c1_to_c2_is_tracked_until_done(
    supercluster: Deployment, tmp_path: Path
) -> None:
    async with operator_for(supercluster, tmp_path) as (op, _, clients):
        app = clients["APP"]
        name = unique("XC")
        await make_stream(app, name, replicas=1, placement={"cluster": "c1"})
        for i in range(500):
            await app.publish(f"{name.lower()}.data", b"x" * 200 + b"%d" % i)
        await app.flush()

        plan = await op.plan_move_placement("APP", name, cluster="c2")
        assert plan.subject == f"$JS.API.STREAM.UPDATE.{name}"
        assert plan.body is not None and plan.body["placement"] == {"cluster": "c2"}
        assert plan.body["name"] == name and plan.body["num_replicas"] == 1
        assert set(plan.candidates) == {"c2-n1", "c2-n2", "c2-n3"}
        outcome = await op.execute(plan)
        assert outcome.ok
        targets = outcome.details["target_peers"]
        assert len(targets) == 1 and targets[0].startswith("c2-")

        tracker = op.tracker(plan)
        snaps: list[MoveSnapshot] = []
        final = await tracker.follow(timeout=30, on_update=snaps.append)

        assert final.done, final.describe()
        assert final.cluster == "c2" and final.leader in targets
        assert any(s.in_flight for s in snaps)
        assert any(s.status_type for s in snaps), [s.describe() for s in snaps]
        info = await stream_info(app, name)
        assert info["cluster"]["name"] == "c2"
        assert info["cluster"]["leader"].startswith("c2-")
        assert "desired" not in info["cluster"]
        assert info["state"]["messages"] == 500
        await js(app, f"STREAM.DELETE.{name}")


async def test_cancelled_move_rolls_back(
    supercluster: Deployment, tmp_path: Path
) -> None:
    async with operator_for(supercluster, tmp_path) as (op, _, clients):
        app = clients["APP"]
        name = unique("CX")
        await make_stream(app, name, replicas=3, placement={"cluster": "c1"})
        payload = b"y" * 8000
        for _ in range(300):
            await app.publish(f"{name.lower()}.data", payload)
        await app.flush()
        original = await stream_info(app, name)
        peers = {original["cluster"]["leader"]} | {
            r["name"] for r in original["cluster"]["replicas"]
        }

        move = await op.plan_move_placement("APP", name, cluster="c2")
        await op.execute(move)
        cancel = await op.plan_cancel_move("APP", name)
        assert cancel.subject.startswith("$JS.API.ACCOUNT.STREAM.CANCEL_MOVE.")
        assert cancel.body is None
        outcome = await op.execute(cancel, wait=30)

        assert outcome.verified, outcome.summary
        info = await stream_info(app, name)
        now = {info["cluster"]["leader"]} | {
            r["name"] for r in info["cluster"]["replicas"]
        }
        assert now == peers
        assert info["cluster"]["name"] == "c1"
        assert info["config"]["placement"] == {"cluster": "c1"}
        assert "desired" not in info["cluster"]
        with pytest.raises(OperationRefused, match="no move is in flight"):
            await op.plan_cancel_move("APP", name)
        actions = [(e.action, e.result) for e in read_audit(tmp_path / "audit.jsonl")]
        assert actions == [
            ("stream-move-placement", "ok"),
            ("stream-cancel-move", "ok"),
            ("stream-cancel-move", "error"),
        ]
        await js(app, f"STREAM.DELETE.{name}")


def test_cli_move_with_wait(
    supercluster: Deployment,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("NATSOPS_READ_ONLY", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    name = unique("CW")

    async def create() -> None:
        async with operator_for(supercluster, tmp_path) as (_, _sys, clients):
            await make_stream(clients["APP"], name, 1, placement={"cluster": "c2"})

    asyncio.run(create())
    audit = tmp_path / "cli-audit.jsonl"
    conn = [
        "--server",
        supercluster.url,
        "--creds",
        supercluster.sys_user.creds,
        "--account-creds",
        f"APP={supercluster.app_user.creds}",
        "--audit-log",
        str(audit),
    ]
    flags = ["--account", "APP", "--cluster", "c1", "--wait", "--wait-timeout", "30"]
    code = cli.main(["move", *conn, name, *flags, "--yes", "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 0
    assert doc["move"]["done"] is True and doc["move"]["cluster"] == "c1"

    async def check() -> dict:
        async with operator_for(supercluster, tmp_path) as (_, _sys, clients):
            info = await stream_info(clients["APP"], name)
            await js(clients["APP"], f"STREAM.DELETE.{name}")
            return info

    info = asyncio.run(check())
    assert info["cluster"]["name"] == "c1"
    assert [e.result for e in read_audit(audit)] == ["ok"]
