"""Credential checks on a real cluster: users with restricted permissions, an
account user in place of a system user, and users built from the recommended roles.
Every claim of a report is checked by making the request or subscription itself and
seeing what the server did (a reply, a permission violation, no responders), and for
subscriptions by asking the server which subscriptions the client holds."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import secrets
import socket
import subprocess
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import nats
import pytest
from nats.aio.client import Client

from natsops.cli import main
from natsops.harness import (
    Deployment,
    Identity,
    async_wait_for,
    find_nats_server,
    free_ports,
)
from natsops.jwt import decode_claims
from natsops.perms.catalogue import FEATURES, SubjectEntry, role_features
from natsops.perms.check import (
    ConnectionReport,
    Prober,
    SubjectCheck,
    check_credential,
)
from natsops.perms.recommend import recommend, render
from natsops.perms.subjects import Decision, Permissions

_VIOLATION = re.compile(r'permissions violation for (publish|subscription) to "(.*)"')
FAKE = f"natsops-test-{secrets.token_hex(4)}"
STEPDOWN_BODY = json.dumps({"placement": {"preferred": FAKE}}).encode()


class Client_:
    """A connection that records permission violations, for ground truth."""

    def __init__(self, nc: Client, violations: list[tuple[str, str]]) -> None:
        self.nc = nc
        self.violations = violations

    async def request(self, subject: str, body: bytes = b"") -> str:
        """``reply``, ``denied``, ``no-responders``, ``no-inbox`` or ``timeout``:
        waits for a reply or a violation, whichever comes (bounded)."""
        inbox = self.nc.new_inbox()
        sub = await self.nc.subscribe(inbox)
        key = ("publish", subject.lower())
        await self.nc.publish(subject, body, reply=inbox)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 3.0
        try:
            while loop.time() < deadline:
                if key in self.violations:
                    return "denied"
                if ("subscription", inbox.lower()) in self.violations:
                    # No reply can come; the publish violation, if any, follows
                    # the subscription's (two PONGs are the barrier).
                    await self.nc.flush()
                    await self.nc.flush()
                    return "denied" if key in self.violations else "no-inbox"
                try:
                    msg = await sub.next_msg(timeout=0.02)
                except nats.errors.TimeoutError:
                    continue
                if msg.headers and msg.headers.get("Status") == "503":
                    return "no-responders"
                return "reply"
            return "timeout"
        finally:
            await sub.unsubscribe()

    async def reply(self, subject: str, body: bytes = b"") -> dict[str, Any]:
        msg = await self.nc.request(subject, body, timeout=3)
        data = json.loads(msg.data)
        assert isinstance(data, dict)
        return data


async def connect(dep: Deployment, ident: Identity) -> Client_:
    violations: list[tuple[str, str]] = []

    async def on_error(exc: Exception) -> None:
        m = _VIOLATION.search(str(exc).lower())
        if m:
            violations.append((m.group(1), m.group(2)))

    nc = await nats.connect(
        dep.urls,
        user_credentials=ident.creds,
        error_cb=on_error,
        connect_timeout=3,
        max_reconnect_attempts=0,
    )
    return Client_(nc, violations)


@pytest.fixture
async def sysc(cluster: Deployment) -> AsyncIterator[Client_]:
    c = await connect(cluster, cluster.sys_user)
    yield c
    await c.nc.close()


async def accepted(sysc: Client_, client: Client_, subject: str) -> bool:
    """Subscribe, then ask the client's server whether it holds the subscription."""
    sub = await client.nc.subscribe(subject)
    # nats-py's PING can overtake a buffered SUB: the second PONG is the barrier.
    await client.nc.flush()
    await client.nc.flush()
    sid = client.nc._server_info["server_id"]
    cid = client.nc._client_id
    reply = await sysc.reply(
        f"$SYS.REQ.SERVER.{sid}.CONNZ",
        json.dumps({"cid": cid, "subscriptions": True}).encode(),
    )
    held = reply["data"]["connections"][0].get("subscriptions_list") or []
    await sub.unsubscribe()
    return subject in held


async def server_id(sysc: Client_) -> str:
    reply = await sysc.reply("$SYS.REQ.SERVER.PING.IDZ")
    return str(reply["id"])


