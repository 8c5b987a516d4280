"""Typed NATS events: system events and JetStream advisories classified by subject.

:func:`parse_event` never raises; it classifies by subject, decodes a payload at most
once, and rebuilds the full dict and the one-line summary lazily on access.
"""

from __future__ import annotations

import json
import re
import time as _time
from datetime import datetime
from typing import Any

from natsops.creds import redact as redact_secrets

INFO, WARNING, ERROR, CRITICAL = "info", "warning", "error", "critical"
#: Severities from least to most severe.
SEVERITIES = (INFO, WARNING, ERROR, CRITICAL)
SEVERITY_RANK = {name: rank for rank, name in enumerate(SEVERITIES)}

#: Kinds whose events form the JetStream leadership timeline.
LEADER_KINDS = frozenset(
    {"meta_leader_elected", "stream_leader_elected", "consumer_leader_elected"}
)
#: Kinds that mean a server is going away.
SERVER_STATE_KINDS = {"shutdown": "shutdown", "lame_duck": "lame_duck"}

MALFORMED = "malformed"
REDACTED = "<redacted>"

# $SYS.ACCOUNT.<acc>.<rest...> -> kind, severity
_ACCOUNT_EVENTS: dict[tuple[str, ...], tuple[str, str]] = {
    ("CONNECT",): ("connect", INFO),
    ("DISCONNECT",): ("disconnect", INFO),
    ("SERVER", "CONNS"): ("account_conns", INFO),
    ("LEAFNODE", "CONNECT"): ("leafnode_connect", INFO),
    ("LEAFNODE", "DISCONNECT"): ("leafnode_disconnect", WARNING),
}

# $SYS.SERVER.<id>.<rest...> -> kind, severity
_SERVER_EVENTS: dict[tuple[str, ...], tuple[str, str]] = {
    ("STATSZ",): ("statsz", INFO),
    ("SHUTDOWN",): ("shutdown", CRITICAL),
    ("LAMEDUCK",): ("lame_duck", ERROR),
    ("CLIENT", "AUTH", "ERR"): ("auth_error", ERROR),
}

# $JS.EVENT.ADVISORY.<a>.<b> -> kind, severity
_JS_ADVISORIES: dict[tuple[str, str], tuple[str, str]] = {
    ("API", ""): ("api_audit", INFO),
    ("API", "LIMIT_REACHED"): ("api_limit_reached", ERROR),
    ("DOMAIN", "LEADER_ELECTED"): ("meta_leader_elected", WARNING),
    ("SERVER", "OUT_OF_STORAGE"): ("server_out_of_storage", CRITICAL),
    ("SERVER", "REMOVED"): ("server_removed", ERROR),
    ("SERVER", "META_RESCUE"): ("meta_rescue", CRITICAL),
    ("STREAM", "CREATED"): ("stream_created", INFO),
    ("STREAM", "UPDATED"): ("stream_updated", INFO),
    ("STREAM", "DELETED"): ("stream_deleted", WARNING),
    ("STREAM", "LEADER_ELECTED"): ("stream_leader_elected", INFO),
    ("STREAM", "QUORUM_LOST"): ("stream_quorum_lost", CRITICAL),
    ("STREAM", "BATCH_ABANDONED"): ("stream_batch_abandoned", WARNING),
    ("STREAM", "SNAPSHOT_CREATE"): ("stream_snapshot_create", INFO),
    ("STREAM", "SNAPSHOT_COMPLETE"): ("stream_snapshot_complete", INFO),
    ("STREAM", "RESTORE_CREATE"): ("stream_restore_create", INFO),
    ("STREAM", "RESTORE_COMPLETE"): ("stream_restore_complete", INFO),
    ("CONSUMER", "CREATED"): ("consumer_created", INFO),
    ("CONSUMER", "DELETED"): ("consumer_deleted", INFO),
    ("CONSUMER", "PAUSE"): ("consumer_pause", INFO),
    ("CONSUMER", "PINNED"): ("consumer_pinned", INFO),
    ("CONSUMER", "UNPINNED"): ("consumer_unpinned", INFO),
    ("CONSUMER", "LEADER_ELECTED"): ("consumer_leader_elected", INFO),
    ("CONSUMER", "QUORUM_LOST"): ("consumer_quorum_lost", CRITICAL),
    ("CONSUMER", "MAX_DELIVERIES"): ("consumer_max_deliveries", WARNING),
    ("CONSUMER", "MSG_NAKED"): ("consumer_nak", INFO),
    ("CONSUMER", "MSG_TERMINATED"): ("consumer_terminated", WARNING),
}

