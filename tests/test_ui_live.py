"""Pilot tests of the dashboard against a live 3-node cluster.

Each view's content is checked against what the servers report when asked directly
over the same system connection; navigation, filter, sort, detail and raw JSON are
driven by keys. Waits are conditions on the app's state, never sleeps.
"""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from natsops.connection import request_json
from natsops.fanout import Collector
from natsops.harness import Deployment
from natsops.ui.app import NatsopsApp
from natsops.ui.screens import DetailScreen, HelpScreen
from natsops.ui.source import LiveSource
from natsops.ui.testing import (
    create_stream,
    deployment_settings,
    live_source,
    polled,
    show,
    wait_until,
)
from natsops.ui.views.events import EventsView

SIZE = (160, 40)
STREAM = "UIORDERS"

# One dashboard serves the whole module (each test starts by choosing its view).
pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest.fixture(scope="module")
def stream_cluster(cluster: Deployment) -> Deployment:
    """The shared cluster with an R3 stream and a durable consumer in APP."""
    create_stream(cluster, STREAM, replicas=3, messages=7, consumer="uiship")
    return cluster


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def live(
    stream_cluster: Deployment, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[NatsopsApp, Any, LiveSource]]:
    audit = tmp_path_factory.mktemp("ui-live") / "audit.jsonl"
    settings = deployment_settings(stream_cluster, audit_log=audit, refresh=5.0)
    async with live_source(settings) as source:
        app = NatsopsApp(source)
        async with app.run_test(size=SIZE) as pilot:
            await show(app, "servers")
            yield app, pilot, source


@pytest_asyncio.fixture(loop_scope="module")
async def on_servers(
    live: tuple[NatsopsApp, Any, LiveSource],
) -> tuple[NatsopsApp, Any, LiveSource]:
    """The shared dashboard, back on the Servers view with no filter."""
    app = live[0]
    while len(app.screen_stack) > 1:
        app.pop_screen()
    await show(app, "servers")
    for name in app.views:
        view = app.views[name]
        if getattr(view, "model", None) is not None and view.model.filter_text:
            view.set_filter("")  # type: ignore[attr-defined]
    if app.paused:
        app.action_pause()
    return live


async def test_servers_view_matches_varz(
    on_servers: tuple[NatsopsApp, Any, LiveSource],
) -> None:
    app, _pilot, source = on_servers
    view = app.table_of("servers")
    await wait_until(lambda: len(view.model) == 3, 10, "three servers")
    assert set(view.model.keys()) == {"c1-n1", "c1-n2", "c1-n3"}

    # Ask the servers directly over the same connection, then wait for a refresh
    # that reports the same connection counts.
    varz = await Collector(source.hub.system).ping("VARZ")
    counts = {name: r.data["connections"] for name, r in varz.replies.items()}
    col = view.model.column_index("conns")
    await polled(app, "servers")
    shown = {row.key: row.values[col] for row in view.model.rows()}
    assert shown == counts
    assert all(row.values[2] == "ok" for row in view.model.rows())
    assert "3/3 servers" in app.status_text().plain
    assert "c1-n" in app.identity_bar.render().plain  # type: ignore[union-attr]


async def test_connections_view_counts_and_sort(
    on_servers: tuple[NatsopsApp, Any, LiveSource],
) -> None:
    app, pilot, source = on_servers
    await pilot.press("2")
    await polled(app, "connections")
    view = app.table_of("connections")
    connz = await Collector(source.hub.system).ping("CONNZ", {"limit": 1024})
    total = sum(r.data["num_connections"] for r in connz.replies.values())
    await polled(app, "connections")
    assert len(view.model) == total
    assert total >= 2  # the system and the APP connection of the dashboard

    await pilot.press("u")  # sort by subscriptions
    assert view.model.sort_column.key == "subs"
    subs = [row.values[view.model.column_index("subs")] for row in view.model.rows()]
    assert subs == sorted(subs, reverse=view.model.sort_reverse)
    # j on a connection asks its server for it (rows keep no JSON).
    await pilot.press("home", "j")
    await wait_until(lambda: isinstance(app.screen, DetailScreen), 5, "raw JSON")
    raw = json.loads(app.screen.body)  # type: ignore[attr-defined]
    assert f"{raw['server']}:{raw['cid']}" == view.table.cursor_key
    assert raw.get("jwt") == "<redacted>"  # CONNZ with auth carries the user JWT
    assert "eyJ" not in app.screen.body  # type: ignore[attr-defined]
    await pilot.press("escape")
    await wait_until(lambda: not isinstance(app.screen, DetailScreen), 5, "back")

    await pilot.press("u")  # the same key flips the order
    flipped = [row.values[view.model.column_index("subs")] for row in view.model.rows()]
    assert flipped == sorted(flipped, reverse=view.model.sort_reverse)


