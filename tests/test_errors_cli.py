"""Bad input through the command line: every failure is one line on stderr, the
right exit code, no traceback, no secret, and no hang."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import nkeys
import pytest

from natsops import jwt
from natsops.cli import build_parser, main
from natsops.harness import AccountKey, Deployment, Identity, free_ports

#: Anything that looks like a seed or a JWT.
SECRET = re.compile(r"S[UAO][A-Z2-7]{50,}|eyJ[A-Za-z0-9_-]{10,}")


@pytest.fixture(autouse=True)
def _private_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    for name in ("NATS_URL", "NATS_CREDS", "NATS_CONTEXT", "NATSOPS_CONFIG"):
        monkeypatch.delenv(name, raising=False)


@dataclass
class World:
    """What a case may use to build its command line."""

    dep: Deployment
    tmp: Path
    identities: list[Identity]

    def file(self, name: str, text: str) -> str:
        path = self.tmp / name
        path.write_text(text)
        return str(path)

    def user(self, account: str, name: str, **kwargs: object) -> Identity:
        ident = self.dep.make_user(account, name, **kwargs)
        self.identities.append(ident)
        return ident

    def creds_with(self, name: str, token: str, seed: str) -> str:
        return self.file(name, jwt.creds_text(token, seed))


def _system_command() -> list[str] | None:
    """A registered command that needs the system account, if any exists yet."""
    parser = build_parser()
    choices: set[str] = set()
    for action in parser._subparsers._group_actions if parser._subparsers else []:
        choices.update(getattr(action, "choices", {}) or {})
    for argv in (["servers"], ["health"], ["ping", "IDZ"]):
        if argv[0] in choices:
            return argv
    return None


def sys_args(w: World) -> list[str]:
    return ["--server", w.dep.url, "--creds", w.dep.sys_user.creds]


def rogue_user(w: World) -> Identity:
    rogue = AccountKey(
        name="ROGUE",
        keypair=jwt.new_keypair(nkeys.PREFIX_BYTE_ACCOUNT),
        jwt="",
        jetstream=False,
    )
    return w.user("APP", "rogue", signer=rogue)


def malformed_jwt(w: World) -> str:
    good = w.dep.app_user.jwt
    head, _body, sig = good.split(".")
    return w.creds_with("badjwt.creds", f"{head}.!!!notbase64!!!.{sig}", "SUAAA")


def bad_seed(w: World) -> str:
    return w.creds_with("badseed.creds", w.dep.app_user.jwt, w.dep.app_user.seed[:-9])


@dataclass
class Case:
    id: str
    argv: Callable[[World], list[str]]
    code: int
    expected: str
    skip: str | None = None


CASES = [
    Case(
        "creds missing",
        lambda w: ["whoami", "--server", w.dep.url, "--creds", str(w.tmp / "no.creds")],
        1,
        "does not exist",
    ),
    Case(
        "creds is a directory",
        lambda w: ["whoami", "--server", w.dep.url, "--creds", str(w.tmp)],
        1,
        "is a directory",
    ),
    Case(
        "creds unreadable",
        lambda w: [
            "whoami",
            "--server",
            w.dep.url,
            "--creds",
            _unreadable(w.file("locked.creds", w.dep.app_user.creds_path.read_text())),
        ],
        1,
        "not readable",
        skip="root reads files whatever their mode" if os.geteuid() == 0 else None,
    ),
    Case(
        "creds not a creds file",
        lambda w: ["whoami", "--server", w.dep.url, "--creds", w.file("x", "hello")],
        1,
        "is not a creds file",
    ),
    Case(
        "creds with a malformed JWT",
        lambda w: ["whoami", "--server", w.dep.url, "--creds", malformed_jwt(w)],
        1,
        "malformed JWT",
    ),
    Case(
        "creds with a malformed seed",
        lambda w: ["whoami", "--server", w.dep.url, "--creds", bad_seed(w)],
        1,
        "malformed nkey seed",
    ),
    Case(
        "expired JWT",
        lambda w: [
            "whoami",
            "--server",
            w.dep.url,
            "--creds",
            w.user("SYS", "expired", expires=time.time() - 60).creds,
        ],
        1,
        "expired at",
    ),
    Case(
        "closed port",
        lambda w: [
            "whoami",
            "--server",
            f"nats://127.0.0.1:{free_ports(1)[0]}",
            "--creds",
            w.dep.sys_user.creds,
        ],
        1,
        "connection refused",
    ),
    Case(
        "wrong scheme",
        lambda w: [
            "whoami",
            "--server",
            w.dep.urls[0].replace("nats://", "http://"),
            "--creds",
            w.dep.sys_user.creds,
        ],
        1,
        "unsupported URL scheme 'http'",
    ),
    Case(
        "TLS asked of a plain server",
        lambda w: [
            "whoami",
            "--server",
            w.dep.urls[0].replace("nats://", "tls://"),
            "--creds",
            w.dep.sys_user.creds,
        ],
        1,
        "does not offer TLS",
    ),
    Case(
        "user of an unknown account",
        lambda w: ["whoami", "--server", w.dep.url, "--creds", rogue_user(w).creds],
        1,
        "refused the credential (Authorization Violation)",
    ),
    Case(
        "no credential",
        lambda w: ["whoami", "--server", w.dep.url],
        1,
        "requires authentication",
    ),
    Case(
        "reply inbox denied",
        lambda w: [
            "whoami",
            "--server",
            w.dep.url,
            "--creds",
            w.user("SYS", "noinbox", sub_deny=["_INBOX.>"]).creds,
        ],
        1,
        "subscribe to _INBOX.> denied",
    ),
    Case(
        "account creds missing",
        lambda w: [
            "whoami",
            *sys_args(w),
            "--account-creds",
            f"APP={w.tmp / 'app.creds'}",
        ],
        1,
        "--account-creds APP=FILE",
    ),
    Case(
        "malformed --account-creds",
        lambda w: ["whoami", *sys_args(w), "--account-creds", "APP"],
        2,
        "--account-creds expects NAME=FILE",
    ),
    Case(
        "malformed --account-context",
        lambda w: ["whoami", *sys_args(w), "--account-context", "=ctx"],
        2,
        "--account-context expects NAME=CONTEXT",
    ),
    Case(
        "bad --timeout",
        lambda w: ["whoami", *sys_args(w), "--timeout", "-3"],
        2,
        "--timeout must be a positive number",
    ),
    Case(
        "unknown natscli context",
        lambda w: ["whoami", "--context", "nowhere"],
        2,
        "natscli context 'nowhere' not found",
    ),
    Case(
        "invalid config file",
        lambda w: [
            "whoami",
            "--config",
            w.file("bad.toml", "[profiles.p]\nrefresh = 'often'\n"),
        ],
        2,
        "'profiles.p.refresh' must be a number",
    ),
    Case(
        "unknown profile",
        lambda w: [
            "whoami",
            "--config",
            w.file("ok.toml", "[profiles.p]\nserver = 'nats://x:1'\n"),
            "--profile",
            "q",
        ],
        2,
        "no profile 'q'",
    ),
    Case(
        "non-system user for a system command",
        lambda w: [
            *(_system_command() or []),
            "--server",
            w.dep.url,
            "--creds",
            w.dep.app_user.creds,
        ],
        1,
        "user 'app' of account 'APP' is not in the system account",
        skip=None if _system_command() else "no system command is registered yet",
    ),
]


def _unreadable(path: str) -> str:
    Path(path).chmod(0)
    return path


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(
    case: Case,
    cluster: Deployment,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    if case.skip:
        pytest.skip(case.skip)
    world = World(cluster, tmp_path, [cluster.sys_user, cluster.app_user])
    argv = case.argv(world)

    started = time.monotonic()
    code = main(argv)
    elapsed = time.monotonic() - started
    out, err = capsys.readouterr()

    assert code == case.code, err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("natsops: ")
    assert case.expected in lines[0]
    assert "Traceback" not in out + err
    assert not SECRET.search(out + err), "a seed or JWT was printed"
    for ident in world.identities:
        assert ident.seed not in out + err and ident.jwt not in out + err
    assert elapsed < 10, f"took {elapsed:.1f}s"  # bounded: no multi-minute retries