#: Every kind natsops names itself (others come from the payload's type).
KNOWN_KINDS = frozenset(
    [k for k, _sev in _ACCOUNT_EVENTS.values()]
    + [k for k, _sev in _SERVER_EVENTS.values()]
    + [k for k, _sev in _JS_ADVISORIES.values()]
    + [
        MALFORMED,
        "claims_update",
        "account_conns_legacy",
        "auth_failure_disconnect",
        "consumer_ack",
    ]
)


# The fast path for the storm kinds (connect, disconnect, account connections): the
# server's encoder always writes these fields first and in this order, so they are
# cut out of the bytes without decoding the rest. A payload that does not have this
# exact layout is decoded in full, so the fast path can only ever save work.
_DISCONNECT_TYPE = "io.nats.server.advisory.v1.client_disconnect"
_FAST_KINDS = frozenset(
    {"connect", "disconnect", "account_conns", "account_conns_legacy", "auth_error"}
)
_interned: dict[bytes, str] = {}


def _text(raw: bytes) -> str:
    """Decode a JSON string body; repeated values share one str object."""
    value = _interned.get(raw)
    if value is None:
        value = json.loads(b'"' + raw + b'"') if b"\\" in raw else raw.decode()
        if len(_interned) < 50_000:
            _interned[raw] = value
    return value


def redact_text(text: str) -> str:
    """Replace anything shaped like a JWT or an nkey seed by ``<redacted>``."""
    return redact_secrets(text, REDACTED)


def _redact(value: Any) -> Any:
    """A copy of a decoded payload without credentials (``jwt`` fields, seeds)."""
    if isinstance(value, dict):
        return {
            k: (REDACTED if k == "jwt" and v else _redact(v)) for k, v in value.items()
        }
    if isinstance(value, list):
        return [_redact(v) for v in value]
    if isinstance(value, str) and ("eyJ" in value or len(value) > 50):
        return redact_text(value)
    return value


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


_ID_RE = re.compile(rb'^\{"type":"[^"\\]*","id":"([^"\\]*)"')
_TIMESTAMP_RE = re.compile(
    rb'^\{"type":"[^"\\]*","id":"[^"\\]*","timestamp":"([^"\\]*)"'
)


def _lazy_field(data: bytes, pattern: re.Pattern[bytes]) -> str:
    """A top-level string field the fast path skipped, read when first asked for."""
    match = pattern.match(data)
    return match.group(1).decode() if match else ""


def _disconnect_severity(reason: Any) -> str:
    if not isinstance(reason, str) or not reason or reason == "Client Closed":
        return INFO
    low = reason.lower()
    if "slow consumer" in low or "authentication" in low or "authorization" in low:
        return ERROR
    return WARNING


