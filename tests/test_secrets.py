"""No credential leaks: every command and the dashboard run with a creds file, and
neither its seed nor its JWT (nor a long piece of either) appears anywhere natsops
writes: stdout, stderr, logs at DEBUG, the audit log, event recordings, screenshots.

The users are fresh, so their secrets are known and unique to this test. Each output
is also checked to be non-empty, so that a check never passes on nothing.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import nats
import nats.errors
import pytest
from nats.js import api

from natsops import cli
from natsops.harness import (
    SYSTEM_PUB_ALLOW,
    SYSTEM_SUB_ALLOW,
    Deployment,
    Identity,
    async_wait_for,
    run_coro_sync,
)

STREAM, CONSUMER = "SECRETS", "watcher"

#: Anything shaped like an nkey seed (58 base32 characters starting with S and a
#: role letter, standing alone) is a leak, whoever's it is. Standing alone matters:
#: a public key such as ``ASX...`` holds a seed-shaped run from its second letter.
SEED_SHAPE = re.compile(r"(?<![A-Z2-7])S[UANOCPX][A-Z2-7]{56}(?![A-Z2-7])")


@dataclass
class Secrets:
    """The secret parts of the test users, as fragments to look for."""

    identities: list[Identity]
    fragments: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        for who in self.identities:
            seed, token = who.seed, who.jwt
            _header, claims, signature = token.split(".")
            self.fragments += [
                seed,
                seed[3:27],  # a long piece of the seed, after its common prefix
                seed[-24:],
                token,
                f"{claims}.{signature}",
                claims[16:48],  # past the claims' common '{"jti":"' opening
                signature[:24],
                signature[-24:],
            ]

    def leaks(self, text: str) -> list[str]:
        found = [f[:8] + "..." for f in self.fragments if f in text]
        found += [m[:8] + "..." for m in SEED_SHAPE.findall(text)]
        return found


@dataclass
class Setup:
    dep: Deployment
    sys_user: Identity
    app_user: Identity
    secrets: Secrets
    tmp: Path
    audit: Path
    recording: Path

    def conn(self) -> list[str]:
        return [
            "--server",
            self.dep.url,
            "--creds",
            self.sys_user.creds,
            "--account-creds",
            f"APP={self.app_user.creds}",
            "--audit-log",
            str(self.audit),
            "--timeout",
            "3",
        ]


@pytest.fixture(scope="module")
def setup(cluster: Deployment, tmp_path_factory: pytest.TempPathFactory) -> Setup:
    tmp = tmp_path_factory.mktemp("secrets")
    sys_user = cluster.make_user(
        "SYS", "secret-sys", pub_allow=SYSTEM_PUB_ALLOW, sub_allow=SYSTEM_SUB_ALLOW
    )
    app_user = cluster.make_user("APP", "secret-app")
    run_coro_sync(_make_stream(cluster, app_user))
    return Setup(
        dep=cluster,
        sys_user=sys_user,
        app_user=app_user,
        secrets=Secrets([sys_user, app_user]),
        tmp=tmp,
        audit=tmp / "audit.jsonl",
        recording=tmp / "events.jsonl",
    )


async def _make_stream(dep: Deployment, who: Identity) -> None:
    nc = await nats.connect(servers=dep.urls, user_credentials=who.creds)
    try:
        js = nc.jetstream(timeout=10)

        async def created() -> bool:
            # A young cluster can refuse its first streams for a moment (10008
            # unavailable, 10039/10049 account not ready, 10005 no peers yet).
            try:
                await js.add_stream(
                    api.StreamConfig(
                        name=STREAM, subjects=[f"{STREAM}.>"], num_replicas=3
                    )
                )
            except nats.js.errors.APIError as exc:
                if exc.err_code in (10005, 10008, 10039, 10049):
                    return False
                raise
            return True

        await async_wait_for(created, 20, f"stream {STREAM} created", interval=0.2)
        await js.add_consumer(
            STREAM,
            api.ConsumerConfig(durable_name=CONSUMER, name=CONSUMER, num_replicas=3),
        )
        for i in range(5):
            await js.publish(f"{STREAM}.x", str(i).encode())
    finally:
        await nc.close()


async def _meta_leader(dep: Deployment) -> None:
    """Wait (bounded) until a JetStream meta leader answers again."""
    nc = await nats.connect(servers=dep.urls, user_credentials=dep.sys_user.creds)
    try:

        async def leader() -> bool:
            try:
                msg = await nc.request(
                    "$SYS.REQ.SERVER.PING.JSZ", b'{"leader_only":true}', timeout=0.5
                )
            except (nats.errors.TimeoutError, nats.errors.NoRespondersError):
                return False
            meta = (json.loads(msg.data).get("data") or {}).get("meta_cluster") or {}
            return bool(meta.get("leader"))

        await async_wait_for(leader, 20, "a JetStream meta leader")
    finally:
        await nc.close()


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    for name in ("NATS_URL", "NATS_CREDS", "NATS_CONTEXT", "NATSOPS_CONFIG"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Capture every log record of every logger at DEBUG."""
    caplog.set_level(logging.DEBUG)
    for name in ("natsops", "nats", "nats.aio.client", "asyncio"):
        caplog.set_level(logging.DEBUG, logger=name)
    yield caplog


