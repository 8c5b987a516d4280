"""Fan-out completion of the natsops collector against the ways other tools decide
they are done, on real local servers, all measured in the same run.

Starts a 3-node cluster and a 2x3 supercluster (``natsops.harness``) and, round after
round, times the same ``$SYS.REQ.SERVER.PING.STATSZ`` request collected by:

* natsops: :class:`natsops.fanout.Collector` with a roster, done when every expected
  server has answered;
* the floor: a bare nats-py subscriber timing each reply; the slowest server's
  reply time is the least any collector can take;
* a 300 ms silence rule (natscli: stop 300 ms after the last reply);
* a wait-for-timeout rule (stop at a fixed timeout, 2 s by default).

Then, with one server stopped, it checks that natsops is done within 500 ms and
names the missing server (with a roster, and on a first run without one), and it
opens 10,000 raw client connections on one server (operator mode: each sends a
signed CONNECT) to time the paged CONNZ collection and the parse. Prints medians and
p95 and a table of targets, measured values and pass/fail. Run with
``/work/venv/bin/python benchmarks/fanout.py [--repeat N]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import resource
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nats
from nats.aio.client import Client

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from natsops.creds import read_creds
from natsops.fanout import Collector, PingFilter
from natsops.harness import Deployment
from natsops.model.conns import parse_connz
from natsops.model.views import aggregate_connections, sort_connections

log = logging.getLogger("bench.fanout")

SUBJECT = "$SYS.REQ.SERVER.PING.STATSZ"
SILENCE = 0.3
STOPPED_TARGET = 0.5
FLOOR_FACTOR = 2.0
SILENCE_FACTOR = 50.0


# ------------------------------------------------------------------- statistics


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def p95(values: list[float]) -> float:
    """Nearest-rank 95th percentile."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, -(-95 * len(ordered) // 100))
    return ordered[rank - 1]


def fmt_ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


@dataclass
class Series:
    """Elapsed times (seconds) of one way of collecting, with reply counts."""

    name: str
    times: list[float] = field(default_factory=list)
    replies: list[int] = field(default_factory=list)

    def add(self, elapsed: float, count: int) -> None:
        self.times.append(elapsed)
        self.replies.append(count)

    @property
    def med(self) -> float:
        return median(self.times)

    @property
    def p95(self) -> float:
        return p95(self.times)


@dataclass
class Check:
    """One target with what was measured."""

    target: str
    measured: str
    passed: bool | None  # None: reported, no target


# ---------------------------------------------------------------- raw baselines


async def raw_collect(
    nc: Client, want: int, *, silence: float | None, deadline: float
) -> tuple[float, float, int]:
    """Publish once and collect replies with a bare subscriber.

    Stops at ``want`` replies when ``silence`` is None and ``want`` > 0 (the floor),
    after ``silence`` seconds without a reply (natscli's rule), or at ``deadline``
    (the timeout rule, ``want`` 0 and ``silence`` None). Returns the time of the
    last reply, the total time and the reply count.
    """
    inbox = nc.new_inbox()
    arrivals: list[float] = []
    changed = asyncio.Event()
    t0 = time.perf_counter()

    async def on_msg(_msg: Any) -> None:
        arrivals.append(time.perf_counter())
        changed.set()

    sub = await nc.subscribe(inbox, cb=on_msg)
    await nc.publish(SUBJECT, b"", reply=inbox)
    end = t0 + deadline
    while True:
        now = time.perf_counter()
        if silence is None and want and len(arrivals) >= want:
            break
        stop = end
        if silence is not None and arrivals:
            stop = min(end, arrivals[-1] + silence)
        if now >= stop:
            break
        changed.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(changed.wait(), stop - now)
    total = time.perf_counter() - t0
    await sub.unsubscribe()
    last = (arrivals[-1] - t0) if arrivals else total
    return last, total, len(arrivals)


# ------------------------------------------------------------------- scenarios


async def connect_system(dep: Deployment, url: str | None = None) -> Client:
    return await nats.connect(
        servers=[url] if url else dep.urls,
        user_credentials=dep.sys_user.creds,
        connect_timeout=5,
        max_reconnect_attempts=5,
        name="bench-fanout",
    )


