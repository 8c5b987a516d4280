"""Parse cost of CONNZ and JSZ replies against a bare ``json.loads`` of the same bytes.

CONNZ: a synthetic 10,000-connection reply shaped like nats-server 2.15's; prints,
best of several runs, the decode time, the parse time of the decoded data (and its
ratio to the decode), the tolerant path for comparison, and the refresh work of
aggregating and sorting 100,000 connections from 200 servers.

JSZ: the replies of ``benchmarks/fleet.py``'s simulated fleet (200 servers, 10,000 R3
streams, so 30,000 stream replicas, with ``accounts``, ``streams`` and ``config``);
prints, median and best of several interleaved runs, the decode, ``parse_jsz`` on the
tolerant path alone (how every replica was read before the fast path) and on the fast
path, ``stream_rows`` as it was and as it is, and a whole refresh (decode, parse,
rows) repeated as the dashboard does it, each with its ratio to the decode. The
cyclic garbage collector runs as in any process; the parse is also timed with it off,
to show its share. Exit status 1 when a JSZ target fails.

Run with ``/work/venv/bin/python benchmarks/model_parse.py`` (``--help`` for sizes).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from natsops.model import (
    Jsz,
    StreamInfo,
    aggregate_connections,
    parse_connz,
    parse_jsz,
    sort_connections,
    stream_rows,
    top_connections,
)
from natsops.model import jetstream as jetstream_model
from natsops.model.conns import _connection_tolerant
from natsops.model.views import (
    ReplicaRow,
    StreamRow,
    _matches_account,
    _move,
    _peer_ids,
    _pick,
    _values,
)

#: Targets of the JSZ section (CPU work, the garbage collector off), as ratios to
#: ``json.loads`` of the same replies and to the tolerant path.
PARSE_TARGET = 1.5  # parse_jsz on the fast path: at most 1.5x the decode
SPEEDUP_TARGET = 2.0  # ... and at least twice as fast as the tolerant path
ROWS_TARGET = 1.0  # stream_rows: at most the decode

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


def connz_section() -> None:
    """CONNZ: one large reply, then 100,000 connections from 200 servers."""
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


# --------------------------------------------------------------------------- JSZ


def replicas_before(
    best: StreamInfo,
    hosts: Iterable[str],
    leader: str,
    peer_ids: Mapping[str, str],
) -> list[ReplicaRow]:
    """``natsops.model.views._replicas`` as it was: the rows' baseline."""
    reported = set(hosts)
    rows: dict[str, ReplicaRow] = {}
    if leader:
        rows[leader] = ReplicaRow(name=leader, leader=True, current=True)
    for p in best.cluster.replicas:
        name = p.name or p.peer
        if name in rows:
            continue
        rows[name] = ReplicaRow(
            name=name,
            peer=p.peer,
            current=p.current,
            offline=p.offline,
            lag=p.lag,
            active=p.active,
            pending=p.pending,
        )
    if best.server and best.server not in rows:
        # The reporting server hosts a replica too, though it never lists itself.
        rows[best.server] = ReplicaRow(name=best.server)
    for name in reported:
        rows.setdefault(name, ReplicaRow(name=name))
    for row in rows.values():
        row.reported = row.name in reported
        if not row.peer:
            row.peer = peer_ids.get(row.name, "")
    return sorted(rows.values(), key=lambda r: (not r.leader, r.name))


