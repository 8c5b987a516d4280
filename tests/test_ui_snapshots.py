"""SVG snapshots of the dashboard on recorded replies (no NATS): the layout stays put.

The clock is frozen, cursors do not blink, sizes are pinned and user themes are not
read. Update after an intended change with ``pytest --snapshot-update``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from textual.pilot import Pilot
from textual.widgets import Input

from natsops.events import EventStore, parse_event
from natsops.ops.plan import Plan, Risk
from natsops.ui.app import NatsopsApp
from natsops.ui.screens import ConfirmScreen
from natsops.ui.source import OFFLINE, DataSource, LinkState, RecordedSource, Recording
from natsops.ui.themes import load_all_themes

REPLIES = Path(__file__).parent / "fixtures" / "replies"
SIZE = (150, 32)
T0 = 1_796_330_400.0  # a fixed wall-clock second for recorded events


def recorded_app(view: str = "servers", theme: str = "natsops-dark") -> NatsopsApp:
    source = RecordedSource(Recording.load(REPLIES), silent={"c2-n3"}, user="sys")
    return NatsopsApp(
        source,
        theme=theme,
        themes=load_all_themes(user_dir=Path("/nonexistent")),
        initial_view=view,
        clock=lambda: 100.0,
        live=False,
    )


async def settle(pilot: Pilot[Any]) -> None:
    """Wait for the first data of the visible view; stop cursors blinking."""
    app = pilot.app
    assert isinstance(app, NatsopsApp)
    for _ in range(500):
        if app.started and (app.poll_count.get(app.current) or not app.view.POLLS):
            break
        await pilot.pause(0.01)
    else:
        raise AssertionError("no data in the view")
    for node in app.query(Input):
        node.cursor_blink = False
    await pilot.pause()


def test_servers_view(snap_compare: Any) -> None:
    """Servers with one silent server (c2-n3) kept as a missing row."""
    assert snap_compare(recorded_app("servers"), terminal_size=SIZE, run_before=settle)


def test_servers_view_light_theme(snap_compare: Any) -> None:
    assert snap_compare(
        recorded_app("servers", "natsops-light"), terminal_size=SIZE, run_before=settle
    )


def test_jetstream_view(snap_compare: Any) -> None:
    assert snap_compare(
        recorded_app("jetstream"), terminal_size=SIZE, run_before=settle
    )


def test_streams_view_filtered(snap_compare: Any) -> None:
    """Streams filtered to ORDERS, sorted by messages descending."""

    async def run(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        await pilot.press("slash", *"ORDERS", "enter", "d")

    assert snap_compare(recorded_app("streams"), terminal_size=SIZE, run_before=run)


def test_connections_view(snap_compare: Any) -> None:
    assert snap_compare(
        recorded_app("connections"), terminal_size=SIZE, run_before=settle
    )


def test_help_screen(snap_compare: Any) -> None:
    async def run(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        await pilot.press("question_mark")

    assert snap_compare(recorded_app("servers"), terminal_size=SIZE, run_before=run)


def test_confirmation_of_a_stepdown(snap_compare: Any) -> None:
    plan = Plan(
        action="stream-stepdown",
        target="stream ORDERS (account APP)",
        connection="APP",
        subject="$JS.API.STREAM.LEADER.STEPDOWN.ORDERS",
        body=None,
        effect="the leader c1-n3 steps down; one of c1-n1, c1-n2 is elected",
        leader="c1-n3",
        candidates=["c1-n1", "c1-n2"],
        at_risk=[Risk("consumer", "APP", "ORDERS", "audit", 3, "example risk line")],
        warnings=["c1-n2 is 5 operations behind"],
    )

    async def run(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        pilot.app.push_screen(ConfirmScreen(plan))
        await pilot.pause()

    assert snap_compare(recorded_app("streams"), terminal_size=SIZE, run_before=run)


def _event(subject: str, at: float, doc: dict[str, Any]) -> Any:
    return parse_event(subject, json.dumps(doc).encode(), "system", at)


def events_store() -> EventStore:
    """A handful of real-looking events at fixed times."""
    server = {"name": "c1-n2", "id": "NSERVER2", "cluster": "c1", "seq": 1}
    store = EventStore(capacity=100, clock=lambda: T0 + 10)
    client = {"name": "billing", "acc": "APP", "user": "UBILLING", "host": "127.0.0.1"}
    events = [
        (
            "$SYS.ACCOUNT.APP.CONNECT",
            {
                "type": "io.nats.server.advisory.v1.client_connect",
                "id": "e1",
                "timestamp": "2026-12-03T20:40:00Z",
                "server": {**server, "seq": 1},
                "client": client,
            },
        ),
        (
            "$SYS.ACCOUNT.APP.DISCONNECT",
            {
                "type": "io.nats.server.advisory.v1.client_disconnect",
                "id": "e2",
                "timestamp": "2026-12-03T20:40:01Z",
                "server": {**server, "seq": 2},
                "client": client,
                "reason": "Slow Consumer (Write Deadline)",
            },
        ),
        (
            "$SYS.SERVER.NSERVER2.CLIENT.AUTH.ERR",
            {
                "type": "io.nats.server.advisory.v1.client_disconnect",
                "id": "e3",
                "timestamp": "2026-12-03T20:40:02Z",
                "server": {**server, "seq": 3},
                "client": {"host": "10.0.0.7", "user": "intruder"},
                "reason": "Authentication Failure",
            },
        ),
        (
            "$JS.EVENT.ADVISORY.STREAM.LEADER_ELECTED.ORDERS",
            {
                "type": "io.nats.jetstream.advisory.v1.stream_leader_elected",
                "id": "e4",
                "timestamp": "2026-12-03T20:40:03Z",
                "account": "APP",
                "stream": "ORDERS",
                "leader": "c1-n3",
                "replicas": [],
                "domain": "",
            },
        ),
    ]
    for i, (subject, doc) in enumerate(events):
        store.add(_event(subject, T0 + i, doc))
    return store


def test_events_view_replay(snap_compare: Any) -> None:
    source = DataSource()
    source.events = events_store()
    source.link = LinkState(OFFLINE, "", "events.jsonl", "replay of events.jsonl")
    source.me.user = "replay"
    source.me.account = "-"
    app = NatsopsApp(
        source,
        themes=load_all_themes(user_dir=Path("/nonexistent")),
        initial_view="events",
        clock=lambda: 100.0,
        live=False,
        replay=True,
    )

    async def run(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        view = app.views["events"]
        for _ in range(200):
            if len(getattr(view, "model", ())) == 4:
                break
            await pilot.pause(0.01)
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=run)