async def all_answer(
    dep: Deployment, label: str, repeat: int, timeout_rule: float, timeout_rounds: int
) -> tuple[dict[str, Series], list[Check]]:
    """Every server answers: natsops vs floor vs silence vs timeout."""
    want = len(dep.servers)
    nc = await connect_system(dep)
    collector = Collector(nc)
    await collector.discover()
    series = {k: Series(k) for k in ("natsops", "floor", "silence", "timeout")}
    try:
        for _ in range(3):  # warm up the connection and the servers
            await collector.ping("STATSZ")
            await raw_collect(nc, want, silence=None, deadline=2)
        for i in range(repeat):
            # Alternate which goes first, so neither always meets warmer servers.
            if i % 2:
                last, _total, n = await raw_collect(nc, want, silence=None, deadline=5)
                series["floor"].add(last, n)
            t0 = time.perf_counter()
            result = await collector.ping("STATSZ", timeout=5)
            series["natsops"].add(time.perf_counter() - t0, len(result.replies))
            if not i % 2:
                last, _total, n = await raw_collect(nc, want, silence=None, deadline=5)
                series["floor"].add(last, n)
            _last, total, n = await raw_collect(nc, 0, silence=SILENCE, deadline=5)
            series["silence"].add(total, n)
        for _ in range(timeout_rounds):
            _last, total, n = await raw_collect(
                nc, 0, silence=None, deadline=timeout_rule
            )
            series["timeout"].add(total, n)
    finally:
        await collector.close()
        await nc.close()

    ours, floor = series["natsops"], series["floor"]
    complete = all(n == want for n in ours.replies)
    checks = [
        Check(
            f"{label}: every reply collected ({want} servers, {repeat} rounds)",
            f"{sum(n == want for n in ours.replies)}/{repeat} complete",
            complete,
        ),
        Check(
            f"{label}: natsops within {FLOOR_FACTOR:g}x the floor (median)",
            f"{ours.med / floor.med:.2f}x ({fmt_ms(ours.med)} vs {fmt_ms(floor.med)})",
            ours.med <= FLOOR_FACTOR * floor.med,
        ),
        Check(
            f"{label}: natsops within {FLOOR_FACTOR:g}x the floor (p95)",
            f"{ours.p95 / floor.p95:.2f}x ({fmt_ms(ours.p95)} vs {fmt_ms(floor.p95)})",
            None,
        ),
        Check(
            f"{label}: >= {SILENCE_FACTOR:g}x faster than a 300 ms silence (median)",
            f"{series['silence'].med / ours.med:.0f}x",
            series["silence"].med >= SILENCE_FACTOR * ours.med,
        ),
        Check(
            f"{label}: vs a {timeout_rule:g} s timeout (median)",
            f"{series['timeout'].med / ours.med:.0f}x faster",
            None,
        ),
    ]
    return series, checks


async def one_stopped(
    dep: Deployment, repeat: int
) -> tuple[dict[str, Series], list[Check]]:
    """One server killed: done within 500 ms with the missing server named."""
    victim = sorted(dep.servers)[-1]
    survivor = dep.servers[sorted(dep.servers)[0]].client_url
    nc = await connect_system(dep, survivor)
    known = Collector(nc)
    await known.discover()
    dep.servers[victim].kill()
    # Until the survivors' routes and gateways have reconnected around the dead
    # server, some of them cannot be reached either: wait for that (bounded) and
    # report how long it took, then measure the steady state.
    t0 = time.perf_counter()
    alive = len(dep.servers) - 1
    while True:
        _last, _total, n = await raw_collect(nc, alive, silence=None, deadline=0.5)
        if n >= alive or time.perf_counter() - t0 > 30:
            break
    settled = time.perf_counter() - t0
    series = {"roster": Series("roster"), "first run": Series("first run")}
    named_known = named_fresh = 0
    try:
        for _ in range(repeat):
            t0 = time.perf_counter()
            result = await known.ping("STATSZ", timeout=5)
            series["roster"].add(time.perf_counter() - t0, len(result.replies))
            named_known += result.missing == [victim]

            fresh = Collector(nc)
            t0 = time.perf_counter()
            found = await fresh.discover(timeout=5)
            series["first run"].add(time.perf_counter() - t0, len(found.replies))
            named_fresh += found.missing == [victim]
            await fresh.close()
    finally:
        await known.close()
        await nc.close()
    checks = [
        Check(
            f"one of {len(dep.servers)} stopped: every survivor reachable again",
            f"after {settled * 1000:.0f} ms",
            n >= alive,
        )
    ]
    for key, named, what in (
        ("roster", named_known, "STATSZ with a roster"),
        ("first run", named_fresh, "first run (discover: STATSZ + JSZ)"),
    ):
        s = series[key]
        checks.append(
            Check(
                f"one of {len(dep.servers)} stopped, {what}: <= 500 ms, named (p95)",
                f"{fmt_ms(s.p95)} p95, {fmt_ms(s.med)} median; "
                f"named {victim} {named}/{repeat}",
                s.p95 <= STOPPED_TARGET and named == repeat,
            )
        )
    return series, checks


