"""Bad input for every command: each answers with an exit code and exactly one line.

The table is built from the parser itself: every command (and sub-command) must have
rows, so a new command without any fails :func:`test_every_command_has_rows`. Each
connecting command meets every connection failure (missing, unreadable and malformed
creds, an expired JWT, a wrong URL scheme, a closed port, TLS mismatches); the
commands that reach the cluster also meet denied permissions and unknown streams,
servers and accounts on a real cluster. Rows run through ``natsops.cli.main`` in
process; a few run through the real entry point in a subprocess.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nats
import nkeys
import pytest
from nats.js import api

from natsops import cli, jwt
from natsops.harness import Deployment, free_ports, run_coro_sync

#: A command must give up within this many seconds (no hang).
BOUND = 20.0

#: Stream and consumer that exist in APP on the session cluster.
STREAM, CONSUMER = "BADINPUT", "reader"


@dataclass(frozen=True)
class Command:
    """How to call one command validly; the cases then break one thing."""

    args: tuple[str, ...] = ()
    connects: bool = True
    account: bool = False  # takes --account APP and needs that connection
    system_denied: bool = False  # a system user without request rights fails
    account_denied: bool = False  # an APP user without JetStream API rights fails
    unknown: tuple[tuple[str, tuple[str, ...], str], ...] = ()  # what, args, text
    denied: str = r"denied|permission"  # what the system_denied line must say


_S, _C = STREAM, CONSUMER
#: The first request the plan of an operation publishes, named when it is denied.
_DENIED_JSZ = r"permission denied: publish to \$SYS\.REQ\.SERVER\.PING\.JSZ\b"
_DENIED_STATSZ = r"permission denied: publish to \$SYS\.REQ\.SERVER\.PING\.STATSZ\b"
#: A well-formed account public key no server knows (purge must never hit a real one).
_UNKNOWN_ACCOUNT_KEY = jwt.public_key(jwt.new_keypair(nkeys.PREFIX_BYTE_ACCOUNT))
_ACC = ("--account", "APP")

#: Every command by its path of parser names.
COMMANDS: dict[tuple[str, ...], Command] = {
    ("whoami",): Command(),
    ("ping",): Command(("STATSZ",), system_denied=True),
    ("servers",): Command(system_denied=True),
    ("connections",): Command(system_denied=True),
    ("accounts",): Command(system_denied=True),
    ("jetstream",): Command(system_denied=True),
    ("streams",): Command(system_denied=True),
    ("consumers",): Command(
        (_S, *_ACC),
        account=True,
        unknown=(
            ("stream", ("NOSUCHSTREAM", *_ACC), "NOSUCHSTREAM"),
            ("account", (_S, "--account", "NOSUCHACC"), "NOSUCHACC"),
        ),
    ),
    ("health",): Command(system_denied=True),
    ("routes",): Command(system_denied=True),
    ("gateways",): Command(system_denied=True),
    ("leafnodes",): Command(system_denied=True),
    ("events",): Command(
        ("--count", "1", "--duration", "2"),
        system_denied=True,
        denied=r"permission denied: subscribe to \$SYS\.SERVER\.>, "
        r"\$SYS\.ACCOUNT\.>, \$JS\.EVENT\.> on the system connection",
    ),
    ("replay",): Command(("RECORDING",), connects=False),
    ("stepdown", "meta"): Command(
        ("--yes",),
        system_denied=True,
        denied=_DENIED_JSZ,
        unknown=(("server", ("--preferred", "nosuch-server", "--yes"), "nosuch"),),
    ),
    ("stepdown", "stream"): Command(
        (_S, *_ACC, "--yes"),
        account=True,
        account_denied=True,
        unknown=(
            ("stream", ("NOSUCHSTREAM", *_ACC, "--yes"), "NOSUCHSTREAM"),
            ("account", (_S, "--account", "NOSUCHACC", "--yes"), "NOSUCHACC"),
        ),
    ),
    ("stepdown", "consumer"): Command(
        (_S, _C, *_ACC, "--yes"),
        account=True,
        account_denied=True,
        unknown=(
            ("stream", ("NOSUCHSTREAM", _C, *_ACC, "--yes"), "NOSUCHSTREAM"),
            ("consumer", (_S, "nosuchconsumer", *_ACC, "--yes"), "nosuchconsumer"),
        ),
    ),
    ("move",): Command(
        (_S, *_ACC, "--cluster", "c1", "--yes"),
        account=True,
        unknown=(
            ("stream", ("NOSUCHSTREAM", *_ACC, "--cluster", "c1", "--yes"), "NOSUCH"),
            (
                "server",
                (_S, *_ACC, "--from-server", "nosuch-server", "--yes"),
                "nosuch",
            ),
        ),
    ),
    ("peer-remove",): Command(
        (_S, "c1-n1", *_ACC, "--yes"),
        account=True,
        account_denied=True,
        unknown=(
            ("stream", ("NOSUCHSTREAM", "c1-n1", *_ACC, "--yes"), "NOSUCHSTREAM"),
            ("server", (_S, "nosuch-server", *_ACC, "--yes"), "nosuch"),
        ),
    ),
    ("server-remove",): Command(
        ("c1-n1", "--yes"),
        system_denied=True,
        denied=_DENIED_JSZ,
        unknown=(("server", ("nosuch-server", "--yes"), "nosuch"),),
    ),
    ("purge-account",): Command(
        (_UNKNOWN_ACCOUNT_KEY, "--yes"),
        system_denied=True,
        denied=_DENIED_JSZ,
        unknown=(("account", ("NOSUCHACC", "--yes"), "NOSUCHACC"),),
    ),
    ("pause",): Command(
        (_S, _C, *_ACC, "--until", "1h", "--yes"),
        account=True,
        account_denied=True,
        unknown=(
            (
                "stream",
                ("NOSUCHSTREAM", _C, *_ACC, "--until", "1h", "--yes"),
                "NOSUCHSTREAM",
            ),
        ),
    ),
    ("resume",): Command(
        (_S, _C, *_ACC, "--yes"),
        account=True,
        account_denied=True,
        unknown=(("stream", ("NOSUCHSTREAM", _C, *_ACC, "--yes"), "NOSUCHSTREAM"),),
    ),
    ("unpin",): Command(
        (_S, _C, *_ACC, "--group", "g", "--yes"),
        account=True,
        account_denied=True,
        unknown=(
            (
                "stream",
                ("NOSUCHSTREAM", _C, *_ACC, "--group", "g", "--yes"),
                "NOSUCHSTREAM",
            ),
        ),
    ),
    ("reload",): Command(
        ("c1-n1", "--yes"),
        system_denied=True,
        denied=_DENIED_STATSZ,
        unknown=(("server", ("nosuch-server", "--yes"), "nosuch"),),
    ),
    ("kick",): Command(
        ("c1-n1", "999999", "--yes"),
        system_denied=True,
        denied=_DENIED_STATSZ,
        unknown=(("server", ("nosuch-server", "1", "--yes"), "nosuch"),),
    ),
    ("perms",): Command(),
    ("perms", "recommend"): Command(("--role", "observer"), connects=False),
    ("demo",): Command(connects=False),
}

#: Connection failures every connecting command meets: (case, pattern the line has).
CONNECTION_CASES = {
    "creds_missing": r"not found|does not exist|no such",
    "creds_unreadable": r"read|director",
    "creds_malformed": r"malformed|not a|invalid|no (user )?JWT|creds",
    "jwt_expired": r"expired",
    "url_scheme": r"scheme",
    "closed_port": r"refused|cannot connect",
    "tls_to_plain_port": r"TLS",
    "tls_bogus_ca": r"TLS|CA|PEM|certificate",
}

#: Commands that do not connect: their own bad input.
OFFLINE_CASES: dict[tuple[str, ...], dict[str, tuple[int, str]]] = {
    ("replay",): {
        "recording_missing": (1, r"no (such )?recording|not found|does not exist"),
        "recording_unreadable": (1, r"read|director|recording"),
        "recording_malformed": (1, r"recording|JSON|not"),
    },
    ("perms", "recommend"): {"bad_role": (2, r"role|invalid choice")},
    ("demo",): {
        "bad_traffic_scale": (2, r"traffic-scale"),
        "no_nats_server": (1, r"nats-server not found"),
    },
}


def _leaf_commands() -> set[tuple[str, ...]]:
    """Every runnable command path, read from the parser."""
    found: set[tuple[str, ...]] = set()

    def walk(parser: argparse.ArgumentParser, path: tuple[str, ...]) -> None:
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not subs or not subs[0].required:
            found.add(path)
        for action in subs:
            for name, child in action.choices.items():
                walk(child, (*path, name))

    top = cli.build_parser()
    for action in top._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                walk(child, (name,))
    return found


def test_every_command_has_rows() -> None:
    leaves = _leaf_commands()
    assert leaves, "no commands found"
    missing = sorted(" ".join(p) for p in leaves - set(COMMANDS))
    assert not missing, f"commands without bad-input rows: {missing}"
    stale = sorted(" ".join(p) for p in set(COMMANDS) - leaves)
    assert not stale, f"rows for commands that no longer exist: {stale}"
    for path, cmd in COMMANDS.items():
        if not cmd.connects:
            assert OFFLINE_CASES.get(path), f"{path} has no offline cases"


# ------------------------------------------------------------------ fixtures


@dataclass
class World:
    """Files and users the rows point at."""

    dep: Deployment
    tmp: Path
    missing: Path
    directory: Path
    garbage: Path
    expired: Path
    bogus_ca: Path
    closed_port: int
    sys_denied: Path
    app_denied: Path
    recording_bad: Path

    @property
    def url(self) -> str:
        return self.dep.url

    @property
    def plain_tls_url(self) -> str:
        first = next(iter(self.dep.servers.values()))
        return f"tls://127.0.0.1:{first.port}"


@pytest.fixture(scope="module")
def world(cluster: Deployment, tmp_path_factory: pytest.TempPathFactory) -> World:
    tmp = tmp_path_factory.mktemp("badinput")
    garbage = tmp / "garbage.creds"
    garbage.write_text("this is not a creds file\n")
    bogus_ca = tmp / "bogus-ca.pem"
    bogus_ca.write_text("-----BEGIN CERTIFICATE-----\nnot base64 at all\n")
    (tmp / "a-directory").mkdir()
    recording_bad = tmp / "bad-recording.jsonl"
    recording_bad.write_bytes(b"\x00\xff{not json\n[1,2,3]\n")
    expired = cluster.make_user("SYS", "expired", expires=time.time() - 3600).creds_path
    sys_denied = cluster.make_user(
        "SYS",
        "denied",
        pub_allow=["$SYS.REQ.USER.INFO"],
        sub_allow=["_INBOX.>"],
    ).creds_path
    app_denied = cluster.make_user("APP", "nojs", pub_deny=["$JS.API.>"]).creds_path
    run_coro_sync(_make_stream(cluster))
    return World(
        dep=cluster,
        tmp=tmp,
        missing=tmp / "no-such.creds",
        directory=tmp / "a-directory",
        garbage=garbage,
        expired=expired,
        bogus_ca=bogus_ca,
        closed_port=free_ports(1)[0],
        sys_denied=sys_denied,
        app_denied=app_denied,
        recording_bad=recording_bad,
    )


async def _make_stream(dep: Deployment) -> None:
    nc = await nats.connect(servers=dep.urls, user_credentials=dep.app_user.creds)
    try:
        js = nc.jetstream(timeout=10)
        await js.add_stream(
            api.StreamConfig(name=STREAM, subjects=[f"{STREAM}.>"], num_replicas=3)
        )
        await js.add_consumer(
            STREAM, api.ConsumerConfig(durable_name=CONSUMER, name=CONSUMER)
        )
    finally:
        await nc.close()


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith(("NATS_", "NATSOPS_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("HOME", str(tmp_path))


class _StderrHandler(logging.Handler):
    """Writes to whatever ``sys.stderr`` is at the time (capsys swaps it)."""

    def emit(self, record: logging.LogRecord) -> None:
        sys.stderr.write(self.format(record) + "\n")


@pytest.fixture
def stderr_logging() -> Iterator[None]:
    """Log records reach stderr as they would outside pytest (cli.main's format)."""
    handler = _StderrHandler(logging.WARNING)
    handler.setFormatter(
        logging.Formatter("natsops: %(levelname)s %(name)s: %(message)s")
    )
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield
    finally:
        root.removeHandler(handler)


# --------------------------------------------------------------------- rows


@dataclass(frozen=True)
class Row:
    path: tuple[str, ...]
    case: str
    code: int
    pattern: str

    @property
    def id(self) -> str:
        return f"{'-'.join(self.path)}:{self.case}"


def _rows() -> list[Row]:
    rows: list[Row] = []
    for path, cmd in COMMANDS.items():
        if cmd.connects:
            for case, pattern in CONNECTION_CASES.items():
                rows.append(Row(path, case, 1, pattern))
            if cmd.account:
                rows.append(
                    Row(
                        path, "account_creds_missing", 1, r"not found|no such|not exist"
                    )
                )
            if cmd.system_denied:
                rows.append(Row(path, "system_denied", 1, cmd.denied))
            if cmd.account_denied:
                rows.append(Row(path, "account_denied", 1, r"denied|permission"))
            for what, _args, text in cmd.unknown:
                rows.append(Row(path, f"unknown_{what}", 1, re.escape(text)))
            rows.append(Row(path, "bad_flag", 2, r"unrecognized|argument"))
        for case, (code, pattern) in OFFLINE_CASES.get(path, {}).items():
            rows.append(Row(path, case, code, pattern))
    return rows


ROWS = _rows()

#: Rows that fail today because of a known shortcoming elsewhere: (path, case).
#: Strict: a fixed one fails as XPASS, and its entry must go.
KNOWN_GAPS: dict[tuple[tuple[str, ...], str], str] = {}


def _param(row: Row) -> Any:
    marks = []
    gap = KNOWN_GAPS.get((row.path, row.case))
    if gap is not None:
        marks.append(pytest.mark.xfail(strict=True, reason=gap))
    return pytest.param(row, marks=marks, id=row.id)


def test_account_flag_is_not_an_abbreviation() -> None:
    """``--account NAME`` after a command must reach that command's own flag."""
    args = cli.build_parser().parse_args(
        ["stepdown", "stream", "ORDERS", "--account", "APP"]
    )
    assert args.account == "APP"


def _argv(row: Row, w: World) -> list[str]:
    """The command line of a row: the valid call with one thing broken."""
    cmd = COMMANDS[row.path]
    args = [str(w.recording_bad) if a == "RECORDING" else a for a in cmd.args]
    conn = ["--server", w.url, "--creds", w.dep.sys_user.creds, "--timeout", "2"]
    if cmd.account:
        conn += ["--account-creds", f"APP={w.dep.app_user.creds}"]

    def with_conn(**replace: str) -> list[str]:
        out = list(conn)
        for flag, value in replace.items():
            flag = "--" + flag.replace("_", "-")
            if flag in out:
                out[out.index(flag) + 1] = value
            else:
                out += [flag, value]
        return out

    case = row.case
    if case == "creds_missing":
        extra = with_conn(creds=str(w.missing))
    elif case == "creds_unreadable":
        extra = with_conn(creds=str(w.directory))
    elif case == "creds_malformed":
        extra = with_conn(creds=str(w.garbage))
    elif case == "jwt_expired":
        extra = with_conn(creds=str(w.expired))
    elif case == "url_scheme":
        extra = with_conn(server=w.url.replace("nats://", "http://"))
    elif case == "closed_port":
        extra = with_conn(server=f"nats://127.0.0.1:{w.closed_port}")
    elif case == "tls_to_plain_port":
        extra = with_conn(server=w.plain_tls_url)
    elif case == "tls_bogus_ca":
        extra = with_conn(tlsca=str(w.bogus_ca))
    elif case == "account_creds_missing":
        extra = with_conn(account_creds=f"APP={w.missing}")
    elif case == "system_denied":
        extra = with_conn(creds=str(w.sys_denied))
    elif case == "account_denied":
        extra = with_conn(account_creds=f"APP={w.app_denied}")
    elif case.startswith("unknown_"):
        what = case.removeprefix("unknown_")
        args = list(next(a for k, a, _ in cmd.unknown if k == what))
        extra = list(conn)
    elif case == "bad_flag":
        extra = [*conn, "--no-such-flag"]
    elif case == "recording_missing":
        args, extra = [str(w.missing)], []
    elif case == "recording_unreadable":
        args, extra = [str(w.directory)], []
    elif case == "recording_malformed":
        args, extra = [str(w.recording_bad), "--print"], []
    elif case == "bad_role":
        args, extra = ["--role", "superuser"], []
    elif case == "bad_traffic_scale":
        args, extra = ["--no-ui", "--traffic-scale", "-3"], []
    elif case == "no_nats_server":
        args, extra = ["--no-ui", "--no-traffic"], []
    else:  # pragma: no cover - a row without a recipe is a bug in this file
        raise AssertionError(f"no recipe for {case}")
    return [*row.path, *args, *extra]


def _check_output(row: Row, code: int, out: str, err: str, elapsed: float) -> None:
    lines = [line for line in err.splitlines() if line.strip()]
    detail = f"{row.id}: exit {code}, {elapsed:.1f}s, stderr={lines!r}, stdout={out!r}"
    assert "Traceback" not in err + out, detail
    assert code == row.code, detail
    assert len(lines) == 1, detail
    assert lines[0].startswith("natsops: "), detail
    assert "internal error" not in lines[0], detail
    assert re.search(row.pattern, lines[0], re.IGNORECASE), detail
    assert elapsed < BOUND, detail


@pytest.mark.parametrize("row", [_param(r) for r in ROWS])
def test_bad_input_in_process(
    row: Row,
    world: World,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    stderr_logging: None,
) -> None:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    if row.case == "no_nats_server":
        # No nats-server anywhere: not on PATH, not beside Python, no override.
        monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
        monkeypatch.setattr(sys, "executable", str(tmp_path / "bin" / "python"))
        monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    argv = _argv(row, world)
    t0 = time.monotonic()
    code = cli.main(argv)
    elapsed = time.monotonic() - t0
    out, err = capsys.readouterr()
    _check_output(row, code, out, err, elapsed)
    # A command that failed leaves no temporary folder (keys, creds) behind.
    assert list(scratch.iterdir()) == [], row.id


#: Rows also run through the real entry point, one per kind of failure.
SUBPROCESS_ROWS = [
    r
    for r in ROWS
    if (r.path, r.case)
    in {
        (("servers",), "creds_missing"),
        (("whoami",), "jwt_expired"),
        (("connections",), "closed_port"),
        (("streams",), "tls_to_plain_port"),
        (("health",), "url_scheme"),
        (("consumers",), "unknown_stream"),
        (("reload",), "unknown_server"),
        (("stepdown", "stream"), "unknown_account"),
        (("perms", "recommend"), "bad_role"),
    }
]


@pytest.mark.parametrize("row", [_param(r) for r in SUBPROCESS_ROWS])
def test_bad_input_real_entry_point(row: Row, world: World, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NATS")}
    env.update(
        XDG_CONFIG_HOME=str(tmp_path / "config"),
        XDG_STATE_HOME=str(tmp_path / "state"),
        HOME=str(tmp_path),
    )
    t0 = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "natsops", *_argv(row, world)],
        capture_output=True,
        text=True,
        env=env,
        timeout=BOUND + 10,
        stdin=subprocess.DEVNULL,
    )
    elapsed = time.monotonic() - t0
    _check_output(row, proc.returncode, proc.stdout, proc.stderr, elapsed)


def test_subprocess_rows_cover_every_kind() -> None:
    kinds = {r.case for r in SUBPROCESS_ROWS}
    assert len(SUBPROCESS_ROWS) == 9
    assert {"creds_missing", "jwt_expired", "closed_port", "url_scheme"} <= kinds
    assert {"unknown_stream", "unknown_server", "unknown_account"} <= kinds
