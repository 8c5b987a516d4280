"""A simulated fleet on a real nats-server: fan-out, aggregation, dashboard, memory.

A child process connects to a real ``nats-server`` as a system user and answers the
``$SYS.REQ.SERVER.PING.*`` requests (and the per-server ``$SYS.REQ.SERVER.<id>.*``
ones) as N virtual servers, with envelopes shaped like the recorded replies in
``tests/fixtures/replies`` (default 200 servers in 10 clusters, 100,000 client
connections, 10,000 R3 streams with one consumer each). The real server answers too,
so every fan-out expects N + 1 servers. CONNZ honours ``sort``, ``offset``,
``limit``, ``cid``, ``acc``, ``user`` and ``state`` as nats-server does, so the
dashboard's top-N Connections path is what gets measured. This process then
measures, in one run:

* fan-out completion (``natsops.fanout.Collector``) for STATSZ, CONNZ and JSZ, against
  the floor (the slowest server's own reply time in the same round) and natscli's
  rule (300 ms of silence after the last reply);
* aggregation: parsing every reply into models and building the derived views
  (connections aggregated and sorted, streams merged), against the least any Python
  code can do (one pass reading one field of every connection or stream replica);
* the dashboard (the real app under Pilot, on a ``LiveSource`` over a ``Hub``): the
  refresh work per tick of the Connections and Streams views (fetch, parse and row
  building in the worker; applying in the handler), the longest stall of the event
  loop during a tick, and the key response while refreshes run, against the same
  app's key response with no data;
* resident memory of this process, against its size before any fleet data.

Targets: refresh work per tick under 100 ms and key response under 100 ms at 100,000
connections, resident memory under 300 MB. Prints target / measured / baseline and
the ratio; exit status 1 when a target fails. Run from the repository root:
``/work/venv/bin/python benchmarks/fleet.py`` (``--help`` for the sizes).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import random
import re
import shutil
import statistics
import string
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import nats
import nats.errors
from nats.aio.client import Client

from natsops.fanout import Collector, FanoutResult, Roster
from natsops.harness import Deployment

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "replies"
READY = "fleet simulator ready"
#: Replies small enough to keep encoded per server and phase (filters aside).
_SMALL_KINDS = ("STATSZ", "VARZ", "IDZ", "HEALTHZ", "ROUTEZ")

REFRESH_TARGET = 0.100
KEY_TARGET = 0.100
RSS_TARGET_MB = 300.0
SILENCE_RULE = 0.300

# --------------------------------------------------------------------- the fleet


_DURATION = re.compile(r"([0-9.]+)(h|ms|us|µs|ns|m|s)")
_UNIT = {
    "h": 3600.0,
    "m": 60.0,
    "s": 1.0,
    "ms": 1e-3,
    "us": 1e-6,
    "µs": 1e-6,
    "ns": 1e-9,
}


def _go_seconds(text: str) -> float:
    """Seconds in a Go duration string such as ``1m2s`` or ``3.4ms`` (0 if none)."""
    return sum(float(n) * _UNIT[u] for n, u in _DURATION.findall(text or ""))


#: CONNZ sort keys nats-server knows for open connections: (value, largest first).
#: cid and start order by cid, uptime shortest first, every other key largest first.
CONNZ_SORTS: dict[str, tuple[Callable[[dict[str, Any]], Any], bool]] = {
    "cid": (lambda c: c["cid"], False),
    "start": (lambda c: c["cid"], False),
    "subs": (lambda c: c["subscriptions"], True),
    "pending": (lambda c: c["pending_bytes"], True),
    "msgs_to": (lambda c: c["out_msgs"], True),
    "msgs_from": (lambda c: c["in_msgs"], True),
    "bytes_to": (lambda c: c["out_bytes"], True),
    "bytes_from": (lambda c: c["in_bytes"], True),
    "last": (lambda c: c["last_activity"], True),
    "idle": (lambda c: _go_seconds(c["idle"]), True),
    "uptime": (lambda c: _go_seconds(c["uptime"]), False),
    "rtt": (lambda c: _go_seconds(c["rtt"]), True),
}


def _template(kind: str) -> dict[str, Any]:
    """The first recorded server's data block of ``kind`` (an empty one if absent)."""
    path = FIXTURES / f"{kind}.json"
    if not path.is_file():
        return {}
    doc = json.loads(path.read_text())
    servers = doc.get("servers") or {}
    return dict(next(iter(servers.values()), {}))


def _server_id(rng: random.Random) -> str:
    return "N" + "".join(
        rng.choice(string.ascii_uppercase + "234567") for _ in range(55)
    )


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000000000Z", time.gmtime())