def stream_rows_before(
    jsz: Mapping[str, Jsz] | Iterable[Jsz], account: str | None = None
) -> list[StreamRow]:
    """``natsops.model.views.stream_rows`` as it was before its one-pass dedupe:
    every replica's report kept in a list per stream, then picked from, and the
    replica rows built as :func:`replicas_before` did. The rows' baseline."""
    groups: dict[tuple[str, str], list[StreamInfo]] = {}
    replies = _values(jsz)
    for reply in replies:
        for info in reply.iter_streams():
            if _matches_account(info, account):
                groups.setdefault((info.account_id, info.name), []).append(info)
    peer_ids = _peer_ids(replies)
    rows: list[StreamRow] = []
    for (account_id, name), views in groups.items():
        best: StreamInfo = _pick(views, lambda v: v.cluster.leader)
        leader = best.cluster.leader
        hosts = sorted({v.server for v in views if v.server})
        if not leader and len(hosts) == 1 and not best.cluster.name:
            leader = hosts[0]
        move = next((v.cluster.desired for v in views if v.cluster.desired), None)
        if best.cluster.desired is not None:
            move = best.cluster.desired
        rows.append(
            StreamRow(
                account=best.account,
                account_id=account_id,
                name=name,
                cluster=best.cluster.name,
                leader=leader,
                leader_since=best.cluster.leader_since,
                num_replicas=best.num_replicas,
                replicas=replicas_before(best, hosts, leader, peer_ids),
                placement_cluster=best.placement.cluster,
                placement_tags=list(best.placement.tags),
                storage=best.storage,
                retention=best.retention,
                subjects=list(best.subjects),
                messages=best.state.messages,
                bytes=best.state.bytes,
                first_seq=best.state.first_seq,
                last_seq=best.state.last_seq,
                consumers=best.state.consumer_count,
                created=best.created,
                move=_move(move),
                hosts=hosts,
                authoritative=bool(leader) and best.server == leader,
                info=best,
            )
        )
    rows.sort(key=lambda r: (r.account, r.name, r.account_id))
    return rows


@contextlib.contextmanager
def tolerant_only() -> Iterator[None]:
    """Route every stream replica through the tolerant path (the old parser)."""
    saved = jetstream_model._stream_fast
    jetstream_model._stream_fast = lambda *args: None  # type: ignore[assignment]
    try:
        yield
    finally:
        jetstream_model._stream_fast = saved  # type: ignore[assignment]


def fleet_replies(servers: int, streams: int) -> dict[str, bytes]:
    """JSZ envelopes of the simulated fleet, as the servers send them."""
    from fleet import Fleet

    accounts = [
        "AA2UM4ETU3EWYUYUN33DVICLM4JZRFV2KYM2SRIN4BFT2WK7TD6TVL6R",
        "ABJ4VZOQLWYQOTMNYKNRJ4NAVWBSZSBHWRN7LBMLVP3L7ZCBNYFRFUGQ",
    ]
    fleet = Fleet(servers, 0, streams, accounts)
    body = {"accounts": True, "streams": True, "config": True}
    return {s.name: fleet.jsz(s, body) for s in fleet.servers}


def timed(cases: dict[str, Callable[[], object]], runs: int) -> dict[str, list[float]]:
    """Every case ``runs`` times, interleaved (each round in a rotated order) so
    that a busy machine slows them alike. A collection before each run (not timed)
    makes every run pay for the collections its own allocations cause, not for
    garbage left by the case before."""
    times: dict[str, list[float]] = {name: [] for name in cases}
    names = list(cases)
    for i in range(runs):
        order = names[i % len(names) :] + names[: i % len(names)]
        for name in order:
            gc.collect()
            start = time.perf_counter()
            result = cases[name]()
            times[name].append(time.perf_counter() - start)
            del result
    return times


