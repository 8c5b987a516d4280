"""``natsops whoami`` against a real cluster: identity from the JWT and the server."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from natsops.cli import main
from natsops.creds import format_time
from natsops.harness import SYSTEM_PUB_ALLOW, SYSTEM_SUB_ALLOW, Deployment, Identity


@pytest.fixture(autouse=True)
def _private_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No real user config, context or NATS_* variable leaks into the test."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("COLUMNS", "200")
    for name in ("NATS_URL", "NATS_CREDS", "NATS_CONTEXT", "NATSOPS_CONFIG"):
        monkeypatch.delenv(name, raising=False)


def sys_args(dep: Deployment) -> list[str]:
    return ["--server", dep.url, "--creds", dep.sys_user.creds]


def whoami(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["whoami", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def whoami_json(capsys: pytest.CaptureFixture[str], *argv: str) -> list[dict[str, Any]]:
    code, out, err = whoami(capsys, "--json", *argv)
    assert code == 0, err
    assert err == ""
    return json.loads(out)["connections"]


def assert_no_secrets(text: str, *identities: Identity) -> None:
    for ident in identities:
        assert ident.seed not in text
        assert ident.jwt not in text
        assert ident.jwt.split(".")[1][:30] not in text
    assert "eyJ" not in text


def test_whoami_json(cluster: Deployment, capsys: pytest.CaptureFixture[str]) -> None:
    entries = whoami_json(
        capsys,
        "--server",
        cluster.url,
        "--creds",
        cluster.sys_user.creds,
        "--account-creds",
        f"APP={cluster.app_user.creds}",
    )
    assert [e["connection"] for e in entries] == ["system", "APP"]
    system, app = entries

    assert system["user"] == {"name": "sys", "public_key": cluster.sys_user.public_key}
    assert system["account"] == {
        "name": "SYS",
        "public_key": cluster.accounts["SYS"].public_key,
    }
    assert system["system_account"] is True
    assert system["permissions"]["source"] == "server"
    assert sorted(system["permissions"]["pub"]["allow"]) == sorted(SYSTEM_PUB_ALLOW)
    assert sorted(system["permissions"]["sub"]["allow"]) == sorted(SYSTEM_SUB_ALLOW)
    assert system["permissions"]["pub"]["deny"] == []
    assert system["expires"] is None
    assert system["server"] in cluster.servers
    assert system["url"] in cluster.urls
    assert system["auth"] == "creds"
    assert system["credential"] == cluster.sys_user.creds
    assert system["issuer"] == cluster.accounts["SYS"].public_key
    assert system["signing_key"] is False
    assert system["errors"] == []

    assert app["user"]["public_key"] == cluster.app_user.public_key
    assert app["account"] == {
        "name": "APP",
        "public_key": cluster.accounts["APP"].public_key,
    }
    assert app["system_account"] is False
    assert app["permissions"]["pub"] == {"allow": [], "deny": []}


def test_whoami_restricted_and_expiring_user(
    cluster: Deployment, capsys: pytest.CaptureFixture[str]
) -> None:
    expires = time.time() + 7200
    user = cluster.make_user(
        "APP",
        "limited",
        pub_allow=["orders.>", "$JS.API.>"],
        pub_deny=["orders.secret"],
        sub_allow=["_INBOX.>", "orders.*"],
        expires=expires,
    )
    (entry,) = whoami_json(capsys, "--server", cluster.url, "--creds", user.creds)
    assert entry["user"] == {"name": "limited", "public_key": user.public_key}
    assert entry["account"] == {"name": None, "public_key": user.account_public}
    # The user may not ask the server, so the JWT's own view is shown, and why.
    assert entry["system_account"] is None
    assert entry["errors"] == [
        "user info: publish to $SYS.REQ.USER.INFO denied: this user's permissions "
        "do not allow it; see 'natsops whoami'",
    ]
    perms = entry["permissions"]
    assert perms["source"] == "jwt"
    assert perms["pub"] == {
        "allow": ["orders.>", "$JS.API.>"],
        "deny": ["orders.secret"],
    }
    assert perms["sub"] == {"allow": ["_INBOX.>", "orders.*"], "deny": []}
    assert entry["expires"] == format_time(int(expires))


def test_whoami_server_view_of_permissions(
    cluster: Deployment, capsys: pytest.CaptureFixture[str]
) -> None:
    user = cluster.make_user(
        "APP",
        "reader",
        pub_allow=["$SYS.REQ.USER.INFO", "orders.>"],
        sub_deny=["orders.secret"],
    )
    (entry,) = whoami_json(capsys, "--server", cluster.url, "--creds", user.creds)
    assert entry["account"]["name"] == "APP"
    assert entry["system_account"] is None  # may not publish the probe
    # Beside a verified system connection, the account key tells.
    _, entry = whoami_json(
        capsys, *sys_args(cluster), "--account-creds", f"APP={user.creds}"
    )
    assert entry["system_account"] is False
    perms = entry["permissions"]
    assert perms["source"] == "server"
    assert sorted(perms["pub"]["allow"]) == ["$SYS.REQ.USER.INFO", "orders.>"]
    assert perms["sub"]["deny"] == ["orders.secret"]
    assert entry["errors"] == []


def test_whoami_table(cluster: Deployment, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = whoami(
        capsys,
        "--server",
        cluster.url,
        "--creds",
        cluster.sys_user.creds,
        "--account-creds",
        f"APP={cluster.app_user.creds}",
    )
    assert code == 0 and err == ""
    system_part, app_part = out.split("account connection APP")
    assert "system connection" in system_part
    assert cluster.sys_user.public_key in system_part
    assert cluster.accounts["SYS"].public_key in system_part
    assert "$SYS.REQ.SERVER.>" in system_part
    assert "yes" in system_part
    assert cluster.app_user.public_key in app_part
    assert cluster.accounts["APP"].public_key in app_part
    assert "any subject" in app_part
    assert_no_secrets(out + err, cluster.sys_user, cluster.app_user)


def test_whoami_through_natscli_contexts(
    cluster: Deployment, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    folder = tmp_path / "config" / "nats" / "context"
    folder.mkdir(parents=True)
    (folder / "sys.json").write_text(
        json.dumps({"url": cluster.url, "creds": cluster.sys_user.creds})
    )
    (folder / "app.json").write_text(
        json.dumps({"url": cluster.urls[1], "creds": cluster.app_user.creds})
    )
    (tmp_path / "config" / "nats" / "context.txt").write_text("sys")
    entries = whoami_json(capsys, "--account-context", "APP=app")
    assert [e["connection"] for e in entries] == ["system", "APP"]
    assert entries[0]["system_account"] is True
    assert entries[0]["credential"] == cluster.sys_user.creds
    assert entries[1]["account"]["name"] == "APP"
    assert entries[1]["url"] == cluster.urls[1]


def test_whoami_user_that_may_not_probe(
    cluster: Deployment, capsys: pytest.CaptureFixture[str]
) -> None:
    user = cluster.make_user(
        "SYS", "infoonly", pub_allow=["$SYS.REQ.USER.INFO"], sub_allow=["_INBOX.>"]
    )
    (entry,) = whoami_json(capsys, "--server", cluster.url, "--creds", user.creds)
    assert entry["system_account"] is None
    assert entry["account"]["name"] == "SYS"
    code, out, _ = whoami(capsys, "--server", cluster.url, "--creds", user.creds)
    assert code == 0 and "unknown" in out
