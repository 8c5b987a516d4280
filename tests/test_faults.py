"""Faults on a real cluster with the dashboard running: servers killed, the connected
server killed, the whole cluster down and back, lame duck, and a frozen server.

Each test owns a fresh 3-node cluster. The dashboard runs headless (``run_test``)
on a :class:`LiveSource` over a real :class:`Hub`; checks look at the app's own
state (roll call, rows, link state, events) and at the core objects below it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import nats
import pytest
from nats.aio.client import Client
from nats.js import api
from test_ops_support import publish_stored

from natsops.connection import Hub
from natsops.fanout import LAME_DUCK, MISSING, Collector, Reply, Roster
from natsops.harness import Deployment, async_wait_for
from natsops.ui.app import NatsopsApp
from natsops.ui.source import CONNECTED, RECONNECTING, LinkState, LiveSource
from natsops.ui.testing import deployment_settings, polled, show

pytestmark = pytest.mark.slow

#: Refresh interval of the dashboard under test (seconds).
REFRESH = 0.5
#: Bound on any single wait in these tests.
WAIT = 20.0


@dataclass
class Dash:
    """A dashboard under test and what it was built on."""

    app: NatsopsApp
    pilot: Any
    source: LiveSource
    hub: Hub
    links: list[LinkState] = field(default_factory=list)

    def state_of(self, server: str) -> Any:
        table = self.app.table_of("servers")
        row = table.model.get(server)
        if row is None:
            return None
        return row.values[table.model.column_index("state")]

    async def responsive(self) -> None:
        """Keys still switch views and come back, promptly handled."""
        await self.pilot.press("2")
        assert self.app.current == "connections"
        await self.pilot.press("1")
        assert self.app.current == "servers"


@asynccontextmanager
async def dashboard(
    dep: Deployment, servers: list[str] | None = None, refresh: float = REFRESH
) -> AsyncIterator[Dash]:
    """The dashboard on ``dep`` as the system user with APP connected."""
    settings = deployment_settings(dep, refresh=refresh)
    if servers is not None:
        settings.system.servers = list(servers)
        for account in settings.accounts.values():
            account.servers = list(servers)
    hub = await Hub.open(settings)
    source = LiveSource(hub)
    links: list[LinkState] = []
    source.add_state_listener(links.append)
    app = NatsopsApp(source, refresh=refresh)
    try:
        async with app.run_test(size=(160, 48)) as pilot:
            await show(app, "servers", timeout=WAIT)
            yield Dash(app, pilot, source, hub, links)
    finally:
        await source.close()
        await hub.close()


async def _app_client(
    dep: Deployment, name: str, urls: list[str] | None = None
) -> Client:
    return await nats.connect(
        servers=urls or dep.urls,
        user_credentials=dep.app_user.creds,
        name=name,
        connect_timeout=2,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.2,
    )


async def _r3_stream(dep: Deployment, name: str) -> str:
    """Create an R3 stream in APP; return its leader's server name."""
    nc = await _app_client(dep, "fault-setup")
    try:
        js = nc.jetstream(timeout=10)
        await js.add_stream(
            api.StreamConfig(name=name, subjects=[f"{name}.>"], num_replicas=3)
        )

        async def leader() -> str | None:
            info = await js.stream_info(name)
            return info.cluster.leader if info.cluster else None

        elected = str(await async_wait_for(leader, WAIT, f"{name} leader"))
        for i in range(10):
            await publish_stored(js, f"{name}.x", str(i).encode(), WAIT)
        return elected
    finally:
        await nc.close()


def _connected_server(hub: Hub) -> str:
    name = hub.server_name("system")
    assert name, "the system connection names its server"
    return name


# ---------------------------------------------------------------- SIGKILL


