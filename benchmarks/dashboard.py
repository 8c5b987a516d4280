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
  rows (default 10,000: at 100,000 one refresh takes tens of seconds).

Targets (from the scale goals of natsops): refresh work per tick under 100 ms and
key response under 100 ms at 100,000 connections; resident memory under 300 MB.
Prints a table of targets, measured values and pass/fail; exit status 1 when a
target fails. Run with ``/work/venv/bin/python benchmarks/dashboard.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import resource
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from textual import events
from textual.app import App, ComposeResult
from textual.geometry import Region
from textual.widgets import DataTable

from natsops.fanout import FanoutResult, Reply, ServerInfo
from natsops.ui.app import NatsopsApp
from natsops.ui.source import DataSource
from natsops.ui.table import WindowedTable
from natsops.ui.themes import load_all_themes
from natsops.ui.views.connections import ConnectionsView

SIZE = (160, 45)
RSS_TARGET_MB = 300.0


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
        self.me.user = "bench"
        self.me.account = "SYS"
        self.me.server = self.names[0]

    def _conn(self, cid: int) -> dict[str, Any]:
        return {
            "cid": cid,
            "name": f"client-{cid}",
            "account": f"A{cid % 20:055d}",
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

    def _result(self, kind: str, data: dict[str, dict[str, Any]]) -> FanoutResult:
        replies = {n: Reply(self.infos[n], d, None, 0.001) for n, d in data.items()}
        return FanoutResult(kind, replies, {}, [], set(self.names), 0.002)

    async def ping(
        self, kind: str, body: dict[str, Any] | None = None, timeout: float = 2.0
    ) -> FanoutResult:
        """Replies arrive server by server (the loop runs between them), as from
        a real fleet; the time spent making them is the fleet's, not natsops'."""
        kind = kind.upper()
        self.last_ping = 0.0
        if kind == "CONNZ":
            data: dict[str, dict[str, Any]] = {}
            for n, conns in self.conns.items():
                t0 = time.perf_counter()
                data[n] = {
                    "connections": [dict(c) for c in conns],
                    "num_connections": len(conns),
                    "total": len(conns),
                }
                self.last_ping += time.perf_counter() - t0
                await asyncio.sleep(0)
            return self._result(kind, data)
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


async def bench_natsops(args: argparse.Namespace) -> dict[str, Any]:
    """The real app on synthetic data: refresh costs and key response."""
    source = SyntheticSource(args.servers, args.connections, args.streams)
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
        for view_name, rows in (
            ("connections", args.connections),
            ("streams", args.streams),
        ):
            if app.current != view_name:
                before = app.poll_count.get(view_name, 0)
                app.show_view(view_name)
                await _wait(lambda v=view_name, b=before: app.poll_count.get(v, 0) > b)
            view = app.table_of(view_name)
            assert len(view.model) == rows, (view_name, len(view.model), rows)
            build, apply, paint = [], [], []
            for _ in range(args.ticks):
                source.tick()
                before = app.poll_count.get(view_name, 0)
                app.poll_now(view_name)
                await _wait(lambda v=view_name, b=before: app.poll_count.get(v, 0) > b)
                fetched = view.last_fetch
                assert fetched is not None
                build.append(fetched.cost - source.last_ping)
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
                "build": build,
                "apply": apply,
                "paint": paint,
                "key": keys,
                "key_cpu": cpu,
                "key_busy": busy,
            }
        switch = []
        for _ in range(3):
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


def report(ours: dict[str, Any], base: dict[str, Any]) -> int:
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
    rows: list[tuple[str, float, float | None]] = [
        ("handler work per tick (commit+paint), 100k connections", conn_handler, 100),
        (
            "worker work per tick (build+diff+sort), 100k connections",
            _median_ms(conns["build"]),
            None,
        ),
        ("key response, 100k connections (median)", _median_ms(conns["key"]), 100),
        ("key response during a refresh, 100k (p95)", _p95_ms(conns["key_busy"]), 100),
        ("view switch until painted (median)", _median_ms(ours["switch"]), 100),
        ("memory added by natsops (MB)", ours["rss_share"], RSS_TARGET_MB),
    ]
    print(f"\n{'target':<58} {'measured':>9} {'limit':>7}  result")
    failed = 0
    for label, value, limit in rows:
        if limit is None:
            verdict, limit_text = "info", "-"
        else:
            ok = value <= limit
            failed += not ok
            verdict, limit_text = ("pass" if ok else "FAIL"), f"{limit:.0f}"
        print(f"{label:<58} {value:>9.1f} {limit_text:>7}  {verdict}")
    return 1 if failed else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--connections", type=int, default=100_000)
    parser.add_argument("--streams", type=int, default=10_000)
    parser.add_argument("--servers", type=int, default=50)
    parser.add_argument("--ticks", type=int, default=5)
    parser.add_argument("--keys", type=int, default=30)
    parser.add_argument("--baseline-rows", type=int, default=10_000)
    args = parser.parse_args()
    t0 = time.perf_counter()
    base = asyncio.run(bench_baseline(args))
    ours = asyncio.run(bench_natsops(args))
    code = report(ours, base)
    print(f"\n(total {time.perf_counter() - t0:.1f} s)")
    return code


if __name__ == "__main__":
    raise SystemExit(main())