class Event:
    """One event as natsops shows it; ``raw`` and ``summary`` are computed lazily.

    ``type`` is the payload's ``type`` (``STATSZ``, ``SHUTDOWN``, ``LAMEDUCK`` for
    the events that have none), ``kind`` a short name natsops derives from the
    subject (``connect``, ``auth_error``, ``stream_leader_elected``...). ``account``
    is the account name where known, else its public key (see ``account_id``).
    """

    __slots__ = (
        "_data",
        "_id",
        "_redact",
        "_summary",
        "_time",
        "_ts",
        "account",
        "account_id",
        "consumer",
        "kind",
        "received",
        "seq",
        "server",
        "server_id",
        "severity",
        "source",
        "stream",
        "subject",
        "type",
    )

    def __init__(
        self,
        subject: str,
        source: str,
        received: float,
        type: str,
        kind: str,
        severity: str,
        data: bytes,
        server: str = "",
        server_id: str = "",
        account: str = "",
        account_id: str = "",
        stream: str = "",
        consumer: str = "",
        id: str | None = "",
        seq: int = 0,
        timestamp: str | None = "",
        redact: bool | None = False,
        summary: str | None = None,
    ) -> None:
        self.subject = subject
        self.source = source
        self.received = received
        self.type = type
        self.kind = kind
        self.severity = severity
        self._data = data
        self.server = server
        self.server_id = server_id
        self.account = account
        self.account_id = account_id
        self.stream = stream
        self.consumer = consumer
        self._id = id
        self.seq = seq
        self._ts = timestamp
        self._redact = redact
        self._summary = summary
        self._time: float | None = None

    def __repr__(self) -> str:
        return f"<Event {self.kind} {self.server or '-'} {self.subject}>"

    @property
    def id(self) -> str:
        """The event's own id ("" when it carries none)."""
        if self._id is None:
            self._id = _lazy_field(self._data, _ID_RE)
        return self._id

    @property
    def _needs_redaction(self) -> bool:
        if self._redact is None:
            self._redact = b'"jwt"' in self._data
        return self._redact

    @property
    def raw(self) -> dict[str, Any]:
        """The decoded payload, credentials removed (a fresh dict on every call)."""
        if self.kind == MALFORMED or self.kind == "claims_update":
            return self._opaque()
        try:
            doc = json.loads(self._data)
        except (ValueError, UnicodeDecodeError):
            return self._opaque()
        if not isinstance(doc, dict):
            return {"value": doc}
        return _redact(doc) if self._needs_redaction else doc

    def _opaque(self) -> dict[str, Any]:
        text = self._data.decode("utf-8", "replace")
        if self.kind == "claims_update":
            return {"claims": f"<account JWT, {len(self._data)} bytes>"}
        return {"text": redact_text(text[:2000]), "bytes": len(self._data)}

    @property
    def payload_bytes(self) -> int:
        return len(self._data)

    def payload_json(self) -> str:
        """The payload as JSON text that is safe to print or record."""
        if self._needs_redaction or self.kind in (MALFORMED, "claims_update"):
            return json.dumps(self.raw, separators=(",", ":"))
        return self._data.decode("utf-8", "replace")

    @property
    def timestamp(self) -> str:
        """The event's own RFC 3339 timestamp ("" when it carries none)."""
        if self._ts is None:
            self._ts = _lazy_field(self._data, _TIMESTAMP_RE)
        return self._ts

    @property
    def time(self) -> float:
        """Seconds since the epoch: the event's timestamp, else when it arrived."""
        if self._time is None:
            value = self.received
            ts = self.timestamp
            if ts:
                try:
                    value = datetime.fromisoformat(ts).timestamp()
                except ValueError:
                    pass
            self._time = value
        return self._time

    @property
    def summary(self) -> str:
        """One line a person can read; built on first access."""
        if self._summary is None:
            try:
                self._summary = _summarise(self)
            except Exception:  # a strange payload must never break a view
                self._summary = _generic_summary(self)
        return self._summary

    @property
    def rank(self) -> int:
        return SEVERITY_RANK.get(self.severity, 0)

    def to_dict(self) -> dict[str, Any]:
        """Everything about the event, for ``--json`` and the detail view."""
        return {
            "time": _iso(self.time),
            "received": round(self.received, 6),
            "type": self.type,
            "kind": self.kind,
            "severity": self.severity,
            "server": self.server,
            "account": self.account,
            "subject": self.subject,
            "source": self.source,
            "summary": self.summary,
            "event": self.raw,
        }


def _iso(ts: float) -> str:
    return (
        _time.strftime("%Y-%m-%dT%H:%M:%S", _time.gmtime(ts))
        + f".{int(ts % 1 * 1000):03d}Z"
    )


