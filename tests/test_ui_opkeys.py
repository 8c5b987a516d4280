"""Every operation key through the dashboard, checked against the cluster afterwards.

Keys are pressed under Pilot on a live cluster: the prompt and the confirmation come
up, ``y`` acts, and the test asks the servers directly whether it happened. Each
attempt leaves one audit line. Destructive keys run on a cluster of their own.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import nats
from rich.console import Console
from test_ops_support import connect, js, make_consumer, make_stream, unique
from textual.widgets import Input

from natsops.audit import read_audit
from natsops.connection import request_json
from natsops.fanout import Collector
from natsops.harness import Deployment, async_wait_for
from natsops.ui.app import NatsopsApp
from natsops.ui.screens import ConfirmScreen, PromptScreen
from natsops.ui.testing import (
    deployment_settings,
    live_source,
    polled,
    show,
    wait_until,
)

SIZE = (160, 40)


def _notified(app: NatsopsApp, text: str) -> bool:
    return any(text in n.message for n in app._notifications)


async def _confirm(app: NatsopsApp, pilot: Any, key: str, *, prompt: bool) -> Any:
    """Press an operation key, accept the prompt as offered: the plan shown."""
    await pilot.press(key)
    if prompt:
        await wait_until(lambda: isinstance(app.screen, PromptScreen), 5, "prompt")
        await pilot.press("enter")
    await wait_until(lambda: isinstance(app.screen, ConfirmScreen), 10, "the plan")
    return app.screen.plan  # type: ignore[attr-defined]


async def _done(app: NatsopsApp, label: str, count: int) -> None:
    """Wait for ``count`` outcome notices of an operation (its label as title)."""
    await wait_until(
        lambda: sum(n.title == label for n in app._notifications) >= count,
        20,
        f"the outcome of {label}",
    )


def _shown(static: Any) -> str:
    """A Static's content as the confirmation shows it, in plain text."""
    console = Console(width=96, record=True, file=io.StringIO())
    console.print(static.content)
    return console.export_text()


def _select(app: NatsopsApp, view: str, key: str) -> None:
    assert app.table_of(view).table.select_key(key), f"{key} not in {view}"


async def _consumer(nc: Any, stream: str, name: str) -> dict[str, Any]:
    return await js(nc, f"CONSUMER.INFO.{stream}.{name}")  # type: ignore[no-any-return]


