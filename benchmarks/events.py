"""Event ingestion of natsops against baselines measured in the same run.

Four parts, each printed with its figures:

* ingest: the same synthetic storm (connect and disconnect events in the exact layout
  nats-server 2.15.1 writes, user JWTs included) parsed, classified, counted and
  buffered by :class:`natsops.events.EventStore`, against a bare ``json.loads`` loop
  over the same bytes;
* memory: tracemalloc and RSS after 100,000 and after 1,000,000 events into a store
  of 10,000 (bounded means the second is not larger than the first);
* live: a real nats-server (``natsops.harness``) receives events from a publisher
  process at rising rates while an :class:`natsops.events.EventFeed` subscribes; for
  each rate: events ingested per second, dropped, the largest backlog;
* RichLog baseline: the same events written one by one into a Textual ``RichLog`` in
  a headless app, the naive dashboard design the batched store replaces.

Dashboard key response during a storm is measured by the dashboard's own benchmark:
it can drive a storm with :func:`natsops.events.samples.push_storm` (in-process) or
:func:`natsops.events.samples.publish_storm` (through a server).

Run with ``/work/venv/bin/python benchmarks/events.py [--quick]``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from natsops.events import EventFeed, EventStore
from natsops.events.samples import SAMPLES, StormMaker, encode

TARGET_RATE = 50_000
#: Most events a second the publisher prepares for an unpaced round.
PUBLISHER_CEILING = 150_000


def _rss_mib() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def _best_of(fns: dict[str, Callable[[], Any]], repeat: int) -> dict[str, float]:
    """Best time of each function, the runs interleaved so load changes on this
    shared machine hit every contender alike."""
    best = dict.fromkeys(fns, float("inf"))
    for _ in range(repeat):
        for name, fn in fns.items():
            gc.collect()
            t = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - t)
    return best


# -- ingest -------------------------------------------------------------------


def _mixed(count: int) -> list[tuple[str, bytes, str]]:
    """A storm with one in ten events from the other recorded kinds."""
    storm = StormMaker(servers=6).make(count)
    others = [
        (s, encode(doc), src)
        for name, (s, src, doc) in sorted(SAMPLES.items())
        if name not in ("connect", "disconnect")
    ]
    for i in range(0, count, 10):
        storm[i] = others[(i // 10) % len(others)]
    return storm


def bench_ingest(count: int, repeat: int) -> dict[str, float]:
    results: dict[str, float] = {}
    for label, messages in (
        ("storm", StormMaker(servers=6).make(count)),
        ("mixed", _mixed(count)),
    ):
        size = sum(len(p) for _s, p, _src in messages) / len(messages)

        def baseline(msgs: list[tuple[str, bytes, str]] = messages) -> None:
            loads = json.loads
            for _s, p, _src in msgs:
                loads(p)

        def natsops(msgs: list[tuple[str, bytes, str]] = messages) -> None:
            EventStore(capacity=10_000).ingest_many(msgs)

        times = _best_of({"baseline": baseline, "natsops": natsops}, repeat)
        base = count / times["baseline"]
        ours = count / times["natsops"]
        results[f"{label}_json_loads"] = base
        results[f"{label}_natsops"] = ours
        print(
            f"  {label:6s} ({size:.0f} B/event): json.loads {base:9,.0f}/s   "
            f"natsops ingest {ours:9,.0f}/s   ratio {ours / base:.2f}x"
        )
    return results


# -- memory -------------------------------------------------------------------


def bench_memory(total: int, capacity: int) -> dict[str, float]:
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    maker = StormMaker(servers=6)
    store = EventStore(capacity=capacity)
    marks: dict[int, float] = {}
    checkpoints = {100_000, total}
    done = 0
    while done < total:
        chunk = maker.make(min(50_000, total - done))
        store.ingest_many(chunk)
        done += len(chunk)
        del chunk
        if done in checkpoints:
            gc.collect()
            marks[done] = (tracemalloc.get_traced_memory()[0] - base) / 1048576
    tracemalloc.stop()
    assert store.seen == total and len(store) == capacity
    small, large = marks[100_000], marks[total]
    print(
        f"  store of {capacity:,}: {small:.1f} MiB after 100,000 events, "
        f"{large:.1f} MiB after {total:,} (RSS {_rss_mib():.0f} MiB); "
        f"counts exact: {store.by_kind}"
    )
    return {"mem_100k": small, "mem_total": large}


# -- live -----------------------------------------------------------------------


def _publisher_main(
    url: str, creds: str, account: str, rate: float, secs: float
) -> None:
    """Child process: publish a storm at ``rate`` for ``secs`` and print the count.

    Speaks the NATS protocol on a plain socket (signed CONNECT, then PUB lines in
    large writes) so the publisher takes as little of the machine as possible.
    """
    import base64
    import math
    import re
    import socket

    import nkeys

    text = Path(creds).read_text()
    jwt_match = re.search(r"BEGIN NATS USER JWT-----\s*(\S+)", text)
    seed_match = re.search(r"BEGIN USER NKEY SEED-----\s*(\S+)", text)
    assert jwt_match and seed_match, "not a creds file"
    host, port = url.removeprefix("nats://").rsplit(":", 1)
    sock = socket.create_connection((host, int(port)))
    reader = sock.makefile("rb")
    info = json.loads(reader.readline()[5:])
    signer = nkeys.from_seed(seed_match.group(1).encode())
    sig = base64.b64encode(signer.sign(info["nonce"].encode())).decode()
    connect = {
        "verbose": False,
        "pedantic": False,
        "jwt": jwt_match.group(1),
        "sig": sig,
        "protocol": 1,
        "name": "natsops-bench-publisher",
        "lang": "python",
        "version": "0",
    }
    sock.sendall(b"CONNECT " + json.dumps(connect).encode() + b"\r\nPING\r\n")
    reply = reader.readline()
    if not reply.startswith(b"PONG"):
        raise SystemExit(f"publisher refused: {reply!r}")

    # Every frame is built before the clock starts, so the publisher's own work
    # (it shares this machine with the server and natsops) stays out of the figures.
    unlimited = math.isinf(rate)
    planned = int((PUBLISHER_CEILING if unlimited else rate) * secs * 1.05) + 1
    frames = []
    for subject, payload, _source in StormMaker(servers=6, account=account).make(
        planned
    ):
        frames.append(
            b"PUB %s %d\r\n%s\r\n" % (subject.encode(), len(payload), payload)
        )
    chunk = 1_000 if unlimited else max(1, int(rate / 100))
    start = time.monotonic()
    sent = 0
    while sent < planned:
        elapsed = time.monotonic() - start
        if elapsed >= secs:
            break
        due = chunk if unlimited else min(int(rate * elapsed) - sent, chunk * 10)
        due = min(due, planned - sent)
        if due <= 0:
            time.sleep(0.002)  # pacing the offered rate, not synchronising
            continue
        sock.sendall(b"".join(frames[sent : sent + due]))
        sent += due
    sock.sendall(b"PING\r\n")
    while not reader.readline().startswith(b"PONG"):
        pass
    sock.close()
    print(json.dumps({"sent": sent}))


async def _live_round(
    dep: Any, user: Any, rate: float, secs: float, bare: bool = False
) -> dict[str, float]:
    """One rate: a publisher process, and natsops's feed (or a bare counter)."""
    import nats

    tag = "MAX" if rate == float("inf") else str(int(rate))
    account = f"BENCH{'BARE' if bare else ''}{tag}"
    subject = f"$SYS.ACCOUNT.{account}.>"
    store = EventStore(capacity=10_000)
    nc = await nats.connect(servers=dep.urls[:1], user_credentials=dep.sys_user.creds)
    feed = EventFeed(store, subjects=[subject])
    bare_count = [0]
    if bare:

        async def count(msg: Any) -> None:
            bare_count[0] += 1

        await nc.subscribe(
            subject,
            cb=count,
            pending_msgs_limit=feed.pending_msgs_limit,
            pending_bytes_limit=feed.pending_bytes_limit,
        )
        await nc.flush()
    else:
        await feed.start(nc)

    def seen() -> int:
        return bare_count[0] if bare else store.seen

    backlog = 0
    first: float | None = None
    last = 0.0
    latest = 0

    def watch() -> None:
        nonlocal first, last, latest
        now_seen = seen()
        if now_seen != latest:
            now = time.monotonic()
            if first is None:
                first = now
            last = now
            latest = now_seen

    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        __file__,
        "--publisher",
        dep.urls[0],
        user.creds,
        account,
        str(rate),
        str(secs),
        stdout=subprocess.PIPE,
    )
    while proc.returncode is None:
        backlog = max(backlog, feed.backlog)
        watch()
        try:
            await asyncio.wait_for(proc.wait(), 0.02)
        except TimeoutError:
            pass
    out = await proc.stdout.read() if proc.stdout else b""
    sent = json.loads(out.decode().strip().splitlines()[-1])["sent"]
    deadline = time.monotonic() + 30
    while seen() + feed.dropped < sent and time.monotonic() < deadline:
        backlog = max(backlog, feed.backlog)
        watch()
        await asyncio.sleep(0.01)
    if not bare:
        await feed.wait_idle(30)
    watch()
    if not bare:
        await feed.stop()
    await nc.close()
    span = (last - first) if first is not None else 0.0
    got = seen()
    return {
        "rate": rate,
        "sent": sent,
        "ingested": got,
        "per_second": got / span if span > 0 else float("nan"),
        "dropped": sent - got,
        "backlog": backlog,
    }


