"""Pure logic of operations on recorded replies: views, risks, errors, prompts."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from natsops.audit import AuditLog, read_audit
from natsops.commands.ops import confirm, parse_until
from natsops.errors import ApiError, NotFound, UsageError
from natsops.ops import (
    ConfirmationRequired,
    OperationCancelled,
    Operator,
    Plan,
    StaticConnections,
    explain_error,
)
from natsops.ops.plan import ErrorContext
from natsops.ops.views import groups_from_jsz, stream_view

REPLIES = Path(__file__).parent / "fixtures" / "replies"


def load(name: str) -> dict[str, Any]:
    return json.loads((REPLIES / f"{name}.json").read_text())["servers"]  # type: ignore[no-any-return]


def _raw_leader(servers: dict[str, Any], account: str, stream: str) -> str:
    """The leader as the recorded leader itself reports it."""
    for name, data in servers.items():
        for acc in data.get("account_details") or []:
            for detail in acc.get("stream_detail") or []:
                leader = detail["cluster"].get("leader")
                if (acc["name"], detail["name"]) == (
                    account,
                    stream,
                ) and leader == name:
                    return str(leader)
    raise AssertionError(f"no leader view of {account}/{stream}")


def test_jsz_groups_merge_every_servers_view() -> None:
    servers = load("jsz")
    streams, consumers = groups_from_jsz(servers)
    by_name = {(s.account_name, s.stream): s for s in streams}
    orders = by_name[("APP", "ORDERS")]
    assert orders.leader == _raw_leader(servers, "APP", "ORDERS")
    assert sorted(orders.names) == ["c1-n1", "c1-n2", "c1-n3"]
    assert orders.size == 3 and orders.quorum == 2
    assert by_name[("OTHER", "ORDERS")].size == 1
    assert by_name[("APP", "EVENTS")].cluster == "c2"
    names = {(c.stream, c.consumer) for c in consumers}
    assert {("ORDERS", "shipper"), ("ORDERS", "audit"), ("EVENTS", "reader")} <= names
    shipper = next(c for c in consumers if c.consumer == "shipper")
    assert shipper.size == 3


def test_removal_risks() -> None:
    servers = load("jsz")
    streams, _ = groups_from_jsz(servers)
    orders = next(
        s for s in streams if s.stream == "ORDERS" and s.account_name == "APP"
    )
    follower = next(p.name for p in orders.peers if not p.leader)
    other = next(p.name for p in orders.peers if not p.leader and p.name != follower)
    assert orders.removal_problem(follower) is None  # 2 of 3 stay
    assert orders.removal_problem("c9-n9") is None  # not a member
    events = next(s for s in streams if s.stream == "EVENTS")
    host = _raw_leader(servers, "APP", "EVENTS")
    assert "data would be lost" in str(events.removal_problem(host))
    for peer in orders.peers:
        if peer.name == other:
            peer.offline = True
    assert "without quorum" in str(orders.removal_problem(follower))


def test_move_in_flight_is_visible_from_jsz() -> None:
    streams, _ = groups_from_jsz(load("jsz_move"))
    moving = next(s for s in streams if s.stream == "MOVING")
    assert moving.moving
    assert moving.desired and moving.desired["name"] == "c2"
    targets = [r["name"] for r in moving.desired["replicas"]]
    assert len(targets) == 1 and targets[0].startswith("c2-")


def test_stream_view_of_an_info_reply() -> None:
    info = {
        "config": {"name": "S", "num_replicas": 3},
        "cluster": {
            "name": "c1",
            "leader": "c1-n2",
            "replicas": [
                {"name": "c1-n1", "current": True, "active": 1000, "peer": "abc"},
                {"name": "c1-n3", "current": False, "active": 9e9, "lag": 4},
            ],
        },
    }
    view = stream_view(info, "AKEY", "APP")
    assert view.names == ["c1-n2", "c1-n1", "c1-n3"]
    assert view.peer("abc") is not None and view.peer("abc").name == "c1-n1"
    assert [p.name for p in view.healthy] == ["c1-n2", "c1-n1"]  # c1-n3 silent 9 s
    assert "without quorum" in str(view.removal_problem("c1-n1"))


def test_explain_error_codes() -> None:
    ctx = ErrorContext(stream="ORDERS", consumer="c", account="APP", peer="c1-n9")
    missing = explain_error({"code": 404, "err_code": 10059}, ctx)
    assert isinstance(missing, NotFound)
    assert str(missing).startswith("stream 'ORDERS' not found in account APP")
    assert "consumer 'c' not found" in str(explain_error({"err_code": 10014}, ctx))
    for code, words in [
        (10005, "preferred server"),
        (10010, "standalone"),
        (10039, "--account-creds"),
        (10040, "c1-n9 holds no replica"),
        (10044, "not a JetStream peer"),
        (10075, "no spare server"),
        (10124, "move --cancel"),
        (10129, "no move"),
    ]:
        err = explain_error({"code": 400, "err_code": code, "description": "d"}, ctx)
        assert isinstance(err, ApiError) and err.err_code == code
        assert words in str(err), (code, str(err))
    kick = explain_error(
        {"code": 500, "description": "no such client or leafnode id"}, ctx
    )
    assert isinstance(kick, NotFound)


def _plan(**kw: Any) -> Plan:
    base: dict[str, Any] = {
        "action": "meta-stepdown",
        "target": "JetStream meta leader c1-n1",
        "connection": "system",
        "subject": "$JS.API.META.LEADER.STEPDOWN",
        "body": None,
        "effect": "a new election",
    }
    base.update(kw)
    return Plan(**base)


def test_plan_text_and_json() -> None:
    plan = _plan(leader="c1-n1", candidates=["c1-n2"], warnings=["careful"])
    text = "\n".join(plan.describe())
    assert "subject:    $JS.API.META.LEADER.STEPDOWN" in text
    assert "body:       (empty)" in text and "WARNING:    careful" in text
    doc = plan.to_dict()
    assert doc["candidates"] == ["c1-n2"] and "check" not in doc
    json.dumps(doc)
    assert plan.payload() == b""
    assert _plan(body={"placement": {"preferred": "x"}}).payload() == (
        b'{"placement": {"preferred": "x"}}'
    )
    purge = _plan(action="account-purge", confirm="APP", destructive=True)
    assert (
        purge.confirms("APP") and not purge.confirms("y") and not purge.confirms("ap")
    )
    assert plan.confirms("y") and plan.confirms("YES") and not plan.confirms("")


def test_parse_until() -> None:
    now = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
    assert parse_until("10m", now) == now + dt.timedelta(minutes=10)
    assert parse_until("2031-02-03T04:05:06Z", now) == dt.datetime(
        2031, 2, 3, 4, 5, 6, tzinfo=dt.UTC
    )
    with pytest.raises(UsageError, match="neither an RFC3339 time nor a duration"):
        parse_until("soon", now)


def test_confirm_prompts_and_audits(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.jsonl")
    op = Operator(StaticConnections(None), audit=log)
    plan = _plan(action="account-purge", confirm="APP", destructive=True)
    shown: list[str] = []

    confirm(
        op, plan, yes=False, interactive=True, ask=lambda _: "APP", show=shown.append
    )
    assert any("account-purge" in line for line in shown)
    with pytest.raises(OperationCancelled, match="nothing was changed"):
        confirm(op, plan, yes=False, interactive=True, ask=lambda _: "y", show=print)
    with pytest.raises(ConfirmationRequired, match="--yes"):
        confirm(op, plan, yes=False, interactive=False)
    confirm(op, plan, yes=True, interactive=False)
    assert [e.result for e in read_audit(log.path)] == ["cancelled", "refused"]
