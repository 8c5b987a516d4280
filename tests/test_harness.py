"""The harness itself: real servers in operator mode, readiness and teardown."""

from __future__ import annotations

import json
import time

import nats
import pytest

from natsops import jwt
from natsops.harness import Deployment, free_ports, run_coro_sync, wait_for


def test_free_ports_are_distinct() -> None:
    ports = free_ports(20)
    assert len(set(ports)) == 20


def test_creds_file_holds_a_user_jwt_of_the_account(cluster: Deployment) -> None:
    text = cluster.app_user.creds_path.read_text()
    token = text.split("-----BEGIN NATS USER JWT-----\n")[1].split("\n")[0]
    claims = jwt.decode_claims(token)
    assert claims["sub"] == cluster.app_user.public_key
    assert claims["iss"] == cluster.accounts["APP"].public_key
    assert claims["nats"]["type"] == "user"


def test_system_user_sees_every_server(cluster: Deployment) -> None:
    async def names() -> set[str]:
        nc = await nats.connect(
            servers=cluster.urls, user_credentials=cluster.sys_user.creds
        )
        inbox = nc.new_inbox()
        got: set[str] = set()
        sub = await nc.subscribe(inbox)
        await nc.publish("$SYS.REQ.SERVER.PING.IDZ", b"", reply=inbox)
        while len(got) < 3:
            msg = await sub.next_msg(timeout=2)
            got.add(json.loads(msg.data)["name"])
        await nc.close()
        return got

    assert run_coro_sync(names()) == {"c1-n1", "c1-n2", "c1-n3"}


def test_app_account_has_jetstream(cluster: Deployment) -> None:
    async def info() -> dict:
        nc = await nats.connect(
            servers=cluster.urls, user_credentials=cluster.app_user.creds
        )
        msg = await nc.request("$JS.API.INFO", b"", timeout=5)
        await nc.close()
        return json.loads(msg.data)

    reply = run_coro_sync(info())
    assert "error" not in reply, reply
    assert reply["type"] == "io.nats.jetstream.api.v1.account_info_response"


def test_expired_user_is_refused(cluster: Deployment) -> None:
    user = cluster.make_user("APP", "expired", expires=time.time() - 60)

    async def connect() -> None:
        nc = await nats.connect(
            servers=cluster.urls,
            user_credentials=user.creds,
            allow_reconnect=False,
            max_reconnect_attempts=0,
            connect_timeout=2,
        )
        await nc.close()

    with pytest.raises(Exception, match=r"(?i)authori|expired"):
        run_coro_sync(connect())


def test_fresh_cluster_stop_restart_and_close(fresh_cluster: Deployment) -> None:
    server = fresh_cluster.servers["c1-n2"]
    server.stop()
    assert not server.running
    server.restart()
    fresh_cluster.wait_ready()
    assert all(s.running for s in fresh_cluster.servers.values())
    fresh_cluster.close()
    wait_for(
        lambda: not any(s.running for s in fresh_cluster.servers.values()),
        5,
        "servers to stop",
    )


@pytest.mark.supercluster
def test_supercluster_has_two_clusters(supercluster: Deployment) -> None:
    clusters = {s.cluster for s in supercluster.servers.values()}
    assert clusters == {"c1", "c2"}
    assert len(supercluster.urls) == 6
