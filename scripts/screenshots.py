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
from natsops.ui.testing import (
    create_stream,
    deployment_settings,
    live_source,
    polled,
    show,
    wait_until,
)
from natsops.ui.themes import load_all_themes

log = logging.getLogger("screenshots")

OUT = Path(__file__).resolve().parents[1] / "screenshots"
SIZE = (160, 42)
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
