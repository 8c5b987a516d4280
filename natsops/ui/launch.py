"""Entry points that open the dashboard: live on a cluster, or on an event recording.

Connection problems surface as one :class:`~natsops.errors.NatsopsError` before the
app starts, so the CLI prints one line and exits 1; quitting closes every connection.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
from pathlib import Path
from typing import Any

from natsops.errors import NatsopsError

log = logging.getLogger(__name__)


def run_dashboard(args: argparse.Namespace) -> int:
    """Resolve settings, connect, run the dashboard, close cleanly; the exit code."""
    from natsops.settings import resolve_settings

    settings = resolve_settings(args)
    return asyncio.run(dashboard(settings, theme=getattr(args, "theme", None)))


async def dashboard(settings: Any, *, theme: str | None = None) -> int:
    """Open the Hub for ``settings``, run the app until it quits, close everything."""
    from natsops.connection import Hub

    hub = await Hub.open(settings, accounts_required=False)
    try:
        for name, error in sorted(hub.account_errors.items()):
            log.warning("account %s not connected: %s", name, error)
        return await run_on_hub(hub, theme=theme)
    finally:
        await hub.close()


async def run_on_hub(hub: Any, *, theme: str | None = None) -> int:
    """Run the dashboard on an already open Hub (the caller closes the Hub)."""
    from natsops.ui.app import NatsopsApp
    from natsops.ui.source import LiveSource

    source = LiveSource(hub)
    app = NatsopsApp(source, theme=theme)
    try:
        await app.run_async()
    finally:
        await source.close()
    for name, error in sorted(getattr(hub, "account_errors", {}).items()):
        print(f"natsops: account {name} was not connected: {error}")
    return int(app.return_code or 0)


def replay_source(path: Path | str, capacity: int | None = None) -> Any:
    """A data source holding a recording's events (no cluster)."""
    from natsops.events import EventStore, read_recording
    from natsops.ui.source import OFFLINE, DataSource, LinkState

    events = read_recording(path)
    store = EventStore(capacity=max(capacity or 0, len(events), 1))
    for ev in events:
        store.add(ev)
    source = DataSource()
    source.events = store
    source.kind = "replay"
    source.link = LinkState(OFFLINE, "", str(path), f"replay of {Path(path).name}")
    source.me.user = "replay"
    source.me.account = "-"
    source.me.url = str(path)
    return source


def run_replay(path: Path | str, args: argparse.Namespace | None = None) -> int:
    """Open the Events view on a recording for offline review."""
    from natsops.ui.app import NatsopsApp

    file = Path(path)
    if not file.is_file():
        raise NatsopsError(f"no recording at {file}", "pass a file written by --record")
    source = replay_source(file)
    app = NatsopsApp(
        source,
        theme=getattr(args, "theme", None) if args is not None else None,
        initial_view="events",
        live=False,
        replay=True,
    )
    app.run()
    return int(app.return_code or 0)
