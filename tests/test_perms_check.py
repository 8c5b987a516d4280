"""Static credential checks: per feature, available or not and why, from the
permission lists and the connection's account; and the report API other parts of
natsops ask before offering an action."""

from __future__ import annotations

import json

from natsops import creds
from natsops.perms.check import (
    ConnectionReport,
    ConnKind,
    PermsReport,
    as_permissions,
    evaluate,
    feature_available,
    feature_check,
    unavailable_reason,
)
from natsops.perms.subjects import Permissions, SubjectPermission

ALL = Permissions()


def conn(
    label: str,
    perms: Permissions,
    *,
    system: bool,
    account: str = "AAPP",
    name: str | None = None,
) -> ConnectionReport:
    kind: ConnKind = "system" if system else "owner"
    report = ConnectionReport(
        connection=label,
        is_system=system,
        system_basis="test",
        permissions=perms,
        permissions_source="jwt",
        account=account,
        account_name=name or label,
    )
    report.features = evaluate(
        perms, connection=label, kind=kind, account=account, account_name=name
    )
    return report


def test_unrestricted_system_user() -> None:
    checks = evaluate(ALL, kind="system")
    assert checks["servers"].available and checks["stepdown.meta"].available
    assert checks["move"].available
    stream = checks["stepdown.stream"]
    assert not stream.available and stream.status == "wrong-account"
    assert "owning account" in stream.reason and "no JetStream" in stream.reason


def test_unrestricted_account_user() -> None:
    checks = evaluate(ALL, kind="owner", account="AAPP", account_name="APP")
    assert checks["stepdown.stream"].available
    assert checks["move"].available and checks["events.account"].available
    ping = checks["servers"]
    assert not ping.available and ping.status == "wrong-account"
    assert ping.reason == "needs the system account (this connection is account APP)"


def test_denied_subject_is_named() -> None:
    perms = Permissions(pub=SubjectPermission(deny=("$SYS.REQ.SERVER.PING.CONNZ",)))
    checks = evaluate(perms, kind="system")
    connz = checks["connections"]
    assert not connz.available and connz.status == "denied"
    assert "$SYS.REQ.SERVER.PING.CONNZ" in connz.reason
    assert "denied by" in connz.reason
    assert checks["servers"].available


def test_allow_list_without_inbox_breaks_every_request() -> None:
    perms = Permissions(sub=SubjectPermission(allow=("$SYS.>", "$JS.EVENT.>")))
    checks = evaluate(perms, kind="system")
    assert not checks["servers"].available
    assert "_INBOX.>" in checks["servers"].reason
    assert checks["events.system"].available  # events need no replies


def test_custom_inbox_prefix() -> None:
    perms = Permissions(sub=SubjectPermission(allow=("ops.>",)))
    assert evaluate(perms, kind="system", inbox_prefix="ops")["health"].available
    assert not evaluate(perms, kind="system")["health"].available


def test_partial_deny_keeps_feature_with_reason() -> None:
    perms = Permissions(
        pub=SubjectPermission(deny=("$JS.API.STREAM.LEADER.STEPDOWN.ORDERS",))
    )
    check = evaluate(perms, kind="owner", account="AAPP")["stepdown.stream"]
    assert check.available and check.status == "partial"
    assert "ORDERS" in check.reason


def test_events_without_js_events() -> None:
    perms = Permissions(sub=SubjectPermission(allow=("_INBOX.>", "$SYS.>")))
    check = evaluate(perms, kind="system")["events.system"]
    assert not check.available
    assert "$JS.EVENT.>" in check.reason


def test_move_for_own_account_only() -> None:
    perms = Permissions(
        pub=SubjectPermission(
            allow=("$JS.API.ACCOUNT.STREAM.MOVE.AAPP.*", "$SYS.REQ.USER.INFO")
        )
    )
    own = evaluate(perms, kind="owner", account="AAPP")["move"]
    assert own.available and own.status == "ok"
    other = evaluate(perms, kind="owner", account="AOTHER")["move"]
    assert not other.available


def test_feature_available_picks_the_right_connection() -> None:
    no_stepdown = Permissions(
        pub=SubjectPermission(deny=("$JS.API.META.LEADER.STEPDOWN",))
    )
    report = PermsReport(
        [
            conn("system", no_stepdown, system=True, account="ASYS", name="SYS"),
            conn("APP", ALL, system=False, account="AAPP", name="APP"),
        ]
    )
    assert not feature_available(report, "stepdown.meta")
    assert "denied" in (unavailable_reason(report, "stepdown.meta") or "")
    assert feature_available(report, "servers")
    assert feature_available(report, "stepdown.stream", "APP")
    assert feature_available(report, "stepdown.stream", "AAPP")
    assert feature_available(report, "stepdown.stream")
    missing = feature_check(report, "stepdown.stream", "OTHER")
    assert not missing.available and missing.status == "no-connection"
    assert "--account-creds OTHER=FILE" in missing.reason
    assert feature_check(report, "move", "APP").connection == "APP"
    assert feature_check(report, "move", "OTHER").connection == "system"
    assert unavailable_reason(report, "move", "OTHER") is None


def test_broken_account_connection_is_the_reason() -> None:
    broken = ConnectionReport(
        connection="APP",
        is_system=None,
        system_basis="not connected",
        permissions=ALL,
        permissions_source="none",
        error="not connected: authorization violation",
    )
    report = PermsReport([conn("system", ALL, system=True), broken])
    check = feature_check(report, "stepdown.stream", "APP")
    assert not check.available and check.reason == broken.error
    assert ("APP", "-", "no", broken.error) in report.rows()


def test_no_system_connection() -> None:
    report = PermsReport([conn("APP", ALL, system=False)])
    check = feature_check(report, "stepdown.meta")
    assert not check.available and check.status == "no-connection"
    assert feature_available(report, "move", "APP")


def test_report_rows_and_json() -> None:
    report = PermsReport([conn("system", ALL, system=True)])
    rows = report.rows()
    assert ("system", "servers", "yes", "") in rows
    assert any(r[1] == "stepdown.stream" and r[2] == "no" for r in rows)
    data = json.loads(json.dumps(report.to_json()))
    first = data["connections"][0]
    assert first["connection"] == "system" and first["is_system"] is True
    features = {f["feature"]: f for f in first["features"]}
    assert features["servers"]["available"] is True
    assert {s["subject"] for s in features["health"]["subjects"]} == {
        "$SYS.REQ.SERVER.PING.HEALTHZ",
        "_INBOX.>",
    }


def test_as_permissions_accepts_foundation_types() -> None:
    cp = creds.Permissions(pub_allow=("a.>",), sub_deny=("b",))
    p = as_permissions(cp)
    assert p.pub.allow == ("a.>",) and p.sub.deny == ("b",)
    assert as_permissions({"pub": {"allow": ["x"]}}).pub.allow == ("x",)
    assert as_permissions({"publish": {"deny": ["y"]}}).pub.deny == ("y",)
    assert as_permissions(None).unrestricted