async def test_consumer_keys_reload_and_kick(
    cluster: Deployment, tmp_path: Path
) -> None:
    """S (consumer), P twice, U, L and K on the shared cluster (nothing is lost)."""
    app_nc = await connect(cluster, cluster.app_user)
    stream = unique("UIKEYS")
    await make_stream(app_nc, stream, replicas=3)
    await app_nc.publish(f"{stream.lower()}.a", b"one")
    await app_nc.flush()
    await make_consumer(app_nc, stream, "work")
    await make_consumer(
        app_nc,
        stream,
        "pinned",
        priority_groups=["jobs"],
        priority_policy="pinned_client",
    )
    inbox = app_nc.new_inbox()
    sub = await app_nc.subscribe(inbox)
    pull = {"batch": 1, "expires": 2_000_000_000, "group": "jobs"}
    await app_nc.publish(
        f"$JS.API.CONSUMER.MSG.NEXT.{stream}.pinned", json.dumps(pull).encode(), inbox
    )
    await sub.next_msg(timeout=5)

    async def pinned_id() -> str:
        groups = (await _consumer(app_nc, stream, "pinned")).get("priority_groups")
        return str((groups or [{}])[0].get("pinned_client_id") or "")

    pinned = await async_wait_for(pinned_id, 5, "a pinned client")
    closed: list[bool] = []

    async def on_closed() -> None:
        closed.append(True)

    victim = await nats.connect(
        servers=[cluster.servers["c1-n3"].client_url],
        user_credentials=str(cluster.app_user.creds_path),
        name="kick-me",
        allow_reconnect=False,
        closed_cb=on_closed,
    )

    audit = tmp_path / "audit.jsonl"
    settings = deployment_settings(cluster, audit_log=audit, refresh=5.0)
    try:
        async with live_source(settings) as source:
            app = NatsopsApp(source)
            async with app.run_test(size=SIZE, notifications=True) as pilot:
                # S on a consumer: its leader steps down, another replica leads.
                await show(app, "consumers")
                key = f"APP/{stream}/work"
                await wait_until(
                    lambda: app.table_of("consumers").model.get(key), 10, "consumer"
                )
                _select(app, "consumers", key)
                leader = (await _consumer(app_nc, stream, "work"))["cluster"]["leader"]
                plan = await _confirm(app, pilot, "S", prompt=True)
                assert plan.subject == (
                    f"$JS.API.CONSUMER.LEADER.STEPDOWN.{stream}.work"
                )
                assert plan.leader == leader
                await pilot.press("y")

                async def new_leader() -> bool:
                    info = await _consumer(app_nc, stream, "work")
                    now = (info.get("cluster") or {}).get("leader")
                    return bool(now) and now != leader

                await async_wait_for(new_leader, 15, "a new consumer leader")
                await _done(app, "consumer stepdown", 1)

                # P pauses until the time typed (+1h offered), P again resumes.
                plan = await _confirm(app, pilot, "P", prompt=True)
                assert plan.subject == f"$JS.API.CONSUMER.PAUSE.{stream}.work"
                assert "pause_until" in plan.body
                await pilot.press("y")
                await _done(app, "pause or resume", 1)
                info = await _consumer(app_nc, stream, "work")
                assert info["paused"] is True
                assert info["config"]["pause_until"] == plan.body["pause_until"]
                consumers = app.table_of("consumers")
                await polled(app, "consumers")
                row = consumers.model.get(key)
                assert row is not None
                assert row.values[consumers.model.column_index("paused")] == "yes"

                plan = await _confirm(app, pilot, "P", prompt=False)
                assert plan.action == "consumer-resume" and plan.body is None
                await pilot.press("y")
                await _done(app, "pause or resume", 2)
                assert (await _consumer(app_nc, stream, "work")).get(
                    "paused"
                ) is not True
                await polled(app, "consumers")
                row = consumers.model.get(key)
                assert row is not None
                assert row.values[consumers.model.column_index("paused")] == ""

                # U releases the pinned client of the consumer's group.
                _select(app, "consumers", f"APP/{stream}/pinned")
                plan = await _confirm(app, pilot, "U", prompt=True)
                assert plan.body == {"group": "jobs"} and pinned in plan.effect
                await pilot.press("y")
                await _done(app, "unpin", 1)
                assert await pinned_id() != pinned

                # L on a server: it reloads its configuration (a new load time).
                await show(app, "servers")
                _select(app, "servers", "c1-n2")
                collector = Collector(source.hub.system)
                varz = await collector.ping("VARZ", {"server_name": "c1-n2"})
                loaded = varz.replies["c1-n2"].data["config_load_time"]
                plan = await _confirm(app, pilot, "L", prompt=False)
                assert plan.subject.endswith(".RELOAD") and plan.server == "c1-n2"
                await pilot.press("y")
                await _done(app, "reload config", 1)
                varz = await collector.ping("VARZ", {"server_name": "c1-n2"})
                assert varz.replies["c1-n2"].data["config_load_time"] != loaded

                # K on a real connection: the client is disconnected.
                await show(app, "connections")
                conns = app.table_of("connections")
                name_col = conns.model.column_index("name")
                found = await wait_until(
                    lambda: next(
                        (
                            r.key
                            for r in conns.model.rows()
                            if r.values[name_col] == "kick-me"
                        ),
                        None,
                    ),
                    10,
                    "the kick-me connection",
                )
                assert found.startswith("c1-n3:")
                _select(app, "connections", found)
                plan = await _confirm(app, pilot, "K", prompt=False)
                assert plan.subject.endswith(".KICK")
                assert plan.body == {"cid": int(found.rsplit(":", 1)[1])}
                assert "kick-me" in plan.target
                await pilot.press("y")
                await wait_until(lambda: closed, 10, "the client to be disconnected")
                await _done(app, "kick connection", 1)
                connz = await collector.ping("CONNZ", {"server_name": "c1-n3"})
                cids = [c["cid"] for c in connz.replies["c1-n3"].data["connections"]]
                assert plan.body["cid"] not in cids
                await collector.close()
    finally:
        await victim.close()
        await sub.unsubscribe()
        await js(app_nc, f"STREAM.DELETE.{stream}")
        await app_nc.close()

    entries = [(e.action, e.result) for e in read_audit(audit)]
    assert entries == [
        ("consumer-stepdown", "ok"),
        ("consumer-pause", "ok"),
        ("consumer-resume", "ok"),
        ("consumer-unpin", "ok"),
        ("server-reload", "ok"),
        ("client-kick", "ok"),
    ]


