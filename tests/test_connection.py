"""The connection hub against real servers: opening, identity, request errors,
permission violations, bounded first connects, TLS and reconnecting."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import logging
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nats
import nkeys
import pytest

from natsops import jwt
from natsops.connection import (
    ConnEvent,
    Hub,
    _parse_violation,
    check_servers,
    display_url,
    parse_json_reply,
    request_json,
    watch_permission,
)
from natsops.errors import (
    AccountConnectionMissing,
    ApiError,
    AuthError,
    ConnectError,
    CredentialError,
    MalformedReply,
    NoResponders,
    NotSystemAccount,
    PermissionDenied,
    RequestTimeout,
)
from natsops.harness import (
    AccountKey,
    Deployment,
    Identity,
    ServerProc,
    async_wait_for,
    find_nats_server,
    free_ports,
)
from natsops.settings import ConnectionSettings, Settings


def settings_for(
    identity: Identity | None,
    servers: list[str],
    accounts: dict[str, Identity] | None = None,
    **system: Any,
) -> Settings:
    """Settings for a system connection as ``identity`` plus account connections."""
    system.setdefault("connect_timeout", 3.0)
    return Settings(
        system=ConnectionSettings(
            servers=servers,
            creds=identity.creds_path if identity else None,
            **system,
        ),
        accounts={
            name: ConnectionSettings(
                servers=servers, creds=ident.creds_path, label=name, connect_timeout=3
            )
            for name, ident in (accounts or {}).items()
        },
    )


def closed_port() -> int:
    return free_ports(1)[0]


# --------------------------------------------------------------- opening


async def test_open_system_and_account(cluster: Deployment) -> None:
    s = settings_for(cluster.sys_user, cluster.urls, {"APP": cluster.app_user})
    async with await Hub.open(s) as hub:
        link = hub.system_link
        assert hub.system is link.nc and link.nc.is_connected
        assert link.is_system is True and hub.system_verified
        assert link.public_key == cluster.accounts["SYS"].public_key
        assert link.info is not None
        assert link.info.account_name == "SYS"
        assert link.info.user == cluster.sys_user.public_key
        assert link.info.server_name in cluster.servers
        assert "$SYS.REQ.SERVER.>" in link.info.permissions.pub_allow

        app = hub.account("APP")
        assert app.public_key == cluster.accounts["APP"].public_key
        assert app.account_name == "APP"
        assert hub.account(cluster.accounts["APP"].public_key) is app
        assert hub.account("app") is app
        assert [x.name for x in hub.links()] == ["system", "APP"]
        assert hub.state() == "connected" and hub.state("APP") == "connected"
        assert hub.connected_url() in cluster.urls

        with pytest.raises(AccountConnectionMissing) as err:
            hub.account("ORDERS")
        assert "--account-creds ORDERS=FILE" in str(err.value)
    assert hub.state() == "closed"
    assert link.nc.is_closed and app.nc.is_closed


async def test_state_events(cluster: Deployment) -> None:
    s = settings_for(cluster.sys_user, cluster.urls)
    hub = await Hub.open(s)
    events: list[ConnEvent] = []
    hub.add_state_listener(events.append, replay=True)
    assert [e.kind for e in events] == ["connected"]
    assert events[0].label == "system"
    assert events[0].url in cluster.urls
    assert events[0].server in cluster.servers

    def broken(event: ConnEvent) -> None:
        raise RuntimeError("listener bug")

    hub.add_state_listener(broken)
    await hub.close()
    await hub.close()  # twice is fine
    assert [e.kind for e in events] == ["connected", "closed"]


async def test_not_system_account(cluster: Deployment) -> None:
    s = settings_for(cluster.app_user, cluster.urls)
    with pytest.raises(NotSystemAccount) as err:
        await Hub.open(s)
    assert str(err.value) == (
        "user 'app' of account 'APP' is not in the system account: "
        "use a system user's creds with --creds"
    )
    async with await Hub.open(s, require_system=False) as hub:
        assert hub.system_link.is_system is False
        assert not hub.system_verified


async def test_system_user_that_may_not_probe(cluster: Deployment) -> None:
    user = cluster.make_user(
        "SYS",
        "infoonly",
        pub_allow=["$SYS.REQ.USER.INFO"],
        sub_allow=["_INBOX.>"],
    )
    async with await Hub.open(settings_for(user, cluster.urls)) as hub:
        assert hub.system_link.is_system is None
        assert not hub.system_verified
        assert hub.system_link.info is not None
        assert hub.system_link.info.permissions.pub_allow == ("$SYS.REQ.USER.INFO",)


async def test_user_info_expiry(cluster: Deployment) -> None:
    expires = time.time() + 3600
    user = cluster.make_user("APP", "soon", expires=expires)
    async with await Hub.open(
        settings_for(user, cluster.urls), require_system=False
    ) as hub:
        info = await hub.user_info()
        assert info.user_name == "soon"
        assert info.expires is not None and 3500 < info.expires <= 3600
        assert info.expires_at is not None and abs(info.expires_at - expires) < 60
        claims = hub.system_link.claims
        assert claims is not None and claims.expires == int(expires)


async def test_account_failure_can_be_tolerated(cluster: Deployment, tmp_path: Path):
    s = settings_for(cluster.sys_user, cluster.urls, {"APP": cluster.app_user})
    s.accounts["GONE"] = ConnectionSettings(
        servers=cluster.urls, creds=tmp_path / "gone.creds", label="GONE"
    )
    with pytest.raises(CredentialError, match=r"gone\.creds"):
        await Hub.open(s)
    async with await Hub.open(s, accounts_required=False) as hub:
        assert set(hub.accounts) == {"APP"}
        assert isinstance(hub.account_errors["GONE"], CredentialError)


# --------------------------------------------------------------- requests


async def test_request_errors(cluster: Deployment) -> None:
    s = settings_for(cluster.sys_user, cluster.urls, {"APP": cluster.app_user})
    async with await Hub.open(s) as hub:
        nc = hub.account("APP").nc

        with pytest.raises(NoResponders, match=r"nobody\.listens"):
            await request_json(nc, "nobody.listens", timeout=2)

        sub = await nc.subscribe("natsops.test.silent")
        with pytest.raises(RequestTimeout, match=r"natsops\.test\.silent within 0\.2s"):
            await request_json(nc, "natsops.test.silent", timeout=0.2)
        await sub.unsubscribe()

        async def answer(msg: Any) -> None:
            await msg.respond(msg.data)  # echo what was asked

        echo = await nc.subscribe("natsops.test.echo", cb=answer)
        assert await request_json(nc, "natsops.test.echo", {"a": 1}) == {"a": 1}
        with pytest.raises(MalformedReply, match="not JSON"):
            await request_json(nc, "natsops.test.echo", b"not json")
        with pytest.raises(MalformedReply, match="not a JSON object"):
            await request_json(nc, "natsops.test.echo", b"[1, 2]")
        await echo.unsubscribe()

        with pytest.raises(ApiError) as err:
            await request_json(nc, "$JS.API.STREAM.INFO.NO_SUCH_STREAM")
        assert err.value.err_code == 10059
        assert "stream not found" in str(err.value)


async def test_permission_denied_is_reported_not_timed_out(
    cluster: Deployment,
) -> None:
    user = cluster.make_user(
        "SYS",
        "narrow",
        pub_allow=["$SYS.REQ.USER.INFO", "$SYS.REQ.SERVER.PING.IDZ"],
        sub_allow=["_INBOX.>"],
    )
    async with await Hub.open(settings_for(user, cluster.urls)) as hub:
        events: list[ConnEvent] = []
        hub.add_state_listener(events.append)
        # A long timeout: only the correlated violation can end this early.
        with pytest.raises(PermissionDenied) as err:
            await asyncio.wait_for(
                request_json(hub.system, "$SYS.REQ.SERVER.PING.STATSZ", timeout=30),
                timeout=10,
            )
        assert str(err.value).startswith(
            "publish to $SYS.REQ.SERVER.PING.STATSZ denied"
        )
        await async_wait_for(
            lambda: any(e.kind == "permission" for e in events), 5, "permission event"
        )
        event = next(e for e in events if e.kind == "permission")
        assert event.subject == "$sys.req.server.ping.statsz"  # nats-py lowercases
        # The connection survives a violation.
        assert (await hub.user_info()).user_name == "narrow"


async def test_reply_inbox_denied(cluster: Deployment) -> None:
    user = cluster.make_user("SYS", "noinbox", sub_deny=["_INBOX.>"])
    with pytest.raises(PermissionDenied) as err:
        await asyncio.wait_for(Hub.open(settings_for(user, cluster.urls)), 10)
    assert "subscribe to _INBOX.> denied" in str(err.value)
    assert "--inbox-prefix" in str(err.value)


async def test_inbox_prefix(cluster: Deployment) -> None:
    user = cluster.make_user(
        "SYS",
        "ownbox",
        pub_allow=["$SYS.REQ.>"],
        sub_allow=["_OPS.>"],
    )
    s = settings_for(user, cluster.urls, inbox_prefix="_OPS")
    async with await Hub.open(s) as hub:
        assert hub.system_link.is_system is True
        assert (await hub.user_info()).user_name == "ownbox"


async def test_watch_permission_on_foreign_client(cluster: Deployment) -> None:
    nc = await nats.connect(cluster.urls, user_credentials=cluster.app_user.creds)
    try:
        with watch_permission(nc, "x") as fut:
            assert not fut.done()
        assert fut.cancelled()
        with pytest.raises(NoResponders):
            await request_json(nc, "nobody.here", timeout=1)
    finally:
        await nc.close()


async def test_slow_consumer_event(cluster: Deployment) -> None:
    s = settings_for(cluster.sys_user, cluster.urls, {"APP": cluster.app_user})
    async with await Hub.open(s) as hub:
        events: list[ConnEvent] = []
        hub.add_state_listener(events.append)
        nc = hub.account("APP").nc
        gate = asyncio.Event()

        async def stuck(msg: Any) -> None:
            await gate.wait()

        await nc.subscribe("natsops.test.flood", cb=stuck, pending_msgs_limit=2)
        for _ in range(200):
            await nc.publish("natsops.test.flood", b"x")
        await nc.flush()
        await async_wait_for(
            lambda: any(e.kind == "slow_consumer" for e in events), 5, "slow consumer"
        )
        slow = [e for e in events if e.kind == "slow_consumer"]
        assert len(slow) == 1  # rate-limited, not one per dropped message
        assert slow[0].label == "APP" and slow[0].subject == "natsops.test.flood"
        gate.set()


# ------------------------------------------------------------- failures


async def test_closed_port(cluster: Deployment) -> None:
    url = f"nats://127.0.0.1:{closed_port()}"
    with pytest.raises(ConnectError) as err:
        await Hub.open(settings_for(cluster.sys_user, [url]))
    assert str(err.value).startswith(
        f"system connection: cannot connect to {url}: connection refused"
    )


async def test_dead_server_first_live_second(cluster: Deployment) -> None:
    dead = f"nats://127.0.0.1:{closed_port()}"
    s = settings_for(cluster.sys_user, [dead, cluster.urls[0]])
    async with await Hub.open(s) as hub:
        assert hub.connected_url() == cluster.urls[0]


async def test_silent_server_is_bounded(cluster: Deployment) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)  # accepts TCP, never says INFO
    url = f"nats://127.0.0.1:{listener.getsockname()[1]}"
    started = time.monotonic()
    try:
        with pytest.raises(ConnectError) as err:
            await Hub.open(settings_for(cluster.sys_user, [url], connect_timeout=0.5))
    finally:
        listener.close()
    assert time.monotonic() - started < 5  # bounded, not nats-py's minutes
    assert f"no answer from {url} within 0.5s" in str(err.value)


async def test_untrusted_user_is_an_auth_error(cluster: Deployment) -> None:
    rogue = AccountKey(
        name="ROGUE",
        keypair=jwt.new_keypair(nkeys.PREFIX_BYTE_ACCOUNT),
        jwt="",
        jetstream=False,
    )
    user = cluster.make_user("APP", "rogue", signer=rogue)
    with pytest.raises(AuthError) as err:
        await Hub.open(settings_for(user, cluster.urls))
    message = str(err.value)
    assert "refused the credential (Authorization Violation)" in message
    assert str(user.creds_path) in message
    assert "\n" not in message


async def test_no_credential_on_an_operator_cluster(cluster: Deployment) -> None:
    with pytest.raises(AuthError, match="requires authentication"):
        await Hub.open(settings_for(None, cluster.urls))


async def test_expired_creds_are_refused_locally(cluster: Deployment) -> None:
    user = cluster.make_user("SYS", "old", expires=time.time() - 5)
    with pytest.raises(CredentialError, match="expired at"):
        await Hub.open(settings_for(user, cluster.urls))


@pytest.mark.parametrize(
    ("servers", "expected"),
    [
        (["http://127.0.0.1:4222"], "unsupported URL scheme 'http'"),
        (["nats://127.0.0.1:notaport"], "invalid server URL"),
        (["nats://"], "no host"),
        ([], "no server URL"),
        (["nats://h:1", "ws://h:2"], "cannot be mixed"),
        pytest.param(
            ["ws://h:1"],
            "need the aiohttp package",
            marks=pytest.mark.skipif(
                importlib.util.find_spec("aiohttp") is not None,
                reason="aiohttp is installed",
            ),
        ),
    ],
)
def test_bad_urls(servers: list[str], expected: str) -> None:
    with pytest.raises(ConnectError, match=expected):
        check_servers(servers, "system")


async def test_passwords_stay_out_of_messages(cluster: Deployment) -> None:
    url = f"nats://admin:hunter2@127.0.0.1:{closed_port()}"
    with pytest.raises(ConnectError) as err:
        await Hub.open(settings_for(None, [url]))
    assert "hunter2" not in str(err.value)
    assert "admin:***@127.0.0.1" in str(err.value)


async def test_nats_py_logs_no_traceback(
    cluster: Deployment, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with pytest.raises(ConnectError):
        await Hub.open(
            settings_for(cluster.sys_user, [f"nats://127.0.0.1:{closed_port()}"])
        )
    assert not [r for r in caplog.records if r.exc_info]
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


# ------------------------------------------------------------- reconnecting


async def test_survives_the_death_of_its_server(fresh_cluster: Deployment) -> None:
    n1 = fresh_cluster.servers["c1-n1"]
    s = settings_for(fresh_cluster.sys_user, [n1.client_url])  # only one URL given
    async with await Hub.open(s) as hub:
        events: list[ConnEvent] = []
        hub.add_state_listener(events.append)
        got: list[bytes] = []

        async def on_msg(msg: Any) -> None:
            got.append(msg.data)

        await hub.system.subscribe("$SYS.ACCOUNT.*.CONNECT", cb=on_msg)
        await hub.system.flush()

        n1.kill()
        await async_wait_for(
            lambda: any(e.kind == "reconnected" for e in events), 20, "reconnected"
        )
        kinds = [e.kind for e in events if e.kind != "error"]
        assert kinds[:3] == ["disconnected", "reconnecting", "reconnected"]
        assert hub.state() == "connected"
        assert hub.connected_url() != n1.client_url  # a discovered server
        assert hub.server_name() in ("c1-n2", "c1-n3")
        info = await hub.user_info()
        assert info.server_name in ("c1-n2", "c1-n3")

        # Subscriptions were replayed on the new server.
        other = await nats.connect(
            [fresh_cluster.servers["c1-n2"].client_url],
            user_credentials=fresh_cluster.app_user.creds,
        )
        await other.close()
        await async_wait_for(lambda: got, 10, "connect event after reconnect")


# -------------------------------------------------------------------- TLS


@pytest.fixture(scope="module")
def tls_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Two plain-auth TLS servers (one wanting the handshake first) and their CA."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make test certificates")
    folder = tmp_path_factory.mktemp("tls")

    def run(*argv: str) -> None:
        subprocess.run(argv, cwd=folder, check=True, capture_output=True, timeout=30)

    run(
        "openssl",
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=natsops test CA",
    )
    run(
        "openssl",
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=localhost",
    )
    (folder / "ext.cnf").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    run(
        "openssl",
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "2",
        "-extfile",
        "ext.cnf",
    )

    procs: dict[str, ServerProc] = {}
    for name, first in (("tls", False), ("tlsfirst", True)):
        procs[name] = _start_plain_server(
            folder,
            name,
            "tls {\n"
            f"  cert_file: {json.dumps(str(folder / 'server.pem'))}\n"
            f"  key_file: {json.dumps(str(folder / 'server.key'))}\n"
            f"  handshake_first: {'true' if first else 'false'}\n"
            "}\n",
        )
    try:
        for server in procs.values():
            server.wait_listening()
        yield {
            "ca": folder / "ca.pem",
            "not_pem": folder / "ext.cnf",
            "url": procs["tls"].client_url,
            "first_url": procs["tlsfirst"].client_url,
        }
    finally:
        for server in procs.values():
            server.kill()


async def test_tls_connects_with_the_ca(tls_servers: dict[str, Any]) -> None:
    for url in (tls_servers["url"], tls_servers["url"].replace("nats://", "tls://")):
        s = settings_for(None, [url], tls_ca=tls_servers["ca"])
        async with await Hub.open(s, require_system=False) as hub:
            assert hub.state() == "connected"


async def test_tls_without_the_ca(tls_servers: dict[str, Any]) -> None:
    with pytest.raises(ConnectError) as err:
        await Hub.open(settings_for(None, [tls_servers["url"]]), require_system=False)
    assert "TLS handshake with" in str(err.value)
    assert "CERTIFICATE_VERIFY_FAILED" in str(err.value)


async def test_tls_handshake_first(tls_servers: dict[str, Any]) -> None:
    url, ca = tls_servers["first_url"], tls_servers["ca"]
    s = settings_for(None, [url], tls_ca=ca, tls_first=True)
    async with await Hub.open(s, require_system=False) as hub:
        assert hub.state() == "connected"
    with pytest.raises(ConnectError, match="--tlsfirst"):
        await Hub.open(
            settings_for(None, [url], tls_ca=ca, connect_timeout=0.5),
            require_system=False,
        )


async def test_tls_asked_of_a_plain_server(cluster: Deployment) -> None:
    url = cluster.urls[0].replace("nats://", "tls://")
    with pytest.raises(ConnectError, match="does not offer TLS"):
        await Hub.open(settings_for(cluster.sys_user, [url]))


async def test_bad_tls_files(tls_servers: dict[str, Any], tmp_path: Path) -> None:
    url = tls_servers["url"]
    with pytest.raises(CredentialError, match="is not a PEM certificate"):
        await Hub.open(settings_for(None, [url], tls_ca=tls_servers["not_pem"]))
    with pytest.raises(CredentialError, match="does not exist"):
        await Hub.open(settings_for(None, [url], tls_ca=tmp_path / "none.pem"))


# ------------------------------------------------------- other authentication


def _start_plain_server(folder: Path, name: str, body: str) -> ServerProc:
    """A standalone nats-server (no operator) with ``body`` as extra config."""
    port, cport, hport = free_ports(3)
    server = ServerProc(
        name, name, folder / name, port, cport, None, hport, find_nats_server()
    )
    server.directory.mkdir(parents=True)
    server.config_path.write_text(f"listen: 127.0.0.1:{port}\n{body}")
    server.start()
    return server


@pytest.fixture(scope="module")
def auth_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A server with a user/password user and an nkey user, and a token server."""
    folder = tmp_path_factory.mktemp("auth")
    user_kp = jwt.new_keypair(nkeys.PREFIX_BYTE_USER)
    seed_file = folder / "alice.nk"
    seed_file.write_text(f"# the seed of alice\n{jwt.seed_text(user_kp)}\n")
    users = _start_plain_server(
        folder,
        "users",
        "authorization {\n"
        '  users: [ {user: "bob", password: "s3cret"}, '
        f'{{nkey: "{jwt.public_key(user_kp)}"}} ]\n'
        "}\n",
    )
    token = _start_plain_server(
        folder, "token", 'authorization { token: "t0ken-value" }\n'
    )
    try:
        users.wait_listening()
        token.wait_listening()
        yield {
            "users": users.client_url,
            "token": token.client_url,
            "seed_file": seed_file,
            "nkey": jwt.public_key(user_kp),
            "seed": jwt.seed_text(user_kp),
        }
    finally:
        users.kill()
        token.kill()


