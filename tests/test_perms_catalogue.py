"""The permission catalogue covers the reference's subjects, corrected and
completed, and maps every natsops feature to the subjects and account it needs."""

from __future__ import annotations

import pytest

from natsops.perms.catalogue import (
    CATALOGUE,
    FEATURES,
    SubjectEntry,
    entries_for,
    requirement,
    role_features,
)
from natsops.perms.check import ConnKind

#: Every subject of the reference permission list, placeholders written as `*`.
REFERENCE_PUB = [
    "$JS.API.INFO",
    "$JS.API.STREAM.CREATE.*",
    "$JS.API.STREAM.UPDATE.*",
    "$JS.API.STREAM.DELETE.*",
    "$JS.API.STREAM.PURGE.*",
    "$JS.API.STREAM.NAMES",
    "$JS.API.STREAM.LIST",
    "$JS.API.STREAM.INFO.*",
    "$JS.API.STREAM.SNAPSHOT.*",
    "$JS.API.STREAM.RESTORE.*",
    "$JS.API.STREAM.MSG.GET.*",
    "$JS.API.STREAM.MSG.DELETE.*",
    "$JS.API.STREAM.PEER.REMOVE.*",
    "$JS.API.STREAM.LEADER.STEPDOWN.*",
    "$JS.API.CONSUMER.CREATE.*",
    "$JS.API.CONSUMER.DURABLE.CREATE.*.*",
    "$JS.API.CONSUMER.DELETE.*.*",
    "$JS.API.CONSUMER.INFO.*.*",
    "$JS.API.CONSUMER.NAMES.*",
    "$JS.API.CONSUMER.LIST.*",
    "$JS.API.CONSUMER.PAUSE.*.*",
    "$JS.API.CONSUMER.MSG.NEXT.*.*",
    "$JS.API.CONSUMER.UNPIN.*.*",
    "$JS.API.CONSUMER.LEADER.STEPDOWN.*.*",
    "$JS.API.DIRECT.GET.*",
    "$JS.API.DIRECT.GET.*.>",
    "$JS.API.META.LEADER.STEPDOWN",
    "$JS.API.SERVER.REMOVE",
    "$JS.API.ACCOUNT.PURGE.*",
    "$JS.API.ACCOUNT.STREAM.MOVE.*.*",
    "$JS.API.ACCOUNT.STREAM.CANCEL_MOVE.*.*",
    "$SYS.REQ.SERVER.PING.STATSZ",
    "$SYS.REQ.SERVER.PING.VARZ",
    "$SYS.REQ.SERVER.PING.CONNZ",
    "$SYS.REQ.SERVER.PING.ROUTEZ",
    "$SYS.REQ.SERVER.PING.GATEWAYZ",
    "$SYS.REQ.SERVER.PING.LEAFZ",
    "$SYS.REQ.SERVER.PING.SUBSZ",
    "$SYS.REQ.SERVER.PING.ACCOUNTZ",
    "$SYS.REQ.SERVER.PING.PROFILEZ",
    "$SYS.REQ.SERVER.*.STATSZ",
    "$SYS.REQ.SERVER.*.RELOAD",
    "$SYS.REQ.ACCOUNT.*.CONNZ",
    "$SYS.REQ.ACCOUNT.*.STATZ",
    "$SYS.REQ.ACCOUNT.PING.CONNZ",
    "$SYS.REQ.ACCOUNT.PING.STATZ",
    "$SYS.REQ.CLAIMS.UPDATE",
    "$SYS.REQ.CLAIMS.PACK",
    "$SYS.REQ.CLAIMS.LIST",
    "$SYS.REQ.CLAIMS.DELETE",
    "$SYS.REQ.ACCOUNT.*.CLAIMS.LOOKUP",
    "$SYS.REQ.ACCOUNT.*.CLAIMS.UPDATE",
    "$SYS.REQ.USER.INFO",
    "$SYS.REQ.USER.*.INFO",
    "$SYS.DEBUG.SUBSCRIBERS",
]
REFERENCE_SUB = [
    "$SYS.SERVER.*.STATSZ",
    "$SYS.SERVER.*.SHUTDOWN",
    "$SYS.SERVER.*.LAMEDUCK",
    "$SYS.SERVER.*.CLIENT.AUTH.ERR",
    "$SYS.ACCOUNT.*.CONNECT",
    "$SYS.ACCOUNT.*.DISCONNECT",
    "$SYS.ACCOUNT.*.LEAFNODE.CONNECT",
    "$SYS.ACCOUNT.*.SERVER.CONNS",
    "$JS.EVENT.ADVISORY.>",
    "$JS.EVENT.METRIC.>",
]

