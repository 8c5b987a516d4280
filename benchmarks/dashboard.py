"""Dashboard refresh cost and key response at scale, against a naive DataTable.

Feeds synthetic CONNZ and JSZ replies (default 100,000 connections on 50 servers and
10,000 streams) through the dashboard's data boundary (a ``DataSource``) into the
real app under Pilot, and measures in one run:

* refresh cost per tick: building rows in the worker (which yields to the loop every
  few thousand rows), applying them in the handler (keyed diff, sort) and painting
  the visible window, with the counters changing on every tick;
* key response: ``pilot.press`` of a cursor key until the screen is updated (wall
  time and this process's CPU time), and a view switch;
* memory: resident set size after the run;
* the baseline: a Textual ``DataTable`` refreshed the naive way (``clear`` then
  ``add_rows``) with the same rows, and its key response, at ``--baseline-rows``
  rows (default 10,000: at 100,000 one refresh takes tens of seconds);
* the Connections view before and after it asked the servers for their top N:
  fetching and decoding every connection on every tick (CONNZ replies are JSON
  bytes decoded by natsops, as from a real fleet) against CONNZ's own ``sort`` and
  ``limit``, with the bytes decoded, the worker and handler time per tick, key
  response and memory of each;
* an event storm (``--storm-rate``, default 20,000 events/s for ``--storm-seconds``)
  published into a real nats-server by the publisher of ``benchmarks/events.py``
  (another process): key response of the Events view under Pilot, the pulls per
  second, against a baseline app that writes every event into a ``RichLog``.

Targets (from the scale goals of natsops): refresh work per tick under 100 ms and
key response under 100 ms at 100,000 connections; resident memory under 300 MB;
key response under 100 ms during the storm. Prints a table of targets, measured
values and pass/fail; exit status 1 when a target fails. Run with
``/work/venv/bin/python benchmarks/dashboard.py`` (``--only-storm``, ``--skip-storm``).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import random
import resource
import statistics
import sys
import time
from pathlib import Path
from typing import Any, ClassVar

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from textual import events
from textual.app import App, ComposeResult
from textual.binding import BindingType
from textual.geometry import Region
from textual.widgets import DataTable, RichLog, Static

from natsops.fanout import FanoutResult, Reply, ServerInfo
from natsops.ui.app import NatsopsApp
from natsops.ui.source import DataSource
from natsops.ui.table import WindowedTable
from natsops.ui.themes import load_all_themes
from natsops.ui.views import connections
from natsops.ui.views.connections import ConnectionsView
from natsops.ui.views.events import EventsView

SIZE = (160, 45)
RSS_TARGET_MB = 300.0
#: CONNZ sort options as nats-server applies them: (field, largest first).
CONNZ_SORT: dict[str, tuple[str, bool]] = {
    "cid": ("cid", False),
    "subs": ("subscriptions", True),
    "msgs_to": ("out_msgs", True),
    "msgs_from": ("in_msgs", True),
    "bytes_to": ("out_bytes", True),
    "bytes_from": ("in_bytes", True),
    "pending": ("pending_bytes", True),
}


class SyntheticSource(DataSource):
    """Answers CONNZ and JSZ like a large fleet; counters move on every request."""

    kind = "synthetic"

    def __init__(self, servers: int, connections: int, streams: int) -> None:
        super().__init__()
        self.rng = random.Random(7)
        self.names = [f"srv-{i:03d}" for i in range(servers)]
        self.infos = {
            n: ServerInfo(name=n, id=f"N{i:055d}", cluster=f"c{i % 4}")
            for i, n in enumerate(self.names)
        }
        for info in self.infos.values():
            self.roster.observe(info, "synthetic")
        self.conns: dict[str, list[dict[str, Any]]] = {n: [] for n in self.names}
        for cid in range(connections):
            server = self.names[cid % servers]
            self.conns[server].append(self._conn(cid))
        self.streams = streams
        self.refresh = 3600.0  # ticks are driven by the benchmark, not the timer
        self.last_ping = 0.0
        self.connz_bytes = 0
        self.me.user = "bench"
        self.me.account = "SYS"
        self.me.server = self.names[0]

    def _conn(self, cid: int) -> dict[str, Any]:
        return {
            "cid": cid,
            "name": f"client-{cid}",
            "account": f"A{cid % 20:055d}",
            "user": f"U{cid % 300:055d}",
            "name_tag": f"user{cid % 300}",
            "ip": "10.0.0.1",
            "port": 10000 + cid % 50000,
            "lang": "go",
            "version": "1.41.0",
            "uptime": f"{cid % 3600}s",
            "idle": f"{cid % 60}s",
            "rtt": f"{(cid % 900) / 10:.1f}µs",
            "subscriptions": cid % 17,
            "pending_bytes": 0,
            "in_msgs": cid * 3,
            "out_msgs": cid * 2,
            "in_bytes": cid * 300,
            "out_bytes": cid * 200,
        }

    def tick(self, fraction: float = 0.3) -> None:
        """Advance the counters of a share of the connections (traffic flowing)."""
        for conns in self.conns.values():
            for conn in conns:
                if self.rng.random() < fraction:
                    conn["in_msgs"] += 11
                    conn["out_msgs"] += 7
                    conn["in_bytes"] += 1100
                    conn["out_bytes"] += 700

    def _result(self, kind: str, data: dict[str, dict[str, Any]]) -> FanoutResult:
        replies = {n: Reply(self.infos[n], d, None, 0.001) for n, d in data.items()}
        return FanoutResult(kind, replies, {}, [], set(self.names), 0.002)

    def _connz_page(
        self, conns: list[dict[str, Any]], body: dict[str, Any], limit: int | None
    ) -> bytes:
        """What one server sends for a CONNZ body: its own filters, sort, offset
        and limit applied, encoded as JSON (the fleet's work, not natsops')."""
        acc = body.get("acc")
        user = body.get("user")
        chosen = [
            c
            for c in conns
            if (not acc or c["account"] == acc) and (not user or c["user"] == user)
        ]
        key = CONNZ_SORT.get(str(body.get("sort") or "cid"))
        if key is not None:
            field, largest = key
            chosen.sort(key=lambda c: c[field], reverse=largest)
        offset = int(body.get("offset") or 0)
        page = chosen[offset : offset + limit] if limit else chosen[offset:]
        return json.dumps(
            {
                "connections": page,
                "num_connections": len(page),
                "total": len(chosen),
                "offset": offset,
                "limit": limit or len(chosen),
            }
        ).encode()

    async def ping(
        self, kind: str, body: dict[str, Any] | None = None, timeout: float = 2.0
    ) -> FanoutResult:
        """Replies arrive server by server (the loop runs between them), as from
        a real fleet; the time spent making them is the fleet's, not natsops'."""
        return await self._ask(kind, body or {}, None)

    async def paged(
        self,
        kind: str,
        body: dict[str, Any],
        items_key: str,
        timeout: float = 2.0,
        *,
        page_size: int = 1024,
        max_items: int | None = None,
    ) -> FanoutResult:
        """Every server's list complete (or its first ``max_items``), in one
        reply per server: the same bytes to parse as the pages would be."""
        return await self._ask(kind, body, max_items)

    async def _ask(
        self, kind: str, body: dict[str, Any], limit: int | None
    ) -> FanoutResult:
        kind = kind.upper()
        self.last_ping = 0.0
        if kind == "CONNZ":
            data: dict[str, dict[str, Any]] = {}
            for n, conns in self.conns.items():
                t0 = time.perf_counter()
                blob = self._connz_page(conns, body, limit)
                self.last_ping += time.perf_counter() - t0
                self.connz_bytes += len(blob)
                # Decoding the reply is natsops' work (the Collector does it).
                data[n] = json.loads(blob)
                await asyncio.sleep(0)
            return self._result(kind, data)
        if kind == "STATSZ":
            counts = {n: {"connections": len(c)} for n, c in self.conns.items()}
            return self._result(kind, counts)
        if kind == "JSZ":
            return self._result(kind, await self._jsz())
        return self._result(kind, {n: {} for n in self.names})

    async def _jsz(self) -> dict[str, dict[str, Any]]:
        """Each server's streams (the ones it leads), one server at a time."""
        count = len(self.names)
        out: dict[str, dict[str, Any]] = {}
        for k, server in enumerate(self.names):
            t0 = time.perf_counter()
            streams = []
            for i in range(k, self.streams, count):
                streams.append(
                    {
                        "name": f"STREAM_{i:05d}",
                        "config": {
                            "num_replicas": 1,
                            "storage": "file",
                            "subjects": [f"s.{i}"],
                        },
                        "state": {
                            "messages": i * 10 + self.rng.randrange(5),
                            "bytes": i * 1000,
                            "consumer_count": i % 4,
                            "first_seq": 1,
                            "last_seq": i * 10,
                        },
                        "cluster": {"name": "c0", "leader": server, "replicas": []},
                    }
                )
            detail = [{"name": "APP", "id": "A" * 56, "stream_detail": streams}]
            out[server] = {"account_details": detail}
            self.last_ping += time.perf_counter() - t0
            await asyncio.sleep(0)
        return out


