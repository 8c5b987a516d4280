"""Denied publishes in operations: a PermissionDenied naming the subject, at once.

A user who may not publish an operation's requests (the fan-outs of its plan, or the
action itself) gets ``permission denied: publish to <subject>`` from the core API and
from the command line, well before the request timeout, and nothing changes.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import nkeys
import pytest
from test_ops_support import connect

from natsops import cli, jwt
from natsops.audit import AuditLog, read_audit
from natsops.connection import Hub
from natsops.errors import PermissionDenied
from natsops.harness import Deployment, Identity
from natsops.ops import OperationDenied, Operator
from natsops.settings import ConnectionSettings, Settings

#: The operator's request timeout in these tests: a denial must not wait for it.
TIMEOUT = 30.0
#: Bound on each denied call (well under TIMEOUT, so waiting for silence fails).
BOUND = 10.0
#: A well-formed account key no server knows: a purge must never hit a real one.
UNKNOWN_ACCOUNT = jwt.public_key(jwt.new_keypair(nkeys.PREFIX_BYTE_ACCOUNT))

#: What the "no actions" user may not publish: every action these tests attempt.
ACTION_SUBJECTS = [
    "$JS.API.META.LEADER.STEPDOWN",
    "$JS.API.SERVER.REMOVE",
    "$JS.API.ACCOUNT.PURGE.>",
    "$SYS.REQ.SERVER.*.RELOAD",
    "$SYS.REQ.SERVER.*.KICK",
]


@pytest.fixture(scope="module")
def users(cluster: Deployment) -> dict[str, Identity]:
    """A system user that may only ask who it is, and one that may read but not act."""
    return {
        "nothing": cluster.make_user(
            "SYS",
            "ops-denied-all",
            pub_allow=["$SYS.REQ.USER.INFO"],
            sub_allow=["_INBOX.>"],
        ),
        "no-actions": cluster.make_user(
            "SYS", "ops-denied-actions", pub_deny=ACTION_SUBJECTS
        ),
    }


@asynccontextmanager
async def operator(
    dep: Deployment, who: Identity, audit: Path
) -> AsyncIterator[Operator]:
    settings = Settings(
        system=ConnectionSettings(
            servers=dep.urls, creds=who.creds_path, timeout=TIMEOUT, connect_timeout=5
        ),
        audit_log=audit,
    )
    hub = await Hub.open(settings, require_system=False)
    op = Operator.from_hub(hub, audit=AuditLog(audit), timeout=TIMEOUT, wait=5.0)
    try:
        yield op
    finally:
        await op.close()
        await hub.close()


def _subject_in(exc: BaseException, subject: str) -> None:
    """The error is a PermissionDenied whose one line names ``subject``."""
    assert isinstance(exc, PermissionDenied), repr(exc)
    text = str(exc)
    assert "\n" not in text
    assert text.startswith(f"permission denied: publish to {subject}"), text


# ------------------------------------------------------------------- core API


@pytest.mark.parametrize(
    ("plan", "subject", "action"),
    [
        ("meta", "$SYS.REQ.SERVER.PING.JSZ", "meta-stepdown"),
        ("server-remove", "$SYS.REQ.SERVER.PING.JSZ", "server-remove"),
        ("purge", "$SYS.REQ.SERVER.PING.JSZ", "account-purge"),
        ("reload", "$SYS.REQ.SERVER.PING.STATSZ", "server-reload"),
        ("kick", "$SYS.REQ.SERVER.PING.STATSZ", "client-kick"),
    ],
)
async def test_plans_fail_fast_on_a_denied_fan_out(
    cluster: Deployment,
    users: dict[str, Identity],
    tmp_path: Path,
    plan: str,
    subject: str,
    action: str,
) -> None:
    audit = tmp_path / "audit.jsonl"
    async with operator(cluster, users["nothing"], audit) as op:
        builders = {
            "meta": lambda: op.plan_meta_stepdown(),
            "server-remove": lambda: op.plan_server_remove("c1-n1"),
            "purge": lambda: op.plan_account_purge(UNKNOWN_ACCOUNT),
            "reload": lambda: op.plan_server_reload("c1-n1"),
            "kick": lambda: op.plan_kick("c1-n1", 1),
        }
        with pytest.raises(OperationDenied) as info:
            async with asyncio.timeout(BOUND):
                await builders[plan]()

    _subject_in(info.value, subject)
    assert info.value.subject == subject
    assert info.value.action == action
    assert f"{action} needs it" in str(info.value)
    (line,) = read_audit(audit)
    assert line.action == action and line.result == "error"
    assert line.raw["stage"] == "plan"
    assert line.error == str(info.value)


async def test_denied_meta_stepdown_is_named_and_changes_nothing(
    cluster: Deployment, users: dict[str, Identity], tmp_path: Path
) -> None:
    audit = tmp_path / "audit.jsonl"
    async with operator(cluster, users["no-actions"], audit) as op:
        plan = await op.plan_meta_stepdown()
        assert plan.subject == "$JS.API.META.LEADER.STEPDOWN"
        with pytest.raises(OperationDenied) as info:
            async with asyncio.timeout(BOUND):
                await op.execute(plan)
        after = await op._meta()

    _subject_in(info.value, "$JS.API.META.LEADER.STEPDOWN")
    assert "meta-stepdown needs it" in str(info.value)
    assert after["leader"] == plan.leader  # the request never reached the server
    (line,) = read_audit(audit)
    assert line.result == "error" and line.raw["stage"] == "execute"
    assert line.subject == "$JS.API.META.LEADER.STEPDOWN"
    assert line.error == str(info.value)


async def test_denied_reload_names_the_server_subject(
    cluster: Deployment, users: dict[str, Identity], tmp_path: Path
) -> None:
    async with operator(cluster, users["no-actions"], tmp_path / "a.jsonl") as op:
        plan = await op.plan_server_reload("c1-n2")
        before = plan.check["loaded"]
        with pytest.raises(OperationDenied) as info:
            async with asyncio.timeout(BOUND):
                await op.execute(plan)
        varz = await op._server_request("c1-n2", "VARZ")

    server_id = plan.subject.split(".")[3]
    _subject_in(info.value, f"$SYS.REQ.SERVER.{server_id}.RELOAD")
    assert varz["config_load_time"] == before


async def test_denied_purge_names_the_account_subject(
    cluster: Deployment, users: dict[str, Identity], tmp_path: Path
) -> None:
    async with operator(cluster, users["no-actions"], tmp_path / "a.jsonl") as op:
        plan = await op.plan_account_purge(UNKNOWN_ACCOUNT)
        with pytest.raises(OperationDenied) as info:
            async with asyncio.timeout(BOUND):
                await op.execute(plan)

    _subject_in(info.value, f"$JS.API.ACCOUNT.PURGE.{UNKNOWN_ACCOUNT}")


async def test_denied_kick_leaves_the_client_connected(
    cluster: Deployment, users: dict[str, Identity], tmp_path: Path
) -> None:
    victim = await connect(
        cluster, cluster.app_user, cluster.servers["c1-n3"].client_url
    )
    try:
        cid = victim.client_id
        assert isinstance(cid, int)
        async with operator(cluster, users["no-actions"], tmp_path / "a.jsonl") as op:
            plan = await op.plan_kick("c1-n3", cid)
            with pytest.raises(OperationDenied) as info:
                async with asyncio.timeout(BOUND):
                    await op.execute(plan)
            still = await op._connection("c1-n3", cid)
        assert ".KICK" in info.value.subject
        _subject_in(info.value, info.value.subject)
        assert still is not None
        assert victim.is_connected
    finally:
        await victim.close()


async def test_an_account_operation_does_not_need_system_discovery(
    cluster: Deployment, users: dict[str, Identity], tmp_path: Path
) -> None:
    """Discovery only adds detail to a peer removal: a system user who may not ask
    gives no denial there (the stream's own lookup goes through the account)."""
    async with operator(cluster, users["nothing"], tmp_path / "a.jsonl") as op:
        servers = await op._discover(soft=True)
        assert servers == {}
        with pytest.raises(OperationDenied):
            await op._discover()


# --------------------------------------------------------------- command line

CLI_CASES = [
    ("nothing", ["stepdown", "meta"], "$SYS.REQ.SERVER.PING.JSZ"),
    ("nothing", ["server-remove", "c1-n1"], "$SYS.REQ.SERVER.PING.JSZ"),
    ("nothing", ["purge-account", UNKNOWN_ACCOUNT], "$SYS.REQ.SERVER.PING.JSZ"),
    ("nothing", ["reload", "c1-n1"], "$SYS.REQ.SERVER.PING.STATSZ"),
    ("nothing", ["kick", "c1-n1", "1"], "$SYS.REQ.SERVER.PING.STATSZ"),
    ("no-actions", ["stepdown", "meta"], "$JS.API.META.LEADER.STEPDOWN"),
    ("no-actions", ["server-remove", "c1-n3"], "$JS.API.SERVER.REMOVE"),
    (
        "no-actions",
        ["purge-account", UNKNOWN_ACCOUNT],
        f"$JS.API.ACCOUNT.PURGE.{UNKNOWN_ACCOUNT}",
    ),
    ("no-actions", ["reload", "c1-n1"], r"$SYS.REQ.SERVER.<id>.RELOAD"),
]


@pytest.mark.parametrize(
    ("who", "argv", "subject"),
    CLI_CASES,
    ids=[f"{who}:{' '.join(argv[:2])}" for who, argv, _ in CLI_CASES],
)
def test_cli_prints_one_line_naming_the_denied_subject(
    cluster: Deployment,
    users: dict[str, Identity],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    who: str,
    argv: list[str],
    subject: str,
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.delenv("NATSOPS_READ_ONLY", raising=False)
    split = 2 if argv[0] == "stepdown" else 1
    conn = ["--server", cluster.url, "--creds", str(users[who].creds_path)]
    conn += ["--timeout", str(TIMEOUT), "--audit-log", str(tmp_path / "a.jsonl")]
    code = cli.main([*argv[:split], *conn, *argv[split:], "--yes"])

    out, err = capsys.readouterr()
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 1, (out, err)
    assert len(lines) == 1, lines
    pattern = re.escape(f"natsops: permission denied: publish to {subject}")
    pattern = pattern.replace(re.escape("<id>"), "N[A-Z0-9]{55}")
    assert re.match(pattern, lines[0]), lines[0]
    assert "Traceback" not in out + err