async def test_sigkill_server_named_missing_within_one_refresh(
    fresh_cluster: Deployment,
) -> None:
    dep = fresh_cluster
    leader = await _r3_stream(dep, "FAULTS")
    others = [s.client_url for n, s in dep.servers.items() if n != leader]

    async with dashboard(dep, servers=others) as dash:
        assert _connected_server(dash.hub) != leader
        await polled(dash.app, "servers", 1, WAIT)
        assert dash.app.roll_call.startswith("3/3 servers")
        assert dash.state_of(leader) == "ok"

        dep.servers[leader].kill()
        # A poll may already be in flight; the next one started after the kill.
        await polled(dash.app, "servers", 2, WAIT)
        assert f"missing: {leader}" in dash.app.roll_call
        assert dash.app.roll_call.startswith("2/3 servers")
        assert dash.app.roll_call_warn
        assert dash.state_of(leader) == MISSING  # the row stays, marked
        assert dash.source.roster.get(leader).state == MISSING  # type: ignore[union-attr]

        # The stream elects a new leader, and the events say so.
        store = dash.source.events

        def elected() -> list[Any]:
            return [
                c
                for c in store.leadership()
                if c.scope == "stream" and c.stream == "FAULTS" and c.leader != leader
            ]

        changes = await async_wait_for(elected, WAIT, "a FAULTS leader election")
        assert changes[-1].leader in set(dep.servers) - {leader}
        await dash.responsive()
        # The Events view shows the election too.
        await dash.pilot.press("9")
        assert dash.app.current == "events"
        await async_wait_for(
            lambda: any(
                e.kind == "stream_leader_elected" and e.stream == "FAULTS"
                for e in store.events()
            ),
            WAIT,
            "the election in the events",
        )
        await dash.pilot.press("1")
        await polled(dash.app, "servers", 1, WAIT)
        assert f"missing: {leader}" in dash.app.roll_call


# ------------------------------------------------------- connected server dies


async def test_connected_server_killed_client_reconnects_to_discovered_server(
    fresh_cluster: Deployment,
) -> None:
    dep = fresh_cluster
    first = dep.servers["c1-n1"]
    # Only one URL: the others must come from the cluster's INFO.
    async with dashboard(dep, servers=[first.client_url]) as dash:
        assert _connected_server(dash.hub) == "c1-n1"
        await polled(dash.app, "servers", 1, WAIT)
        assert dash.app.roll_call.startswith("3/3 servers")
        store = dash.source.events

        first.kill()
        await async_wait_for(
            lambda: (
                dash.hub.state("system") == "connected"
                and dash.hub.server_name("system") not in (None, "c1-n1")
            ),
            WAIT,
            "reconnection to another server",
        )
        states = [link.state for link in dash.links]
        assert RECONNECTING in states
        assert states.index(RECONNECTING) < len(states) - 1
        assert dash.links[-1].state == CONNECTED
        assert dash.links[-1].server not in ("", "c1-n1")
        await async_wait_for(
            lambda: (
                dash.app.link.state == CONNECTED
                and dash.app.link.server == dash.links[-1].server
            ),
            WAIT,
            "the status bar to show the new server",
        )
        assert dash.links[-1].server in dash.app.status_text().plain

        # Subscriptions resumed: a new client's connect event arrives, once.
        probe = await _app_client(dep, "fault-probe", [dep.servers["c1-n2"].client_url])
        try:
            await async_wait_for(
                lambda: any(
                    e.kind == "connect" and "fault-probe" in e.summary
                    for e in store.events()
                ),
                WAIT,
                "the probe's connect event",
            )
            await dash.source.feed.wait_idle(5)
            hits = [
                e
                for e in store.events()
                if e.kind == "connect" and "fault-probe" in e.summary
            ]
            assert len(hits) == 1, [e.summary for e in hits]
        finally:
            await probe.close()

        # The roll call counts each server once, the killed one missing.
        await polled(dash.app, "servers", 2, WAIT)
        assert dash.app.roll_call.startswith("2/3 servers, missing: c1-n1")
        await dash.responsive()


# ----------------------------------------------------- the whole cluster down


async def test_whole_cluster_down_ten_seconds_and_back(
    fresh_cluster: Deployment,
) -> None:
    dep = fresh_cluster
    async with dashboard(dep) as dash:
        await polled(dash.app, "servers", 1, WAIT)
        assert dash.app.roll_call.startswith("3/3 servers")

        for server in dep.servers.values():
            server.kill()
        down_at = time.monotonic()
        await async_wait_for(
            lambda: dash.app.link.state == RECONNECTING, WAIT, "reconnecting"
        )
        assert "reconnecting" in dash.app.status_text().plain
        # The outage itself lasts ten seconds; the app must stay usable meanwhile.
        while time.monotonic() - down_at < 10.0:
            await dash.responsive()
            await asyncio.sleep(0.5)
        assert dash.app.link.state == RECONNECTING

        for server in dep.servers.values():
            server.start()
        await asyncio.to_thread(dep.wait_ready, 30.0)
        await async_wait_for(
            lambda: dash.app.link.state == CONNECTED, WAIT, "reconnected"
        )

        async def complete() -> bool:
            await polled(dash.app, "servers", 1, WAIT)
            return dash.app.roll_call.startswith("3/3 servers") and all(
                dash.state_of(n) == "ok" for n in dep.servers
            )

        await async_wait_for(complete, WAIT, "all three servers back in the roll call")
        # Events flow again on the same subscriptions (STATSZ from new server ids).
        store = dash.source.events
        count = store.stats().seen
        await async_wait_for(
            lambda: store.stats().seen > count, WAIT, "events after the outage"
        )
        await dash.responsive()