def _log_text(caplog: pytest.LogCaptureFixture) -> str:
    """Every record as formatted, with arguments and exception text."""
    handler = logging.Formatter("%(levelname)s %(name)s %(message)s")
    parts = []
    for record in caplog.records:
        parts.append(handler.format(record))
        if record.exc_info:
            parts.append(handler.formatException(record.exc_info))
    return "\n".join(parts)


#: Every headless command, run with the creds file (``{S}``/``{C}``: stream and
#: consumer of this test; ``{REC}``: the recording). Operations really run.
COMMAND_LINES: list[list[str]] = [
    ["whoami"],
    ["whoami", "--json"],
    ["ping", "STATSZ"],
    ["ping", "CONNZ", "--json"],
    ["ping", "CONNZ", "--body", '{"auth": true}', "--json"],
    ["ping", "CONNZ", "--body", '{"auth": true}'],
    ["servers"],
    ["servers", "--json"],
    ["connections"],
    ["connections", "--json", "--state", "all"],
    ["accounts"],
    ["accounts", "--json"],
    ["jetstream"],
    ["streams", "--json"],
    ["consumers", "{S}", "--account", "APP"],
    ["health"],
    ["routes"],
    ["gateways"],
    ["leafnodes"],
    ["events", "--count", "20", "--duration", "3", "--json", "--record", "{REC}"],
    ["replay", "{REC}", "--print"],
    ["replay", "{REC}", "--print", "--json"],
    ["perms"],
    ["perms", "--probe", "--json"],
    ["perms", "recommend", "--role", "operator"],
    ["stepdown", "stream", "{S}", "--account", "APP", "--yes"],
    ["stepdown", "consumer", "{S}", "{C}", "--account", "APP", "--yes"],
    ["stepdown", "meta", "--yes", "--json"],
    ["pause", "{S}", "{C}", "--account", "APP", "--until", "1h", "--yes"],
    ["resume", "{S}", "{C}", "--account", "APP", "--yes"],
    ["unpin", "{S}", "{C}", "--account", "APP", "--group", "g", "--yes"],
    ["move", "--cancel", "{S}", "--account", "APP", "--yes"],
    ["peer-remove", "{S}", "c1-n1", "--account", "APP", "--yes"],
    ["server-remove", "no-such-server", "--yes"],
    ["purge-account", "NOSUCHACCOUNT", "--yes"],
    ["reload", "c1-n1", "--yes"],
    ["kick", "c1-n1", "999999", "--yes"],
]


def _argv(line: list[str], s: Setup) -> list[str]:
    subst = {"{S}": STREAM, "{C}": CONSUMER, "{REC}": str(s.recording)}
    return [*(subst.get(a, a) for a in line), *s.conn(), "--debug"]


def _leaf_commands() -> set[tuple[str, ...]]:
    """Every runnable command path, read from the parser."""
    found: set[tuple[str, ...]] = set()

    def walk(parser: argparse.ArgumentParser, path: tuple[str, ...]) -> None:
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if path and (not subs or not subs[0].required):
            found.add(path)
        for action in subs:
            for name, child in action.choices.items():
                walk(child, (*path, name))

    walk(cli.build_parser(), ())
    return found


def test_command_list_covers_every_command() -> None:
    used = {tuple(line[:2]) for line in COMMAND_LINES} | {
        (line[0],) for line in COMMAND_LINES
    }
    # ``demo`` starts its own deployment and prints only creds paths (its own test
    # checks that); every other command runs here with the creds file.
    missing = sorted(p for p in _leaf_commands() if p not in used and p != ("demo",))
    assert not missing, f"commands never run with secrets: {missing}"


def test_no_secret_in_any_command_output(
    setup: Setup,
    capsys: pytest.CaptureFixture[str],
    debug_logs: pytest.LogCaptureFixture,
) -> None:
    outputs: dict[str, str] = {}
    codes: dict[str, int] = {}
    for line in COMMAND_LINES:
        key = " ".join(line)
        t0 = time.monotonic()
        codes[key] = cli.main(_argv(line, setup))
        out, err = capsys.readouterr()
        outputs[key] = out + "\n" + err
        assert time.monotonic() - t0 < 30, key
        assert "Traceback" not in err, (key, err)

    # The meta stepdown above must not disturb later tests: wait for a leader.
    run_coro_sync(_meta_leader(setup.dep))

    leaks = {k: setup.secrets.leaks(v) for k, v in outputs.items()}
    assert not {k: v for k, v in leaks.items() if v}, leaks

    # The outputs checked are real: most commands succeeded and printed.
    succeeded = [k for k, c in codes.items() if c == 0]
    assert len(succeeded) >= 20, codes
    assert "secret-sys" in outputs["whoami"]
    assert setup.sys_user.public_key in outputs["whoami --json"]

    logs = _log_text(debug_logs)
    assert len(debug_logs.records) > 50
    assert setup.secrets.leaks(logs) == []

    audit = setup.audit.read_text()
    assert audit.count("\n") >= 10  # one line per attempted operation
    assert setup.sys_user.public_key in audit or setup.app_user.public_key in audit
    assert setup.secrets.leaks(audit) == []

    recording = setup.recording.read_text()
    assert recording.count("\n") >= 1
    assert setup.secrets.leaks(recording) == []