def _malformed(
    subject: str, payload: bytes, source: str, received: float, why: str
) -> Event:
    return Event(
        subject,
        source,
        received,
        MALFORMED,
        MALFORMED,
        WARNING,
        payload,
        summary=f"malformed event on {subject} ({len(payload)} bytes: {why})",
    )


def parse_event(
    subject: str, payload: bytes, source: str, received: float | None = None
) -> Event:
    """Classify one message. Never raises: bad payloads become ``malformed`` events.

    ``source`` is ``"system"`` or the name of the account connection it came from.
    """
    if received is None:
        received = _time.time()
    if type(payload) is not bytes:
        payload = _as_bytes(payload)
    tokens = subject.split(".")
    if len(tokens) == 4 and tokens[1] == "ACCOUNT" and tokens[0] == "$SYS":
        # the storm subjects: $SYS.ACCOUNT.<acc>.CONNECT|DISCONNECT
        found = _ACCOUNT_EVENTS.get((tokens[3],))
        if found is not None and payload[-1:] == b"}":
            try:
                ev = _fast_sys(
                    subject, payload, source, received, found[0], found[1], tokens[2]
                )
            except (ValueError, UnicodeDecodeError):
                ev = None
            if ev is not None:
                return ev
    elif len(tokens) > 4 and tokens[3] == "CLAIMS" and tokens[1] == "ACCOUNT":
        return Event(
            subject,
            source,
            received,
            "CLAIMS." + ".".join(tokens[4:]),
            "claims_update",
            INFO,
            payload,
            account_id=tokens[2],
            account=tokens[2],
        )
    elif tokens[0] == "$SYS" and len(tokens) > 4:
        kind, severity, account_id = _sys_kind(tokens)
        if kind in _FAST_KINDS and payload[-1:] == b"}":
            try:
                ev = _fast_sys(
                    subject, payload, source, received, kind, severity, account_id
                )
            except (ValueError, UnicodeDecodeError):
                ev = None
            if ev is not None:
                return ev
    try:
        doc = json.loads(payload)
    except (ValueError, UnicodeDecodeError) as exc:
        return _malformed(subject, payload, source, received, type(exc).__name__)
    if not isinstance(doc, dict):
        return _malformed(subject, payload, source, received, "not an object")
    try:
        if tokens[0] == "$JS":
            return _parse_js(tokens, subject, payload, source, received, doc)
        if tokens[0] == "$SYS":
            return _parse_sys(tokens, subject, payload, source, received, doc)
        return _parse_other(subject, payload, source, received, doc)
    except Exception as exc:  # wrong field types and the like
        return _malformed(subject, payload, source, received, f"bad shape: {exc}")


def _as_bytes(payload: Any) -> bytes:
    if isinstance(payload, bytearray | memoryview):
        return bytes(payload)
    if isinstance(payload, bytes):  # a subclass
        return bytes(payload)
    return str(payload).encode()


def _kind_of_type(type_: str, fallback: str) -> str:
    if type_:
        tail = type_.rsplit(".", 1)[-1]
        if tail:
            return tail
    return fallback.lower()


def _parse_other(
    subject: str, payload: bytes, source: str, received: float, doc: dict[str, Any]
) -> Event:
    type_ = _str(doc.get("type")) or subject
    block = doc.get("server")
    server = ""
    if isinstance(block, dict):
        server = _str(block.get("name"))
    elif isinstance(block, str):
        server = block
    return Event(
        subject,
        source,
        received,
        type_,
        _kind_of_type(_str(doc.get("type")), subject.rsplit(".", 1)[-1]),
        INFO,
        payload,
        server=server,
        id=_str(doc.get("id")),
        timestamp=_str(doc.get("timestamp")),
        redact=None,
        account=_str(doc.get("account")) or ("" if source == "system" else source),
    )