# ------------------------------------------------------------------ lame duck


async def test_lame_duck_marked_at_once_from_its_event(
    fresh_cluster: Deployment,
) -> None:
    dep = fresh_cluster
    victim = "c1-n3"
    others = [s.client_url for n, s in dep.servers.items() if n != victim]
    # A long refresh: the mark must come from the event, not from a poll.
    async with dashboard(dep, servers=others, refresh=60.0) as dash:
        assert _connected_server(dash.hub) != victim
        transitions: list[tuple[str, str]] = []
        dash.source.roster.add_listener(lambda e: transitions.append((e.name, e.state)))
        dep.servers[victim].lame_duck()
        await async_wait_for(
            lambda: (victim, LAME_DUCK) in transitions,
            5.0,
            "the roster to mark the lame duck server",
        )
        # It was the event that marked it, before any poll could call it missing.
        assert transitions[0] == (victim, LAME_DUCK), transitions
        assert any(
            e.kind == "lame_duck" and e.server == victim
            for e in dash.source.events.events()
        )
        await dash.responsive()


async def test_lame_duck_mark_survives_the_next_refresh(
    fresh_cluster: Deployment,
) -> None:
    dep = fresh_cluster
    victim = "c1-n3"
    others = [s.client_url for n, s in dep.servers.items() if n != victim]
    async with dashboard(dep, servers=others, refresh=60.0) as dash:
        dep.servers[victim].lame_duck()
        await async_wait_for(
            lambda: (
                (e := dash.source.roster.get(victim)) is not None
                and e.state == LAME_DUCK
            ),
            5.0,
            "the lame duck mark",
        )
        await polled(dash.app, "servers", 1, WAIT)
        await dash.pilot.press("r")
        await polled(dash.app, "servers", 1, WAIT)
        assert dash.state_of(victim) == LAME_DUCK
        assert dash.source.roster.get(victim).state == LAME_DUCK  # type: ignore[union-attr]


# ------------------------------------------------------------ a frozen server


async def test_frozen_server_reported_late_not_lost_not_blocking(
    fresh_cluster: Deployment,
) -> None:
    dep = fresh_cluster
    victim = "c1-n2"
    others = [s.client_url for n, s in dep.servers.items() if n != victim]
    async with dashboard(dep, servers=others) as dash:
        assert _connected_server(dash.hub) != victim
        await polled(dash.app, "servers", 1, WAIT)
        assert dash.app.roll_call.startswith("3/3 servers")

        # The core: a Collector on its own connection, with late replies recorded.
        late: list[tuple[str, Reply]] = []
        nc = await nats.connect(
            servers=others, user_credentials=dep.sys_user.creds, connect_timeout=2
        )
        try:
            collector = Collector(
                nc, Roster(), on_late=lambda kind, r: late.append((kind, r))
            )
            first = await collector.discover()
            assert set(first.replies) == set(dep.servers)

            dep.servers[victim].pause()
            result = await collector.ping("VARZ", timeout=2.0)
            # Not blocking the others: both answered and the round ended at once
            # after them, within the overall deadline.
            assert set(result.replies) == set(dep.servers) - {victim}
            assert result.missing == [victim]
            assert result.elapsed < 2.0
            assert f"missing: {victim}" in result.roll_call()

            # The dashboard keeps refreshing meanwhile and names it.
            await polled(dash.app, "servers", 2, WAIT)
            assert f"missing: {victim}" in dash.app.roll_call
            await dash.responsive()
            app_late = dash.source.late_replies

            dep.servers[victim].resume()
            # Not lost: the frozen server's answer arrives, marked late.
            await async_wait_for(
                lambda: any(k == "VARZ" and r.server.name == victim for k, r in late),
                WAIT,
                "the late VARZ reply",
            )
            reply = next(r for k, r in late if r.server.name == victim)
            assert reply.late and reply.data is not None
            assert reply.data.get("server_name") == victim
            # The dashboard received its late replies too, and recovers.
            await async_wait_for(
                lambda: dash.source.late_replies > app_late, WAIT, "late replies"
            )

            async def back() -> bool:
                await polled(dash.app, "servers", 1, WAIT)
                return dash.app.roll_call.startswith("3/3 servers")

            await async_wait_for(back, WAIT, "the roll call to recover")
            assert dash.state_of(victim) == "ok"
        finally:
            await collector.close()
            await nc.close()