def concrete(entry: SubjectEntry, account: str, sid: str) -> tuple[str, bytes]:
    """A harmless concrete request for a probe-able catalogue entry."""

    def fill(text: str) -> str:
        for ph in ("<stream>", "<consumer>", "<server>", "<user>"):
            text = text.replace(ph, FAKE)
        return text.replace("<id>", sid).replace("<acc>", account)

    return fill(entry.template), fill(entry.probe or "").encode()


async def check(c: Client_, ident: Identity, label: str, **kw: Any) -> ConnectionReport:
    return await check_credential(
        c.nc, connection=label, jwt=decode_claims(ident.jwt), timeout=2.0, **kw
    )


async def assert_matches_server(
    report: ConnectionReport, client: Client_, sysc: Client_
) -> int:
    """Every subject of every feature: the report's verdict equals what the server
    does with the request or subscription. Returns how many were checked."""
    sid = await server_id(sysc)
    account = report.account or ""
    seen: dict[tuple[str, str], bool] = {}
    for feat in report.features.values():
        for sc in feat.subjects:
            entry = sc.entry
            key = (entry.direction, sc.subject)
            if entry.direction == "sub":
                subject = sc.subject
                if entry.template == "<inbox>.>":
                    subject = f"{client.nc.new_inbox()}.*"
                if key not in seen:
                    seen[key] = await accepted(sysc, client, subject)
                assert seen[key] == sc.decision.allowed, (feat.feature, sc.subject)
                continue
            if entry.probe is None:
                continue  # no harmless request exists for it
            subject, body = concrete(entry, account, sid)
            if key not in seen:
                seen[key] = await client.request(subject, body) != "denied"
            assert seen[key] == sc.decision.allowed, (feat.feature, subject)
            if sc.probe is not None:
                assert sc.probe.permitted == seen[key], (feat.feature, subject)
    return len(seen)


# -- restricted users -----------------------------------------------------------


async def test_no_connz(cluster: Deployment, sysc: Client_) -> None:
    ident = cluster.make_user(
        "SYS", "no-connz", pub_deny=["$SYS.REQ.SERVER.PING.CONNZ"]
    )
    client = await connect(cluster, ident)
    try:
        report = await check(client, ident, "system")
        assert report.is_system is True and report.permissions_source == "server"
        connz = report.features["connections"]
        assert not connz.available and connz.status == "denied"
        assert "$SYS.REQ.SERVER.PING.CONNZ" in connz.reason
        assert report.features["servers"].available

        assert await client.request("$SYS.REQ.SERVER.PING.CONNZ", b"{}") == "denied"
        assert await client.request("$SYS.REQ.SERVER.PING.STATSZ") == "reply"
        assert await assert_matches_server(report, client, sysc) > 20

        probed = await check(client, ident, "system", probe=True)
        stream = probed.features["stepdown.stream"]
        assert stream.status == "wrong-account" and stream.probed
        assert "JetStream is not enabled for this account" in stream.reason
        assert probed.features["connections"].status == "denied"
        assert "refused it too" in probed.features["connections"].reason
        assert probed.features["servers"].status == "ok"
        assert await assert_matches_server(probed, client, sysc) > 20
    finally:
        await client.nc.close()


async def test_no_meta_stepdown(cluster: Deployment, sysc: Client_) -> None:
    ident = cluster.make_user(
        "SYS", "no-stepdown", pub_deny=["$JS.API.META.LEADER.STEPDOWN"]
    )
    client = await connect(cluster, ident)
    try:
        report = await check(client, ident, "system", probe=True)
        stepdown = report.features["stepdown.meta"]
        assert not stepdown.available
        assert "$JS.API.META.LEADER.STEPDOWN" in stepdown.reason
        assert report.features["server.remove"].available
        assert (
            await client.request("$JS.API.META.LEADER.STEPDOWN", STEPDOWN_BODY)
            == "denied"
        )
        await assert_matches_server(report, client, sysc)
    finally:
        await client.nc.close()


async def test_subscribe_without_js_events(cluster: Deployment, sysc: Client_) -> None:
    ident = cluster.make_user(
        "SYS",
        "no-js-events",
        sub_allow=["_INBOX.>", "$SYS.SERVER.>", "$SYS.ACCOUNT.>"],
    )
    client = await connect(cluster, ident)
    try:
        report = await check(client, ident, "system", probe=True)
        events = report.features["events.system"]
        assert not events.available and "$JS.EVENT.>" in events.reason
        assert report.features["health"].available
        assert not await accepted(sysc, client, "$JS.EVENT.>")
        assert await accepted(sysc, client, "$SYS.SERVER.>")
        await assert_matches_server(report, client, sysc)
    finally:
        await client.nc.close()


