"""Shared helpers of the report tests: run the CLI, hold client connections on a
background loop (the CLI runs its own event loop), and ask the servers directly."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Coroutine, Iterator, Sequence
from typing import Any, TypeVar

import nats
import pytest
from nats.aio.client import Client

from natsops import cli
from natsops.harness import Deployment

T = TypeVar("T")


@pytest.fixture(autouse=True)
def _isolated_env(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """No natscli context, natsops config or NATS_* variable leaks into a test."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(home / "state"))
    for name in ("NATS_CONTEXT", "NATS_URL", "NATS_CREDS", "NATSOPS_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("COLUMNS", raising=False)


def run_cli(
    capsys: pytest.CaptureFixture[str], dep: Deployment, *argv: str
) -> tuple[int, str, str]:
    """Run ``natsops <argv>`` against ``dep`` as the system user."""
    code = cli.main([*argv, "--server", dep.url, "--creds", dep.sys_user.creds])
    out, err = capsys.readouterr()
    return code, out, err


def run_json(
    capsys: pytest.CaptureFixture[str], dep: Deployment, *argv: str
) -> dict[str, Any]:
    """Run a command with ``--json``; it must succeed and print one JSON document."""
    code, out, err = run_cli(capsys, dep, *argv, "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert isinstance(doc, dict)
    return doc


class Background:
    """An event loop in a thread, for client connections that outlive a CLI run."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture(name="background")
def background_fixture() -> Iterator[Background]:
    bg = Background()
    yield bg
    bg.close()


async def connect(urls: Sequence[str] | str, creds: str, name: str = "") -> Client:
    servers = [urls] if isinstance(urls, str) else list(urls)
    return await nats.connect(
        servers=servers,
        user_credentials=creds,
        name=name or None,
        connect_timeout=5,
        max_reconnect_attempts=3,
    )


async def gather_replies(
    nc: Client, subject: str, body: dict[str, Any] | None, want: int
) -> dict[str, dict[str, Any]]:
    """A direct fan-out (no natsops code): server name to the reply envelope."""
    inbox = nc.new_inbox()
    replies: dict[str, dict[str, Any]] = {}
    done = asyncio.Event()

    async def on_msg(msg: Any) -> None:
        doc = json.loads(msg.data)
        replies[doc["server"]["name"]] = doc
        if len(replies) >= want:
            done.set()

    sub = await nc.subscribe(inbox, cb=on_msg)
    await nc.publish(subject, json.dumps(body or {}).encode(), reply=inbox)
    try:
        await asyncio.wait_for(done.wait(), 5)
    finally:
        await sub.unsubscribe()
    return replies


async def system_replies(
    dep: Deployment, kind: str, body: dict[str, Any] | None = None, want: int = 0
) -> dict[str, dict[str, Any]]:
    """Every server's ``$SYS.REQ.SERVER.PING.<kind>`` reply, asked directly."""
    nc = await connect(dep.urls, dep.sys_user.creds)
    try:
        return await gather_replies(
            nc,
            f"$SYS.REQ.SERVER.PING.{kind}",
            body,
            want or len(dep.running_servers()),
        )
    finally:
        await nc.close()


async def js_api(nc: Client, subject: str, body: Any = None) -> dict[str, Any]:
    """A JetStream API call; the reply must not be an error."""
    payload = b"" if body is None else json.dumps(body).encode()
    msg = await nc.request(f"$JS.API.{subject}", payload, timeout=5)
    doc: dict[str, Any] = json.loads(msg.data)
    assert "error" not in doc, doc
    return doc


async def add_stream(nc: Client, config: dict[str, Any]) -> dict[str, Any]:
    """Create a stream, retrying while a fresh meta group settles (bounded)."""
    deadline = asyncio.get_running_loop().time() + 15
    while True:
        msg = await nc.request(
            f"$JS.API.STREAM.CREATE.{config['name']}",
            json.dumps(config).encode(),
            timeout=5,
        )
        doc: dict[str, Any] = json.loads(msg.data)
        if "error" not in doc:
            return doc
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"stream {config['name']} not created: {doc}")
        await asyncio.sleep(0.1)
