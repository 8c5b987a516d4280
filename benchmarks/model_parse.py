"""Parse cost of CONNZ replies against a bare ``json.loads`` of the same bytes.

Builds a synthetic 10,000-connection CONNZ reply shaped like nats-server 2.15's, then
prints, best of several runs: the decode time, the parse time of the decoded data
(and its ratio to the decode), the tolerant path for comparison, and the refresh work
of aggregating and sorting 100,000 connections from 200 servers. Run with
``/work/venv/bin/python benchmarks/model_parse.py``.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from natsops.model import (
    aggregate_connections,
    parse_connz,
    sort_connections,
    top_connections,
)
from natsops.model.conns import _connection_tolerant

ACCOUNT = "AA2UM4ETU3EWYUYUN33DVICLM4JZRFV2KYM2SRIN4BFT2WK7TD6TVL6R"
USER = "UD6RBL6DOJSO2AFAL73DNRBBUZAXO7AHAB7MFKOT7P773G4S7Q5FS2SZ"


def connection(i: int) -> dict[str, Any]:
    """One client connection as CONNZ with ``auth`` reports it."""
    return {
        "cid": i + 10,
        "kind": "Client",
        "type": "nats",
        "ip": f"10.0.{i // 250 % 250}.{i % 250}",
        "port": 40000 + i % 20000,
        "start": f"2026-12-03T20:{i // 60 % 60:02d}:{i % 60:02d}.{7 * i % 10**9}Z",
        "last_activity": f"2026-12-03T21:00:{i % 60:02d}.{13 * i % 10**9:09d}Z",
        "rtt": f"{i % 5}.{i % 1000:03d}ms" if i % 3 else f"{100 + i % 900}µs",
        "uptime": f"{i % 60}m{i % 60}s",
        "idle": f"{i % 30}s",
        "pending_bytes": i % 7,
        "in_msgs": i * 31,
        "out_msgs": i * 17,
        "in_bytes": i * 3100,
        "out_bytes": i * 1700,
        "subscriptions": i % 12,
        "name": f"worker-{i}",
        "lang": "python3",
        "version": "2.16.0",
        "account": ACCOUNT,
        "authorized_user": USER,
        "name_tag": "APP",
    }


def connz(count: int, offset: int = 0) -> dict[str, Any]:
    """A CONNZ data block with ``count`` connections."""
    return {
        "server_id": "NDJLE5ZP5WPIU44MLWE2XDURHABHLZIJRD7MW5MCMIRP47LBESFGPAOX",
        "now": "2026-12-03T21:00:30.123456789Z",
        "num_connections": count,
        "total": count,
        "offset": 0,
        "limit": count,
        "connections": [connection(offset + i) for i in range(count)],
    }


def best(func: Callable[[], object], runs: int = 7) -> float:
    """The fastest of ``runs`` timings of ``func``, in seconds."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> int:
    """Measure and print."""
    raw = json.dumps(connz(10_000)).encode()
    data = json.loads(raw)
    decode = best(lambda: json.loads(raw))
    parse = best(lambda: parse_connz(data, "c1-n1"))
    tolerant = best(
        lambda: [_connection_tolerant(c, "c1-n1") for c in data["connections"]]
    )
    print(f"CONNZ 10,000 connections, {len(raw) / 1e6:.1f} MB of JSON")
    print(f"  json.loads (baseline)     {decode * 1e3:8.1f} ms")
    print(
        f"  parse_connz (fast path)   {parse * 1e3:8.1f} ms"
        f"   {parse / decode:5.2f}x json.loads"
        f"   {parse / 10_000 * 1e6:5.2f} µs/connection"
    )
    print(
        f"  tolerant path only        {tolerant * 1e3:8.1f} ms"
        f"   {tolerant / decode:5.2f}x json.loads"
    )

    pages = [connz(500, offset=s * 500) for s in range(200)]
    blocks = {f"s{s:03d}": page for s, page in enumerate(pages)}
    encoded = [json.dumps(p).encode() for p in pages]
    decoded_all = best(lambda: [json.loads(b) for b in encoded], 3)
    parsed = {name: parse_connz(block, name) for name, block in blocks.items()}
    parse_all = best(lambda: [parse_connz(b, n) for n, b in blocks.items()], 3)
    agg = best(lambda: aggregate_connections(parsed), 5)
    conns = aggregate_connections(parsed)
    print("100,000 connections from 200 servers (500 each)")
    print(f"  json.loads x200           {decoded_all * 1e3:8.1f} ms")
    print(
        f"  parse_connz x200          {parse_all * 1e3:8.1f} ms"
        f"   {parse_all / decoded_all:5.2f}x json.loads"
    )
    print(f"  aggregate_connections     {agg * 1e3:8.1f} ms")
    for key in ("msgs_to", "idle", "rtt", "start"):
        sort = best(lambda key=key: sort_connections(conns, key), 3)
        top = best(lambda key=key: top_connections(conns, key, 50), 3)
        print(
            f"  sort by {key:<8}          {sort * 1e3:8.1f} ms"
            f"   top 50: {top * 1e3:6.1f} ms"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