async def test_account_user_instead_of_system_user(
    cluster: Deployment, sysc: Client_
) -> None:
    ident = cluster.app_user
    client = await connect(cluster, ident)
    try:
        report = await check(client, ident, "system", probe=True)
        assert report.is_system is False
        assert report.account == cluster.accounts["APP"].public_key
        assert any("not in the system account" in n for n in report.notes)
        servers = report.features["servers"]
        assert not servers.available and servers.status == "wrong-account"
        assert "needs the system account" in servers.reason
        assert "no responders for $SYS.REQ.SERVER.PING." in servers.reason
        assert report.features["stepdown.meta"].status == "wrong-account"
        for fid in ("stepdown.stream", "jetstream", "streams", "move", "whoami"):
            assert report.features[fid].available, fid

        assert await client.request("$SYS.REQ.SERVER.PING.STATSZ") == "no-responders"
        info = await client.reply("$JS.API.INFO")
        assert "error" not in info
        await assert_matches_server(report, client, sysc)
    finally:
        await client.nc.close()


async def test_restricted_account_user(cluster: Deployment, sysc: Client_) -> None:
    ident = cluster.make_user(
        "APP",
        "no-stepdown",
        pub_allow=["$JS.API.STREAM.INFO.*", "$SYS.REQ.USER.INFO", "$JS.API.INFO"],
        sub_allow=["_INBOX.>"],
    )
    client = await connect(cluster, ident)
    try:
        report = await check(client, ident, "APP", probe=True)
        assert report.is_system is None  # it may not send a server ping to tell
        assert report.kind == "owner"
        assert report.features["whoami"].available
        assert report.features["jetstream"].available
        assert not report.features["stepdown.stream"].available
        assert not report.features["events.account"].available
        await assert_matches_server(report, client, sysc)
    finally:
        await client.nc.close()


async def test_concurrent_probes_share_the_error_callback(
    cluster: Deployment,
) -> None:
    ident = cluster.make_user(
        "SYS", "concurrent", pub_deny=["$SYS.REQ.SERVER.PING.CONNZ"]
    )
    client = await connect(cluster, ident)
    try:
        own_callback = client.nc._error_cb
        first, second = await asyncio.gather(
            check(client, ident, "system", probe=True),
            check(client, ident, "system", probe=True),
        )
        for report in (first, second):
            assert report.features["connections"].status == "denied"
            assert report.features["servers"].status == "ok"
        assert client.nc._error_cb is own_callback
        # The probes' expected violations were kept from the client's callback;
        # a violation of its own still reaches it.
        assert not client.violations
        assert await client.request("$SYS.REQ.SERVER.PING.CONNZ") == "denied"
    finally:
        await client.nc.close()


# -- recommended roles -----------------------------------------------------------


def role_user(cluster: Deployment, role: str, target: str) -> Identity:
    pset = recommend(role, target)  # type: ignore[arg-type]
    account = "SYS" if target == "system" else "APP"
    return cluster.make_user(
        account,
        f"{role}-{target}",
        pub_allow=list(pset.pub_allow),
        sub_allow=list(pset.sub_allow),
    )


PINGS = [
    ("$SYS.REQ.SERVER.PING.STATSZ", b""),
    ("$SYS.REQ.SERVER.PING.VARZ", b""),
    ("$SYS.REQ.SERVER.PING.CONNZ", b'{"limit": 1}'),
    ("$SYS.REQ.SERVER.PING.JSZ", b'{"limit": 1}'),
    ("$SYS.REQ.SERVER.PING.HEALTHZ", b""),
    ("$SYS.REQ.SERVER.PING.ROUTEZ", b""),
    ("$SYS.REQ.SERVER.PING.ACCOUNTZ", b""),
    ("$SYS.REQ.ACCOUNT.PING.STATZ", b""),
    ("$SYS.REQ.USER.INFO", b""),
]


async def meta_leader(sysc: Client_) -> str:
    reply = await sysc.reply("$SYS.REQ.SERVER.PING.JSZ", b'{"leader_only": true}')
    return str(reply["data"]["meta_cluster"]["leader"])