def bench_live(rates: list[float], secs: float) -> tuple[list[dict[str, float]], float]:
    from natsops.harness import Deployment

    dep = Deployment.start(None, [("c1", 1)], jetstream=False)
    try:
        user = dep.make_user("SYS", "bench-publisher")
        floor = asyncio.run(_live_round(dep, user, float("inf"), secs, bare=True))
        print(
            f"  bare nats-py subscriber (the client's own limit): sent "
            f"{floor['sent']:,.0f}, received {floor['ingested']:,.0f} at "
            f"{floor['per_second']:,.0f}/s"
        )
        rows = []
        for rate in rates:
            row = asyncio.run(_live_round(dep, user, rate, secs))
            rows.append(row)
            label = "max" if rate == float("inf") else f"{rate:,.0f}/s"
            print(
                f"  natsops feed, offered {label:>9s}: sent {row['sent']:>8,.0f}, "
                f"ingested {row['ingested']:>8,.0f} at {row['per_second']:>8,.0f}/s, "
                f"dropped {row['dropped']:,.0f}, largest backlog {row['backlog']:,.0f}"
            )
        return rows, floor["per_second"]
    finally:
        dep.close()


# -- RichLog baseline -----------------------------------------------------------


def bench_richlog(count: int) -> float | None:
    """Events per second written one by one into a RichLog (headless Textual)."""
    try:
        from textual.app import App, ComposeResult
        from textual.widgets import RichLog
    except ImportError:
        print("  textual not installed: skipped")
        return None
    from natsops.commands.events import format_line
    from natsops.events import parse_event

    messages = StormMaker(servers=6).make(count)
    result: dict[str, float] = {}

    class LogApp(App[None]):
        def compose(self) -> ComposeResult:
            yield RichLog(max_lines=10_000)

    async def run() -> None:
        app = LogApp()
        async with app.run_test(size=(160, 50)) as pilot:
            log_widget = app.query_one(RichLog)
            await pilot.pause()
            t = time.perf_counter()
            for subject, payload, source in messages:
                ev = parse_event(subject, payload, source)
                log_widget.write(format_line(ev))
            await pilot.pause()
            result["rate"] = count / (time.perf_counter() - t)

    asyncio.run(run())
    print(f"  RichLog, one write per event: {result['rate']:,.0f} events/s")
    return result["rate"]