@dataclass
class VirtualServer:
    """One simulated server: identity, connections and the stream replicas it hosts."""

    index: int
    name: str
    id: str
    cluster: str
    conns: list[dict[str, Any]] = field(default_factory=list)
    streams: list[int] = field(default_factory=list)
    seq: int = 0
    started: str = ""

    def block(self) -> dict[str, Any]:
        self.seq += 1
        return {
            "name": self.name,
            "host": f"10.0.{self.index // 250}.{self.index % 250}",
            "id": self.id,
            "cluster": self.cluster,
            "domain": "",
            "ver": "2.15.1",
            "tags": [f"az:{self.index % 3}"],
            "jetstream": True,
            "flags": 3,
            "seq": self.seq,
            "time": _now(),
        }


class Fleet:
    """N virtual servers with connections and R3 streams, replying like nats-server."""

    def __init__(
        self,
        servers: int,
        connections: int,
        streams: int,
        accounts: list[str],
        seed: int = 7,
    ) -> None:
        rng = random.Random(seed)
        self.rng = rng
        self.accounts = accounts
        per_cluster = 20
        self.servers = [
            VirtualServer(i, f"fleet-{i:03d}", _server_id(rng), f"fc{i // per_cluster}")
            for i in range(servers)
        ]
        self.by_id = {s.id: s for s in self.servers}
        for s in self.servers:
            s.started = "2026-01-01T00:00:00Z"
        for cid in range(connections):
            server = self.servers[cid % servers]
            server.conns.append(self._conn(cid, len(server.conns) + 1))
        self.n_streams = streams
        for sid in range(streams):
            for r in self._replicas(sid):
                self.servers[r].streams.append(sid)
        self.templates = {k: _template(k) for k in ("statsz", "varz", "jsz", "healthz")}
        self.tick = 0
        self._conn_json: dict[tuple[int, int], list[bytes]] = {}
        self._conn_order: dict[tuple[int, str], list[int]] = {}
        self._conn_filtered: dict[tuple[int, str, str, str], tuple[list[int], int]] = {}
        self._jsz: dict[tuple[int, str, int], bytes] = {}
        self._small: dict[tuple[str, int, int], bytes] = {}

    def _replicas(self, sid: int) -> list[int]:
        """Three servers of one cluster: the first is the stream leader."""
        n = len(self.servers)
        base = (sid * 7) % n
        cluster_start = base - base % 20
        size = min(20, n - cluster_start)
        return [cluster_start + (base - cluster_start + k) % size for k in range(3)]

    def _conn(self, cid: int, local_cid: int) -> dict[str, Any]:
        acc = self.accounts[cid % len(self.accounts)]
        return {
            "cid": local_cid,
            "kind": "Client",
            "type": "nats",
            "ip": f"10.1.{cid % 250}.{cid // 250 % 250}",
            "port": 20000 + cid % 40000,
            "start": "2026-01-01T00:00:00.000000000Z",
            "last_activity": "2026-01-01T00:10:00.000000000Z",
            "rtt": f"{(cid % 900) / 10:.1f}ms",
            "uptime": f"{1 + cid % 3600}s",
            "idle": f"{cid % 60}s",
            "pending_bytes": cid % 7 * 100,
            "in_msgs": cid * 3,
            "out_msgs": cid * 2,
            "in_bytes": cid * 300,
            "out_bytes": cid * 200,
            "subscriptions": cid % 17,
            "name": f"svc-{cid % 500}-{cid}",
            "lang": "go",
            "version": "1.41.0",
            "account": acc,
            "name_tag": f"team-{cid % 40}",
            "authorized_user": f"U{cid:055d}",
        }

    # ---- replies

    def envelope(self, server: VirtualServer, data: dict[str, Any]) -> bytes:
        return json.dumps({"server": server.block(), "data": data}).encode()

    def statsz(self, s: VirtualServer) -> bytes:
        data = dict(self.templates["statsz"])
        t = self.tick
        data.update(
            start=s.started,
            now=_now(),
            connections=len(s.conns),
            total_connections=len(s.conns) + 5,
            active_accounts=len(self.accounts),
            sent={"msgs": 1000 * t + s.index, "bytes": 100_000 * t},
            received={"msgs": 1100 * t + s.index, "bytes": 110_000 * t},
            routes=[
                {"rid": k, "name": o.name, "sent": {"msgs": t}, "received": {"msgs": t}}
                for k, o in enumerate(self._peers(s)[:4])
            ],
        )
        data.pop("gateways", None)
        return json.dumps({"server": s.block(), "statsz": data}).encode()

    def _peers(self, s: VirtualServer) -> list[VirtualServer]:
        return [o for o in self.servers if o.cluster == s.cluster and o is not s]

    def varz(self, s: VirtualServer) -> bytes:
        data = dict(self.templates["varz"])
        t = self.tick
        data.update(
            server_id=s.id,
            server_name=s.name,
            version="2.15.1",
            host=s.block()["host"],
            start=s.started,
            now=_now(),
            connections=len(s.conns),
            subscriptions=sum(c["subscriptions"] for c in s.conns[:50]) * 10,
            in_msgs=1100 * t + s.index,
            out_msgs=1000 * t + s.index,
            in_bytes=110_000 * t,
            out_bytes=100_000 * t,
            slow_consumers=0,
            cluster={"name": s.cluster, "urls": [o.name for o in self._peers(s)[:3]]},
            remotes=len(self._peers(s)),
        )
        return self.envelope(s, data)

    def _conn_fragments(self, s: VirtualServer, phase: int) -> list[bytes]:
        """Each connection of ``s`` encoded once per phase (counters move in 1)."""
        key = (s.index, phase)
        frags = self._conn_json.get(key)
        if frags is None:
            dumps = json.dumps
            if phase:
                frags = [
                    dumps(
                        {
                            **c,
                            "in_msgs": c["in_msgs"] + 17,
                            "out_msgs": c["out_msgs"] + 9,
                        }
                    ).encode()
                    for c in s.conns
                ]
            else:
                frags = [dumps(c).encode() for c in s.conns]
            self._conn_json[key] = frags
        return frags

    def _sorted(self, s: VirtualServer, sort: str) -> list[int]:
        """Positions in ``s.conns`` in CONNZ order for ``sort``, computed once."""
        key = (s.index, sort)
        order = self._conn_order.get(key)
        if order is None:
            value, largest = CONNZ_SORTS[sort]
            conns = s.conns
            order = sorted(
                range(len(conns)), key=lambda i: value(conns[i]), reverse=largest
            )
            self._conn_order[key] = order
        return order

    def _selected(
        self, s: VirtualServer, sort: str, acc: str, user: str
    ) -> tuple[list[int], int]:
        """The sorted positions passing the ``acc`` and ``user`` filters, and the
        count CONNZ reports as ``total`` (the account's, before the user filter)."""
        order = self._sorted(s, sort)
        if not acc and not user:
            return order, len(order)
        key = (s.index, sort, acc, user)
        hit = self._conn_filtered.get(key)
        if hit is None:
            conns = s.conns
            total = sum(1 for c in conns if c["account"] == acc) if acc else len(conns)
            picked = [
                i
                for i in order
                if (not acc or conns[i]["account"] == acc)
                and (not user or conns[i]["authorized_user"] == user)
            ]
            if len(self._conn_filtered) >= 4096:
                self._conn_filtered.clear()
            hit = self._conn_filtered[key] = (picked, total)
        return hit

    def connz(self, s: VirtualServer, body: dict[str, Any]) -> bytes:
        """CONNZ as nats-server answers it: ``sort`` (counters largest first),
        ``offset``, ``limit`` (default 1024), ``cid``, ``acc``, ``user`` and
        ``state`` (0 open, 1 closed, 2 all; a virtual server closes nothing)."""
        sort = str(body.get("sort") or "cid")
        try:
            offset = max(0, int(body.get("offset") or 0))
            limit = int(body.get("limit") or 0) or 1024
            state = int(body.get("state") or 0)
            cid = int(body.get("cid") or 0)
        except (TypeError, ValueError):
            return self.error(s, "invalid CONNZ options")
        if sort in ("stop", "reason"):
            if state != 1:
                return self.error(s, f"sort by {sort} only valid on closed connections")
        elif sort not in CONNZ_SORTS:
            return self.error(s, f"invalid sorting option: {sort}")
        acc = str(body.get("acc") or "")
        user = str(body.get("user") or "")
        phase = self.tick % 2
        if state == 1:
            picked: list[int] = []
            total = 0
        elif cid > 0:
            _, total = self._selected(s, "cid", acc, "")
            picked = [
                i
                for i in ([cid - 1] if 0 < cid <= len(s.conns) else [])
                if not acc or s.conns[i]["account"] == acc
            ]
            limit = 1
        else:
            selected, total = self._selected(s, sort, acc, user)
            picked = selected[offset : offset + max(0, limit)]
        frags = self._conn_fragments(s, phase)
        head = {
            "server_id": s.id,
            "now": _now(),
            "num_connections": len(picked),
            "total": total,
            "offset": offset,
            "limit": limit,
        }
        return b"".join(
            (
                b'{"server":',
                json.dumps(s.block()).encode(),
                b',"data":',
                json.dumps(head).encode()[:-1],
                b',"connections":[',
                b",".join([frags[i] for i in picked]),
                b"]}}",
            )
        )

    def error(self, s: VirtualServer, description: str) -> bytes:
        """A monitoring error envelope, as nats-server sends for bad options."""
        return json.dumps(
            {"server": s.block(), "error": {"code": 400, "description": description}}
        ).encode()

    def _stream(self, sid: int, s: VirtualServer, consumers: bool) -> dict[str, Any]:
        replicas = [self.servers[r] for r in self._replicas(sid)]
        leader = replicas[0]
        msgs = 1000 + sid * 3 + (self.tick % 2)
        detail: dict[str, Any] = {
            "name": f"STREAM_{sid:05d}",
            "created": "2026-01-01T00:00:00Z",
            "cluster": {
                "name": leader.cluster,
                "leader": leader.name,
                "raft_group": f"S-R3F-{sid:08d}",
                "replicas": [
                    {"name": r.name, "current": True, "active": 1000, "lag": 0}
                    for r in replicas
                    if r is not s
                ],
            },
            "config": {
                "name": f"STREAM_{sid:05d}",
                "subjects": [f"fleet.{sid}.>"],
                "retention": "limits",
                "storage": "file",
                "num_replicas": 3,
                "max_msgs": -1,
                "max_bytes": -1,
                "discard": "old",
                "placement": {"cluster": leader.cluster},
            },
            "state": {
                "messages": msgs,
                "bytes": msgs * 120,
                "first_seq": 1,
                "last_seq": msgs,
                "consumer_count": 1,
                "num_subjects": 3,
            },
        }
        if consumers:
            detail["consumer_detail"] = [
                {
                    "stream_name": detail["name"],
                    "name": "worker",
                    "config": {"durable_name": "worker", "ack_policy": "explicit"},
                    "delivered": {"consumer_seq": msgs - 5, "stream_seq": msgs - 5},
                    "ack_floor": {"consumer_seq": msgs - 9, "stream_seq": msgs - 9},
                    "num_ack_pending": 4,
                    "num_redelivered": 0,
                    "num_waiting": 1,
                    "num_pending": 5,
                    "cluster": {"name": leader.cluster, "leader": leader.name},
                }
            ]
        return detail

    def jsz(self, s: VirtualServer, body: dict[str, Any]) -> bytes:
        streams = bool(body.get("streams"))
        consumers = bool(body.get("consumer"))
        accounts = bool(body.get("accounts"))
        variant = "".join(
            flag
            for flag, on in (("a", accounts), ("s", streams), ("c", consumers))
            if on
        )
        key = (s.index, variant, self.tick % 2)
        cached = self._jsz.get(key)
        if cached is not None:
            return cached
        base = dict(self.templates["jsz"])
        base.pop("account_details", None)
        leader = self.servers[0]
        meta = {
            "name": "_meta_",
            "leader": leader.name,
            "peer": leader.id[:8],
            "cluster_size": len(self.servers),
            "replicas": [
                {"name": o.name, "current": True, "active": 1000, "peer": o.id[:8]}
                for o in self.servers[1:6]
            ],
        }
        base.update(
            server_id=s.id,
            now=_now(),
            streams=len(s.streams),
            consumers=len(s.streams),
            messages=sum(1000 + sid * 3 for sid in s.streams),
            meta_cluster=meta,
        )
        if streams or accounts:
            per_account: dict[str, list[dict[str, Any]]] = {}
            for sid in s.streams:
                acc = self.accounts[sid % len(self.accounts)]
                per_account.setdefault(acc, [])
                if streams:
                    per_account[acc].append(self._stream(sid, s, consumers))
            base["account_details"] = [
                {"name": acc, "id": acc, "stream_detail": details}
                for acc, details in per_account.items()
            ]
        payload = self.envelope(s, base)
        self._jsz[key] = payload
        return payload

    def prebuild(self) -> None:
        """Encode the large replies once, so the fleet answers at full speed."""
        for tick in (0, 1):
            self.tick = tick
            for s in self.servers:
                for kind in _SMALL_KINDS:
                    self.reply(kind, s, {})
                self._conn_fragments(s, tick)
                for sort in CONNZ_SORTS:
                    self._sorted(s, sort)
                for body in (
                    {},
                    {"accounts": True},
                    {"accounts": True, "streams": True},
                    {"accounts": True, "streams": True, "consumer": True},
                ):
                    self.jsz(s, body)
        self.tick = 0

    def reply(self, kind: str, s: VirtualServer, body: dict[str, Any]) -> bytes:
        if kind in _SMALL_KINDS:
            key = (kind, s.index, self.tick % 2)
            cached = self._small.get(key)
            if cached is None:
                cached = self._small[key] = self._reply(kind, s, body)
            return cached
        return self._reply(kind, s, body)

    def _reply(self, kind: str, s: VirtualServer, body: dict[str, Any]) -> bytes:
        if kind == "STATSZ":
            return self.statsz(s)
        if kind == "VARZ":
            return self.varz(s)
        if kind == "IDZ":
            return json.dumps(
                {"name": s.name, "host": s.block()["host"], "id": s.id}
            ).encode()
        if kind == "CONNZ":
            return self.connz(s, body)
        if kind == "JSZ":
            return self.jsz(s, body)
        if kind == "HEALTHZ":
            return self.envelope(s, {"status": "ok", "status_code": 200})
        if kind == "ROUTEZ":
            peers = self._peers(s)[:4]
            routes = [{"rid": k, "remote_name": o.name} for k, o in enumerate(peers)]
            return self.envelope(s, {"num_routes": len(routes), "routes": routes})
        return self.envelope(s, {})

    @staticmethod
    def matches(s: VirtualServer, body: dict[str, Any]) -> bool:
        exact = bool(body.get("exact_match"))
        for key, have in (("server_name", s.name), ("cluster", s.cluster)):
            want = body.get(key)
            if want and not (have == want if exact else want in have):
                return False
        return True


