"""Soak: the dashboard against the demo cluster for a long while, with traffic and
periodic stepdowns; memory must stay flat and nothing may fail.

Starts the demo deployment (two clusters, sample streams, the traffic generator),
runs the real dashboard headless (Textual's test harness) as the system user with the
APP account connected, moves through every view, and every ``--stepdown-every``
seconds steps down a stream, a consumer or the meta leader through natsops' own
operations. Samples this process's resident memory and reports, at the end: the
memory growth between the early and the late part of the run (flat means within
``--tolerance``, 10 % by default), every error seen (failed refreshes, failed
operations, warnings logged by natsops, crashes), and the refreshes done.

Not run by CI. Run from the repository root:
``/work/venv/bin/python scripts/soak.py --minutes 10``. Exit status 1 on failure.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from natsops.connection import Hub
from natsops.demo import Demo
from natsops.errors import NatsopsError
from natsops.settings import ConnectionSettings, Settings
from natsops.ui.app import NatsopsApp
from natsops.ui.source import LiveSource
from natsops.ui.testing import polled, show

log = logging.getLogger("soak")

#: Views visited in turn (the ones that poll the cluster, plus events).
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
)

#: Stepdowns done in turn: (kind, stream, consumer).
STEPDOWNS = (
    ("stream", "ORDERS", None),
    ("consumer", "ORDERS", "fulfilment"),
    ("stream", "EVENTS", None),
    ("meta", None, None),
    ("consumer", "EVENTS", "analytics"),
)


def rss_mb() -> float:
    """Current resident set size of this process in MB."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


