"""The demo: ``natsops demo --no-ui`` as a real subprocess, and the dashboard hand-off.

The subprocess test reads the printed addresses and creds, checks the sample streams
and consumers on the servers, sees traffic move, then interrupts the demo and checks
that no server process and no data are left behind.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nats
import pytest
from nats.aio.client import Client

from natsops import cli
from natsops.demo import READY_LINE
from natsops.harness import async_wait_for, run_coro_sync, wait_for
from natsops.settings import resolve_settings

READY_TIMEOUT = 90.0


def _server_pids_under(directory: Path) -> list[int]:
    """Pids of nats-server processes whose command line names ``directory``."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if "nats-server" in cmdline and str(directory) in cmdline:
            pids.append(int(entry.name))
    return pids


class DemoProcess:
    """``natsops demo --no-ui`` in a subprocess, its output read by a thread."""

    def __init__(self, tmp: Path, *extra: str) -> None:
        env = dict(os.environ)
        env["TMPDIR"] = str(tmp)
        env["XDG_CONFIG_HOME"] = str(tmp / "config")
        env["XDG_STATE_HOME"] = str(tmp / "state")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "natsops", "demo", "--no-ui", *extra],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            env=env,
            text=True,
        )
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> dict[str, str]:
        """Read lines until the ready line; return the ``key: value`` fields."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no ready line after {timeout:.0f}s: {self.lines}")
            try:
                line = self._queue.get(timeout=left)
            except queue.Empty:
                continue
            if line is None:
                err = self.proc.stderr.read() if self.proc.stderr else ""
                raise AssertionError(f"demo exited early: {self.lines} {err}")
            self.lines.append(line)
            if line == READY_LINE:
                break
        fields: dict[str, str] = {}
        for line in self.lines:
            m = re.match(r"^([A-Za-z][A-Za-z ]*):\s+(\S.*)$", line)
            if m:
                fields.setdefault(m.group(1), m.group(2))
        return fields

    def rest_of_output(self, timeout: float) -> list[str]:
        deadline = time.monotonic() + timeout
        rest = []
        while time.monotonic() < deadline:
            try:
                line = self._queue.get(timeout=0.1)
            except queue.Empty:
                continue
            if line is None:
                break
            rest.append(line)
        return rest

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


@pytest.fixture
def demo_proc(tmp_path: Path) -> Iterator[DemoProcess]:
    proc = DemoProcess(tmp_path)
    yield proc
    proc.kill()


async def _connect(url: str, creds: str) -> Client:
    return await nats.connect(
        servers=url.split(","), user_credentials=creds, connect_timeout=2
    )


async def _stream_counts(nc: Client) -> dict[str, int]:
    js = nc.jetstream(timeout=5)
    counts = {}
    for name in ("ORDERS", "EVENTS", "AUDIT", "METRICS"):
        info = await js.stream_info(name)
        counts[name] = info.state.messages
    return counts


async def _check_app_account(url: str, creds: str) -> None:
    """Streams, placement, consumers and backlog as the demo promises them."""
    nc = await _connect(url, creds)
    try:
        js = nc.jetstream(timeout=5)
        expected = {"ORDERS": (3, "c1"), "EVENTS": (3, "c2"), "AUDIT": (1, "c1")}
        expected["METRICS"] = (1, "c2")
        for name, (replicas, cluster) in expected.items():
            info = await js.stream_info(name)
            assert info.config.num_replicas == replicas, name
            assert info.cluster is not None and info.cluster.name == cluster, name
            assert info.state.messages > 0, name

        billing = await js.consumer_info("ORDERS", "billing")
        assert billing.num_pending >= 200  # the seed batch, nobody reads it
        archiver = await js.consumer_info("AUDIT", "archiver")
        assert archiver.num_ack_pending == 50
        notifier = await js.consumer_info("EVENTS", "notifier")
        assert notifier.config.deliver_subject == "deliver.notifier"
        assert notifier.config.pause_until  # paused push consumer
        metrics = await js.stream_info("METRICS")
        assert set(metrics.config.subjects or []) == {"METRICS.cpu", "METRICS.mem"}

        # Traffic moves: every stream with a publisher grows.
        first = await _stream_counts(nc)

        async def grew() -> bool:
            now = await _stream_counts(nc)
            return all(now[k] > first[k] for k in first)

        await async_wait_for(grew, timeout=20, what="demo streams to grow")

        # And the fulfilment worker keeps up: ack floor moves.
        before = (await js.consumer_info("ORDERS", "fulfilment")).ack_floor

        async def acked() -> bool:
            after = (await js.consumer_info("ORDERS", "fulfilment")).ack_floor
            return bool(after and before and after.stream_seq > before.stream_seq)

        await async_wait_for(acked, timeout=20, what="fulfilment acks")
    finally:
        await nc.close()


async def _check_system_view(url: str, creds: str) -> None:
    """As the system user: six servers, named traffic connections, rising counters."""
    nc = await _connect(url, creds)
    try:

        async def connz() -> tuple[set[str], set[str], int]:
            inbox = nc.new_inbox()
            got: list[Any] = []
            sub = await nc.subscribe(inbox)
            await nc.publish("$SYS.REQ.SERVER.PING.CONNZ", b"{}", reply=inbox)
            deadline = time.monotonic() + 3
            while len(got) < 6 and time.monotonic() < deadline:
                try:
                    msg = await sub.next_msg(timeout=deadline - time.monotonic())
                except (TimeoutError, nats.errors.TimeoutError):
                    break
                got.append(json.loads(msg.data))
            await sub.unsubscribe()
            servers = {r["server"]["name"] for r in got}
            names = {
                c.get("name", "")
                for r in got
                for c in (r.get("data") or {}).get("connections") or []
            }
            in_msgs = sum((r.get("data") or {}).get("in_msgs", 0) for r in got)
            return servers, names, in_msgs

        servers, names, _ = await connz()
        assert servers == {f"c{c}-n{n}" for c in (1, 2) for n in (1, 2, 3)}
        assert {"orders-api", "clickstream", "telemetry-gateway"} <= names
        assert {"fulfilment-worker", "pricing-service", "checkout"} <= names
    finally:
        await nc.close()


def test_demo_no_ui_serves_streams_and_traffic_then_stops_clean(
    demo_proc: DemoProcess,
) -> None:
    fields = demo_proc.wait_ready()
    url, sys_creds = fields["url"], fields["system creds"]
    app_creds, other_creds = fields["APP creds"], fields["OTHER creds"]
    data_dir = Path(fields["data dir"])
    for path in (sys_creds, app_creds, other_creds, fields["config"]):
        assert Path(path).is_file(), path
    assert data_dir.is_dir()
    assert len(_server_pids_under(data_dir)) == 6
    text = "\n".join(demo_proc.lines)
    assert f"natsops --config {fields['config']}" in text
    assert "nats context save natsops-demo" in text
    # The printed creds are paths, never the secrets themselves.
    assert "-----BEGIN" not in text and "SUA" not in text and "eyJ" not in text

    run_coro_sync(_check_app_account(url, app_creds))
    run_coro_sync(_check_system_view(url, sys_creds))

    demo_proc.proc.send_signal(signal.SIGINT)
    assert demo_proc.proc.wait(30) == 0
    rest = demo_proc.rest_of_output(5)
    assert any("stopped" in line for line in rest), rest
    assert _server_pids_under(data_dir) == []
    assert not data_dir.exists()
    stderr = demo_proc.proc.stderr.read() if demo_proc.proc.stderr else ""
    assert "Traceback" not in stderr, stderr


def test_demo_no_ui_stops_clean_on_sigterm(tmp_path: Path) -> None:
    proc = DemoProcess(tmp_path, "--no-traffic")
    try:
        fields = proc.wait_ready()
        data_dir = Path(fields["data dir"])
        assert len(_server_pids_under(data_dir)) == 6
        proc.proc.send_signal(signal.SIGTERM)
        assert proc.proc.wait(30) == 0
        assert _server_pids_under(data_dir) == []
        assert not data_dir.exists()
    finally:
        proc.kill()


def test_demo_opens_dashboard_as_system_user_with_app_account(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """``natsops demo`` hands the dashboard settings for the demo's own users, and
    tears everything down when the dashboard returns."""
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("NATS_URL", "nats://127.0.0.1:1")  # must not leak in
    seen: dict[str, Any] = {}

    def run_dashboard(args: argparse.Namespace) -> int:
        settings = resolve_settings(args)
        seen["settings"] = settings
        seen["theme"] = getattr(args, "theme", None)
        seen["dir"] = Path(settings.system.creds or "").parent.parent
        seen["pids"] = _server_pids_under(seen["dir"])
        seen["threads"] = {t.name for t in threading.enumerate()}
        # The real dashboard, headless, on what the demo handed over.
        return asyncio.run(_drive_dashboard(settings, seen))

    fake = types.ModuleType("natsops.ui.launch")
    fake.run_dashboard = run_dashboard  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "natsops.ui.launch", fake)

    assert cli.main(["--theme", "natsops-light", "demo"]) == 0
    assert seen["theme"] == "natsops-light"
    settings = seen["settings"]
    assert settings.system.creds.name == "SYS-sys.creds"
    assert set(settings.accounts) == {"APP"}
    assert settings.accounts["APP"].creds.name == "APP-app.creds"
    assert len(settings.system.servers) == 6
    assert all(s.startswith("nats://127.0.0.1:") for s in settings.system.servers)
    assert len(seen["pids"]) == 6
    # The dashboard saw the whole supercluster as the system user, with APP.
    assert seen["roll_call"].startswith("6/6 servers"), seen["roll_call"]
    assert seen["user"] == "sys" and seen["account"] == "SYS"
    assert seen["accounts"] == ["APP"]
    assert {("APP", n) for n in ("ORDERS", "EVENTS", "AUDIT", "METRICS")} <= seen[
        "streams"
    ]
    assert ("OTHER", "JOBS") in seen["streams"]
    # Quitting the dashboard stopped every server and removed the data.
    wait_for(lambda: not _server_pids_under(seen["dir"]), 10, "servers to exit")
    assert not seen["dir"].exists()
    # The traffic generator ran in this process and its thread has ended.
    assert "natsops-demo-traffic" in seen["threads"]
    assert "natsops-demo-traffic" not in {t.name for t in threading.enumerate()}


async def _drive_dashboard(settings: Any, seen: dict[str, Any]) -> int:
    from natsops.connection import Hub
    from natsops.ui.app import NatsopsApp
    from natsops.ui.source import LiveSource
    from natsops.ui.testing import polled, show

    hub = await Hub.open(settings)
    source = LiveSource(hub)
    app = NatsopsApp(source)
    try:
        async with app.run_test(size=(160, 45)) as pilot:
            await show(app, "servers", timeout=30)

            async def all_servers() -> bool:
                await polled(app, "servers", 1, 30)
                return app.roll_call.startswith("6/6")

            await async_wait_for(all_servers, 30, "6/6 servers in the dashboard")
            seen["roll_call"] = app.roll_call
            me = source.identity()
            seen["user"], seen["account"] = me.user, me.account
            seen["accounts"] = sorted(hub.accounts)
            await show(app, "streams", timeout=30)
            model = app.table_of("streams").model
            seen["streams"] = {(r.values[0], r.values[1]) for r in model.rows()}
            await pilot.press("q")
    finally:
        await source.close()
        await hub.close()
    return 0