async def test_streams_view_shows_the_leader_the_stream_reports(
    on_servers: tuple[NatsopsApp, Any, LiveSource],
) -> None:
    app, pilot, source = on_servers
    await pilot.press("4")
    await polled(app, "streams")
    view = app.table_of("streams")
    info = await request_json(
        source.hub.account("APP").nc, f"$JS.API.STREAM.INFO.{STREAM}"
    )
    leader = info["cluster"]["leader"]
    row = view.model.get(f"APP/{STREAM}")
    assert row is not None
    values = dict(zip([c.key for c in view.model.columns], row.values, strict=True))
    assert values["leader"] == leader
    assert values["replicas"] == 3
    assert values["messages"] == info["state"]["messages"] == 7
    assert values["status"] == "ok"

    # enter opens the stream's detail with its replicas; esc comes back.
    assert view.table.select_key(f"APP/{STREAM}")
    await pilot.press("enter")
    await wait_until(lambda: isinstance(app.screen, DetailScreen), 5, "detail")
    detail = app.screen
    assert isinstance(detail, DetailScreen)
    assert detail.title_text.startswith(f"stream {STREAM}")
    await pilot.press("escape")
    await wait_until(lambda: not isinstance(app.screen, DetailScreen), 5, "back")

    # j shows the raw JSON of the selection, the same document the row holds.
    await pilot.press("j")
    await wait_until(lambda: isinstance(app.screen, DetailScreen), 5, "raw JSON")
    raw = json.loads(app.screen.body)  # type: ignore[attr-defined]
    assert raw["stream"]["config"]["name"] == STREAM
    # Asked fresh through the APP connection: the consumers are listed too.
    assert [c["name"] for c in raw["stream"]["consumer_detail"]] == ["uiship"]
    await pilot.press("escape")


async def test_consumers_and_jetstream_views(
    on_servers: tuple[NatsopsApp, Any, LiveSource],
) -> None:
    app, pilot, source = on_servers
    await pilot.press("5")
    await polled(app, "consumers")
    consumers = app.table_of("consumers")
    row = consumers.model.get(f"APP/{STREAM}/uiship")
    assert row is not None
    info = await request_json(
        source.hub.account("APP").nc, f"$JS.API.CONSUMER.INFO.{STREAM}.uiship"
    )
    assert row.values[3] == info["cluster"]["leader"]
    assert row.values[5] == info["num_pending"] == 7

    await pilot.press("3")
    await polled(app, "jetstream")
    js = app.table_of("jetstream")
    meta = await Collector(source.hub.system).ping("JSZ", {"leader_only": True}, want=1)
    leader = next(iter(meta.replies.values())).data["meta_cluster"]["leader"]
    roles = {row.key: row.values[2] for row in js.model.rows()}
    assert roles[leader] == "leader"
    assert sorted(roles.values()).count("leader") == 1


async def test_navigation_command_mode_filter_and_help(
    on_servers: tuple[NatsopsApp, Any, LiveSource],
) -> None:
    app, pilot, _source = on_servers
    for key, name in (("6", "accounts"), ("7", "topology"), ("8", "health")):
        await pilot.press(key)
        assert app.current == name
        await polled(app, name)
    assert len(app.table_of("health").model) == 3
    kinds = {row.values[0] for row in app.table_of("topology").model.rows()}
    assert kinds == {"route"}

    await pilot.press("colon", *"js", "enter")
    assert app.current == "jetstream"
    await pilot.press("colon", *"perms", "enter")
    assert app.current == "perms"
    await polled(app, "perms")
    perms = app.table_of("perms")
    assert any(r.values[1] == "stepdown.meta" for r in perms.model.rows())

    # / filters with a regular expression, esc clears it, esc again goes back.
    await pilot.press("1")
    servers = app.table_of("servers")
    await pilot.press("slash", *"n2|n3", "enter")
    assert set(servers.model.keys()) == {"c1-n2", "c1-n3"}
    await polled(app, "servers")
    assert set(servers.model.keys()) == {"c1-n2", "c1-n3"}
    await pilot.press("escape")
    assert len(servers.model) == 3
    await pilot.press("escape")
    assert app.current == "perms"

    await pilot.press("question_mark")
    await wait_until(lambda: isinstance(app.screen, HelpScreen), 5, "help")
    listed = app.screen.keys_text()  # type: ignore[attr-defined]
    for key in ("ctrl+p", "/", "esc", "enter", "j", "r", "p", "q", "S", "K"):
        assert key in listed.split(), key
    await pilot.press("escape")


