"""``natsops leafnodes`` against a cluster with a real leafnode server attached."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_reports_support import (  # noqa: F401 (fixtures)
    _isolated_env,
    run_cli,
    run_json,
    system_replies,
)

from natsops.harness import (
    Deployment,
    find_nats_server,
    free_ports,
    run_coro_sync,
    wait_for,
)


@pytest.fixture
def leafed(tmp_path: Path) -> Iterator[Deployment]:
    """A 3-node cluster whose c1-n1 accepts leafnodes, with one leaf (APP account)."""
    dep = Deployment(tmp_path / "dep", [("c1", 3)], owns_directory=False)
    leaf: subprocess.Popen[bytes] | None = None
    try:
        leaf_port, leaf_client = free_ports(2)
        with dep.servers["c1-n1"].config_path.open("a") as conf:
            conf.write(f"leafnodes {{ listen: 127.0.0.1:{leaf_port} }}\n")
        for server in dep.servers.values():
            server.start()
        dep.wait_ready(30)
        conf_path = tmp_path / "leaf1.conf"
        conf_path.write_text(
            "server_name: leaf1\n"
            f"listen: 127.0.0.1:{leaf_client}\n"
            "accounts { LEAF { users [{user: leaf, password: leaf}] } }\n"
            "leafnodes { remotes [{\n"
            f'  url: "nats-leaf://127.0.0.1:{leaf_port}"\n'
            f'  credentials: "{dep.app_user.creds}"\n'
            "  account: LEAF\n"
            "}] }\n"
        )
        with (tmp_path / "leaf1.log").open("wb") as log:
            leaf = subprocess.Popen(
                [find_nats_server(), "-c", str(conf_path)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        yield dep
    finally:
        if leaf is not None:
            leaf.kill()
            leaf.wait(10)
        dep.close()


def test_leafnode_is_listed_with_its_account(
    leafed: Deployment, capsys: pytest.CaptureFixture[str]
) -> None:
    def attached() -> dict[str, Any]:
        replies = run_coro_sync(system_replies(leafed, "LEAFZ"))
        leafs = replies["c1-n1"]["data"].get("leafs") or []
        return replies if leafs else {}

    leafz = wait_for(attached, 15, "the leafnode to attach")
    doc = run_json(capsys, leafed, "leafnodes")
    (row,) = doc["leafnodes"]
    raw = leafz["c1-n1"]["data"]["leafs"][0]
    assert row["server"] == "c1-n1"
    assert row["remote"] == raw["name"] == "leaf1"
    assert row["account"] == leafed.accounts["APP"].public_key == raw["account"]
    assert row["account_name"] == "APP"
    assert row["role"] == "hub"
    assert doc["per_server"] == {"c1-n1": 1, "c1-n2": 0, "c1-n3": 0}

    code, out, _ = run_cli(capsys, leafed, "leafnodes")
    assert code == 0
    line = next(ln for ln in out.splitlines() if "leaf1" in ln)
    assert "c1-n1" in line and "APP" in line
    assert out.rstrip().endswith("3/3 servers")