# ------------------------------------------------------------- 10,000 conns


async def open_raw_clients(
    host: str, port: int, creds_path: Path, count: int, concurrency: int = 64
) -> list[tuple[asyncio.StreamWriter, asyncio.Task[None]]]:
    """Open ``count`` client connections speaking the NATS protocol directly: read
    INFO, send a CONNECT with the user JWT and the signed nonce, PING, wait PONG.
    Each keeps a small reader that answers the server's PINGs."""
    cred = read_creds(creds_path)
    gate = asyncio.Semaphore(concurrency)
    out: list[tuple[asyncio.StreamWriter, asyncio.Task[None]]] = []

    async def keep(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(Exception):
            while line := await reader.readline():
                if line.startswith(b"PING"):
                    writer.write(b"PONG\r\n")

    async def one(i: int) -> None:
        async with gate:
            reader, writer = await asyncio.open_connection(host, port, limit=1 << 20)
            info = json.loads((await reader.readline())[5:])
            connect = {
                "verbose": False,
                "pedantic": False,
                "protocol": 1,
                "lang": "raw",
                "version": "0",
                "name": f"bench-{i}",
                "jwt": cred.jwt,
                "sig": cred.sign(info["nonce"]).decode(),
            }
            writer.write(b"CONNECT " + json.dumps(connect).encode() + b"\r\nPING\r\n")
            await writer.drain()
            while True:
                line = await asyncio.wait_for(reader.readline(), 10)
                if line.startswith(b"PONG"):
                    break
                if not line or line.startswith(b"-ERR"):
                    raise RuntimeError(f"connection {i} refused: {line!r}")
            out.append((writer, asyncio.create_task(keep(reader, writer))))

    await asyncio.gather(*(one(i) for i in range(count)))
    return out


async def many_connections(dep: Deployment, count: int) -> list[Check]:
    """Paged CONNZ collection and parse time with ``count`` connections on one
    server, against one unpaged request for the same connections."""
    target = dep.servers[sorted(dep.servers)[0]]
    t0 = time.perf_counter()
    clients = await open_raw_clients(
        "127.0.0.1", target.port, dep.app_user.creds_path, count
    )
    opened = time.perf_counter() - t0
    nc = await connect_system(dep, target.client_url)
    collector = Collector(nc)
    await collector.discover()
    flt = PingFilter(server_name=target.name, exact=True)
    body = {"acc": dep.accounts["APP"].public_key}
    checks: list[Check] = []
    try:
        collect, parse, sort = [], [], []
        for _ in range(5):
            t0 = time.perf_counter()
            result = await collector.paged(
                "CONNZ", body, "connections", flt=flt, page_size=1024, timeout=10
            )
            collect.append(time.perf_counter() - t0)
            data = result.replies[target.name].data or {}
            t0 = time.perf_counter()
            page = parse_connz(data, target.name)
            parse.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            sort_connections(aggregate_connections({target.name: page}), "msgs_to")
            sort.append(time.perf_counter() - t0)
        got = len(page.connections)

        single = []
        for _ in range(5):
            t0 = time.perf_counter()
            one = await collector.ping(
                "CONNZ", {**body, "limit": count + 100}, flt, timeout=10
            )
            single.append(time.perf_counter() - t0)
        single_got = len((one.replies[target.name].data or {}).get("connections", []))

        lookups = []
        for _ in range(5):
            t0 = time.perf_counter()
            await collector.server_id(target.name)
            lookups.append(time.perf_counter() - t0)
    finally:
        await collector.close()
        await nc.close()
        for writer, task in clients:
            task.cancel()
            writer.close()
    pages = -(-got // 1024)
    checks += [
        Check(
            f"CONNZ, {count:,} connections on {target.name}: all collected",
            f"{got:,} of {page.total:,} in {pages} pages (opened in {opened:.1f} s)",
            got == page.total >= count,
        ),
        Check(
            "  paged collection (fan-out + per-server pages), median of 5",
            f"{fmt_ms(median(collect))} (p95 {fmt_ms(p95(collect))})",
            None,
        ),
        Check(
            "  one unpaged request for the same (baseline), median of 5",
            f"{fmt_ms(median(single))} ({single_got:,} connections)",
            None,
        ),
        Check(
            "  server id lookup (IDZ, done before each further page), median of 5",
            f"{fmt_ms(median(lookups))}",
            None,
        ),
        Check(
            "  parse (natsops.model.parse_connz), median of 5",
            f"{fmt_ms(median(parse))}",
            None,
        ),
        Check(
            "  aggregate + sort by msgs_to, median of 5",
            f"{fmt_ms(median(sort))}",
            None,
        ),
    ]
    return checks


# ----------------------------------------------------------------------- output


def print_series(label: str, series: dict[str, Series]) -> None:
    print(f"\n{label}")
    print(f"  {'collector':<22}{'median':>12}{'p95':>12}{'replies':>10}{'rounds':>8}")
    for s in series.values():
        replies = f"{min(s.replies)}-{max(s.replies)}" if s.replies else "-"
        print(
            f"  {s.name:<22}{fmt_ms(s.med):>12}{fmt_ms(s.p95):>12}"
            f"{replies:>10}{len(s.times):>8}"
        )


def print_checks(checks: list[Check]) -> bool:
    width = max(len(c.target) for c in checks) + 2
    mwidth = max(len(c.measured) for c in checks) + 2
    print(f"\n{'target':<{width}}{'measured':<{mwidth}}result")
    print("-" * (width + mwidth + 8))
    ok = True
    for c in checks:
        result = "-" if c.passed is None else ("pass" if c.passed else "FAIL")
        ok = ok and c.passed is not False
        print(f"{c.target:<{width}}{c.measured:<{mwidth}}{result}")
    return ok


def raise_fd_limit(need: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < need <= hard or (hard == resource.RLIM_INFINITY and soft < need):
        resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < need:
        raise SystemExit(
            f"need {need} open files for the CONNZ part, the limit is {soft}: "
            "raise it (ulimit -n) or pass --connections with a smaller number"
        )


async def run_with(
    clusters: list[tuple[str, int]], work: Callable[[Deployment], Awaitable[Any]]
) -> Any:
    dep = await asyncio.to_thread(Deployment.start, None, clusters)
    try:
        return await work(dep)
    finally:
        await asyncio.to_thread(dep.close)


async def main(args: argparse.Namespace) -> int:
    if args.connections:
        raise_fd_limit(args.connections + 512)  # servers inherit the limit
    checks: list[Check] = []
    print(
        f"natsops fan-out benchmark: {args.repeat} rounds per case, "
        f"{os.cpu_count()} cores, load average "
        + " ".join(f"{x:.1f}" for x in os.getloadavg())
    )

    async def cluster_work(dep: Deployment) -> None:
        series, found = await all_answer(
            dep, "3-node", args.repeat, args.timeout_rule, args.timeout_rounds
        )
        print_series("3-node cluster, STATSZ, every server answers", series)
        checks.extend(found)
        series, found = await one_stopped(dep, args.repeat)
        print_series("3-node cluster, STATSZ, one server stopped", series)
        checks.extend(found)

    async def super_work(dep: Deployment) -> None:
        series, found = await all_answer(
            dep, "2x3", args.repeat, args.timeout_rule, args.timeout_rounds
        )
        print_series("2x3 supercluster, STATSZ, every server answers", series)
        checks.extend(found)
        series, found = await one_stopped(dep, args.repeat)
        print_series("2x3 supercluster, STATSZ, one server stopped", series)
        checks.extend(found)

    async def connz_work(dep: Deployment) -> None:
        checks.extend(await many_connections(dep, args.connections))

    await run_with([("c1", 3)], cluster_work)
    await run_with([("c1", 3), ("c2", 3)], super_work)
    if args.connections:
        await run_with([("c1", 3)], connz_work)
    ok = print_checks(checks)
    return 0 if ok else 1


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeat", type=int, default=30, help="rounds per case")
    p.add_argument(
        "--timeout-rule", type=float, default=2.0, help="seconds of the timeout rule"
    )
    p.add_argument(
        "--timeout-rounds",
        type=int,
        default=3,
        help="rounds of the timeout rule (each takes the full timeout)",
    )
    p.add_argument(
        "--connections", type=int, default=10_000, help="0 skips the CONNZ part"
    )
    return p.parse_args()


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    raise SystemExit(asyncio.run(main(parse_args())))