async def simulate(url: str, creds: str, fleet: Fleet) -> None:
    """Answer fan-out and per-server requests until stdin closes."""
    nc = await nats.connect(
        servers=[url], user_credentials=creds, name="fleet-simulator"
    )

    def body_of(data: bytes) -> dict[str, Any]:
        try:
            doc = json.loads(data) if data else {}
        except ValueError:
            return {}
        return doc if isinstance(doc, dict) else {}

    async def on_ping(msg: Any) -> None:
        kind = msg.subject.rsplit(".", 1)[-1]
        body = body_of(msg.data)
        fleet.tick += 1
        for s in fleet.servers:
            if kind == "IDZ" or fleet.matches(s, body):
                await nc.publish(msg.reply, fleet.reply(kind, s, body))

    async def on_direct(msg: Any) -> None:
        parts = msg.subject.split(".")
        s = fleet.by_id.get(parts[3])
        if s is not None and msg.reply:
            await nc.publish(msg.reply, fleet.reply(parts[4], s, body_of(msg.data)))

    fleet.prebuild()
    await nc.subscribe("$SYS.REQ.SERVER.PING.*", cb=on_ping)
    await nc.subscribe("$SYS.REQ.SERVER.*.*", cb=on_direct)
    await nc.flush()
    print(READY, flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)
    await nc.close()


