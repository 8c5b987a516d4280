"""Helpers shared by the operations tests: clients, streams and condition waits."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client

from natsops.audit import AuditLog, read_audit
from natsops.harness import Deployment, Identity, async_wait_for
from natsops.ops import AccountConn, Operator, StaticConnections


def unique(prefix: str) -> str:
    """A stream or consumer name no other test uses."""
    return f"{prefix}_{uuid.uuid4().hex[:8].upper()}"


async def connect(
    dep: Deployment, who: Identity, url: str | None = None, **opts: Any
) -> Client:
    servers = [url] if url else dep.urls
    return await nats.connect(
        servers=servers,
        user_credentials=str(who.creds_path),
        connect_timeout=3,
        name=opts.pop("name", f"test-{who.name}"),
        **opts,
    )


async def js(nc: Client, api: str, body: dict[str, Any] | None = None) -> Any:
    """One JetStream API call; raises on an error reply."""
    payload = json.dumps(body).encode() if body is not None else b""
    msg = await nc.request(f"$JS.API.{api}", payload, timeout=5)
    reply = json.loads(msg.data)
    if "error" in reply:
        raise AssertionError(f"{api}: {reply['error']}")
    return reply


async def make_stream(
    nc: Client, name: str, replicas: int = 1, **extra: Any
) -> dict[str, Any]:
    config = {"name": name, "subjects": [f"{name.lower()}.>"], "num_replicas": replicas}
    config.update(extra)
    payload = json.dumps(config).encode()
    created: dict[str, Any] = {}

    async def create() -> bool:
        # nats-server 2.15.1 sometimes fails the first streams of an account on a
        # fresh cluster (10049: no account store directory yet; 10039: JetStream
        # not yet enabled for the account); right after a meta leader change the
        # new leader may not know its peers yet (10005: no suitable peers).
        msg = await nc.request(f"$JS.API.STREAM.CREATE.{name}", payload, timeout=5)
        reply = json.loads(msg.data)
        error = reply.get("error")
        if error and error.get("err_code") not in (10049, 10039, 10005, 10008):
            raise AssertionError(f"STREAM.CREATE.{name}: {error}")
        created.update(reply)
        return not error

    await async_wait_for(create, 10, f"stream {name} created", interval=0.1)
    info = created

    async def has_leader() -> bool:
        got = await js(nc, f"STREAM.INFO.{name}")
        cluster = got.get("cluster") or {}
        return bool(cluster.get("leader")) and len(
            [r for r in cluster.get("replicas") or [] if r.get("current")]
        ) == (replicas - 1)

    await async_wait_for(has_leader, 10, f"stream {name} ready")
    return info  # type: ignore[no-any-return]


async def publish_stored(
    jsc: Any,
    subject: str,
    payload: bytes,
    timeout: float,
    *,
    msg_id: str | None = None,
) -> None:
    """Publish through JetStream until the stream acknowledges it, bounded: a stream
    just created may not answer its first publishes while its replicas settle.
    ``msg_id`` de-duplicates a repeat whose acknowledgement was lost."""
    headers = {"Nats-Msg-Id": msg_id} if msg_id else None

    async def stored() -> bool:
        try:
            await jsc.publish(subject, payload, timeout=2, headers=headers)
        except (
            nats.js.errors.NoStreamResponseError,
            nats.errors.NoRespondersError,
            nats.errors.TimeoutError,
        ):
            return False
        return True

    await async_wait_for(stored, timeout, f"a stored message on {subject}")


async def make_consumer(
    nc: Client, stream: str, name: str, **config: Any
) -> dict[str, Any]:
    body = {
        "stream_name": stream,
        "config": {"durable_name": name, "ack_policy": "explicit", **config},
    }
    info = await js(nc, f"CONSUMER.CREATE.{stream}.{name}", body)

    async def has_leader() -> bool:
        got = await js(nc, f"CONSUMER.INFO.{stream}.{name}")
        return bool((got.get("cluster") or {}).get("leader"))

    await async_wait_for(has_leader, 10, f"consumer {name} ready")
    return info  # type: ignore[no-any-return]


async def stream_info(nc: Client, name: str) -> dict[str, Any]:
    return await js(nc, f"STREAM.INFO.{name}")  # type: ignore[no-any-return]


async def meta_leader(sys_nc: Client) -> str | None:
    try:
        msg = await sys_nc.request(
            "$SYS.REQ.SERVER.PING.JSZ", b'{"leader_only":true}', timeout=1
        )
    except Exception:
        return None
    data = json.loads(msg.data).get("data") or {}
    return (data.get("meta_cluster") or {}).get("leader")


@asynccontextmanager
async def operator_for(
    dep: Deployment,
    tmp_path: Path,
    *,
    accounts: tuple[str, ...] = ("APP",),
    read_only: bool = False,
    users: dict[str, Identity] | None = None,
) -> AsyncIterator[tuple[Operator, Client, dict[str, Client]]]:
    """An Operator over real connections: the system user plus account users."""
    sys_nc = await connect(dep, dep.sys_user)
    clients: dict[str, Client] = {}
    links: dict[str, AccountConn] = {}
    identities = {"APP": dep.app_user, "OTHER": dep.other_user, **(users or {})}
    for name in accounts:
        who = identities[name]
        clients[name] = await connect(dep, who)
        links[name] = AccountConn(name, who.account_public, clients[name])
    op = Operator(
        StaticConnections(sys_nc, links),
        read_only=read_only,
        audit=AuditLog(tmp_path / "audit.jsonl"),
        timeout=3.0,
        wait=15.0,
    )
    try:
        yield op, sys_nc, clients
    finally:
        await op.close()
        for nc in (*clients.values(), sys_nc):
            await nc.close()


def audit_lines(tmp_path: Path) -> list[Any]:
    return read_audit(tmp_path / "audit.jsonl", 1000)


def monotonic_deadline(seconds: float) -> float:
    return time.monotonic() + seconds
