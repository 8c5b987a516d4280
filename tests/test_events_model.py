"""Event parsing on payloads recorded from nats-server 2.15.1, and on bad input."""

from __future__ import annotations

import copy
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from natsops.events import MALFORMED, parse_event
from natsops.events.samples import FAKE_JWT, SAMPLES, encode, sample

# name -> (kind, severity, server, summary)
EXPECTED = {
    "connect": (
        "connect",
        "info",
        "c1-n3",
        # alone, the event names its account by key (a store learns the name)
        "client 'billing' connected to c1-n3 (account AB6ZX45N…, from 127.0.0.1)",
    ),
    "disconnect": (
        "disconnect",
        "info",
        "c1-n3",
        "client 'billing' disconnected from c1-n3: Client Closed",
    ),
    "auth_error": (
        "auth_error",
        "error",
        "c1-n3",
        "c1-n3: authentication failure: user 'nobody' client 'intruder' from 127.0.0.1",
    ),
    "auth_failure_disconnect": (
        "auth_failure_disconnect",
        "warning",
        "c1-n3",
        "client 'intruder' disconnected from c1-n3: Authentication Failure",
    ),
    "shutdown": ("shutdown", "critical", "c1-n3", "c1-n3: server shut down"),
    "lame_duck": (
        "lame_duck",
        "error",
        "c1-n2",
        "c1-n2: server entered lame duck mode",
    ),
    "stream_leader_elected@account": (
        "stream_leader_elected",
        "info",
        "c1-n3",
        "stream ORDERS (APP) leader elected on c1-n3",
    ),
    "consumer_leader_elected@account": (
        "consumer_leader_elected",
        "info",
        "c1-n2",
        "consumer ORDERS > C1 (APP) leader elected on c1-n2",
    ),
    "meta_leader_elected": (
        "meta_leader_elected",
        "warning",
        "c1-n1",
        "JetStream meta leader elected on c1-n1 (cluster c1)",
    ),
    "stream_quorum_lost@account": (
        "stream_quorum_lost",
        "critical",
        "",
        "stream ORDERS (APP) lost quorum: c1-n2, c1-n3 not current",
    ),
    "stream_created@account": (
        "stream_created",
        "info",
        "",
        "stream ORDERS (APP) created",
    ),
    "consumer_max_deliveries@account": (
        "consumer_max_deliveries",
        "warning",
        "",
        "consumer ORDERS > C1: message 3 reached max deliveries (1)",
    ),
    "api_audit_error@account": (
        "api_audit",
        "warning",
        "c1-n2",
        "c1-n2: API $JS.API.STREAM.CREATE.ORDERS by client 'capapp' -> error "
        '10025: invalid JSON: json: unknown field "bogus"',
    ),
    "account_conns": (
        "account_conns",
        "info",
        "c1-n3",
        "c1-n3: account APP has 1 connections (1 in total), 0 leafnodes",
    ),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_recorded_payloads_are_classified_and_summarised(name: str) -> None:
    subject, payload, source = sample(name)
    ev = parse_event(subject, payload, source, received=1.0)
    kind, severity, server, summary = EXPECTED[name]
    assert (ev.kind, ev.severity, ev.server) == (kind, severity, server)
    assert ev.summary == summary
    assert ev.subject == subject and ev.source == source


def test_types_come_from_the_payload_or_the_subject() -> None:
    ev = parse_event(*sample("connect"))
    assert ev.type == "io.nats.server.advisory.v1.client_connect"
    assert parse_event(*sample("statsz")).type == "STATSZ"
    assert parse_event(*sample("shutdown")).type == "SHUTDOWN"
    assert parse_event(*sample("lame_duck")).type == "LAMEDUCK"


def test_envelope_fields_are_extracted() -> None:
    subject, payload, source = sample("connect")
    doc = json.loads(payload)
    ev = parse_event(subject, payload, source)
    assert ev.server_id == doc["server"]["id"]
    assert ev.seq == doc["server"]["seq"]
    assert ev.id == doc["id"]
    assert ev.account_id == doc["client"]["acc"]
    assert ev.timestamp == doc["timestamp"]
    assert abs(ev.time - 1796330235.5) < 1e6  # parsed, not the arrival time


def test_system_copy_of_an_advisory_carries_the_account_key() -> None:
    ev = parse_event(*sample("stream_leader_elected"))
    key = SAMPLES["stream_leader_elected"][2]["account"]
    assert ev.account == key and ev.account_id == key
    assert ev.stream == "ORDERS" and ev.server == "c1-n3"
    owner = parse_event(*sample("stream_leader_elected@account"))
    assert owner.account == "APP"  # the connection it came through


def test_meta_leader_is_named_from_its_peer_id() -> None:
    subject, payload, source = sample("meta_leader_elected")
    doc = json.loads(payload)
    assert doc["leader"] != "c1-n1"  # the advisory names a peer id
    assert parse_event(subject, payload, source).server == "c1-n1"


def _variant(name: str, **changes: object) -> tuple[str, bytes, str]:
    subject, source, doc = SAMPLES[name]
    doc = copy.deepcopy(doc)
    doc.update(changes)
    return subject, encode(doc), source


@pytest.mark.parametrize(
    ("reason", "severity"),
    [
        ("Client Closed", "info"),
        ("Slow Consumer (Write Deadline)", "error"),
        ("Slow Consumer (Pending Bytes)", "error"),
        ("Authentication Expired", "error"),
        ("Stale Connection", "warning"),
        ("Server Shutdown", "warning"),
    ],
)
def test_disconnect_severity_follows_the_reason(reason: str, severity: str) -> None:
    ev = parse_event(*_variant("disconnect", reason=reason))
    assert ev.severity == severity
    assert ev.summary == f"client 'billing' disconnected from c1-n3: {reason}"


def test_user_jwt_never_leaves_an_event() -> None:
    subject, payload, source = sample("connect")
    assert FAKE_JWT.encode() in payload
    ev = parse_event(subject, payload, source)
    assert ev.raw["client"]["jwt"] == "<redacted>"
    assert FAKE_JWT not in ev.payload_json()
    assert FAKE_JWT not in json.dumps(ev.to_dict())
    assert FAKE_JWT not in ev.summary


def test_claims_updates_are_kept_without_the_jwt() -> None:
    subject = "$SYS.ACCOUNT.ABCDEF.CLAIMS.UPDATE"
    ev = parse_event(subject, FAKE_JWT.encode(), "system")
    assert ev.kind == "claims_update"
    assert FAKE_JWT not in json.dumps(ev.to_dict())


def test_unknown_types_are_kept_with_a_generic_summary() -> None:
    payload = json.dumps(
        {"type": "io.nats.server.advisory.v1.brand_new", "id": "x", "server": "s9"}
    ).encode()
    ev = parse_event("$JS.EVENT.ADVISORY.NEW.THING", payload, "system")
    assert ev.kind == "brand_new"
    assert ev.type == "io.nats.server.advisory.v1.brand_new"
    assert ev.summary == "s9: brand new on $JS.EVENT.ADVISORY.NEW.THING"
    unknown_sys = parse_event("$SYS.SERVER.NX.SOMETHING", b'{"a": 1}', "system")
    assert unknown_sys.kind == "something" and unknown_sys.summary


@pytest.mark.parametrize(
    "payload",
    [b"", b"not json", b"[1, 2]", b"42", b'{"server": ', b"\xff\xfe", b"null"],
)
def test_malformed_payloads_become_malformed_events(payload: bytes) -> None:
    ev = parse_event("$SYS.ACCOUNT.X.CONNECT", payload, "system")
    assert ev.kind == MALFORMED and ev.type == MALFORMED
    assert ev.severity == "warning"
    assert "malformed" in ev.summary
    assert isinstance(ev.raw, dict)


@pytest.mark.parametrize("name", ["connect", "disconnect", "account_conns"])
def test_every_truncation_of_a_storm_payload_is_malformed(name: str) -> None:
    subject, payload, source = sample(name)
    for cut in range(1, len(payload) - 1):
        ev = parse_event(subject, payload[:cut], source)
        assert ev.kind == MALFORMED, (cut, payload[:cut][-40:])


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_fast_path_agrees_with_the_full_decode(name: str) -> None:
    subject, payload, source = sample(name)
    fast = parse_event(subject, payload, source, received=5.0)
    # a trailing space is still valid JSON but never takes the fast path
    slow = parse_event(subject, payload + b" ", source, received=5.0)
    for attr in (
        "type",
        "kind",
        "severity",
        "server",
        "server_id",
        "account",
        "account_id",
        "id",
        "seq",
        "timestamp",
        "stream",
        "consumer",
    ):
        assert getattr(fast, attr) == getattr(slow, attr), attr
    assert fast.summary == slow.summary


def test_wrong_field_types_do_not_escape() -> None:
    subject, _payload, source = sample("connect")
    bad = json.dumps(
        {"type": 5, "server": {"name": 7, "seq": "x"}, "client": "no"}
    ).encode()
    ev = parse_event(subject, bad, source)
    assert ev.summary and ev.to_dict()


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=8), inner, max_size=5)
    ),
    max_leaves=20,
)
_subjects = st.sampled_from(
    [SAMPLES[n][0] for n in sorted(SAMPLES)]
    + ["$SYS.SERVER.X.STATSZ", "$JS.EVENT.METRIC.CONSUMER.ACK.S.C", "a.b", "$SYS"]
)


@settings(max_examples=150, deadline=None)
@given(_subjects, _json)
def test_any_json_payload_gives_an_event(subject: str, doc: object) -> None:
    ev = parse_event(subject, json.dumps(doc).encode(), "system")
    assert isinstance(ev.summary, str) and ev.summary
    assert isinstance(ev.to_dict(), dict)
    assert ev.severity in ("info", "warning", "error", "critical")


@settings(max_examples=150, deadline=None)
@given(_subjects, st.binary(max_size=200))
def test_any_bytes_give_an_event(subject: str, payload: bytes) -> None:
    ev = parse_event(subject, payload, "APP")
    assert ev.summary and isinstance(ev.raw, dict)
    json.dumps(ev.to_dict())


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(sorted(SAMPLES)), st.data())
def test_sample_fields_replaced_by_junk_never_raise(
    name: str, data: st.DataObject
) -> None:
    subject, source, doc = SAMPLES[name]
    doc = copy.deepcopy(doc)
    for key in data.draw(st.lists(st.sampled_from(sorted(doc)), max_size=3)):
        doc[key] = data.draw(_json)
    ev = parse_event(subject, encode(doc), source)
    assert ev.summary and ev.to_dict()