def _sys_kind(tokens: list[str]) -> tuple[str, str, str]:
    """(kind, severity, account id) of a ``$SYS`` subject; kind "" when unknown."""
    second = tokens[1]
    if second == "ACCOUNT":
        found = _ACCOUNT_EVENTS.get(tuple(tokens[3:]))
        if found:
            return found[0], found[1], tokens[2]
        return "", INFO, tokens[2]
    if second == "SERVER":
        if tokens[2] == "ACCOUNT" and len(tokens) > 4:
            # Legacy copy of $SYS.ACCOUNT.<acc>.SERVER.CONNS: same id, own seq.
            return "account_conns_legacy", INFO, tokens[3]
        found = _SERVER_EVENTS.get(tuple(tokens[3:]))
        if found:
            return found[0], found[1], ""
    return "", INFO, ""


_FAST_PREFIX = {
    kind: b'{"type":"io.nats.server.advisory.v1.' + name.encode() + b'","id":"'
    for kind, name in (
        ("connect", "client_connect"),
        ("disconnect", "client_disconnect"),
        ("auth_error", "client_disconnect"),
        ("account_conns", "account_connections"),
        ("account_conns_legacy", "account_connections"),
    )
}
_FAST_TYPE = {k: v[9:-8].decode() for k, v in _FAST_PREFIX.items()}


def _fast_sys(
    subject: str,
    payload: bytes,
    source: str,
    received: float,
    kind: str,
    severity: str,
    account_id: str,
) -> Event | None:
    """The server block cut out of the bytes; id and timestamp are read lazily."""
    if not payload.startswith(_FAST_PREFIX[kind]):
        return None
    find = payload.find
    i = find(b'","server":{"name":"', 40, 300)
    j = find(b'","host":"', i + 20, i + 300)
    k = find(b'","id":"', j + 10, j + 300)
    e = find(b'"', k + 8, k + 80)
    q = find(b',"seq":', e, e + 300)
    r = find(b',"time":"', q + 7, q + 30)
    if i < 0 or j < 0 or k < 0 or e < 0 or q < 0 or r < 0:
        return None
    name = payload[i + 20 : j]
    seq = payload[q + 7 : r]
    if b"\\" in name or b'"' in name or not seq.isdigit():
        return None
    account = ""
    if kind == "connect":
        if payload[-2:] != b"}}":
            return None
    elif kind == "disconnect" or kind == "auth_error":
        t = payload.rfind(b',"reason":"', r)
        reason = payload[t + 11 : -2]
        if t < 0 or payload[-2:] != b'"}' or b'"' in reason or b"\\" in reason:
            return None
        if kind == "disconnect":
            severity = _disconnect_severity(_text(reason))
            if account_id == "$G" and severity == ERROR:
                kind, severity = "auth_failure_disconnect", WARNING
        else:
            account_id = ""
    else:  # account connections, and the legacy copy
        a = find(b'},"acc":"', r)
        ae = find(b'","name":"', a, a + 120)
        ne = find(b'"', ae + 10, ae + 300)
        t = payload.rfind(b',"slow_consumers":', ne)
        if a < 0 or ae < 0 or ne < 0 or t < 0 or not payload[t + 18 : -1].isdigit():
            return None
        acc = payload[a + 9 : ae]
        acc_name = payload[ae + 10 : ne]
        if payload[-1:] != b"}" or b"\\" in acc_name or b'"' in acc:
            return None
        account = _text(acc_name)
        account_id = account_id or _text(acc)
    return Event(
        subject,
        source,
        received,
        _FAST_TYPE[kind] if kind != "auth_failure_disconnect" else _DISCONNECT_TYPE,
        kind,
        severity,
        payload,
        _text(name),
        _text(payload[k + 8 : e]),
        account or account_id,
        account_id,
        "",
        "",
        None,
        int(seq),
        None,
        None,
    )