# ------------------------------------------------------------------ measuring


def rss_mb() -> float:
    """Current resident set size of this process in MB."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


@dataclass
class Line:
    """One printed figure: what, target (or None), measured, baseline."""

    what: str
    measured: float
    baseline: float | None = None
    target: float | None = None
    unit: str = "ms"
    note: str = ""

    @property
    def ok(self) -> bool | None:
        if self.target is None:
            return None
        return self.measured <= self.target


class GcPauses:
    """The longest garbage-collector pause (any generation) while installed."""

    def __init__(self) -> None:
        self.worst = 0.0
        self.worst_generation = -1
        self.count = 0
        self._t0 = 0.0

    def _cb(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._t0 = time.perf_counter()
        else:
            self.count += 1
            took = time.perf_counter() - self._t0
            if took > self.worst:
                self.worst = took
                self.worst_generation = int(info.get("generation", -1))

    def __enter__(self) -> GcPauses:
        gc.callbacks.append(self._cb)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self._cb)


class LoopLag:
    """The longest time the event loop was blocked while running."""

    def __init__(self, period: float = 0.005) -> None:
        self.period = period
        self.worst = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            t0 = time.perf_counter()
            await asyncio.sleep(self.period)
            self.worst = max(self.worst, time.perf_counter() - t0 - self.period)

    def start(self) -> None:
        self.worst = 0.0
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> float:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        return self.worst


async def floor_round(
    nc: Client, subject: str, body: bytes, want: int, decode: bool = False
) -> float:
    """The slowest of ``want`` replies with a bare subscriber (the physical floor);
    with ``decode`` it also decodes each reply's JSON, as any consumer must."""
    inbox = nc.new_inbox()
    got = 0
    done = asyncio.Event()
    last = 0.0
    t0 = time.perf_counter()

    async def cb(msg: Any) -> None:
        nonlocal got, last
        if decode:
            json.loads(msg.data)
        got += 1
        last = time.perf_counter() - t0
        if got >= want:
            done.set()

    sub = await nc.subscribe(inbox, cb=cb)
    t0 = time.perf_counter()
    await nc.publish(subject, body, reply=inbox)
    try:
        await asyncio.wait_for(done.wait(), 30)
    finally:
        await sub.unsubscribe()
    return last