async def test_meta_stepdown_removals_and_purge(
    fresh_cluster: Deployment, tmp_path: Path
) -> None:
    """S (meta), R (peer and server, with the online warning) and X, destructively."""
    dep = fresh_cluster
    app_nc = await connect(dep, dep.app_user)
    await make_stream(app_nc, "PEERS", replicas=2)
    await make_stream(app_nc, "SPARE", replicas=1)
    audit = tmp_path / "audit.jsonl"
    settings = deployment_settings(dep, audit_log=audit, refresh=5.0)
    try:
        async with live_source(settings) as source:
            app = NatsopsApp(source)
            collector = Collector(source.hub.system)

            async def meta() -> dict[str, Any]:
                result = await collector.ping("JSZ", {"leader_only": True})
                return next(iter(result.replies.values())).data["meta_cluster"]

            async with app.run_test(size=SIZE, notifications=True) as pilot:
                # S on a follower of the JetStream view: meta stepdown to it.
                await show(app, "jetstream")
                js_view = app.table_of("jetstream")
                role = js_view.model.column_index("role")
                follower = await wait_until(
                    lambda: next(
                        (
                            r.key
                            for r in js_view.model.rows()
                            if r.values[role] == "follower"
                        ),
                        None,
                    ),
                    10,
                    "a follower",
                )
                _select(app, "jetstream", follower)
                plan = await _confirm(app, pilot, "S", prompt=True)
                assert plan.subject == "$JS.API.META.LEADER.STEPDOWN"
                assert plan.body == {"placement": {"preferred": follower}}
                await pilot.press("y")
                await _done(app, "meta stepdown", 1)
                assert (await meta())["leader"] == follower

                # R on a stream: one replica leaves, the spare server replaces it.
                await show(app, "streams")
                _select(app, "streams", "APP/PEERS")
                before = await request_json(app_nc, "$JS.API.STREAM.INFO.PEERS")
                plan = await _confirm(app, pilot, "R", prompt=True)
                removed = plan.body["peer"]
                assert plan.subject == "$JS.API.STREAM.PEER.REMOVE.PEERS"
                assert removed in {r["name"] for r in before["cluster"]["replicas"]}
                await pilot.press("y")
                await _done(app, "remove peer", 1)
                after = await request_json(app_nc, "$JS.API.STREAM.INFO.PEERS")
                peers = {after["cluster"]["leader"]} | {
                    r["name"] for r in after["cluster"]["replicas"]
                }
                assert removed not in peers and len(peers) == 2

                # R on an online server warns loudly; n changes nothing.
                connected = source.hub.server_name("system")
                victim = next(
                    n for n in sorted(dep.servers) if n not in (connected, follower)
                )
                await show(app, "servers")
                _select(app, "servers", victim)
                plan = await _confirm(app, pilot, "R", prompt=False)
                assert any("is ONLINE" in w for w in plan.warnings)
                shown = " ".join(_shown(app.screen.query_one("#confirm-plan")).split())
                assert "WARNING" in shown
                assert f"server {victim} is ONLINE: removing an online peer" in shown
                await pilot.press("n")
                await wait_until(lambda: not isinstance(app.screen, ConfirmScreen), 5)
                names = {p["name"] for p in (await meta())["replicas"]}
                assert victim in names

                # Stopped, it is removed without the warning.
                dep.servers[victim].kill()
                servers = app.table_of("servers")
                for _ in range(20):
                    await polled(app, "servers")
                    row = servers.model.get(victim)
                    if row is not None and row.values[2] == "missing":
                        break
                else:
                    raise AssertionError(f"{victim} not shown missing")
                plan = await _confirm(app, pilot, "R", prompt=False)
                assert "offline" in plan.target
                assert not any("ONLINE" in w for w in plan.warnings)
                await pilot.press("y")
                await _done(app, "remove server", 1)
                meta_now = await meta()
                assert victim not in {p["name"] for p in meta_now["replicas"]}
                assert meta_now["leader"] != victim

                # X on an account: a wrong name refuses, the right one purges.
                await show(app, "accounts")
                accounts = app.table_of("accounts")
                app_key = dep.accounts["APP"].public_key
                await wait_until(lambda: accounts.model.get(app_key), 10, "APP")
                _select(app, "accounts", app_key)
                plan = await _confirm(app, pilot, "X", prompt=False)
                assert plan.confirm == "APP"
                assert set(plan.streams) == {"PEERS", "SPARE"}
                await pilot.press("y", *"OTHER", "enter")
                await wait_until(lambda: _notified(app, "type 'APP' exactly"), 5)
                assert isinstance(app.screen, ConfirmScreen)
                listing = await request_json(app_nc, "$JS.API.STREAM.NAMES")
                assert set(listing["streams"]) == {"PEERS", "SPARE"}
                app.screen.query_one(Input).value = ""
                await pilot.press(*"APP", "enter")
                await _done(app, "purge account", 1)
                listing = await request_json(app_nc, "$JS.API.STREAM.NAMES")
                assert not listing.get("streams")
            await collector.close()
    finally:
        await app_nc.close()

    entries = [(e.action, e.result) for e in read_audit(audit)]
    assert entries == [
        ("meta-stepdown", "ok"),
        ("stream-peer-remove", "ok"),
        ("server-remove", "cancelled"),
        ("server-remove", "ok"),
        ("account-purge", "ok"),
    ]
