"""The operation commands end to end: confirmation, --yes, --json, read-only."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from test_ops_support import connect, js, make_consumer, make_stream, unique

from natsops import cli
from natsops.audit import read_audit
from natsops.harness import Deployment


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No user config, no read-only from the environment, audit log in tmp."""
    for var in ("NATSOPS_READ_ONLY", "NATSOPS_CONFIG", "NATSOPS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    return tmp_path / "audit.jsonl"


def base(dep: Deployment, audit: Path) -> list[str]:
    return [
        "--server",
        dep.url,
        "--creds",
        dep.sys_user.creds,
        "--account-creds",
        f"APP={dep.app_user.creds}",
        "--audit-log",
        str(audit),
    ]


def run(dep: Deployment, audit: Path, *argv: str) -> int:
    args = list(argv)
    # connection flags go after the subcommand(s)
    split = 2 if args[0] == "stepdown" else 1
    return cli.main([*args[:split], *base(dep, audit), *args[split:]])


def setup_stream(dep: Deployment, replicas: int, consumer: str | None = None) -> str:
    name = unique("CLI")

    async def go() -> None:
        nc = await connect(dep, dep.app_user)
        try:
            await make_stream(nc, name, replicas=replicas)
            if consumer:
                await make_consumer(nc, name, consumer)
        finally:
            await nc.close()

    asyncio.run(go())
    return name


def info(dep: Deployment, api: str) -> dict:
    async def go() -> dict:
        nc = await connect(dep, dep.app_user)
        try:
            return await js(nc, api)  # type: ignore[no-any-return]
        finally:
            await nc.close()

    return asyncio.run(go())


def test_stepdown_stream_with_yes_prints_the_new_leader(
    cluster: Deployment, env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    name = setup_stream(cluster, 3)
    before = info(cluster, f"STREAM.INFO.{name}")["cluster"]["leader"]

    code = run(cluster, env, "stepdown", "stream", name, "--account", "APP", "--yes")

    out = capsys.readouterr().out
    after = info(cluster, f"STREAM.INFO.{name}")["cluster"]["leader"]
    assert code == 0, out
    assert after != before
    assert f"new leader: {after} (was {before})" in out
    entries = read_audit(env)
    assert [(e.action, e.result) for e in entries] == [("stream-stepdown", "ok")]
    assert entries[0].account_name == "APP"
    assert entries[0].user_key == cluster.app_user.public_key
    assert entries[0].url.startswith("nats://127.0.0.1:")


def test_json_outcome_for_consumer_stepdown(
    cluster: Deployment, env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    name = setup_stream(cluster, 3, consumer="c1")
    code = run(
        cluster,
        env,
        "stepdown",
        "consumer",
        name,
        "c1",
        "--account",
        cluster.accounts["APP"].public_key,
        "--yes",
        "--json",
    )
    doc = json.loads(capsys.readouterr().out)
    assert code == 0
    assert doc["plan"]["subject"] == f"$JS.API.CONSUMER.LEADER.STEPDOWN.{name}.c1"
    assert doc["outcome"]["verified"] is True
    now = info(cluster, f"CONSUMER.INFO.{name}.c1")["cluster"]["leader"]
    assert doc["outcome"]["details"]["leader"] == now != doc["plan"]["leader"]


def test_without_terminal_and_yes_nothing_happens(
    cluster: Deployment, env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    name = setup_stream(cluster, 3)
    before = info(cluster, f"STREAM.INFO.{name}")["cluster"]["leader"]

    code = run(cluster, env, "stepdown", "stream", name, "--account", "APP")

    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1
    assert err == [
        "natsops: stream-stepdown not performed: no terminal to confirm on and no "
        "--yes: run it on a terminal, or pass --yes to confirm"
    ]
    assert info(cluster, f"STREAM.INFO.{name}")["cluster"]["leader"] == before
    assert [(e.action, e.result) for e in read_audit(env)] == [
        ("stream-stepdown", "refused")
    ]


def test_errors_are_one_line_and_audited(
    cluster: Deployment, env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    r1 = setup_stream(cluster, 1)
    cases = [
        (
            ["stepdown", "stream", r1, "--account", "APP", "--yes"],
            f"natsops: stream {r1} has one replica: nothing to step down to",
        ),
        (
            ["stepdown", "stream", "NOPE", "--account", "APP", "--yes"],
            "natsops: stream 'NOPE' not found in account APP",
        ),
        (
            ["stepdown", "stream", r1, "--account", "OTHER", "--yes"],
            "natsops: no connection for account 'OTHER'",
        ),
        (
            ["purge-account", "APP"],
            "natsops: account-purge not performed: no terminal",
        ),
    ]
    for argv, start in cases:
        code = run(cluster, env, *argv)
        err = capsys.readouterr().err.strip().splitlines()
        assert code == 1, argv
        assert len(err) == 1 and err[0].startswith(start), err
    assert "--account-creds OTHER=FILE" in " ".join(
        e.error for e in read_audit(env) if "OTHER" in e.error
    )
    assert [e.result for e in read_audit(env)] == ["error", "error", "error", "refused"]
    streams = info(cluster, "STREAM.NAMES")["streams"]
    assert r1 in streams


def test_read_only_refuses_every_command(
    cluster: Deployment,
    env: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    name = setup_stream(cluster, 3, consumer="ro")
    before = info(cluster, f"STREAM.INFO.{name}")
    commands = [
        ["stepdown", "meta"],
        ["stepdown", "stream", name, "--account", "APP"],
        ["stepdown", "consumer", name, "ro", "--account", "APP"],
        [
            "move",
            name,
            "--account",
            "APP",
            "--from-server",
            before["cluster"]["leader"],
        ],
        ["peer-remove", name, before["cluster"]["leader"], "--account", "APP"],
        ["server-remove", "c1-n3"],
        ["purge-account", "APP"],
        ["pause", name, "ro", "--account", "APP", "--until", "10m"],
        ["resume", name, "ro", "--account", "APP"],
        ["reload", "c1-n1"],
    ]
    for i, argv in enumerate(commands):
        if i % 2:
            monkeypatch.setenv("NATSOPS_READ_ONLY", "1")
            extra = ["--yes"]
        else:
            monkeypatch.delenv("NATSOPS_READ_ONLY", raising=False)
            extra = ["--read-only", "--yes"]
        code = run(cluster, env, *argv, *extra)
        err = capsys.readouterr().err.strip().splitlines()
        assert code == 1, argv
        assert len(err) == 1 and "refused: read-only mode" in err[0], (argv, err)
    after = info(cluster, f"STREAM.INFO.{name}")
    assert after["cluster"]["leader"] == before["cluster"]["leader"]
    assert not info(cluster, f"CONSUMER.INFO.{name}.ro").get("paused")
    entries = read_audit(env)
    assert len(entries) == len(commands)
    assert {e.result for e in entries} == {"refused"}


def test_pause_with_a_duration_then_resume(
    cluster: Deployment, env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    name = setup_stream(cluster, 1, consumer="p")
    code = run(cluster, env, "pause", name, "p", "--account", "APP", "--until", "10m")
    assert code == 1  # no terminal, no --yes
    capsys.readouterr()
    code = run(
        cluster, env, "pause", name, "p", "--account", "APP", "--until", "10m", "-y"
    )
    assert code == 0
    assert "consumer paused until" in capsys.readouterr().out
    assert info(cluster, f"CONSUMER.INFO.{name}.p")["paused"] is True
    code = run(cluster, env, "resume", name, "p", "--account", "APP", "-y")
    assert code == 0
    assert capsys.readouterr().out.startswith("consumer resumed")
    assert not info(cluster, f"CONSUMER.INFO.{name}.p").get("paused")
    assert [e.result for e in read_audit(env)] == ["refused", "ok", "ok"]


def _on_terminal(dep: Deployment, audit: Path, answer: bytes, *argv: str) -> tuple:
    """Run natsops with its stdin on a real pseudo-terminal and type ``answer``."""
    import os
    import subprocess
    import sys

    master, slave = os.openpty()
    env = {k: v for k, v in os.environ.items() if not k.startswith("NATSOPS_READ_ONLY")}
    env["XDG_CONFIG_HOME"] = str(audit.parent / "config")
    # Only commands without --account run here (see _no_abbreviations).
    proc = subprocess.Popen(
        [sys.executable, "-m", "natsops", *argv[:2], *base(dep, audit), *argv[2:]],
        stdin=slave,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    os.close(slave)
    try:
        os.write(master, answer)
        out, err = proc.communicate(timeout=60)
    finally:
        os.close(master)
    return proc.returncode, out.decode(), err.decode()


def test_terminal_confirmation_yes_and_no(cluster: Deployment, env: Path) -> None:
    async def leader() -> str | None:
        from test_ops_support import meta_leader

        nc = await connect(cluster, cluster.sys_user)
        try:
            return await meta_leader(nc)
        finally:
            await nc.close()

    before = asyncio.run(leader())
    code, out, err = _on_terminal(cluster, env, b"n\n", "stepdown", "meta")
    assert code == 1, err
    assert "subject:    $JS.API.META.LEADER.STEPDOWN" in err
    assert "natsops: meta-stepdown cancelled: nothing was changed" in err
    assert asyncio.run(leader()) == before

    code, out, err = _on_terminal(cluster, env, b"y\n", "stepdown", "meta")
    assert code == 0, err
    assert "new meta leader:" in out
    assert [e.result for e in read_audit(env)] == ["cancelled", "ok"]