async def fanout_figures(
    nc: Client, collector: Collector, n: int, rounds: int, lines: list[Line]
) -> dict[str, FanoutResult]:
    results: dict[str, FanoutResult] = {}
    cases = [
        ("STATSZ", {}),
        ("CONNZ", {"auth": True}),
        ("JSZ", {"accounts": True, "streams": True, "config": True}),
    ]
    for kind, body in cases:
        ours: list[float] = []
        floors: list[float] = []
        decoded: list[float] = []
        answered: list[int] = []
        subject = f"$SYS.REQ.SERVER.PING.{kind}"
        payload = json.dumps(body).encode() if body else b""
        await collector.ping(kind, body, timeout=30.0)  # warm-up, not measured
        for i in range(rounds):
            # Alternate which goes first, so neither always meets a cold server.
            if i % 2 == 0:
                floors.append(await floor_round(nc, subject, payload, n))
            result = await collector.ping(kind, body, timeout=30.0)
            ours.append(result.elapsed)
            answered.append(result.answered)
            if i % 2 == 1:
                floors.append(await floor_round(nc, subject, payload, n))
            decoded.append(await floor_round(nc, subject, payload, n, decode=True))
            if result.answered != n:
                print(f"  {kind}: {result.roll_call()[:200]}", file=sys.stderr)
            results[kind] = result
        note = f"{min(answered)}/{n} answered in the worst round"
        lines += [
            Line(
                f"fan-out {kind} ({n} servers), natsops vs floor",
                median(ours) * 1000,
                median(floors) * 1000,
                note=note,
            ),
            Line(
                f"fan-out {kind}, natsops vs floor with JSON decode",
                median(ours) * 1000,
                median(decoded) * 1000,
            ),
            Line(
                f"fan-out {kind}, natsops vs 300 ms silence rule",
                median(ours) * 1000,
                (median(floors) + SILENCE_RULE) * 1000,
            ),
        ]
    return results


