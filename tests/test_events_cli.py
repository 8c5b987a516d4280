"""``natsops events`` and ``natsops replay`` as a person runs them (subprocesses)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import nats
import pytest

from natsops.harness import Deployment

pytestmark = pytest.mark.timeout(120)


def _cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "natsops", *args]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("NATS_URL", None)
    env["HOME"] = env.get("HOME", "/tmp")
    return env


def _events_args(dep: Deployment, *extra: str) -> list[str]:
    return _cmd(
        "events",
        "--server",
        dep.url,
        "--creds",
        dep.sys_user.creds,
        "--account-creds",
        f"APP={dep.app_user.creds}",
        *extra,
    )


@contextmanager
def _churn(dep: Deployment, name: str) -> Iterator[threading.Event]:
    """Connect and disconnect a client named ``name`` until told to stop."""
    stop = threading.Event()

    async def loop() -> None:
        while not stop.is_set():
            nc = await nats.connect(
                servers=dep.urls[:1], user_credentials=dep.app_user.creds, name=name
            )
            await nc.close()
            await asyncio.sleep(0.02)  # pacing the load, not synchronising

    thread = threading.Thread(target=lambda: asyncio.run(loop()), daemon=True)
    thread.start()
    try:
        yield stop
    finally:
        stop.set()
        thread.join(10)


def test_count_stops_after_n_matching_events(cluster: Deployment) -> None:
    with _churn(cluster, "cli-count"):
        proc = subprocess.run(
            _events_args(cluster, "--count", "3", "--json", "--type", "client_connect"),
            capture_output=True,
            text=True,
            timeout=60,
            env=_env(),
        )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == 3
    events = [json.loads(line) for line in lines]
    assert {e["kind"] for e in events} == {"connect"}
    assert all(e["event"]["client"]["jwt"] == "<redacted>" for e in events)
    assert "printed 3 events" in proc.stderr
    for secret in (cluster.app_user.jwt, cluster.sys_user.jwt, cluster.app_user.seed):
        assert secret not in proc.stdout + proc.stderr


def test_duration_and_record_then_replay(cluster: Deployment, tmp_path: Path) -> None:
    recording = tmp_path / "storm.jsonl"
    with _churn(cluster, "cli-recorded"):
        proc = subprocess.run(
            _events_args(cluster, "--duration", "1.5", "--record", str(recording)),
            capture_output=True,
            text=True,
            timeout=60,
            env=_env(),
        )
    assert proc.returncode == 0, proc.stderr
    took = re.search(r"printed \d+ events \((\d+\.\d)s\)", proc.stderr)
    assert took and 1.5 <= float(took.group(1)) < 3, proc.stderr
    assert f"to {recording}" in proc.stderr
    live = [line for line in proc.stdout.splitlines() if "'cli-recorded'" in line]
    assert live, proc.stdout[-2000:]
    text = recording.read_text()
    assert cluster.app_user.jwt not in text and cluster.app_user.seed not in text

    replay = subprocess.run(
        _cmd("replay", str(recording), "--print"),
        capture_output=True,
        text=True,
        timeout=60,
        env=_env(),
    )
    assert replay.returncode == 0, replay.stderr
    # the same lines, in the same order (the summaries carry the client names)
    assert replay.stdout.splitlines() == proc.stdout.splitlines()

    as_json = subprocess.run(
        _cmd("replay", str(recording), "--json", "--type", "connect"),
        capture_output=True,
        text=True,
        timeout=60,
        env=_env(),
    )
    assert as_json.returncode == 0, as_json.stderr
    kinds = {json.loads(line)["kind"] for line in as_json.stdout.splitlines()}
    assert kinds == {"connect"}


def test_ctrl_c_exits_cleanly_with_counts(cluster: Deployment) -> None:
    with _churn(cluster, "cli-interrupt"):
        proc = subprocess.Popen(
            _events_args(cluster, "--type", "connect"),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=_env(),
        )
        assert proc.stdout is not None
        first = proc.stdout.readline()  # the command is up and printing
        assert "connected to" in first
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "interrupted" in err and "events" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such recording"),
        (b"hello world\n", "is not a natsops recording"),
        (b'{"some": "json"}\n', "is not a natsops recording"),
        (b"", "is empty"),
    ],
)
def test_replay_of_a_bad_file_is_one_line(
    tmp_path: Path, content: bytes | None, message: str
) -> None:
    path = tmp_path / "rec.jsonl"
    if content is not None:
        path.write_bytes(content)
    proc = subprocess.run(
        _cmd("replay", str(path), "--print"),
        capture_output=True,
        text=True,
        timeout=60,
        env=_env(),
    )
    assert proc.returncode in (1, 2)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("natsops: ")
    assert message in lines[0]


def test_replay_of_a_directory_is_one_line(tmp_path: Path) -> None:
    proc = subprocess.run(
        _cmd("replay", str(tmp_path)),
        capture_output=True,
        text=True,
        timeout=60,
        env=_env(),
    )
    assert proc.returncode == 1
    assert proc.stderr.strip() == f"natsops: {tmp_path} is a directory, not a recording"


def test_replay_counts_lines_that_are_not_events(tmp_path: Path) -> None:
    path = tmp_path / "rec.jsonl"
    good = {
        "subject": "$SYS.SERVER.NX.LAMEDUCK",
        "source": "system",
        "received": 1.0,
        "payload": {"name": "c9-n9", "id": "NX", "seq": 4},
    }
    path.write_text(json.dumps(good) + "\nnot json\n" + json.dumps(good) + "\n")
    proc = subprocess.run(
        _cmd("replay", str(path)),  # stdout is a pipe: prints
        capture_output=True,
        text=True,
        timeout=60,
        env=_env(),
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("c9-n9: server entered lame duck mode") == 2
    assert "1 lines of" in proc.stderr
