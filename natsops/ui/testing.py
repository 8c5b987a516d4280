"""Helpers to run the dashboard under Pilot: live on a harness deployment or recorded.

Used by the UI tests, the screenshot script and the dashboard benchmark; waits are
conditions on the app's own state with a bounded deadline, never sleeps.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from natsops.ui.app import NatsopsApp
from natsops.ui.source import LiveSource


async def wait_until(
    predicate: Callable[[], Any], timeout: float = 10.0, what: str = "condition"
) -> Any:
    """Poll ``predicate`` on the running loop until truthy (AssertionError later)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        await asyncio.sleep(0.02)


async def polled(
    app: NatsopsApp,
    view: str,
    times: int = 1,
    timeout: float = 10.0,
    *,
    trigger: bool = True,
) -> None:
    """Wait until ``view`` applied ``times`` more fetches (asking for them now).

    With ``trigger`` each refresh is requested at once (as the ``r`` key does), so
    a test does not wait for the refresh interval; without, the timer brings them.
    """
    for _ in range(times):
        start = app.poll_count.get(view, 0)
        if trigger:
            await wait_until(lambda: app.started, timeout, "the app to start")
            app.poll_now(view)

        def refreshed(start: int = start) -> bool:
            return app.poll_count.get(view, 0) > start

        await wait_until(refreshed, timeout, f"a refresh of {view}")


async def show(app: NatsopsApp, view: str, timeout: float = 10.0) -> None:
    """Switch to ``view`` once the app started, and wait for its first data."""
    await wait_until(lambda: app.started, timeout, "the app to start")
    before = app.poll_count.get(view, 0)
    app.show_view(view)
    if app.views[view].POLLS:
        await wait_until(
            lambda: app.poll_count.get(view, 0) > before, timeout, f"data in {view}"
        )


def deployment_settings(
    dep: Any,
    *,
    accounts: tuple[str, ...] = ("APP",),
    read_only: bool = False,
    audit_log: Path | None = None,
    refresh: float = 2.0,
    event_buffer: int = 10_000,
    system_creds: Path | None = None,
) -> Any:
    """Settings for a harness deployment: its system user plus account users."""
    from natsops.settings import ConnectionSettings, Settings

    users = {"APP": dep.app_user, "OTHER": dep.other_user}
    creds = system_creds or dep.sys_user.creds_path
    system = ConnectionSettings(servers=list(dep.urls), creds=creds)
    account_settings = {
        name: ConnectionSettings(
            servers=list(dep.urls), creds=users[name].creds_path, label=name
        )
        for name in accounts
    }
    settings = Settings(
        system=system,
        accounts=account_settings,
        read_only=read_only,
        refresh=refresh,
        event_buffer=event_buffer,
    )
    if audit_log is not None:
        settings.audit_log = audit_log
    return settings


@asynccontextmanager
async def live_source(settings: Any) -> AsyncIterator[LiveSource]:
    """An open Hub wrapped in a LiveSource; both closed on exit."""
    from natsops.connection import Hub

    hub = await Hub.open(settings)
    source = LiveSource(hub)
    try:
        yield source
    finally:
        await source.close()
        await hub.close()


def create_stream(
    dep: Any,
    name: str,
    *,
    replicas: int = 3,
    messages: int = 0,
    consumer: str | None = None,
    cluster: str | None = None,
    timeout: float = 15.0,
) -> None:
    """Create a stream of APP (retrying while JetStream still places peers)."""
    import nats
    from nats.js.api import Placement
    from nats.js.errors import APIError

    from natsops.harness import async_wait_for, run_coro_sync

    async def run() -> None:
        nc = await nats.connect(
            servers=list(dep.urls), user_credentials=str(dep.app_user.creds_path)
        )
        try:
            js = nc.jetstream()
            placement = Placement(cluster=cluster) if cluster else None

            async def created() -> bool:
                try:
                    await js.add_stream(
                        name=name,
                        subjects=[f"{name.lower()}.>"],
                        num_replicas=replicas,
                        placement=placement,
                    )
                except APIError as exc:
                    if exc.err_code == 10058:  # already exists with this name
                        return True
                    return False
                return True

            await async_wait_for(created, timeout, f"stream {name} created")
            for i in range(messages):
                await js.publish(f"{name.lower()}.{i}", b"x")
            if consumer:
                await js.add_consumer(
                    name, durable_name=consumer, ack_policy="explicit"
                )
        finally:
            await nc.close()

    run_coro_sync(run())