def aggregation_figures(
    results: dict[str, FanoutResult], lines: list[Line], streams: int
) -> None:
    """Models and derived views over the last round of each fan-out."""
    from natsops.model import parse_connz, parse_jsz
    from natsops.model.views import aggregate_connections, sort_connections, stream_rows

    connz = results["CONNZ"].data()
    t0 = time.perf_counter()
    parsed = {name: parse_connz(data, name) for name, data in connz.items()}
    conns = aggregate_connections(parsed)
    top = sort_connections(conns, "msgs_to")[:50]
    ours = time.perf_counter() - t0
    t0 = time.perf_counter()
    total = 0
    for data in connz.values():
        for c in data.get("connections") or ():
            total += c.get("in_msgs", 0)
    floor = time.perf_counter() - t0
    count = sum(len(d.get("connections") or ()) for d in connz.values())
    lines.append(
        Line(
            f"aggregate {count:,} connections (parse, merge, sort)",
            ours * 1000,
            floor * 1000,
            note=f"top: {top[0].name if top else '-'}",
        )
    )

    jsz = results["JSZ"].data()
    t0 = time.perf_counter()
    parsed_js = {name: parse_jsz(data, name) for name, data in jsz.items()}
    rows = stream_rows(parsed_js)
    ours = time.perf_counter() - t0
    t0 = time.perf_counter()
    replicas = 0
    for data in jsz.values():
        for acc in data.get("account_details") or ():
            for st in acc.get("stream_detail") or ():
                replicas += bool(st.get("name"))
    floor = time.perf_counter() - t0
    lines.append(
        Line(
            f"aggregate {len(rows):,} streams from {replicas:,} replicas",
            ours * 1000,
            floor * 1000,
            note=f"{len(rows):,} of {streams:,} streams collected",
        )
    )


async def press_until_painted(app: Any, key: str, table: Any) -> float:
    """Send one key as the terminal would (no Pilot idle waits); seconds until the
    table has painted again."""
    from textual import events

    before = table.lines_rendered
    t0 = time.perf_counter()
    app._driver.send_message(events.Key(key, None))
    deadline = t0 + 30
    while table.lines_rendered == before:
        if time.perf_counter() > deadline:
            raise TimeoutError(f"no paint after {key}")
        await asyncio.sleep(0.0005)
    return time.perf_counter() - t0


