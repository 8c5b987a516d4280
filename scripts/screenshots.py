"""Make the README screenshots: drive the real dashboard through each main view.

Starts the demo deployment (two clusters with sample streams and light traffic, from
``natsops.demo``; or a bare two-cluster deployment with two streams when the demo is
not available), opens the dashboard on it under Textual's test harness and saves
``screenshots/<view>.svg``. Run with ``/work/venv/bin/python scripts/screenshots.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from natsops.connection import request_json
from natsops.harness import Deployment
from natsops.ui.app import NatsopsApp
from natsops.ui.screens import ConfirmScreen
from natsops.ui.testing import (
    create_stream,
    deployment_settings,
    live_source,
    polled,
    show,
    wait_until,
)
from natsops.ui.themes import load_all_themes
from natsops.ui.tracker import MoveTargetScreen, MoveTrackerScreen

log = logging.getLogger("screenshots")

OUT = Path(__file__).resolve().parents[1] / "screenshots"
SIZE = (170, 42)
VIEWS = (
    "servers",
    "connections",
    "jetstream",
    "streams",
    "consumers",
    "accounts",
    "topology",
    "health",
    "events",
    "audit",
    "perms",
)


def start_deployment(root: Path) -> tuple[Deployment, Any]:
    """The demo (with traffic) when available, else two clusters and two streams."""
    try:
        from natsops.demo import Demo
    except ImportError:
        Demo = None
    if Demo is not None:
        demo = Demo.start(root / "demo", traffic=True)
        log.info("demo deployment started with sample streams and traffic")
        return demo.deployment, demo
    dep = Deployment.start(root / "dep", [("c1", 3), ("c2", 3)])
    create_stream(dep, "ORDERS", replicas=3, messages=50, consumer="shipper")
    create_stream(dep, "EVENTS", replicas=1, messages=5, cluster="c2")
    return dep, None


async def capture(dep: Deployment, out: Path, theme: str) -> list[Path]:
    """Open the dashboard on ``dep`` and save one SVG per view."""
    settings = deployment_settings(dep, audit_log=out.parent / ".audit.jsonl")
    settings.refresh = 1.0
    saved: list[Path] = []
    async with live_source(settings) as source:
        app = NatsopsApp(
            source, theme=theme, themes=load_all_themes(user_dir=Path("/nonexistent"))
        )
        async with app.run_test(size=SIZE) as pilot:
            await show(app, "servers", timeout=20)
            # A second refresh gives the rate columns and sparklines something.
            await polled(app, "servers", times=3)
            await _leader_change(source)
            await _client_churn(dep)
            saved.extend(await _move(app, pilot, out))
            for name in VIEWS:
                await show(app, name, timeout=20)
                if name == "events":
                    events = app.views["events"]
                    await wait_until(
                        lambda v=events: len(getattr(v, "model", ())) > 3,
                        20,
                        "some events",
                    )
                    app.poll_now("events")
                elif app.views[name].POLLS:
                    await polled(app, name)
                await pilot.pause()
                path = out / f"{name}.svg"
                app.save_screenshot(path.name, str(out))
                saved.append(path)
                log.info("wrote %s", path)
    return saved


async def _move(app: NatsopsApp, pilot: Any, out: Path) -> list[Path]:
    """Move an R1 stream of APP to the other cluster through the keys (M, a
    target, y) and save the tracker while it follows the move."""
    await show(app, "streams", timeout=20)
    view = app.table_of("streams")
    candidates = [
        row
        for row in view.model.rows()
        if row.values[0] == "APP" and row.values[3] == 1 and row.values[4]
    ]
    if not candidates:
        log.warning("no R1 stream of APP to move: no tracker screenshot")
        return []
    row = candidates[0]
    view.table.select_key(row.key)
    await pilot.press("M")
    await wait_until(lambda: isinstance(app.screen, MoveTargetScreen), 10, "targets")
    values = [v for v, _label in app.screen.choices]  # type: ignore[attr-defined]
    target = next((v for v in values if v.startswith("cluster ")), None)
    if target is None:
        await pilot.press("escape")
        return []
    await pilot.press("home", *["down"] * values.index(target), "enter")
    await wait_until(lambda: isinstance(app.screen, ConfirmScreen), 20, "the plan")
    path = out / "move-confirm.svg"
    app.save_screenshot(path.name, str(out))
    await pilot.press("y")
    await wait_until(lambda: isinstance(app.screen, MoveTrackerScreen), 10, "tracker")
    tracker = app.screen
    assert isinstance(tracker, MoveTrackerScreen)
    await wait_until(
        lambda: tracker.done or (tracker.snapshot and tracker.snapshot.in_flight),
        30,
        "the move in flight",
    )
    await pilot.pause()
    shot = out / "move.svg"
    app.save_screenshot(shot.name, str(out))
    await wait_until(lambda: tracker.done or tracker.failed, 60, "the move to settle")
    await pilot.press("escape")
    log.info("wrote %s and %s", path, shot)
    return [path, shot]


async def _leader_change(source: Any) -> None:
    """Step a stream leader down so the leadership panel has an entry."""
    body = {"accounts": True, "streams": True, "config": True}
    streams = await source.ping("JSZ", body)
    for data in streams.data().values():
        for acc in data.get("account_details") or []:
            for stream in acc.get("stream_detail") or []:
                replicas = (stream.get("config") or {}).get("num_replicas", 1)
                if acc.get("name") == "APP" and replicas > 1:
                    name = stream["name"]
                    try:
                        await request_json(
                            source.hub.account("APP").nc,
                            f"$JS.API.STREAM.LEADER.STEPDOWN.{name}",
                        )
                    except Exception as exc:  # a screenshot without it is fine
                        log.warning("stepdown of %s: %s", name, exc)
                    return


async def _client_churn(dep: Deployment, clients: int = 3) -> None:
    """Connect and disconnect a few clients so the connection panel has entries."""
    import nats

    for i in range(clients):
        nc = await nats.connect(
            servers=list(dep.urls),
            user_credentials=str(dep.app_user.creds_path),
            name=f"screenshot-client-{i}",
        )
        await nc.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--theme", default="natsops-dark")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    log.setLevel(logging.INFO)
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="natsops-shots-") as tmp:
        dep, demo = start_deployment(Path(tmp))
        try:
            saved = asyncio.run(capture(dep, args.out, args.theme))
        finally:
            if demo is not None:
                demo.close()
            else:
                dep.close()
            (args.out.parent / ".audit.jsonl").unlink(missing_ok=True)
    print(f"{len(saved)} screenshots in {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
