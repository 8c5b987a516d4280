"""The demo deployment: a local two-cluster supercluster with sample streams and a
light traffic generator, so that natsops (or any NATS tool) has something to show.

:class:`Demo` starts the servers through :mod:`natsops.harness`, creates streams and
consumers in the ``APP`` account (and one in ``OTHER``), and runs a
:class:`TrafficGenerator` on its own asyncio loop in a thread. Closing the demo stops
the traffic, every server, and removes the temporary data.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.js import api

from natsops.harness import (
    Deployment,
    HarnessError,
    Identity,
    find_nats_server,
    run_coro_sync,
)

log = logging.getLogger(__name__)

#: The line ``natsops demo --no-ui`` prints once everything is up.
READY_LINE = "natsops demo ready"

#: The clusters of the demo supercluster.
DEMO_CLUSTERS = [("c1", 3), ("c2", 3)]


@dataclass(frozen=True)
class ConsumerSpec:
    """A sample consumer: a durable pull consumer unless ``deliver_subject`` is set.

    ``backlog`` consumers are never read, so their pending count grows;
    ``unacked`` messages are fetched once and never acknowledged (ack pending).
    """

    name: str
    role: str
    backlog: bool = False
    unacked: int = 0
    deliver_subject: str | None = None
    paused: bool = False
    filter_subject: str | None = None


@dataclass(frozen=True)
class StreamSpec:
    """A sample stream, its placement and its consumers."""

    name: str
    account: str
    subjects: tuple[str, ...]
    replicas: int
    cluster: str
    seed_messages: int
    consumers: tuple[ConsumerSpec, ...] = ()
    storage: str = "file"


#: The sample streams: R1 and R3, in both clusters, with pull, backlog and a paused
#: push consumer.
DEMO_STREAMS: tuple[StreamSpec, ...] = (
    StreamSpec(
        "ORDERS",
        "APP",
        ("ORDERS.>",),
        3,
        "c1",
        200,
        (
            ConsumerSpec("fulfilment", "acked by the fulfilment worker"),
            ConsumerSpec("billing", "backlog: nobody reads it", backlog=True),
        ),
    ),
    StreamSpec(
        "EVENTS",
        "APP",
        ("EVENTS.>",),
        3,
        "c2",
        150,
        (
            ConsumerSpec("analytics", "backlog: nobody reads it", backlog=True),
            ConsumerSpec(
                "notifier",
                "push consumer, paused for a day",
                deliver_subject="deliver.notifier",
                paused=True,
            ),
        ),
    ),
    StreamSpec(
        "AUDIT",
        "APP",
        ("AUDIT.>",),
        1,
        "c1",
        100,
        (ConsumerSpec("archiver", "50 fetched and never acknowledged", unacked=50),),
    ),
    StreamSpec(
        "METRICS",
        "APP",
        ("METRICS.cpu", "METRICS.mem"),
        1,
        "c2",
        50,
        (
            ConsumerSpec("dashboard", "acked by the metrics reader"),
            ConsumerSpec(
                "cpu-alerts",
                "backlog on one subject",
                backlog=True,
                filter_subject="METRICS.cpu",
            ),
        ),
        storage="memory",
    ),
    StreamSpec(
        "JOBS",
        "OTHER",
        ("JOBS.>",),
        1,
        "c2",
        40,
        (ConsumerSpec("workers", "backlog: nobody reads it", backlog=True),),
    ),
)

#: Per-stream limits, so a long demo never fills the disk.
_STREAM_MAX_MSGS = 50_000
_STREAM_MAX_BYTES = 64 * 1024 * 1024


# ------------------------------------------------------------------ traffic


@dataclass
class TrafficStats:
    """Counters of the traffic generator (read from any thread)."""

    published: int = 0
    stored: int = 0
    received: int = 0
    requests: int = 0
    replies: int = 0
    acked: int = 0
    errors: int = 0
    connections: int = 0
    last_error: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, name: str, amount: int = 1) -> None:
        with self._lock:
            setattr(self, name, getattr(self, name) + amount)

    def error(self, text: str) -> None:
        with self._lock:
            self.errors += 1
            self.last_error = text

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "published": self.published,
                "stored": self.stored,
                "received": self.received,
                "requests": self.requests,
                "replies": self.replies,
                "acked": self.acked,
                "errors": self.errors,
                "connections": self.connections,
            }


@dataclass(frozen=True)
class ClientSpec:
    """One named connection of the traffic generator and what it does."""

    name: str
    identity: Identity
    url: str
    role: str


class TrafficGenerator:
    """A few named publishers, subscribers and workers in ``APP`` and ``OTHER``.

    Runs on its own asyncio loop in a daemon thread. ``scale`` multiplies every
    rate; at 1.0 the total is about 120 messages a second. Errors during leader
    elections or server restarts are counted, never raised: the generator keeps
    going and the clients reconnect on their own.
    """

    def __init__(self, dep: Deployment, scale: float = 1.0) -> None:
        self.dep = dep
        self.scale = max(0.0, scale)
        self.stats = TrafficStats()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stop: asyncio.Event | None = None
        self._started = threading.Event()
        self._start_error: BaseException | None = None
        self._clients: list[Client] = []
        # Checked by every loop: nats-py swallows a CancelledError in places
        # (flushing a full buffer), so cancelling alone may not end a job.
        self._stopping = False

    # ---- the plan

    def _server_url(self, index: int) -> str:
        servers = list(self.dep.servers.values())
        return servers[index % len(servers)].client_url

    def _plan(self) -> list[tuple[ClientSpec, Callable[[Client], Awaitable[None]]]]:
        app, other = self.dep.app_user, self.dep.other_user
        s = self.scale

        def spec(name: str, who: Identity, index: int, role: str) -> ClientSpec:
            return ClientSpec(name, who, self._server_url(index), role)

        return [
            (
                spec("orders-api", app, 0, "publishes new and paid orders"),
                lambda nc: self._js_publisher(
                    nc,
                    [("ORDERS.created.eu", 8 * s), ("ORDERS.paid.eu", 4 * s)],
                ),
            ),
            (
                spec("clickstream", app, 3, "publishes page views and signups"),
                lambda nc: self._js_publisher(
                    nc,
                    [("EVENTS.page_view", 12 * s), ("EVENTS.signup", 1 * s)],
                ),
            ),
            (
                spec("audit-writer", app, 1, "publishes audit records"),
                lambda nc: self._js_publisher(nc, [("AUDIT.login", 3 * s)]),
            ),
            (
                spec("metrics-agent", app, 4, "publishes cpu and memory samples"),
                lambda nc: self._js_publisher(
                    nc, [("METRICS.cpu", 5 * s), ("METRICS.mem", 5 * s)]
                ),
            ),
            (
                spec("fulfilment-worker", app, 2, "acks ORDERS > fulfilment"),
                lambda nc: self._pull_worker(nc, "ORDERS", "fulfilment"),
            ),
            (
                spec("metrics-reader", app, 5, "acks METRICS > dashboard"),
                lambda nc: self._pull_worker(nc, "METRICS", "dashboard"),
            ),
            (
                spec("pricing-service", app, 3, "answers pricing.quote"),
                self._responder,
            ),
            (
                spec("checkout", app, 0, "requests pricing.quote"),
                lambda nc: self._requester(nc, 5 * s),
            ),
            (
                spec("telemetry-gateway", other, 1, "publishes telemetry.sensor.*"),
                lambda nc: self._core_publisher(nc, "telemetry.sensor", 30 * s),
            ),
            (
                spec("telemetry-sink", other, 5, "subscribes telemetry.>"),
                self._subscriber,
            ),
        ]

    # ---- lifecycle

    def start(self, timeout: float = 20.0) -> None:
        """Start the thread and wait (bounded) until every client is connected."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(
            target=self._run, name="natsops-demo-traffic", daemon=True
        )
        self._thread.start()
        if not self._started.wait(timeout):
            self.stop()
            raise HarnessError(
                f"demo traffic did not start within {timeout:.0f}s",
                "see the server logs of the demo",
            )
        if self._start_error is not None:
            self.stop()
            raise HarnessError(
                f"demo traffic could not start ({self._start_error})",
                "see the server logs of the demo",
            )

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop every task and close every connection; bounded by ``timeout``."""
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(stop.set)
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.warning("demo traffic did not stop within %.0fs", timeout)
        self._thread = None

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # the thread must end quietly
            log.debug("demo traffic ended: %s", exc)
            self._start_error = self._start_error or exc
        finally:
            self._started.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        tasks: list[asyncio.Task[None]] = []
        try:
            plan = self._plan()
            clients = await asyncio.gather(*(self._connect(c) for c, _ in plan))
            self._clients = list(clients)
            self.stats.connections = len(clients)
            for (client_spec, job), nc in zip(plan, clients, strict=True):
                tasks.append(
                    asyncio.create_task(
                        self._guard(client_spec.name, job(nc)),
                        name=f"demo-{client_spec.name}",
                    )
                )
        except BaseException as exc:
            self._start_error = exc
            self._started.set()
            await self._shutdown(tasks)
            return
        self._started.set()
        await self._stop.wait()
        await self._shutdown(tasks)

    async def _shutdown(self, tasks: list[asyncio.Task[None]]) -> None:
        self._stopping = True
        for task in tasks:
            task.cancel()
        if tasks:
            _done, pending = await asyncio.wait(tasks, timeout=3.0)
            for task in pending:
                log.debug("demo job %s still running at shutdown", task.get_name())
        await asyncio.gather(
            *(self._close(nc) for nc in self._clients), return_exceptions=True
        )
        self._clients = []

    @staticmethod
    async def _close(nc: Client) -> None:
        with contextlib.suppress(Exception):
            async with asyncio.timeout(2.0):
                await nc.close()

    async def _connect(self, spec: ClientSpec) -> Client:
        async def quiet(exc: Exception) -> None:
            log.debug("demo client %s: %s", spec.name, exc)

        # The other servers come from the cluster's INFO; the first one is fixed so
        # connections spread over every server.
        return await nats.connect(
            servers=[spec.url],
            name=spec.name,
            user_credentials=spec.identity.creds,
            connect_timeout=2,
            allow_reconnect=True,
            max_reconnect_attempts=-1,
            reconnect_time_wait=0.5,
            error_cb=quiet,
        )

    async def _guard(self, name: str, job: Awaitable[None]) -> None:
        try:
            await job
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a job must never take the generator down
            self.stats.error(f"{name}: {exc}")
            log.debug("demo job %s ended: %s", name, exc)

    # ---- jobs

    async def _stopped(self) -> None:
        """Return once the generator is asked to stop."""
        assert self._stop is not None
        await self._stop.wait()

    async def _paced(
        self, rate: float, action: Callable[[int], Awaitable[None]]
    ) -> None:
        """Call ``action(n)`` about ``rate`` times a second until stopped."""
        if rate <= 0:
            await self._stopped()
            return
        interval = 1.0 / rate
        n = 0
        next_at = time.monotonic()
        while not self._stopping:
            n += 1
            try:
                await action(n)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # elections and restarts: count and go on
                self.stats.error(f"{type(exc).__name__}: {exc}")
            next_at = max(next_at + interval, time.monotonic() - 1.0)
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))

    async def _js_publisher(
        self, nc: Client, subjects: list[tuple[str, float]]
    ) -> None:
        js = nc.jetstream(timeout=2.0)

        async def one(subject: str, rate: float) -> None:
            async def publish(n: int) -> None:
                body = json.dumps({"n": n, "at": time.time()}).encode()
                self.stats.add("published")
                await js.publish(subject, body)
                self.stats.add("stored")

            await self._paced(rate, publish)

        await asyncio.gather(*(one(subj, rate) for subj, rate in subjects))

    async def _pull_worker(self, nc: Client, stream: str, consumer: str) -> None:
        js = nc.jetstream(timeout=2.0)
        sub: Any = None
        while not self._stopping:
            try:
                if sub is None:
                    sub = await js.pull_subscribe_bind(consumer, stream)
                msgs = await sub.fetch(50, timeout=1.0)
            except (nats.errors.TimeoutError, TimeoutError):
                continue
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.stats.error(f"{stream} > {consumer}: {exc}")
                await asyncio.sleep(0.5)
                continue
            for msg in msgs:
                with contextlib.suppress(Exception):
                    await msg.ack()
                    self.stats.add("acked")
            self.stats.add("received", len(msgs))

    async def _responder(self, nc: Client) -> None:
        async def answer(msg: Any) -> None:
            self.stats.add("received")
            with contextlib.suppress(Exception):
                await msg.respond(b'{"price": 42}')

        await nc.subscribe("pricing.quote", queue="pricing", cb=answer)
        await self._stopped()

    async def _requester(self, nc: Client, rate: float) -> None:
        async def ask(n: int) -> None:
            self.stats.add("requests")
            await nc.request("pricing.quote", b'{"sku": "%d"}' % n, timeout=1.0)
            self.stats.add("replies")

        await self._paced(rate, ask)

    async def _core_publisher(self, nc: Client, prefix: str, rate: float) -> None:
        async def publish(n: int) -> None:
            await nc.publish(f"{prefix}.{n % 8}", b'{"t": 21.5}')
            self.stats.add("published")

        await self._paced(rate, publish)

    async def _subscriber(self, nc: Client) -> None:
        async def got(msg: Any) -> None:
            self.stats.add("received")

        await nc.subscribe("telemetry.>", cb=got)
        await self._stopped()


# ------------------------------------------------------------------ the demo


def _rfc3339(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


async def _connect_user(dep: Deployment, who: Identity) -> Client:
    return await nats.connect(
        servers=dep.urls,
        user_credentials=who.creds,
        connect_timeout=2,
        max_reconnect_attempts=5,
        name=f"natsops-demo-setup-{who.account_name}",
    )


async def _create_stream(nc: Client, spec: StreamSpec) -> None:
    js = nc.jetstream(timeout=10.0)
    config = api.StreamConfig(
        name=spec.name,
        subjects=list(spec.subjects),
        num_replicas=spec.replicas,
        placement=api.Placement(cluster=spec.cluster),
        storage=api.StorageType(spec.storage),
        max_msgs=_STREAM_MAX_MSGS,
        max_bytes=_STREAM_MAX_BYTES,
        discard=api.DiscardPolicy.OLD,
    )
    await js.add_stream(config)

    for c in spec.consumers:
        cfg = api.ConsumerConfig(
            durable_name=c.name,
            name=c.name,
            description=c.role,
            ack_policy=api.AckPolicy.EXPLICIT,
            ack_wait=3600.0 if c.unacked else 30.0,
            max_ack_pending=10_000,
            filter_subject=c.filter_subject,
        )
        if c.deliver_subject:
            cfg.deliver_subject = c.deliver_subject
        if c.paused:
            until = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
            cfg.pause_until = _rfc3339(until)
        await js.add_consumer(spec.name, cfg)

    # A first batch, so backlogs and ack pending exist from the start.
    subjects = [s.replace(">", "seed").replace("*", "seed") for s in spec.subjects]
    for n in range(spec.seed_messages):
        subject = subjects[n % len(subjects)]
        await js.publish(subject, json.dumps({"seed": n}).encode())

    for c in spec.consumers:
        if c.unacked:
            sub = await js.pull_subscribe_bind(c.name, spec.name)
            fetched = 0
            deadline = time.monotonic() + 10.0
            while fetched < c.unacked and time.monotonic() < deadline:
                with contextlib.suppress(nats.errors.TimeoutError, TimeoutError):
                    fetched += len(await sub.fetch(c.unacked - fetched, timeout=1.0))
            await sub.unsubscribe()


#: JetStream errors seen while an account is still being set up on a server:
#: 10039 not enabled for account, 10049 error creating store, 10077 storage dir.
#: 10005 no suitable peers (the meta leader has not heard from every peer yet).
_SETTLING_ERRORS = {10005, 10039, 10049, 10077}


async def _meta_complete(dep: Deployment, timeout: float = 20.0) -> None:
    """Wait until the meta leader sees every server as a current peer."""
    nc = await nats.connect(
        servers=dep.urls,
        user_credentials=dep.sys_user.creds,
        connect_timeout=2,
        name="natsops-demo-setup",
    )
    want = len(dep.servers)
    last = "no reply"
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                msg = await nc.request(
                    "$SYS.REQ.SERVER.PING.JSZ", b'{"leader_only":true}', timeout=1.0
                )
                meta = (json.loads(msg.data).get("data") or {}).get("meta_cluster")
                meta = meta or {}
                peers = [
                    p
                    for p in meta.get("replicas") or []
                    if p.get("current") and not p.get("offline")
                ]
                if meta.get("leader") and len(peers) + 1 >= want:
                    return
                last = f"{len(peers) + 1}/{want} current meta peers"
            except (
                nats.errors.TimeoutError,
                nats.errors.NoRespondersError,
                ValueError,
            ):
                last = "no JSZ reply"
            await asyncio.sleep(0.05)
    finally:
        with contextlib.suppress(Exception):
            await nc.close()
    raise HarnessError(
        f"JetStream meta group incomplete after {timeout:.0f}s ({last})",
        f"see the server logs under {dep.directory}",
    )


async def _warm_up(dep: Deployment, who: Identity, timeout: float = 15.0) -> None:
    """Wait until every server has JetStream enabled for ``who``'s account.

    A server enables an account's JetStream when it first meets the account, so
    right after start a stream placed on it can fail; ask each server directly.
    """

    async def one(url: str) -> None:
        nc = await nats.connect(
            servers=[url],
            user_credentials=who.creds,
            connect_timeout=2,
            allow_reconnect=False,
            name="natsops-demo-setup",
        )
        try:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    await nc.jetstream(timeout=2.0).account_info()
                    return
                except (nats.js.errors.APIError, nats.errors.TimeoutError) as exc:
                    if time.monotonic() > deadline:
                        raise HarnessError(
                            f"JetStream not ready for account {who.account_name} "
                            f"on {url} ({exc})",
                            f"see the server logs under {dep.directory}",
                        ) from None
                await asyncio.sleep(0.05)
        finally:
            with contextlib.suppress(Exception):
                await nc.close()

    await asyncio.gather(*(one(url) for url in dep.urls))


async def _create_streams(nc: Client, specs: list[StreamSpec]) -> None:
    for spec in specs:
        deadline = time.monotonic() + 15.0
        while True:
            try:
                await _create_stream(nc, spec)
                break
            except nats.js.errors.APIError as exc:
                if exc.err_code not in _SETTLING_ERRORS:
                    raise
                if time.monotonic() > deadline:
                    raise
                log.debug("demo stream %s: %s; retrying", spec.name, exc)
                with contextlib.suppress(nats.js.errors.NotFoundError):
                    await nc.jetstream(timeout=5.0).delete_stream(spec.name)
                await asyncio.sleep(0.2)


async def create_sample_streams(
    dep: Deployment, specs: tuple[StreamSpec, ...] = DEMO_STREAMS
) -> None:
    """Create the sample streams and consumers through each owning account."""
    users = {"APP": dep.app_user, "OTHER": dep.other_user}
    conns: dict[str, Client] = {}
    accounts = sorted({s.account for s in specs})
    try:
        await _meta_complete(dep)
        await asyncio.gather(*(_warm_up(dep, users[a]) for a in accounts))
        for account in accounts:
            conns[account] = await _connect_user(dep, users[account])
        # One account's streams one after the other: nats-server 2.15.1 can fail
        # concurrent first stream creations of an account on one server ("could not
        # create storage directory"); accounts still go in parallel.
        await asyncio.gather(
            *(
                _create_streams(
                    conns[account], [s for s in specs if s.account == account]
                )
                for account in conns
            )
        )
    except nats.js.errors.APIError as exc:
        raise HarnessError(
            f"could not create the demo streams ({exc.description or exc})",
            f"see the server logs under {dep.directory}",
        ) from None
    finally:
        for nc in conns.values():
            with contextlib.suppress(Exception):
                await nc.close()


class Demo:
    """A running demo: the supercluster, its sample streams and the traffic."""

    def __init__(self, dep: Deployment, traffic: TrafficGenerator | None) -> None:
        self.deployment = dep
        self.traffic = traffic
        self.config_path = dep.directory / "natsops-demo.toml"
        self._closed = False
        self._write_config()

    @classmethod
    def start(
        cls,
        directory: Path | str | None = None,
        *,
        traffic: bool = True,
        scale: float = 1.0,
        clusters: list[tuple[str, int]] | None = None,
        ready_timeout: float = 60.0,
    ) -> Demo:
        """Start the servers, create the streams, start the traffic.

        ``directory`` None makes a temporary one that :meth:`close` removes.
        """
        # Look for nats-server before any folder or key is made: a start that
        # fails there must leave nothing behind.
        find_nats_server()
        dep = Deployment.start(
            directory, clusters or DEMO_CLUSTERS, ready_timeout=ready_timeout
        )
        demo: Demo | None = None
        try:
            run_coro_sync(create_sample_streams(dep, _streams_for(dep)))
            generator = TrafficGenerator(dep, scale) if traffic else None
            demo = cls(dep, generator)
            if generator is not None:
                generator.start()
        except BaseException:
            if demo is not None:
                demo.close()
            else:
                dep.close()
            raise
        return demo

    # ---- what to tell the user

    @property
    def directory(self) -> Path:
        return self.deployment.directory

    @property
    def sys_user(self) -> Identity:
        return self.deployment.sys_user

    @property
    def app_user(self) -> Identity:
        return self.deployment.app_user

    @property
    def other_user(self) -> Identity:
        return self.deployment.other_user

    @property
    def streams(self) -> tuple[StreamSpec, ...]:
        return _streams_for(self.deployment)

    def _write_config(self) -> None:
        text = "\n".join(
            [
                "# natsops config for the demo deployment (removed with it)",
                f"server = {json.dumps(self.deployment.url)}",
                f"creds = {json.dumps(self.sys_user.creds)}",
                "",
                "[accounts.APP]",
                f"creds = {json.dumps(self.app_user.creds)}",
                "",
            ]
        )
        self.config_path.write_text(text)

    def dashboard_args(
        self, base: argparse.Namespace | None = None
    ) -> argparse.Namespace:
        """Arguments for the dashboard: the system user with ``APP`` connected.

        Console preferences (theme, record, read-only, audit log, debug) are kept
        from ``base``; every connection flag is replaced.
        """
        args = (
            argparse.Namespace(**vars(base))
            if base is not None
            else (argparse.Namespace())
        )
        for name in (
            "nkey",
            "user",
            "password",
            "token",
            "tlscert",
            "tlskey",
            "tlsca",
            "inbox_prefix",
            "context",
            "account_context",
            "profile",
        ):
            setattr(args, name, None)
        args.tlsfirst = False
        args.server = self.deployment.url
        args.creds = self.sys_user.creds
        args.account_creds = [f"APP={self.app_user.creds}"]
        args.config = str(self.config_path)
        args.command = None
        return args

    def describe(self) -> list[str]:
        """The lines ``demo --no-ui`` prints: addresses, creds, command lines."""
        dep = self.deployment
        clusters = ", ".join(f"{c} ({n} servers)" for c, n in dep.clusters)
        lines = [
            f"natsops demo: supercluster {clusters}",
            f"url:          {dep.url}",
        ]
        for server in dep.servers.values():
            lines.append(
                f"server:       {server.name} {server.client_url} "
                f"monitor http://127.0.0.1:{server.http_port}"
            )
        lines += [
            f"system creds: {self.sys_user.creds}",
            f"APP creds:    {self.app_user.creds}",
            f"OTHER creds:  {self.other_user.creds}",
            f"config:       {self.config_path}",
            f"data dir:     {dep.directory}",
        ]
        for spec in self.streams:
            consumers = ", ".join(c.name for c in spec.consumers)
            lines.append(
                f"stream:       {spec.account} {spec.name} R{spec.replicas} "
                f"in {spec.cluster} ({consumers})"
            )
        if self.traffic is not None:
            lines.append(
                f"traffic:      {self.traffic.stats.connections} named connections "
                "in APP and OTHER"
            )
        lines += [
            "",
            "dashboard:",
            f"  natsops --config {self.config_path}",
            f"  natsops --server {dep.url} --creds {self.sys_user.creds} "
            f"--account-creds APP={self.app_user.creds}",
            "natscli:",
            f"  nats context save natsops-demo --server {dep.url} "
            f"--creds {self.sys_user.creds}",
            "  nats --context natsops-demo server list",
            f"  nats --server {dep.url} --creds {self.app_user.creds} stream ls",
            "",
            "Press Ctrl-C to stop the demo and remove its data.",
        ]
        return lines

    # ---- teardown

    def close(self) -> None:
        """Stop the traffic and every server, and remove the temporary data."""
        if self._closed:
            return
        self._closed = True
        if self.traffic is not None:
            self.traffic.stop()
        self.deployment.close()

    def __enter__(self) -> Demo:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _streams_for(dep: Deployment) -> tuple[StreamSpec, ...]:
    """The sample streams that fit the deployment's clusters."""
    names = [c for c, _ in dep.clusters]
    size = {c: n for c, n in dep.clusters}
    out = []
    for spec in DEMO_STREAMS:
        cluster = spec.cluster if spec.cluster in names else names[-1]
        replicas = min(spec.replicas, size[cluster])
        out.append(
            StreamSpec(
                spec.name,
                spec.account,
                spec.subjects,
                replicas,
                cluster,
                spec.seed_messages,
                spec.consumers,
                spec.storage,
            )
        )
    return tuple(out)