def test_no_secret_in_error_messages(
    setup: Setup,
    capsys: pytest.CaptureFixture[str],
    debug_logs: pytest.LogCaptureFixture,
    tmp_path: Path,
) -> None:
    """Broken creds files that hold the real secrets are never echoed."""
    seed, token = setup.sys_user.seed, setup.sys_user.jwt
    broken = {
        "no-jwt-end": f"-----BEGIN NATS USER JWT-----\n{token}\n{seed}\n",
        "jwt-only": f"-----BEGIN NATS USER JWT-----\n{token}\n------END NATS USER JWT"
        "------\n",
        "seed-only": f"-----BEGIN USER NKEY SEED-----\n{seed}\n------END USER NKEY "
        "SEED------\n",
        "swapped": f"-----BEGIN NATS USER JWT-----\n{seed}\n------END NATS USER JWT"
        f"------\n-----BEGIN USER NKEY SEED-----\n{token}\n------END USER NKEY "
        "SEED------\n",
        "truncated-jwt": f"-----BEGIN NATS USER JWT-----\n{token[:-10]}\n------END "
        f"NATS USER JWT------\n-----BEGIN USER NKEY SEED-----\n{seed}\n------END "
        "USER NKEY SEED------\n",
        "bare": f"{token}\n{seed}\n",
    }
    for name, text in broken.items():
        path = tmp_path / f"{name}.creds"
        path.write_text(text)
        for command in (["whoami"], ["servers", "--json"]):
            code = cli.main(
                [*command, "--server", setup.dep.url, "--creds", str(path), "--debug"]
            )
            out, err = capsys.readouterr()
            assert setup.secrets.leaks(out + err) == [], (name, command)
            assert "Traceback" not in err
            if name in ("seed-only", "jwt-only", "swapped", "bare"):
                assert code != 0 or "secret-sys" in out, (name, code, err)
    assert setup.secrets.leaks(_log_text(debug_logs)) == []


async def test_no_secret_in_the_dashboard(
    setup: Setup, debug_logs: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    """Every view, raw JSON and detail screens, screenshots and the recording."""
    from natsops.connection import Hub
    from natsops.settings import ConnectionSettings, Settings
    from natsops.ui.app import NatsopsApp
    from natsops.ui.source import LiveSource
    from natsops.ui.testing import show

    recording = tmp_path / "dashboard-events.jsonl"
    settings = Settings(
        system=ConnectionSettings(
            servers=list(setup.dep.urls), creds=setup.sys_user.creds_path
        ),
        accounts={
            "APP": ConnectionSettings(
                servers=list(setup.dep.urls),
                creds=setup.app_user.creds_path,
                label="APP",
            )
        },
        refresh=0.5,
        audit_log=setup.audit,
        record=recording,
    )
    hub = await Hub.open(settings)
    source = LiveSource(hub)
    app = NatsopsApp(source, refresh=0.5)
    shots: dict[str, str] = {}
    try:
        async with app.run_test(size=(180, 50)) as pilot:
            for name, view in app.views.items():
                await show(app, name, timeout=15)
                await pilot.pause()
                shots[name] = app.export_screenshot()
                if getattr(view, "POLLS", False) and view.selection() is not None:
                    await pilot.press("j")  # raw JSON of the selection
                    shots[f"{name}-raw"] = app.export_screenshot()
                    await pilot.press("escape")
                    await pilot.press("enter")  # its detail view
                    shots[f"{name}-detail"] = app.export_screenshot()
                    await pilot.press("escape")
            await pilot.press("question_mark")
            shots["help"] = app.export_screenshot()
            await pilot.press("escape")
            saved = tmp_path / "shots"
            saved.mkdir()
            app.save_screenshot("servers.svg", str(saved))
            shots["saved"] = (saved / "servers.svg").read_text()
    finally:
        await source.close()
        await hub.close()

    assert len(shots) >= len(app.views) + 2
    assert any("secret-sys" in svg for svg in shots.values())  # identity shown
    leaks = {k: setup.secrets.leaks(v) for k, v in shots.items()}
    assert not {k: v for k, v in leaks.items() if v}, leaks

    assert recording.is_file() and recording.stat().st_size > 0
    assert setup.secrets.leaks(recording.read_text()) == []
    assert setup.secrets.leaks(_log_text(debug_logs)) == []