async def test_observer_role(cluster: Deployment, sysc: Client_) -> None:
    ident = role_user(cluster, "observer", "system")
    client = await connect(cluster, ident)
    try:
        report = await check(client, ident, "system", probe=True)
        for feat in role_features("observer"):
            if feat.where != "owner":
                assert report.features[feat.id].available, feat.id
        for fid, feat in FEATURES.items():
            if feat.write:
                assert not report.features[fid].available, fid

        for subject, body in PINGS:
            assert await client.request(subject, body) == "reply", subject
        for subject in ("$SYS.SERVER.>", "$SYS.ACCOUNT.>", "$JS.EVENT.>"):
            assert await accepted(sysc, client, subject), subject
        sid = await server_id(sysc)
        for subject, body in (
            ("$JS.API.META.LEADER.STEPDOWN", STEPDOWN_BODY),
            ("$JS.API.SERVER.REMOVE", json.dumps({"peer": FAKE}).encode()),
            (f"$SYS.REQ.SERVER.{sid}.KICK", b'{"cid": 0}'),
            (f"$SYS.REQ.SERVER.{sid}.RELOAD", b""),
            (f"$JS.API.ACCOUNT.PURGE.{FAKE}", b""),
        ):
            assert await client.request(subject, body) == "denied", subject
        await assert_matches_server(report, client, sysc)
    finally:
        await client.nc.close()


async def test_operator_role(cluster: Deployment, sysc: Client_) -> None:
    ident = role_user(cluster, "operator", "system")
    client = await connect(cluster, ident)
    try:
        report = await check(client, ident, "system", probe=True)
        for feat in role_features("operator"):
            if feat.where != "owner":
                assert report.features[feat.id].available, feat.id
        assert not report.features["meta.rescue"].available

        for subject, body in PINGS:
            assert await client.request(subject, body) == "reply", subject
        leader = await meta_leader(sysc)
        # Permitted: the server answers (here an API error: no such preferred
        # server), it is not a permission violation.
        assert (
            await client.request("$JS.API.META.LEADER.STEPDOWN", STEPDOWN_BODY)
            == "reply"
        )
        answer = await client.reply("$JS.API.META.LEADER.STEPDOWN", STEPDOWN_BODY)
        assert answer.get("error") or answer.get("success")
        assert await meta_leader(sysc) == leader or answer.get("success")
        sid = await server_id(sysc)
        for subject, body in (
            ("$JS.API.SERVER.REMOVE", json.dumps({"peer": FAKE}).encode()),
            (f"$SYS.REQ.SERVER.{sid}.KICK", b'{"cid": 0}'),
        ):
            assert await client.request(subject, body) == "reply", subject
        assert await client.request("$JS.API.META.RESCUE", b"{}") == "denied"
        await assert_matches_server(report, client, sysc)
    finally:
        await client.nc.close()


@pytest.mark.parametrize("role", ["observer", "operator"])
async def test_account_roles(cluster: Deployment, sysc: Client_, role: str) -> None:
    ident = role_user(cluster, role, "account")
    client = await connect(cluster, ident)
    try:
        report = await check(client, ident, "APP", probe=True)
        assert report.features["streams"].available
        assert report.features["events.account"].available
        assert report.features["stepdown.stream"].available == (role == "operator")
        assert await client.request(f"$JS.API.STREAM.INFO.{FAKE}") == "reply"
        stepdown = await client.request(f"$JS.API.STREAM.LEADER.STEPDOWN.{FAKE}")
        assert stepdown == ("reply" if role == "operator" else "denied")
        assert await accepted(sysc, client, "$JS.EVENT.>")
        await assert_matches_server(report, client, sysc)
    finally:
        await client.nc.close()


# -- the command -------------------------------------------------------------------


def test_perms_command(cluster: Deployment, capsys: pytest.CaptureFixture[str]) -> None:
    ident = cluster.make_user(
        "SYS", "cli-no-connz", pub_deny=["$SYS.REQ.SERVER.PING.CONNZ"]
    )
    base = ["perms", "-s", cluster.url, "--creds", ident.creds]
    base += ["--account-creds", f"APP={cluster.app_user.creds}"]
    assert main([*base, "--json", "--probe"]) == 0
    data = json.loads(capsys.readouterr().out)
    conns = {c["connection"]: c for c in data["connections"]}
    assert set(conns) == {"system", "APP"}
    sys_features = {f["feature"]: f for f in conns["system"]["features"]}
    app_features = {f["feature"]: f for f in conns["APP"]["features"]}
    assert sys_features["connections"]["available"] is False
    assert sys_features["connections"]["probed"] is True
    assert sys_features["servers"]["available"] is True
    assert sys_features["stepdown.stream"]["status"] == "wrong-account"
    assert app_features["stepdown.stream"]["available"] is True
    assert app_features["servers"]["status"] == "wrong-account"
    assert conns["APP"]["is_system"] is False

    assert main(base) == 0
    table = capsys.readouterr().out
    row = next(line for line in table.splitlines() if " connections " in line)
    assert "system" in row and " no " in row


