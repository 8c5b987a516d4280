"""Stream moves through the dashboard on the supercluster: pick, confirm, track, cancel.

``M`` on a stream offers its targets, the confirmation shows the plan, and after
``y`` the tracker screen follows the move until the servers report it settled;
``C`` in the tracker cancels it and the tracker follows the rollback.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import nats
import pytest
from nats.js.api import Placement
from test_ops_support import publish_stored

from natsops.audit import read_audit
from natsops.connection import request_json
from natsops.harness import Deployment, async_wait_for
from natsops.ui.app import NatsopsApp
from natsops.ui.screens import ConfirmScreen
from natsops.ui.testing import deployment_settings, live_source, show, wait_until
from natsops.ui.tracker import MoveTargetScreen, MoveTrackerScreen

pytestmark = pytest.mark.supercluster

SIZE = (160, 44)
_names = itertools.count(1)


async def _stream(
    dep: Deployment, replicas: int, messages: int, size: int, prefix: str
) -> str:
    """A stream of APP placed in c1, filled with ``messages`` of ``size`` bytes."""
    name = f"{prefix}{next(_names)}"
    nc = await nats.connect(
        servers=list(dep.urls), user_credentials=str(dep.app_user.creds_path)
    )
    try:
        js = nc.jetstream()
        await js.add_stream(
            name=name,
            subjects=[f"{name.lower()}.>"],
            num_replicas=replicas,
            placement=Placement(cluster="c1"),
        )
        payload = b"m" * size

        async def leader() -> bool:
            info = await js.stream_info(name)
            return bool(info.cluster and info.cluster.leader)

        await async_wait_for(leader, 15, f"{name} leader")

        # The first message is acknowledged (and de-duplicated, should a lost ack
        # make it go twice): once it is stored, the path from this connection to
        # the new stream is known to work, and the rest need no acks.
        await publish_stored(
            js, f"{name.lower()}.data", payload, 15, msg_id=f"{name}-first"
        )
        for _ in range(messages - 1):
            await nc.publish(f"{name.lower()}.data", payload)
        await nc.flush()

        async def filled() -> bool:
            info = await js.stream_info(name)
            return info.state.messages == messages

        await async_wait_for(filled, 15, f"{messages} messages in {name}")
    finally:
        await nc.close()
    return name


async def _info(source: Any, name: str) -> dict[str, Any]:
    return await request_json(
        source.hub.account("APP").nc, f"$JS.API.STREAM.INFO.{name}"
    )


async def _open_move(app: NatsopsApp, pilot: Any, name: str, target: str) -> Any:
    """Select the stream, press M, pick ``target`` from the list: the plan."""
    await show(app, "streams")
    view = app.table_of("streams")
    key = f"APP/{name}"
    await wait_until(lambda: view.model.get(key) is not None, 10, name)
    assert view.table.select_key(key)
    await pilot.press("M")
    await wait_until(lambda: isinstance(app.screen, MoveTargetScreen), 5, "targets")
    values = [v for v, _label in app.screen.choices]  # type: ignore[attr-defined]
    assert target in values, values
    assert any(v.startswith("off c1-") for v in values)  # off a replica server
    await pilot.press("home", *["down"] * values.index(target), "enter")
    await wait_until(lambda: isinstance(app.screen, ConfirmScreen), 10, "the plan")
    return app.screen.plan  # type: ignore[attr-defined]


async def test_move_r1_stream_to_c2_is_tracked_until_done(
    supercluster: Deployment, tmp_path: Path
) -> None:
    name = await _stream(
        supercluster, replicas=1, messages=300, size=100, prefix="UIMV"
    )
    audit = tmp_path / "audit.jsonl"
    settings = deployment_settings(supercluster, audit_log=audit, refresh=5.0)
    async with live_source(settings) as source:
        app = NatsopsApp(source)
        async with app.run_test(size=SIZE) as pilot:
            plan = await _open_move(app, pilot, name, "cluster c2")
            assert plan.subject == f"$JS.API.STREAM.UPDATE.{name}"
            assert plan.body["placement"] == {"cluster": "c2"}
            assert set(plan.candidates) == {"c2-n1", "c2-n2", "c2-n3"}

            await pilot.press("y")
            await wait_until(
                lambda: isinstance(app.screen, MoveTrackerScreen), 5, "the tracker"
            )
            tracker = app.screen
            assert isinstance(tracker, MoveTrackerScreen)
            await wait_until(lambda: tracker.done, 30, "the move to settle")

            final = tracker.snapshot
            assert final.cluster == "c2" and final.done
            assert final.leader and final.leader.startswith("c2-")
            assert final.target_peers and final.target_peers[0].startswith("c2-")
            assert any(s.in_flight for s in tracker.history)
            assert tracker.state_line().startswith(f"done: {name} settled on c2-")
            assert "DONE" in app.export_screenshot()  # shown on the screen
            # The leader moved from c1 to c2, and the advisories said so.
            assert final.leaders[0].startswith("c1-")
            assert final.leaders[-1] == final.leader
            await wait_until(
                lambda: any("leader_elected" in e for e in tracker.tracker.events),
                10,
                "a leader election advisory",
            )

            info = await _info(source, name)
            assert info["cluster"]["name"] == "c2"
            assert "desired" not in info["cluster"]
            assert info["state"]["messages"] == 300

            # esc goes back; the Streams view shows the stream in c2.
            await pilot.press("escape")
            view = app.table_of("streams")
            await wait_until(
                lambda: (
                    getattr(view.model.get(f"APP/{name}"), "values", ())[4:5] == ("c2",)
                ),
                10,
                "the Streams view to show c2",
            )
    entries = [(e.action, e.result) for e in read_audit(audit)]
    assert entries == [("stream-move-placement", "ok")]


async def test_cancel_from_the_tracker_rolls_the_move_back(
    supercluster: Deployment, tmp_path: Path
) -> None:
    name = await _stream(
        supercluster, replicas=3, messages=300, size=8000, prefix="UICX"
    )
    audit = tmp_path / "audit.jsonl"
    settings = deployment_settings(supercluster, audit_log=audit, refresh=5.0)
    async with live_source(settings) as source:
        before = await _info(source, name)
        peers = {before["cluster"]["leader"]} | {
            r["name"] for r in before["cluster"]["replicas"]
        }
        app = NatsopsApp(source)
        async with app.run_test(size=SIZE, notifications=True) as pilot:
            await _open_move(app, pilot, name, "cluster c2")
            await pilot.press("y")
            await wait_until(
                lambda: isinstance(app.screen, MoveTrackerScreen), 5, "the tracker"
            )
            tracker = app.screen
            assert isinstance(tracker, MoveTrackerScreen)
            await wait_until(lambda: tracker.sent, 10, "the move to be sent")

            # C in the tracker plans the cancel; the confirmation shows CANCEL_MOVE.
            await pilot.press("C")
            await wait_until(lambda: isinstance(app.screen, ConfirmScreen), 10, "plan")
            cancel = app.screen.plan  # type: ignore[attr-defined]
            assert cancel.subject.startswith("$JS.API.ACCOUNT.STREAM.CANCEL_MOVE.")
            assert cancel.subject.endswith(f".{name}")
            await pilot.press("y")
            await wait_until(lambda: app.screen is tracker, 5, "back in the tracker")
            assert tracker.cancelling
            await wait_until(lambda: tracker.done, 40, "the rollback to settle")
            assert tracker.state_line().startswith(f"done: {name} rolled back to")

            info = await _info(source, name)
            now = {info["cluster"]["leader"]} | {
                r["name"] for r in info["cluster"]["replicas"]
            }
            assert now == peers
            assert info["cluster"]["name"] == "c1"
            assert "desired" not in info["cluster"]

            # Nothing is in flight any more: C says so and plans nothing.
            await pilot.press("C")
            await wait_until(
                lambda: any(
                    "no move in flight" in n.message for n in app._notifications
                ),
                5,
                "a notice",
            )
            assert app.screen is tracker

            # Again, leaving the tracker (the move goes on) and cancelling with C
            # on the stream in the Streams view: the tracker follows the rollback.
            await pilot.press("escape")
            await _open_move(app, pilot, name, "cluster c2")
            await pilot.press("y")
            await wait_until(
                lambda: isinstance(app.screen, MoveTrackerScreen) and app.screen.sent,
                10,
                "the second move to be sent",
            )
            await pilot.press("escape")
            await wait_until(lambda: app.screen is app.screen_stack[0], 5, "Streams")
            assert app.current == "streams"
            await pilot.press("C")
            await wait_until(lambda: isinstance(app.screen, ConfirmScreen), 10, "plan")
            confirm = app.screen
            assert isinstance(confirm, ConfirmScreen)
            assert confirm.plan.action == "stream-cancel-move"
            await pilot.press("y")
            await wait_until(
                lambda: isinstance(app.screen, MoveTrackerScreen), 5, "the tracker"
            )
            rollback = app.screen
            assert isinstance(rollback, MoveTrackerScreen) and rollback.cancelling
            await wait_until(lambda: rollback.done, 40, "the second rollback")
            info = await _info(source, name)
            assert info["cluster"]["name"] == "c1"
            assert "desired" not in info["cluster"]
    entries = [(e.action, e.result) for e in read_audit(audit)]
    assert entries == [
        ("stream-move-placement", "ok"),
        ("stream-cancel-move", "ok"),
        ("stream-move-placement", "ok"),
        ("stream-cancel-move", "ok"),
    ]