async def _wait(predicate: Callable[[], Any], timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("benchmark condition not met")
        await asyncio.sleep(0.002)


async def dashboard_figures(
    urls: list[str], creds: Path, ticks: int, presses: int, lines: list[Line]
) -> None:
    from natsops.connection import Hub
    from natsops.settings import ConnectionSettings, Settings
    from natsops.ui.app import NatsopsApp
    from natsops.ui.source import LiveSource
    from natsops.ui.testing import show

    async def idle_keys(app: Any, table: Any, count: int) -> list[float]:
        out = []
        for i in range(count):
            key = "down" if i % 10 != 9 else "pagedown"
            out.append(await press_until_painted(app, key, table))
            await asyncio.sleep(0.01)
        return out

    settings = Settings(
        system=ConnectionSettings(servers=urls, creds=creds, timeout=30.0),
        refresh=3600.0,  # ticks are driven here, one at a time
    )
    hub = await Hub.open(settings)
    source = LiveSource(hub, timeout=30.0)
    app = NatsopsApp(source)
    lag = LoopLag()
    try:
        async with app.run_test(size=(160, 45)) as pilot:
            for view in ("connections", "streams"):
                await show(app, view, timeout=120)
                table = app.table_of(view)
                fetch_costs: list[float] = []
                apply_costs: list[float] = []
                stalls: list[float] = []
                busy: list[float] = []
                for _ in range(ticks):
                    before = app.poll_count.get(view, 0)
                    lag.start()
                    app.poll_now(view)
                    # Keys while the refresh is fetched, parsed and applied.
                    while app.poll_count.get(view, 0) == before:
                        busy.append(await press_until_painted(app, "down", table.table))
                        await asyncio.sleep(0.01)
                    stalls.append(await lag.stop())
                    fetch_costs.append(_last_fetch_cost(app, view))
                    apply_costs.append(app.last_apply_cost)
                await pilot.press("home")
                calm = await idle_keys(app, table.table, presses)
                rows = len(table.model)
                lines += [
                    Line(
                        f"dashboard {view}: apply per tick ({rows:,} rows)",
                        median(apply_costs) * 1000,
                        target=REFRESH_TARGET * 1000,
                    ),
                    Line(
                        f"dashboard {view}: fetch+parse+rows per tick",
                        median(fetch_costs) * 1000,
                        note="worker, on the app's loop; network included",
                    ),
                    Line(
                        f"dashboard {view}: longest loop stall in a tick",
                        median(stalls) * 1000,
                        target=REFRESH_TARGET * 1000,
                    ),
                    Line(
                        f"dashboard {view}: key response between ticks p50",
                        median(calm) * 1000,
                        target=KEY_TARGET * 1000,
                    ),
                    Line(
                        f"dashboard {view}: key response during a tick p50",
                        median(busy) * 1000 if busy else float("nan"),
                        median(calm) * 1000,
                        target=KEY_TARGET * 1000,
                    ),
                    Line(
                        f"dashboard {view}: key response during a tick max",
                        max(busy) * 1000 if busy else float("nan"),
                        max(calm) * 1000,
                        target=KEY_TARGET * 1000,
                    ),
                ]
    finally:
        await source.close()
        await hub.close()


def _last_fetch_cost(app: Any, view: str) -> float:
    fetched = getattr(app.views[view], "last_fetch", None)
    cost = getattr(fetched, "cost", None)
    return float(cost) if cost is not None else float("nan")


async def core_phase(args: argparse.Namespace) -> list[Line]:
    """Fan-out completion and aggregation, in a process of their own."""
    lines: list[Line] = []
    n = args.servers + 1  # the real server answers too
    rss0 = rss_mb()
    slow: list[str] = []

    async def on_error(exc: Exception) -> None:
        if isinstance(exc, nats.errors.SlowConsumerError):
            slow.append(exc.subject)

    nc = await nats.connect(
        servers=args.url.split(","),
        user_credentials=args.creds,
        name="fleet-bench",
        error_cb=on_error,
    )
    try:
        collector = Collector(nc, Roster())
        first = await collector.discover(timeout=30.0)
        print(f"  roster: {first.roll_call()[:60]}", file=sys.stderr)
        results = await fanout_figures(nc, collector, n, args.rounds, lines)
        aggregation_figures(results, lines, args.streams)
        lines.append(
            Line("slow-consumer drops in the collector", len(slow), unit="", target=0)
        )
        lines.append(
            Line(
                "resident memory, fan-out results and models held",
                rss_mb(),
                rss0,
                unit="MB",
                note="not the dashboard: its own line below",
            )
        )
        await collector.close()
    finally:
        await nc.close()
    return lines


async def dashboard_phase(args: argparse.Namespace) -> list[Line]:
    """The dashboard, in a fresh process so that its memory is its own."""
    lines: list[Line] = []
    rss0 = rss_mb()
    with GcPauses() as pauses:
        await dashboard_figures(
            args.url.split(","), Path(args.creds), args.ticks, args.presses, lines
        )
    lines.append(
        Line(
            f"dashboard longest garbage-collector pause ({pauses.count} runs)",
            pauses.worst * 1000,
            note=f"generation {pauses.worst_generation}",
        )
    )
    lines.append(
        Line(
            "dashboard resident memory after both views (vs before data)",
            rss_mb(),
            rss0,
            target=RSS_TARGET_MB,
            unit="MB",
        )
    )
    return lines


def run_phase(phase: str, args: argparse.Namespace, url: str, creds: str) -> list[Line]:
    """Run one phase in a child process and read its figures."""
    argv = [
        sys.executable,
        __file__,
        "--phase",
        phase,
        "--url",
        url,
        "--creds",
        creds,
        *(f"--{k}={getattr(args, k)}" for k in ("servers", "connections", "streams")),
        *(f"--{k}={getattr(args, k)}" for k in ("rounds", "ticks", "presses")),
    ]
    proc = subprocess.run(argv, stdout=subprocess.PIPE, text=True, timeout=1800)
    if proc.returncode != 0:
        raise SystemExit(f"phase {phase} failed (exit {proc.returncode})")
    rows = json.loads(proc.stdout.strip().splitlines()[-1])
    return [Line(**row) for row in rows]


def report(lines: list[Line], args: argparse.Namespace) -> int:
    print()
    print(
        f"natsops fleet benchmark: {args.servers} virtual servers, "
        f"{args.connections:,} connections, {args.streams:,} streams"
    )
    header = (
        f"{'figure':58} {'target':>9} {'measured':>10} {'baseline':>10} {'ratio':>7}"
    )
    print(header)
    print("-" * len(header))
    failed = 0
    for line in lines:
        target = "-" if line.target is None else f"{line.target:.0f} {line.unit}"
        base = "-" if line.baseline is None else f"{line.baseline:.1f}"
        ratio = "-" if not line.baseline else f"{line.measured / line.baseline:.2f}x"
        verdict = {None: "", True: "ok", False: "FAIL"}[line.ok]
        failed += line.ok is False
        print(
            f"{line.what[:58]:58} {target:>9} {line.measured:>7.1f} {line.unit:2} "
            f"{base:>10} {ratio:>7} {verdict} {line.note}"
        )
    print()
    print("ratio = measured / baseline (baselines measured in this run)")
    return 1 if failed else 0


def _simulator_main(argv: list[str]) -> int:
    url, creds, servers, connections, streams, accounts = argv
    fleet = Fleet(int(servers), int(connections), int(streams), accounts.split(","))
    asyncio.run(simulate(url, creds, fleet))
    return 0


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--simulate":
        return _simulator_main(sys.argv[2:])
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--servers", type=int, default=200)
    parser.add_argument("--connections", type=int, default=100_000)
    parser.add_argument("--streams", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5, help="fan-out rounds per kind")
    parser.add_argument("--ticks", type=int, default=5, help="dashboard refreshes")
    parser.add_argument("--presses", type=int, default=20, help="keys per view")
    parser.add_argument("--no-dashboard", action="store_true")
    parser.add_argument(
        "--phase", choices=("core", "dashboard"), help=argparse.SUPPRESS
    )
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--creds", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.phase is not None:
        phase = core_phase if args.phase == "core" else dashboard_phase
        lines = asyncio.run(phase(args))
        print(json.dumps([line.__dict__ for line in lines]))
        return 0

    tmp = Path(tempfile.mkdtemp(prefix="natsops-fleet-"))
    dep = Deployment.start(tmp / "dep", [("c1", 1)], jetstream=False)
    sim: subprocess.Popen[str] | None = None
    lines = []
    try:
        accounts = [dep.accounts[a].public_key for a in ("APP", "OTHER")]
        # The simulator subscribes to request subjects: a system user without the
        # console's restrictions.
        simulator_user = dep.make_user("SYS", "fleet-simulator")
        t0 = time.perf_counter()
        sim = subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--simulate",
                dep.urls[0],
                simulator_user.creds,
                str(args.servers),
                str(args.connections),
                str(args.streams),
                ",".join(accounts),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert sim.stdout is not None
        line = sim.stdout.readline().strip()
        if line != READY:
            raise SystemExit(f"simulator did not start: {line!r}")
        print(f"  simulator ready in {time.perf_counter() - t0:.1f}s", file=sys.stderr)
        lines += run_phase("core", args, dep.url, dep.sys_user.creds)
        if not args.no_dashboard:
            lines += run_phase("dashboard", args, dep.url, dep.sys_user.creds)
    finally:
        if sim is not None:
            if sim.stdin is not None:
                sim.stdin.close()
            try:
                sim.wait(10)
            except subprocess.TimeoutExpired:
                sim.kill()
        dep.close()
        shutil.rmtree(tmp, ignore_errors=True)
    return report(lines, args)


if __name__ == "__main__":
    raise SystemExit(main())
