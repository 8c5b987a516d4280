"""Pilot tests of operation keys: confirmation, execution, read-only, permissions.

Every key builds a plan through the ops layer and shows its target, subject, body
and effect; ``n`` changes nothing, ``y`` acts and the cluster is checked afterwards.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from natsops.connection import request_json
from natsops.harness import SYSTEM_PUB_ALLOW, Deployment, async_wait_for
from natsops.ui import actions
from natsops.ui.app import NatsopsApp
from natsops.ui.screens import ConfirmScreen, PromptScreen
from natsops.ui.testing import (
    create_stream,
    deployment_settings,
    live_source,
    polled,
    show,
    wait_until,
)

SIZE = (160, 40)
STREAM = "UIOPS"


@pytest.fixture(scope="module")
def ops_cluster(cluster: Deployment) -> Deployment:
    """The shared cluster with an R3 stream in APP."""
    create_stream(cluster, STREAM, replicas=3)
    return cluster


def _notified(app: NatsopsApp, text: str) -> bool:
    return any(text in n.message for n in app._notifications)


async def test_stream_stepdown_through_the_confirmation(
    ops_cluster: Deployment, tmp_path: Path
) -> None:
    audit = tmp_path / "audit.jsonl"
    settings = deployment_settings(ops_cluster, audit_log=audit, refresh=5.0)
    async with live_source(settings) as source:
        app = NatsopsApp(source)
        async with app.run_test(size=SIZE) as pilot:
            await show(app, "streams")
            view = app.table_of("streams")
            key = f"APP/{STREAM}"
            await wait_until(lambda: view.model.get(key) is not None, 10, STREAM)
            assert view.table.select_key(key)
            before = view.model.get(key).values[2]  # type: ignore[union-attr]
            assert app.check_action("op", ("S",)) is True

            # S asks for a preferred leader; n on the confirmation changes nothing.
            await pilot.press("S")
            await wait_until(lambda: isinstance(app.screen, PromptScreen), 5, "prompt")
            await pilot.press("enter")
            await wait_until(
                lambda: isinstance(app.screen, ConfirmScreen), 10, "confirmation"
            )
            plan = app.screen.plan  # type: ignore[attr-defined]
            assert plan.subject == f"$JS.API.STREAM.LEADER.STEPDOWN.{STREAM}"
            assert plan.leader == before
            assert plan.connection == "APP"
            await pilot.press("n")
            await wait_until(lambda: not isinstance(app.screen, ConfirmScreen), 5, "n")

            # y performs it: the stream reports a new leader, and so does the view.
            await pilot.press("S")
            await wait_until(lambda: isinstance(app.screen, PromptScreen), 5, "prompt")
            await pilot.press("enter")
            await wait_until(
                lambda: isinstance(app.screen, ConfirmScreen), 10, "confirmation"
            )
            await pilot.press("y")

            async def new_leader() -> bool:
                info = await request_json(
                    source.hub.account("APP").nc, f"$JS.API.STREAM.INFO.{STREAM}"
                )
                leader = info.get("cluster", {}).get("leader")
                return bool(leader) and leader != before

            await async_wait_for(new_leader, 15, "a new stream leader")
            await polled(app, "streams")
            await wait_until(
                lambda: (
                    (row := view.model.get(key)) is not None
                    and row.values[2] not in ("", before)
                ),
                15,
                "the Streams view to show the new leader",
            )

            # Both attempts are in the audit log, and the Audit view lists them.
            await pilot.press("0")
            await polled(app, "audit")
            audit_view = app.table_of("audit")
            results = [r.values[2] for r in audit_view.model.rows()]
            assert "cancelled" in results
            assert any(r in ("ok", "unverified") for r in results)
            assert all(
                r.values[1] == "stream-stepdown" for r in audit_view.model.rows()
            )


async def test_read_only_refuses_every_key_with_a_reason(
    ops_cluster: Deployment, tmp_path: Path
) -> None:
    audit = tmp_path / "audit.jsonl"
    settings = deployment_settings(ops_cluster, audit_log=audit, read_only=True)
    async with live_source(settings) as source:
        app = NatsopsApp(source)
        async with app.run_test(size=SIZE, notifications=True) as pilot:
            await show(app, "jetstream")
            assert "READ-ONLY" in app.status_text().plain
            assert app.check_action("op", ("K",)) is False  # not a JetStream key
            pressed = 0
            for view, keys in actions.ACTIONS.items():
                await show(app, view)
                for key, act in keys.items():
                    # Dimmed in the footer, and the key says why it does nothing.
                    assert app.check_action("op", (key,)) is None, (view, key)
                    app._notifications.clear()
                    await pilot.press(key)
                    want = f"{key} ({act.label}) does nothing: natsops runs read-only"
                    await wait_until(
                        lambda want=want: any(
                            want in n.message and n.title == "READ-ONLY"
                            for n in app._notifications
                        ),
                        5,
                        f"a notice for {key} in {view}",
                    )
                    assert app.screen is app.screen_stack[0], (view, key)
                    pressed += 1
            assert pressed == sum(len(k) for k in actions.ACTIONS.values()) >= 14
    assert not audit.exists()


async def test_denied_action_is_disabled_with_the_subject(
    ops_cluster: Deployment, tmp_path: Path
) -> None:
    user = ops_cluster.make_user(
        "SYS",
        "no-meta-stepdown",
        pub_allow=SYSTEM_PUB_ALLOW,
        pub_deny=["$JS.API.META.LEADER.STEPDOWN"],
    )
    settings = deployment_settings(
        ops_cluster, audit_log=tmp_path / "audit.jsonl", system_creds=user.creds_path
    )
    async with live_source(settings) as source:
        app = NatsopsApp(source)
        async with app.run_test(size=SIZE, notifications=True) as pilot:
            await show(app, "jetstream")
            await wait_until(lambda: app.perms_report is not None, 10, "permissions")
            assert app.check_action("op", ("S",)) is None
            await pilot.press("S")
            await wait_until(
                lambda: _notified(app, "$JS.API.META.LEADER.STEPDOWN"), 5, "a reason"
            )
            assert not isinstance(app.screen, PromptScreen | ConfirmScreen)
            # Servers R (remove) is still allowed for this user.
            await pilot.press("1")
            assert app.check_action("op", ("R",)) is True
