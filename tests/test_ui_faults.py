"""The dashboard while servers fail: missing rows, roll call, reconnects.

Runs on a cluster of the test's own (``fresh_cluster``) so servers can be stopped.
"""

from __future__ import annotations

from pathlib import Path

from natsops.fanout import MISSING
from natsops.harness import Deployment
from natsops.ui.app import NatsopsApp
from natsops.ui.source import CONNECTED, RECONNECTING
from natsops.ui.testing import (
    deployment_settings,
    live_source,
    polled,
    show,
    wait_until,
)

SIZE = (160, 40)


async def test_stopped_server_stays_as_a_missing_row(
    fresh_cluster: Deployment, tmp_path: Path
) -> None:
    settings = deployment_settings(
        fresh_cluster, audit_log=tmp_path / "audit.jsonl", refresh=0.5
    )
    async with live_source(settings) as source:
        app = NatsopsApp(source)
        async with app.run_test(size=SIZE) as pilot:
            await show(app, "servers")
            view = app.table_of("servers")
            await wait_until(lambda: len(view.model) == 3, 10, "three servers")
            assert "3/3 servers" in app.status_text().plain

            # Kill a server the dashboard is not connected to: it goes silent.
            connected = source.hub.server_name("system")
            victim = next(n for n in sorted(fresh_cluster.servers) if n != connected)
            fresh_cluster.servers[victim].kill()

            def missing_row() -> bool:
                row = view.model.get(victim)
                return row is not None and row.values[2] == MISSING

            await wait_until(missing_row, 10, f"{victim} marked missing")
            assert len(view.model) == 3  # the row stayed
            assert f"2/3 servers, missing: {victim}" in app.status_text().plain
            assert app.roll_call_warn
            row = view.model.get(victim)
            assert row is not None and row.tone == "warning"

            # The Health view lists it too, and the app still answers keys.
            await pilot.press("8")
            await polled(app, "health")
            health = app.table_of("health")
            row = health.model.get(victim)
            assert row is not None and row.values[2] == "missing"

            # Back again: the row returns to ok.
            fresh_cluster.servers[victim].start()
            await pilot.press("1")
            await wait_until(
                lambda: (
                    (r := view.model.get(victim)) is not None and r.values[2] == "ok"
                ),
                20,
                f"{victim} back",
            )


async def test_killing_the_connected_server_reconnects(
    fresh_cluster: Deployment, tmp_path: Path
) -> None:
    settings = deployment_settings(
        fresh_cluster, audit_log=tmp_path / "audit.jsonl", refresh=0.5
    )
    async with live_source(settings) as source:
        app = NatsopsApp(source)
        states: list[str] = []
        source.add_state_listener(lambda link: states.append(link.state))
        async with app.run_test(size=SIZE):
            await show(app, "servers")
            first = source.hub.server_name("system")
            assert first
            fresh_cluster.servers[first].kill()

            await wait_until(lambda: RECONNECTING in states, 15, "reconnecting shown")
            await wait_until(
                lambda: (
                    app.link.state == CONNECTED
                    and source.hub.server_name("system") not in (None, first)
                ),
                20,
                "reconnected to another server",
            )
            assert states.index(RECONNECTING) < len(states) - 1
            await wait_until(
                lambda: f"missing: {first}" in app.status_text().plain,
                15,
                f"{first} named missing",
            )
            shown = app.export_screenshot()
            assert str(source.hub.server_name("system")) in shown