def _parse_sys(
    tokens: list[str],
    subject: str,
    payload: bytes,
    source: str,
    received: float,
    doc: dict[str, Any],
) -> Event:
    type_ = _str(doc.get("type"))
    block: Any = doc.get("server")
    kind, severity, account_id = (
        _sys_kind(tokens) if len(tokens) > 3 else ("", INFO, "")
    )
    if kind == "disconnect":
        severity = _disconnect_severity(doc.get("reason"))
    elif kind == "shutdown" or kind == "lame_duck":
        block = doc
        type_ = type_ or tokens[3]
    elif kind == "statsz":
        type_ = type_ or "STATSZ"
    if not kind:
        kind = _kind_of_type(type_, tokens[-1])
    if not type_:
        type_ = ".".join(tokens[3:]) or subject
    server = server_id = ts = ""
    seq = 0
    if isinstance(block, dict):
        server = _str(block.get("name"))
        server_id = _str(block.get("id"))
        s = block.get("seq")
        if type(s) is int:
            seq = s
        ts = _str(block.get("time"))
    client = doc.get("client")
    account = ""
    if kind == "account_conns" or kind == "account_conns_legacy":
        account = _str(doc.get("name")) or _str(doc.get("acc"))
        account_id = account_id or _str(doc.get("acc"))
    elif isinstance(client, dict):
        account_id = account_id or _str(client.get("acc"))
    if kind == "auth_error":
        account = account_id = ""
    elif kind == "disconnect" and account_id == "$G" and severity == ERROR:
        # The server also reports a failed authentication as a disconnect from the
        # global account; the CLIENT.AUTH.ERR event is the one that counts.
        kind = "auth_failure_disconnect"
        severity = WARNING
    return Event(
        subject,
        source,
        received,
        type_,
        kind,
        severity,
        payload,
        server=server,
        server_id=server_id,
        account=account or account_id,
        account_id=account_id,
        id=_str(doc.get("id")),
        seq=seq,
        timestamp=_str(doc.get("timestamp")) or ts,
        redact=None,
    )


def _parse_js(
    tokens: list[str],
    subject: str,
    payload: bytes,
    source: str,
    received: float,
    doc: dict[str, Any],
) -> Event:
    type_ = _str(doc.get("type")) or subject
    n = len(tokens)
    kind = ""
    severity = INFO
    stream = consumer = ""
    if n > 3 and tokens[2] == "ADVISORY":
        a = tokens[3]
        b = tokens[4] if n > 4 else ""
        found = _JS_ADVISORIES.get((a, b))
        if found is None and a == "API":
            found = _JS_ADVISORIES.get((a, ""))
        if found:
            kind, severity = found
            if a == "STREAM" and n > 5:
                stream = tokens[5]
            elif a == "CONSUMER" and n > 6:
                stream, consumer = tokens[5], tokens[6]
    elif n > 5 and tokens[2] == "METRIC" and tokens[3] == "CONSUMER":
        kind = "consumer_" + tokens[4].lower()
        if n > 6:
            stream, consumer = tokens[5], tokens[6]
    if not kind:
        kind = _kind_of_type(_str(doc.get("type")), tokens[-1])
    server = ""
    block = doc.get("server")
    if isinstance(block, str):
        server = block
    elif isinstance(block, dict):
        server = _str(block.get("name"))
    if kind == "api_audit":
        resp = doc.get("response")
        if isinstance(resp, str) and '"error"' in resp:
            severity = WARNING
    elif kind.endswith("_leader_elected") and kind != "meta_leader_elected":
        server = _str(doc.get("leader"))
    elif kind == "meta_leader_elected":
        server = _peer_name(doc, _str(doc.get("leader")))
    account = _str(doc.get("account")) or ("" if source == "system" else source)
    return Event(
        subject,
        source,
        received,
        type_,
        kind,
        severity,
        payload,
        server=server,
        account=account,
        account_id=account if account.startswith("A") and len(account) == 56 else "",
        stream=stream or _str(doc.get("stream")),
        consumer=consumer or _str(doc.get("consumer")),
        id=_str(doc.get("id")),
        timestamp=_str(doc.get("timestamp")),
        redact=None,
    )


def _peer_name(doc: dict[str, Any], peer: str) -> str:
    """A meta leader is named by peer id; find its server name in ``replicas``."""
    for replica in doc.get("replicas") or []:
        if isinstance(replica, dict) and replica.get("peer") == peer:
            return _str(replica.get("name")) or peer
    return peer