# -- main -----------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller runs")
    parser.add_argument("--publisher", nargs=5, help=argparse.SUPPRESS)
    parser.add_argument("--skip-live", action="store_true")
    args = parser.parse_args(argv)
    if args.publisher:
        url, creds, account, rate, secs = args.publisher
        _publisher_main(url, creds, account, float(rate), float(secs))
        return 0

    count = 50_000 if args.quick else 100_000
    repeat = 3 if args.quick else 5
    total = 300_000 if args.quick else 1_000_000

    print(f"ingest ({count:,} events, best of {repeat}, interleaved):")
    ingest = bench_ingest(count, repeat)
    print("memory:")
    memory = bench_memory(total, 10_000)
    live: list[dict[str, float]] = []
    floor = 0.0
    if not args.skip_live:
        secs = 2.0 if args.quick else 3.0
        print(f"live, through a real nats-server ({secs:.0f} s per rate):")
        live, floor = bench_live([20_000, 40_000, 60_000, float("inf")], secs)
    print("baseline, RichLog:")
    richlog = bench_richlog(10_000 if args.quick else 30_000)

    print()
    print(f"{'target':44s} {'measured':>22s}  result")
    rows = [
        (
            f"store ingest >= {TARGET_RATE:,}/s (storm)",
            f"{ingest['storm_natsops']:,.0f}/s",
            ingest["storm_natsops"] >= TARGET_RATE,
        ),
        (
            "  vs bare json.loads of the same bytes",
            f"{ingest['storm_natsops'] / ingest['storm_json_loads']:.2f}x",
            None,
        ),
        (
            f"store ingest >= {TARGET_RATE:,}/s (mixed kinds)",
            f"{ingest['mixed_natsops']:,.0f}/s",
            ingest["mixed_natsops"] >= TARGET_RATE,
        ),
        (
            "memory bounded by the buffer (1M vs 100k)",
            f"{memory['mem_total']:.1f} vs {memory['mem_100k']:.1f} MiB",
            memory["mem_total"] <= memory["mem_100k"] * 1.1 + 1,
        ),
    ]
    if live:
        sustained = [r for r in live if r["dropped"] == 0]
        best = max((r["per_second"] for r in sustained), default=0.0)
        rows.append(
            (
                f"live feed >= {TARGET_RATE:,}/s without drops",
                f"{best:,.0f}/s",
                best >= TARGET_RATE,
            )
        )
        rows.append(
            (
                "  vs a bare nats-py subscriber (floor)",
                f"{best / floor:.2f}x of {floor:,.0f}/s" if floor else "n/a",
                None,
            )
        )
    if richlog:
        rows.append(
            (
                "  store ingest vs RichLog write per event",
                f"{ingest['storm_natsops'] / richlog:.1f}x",
                None,
            )
        )
    failed = False
    for name, value, ok in rows:
        verdict = "" if ok is None else ("pass" if ok else "FAIL")
        failed |= ok is False
        print(f"{name:44s} {value:>22s}  {verdict}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