class _Errors(logging.Handler):
    """Collects every natsops record at WARNING or above."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(f"{record.name}: {record.getMessage()}")


@dataclass
class Soak:
    """What the run saw."""

    samples: list[tuple[float, float]] = field(default_factory=list)
    fetch_errors: list[str] = field(default_factory=list)
    stepdowns_ok: int = 0
    stepdowns_failed: list[str] = field(default_factory=list)
    incomplete_roll_calls: int = 0
    roll_calls: int = 0
    polls: dict[str, int] = field(default_factory=dict)


async def _stepdown(source: LiveSource, n: int, soak: Soak) -> None:
    kind, stream, consumer = STEPDOWNS[n % len(STEPDOWNS)]
    ops = source.ops
    label = f"{kind} {stream or ''} {consumer or ''}".strip()
    try:
        if kind == "meta":
            plan = await ops.plan_meta_stepdown()
        elif kind == "stream":
            plan = await ops.plan_stream_stepdown("APP", stream)
        else:
            plan = await ops.plan_consumer_stepdown("APP", stream, consumer)
        outcome = await ops.execute(plan, wait=10.0)
        soak.stepdowns_ok += 1
        log.info("stepdown %s: %s", label, getattr(outcome, "summary", outcome))
    except NatsopsError as exc:
        soak.stepdowns_failed.append(f"{label}: {exc}")


async def run(args: argparse.Namespace) -> int:
    errors = _Errors()
    natsops_log = logging.getLogger("natsops")
    natsops_log.addHandler(errors)
    natsops_log.setLevel(logging.WARNING)
    tmp = Path(tempfile.mkdtemp(prefix="natsops-soak-"))
    print(f"soak: starting the demo ({args.minutes:g} min)", flush=True)
    demo = await asyncio.to_thread(Demo.start, None, scale=args.traffic_scale)
    soak = Soak()
    try:
        dep = demo.deployment
        settings = Settings(
            system=ConnectionSettings(
                servers=list(dep.urls), creds=dep.sys_user.creds_path
            ),
            accounts={
                "APP": ConnectionSettings(
                    servers=list(dep.urls), creds=dep.app_user.creds_path, label="APP"
                )
            },
            refresh=args.refresh,
            audit_log=tmp / "audit.jsonl",
        )
        hub = await Hub.open(settings)
        source = LiveSource(hub)
        app = NatsopsApp(source, refresh=args.refresh)
        try:
            async with app.run_test(size=(160, 45)) as pilot:
                await _drive(app, pilot, source, soak, args)
        finally:
            await source.close()
            await hub.close()
        traffic = demo.traffic.stats.snapshot() if demo.traffic else {}
    finally:
        await asyncio.to_thread(demo.close)
        shutil.rmtree(tmp, ignore_errors=True)
    return _report(soak, errors, traffic, args)


async def _drive(
    app: NatsopsApp,
    pilot: Any,
    source: LiveSource,
    soak: Soak,
    args: argparse.Namespace,
) -> None:
    start = time.monotonic()
    end = start + args.minutes * 60
    next_sample = start
    next_stepdown = start + args.stepdown_every
    next_view = start
    view_index = 0
    stepdowns = 0
    last_report = start
    await show(app, "servers", timeout=30)
    while time.monotonic() < end:
        now = time.monotonic()
        if now >= next_view:
            name = VIEWS[view_index % len(VIEWS)]
            view_index += 1
            await show(app, name, timeout=30)
            if app.views[name].POLLS:
                await polled(app, name, 1, 30)
                result = getattr(app.views[name].last_fetch, "result", None)
                if result is not None and result.total:
                    soak.roll_calls += 1
                    if result.missing:
                        soak.incomplete_roll_calls += 1
            error = app.views[name].error
            if error:
                soak.fetch_errors.append(f"{name}: {error}")
            await pilot.press("down")
            next_view = now + args.view_every
        if now >= next_stepdown:
            await _stepdown(source, stepdowns, soak)
            stepdowns += 1
            next_stepdown = now + args.stepdown_every
        if now >= next_sample:
            soak.samples.append((now - start, rss_mb()))
            next_sample = now + args.sample_every
        if now - last_report >= 60:
            last_report = now
            print(
                f"soak: {(now - start) / 60:.1f} min, rss {rss_mb():.0f} MB, "
                f"stepdowns {soak.stepdowns_ok} ok / {len(soak.stepdowns_failed)} "
                f"failed, fetch errors {len(soak.fetch_errors)}",
                flush=True,
            )
        await asyncio.sleep(0.2)
    soak.samples.append((time.monotonic() - start, rss_mb()))
    soak.polls = dict(app.poll_count)


def _report(
    soak: Soak, errors: _Errors, traffic: dict[str, Any], args: argparse.Namespace
) -> int:
    rss = [mb for _, mb in soak.samples]
    # Early: after the first fifth (imports, first fetches, caches warm); late: the
    # last fifth.
    fifth = max(1, len(rss) // 5)
    early = statistics.median(rss[fifth : 2 * fifth] or rss[:1])
    late = statistics.median(rss[-fifth:])
    growth = (late - early) / early if early else 0.0
    flat = growth <= args.tolerance
    problems = (
        soak.fetch_errors
        + soak.stepdowns_failed
        + [f"logged: {r}" for r in errors.records]
    )

    print()
    print(f"natsops soak: {args.minutes:g} min, refresh every {args.refresh:g}s")
    print(f"  rss samples:     {len(rss)} (every {args.sample_every:g}s)")
    print(f"  rss first/max:   {rss[0]:.1f} / {max(rss):.1f} MB")
    print(f"  rss early/late:  {early:.1f} / {late:.1f} MB (medians)")
    print(
        f"  memory growth:   {growth * 100:+.1f} % "
        f"(tolerance {args.tolerance * 100:.0f} %): {'flat' if flat else 'GROWING'}"
    )
    print(f"  refreshes:       {sum(soak.polls.values())} {soak.polls}")
    print(
        f"  roll calls:      {soak.roll_calls}, incomplete {soak.incomplete_roll_calls}"
    )
    print(
        f"  stepdowns:       {soak.stepdowns_ok} ok, "
        f"{len(soak.stepdowns_failed)} failed"
    )
    print(f"  traffic:         {traffic}")
    print(f"  errors:          {len(problems)}")
    for line in problems[:20]:
        print(f"    {line}")
    ok = flat and not problems and soak.stepdowns_ok > 0
    print(f"  verdict:         {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--refresh", type=float, default=2.0, help="dashboard refresh")
    parser.add_argument("--stepdown-every", type=float, default=30.0, metavar="S")
    parser.add_argument("--view-every", type=float, default=5.0, metavar="S")
    parser.add_argument("--sample-every", type=float, default=5.0, metavar="S")
    parser.add_argument("--tolerance", type=float, default=0.10)
    parser.add_argument("--traffic-scale", type=float, default=1.0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    return asyncio.run(run(args))


if __name__ == "__main__":
    raise SystemExit(main())