# -- summaries ---------------------------------------------------------------


def _generic_summary(ev: Event) -> str:
    kind = ev.kind.replace("_", " ")
    where = f"{ev.server}: " if ev.server else ""
    return f"{where}{kind} on {ev.subject}"


def _client_label(client: dict[str, Any]) -> str:
    name = _str(client.get("name"))
    if name:
        return f"client '{name}'"
    cid = client.get("id")
    return f"client cid {cid}" if cid is not None else "client"


def short_account(account: str) -> str:
    """An account public key shortened for one-line summaries; names unchanged."""
    if len(account) == 56 and account[0] == "A" and account.isalnum():
        return account[:8] + "…"
    return account


def _account_label(ev: Event) -> str:
    return f" ({short_account(ev.account)})" if ev.account else ""


def _mib(value: Any) -> str:
    if isinstance(value, int | float):
        return f"{value / 1048576:.0f} MiB"
    return "? MiB"


def _offline(doc: dict[str, Any]) -> str:
    names = [
        _str(r.get("name"))
        for r in doc.get("replicas") or []
        if isinstance(r, dict) and (r.get("offline") or not r.get("current"))
    ]
    return ", ".join(n for n in names if n)


def _summarise(ev: Event) -> str:
    kind = ev.kind
    doc = ev.raw
    server = ev.server or "?"
    if kind == "connect" or kind == "disconnect" or kind == "auth_failure_disconnect":
        client = _dict(doc.get("client"))
        label = _client_label(client)
        if kind == "connect":
            extra = [f"account {short_account(ev.account)}"] if ev.account else []
            if client.get("host"):
                extra.append(f"from {client['host']}")
            tail = f" ({', '.join(extra)})" if extra else ""
            return f"{label} connected to {server}{tail}"
        reason = _str(doc.get("reason")) or "unknown reason"
        return f"{label} disconnected from {server}: {reason}"
    if kind == "auth_error":
        client = _dict(doc.get("client"))
        who = []
        if client.get("user"):
            who.append(f"user '{client['user']}'")
        if client.get("name"):
            who.append(f"client '{client['name']}'")
        if client.get("host"):
            who.append(f"from {client['host']}")
        reason = _str(doc.get("reason")) or "Authentication Failure"
        return f"{server}: {reason.lower()}" + (f": {' '.join(who)}" if who else "")
    if kind == "account_conns" or kind == "account_conns_legacy":
        return (
            f"{server}: account {short_account(ev.account) or '?'} has "
            f"{doc.get('conns', '?')} "
            f"connections ({doc.get('total_conns', '?')} in total), "
            f"{doc.get('leafnodes', 0)} leafnodes"
        )
    if kind == "statsz":
        st = _dict(doc.get("statsz"))
        return (
            f"{server}: {st.get('connections', '?')} connections, "
            f"{st.get('subscriptions', '?')} subscriptions, {_mib(st.get('mem'))}, "
            f"cpu {st.get('cpu', '?')}%, {st.get('slow_consumers', 0)} slow consumers"
        )
    if kind == "shutdown":
        return f"{server}: server shut down"
    if kind == "lame_duck":
        return f"{server}: server entered lame duck mode"
    if kind == "stream_leader_elected":
        return f"stream {ev.stream}{_account_label(ev)} leader elected on {server}"
    if kind == "consumer_leader_elected":
        return (
            f"consumer {ev.stream} > {ev.consumer}{_account_label(ev)} "
            f"leader elected on {server}"
        )
    if kind == "meta_leader_elected":
        cluster = _str(doc.get("cluster"))
        where = f" (cluster {cluster})" if cluster else ""
        return f"JetStream meta leader elected on {server}{where}"
    if kind == "stream_quorum_lost":
        down = _offline(doc)
        return f"stream {ev.stream}{_account_label(ev)} lost quorum" + (
            f": {down} not current" if down else ""
        )
    if kind == "consumer_quorum_lost":
        down = _offline(doc)
        return (
            f"consumer {ev.stream} > {ev.consumer}{_account_label(ev)} lost quorum"
            + (f": {down} not current" if down else "")
        )
    if kind in ("stream_created", "stream_updated", "stream_deleted"):
        return f"stream {ev.stream}{_account_label(ev)} {kind.split('_')[1]}"
    if kind in ("consumer_created", "consumer_deleted"):
        return (
            f"consumer {ev.stream} > {ev.consumer}{_account_label(ev)} "
            f"{kind.split('_')[1]}"
        )
    if kind == "consumer_pause":
        what = f"consumer {ev.stream} > {ev.consumer}{_account_label(ev)}"
        if doc.get("paused"):
            return f"{what} paused until {_str(doc.get('pause_until')) or '?'}"
        return f"{what} resumed"
    if kind == "consumer_pinned":
        return (
            f"consumer {ev.stream} > {ev.consumer}: group "
            f"'{_str(doc.get('group'))}' pinned to client {doc.get('pinned_id', '?')}"
        )
    if kind == "consumer_unpinned":
        reason = _str(doc.get("reason"))
        return (
            f"consumer {ev.stream} > {ev.consumer}: group "
            f"'{_str(doc.get('group'))}' unpinned" + (f" ({reason})" if reason else "")
        )
    if kind == "consumer_max_deliveries":
        return (
            f"consumer {ev.stream} > {ev.consumer}: message {doc.get('stream_seq')} "
            f"reached max deliveries ({doc.get('deliveries')})"
        )
    if kind in ("consumer_nak", "consumer_terminated"):
        verb = "nak'd" if kind == "consumer_nak" else "terminated"
        reason = _str(doc.get("reason"))
        return (
            f"consumer {ev.stream} > {ev.consumer}: message {doc.get('stream_seq')} "
            f"{verb} (delivery {doc.get('deliveries')})"
            + (f": {reason}" if reason else "")
        )
    if kind == "consumer_ack":
        delay = doc.get("ack_time")
        ms = f" after {delay / 1e6:.1f} ms" if isinstance(delay, int | float) else ""
        return (
            f"consumer {ev.stream} > {ev.consumer}: message "
            f"{doc.get('stream_seq')} acknowledged{ms}"
        )
    if kind == "api_audit":
        client = _dict(doc.get("client"))
        by = f" by {_client_label(client)}" if client.get("name") else ""
        line = f"{server}: API {_str(doc.get('subject')) or '?'}{by}"
        response = doc.get("response")
        if isinstance(response, str) and '"error"' in response:
            try:
                err = json.loads(response).get("error") or {}
                line += (
                    f" -> error {err.get('err_code') or err.get('code')}: "
                    f"{err.get('description', '')}"
                )
            except (ValueError, AttributeError):
                line += " -> error"
        return line
    if kind == "api_limit_reached":
        return (
            f"{server}: JetStream API queue limit reached, "
            f"{doc.get('dropped', '?')} requests dropped"
        )
    if kind == "server_out_of_storage":
        stream = _str(doc.get("stream"))
        return f"{server}: JetStream out of storage" + (
            f" (stream {stream})" if stream else ""
        )
    if kind == "server_removed":
        cluster = _str(doc.get("cluster"))
        return f"{server}: removed from the JetStream cluster {cluster}".rstrip()
    if kind == "meta_rescue":
        return (
            f"{server}: meta group quorum lowered from {doc.get('prev_quorum')} "
            f"to {doc.get('new_quorum')}"
        )
    if kind == "stream_batch_abandoned":
        return (
            f"stream {ev.stream}{_account_label(ev)}: batch "
            f"{_str(doc.get('batch'))} abandoned ({_str(doc.get('reason'))})"
        )
    if kind == "leafnode_connect":
        return f"{server}: leafnode connected (account {ev.account or '?'})"
    if kind == "claims_update":
        return f"account {ev.account} claims update"
    return _generic_summary(ev)