def jsz_section(servers: int, streams: int, runs: int) -> bool:
    """JSZ of a fleet: decode, parse before/after, rows before/after, a refresh."""
    raw = fleet_replies(servers, streams)
    size = sum(map(len, raw.values()))
    envelopes = {name: json.loads(body) for name, body in raw.items()}
    data = {name: env["data"] for name, env in envelopes.items()}
    parsed = {name: parse_jsz(block, name) for name, block in data.items()}
    replicas = sum(len(j.iter_streams()) for j in parsed.values())

    # Both paths and both row builders must agree before their times mean anything.
    with tolerant_only():
        before = {name: parse_jsz(block, name) for name, block in data.items()}
    assert before == parsed, "the fast and tolerant paths disagree"
    rows = stream_rows(parsed)
    assert rows == stream_rows_before(parsed), "the row builders disagree"
    count = len(rows)
    del before, envelopes, rows  # keep only what a dashboard holds: replies, models

    def decode() -> object:
        return [json.loads(body) for body in raw.values()]

    def parse_fast() -> object:
        return [parse_jsz(block, name) for name, block in data.items()]

    def parse_tolerant() -> object:
        with tolerant_only():
            return [parse_jsz(block, name) for name, block in data.items()]

    def refresh_after() -> object:
        docs = {n: json.loads(b)["data"] for n, b in raw.items()}
        return stream_rows({n: parse_jsz(d, n) for n, d in docs.items()})

    def refresh_before() -> object:
        docs = {n: json.loads(b)["data"] for n, b in raw.items()}
        with tolerant_only():
            models = {n: parse_jsz(d, n) for n, d in docs.items()}
        return stream_rows_before(models)

    cases: dict[str, Callable[[], object]] = {
        "decode": decode,
        "parse tolerant (before)": parse_tolerant,
        "parse fast (after)": parse_fast,
        "rows (before)": lambda: stream_rows_before(parsed),
        "rows (after)": lambda: stream_rows(parsed),
        "refresh (before)": refresh_before,
        "refresh (after)": refresh_after,
    }
    gc.disable()
    try:
        quiet = timed(cases, runs)
    finally:
        gc.enable()
    busy = timed(cases, runs)

    def med(times: dict[str, list[float]], name: str) -> float:
        return statistics.median(times[name])

    print(
        f"JSZ of {servers} servers: {count:,} streams, {replicas:,} replicas, "
        f"{size / 1e6:.1f} MB of JSON; median of {runs} interleaved runs"
    )
    print(f"  {'':26}{'GC off':>9}{'/ decode':>10}{'GC on':>11}{'/ decode':>10}")
    for name in cases:
        off, on = med(quiet, name), med(busy, name)
        print(
            f"  {name:<26}{off * 1e3:7.0f}ms{off / med(quiet, 'decode'):9.2f}x"
            f"{on * 1e3:9.0f}ms{on / med(busy, 'decode'):9.2f}x"
        )
    print("  after vs before (GC off / GC on):")
    for label, old, new in (
        ("parse_jsz", "parse tolerant (before)", "parse fast (after)"),
        ("stream_rows", "rows (before)", "rows (after)"),
        ("refresh", "refresh (before)", "refresh (after)"),
    ):
        print(
            f"    {label:<12} {med(quiet, old) / med(quiet, new):5.2f}x / "
            f"{med(busy, old) / med(busy, new):5.2f}x faster"
        )

    decode_off = med(quiet, "decode")
    parse_ratio = med(quiet, "parse fast (after)") / decode_off
    speedup = med(quiet, "parse tolerant (before)") / med(quiet, "parse fast (after)")
    rows_ratio = med(quiet, "rows (after)") / decode_off
    checks = [
        ("parse_jsz / json.loads (GC off)", parse_ratio, f"<= {PARSE_TARGET:g}x"),
        ("parse_jsz, tolerant / fast (GC off)", speedup, f">= {SPEEDUP_TARGET:g}x"),
        ("stream_rows / json.loads (GC off)", rows_ratio, f"<= {ROWS_TARGET:g}x"),
    ]
    results = [
        parse_ratio <= PARSE_TARGET,
        speedup >= SPEEDUP_TARGET,
        rows_ratio <= ROWS_TARGET,
    ]
    print(f"  {'measure':<40}{'target':>9}{'measured':>10}  result")
    for (label, value, target), passed in zip(checks, results, strict=True):
        print(f"  {label:<40}{target:>9}{value:9.2f}x  {'pass' if passed else 'FAIL'}")
    return all(results)


def main() -> int:
    """Measure and print."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=("connz", "jsz"), help="one section only")
    parser.add_argument("--servers", type=int, default=200, help="JSZ: servers")
    parser.add_argument("--streams", type=int, default=10_000, help="JSZ: R3 streams")
    parser.add_argument("--runs", type=int, default=5, help="JSZ: runs per case")
    args = parser.parse_args()
    ok = True
    if args.only in (None, "connz"):
        connz_section()
    if args.only in (None, "jsz"):
        ok = jsz_section(args.servers, args.streams, max(1, args.runs))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