async def test_user_without_reply_inbox(cluster: Deployment, sysc: Client_) -> None:
    ident = cluster.make_user("SYS", "no-inbox", sub_allow=["$SYS.>", "$JS.EVENT.>"])
    client = await connect(cluster, ident)
    try:
        report = await check(client, ident, "system", probe=True)
        assert report.permissions_source == "jwt"  # USER.INFO's reply cannot arrive
        assert any("USER.INFO" in n for n in report.notes)
        servers = report.features["servers"]
        assert not servers.available and "_INBOX.>" in servers.reason
        assert report.features["events.system"].available
        assert not await accepted(sysc, client, f"{client.nc.new_inbox()}.*")
        await assert_matches_server(report, client, sysc)
    finally:
        await client.nc.close()


async def test_conf_block_loads_into_a_server(tmp_path: Path) -> None:
    pset = recommend("observer")
    block = textwrap.indent(render(pset, "conf"), "      ")
    port = free_ports(1)[0]
    conf = tmp_path / "server.conf"
    conf.write_text(
        f"listen: 127.0.0.1:{port}\n"
        "accounts {\n"
        "  SYS {\n"
        "    users: [\n"
        "     {\n"
        "      user: obs, password: obs\n"
        f"{block}\n"
        "     }\n"
        "    ]\n"
        "  }\n"
        "}\n"
        "system_account: SYS\n"
    )
    log = (tmp_path / "server.log").open("wb")
    proc = await asyncio.create_subprocess_exec(
        find_nats_server(), "-c", str(conf), stdout=log, stderr=subprocess.STDOUT
    )
    try:
        await async_wait_for(
            lambda: proc.returncode is not None or _listening(port),
            timeout=10,
            what="the config-file server to listen",
        )
        assert proc.returncode is None, (tmp_path / "server.log").read_text()
        nc = await nats.connect(
            f"nats://127.0.0.1:{port}", user="obs", password="obs", connect_timeout=3
        )
        try:
            msg = await nc.request("$SYS.REQ.USER.INFO", b"", timeout=3)
            server_view = Permissions.from_server(
                json.loads(msg.data)["data"]["permissions"]
            )
            assert server_view.same_as(pset.permissions)
            statsz = await nc.request("$SYS.REQ.SERVER.PING.STATSZ", b"", timeout=3)
            assert json.loads(statsz.data)["statsz"]
        finally:
            await nc.close()
    finally:
        if proc.returncode is None:
            proc.terminate()
        await asyncio.wait_for(proc.wait(), 10)
        log.close()


def _listening(port: int) -> bool:
    with (
        contextlib.suppress(OSError),
        socket.create_connection(("127.0.0.1", port), 0.2),
    ):
        return True
    return False


async def test_prober_tells_denied_from_no_responders_from_timeout(
    cluster: Deployment,
) -> None:
    silent_subject = f"perms.silent.{FAKE}"
    listener = await connect(cluster, cluster.app_user)
    ident = cluster.make_user("APP", "prober", pub_deny=["perms.denied.>"])
    client = await connect(cluster, ident)
    try:
        await listener.nc.subscribe(silent_subject)  # never answers
        await listener.nc.flush()
        await listener.nc.flush()
        checks = []
        for subject in (f"perms.denied.{FAKE}", f"perms.nobody.{FAKE}", silent_subject):
            entry = SubjectEntry(subject, "pub", "owner", "read", (), "", probe="")
            checks.append(SubjectCheck(entry, subject, Decision("pub", subject, "all")))
        await Prober(client.nc, timeout=0.5).run(
            checks, server_id=None, account=None, inbox_prefix="_INBOX"
        )
        results = [c.probe.result if c.probe else None for c in checks]
        assert results == ["denied", "no-responders", "timeout"]
        assert not client.violations  # the expected violation stayed with the prober
    finally:
        await client.nc.close()
        await listener.nc.close()