#: Feature ids other parts of natsops ask about.
KNOWN_FEATURES = [
    "servers",
    "connections",
    "jetstream",
    "streams",
    "health",
    "topology",
    "accounts",
    "events.system",
    "events.account",
    "stepdown.meta",
    "stepdown.stream",
    "stepdown.consumer",
    "move",
    "move.cancel",
    "peer.remove",
    "server.remove",
    "purge.account",
    "consumer.pause",
    "consumer.unpin",
    "server.reload",
    "connection.kick",
    "whoami",
]


def entry(pattern: str, direction: str = "pub") -> SubjectEntry:
    found = [e for e in CATALOGUE if e.pattern == pattern and e.direction == direction]
    assert len(found) == 1, f"{direction} {pattern}: {len(found)} entries"
    return found[0]


@pytest.mark.parametrize("pattern", REFERENCE_PUB)
def test_every_reference_request_subject_is_there(pattern: str) -> None:
    entry(pattern, "pub")


@pytest.mark.parametrize("pattern", REFERENCE_SUB)
def test_every_reference_event_subject_is_there(pattern: str) -> None:
    entry(pattern, "sub")


def test_the_reference_claims_update_event_is_a_request() -> None:
    claims = entry("$SYS.ACCOUNT.*.CLAIMS.UPDATE", "pub")
    assert claims.access == "write"
    assert not [
        e for e in CATALOGUE if e.pattern == claims.pattern and e.direction == "sub"
    ]


@pytest.mark.parametrize(
    "kind", ["JSZ", "HEALTHZ", "IDZ", "RAFTZ", "EXPVARZ", "IPQUEUESZ", "STATSZ"]
)
def test_completed_server_pings_fan_out_and_per_server(kind: str) -> None:
    for pattern in (f"$SYS.REQ.SERVER.PING.{kind}", f"$SYS.REQ.SERVER.*.{kind}"):
        e = entry(pattern)
        assert e.account == "system" and e.access == "read"


@pytest.mark.parametrize("kind", ["RELOAD", "KICK", "LDM"])
def test_per_server_writes(kind: str) -> None:
    e = entry(f"$SYS.REQ.SERVER.*.{kind}")
    assert e.account == "system" and e.access == "write"
    assert not [x for x in CATALOGUE if x.pattern == f"$SYS.REQ.SERVER.PING.{kind}"]


@pytest.mark.parametrize("kind", ["CONNZ", "SUBSZ", "LEAFZ", "JSZ", "INFO", "STATZ"])
def test_account_forms(kind: str) -> None:
    e = entry(f"$SYS.REQ.ACCOUNT.*.{kind}")
    assert e.account == "system" and e.template == f"$SYS.REQ.ACCOUNT.<acc>.{kind}"


@pytest.mark.parametrize(
    ("pattern", "account"),
    [
        ("$JS.API.STREAM.PEER.EVACUATE.*", "owner"),
        ("$JS.API.SERVER.EVACUATE", "system"),
        ("$JS.API.META.RESCUE", "system"),
        ("$JS.API.CONSUMER.PEER.REMOVE.*.*", "owner"),
        ("$JS.API.CONSUMER.PEER.EVACUATE.*.*", "owner"),
    ],
)
def test_new_in_215(pattern: str, account: str) -> None:
    e = entry(pattern)
    assert e.account == account and e.access == "write" and e.since.startswith("2.15")


def test_move_and_cancel_work_from_system_or_owner() -> None:
    for pattern in (
        "$JS.API.ACCOUNT.STREAM.MOVE.*.*",
        "$JS.API.ACCOUNT.STREAM.CANCEL_MOVE.*.*",
    ):
        assert entry(pattern).account == "either"
    for fid in ("move", "move.cancel"):
        assert requirement(fid, "system").possible
        assert requirement(fid, "owner").possible