async def test_cursor_survives_refresh_and_pause(
    on_servers: tuple[NatsopsApp, Any, LiveSource],
) -> None:
    app, pilot, _source = on_servers
    servers = app.table_of("servers")
    await pilot.press("home", "down", "down")
    key = servers.table.cursor_key
    assert key == servers.model.key_at(2)
    app.refresh_interval = 0.5  # let the timer bring two refreshes quickly
    try:
        await polled(app, "servers")  # reschedules the timer at the new interval
        await polled(app, "servers", times=2, trigger=False)
    finally:
        app.refresh_interval = 5.0
    assert servers.table.cursor_key == key
    assert servers.table.cursor == 2

    await pilot.press("p")
    assert "PAUSED" in app.status_text().plain
    count = app.poll_count["servers"]
    await pilot.press("r")  # an explicit refresh still works while paused
    await wait_until(lambda: app.poll_count["servers"] > count, 5, "manual refresh")
    await pilot.press("p")
    assert "PAUSED" not in app.status_text().plain


async def test_large_deployment_fetches_the_top_n_by_the_sort_key(
    on_servers: tuple[NatsopsApp, Any, LiveSource],
    stream_cluster: Deployment,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With the large-deployment threshold lowered, CONNZ's own sort and limit
    pick the rows: exactly the global top N, deeper pages on scrolling, server
    filters for filter words, and a full fetch (said so) for a regex."""
    import nats

    from natsops.ui.views import connections

    app, pilot, source = on_servers
    monkeypatch.setattr(connections, "LARGE_DEPLOYMENT", 5)
    monkeypatch.setattr(connections, "MARGIN", 2)
    monkeypatch.setattr(connections, "PAGE_STEP", 1)
    urls = stream_cluster.urls
    clients = []
    try:
        for i in range(14):
            nc = await nats.connect(
                servers=[urls[i % len(urls)]],
                user_credentials=str(stream_cluster.app_user.creds_path),
                name=f"bulk-{i}",
            )
            for _ in range(40 + 5 * i):
                await nc.publish("bulk.load", b"x")
            await nc.flush()
            clients.append(nc)
        await pilot.resize_terminal(160, 12)
        await pilot.press("2")
        view = app.table_of("connections")
        await polled(app, "connections")
        assert view.mode == "top"
        # A new sort key asks the servers again, from the top N of the window.
        await pilot.press("home", "colon", *"sort in_msgs", "enter")
        await polled(app, "connections")
        limit = view.limit
        assert limit == view.table.body_height + 2
        name_col = view.model.column_index("name")
        in_col = view.model.column_index("in_msgs")

        # Exactly the global top N by in_msgs (msgs_from), as every server's
        # full CONNZ has it.
        full = await Collector(source.hub.system).paged(
            "CONNZ", {"auth": True}, "connections"
        )
        ranked = sorted(
            (c["in_msgs"], f"{server}:{c['cid']}", c.get("name", ""))
            for server, data in full.data().items()
            for c in data["connections"]
        )
        top_bulk = [n for _m, _k, n in reversed(ranked) if n.startswith("bulk-")][:4]
        shown = [row.values[name_col] for row in view.model.rows()]
        assert len(shown) == limit
        # (natsops' own system connection counts every request it sends: it
        # moves between the two fetches, so only the quiet clients are compared.)
        bulk = [n for n in shown if n.startswith("bulk-")]
        assert bulk[:4] == top_bulk == ["bulk-13", "bulk-12", "bulk-11", "bulk-10"]
        counts = [row.values[in_col] for row in view.model.rows()]
        assert counts == sorted(counts, reverse=True)
        title = view.title_bar.render().plain  # type: ignore[union-attr]
        assert f"top {limit} of" in title and "by msgs_from" in title

        # acc:APP is asked of the servers (CONNZ acc): APP's connections only.
        await pilot.press("slash", *"acc:APP", "enter")
        await polled(app, "connections")
        assert view.scope["filters"] == {
            "acc": stream_cluster.accounts["APP"].public_key
        }
        account_col = view.model.column_index("account")
        assert {row.values[account_col] for row in view.model.rows()} == {"APP"}
        # APP's counters stand still: the rows are exactly its top N by in_msgs.
        app_key = stream_cluster.accounts["APP"].public_key
        app_ranked = sorted(
            (
                (c["in_msgs"], f"{server}:{c['cid']}")
                for server, data in full.data().items()
                for c in data["connections"]
                if c.get("account") == app_key
            ),
            reverse=True,
        )
        assert set(view.model.keys()) == {k for _m, k in app_ranked[:limit]}

        # end: the cursor reaches the last loaded row, a deeper page follows.
        await pilot.press("end")
        await wait_until(lambda: len(view.model) > limit, 10, "a deeper page")
        assert view.limit > limit
        names = {row.values[name_col] for row in view.model.rows()}
        assert {f"bulk-{i}" for i in range(14)} <= names  # all 14 (+ natsops APP)

        # A regex CONNZ cannot apply: every connection is fetched, and said so.
        await pilot.press("slash", "end", *" bulk-1", "enter")
        await polled(app, "connections")
        assert view.mode == "all-filtered"
        title = view.title_bar.render().plain  # type: ignore[union-attr]
        assert "the filter needs every connection: fetched all" in title
        assert sorted(row.values[name_col] for row in view.model.rows()) == [
            "bulk-1",
            "bulk-10",
            "bulk-11",
            "bulk-12",
            "bulk-13",
        ]
    finally:
        await pilot.resize_terminal(*SIZE)
        view = app.table_of("connections")
        view.set_filter("")
        view.sort_by("out_msgs", True)
        for nc in clients:
            await nc.close()


def _plain(static: Any) -> str:
    """What a Static shows, as plain text."""
    from rich.console import Console

    console = Console(width=100, record=True, file=io.StringIO())
    console.print(static.content)
    return console.export_text()


async def test_events_view_shows_real_events_in_table_and_panels(
    on_servers: tuple[NatsopsApp, Any, LiveSource],
    stream_cluster: Deployment,
) -> None:
    import nats
    from nats.errors import Error as NatsError

    app, pilot, source = on_servers
    await pilot.press("9")
    view = app.views["events"]
    assert isinstance(view, EventsView)
    store = source.events
    urls = stream_cluster.urls
    kind_col = view.model.column_index("kind")
    summary_col = view.model.column_index("summary")

    def rows_about(kind: str, text: str) -> list[Any]:
        return [
            r
            for r in view.model.rows()
            if r.values[kind_col] == kind and text in str(r.values[summary_col])
        ]

    # A client connects and goes: both events arrive, summarised.
    nc = await nats.connect(
        servers=[urls[0]],
        user_credentials=str(stream_cluster.app_user.creds_path),
        name="evclient",
    )
    await nc.close()
    await wait_until(lambda: rows_about("disconnect", "evclient"), 10, "disconnect")
    assert rows_about("connect", "evclient")

    # A failed login reaches the authentication panel.
    with pytest.raises((NatsError, OSError, TimeoutError)):
        await nats.connect(
            servers=[urls[1]],
            user="intruder",
            password="wrong",
            allow_reconnect=False,
            max_reconnect_attempts=0,
            connect_timeout=2,
        )
    await wait_until(lambda: store.auth_errors(), 10, "an auth error event")
    await wait_until(
        lambda: "none" not in _plain(view.auth_panel),
        5,
        "the auth panel",
    )

    # A stream leader stepdown reaches the leadership timeline.
    await request_json(
        source.hub.account("APP").nc, f"$JS.API.STREAM.LEADER.STEPDOWN.{STREAM}"
    )
    await wait_until(
        lambda: f"stream {STREAM}" in _plain(view.leader_panel),
        15,
        "the leadership panel",
    )
    counts = _plain(view.counts_panel)
    assert "connect" in counts and "disconnect" in counts

    # type: narrows the list to one kind; esc brings every event back.
    await pilot.press("slash")
    view.filter_input.value = "type:disconnect"
    await pilot.press("enter")
    kinds = {r.values[kind_col] for r in view.model.rows()}
    assert kinds == {"disconnect"}
    await pilot.press("escape")
    assert len({r.values[kind_col] for r in view.model.rows()}) > 1

    # p pauses the list (the store keeps counting); p again catches up.
    await pilot.press("p")
    shown = len(view.model)
    position = store.position
    nc = await nats.connect(
        servers=[urls[2]],
        user_credentials=str(stream_cluster.app_user.creds_path),
        name="evpaused",
    )
    await nc.close()
    await wait_until(lambda: store.position >= position + 2, 10, "events while paused")
    assert len(view.model) == shown
    await pilot.press("p")
    await wait_until(lambda: rows_about("disconnect", "evpaused"), 10, "caught up")

    # enter shows the event's full JSON.
    await pilot.press("home", "enter")
    await wait_until(lambda: isinstance(app.screen, DetailScreen), 5, "the JSON")
    doc = json.loads(app.screen.body)  # type: ignore[attr-defined]
    assert "type" in doc or "subject" in doc
    await pilot.press("escape")