async def test_user_password(auth_servers: dict[str, Any]) -> None:
    s = settings_for(None, [auth_servers["users"]], user="bob", password="s3cret")
    async with await Hub.open(s, require_system=False) as hub:
        info = await hub.user_info()
        assert info.user == "bob"
        assert info.account_name == "$G"
        assert hub.system_link.is_system is False
    s = settings_for(None, [auth_servers["users"]], user="bob", password="wrong")
    with pytest.raises(AuthError) as err:
        await Hub.open(s, require_system=False)
    assert "check --user and --password" in str(err.value)
    assert "wrong" not in str(err.value)


async def test_nkey_seed_file(auth_servers: dict[str, Any]) -> None:
    s = settings_for(None, [auth_servers["users"]], nkey=auth_servers["seed_file"])
    async with await Hub.open(s, require_system=False) as hub:
        assert (await hub.user_info()).user == auth_servers["nkey"]
        assert hub.system_link.credential is not None
        assert hub.system_link.credential.kind == "nkey"


async def test_inline_seed_from_a_context(auth_servers: dict[str, Any]) -> None:
    s = settings_for(
        None, [auth_servers["users"]], user_seed=auth_servers["seed"], context="c"
    )
    async with await Hub.open(s, require_system=False) as hub:
        assert (await hub.user_info()).user == auth_servers["nkey"]