def test_stream_and_consumer_operations_need_the_owner() -> None:
    for fid in (
        "stepdown.stream",
        "stepdown.consumer",
        "peer.remove",
        "consumer.pause",
        "consumer.unpin",
        "move.placement",
        "events.account",
    ):
        assert not requirement(fid, "system").possible, fid
        assert requirement(fid, "owner").possible, fid
    for pattern in (
        "$JS.API.STREAM.INFO.*",
        "$JS.API.STREAM.LEADER.STEPDOWN.*",
        "$JS.API.CONSUMER.LEADER.STEPDOWN.*.*",
        "$JS.API.INFO",
    ):
        assert entry(pattern).account == "owner"


def test_system_only_operations() -> None:
    for fid in (
        "stepdown.meta",
        "server.remove",
        "purge.account",
        "server.reload",
        "connection.kick",
        "servers",
        "connections",
        "health",
        "topology",
        "accounts",
        "events.system",
    ):
        assert requirement(fid, "system").possible, fid
        assert not requirement(fid, "owner").possible, fid
    assert entry("$JS.API.META.LEADER.STEPDOWN").account == "system"


def test_inbox_and_events() -> None:
    inbox = entry("_INBOX.>", "sub")
    assert inbox.template == "<inbox>.>"
    assert inbox.pattern_for(inbox_prefix="ops.replies") == "ops.replies.>"
    for fid, feat in FEATURES.items():
        needs_inbox = inbox in entries_for(fid)
        assert needs_inbox == feat.replies, fid
    system_events = {e.pattern for e in requirement("events.system", "system").entries}
    assert system_events == {"$SYS.SERVER.>", "$SYS.ACCOUNT.>", "$JS.EVENT.>"}
    account_events = {e.pattern for e in requirement("events.account", "owner").entries}
    assert account_events == {"$JS.EVENT.>"}


@pytest.mark.parametrize("fid", KNOWN_FEATURES)
def test_known_features_exist_and_need_subjects(fid: str) -> None:
    feat = FEATURES[fid]
    both: tuple[ConnKind, ...] = ("system", "owner")
    kinds = [k for k in both if requirement(fid, k).possible]
    assert kinds, fid
    for kind in kinds:
        non_inbox = [
            e for e in requirement(fid, kind).entries if e.template != "<inbox>.>"
        ]
        assert non_inbox
        if feat.access == "read":
            assert all(e.access == "read" for e in non_inbox), fid
        else:
            assert any(e.access == "write" for e in non_inbox), fid


def test_account_placeholder_is_filled_for_the_owner() -> None:
    e = entry("$JS.API.ACCOUNT.STREAM.MOVE.*.*")
    assert e.pattern_for("ACCKEY") == "$JS.API.ACCOUNT.STREAM.MOVE.ACCKEY.*"


def test_roles() -> None:
    observer = {f.id for f in role_features("observer")}
    operator = {f.id for f in role_features("operator")}
    assert observer < operator
    assert all(FEATURES[f].access == "read" for f in observer)
    assert {
        "stepdown.meta",
        "stepdown.stream",
        "move",
        "peer.remove",
        "server.remove",
        "purge.account",
        "server.reload",
        "connection.kick",
    } <= operator - observer
    assert "meta.rescue" not in operator


def test_probe_bodies_only_where_harmless() -> None:
    never = {
        "$JS.API.META.LEADER.STEPDOWN",
        "$JS.API.ACCOUNT.PURGE.*",
        "$SYS.REQ.SERVER.*.RELOAD",
        "$JS.API.META.RESCUE",
        "$JS.API.STREAM.DELETE.*",
        "$JS.API.STREAM.PURGE.*",
    }
    for e in CATALOGUE:
        if e.pattern in never:
            assert e.probe is None, e.pattern
        if e.access == "write" and e.probe is not None:
            # A write is only probed against a target natsops invents.
            assert any(p in e.template + e.probe for p in ("<stream>", "<server>")) or (
                '"cid": 0' in e.probe
            ), e.pattern