def _median_ms(values: list[float]) -> float:
    return statistics.median(values) * 1000 if values else float("nan")


def _p95_ms(values: list[float]) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))] * 1000


async def _wait(pred: Any, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise TimeoutError("benchmark condition not met")
        await asyncio.sleep(0.01)


def rss_mb() -> float:
    """Current resident set size of this process in MB."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


async def press_until_painted(app: App[Any], key: str, painted: Any) -> float:
    """Send one key like Pilot does (without its idle waits); seconds until the
    table paints again."""
    before = painted()
    t0 = time.perf_counter()
    assert app._driver is not None
    app._driver.send_message(events.Key(key, None))
    deadline = t0 + 10
    while painted() == before:
        if time.perf_counter() > deadline:
            raise TimeoutError(f"no paint after {key}")
        await asyncio.sleep(0.0005)
    return time.perf_counter() - t0


async def bench_natsops(
    args: argparse.Namespace, views: tuple[str, ...], *, full: bool = False
) -> dict[str, Any]:
    """The real app on synthetic data: refresh costs and key response.

    ``full`` fetches every connection on every tick whatever the deployment's
    size (the Connections view as it was before it asked for the top N only).
    """
    threshold = connections.LARGE_DEPLOYMENT
    if full:
        connections.LARGE_DEPLOYMENT = 10**12
    try:
        return await _bench_natsops(args, views)
    finally:
        connections.LARGE_DEPLOYMENT = threshold


async def _bench_natsops(
    args: argparse.Namespace, views: tuple[str, ...]
) -> dict[str, Any]:
    source = SyntheticSource(args.servers, args.connections, args.streams)
    # The simulated fleet lives in this process only because it is simulated: keep
    # its 100,000 connection dicts out of the cyclic GC's scans, as they would be
    # out of natsops' process in a real deployment.
    gc.collect()
    gc.freeze()
    fleet_rss = rss_mb()
    app = NatsopsApp(
        source,
        themes=load_all_themes(user_dir=Path("/nonexistent")),
        initial_view="connections",
        live=False,
    )
    out: dict[str, Any] = {}
    async with app.run_test(size=SIZE) as pilot:
        await _wait(lambda: app.poll_count.get("connections"))
        sizes = {"connections": args.connections, "streams": args.streams}
        for view_name in views:
            rows = sizes[view_name]
            if app.current != view_name:
                before = app.poll_count.get(view_name, 0)
                app.show_view(view_name)
                await _wait(lambda v=view_name, b=before: app.poll_count.get(v, 0) > b)
            view = app.table_of(view_name)
            held = len(view.model)
            if isinstance(view, ConnectionsView) and view.mode == "top":
                assert held == view.limit, (held, view.limit)
            else:
                assert held == rows, (view_name, held, rows)
            build, apply, paint, parsed = [], [], [], []
            for _ in range(args.ticks):
                source.tick()
                source.connz_bytes = 0
                before = app.poll_count.get(view_name, 0)
                app.poll_now(view_name)
                await _wait(lambda v=view_name, b=before: app.poll_count.get(v, 0) > b)
                fetched = view.last_fetch
                assert fetched is not None
                build.append(fetched.cost - source.last_ping)
                parsed.append(source.connz_bytes)
                apply.append(app.last_apply_cost)
                table: WindowedTable = view.table
                region = Region(0, 0, table.size.width, table.size.height)
                t0 = time.perf_counter()
                table._cells.clear()  # paint from scratch, as after a change
                table._lines.clear()
                table.render_lines(region)
                paint.append(time.perf_counter() - t0)
            await pilot.press("home")
            table = view.table
            keys, cpu = [], []
            for i in range(args.keys):
                key = "down" if i % 10 != 9 else "pagedown"
                c0 = time.process_time()
                keys.append(
                    await press_until_painted(
                        app, key, lambda t=table: t.lines_rendered
                    )
                )
                cpu.append(time.process_time() - c0)
                await pilot.pause(0.02)
            # Keys while a refresh is being built and applied (the worker yields).
            busy = []
            for _ in range(max(1, args.ticks // 2)):
                source.tick()
                before = app.poll_count.get(view_name, 0)
                app.poll_now(view_name)
                while app.poll_count.get(view_name, 0) == before:
                    busy.append(
                        await press_until_painted(
                            app, "down", lambda t=table: t.lines_rendered
                        )
                    )
                    await asyncio.sleep(0.01)
            out[view_name] = {
                "rows": rows,
                "held": len(view.model),  # at the end: deeper pages included
                "title": view.title_bar.render().plain,  # type: ignore[union-attr]
                "parsed": parsed,
                "build": build,
                "apply": apply,
                "paint": paint,
                "key": keys,
                "key_cpu": cpu,
                "key_busy": busy,
            }
        switch = []
        for _ in range(3 if len(views) > 1 else 0):
            for name, key in (("connections", "2"), ("streams", "4")):
                target = app.table_of(name).table
                before = app.poll_count.get(name, 0)
                switch.append(
                    await press_until_painted(
                        app, key, lambda t=target: t.lines_rendered
                    )
                )
                await _wait(lambda n=name, b=before: app.poll_count.get(n, 0) > b)
        out["switch"] = switch
    out["rss_share"] = rss_mb() - fleet_rss
    out["fleet_rss"] = fleet_rss
    return out


class CountingTable(DataTable[Any]):
    """A DataTable that counts painted lines, to time key response."""

    lines_rendered = 0

    def render_line(self, y: int) -> Any:
        self.lines_rendered += 1
        return super().render_line(y)


class NaiveApp(App[None]):
    """The baseline: one DataTable, refreshed by clear() and add_rows()."""

    def __init__(self, rows: list[tuple[Any, ...]]) -> None:
        super().__init__()
        self.rows = rows

    def compose(self) -> ComposeResult:
        yield CountingTable(id="naive")

    def on_mount(self) -> None:
        table = self.query_one(CountingTable)
        table.add_columns(*[c.label for c in ConnectionsView.COLUMNS])
        table.focus()

    def refill(self) -> float:
        table = self.query_one(CountingTable)
        t0 = time.perf_counter()
        table.clear()
        table.add_rows(self.rows)
        return time.perf_counter() - t0


async def bench_baseline(args: argparse.Namespace) -> dict[str, Any]:
    source = SyntheticSource(args.servers, args.baseline_rows, 0)
    result = await source.ping("CONNZ")
    rows = []
    for data in result.data().values():
        for c in data["connections"]:
            rows.append(
                tuple(
                    str(c.get(k, ""))
                    for k in (
                        "cid",
                        "cid",
                        "name",
                        "account",
                        "name_tag",
                        "ip",
                        "lang",
                        "uptime",
                        "idle",
                        "rtt",
                        "subscriptions",
                        "pending_bytes",
                        "in_msgs",
                        "in_msgs",
                        "out_msgs",
                        "in_bytes",
                    )
                )
            )
    app = NaiveApp(rows)
    out: dict[str, Any] = {"rows": len(rows), "refresh": [], "key": [], "key_cpu": []}
    async with app.run_test(size=SIZE) as pilot:
        for _ in range(max(2, args.ticks // 2)):
            out["refresh"].append(app.refill())
            await pilot.pause()
        table = app.query_one(CountingTable)
        for _ in range(args.keys):
            c0 = time.process_time()
            out["key"].append(
                await press_until_painted(app, "down", lambda: table.lines_rendered)
            )
            out["key_cpu"].append(time.process_time() - c0)
            await pilot.pause(0.02)
    return out


def report_scale(ours: dict[str, Any], full: dict[str, Any]) -> None:
    """The Connections view fetching everything (before) against the top N."""
    before, after = full["connections"], ours["connections"]
    print(
        f"\nConnections view at {after['rows']:,} connections: every connection "
        "fetched on each tick (before) / the top N by the sort key (after)"
    )
    print(
        f"{'':<8} {'rows held':>10} {'CONNZ bytes/tick':>17} {'worker':>9} "
        f"{'handler':>8} {'key':>7} {'busy p95':>9} {'memory':>8}"
    )
    for label, r, mem in (
        ("before", before, full["rss_share"]),
        ("after", after, ours["rss_share"]),
    ):
        print(
            f"{label:<8} {r['held']:>10,} {statistics.median(r['parsed']):>17,.0f} "
            f"{_median_ms(r['build']):>7.1f}ms {_median_ms(r['apply']):>6.1f}ms "
            f"{_median_ms(r['key']):>5.1f}ms {_p95_ms(r['key_busy']):>7.1f}ms "
            f"{mem:>6.0f}MB"
        )
    print(f"after, the title says: {after['title'].strip()}")
    print(
        "ratio worker time per tick, before / after: "
        f"{_median_ms(before['build']) / max(_median_ms(after['build']), 1e-6):.1f}x"
    )


def report(
    ours: dict[str, Any],
    base: dict[str, Any],
    full: dict[str, Any],
    storm: dict[str, Any] | None = None,
) -> int:
    """Print the figures, the ratios and the targets; 1 when a target fails."""
    print("\nnatsops windowed table (synthetic data through the DataSource), ms")
    print(
        f"{'view':<12} {'rows':>8} {'worker':>8} {'handler':>8} {'paint':>7} "
        f"{'key':>7} {'key p95':>8} {'busy key':>9} {'busy p95':>9} {'key cpu':>8}"
    )
    for name in ("connections", "streams"):
        r = ours[name]
        print(
            f"{name:<12} {r['rows']:>8,} {_median_ms(r['build']):>8.1f} "
            f"{_median_ms(r['apply']):>8.1f} {_median_ms(r['paint']):>7.1f} "
            f"{_median_ms(r['key']):>7.1f} {_p95_ms(r['key']):>8.1f} "
            f"{_median_ms(r['key_busy']):>9.1f} {_p95_ms(r['key_busy']):>9.1f} "
            f"{_median_ms(r['key_cpu']):>8.1f}"
        )
    print(
        "worker: rows built, diffed and sorted off the handler (wall time, yielding "
        "every 500 rows);\nhandler: commit + cursor sync; paint: the visible "
        "window from scratch; key: a key until the table painted again;\nbusy key: "
        "the same while a refresh of that view was in progress."
    )
    print(
        f"view switch (2/4 until the new table painted): "
        f"{_median_ms(ours['switch']):.1f} ms median"
    )

    base_refresh = _median_ms(base["refresh"])
    base_key = _median_ms(base["key"])
    print(f"\nbaseline DataTable, clear()+add_rows(), {base['rows']:,} rows:")
    print(
        f"refresh {base_refresh:.1f} ms (all of it in the handler), key "
        f"{base_key:.1f} ms (p95 {_p95_ms(base['key']):.1f})"
    )
    conns = ours["connections"]
    streams = ours["streams"]
    conn_handler = _median_ms(conns["apply"]) + _median_ms(conns["paint"])
    stream_handler = _median_ms(streams["apply"]) + _median_ms(streams["paint"])
    print(
        f"ratio handler work, baseline {base['rows']:,} rows / natsops "
        f"{streams['rows']:,} streams: "
        f"{base_refresh / max(stream_handler, 1e-6):.1f}x; "
        f"/ natsops {conns['rows']:,} connections: "
        f"{base_refresh / max(conn_handler, 1e-6):.1f}x"
    )
    print(
        f"ratio key response, baseline {base['rows']:,} rows / natsops "
        f"{conns['rows']:,} connections: "
        f"{base_key / max(_median_ms(conns['key']), 1e-6):.2f}x"
    )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"memory: {ours['fleet_rss']:.0f} MB with the simulated fleet built, "
        f"natsops added {ours['rss_share']:.0f} MB, peak {peak:.0f} MB"
    )
    report_scale(ours, full)
    rows: list[tuple[str, float, float | None]] = [
        ("handler work per tick (commit+paint), 100k connections", conn_handler, 100),
        (
            "worker work per tick (decode+build+diff+sort), 100k connections",
            _median_ms(conns["build"]),
            100,
        ),
        ("key response, 100k connections (median)", _median_ms(conns["key"]), 100),
        ("key response during a refresh, 100k (p95)", _p95_ms(conns["key_busy"]), 100),
        ("view switch until painted (median)", _median_ms(ours["switch"]), 100),
        ("memory added by natsops (MB)", ours["rss_share"], RSS_TARGET_MB),
    ]
    if storm is not None:
        rows += report_storm(storm)
    return print_targets(rows)


def print_targets(rows: list[tuple[str, float, float | None]]) -> int:
    """The table of targets; 1 when one failed."""
    print(f"\n{'target':<64} {'measured':>9} {'limit':>7}  result")
    failed = 0
    for label, value, limit in rows:
        if limit is None:
            verdict, limit_text = "info", "-"
        else:
            ok = value <= limit
            failed += not ok
            verdict, limit_text = ("pass" if ok else "FAIL"), f"{limit:.0f}"
        print(f"{label:<64} {value:>9.1f} {limit_text:>7}  {verdict}")
    return 1 if failed else 0


# -- event storm ---------------------------------------------------------------------

EVENTS_BENCH = Path(__file__).resolve().parent / "events.py"
#: A key not painted after this long counts as this long (seconds).
STALL_SECONDS = 15.0


class CountingStatic(Static):
    """A Static that counts its paints, to see when a key's effect was painted."""

    renders = 0

    def render_lines(self, crop: Region) -> Any:
        self.renders += 1
        return super().render_lines(crop)


class StormLogApp(App[None]):
    """The baseline: every event written into a RichLog as it arrives."""

    BINDINGS: ClassVar[list[BindingType]] = [("down", "mark", "Mark")]

    def __init__(self) -> None:
        super().__init__()
        self.marks = 0
        self.marked = 0.0

    def compose(self) -> ComposeResult:
        yield CountingStatic("0", id="mark")
        yield RichLog(max_lines=10_000, id="log")

    def action_mark(self) -> None:
        self.marked = time.perf_counter()
        self.marks += 1
        self.query_one("#mark", CountingStatic).update(str(self.marks))


async def _publish(dep: Any, user: Any, account: str, rate: float, secs: float) -> Any:
    """The events benchmark's publisher process (raw protocol, another core)."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        str(EVENTS_BENCH),
        "--publisher",
        dep.urls[0],
        user.creds,
        account,
        str(rate),
        str(secs),
        stdout=asyncio.subprocess.PIPE,
    )


async def _sent(proc: Any) -> int:
    out = await proc.stdout.read() if proc.stdout else b""
    await proc.wait()
    return int(json.loads(out.decode().strip().splitlines()[-1])["sent"])


async def _key_until_painted(
    app: App[Any], key: str, ran: Any, painted: Any, timeout: float = 10.0
) -> float:
    """Seconds from sending ``key`` until its action ran (``ran()`` changes) and
    the widget that shows its effect painted after that."""
    before = ran()
    t0 = time.perf_counter()
    assert app._driver is not None
    app._driver.send_message(events.Key(key, None))
    deadline = t0 + timeout
    while ran() == before:
        if time.perf_counter() > deadline:
            raise TimeoutError(f"{key} not handled")
        await asyncio.sleep(0.0005)
    frames = painted()
    while painted() == frames:
        if time.perf_counter() > deadline:
            raise TimeoutError(f"no paint after {key}")
        await asyncio.sleep(0.0005)
    return time.perf_counter() - t0


async def _storm_natsops(
    dep: Any, user: Any, rate: float, secs: float, tmp: Path
) -> dict[str, Any]:
    from natsops.ui.testing import deployment_settings, live_source

    settings = deployment_settings(dep, accounts=(), audit_log=tmp / "audit.jsonl")
    async with live_source(settings) as source:
        app = NatsopsApp(
            source,
            themes=load_all_themes(user_dir=Path("/nonexistent")),
            initial_view="events",
        )
        async with app.run_test(size=SIZE):
            await _wait(lambda: app.started, 30)
            view = app.views["events"]
            assert isinstance(view, EventsView)
            table = view.table
            moves = [0]
            original = table.action_cursor

            def counted(step: int) -> None:
                moves[0] += 1
                original(step)

            table.action_cursor = counted  # type: ignore[method-assign]
            store = source.events
            seen0 = store.seen
            proc = await _publish(dep, user, "STORMNATSOPS", rate, secs)
            await _wait(lambda: store.seen > seen0 + 1000, 30)
            t0 = time.perf_counter()
            pulls0 = view.pulls
            keys: list[float] = []
            i = 0
            while proc.returncode is None and time.perf_counter() - t0 < secs:
                key = "down" if i % 2 == 0 else "up"
                keys.append(
                    await _key_until_painted(
                        app, key, lambda: moves[0], lambda: table.lines_rendered
                    )
                )
                i += 1
                await asyncio.sleep(0.05)
            span = time.perf_counter() - t0
            pulls = view.pulls - pulls0
            sent = await _sent(proc)
            await source.feed.wait_idle(30)
            got = store.seen - seen0
            return {
                "keys": keys,
                "sent": sent,
                "got": got,
                "pulls_per_s": pulls / max(span, 1e-6),
                "rows": len(view.model),
                "capacity": store.capacity,
            }


async def _storm_richlog(
    dep: Any, user: Any, rate: float, secs: float
) -> dict[str, Any]:
    import nats

    from natsops.commands.events import format_line
    from natsops.events import parse_event

    app = StormLogApp()
    written = [0]
    async with app.run_test(size=SIZE) as pilot:
        log_widget = app.query_one(RichLog)
        mark = app.query_one("#mark", CountingStatic)

        async def on_msg(msg: Any) -> None:
            ev = parse_event(msg.subject, msg.data, "system")
            log_widget.write(format_line(ev))
            written[0] += 1

        nc = await nats.connect(
            servers=dep.urls[:1], user_credentials=str(dep.sys_user.creds_path)
        )
        await nc.subscribe("$SYS.ACCOUNT.STORMLOG.>", cb=on_msg)
        await nc.flush()
        await pilot.pause()
        proc = await _publish(dep, user, "STORMLOG", rate, secs)
        await _wait(lambda: written[0] > 1000, 30)
        t0 = time.perf_counter()
        keys: list[float] = []
        stalled = False
        while proc.returncode is None and time.perf_counter() - t0 < secs:
            try:
                keys.append(
                    await _key_until_painted(
                        app,
                        "down",
                        lambda: app.marks,
                        lambda: mark.renders,
                        STALL_SECONDS,
                    )
                )
            except TimeoutError:
                keys.append(STALL_SECONDS)
                stalled = True
                break
            await asyncio.sleep(0.05)
        span = time.perf_counter() - t0
        sent = await _sent(proc)
        got = written[0]
        await nc.close()
    return {"keys": keys, "sent": sent, "got": got, "span": span, "stalled": stalled}


async def bench_storm(args: argparse.Namespace) -> dict[str, Any]:
    """Key response of the Events view while a real server receives a storm."""
    import tempfile

    from natsops.harness import Deployment

    with tempfile.TemporaryDirectory(prefix="natsops-storm-") as tmp:
        dep = Deployment.start(Path(tmp) / "dep", [("c1", 1)], jetstream=False)
        try:
            user = dep.make_user("SYS", "storm-publisher")
            rate, secs = float(args.storm_rate), float(args.storm_seconds)
            ours = await _storm_natsops(dep, user, rate, secs, Path(tmp))
            base = await _storm_richlog(dep, user, rate, secs)
        finally:
            dep.close()
    return {"natsops": ours, "richlog": base, "rate": rate, "seconds": secs}


def report_storm(storm: dict[str, Any]) -> list[tuple[str, float, float | None]]:
    ours, base = storm["natsops"], storm["richlog"]
    print(
        f"\nevent storm: {storm['rate']:,.0f} events/s for {storm['seconds']:g}s "
        "published into a real nats-server (benchmarks/events.py's publisher)"
    )
    print(
        f"natsops Events view: key {_median_ms(ours['keys']):.1f} ms median, "
        f"p95 {_p95_ms(ours['keys']):.1f} ms ({len(ours['keys'])} keys); "
        f"ingested {ours['got']:,} of {ours['sent']:,}; "
        f"{ours['pulls_per_s']:.1f} pulls/s into a table of {ours['rows']:,} rows "
        f"(buffer {ours['capacity']:,})"
    )
    answered = (
        f"key {_median_ms(base['keys']):.1f} ms median, p95 "
        f"{_p95_ms(base['keys']):.1f} ms ({len(base['keys'])} keys)"
        if not base["stalled"]
        else f"a key was not painted within {STALL_SECONDS:.0f} s (counted as such)"
    )
    print(
        f"baseline RichLog, one write per event: {answered}; written "
        f"{base['got']:,} of {base['sent']:,} by the end of the storm"
    )
    ratio = _median_ms(base["keys"]) / max(_median_ms(ours["keys"]), 1e-6)
    print(f"ratio key response, baseline / natsops: {ratio:.1f}x")
    return [
        (
            "key response during a 20k events/s storm (median)",
            _median_ms(ours["keys"]),
            100,
        ),
        ("key response during a 20k events/s storm (p95)", _p95_ms(ours["keys"]), 100),
        ("Events view pulls per second (at most ~10)", ours["pulls_per_s"], 11),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--connections", type=int, default=100_000)
    parser.add_argument("--streams", type=int, default=10_000)
    parser.add_argument("--servers", type=int, default=50)
    parser.add_argument("--ticks", type=int, default=5)
    parser.add_argument("--keys", type=int, default=30)
    parser.add_argument("--baseline-rows", type=int, default=10_000)
    parser.add_argument("--storm-rate", type=float, default=20_000)
    parser.add_argument("--storm-seconds", type=float, default=5.0)
    parser.add_argument("--skip-storm", action="store_true")
    parser.add_argument("--only-storm", action="store_true")
    args = parser.parse_args()
    t0 = time.perf_counter()
    storm = None if args.skip_storm else asyncio.run(bench_storm(args))
    if args.only_storm:
        assert storm is not None
        rows = report_storm(storm)
        code = print_targets(rows)
        print(f"\n(total {time.perf_counter() - t0:.1f} s)")
        return code
    base = asyncio.run(bench_baseline(args))
    ours = asyncio.run(bench_natsops(args, ("connections", "streams")))
    full = asyncio.run(bench_natsops(args, ("connections",), full=True))
    code = report(ours, base, full, storm)
    print(f"\n(total {time.perf_counter() - t0:.1f} s)")
    return code


if __name__ == "__main__":
    raise SystemExit(main())
