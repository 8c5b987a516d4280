"""Roll call, JSON and table rendering, and the stream/connection merging, on
recorded replies (no servers needed)."""

from __future__ import annotations

import io
import json
from pathlib import Path

from rich.console import Console

from natsops.commands.reports import stream_json
from natsops.fanout import FanoutResult, Reply, ServerInfo
from natsops.model.jetstream import parse_jsz
from natsops.model.views import stream_rows
from natsops.report import (
    EXIT_INCOMPLETE,
    Column,
    PairColumn,
    Report,
    RollCall,
    Table,
    dumps,
    emit,
    redact_tree,
)

REPLIES = Path(__file__).parent / "fixtures" / "replies"


def _reply(name: str, data: dict | None = None, error: dict | None = None) -> Reply:
    return Reply(ServerInfo(name=name, cluster="c1"), data, error, 0.0012)


def _result(
    ok: list[str],
    missing: list[str] | None = None,
    errors: dict[str, str] | None = None,
) -> FanoutResult:
    errs = {
        n: _reply(n, error={"code": 400, "description": d})
        for n, d in (errors or {}).items()
    }
    return FanoutResult(
        kind="VARZ",
        replies={n: _reply(n, {}) for n in ok},
        errors=errs,
        missing=list(missing or []),
        expected={*ok, *(missing or []), *errs},
        elapsed=0.004,
    )


def test_roll_call_text_matches_the_collector() -> None:
    result = _result(["a", "b"], missing=["c"])
    rc = RollCall.of(result)
    assert rc.text() == result.roll_call() == "2/3 servers, missing: c"
    assert RollCall.of(_result(["a", "b", "c"])).text() == "3/3 servers"


def test_roll_call_merges_requests_and_groups_errors() -> None:
    first = _result(["a", "b", "c", "d"])
    second = _result(["a"], missing=["d"], errors={"b": "bad", "c": "bad"})
    rc = RollCall.of(first, second)
    assert rc.ok == ["a"]
    assert rc.missing == ["d"]
    assert set(rc.errors) == {"b", "c"}
    assert rc.text() == "3/4 servers, missing: d, errors: b, c (400 bad)"
    assert not rc.complete
    doc = rc.to_json()
    assert doc["answered"] == ["a"]
    assert doc["errors"] == {
        "b": {"code": 400, "description": "bad"},
        "c": {"code": 400, "description": "bad"},
    }
    assert doc["total"] == 4 and doc["elapsed_ms"] == 8.0
    assert doc["latency_ms"] == {"a": 1.2, "b": 1.2, "c": 1.2, "d": 1.2}

    rc.add_error("a", "unreadable")
    assert rc.ok == [] and rc.state("a") == "error" and rc.state("d") == "missing"


def test_exit_code_only_with_strict() -> None:
    missing = Report("servers", roll_call=RollCall.of(_result(["a"], ["b"])))
    assert missing.exit_code(strict=False) == 0
    assert missing.exit_code(strict=True) == EXIT_INCOMPLETE
    fine = Report("servers", roll_call=RollCall.of(_result(["a"])))
    assert fine.exit_code(strict=True) == 0
    sick = Report("health", roll_call=RollCall.of(_result(["a"])), unhealthy=True)
    assert sick.exit_code(strict=True) == EXIT_INCOMPLETE


def _table_report() -> Report:
    table = Table(
        key="things",
        title="Things",
        columns=[
            Column("name", "Name"),
            PairColumn("a", "A/B", second="b"),
            Column("flag", "Flag"),
        ],
        rows=[{"name": "one", "a": 1, "b": 2, "flag": True}],
    )
    return Report(
        "things",
        tables=[table],
        roll_call=RollCall.of(_result(["x"], ["y"])),
        fields={"extra": {"k": 1}},
        notes=["a note"],
    )


def test_json_document_shape(capsys: object) -> None:
    doc = _table_report().to_json()
    assert list(doc) == ["command", "extra", "things", "notes", "roll_call"]
    assert doc["things"] == [{"name": "one", "a": 1, "b": 2, "flag": True}]
    assert doc["roll_call"]["missing"] == ["y"]
    assert json.loads(dumps(doc)) == doc
    assert json.loads(dumps({"x": float("nan")})) == {"x": None}


def test_table_mode_prints_rows_then_roll_call() -> None:
    buf = io.StringIO()
    console = Console(file=buf, width=120, no_color=True)
    emit(_table_report(), as_json=False, console=console)
    lines = [ln.rstrip() for ln in buf.getvalue().splitlines() if ln.strip()]
    assert lines[0].strip() == "Things"
    row = next(ln for ln in lines if "one" in ln)
    assert "1 / 2" in row and "yes" in row
    assert lines[-2] == "a note"
    assert lines[-1] == "1/2 servers, missing: y"


def test_redact_tree_hides_jwts_and_seeds() -> None:
    jwt = "eyJ0eXAiOiJKV1QiLCJhbGciOiJlZDI1NTE5LW5rZXkifQ.eyJzdWIiOiJVQUJDIn0.c2ln"
    seed = "SUAM" + "A" * 54
    tree = {"jwt": jwt, "list": [{"note": f"seed {seed}"}], "name": "keep"}
    clean = redact_tree(tree)
    text = json.dumps(clean)
    assert jwt not in text and seed not in text
    assert clean["name"] == "keep" and clean["jwt"] == "[redacted]"


def _recorded(name: str) -> dict[str, dict]:
    return json.loads((REPLIES / f"{name}.json").read_text())["servers"]


def test_stream_rows_take_the_leaders_view() -> None:
    reports = {n: parse_jsz(d, n) for n, d in _recorded("jsz_move").items()}
    rows = {
        (r["account"], r["name"]): r for r in map(stream_json, stream_rows(reports))
    }

    orders = rows[("APP", "ORDERS")]
    assert orders["leader"] == "c1-n3"
    assert orders["authoritative"] is True
    assert orders["hosted_by"] == ["c1-n1", "c1-n2", "c1-n3"]
    # c1-n1 and c1-n2 think each other not current; the leader says both are.
    assert [(r["name"], r["role"], r["current"]) for r in orders["replicas"]] == [
        ("c1-n3", "leader", True),
        ("c1-n1", "follower", True),
        ("c1-n2", "follower", True),
    ]
    # The same stream name in another account is another stream.
    assert rows[("OTHER", "ORDERS")]["leader"] == "c1-n2"

    moving = rows[("APP", "MOVING")]
    assert moving["status"] == "moving"
    assert moving["pending_move"] == {
        "cluster": "c2",
        "peers": ["c2-n2"],
        "status": "meta",
        "description": "recording leadership term with meta leader",
    }


def test_follower_views_leave_currency_unknown() -> None:
    # Without the leader's report, a follower's opinion of its peers is not shown
    # as fact.
    recorded = _recorded("jsz_move")
    reports = {n: parse_jsz(recorded[n], n) for n in ("c1-n1", "c1-n2")}
    (orders,) = [
        stream_json(r)
        for r in stream_rows(reports)
        if r.name == "ORDERS" and r.account == "APP"
    ]
    assert orders["leader"] == "c1-n3" and orders["authoritative"] is False
    followers = [r for r in orders["replicas"] if r["role"] == "follower"]
    assert {r["name"] for r in followers} == {"c1-n1", "c1-n2"}
    assert {r["current"] for r in followers} == {None}
    assert orders["lagging"] == []