async def test_token(auth_servers: dict[str, Any]) -> None:
    s = settings_for(None, [auth_servers["token"]], token="t0ken-value")
    async with await Hub.open(s, require_system=False) as hub:
        assert hub.state() == "connected"
    with pytest.raises(AuthError):
        await Hub.open(
            settings_for(None, [auth_servers["token"]], token="nope"),
            require_system=False,
        )


async def test_inline_jwt_and_seed(cluster: Deployment) -> None:
    user = cluster.sys_user
    s = settings_for(
        None, cluster.urls, user_jwt=user.jwt, user_seed=user.seed, context="inline"
    )
    async with await Hub.open(s) as hub:
        assert hub.system_link.is_system is True
        assert hub.system_link.info is not None
        assert hub.system_link.info.user == user.public_key


# ------------------------------------------------------------------ pure parts


def test_parse_json_reply() -> None:
    assert parse_json_reply("s", b'{"a": 1}') == {"a": 1}
    with pytest.raises(ApiError) as err:
        parse_json_reply(
            "s",
            b'{"error": {"code": 503, "err_code": 10039, '
            b'"description": "jetstream not enabled for account"}}',
        )
    assert (err.value.code, err.value.err_code) == (503, 10039)
    assert str(err.value) == "server error 10039: jetstream not enabled for account"
    # An envelope error without err_code (the $SYS APIs).
    with pytest.raises(ApiError, match="server error 400: bad request"):
        parse_json_reply("s", b'{"error": {"code": 400, "description": "bad request"}}')
    with pytest.raises(MalformedReply):
        parse_json_reply("s", b"\xff\xfe")


def test_parse_violation() -> None:
    assert _parse_violation(
        'nats: permissions violation for publish to "$sys.req.server.ping.idz"'
    ) == ("publish", "$sys.req.server.ping.idz")
    assert _parse_violation(
        'nats: permissions violation for subscription to "foo.>" using queue "q"'
    ) == ("subscription", "foo.>")


def test_display_url() -> None:
    assert display_url("nats://u:p@h:1") == "nats://u:***@h:1"
    assert display_url("nats://h:1") == "nats://h:1"
    assert display_url("h:1") == "h:1"
