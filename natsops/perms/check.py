"""What a credential can do: for each natsops feature, available or not and why,
from the JWT's and the server's view of its permissions, the account it is in, and
(with probing) harmless requests that the server really answers or refuses.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import re
import secrets
import time
import weakref
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

from natsops.perms.catalogue import (
    DEFAULT_INBOX,
    FEATURES,
    SubjectEntry,
    requirement,
)
from natsops.perms.subjects import (
    Decision,
    Direction,
    Permissions,
    SubjectPermission,
)

if TYPE_CHECKING:
    from nats.aio.client import Client

log = logging.getLogger(__name__)

ConnKind = Literal["system", "owner"]
ProbeResult = Literal[
    "ok", "denied", "no-responders", "timeout", "no-jetstream", "no-reply-inbox"
]

#: Stands for a random token natsops puts into a subject (an inbox's nuid).
_FRESH = "natsops-fresh-token"
_INBOX_TEMPLATE = "<inbox>.>"
_VIOLATION = re.compile(r'permissions violation for (publish|subscription) to "(.*)"')
_JS_NOT_ENABLED = 10039


@dataclass(frozen=True)
class ProbeOutcome:
    """What the server did with one harmless request or subscription."""

    result: ProbeResult
    detail: str = ""
    latency: float = 0.0
    reply: dict[str, Any] | None = field(default=None, repr=False, compare=False)

    @property
    def permitted(self) -> bool:
        """The server accepted the publish or subscribe (whatever it answered)."""
        return self.result != "denied"

    def to_json(self) -> dict[str, Any]:
        return {"result": self.result, "detail": self.detail}


@dataclass
class SubjectCheck:
    """One subject a feature needs, the permission decision and any probe."""

    entry: SubjectEntry
    subject: str
    decision: Decision
    probe: ProbeOutcome | None = None

    @property
    def direction(self) -> Direction:
        return self.entry.direction

    @property
    def allowed(self) -> bool:
        """The server's word when probed, else the permission decision."""
        if self.probe is not None:
            return self.probe.permitted
        return self.decision.allowed

    def to_json(self) -> dict[str, Any]:
        return {
            "subject": self.subject,
            "direction": self.direction,
            "account": self.entry.account,
            "access": self.entry.access,
            "scope": self.decision.scope,
            "allowed": self.allowed,
            "reason": self.decision.reason,
            "probe": self.probe.to_json() if self.probe else None,
        }


@dataclass
class FeatureCheck:
    """Whether one feature is available on one connection, and why not.

    ``status``: ``ok``, ``partial`` (available, some subjects limited), ``denied``,
    ``wrong-account``, ``no-jetstream``, ``no-responders``, ``timeout`` or
    ``no-connection``.
    """

    feature: str
    connection: str
    available: bool
    status: str
    reason: str = ""
    subjects: list[SubjectCheck] = field(default_factory=list)
    probed: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "feature": self.feature,
            "connection": self.connection,
            "available": self.available,
            "status": self.status,
            "reason": self.reason,
            "probed": self.probed,
            "subjects": [s.to_json() for s in self.subjects],
        }


@dataclass
class ConnectionReport:
    """Everything natsops learnt about one connection's credential."""

    connection: str
    is_system: bool | None
    system_basis: str
    permissions: Permissions
    permissions_source: Literal["server", "jwt", "none"]
    account: str | None = None
    account_name: str | None = None
    user: str | None = None
    user_name: str | None = None
    jwt_permissions: Permissions | None = None
    server_permissions: Permissions | None = None
    inbox_prefix: str = DEFAULT_INBOX
    features: dict[str, FeatureCheck] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def kind(self) -> ConnKind:
        """``system`` or ``owner``; an unknown account counts by the label."""
        if self.is_system is None:
            return "system" if self.connection == "system" else "owner"
        return "system" if self.is_system else "owner"

    def decide(self, direction: Direction, subject: str) -> Decision:
        """The permission decision for an exact subject on this connection."""
        return self.permissions.decide(direction, subject)

    def can_publish(self, subject: str) -> bool:
        """May this credential publish (request) on ``subject``?"""
        return self.decide("pub", subject).allowed

    def to_json(self) -> dict[str, Any]:
        return {
            "connection": self.connection,
            "is_system": self.is_system,
            "system_basis": self.system_basis,
            "account": self.account,
            "account_name": self.account_name,
            "user": self.user,
            "user_name": self.user_name,
            "inbox_prefix": self.inbox_prefix,
            "permissions": self.permissions.to_json(),
            "permissions_source": self.permissions_source,
            "error": self.error,
            "notes": list(self.notes),
            "features": [f.to_json() for f in self.features.values()],
        }


@dataclass
class PermsReport:
    """The report for every connection natsops holds."""

    connections: list[ConnectionReport] = field(default_factory=list)

    def connection(self, label: str) -> ConnectionReport | None:
        """The connection with this label, account name or account public key."""
        for conn in self.connections:
            if label in (conn.connection, conn.account, conn.account_name):
                return conn
        return None

    @property
    def system(self) -> ConnectionReport | None:
        """The system connection, if natsops holds one."""
        for conn in self.connections:
            if conn.connection == "system":
                return conn
        return None

    def rows(self) -> list[tuple[str, str, str, str]]:
        """(connection, feature, available, reason) for a table."""
        out: list[tuple[str, str, str, str]] = []
        for conn in self.connections:
            if conn.error:
                out.append((conn.connection, "-", "no", conn.error))
                continue
            for check in conn.features.values():
                if check.status == "partial":
                    avail = "partial"
                else:
                    avail = "yes" if check.available else "no"
                out.append((conn.connection, check.feature, avail, check.reason))
        return out

    def to_json(self) -> dict[str, Any]:
        return {"connections": [c.to_json() for c in self.connections]}


# -- static evaluation ---------------------------------------------------------


def _inbox_decision(perms: Permissions, prefix: str) -> Decision:
    """Replies arrive on ``<prefix>.<nuid>`` and ``<prefix>.<nuid>.*``."""
    shown = f"{prefix}.>"
    for subject in (f"{prefix}.{_FRESH}.*", f"{prefix}.{_FRESH}"):
        decision = perms.sub.decide_subscribe(subject)
        if not decision.allowed:
            return replace(decision, subject=shown)
    return Decision("sub", shown, "all")


def subject_checks(
    perms: Permissions,
    entries: Iterable[SubjectEntry],
    *,
    account: str | None = None,
    inbox_prefix: str | None = None,
) -> list[SubjectCheck]:
    """Permission decisions for catalogue entries on one connection."""
    prefix = inbox_prefix or DEFAULT_INBOX
    out: list[SubjectCheck] = []
    for entry in entries:
        subject = entry.pattern_for(account, prefix)
        if entry.template == _INBOX_TEMPLATE:
            decision = _inbox_decision(perms, prefix)
        else:
            decision = perms.decide(entry.direction, subject)
        out.append(SubjectCheck(entry, subject, decision))
    return out


def _wrong_account(feature_id: str, kind: ConnKind, account_name: str | None) -> str:
    feat = FEATURES[feature_id]
    if kind == "system":
        return (
            "needs a user of the owning account (the system account has no JetStream)"
        )
    where = f" (this connection is account {account_name})" if account_name else ""
    if feat.where == "system":
        return f"needs the system account{where}"
    return f"not available on this connection{where}"


def _verdict(checks: list[SubjectCheck]) -> tuple[bool, str, str]:
    """(available, status, reason) from a feature's subject checks."""
    denied = [c for c in checks if not c.allowed]
    if denied:
        parts = []
        for c in denied:
            if c.probe is None:
                parts.append(c.decision.reason)
            elif c.decision.allowed:
                parts.append(f"the server denied {_verb(c)} {c.subject} (probe)")
            else:
                parts.append(f"{c.decision.reason} (the server refused it too)")
        return False, "denied", "; ".join(parts)
    for result, status in (
        ("no-jetstream", "no-jetstream"),
        ("no-responders", "no-responders"),
        ("timeout", "timeout"),
        ("no-reply-inbox", "denied"),
    ):
        hit = [c for c in checks if c.probe is not None and c.probe.result == result]
        if hit:
            return False, status, "; ".join(_probe_reason(c) for c in hit)
    # A probe with an invented name says nothing about the denied part.
    partial = [c for c in checks if c.decision.scope == "some"]
    if partial:
        return True, "partial", "; ".join(c.decision.reason for c in partial)
    if any(c.probe is not None for c in checks):
        unprobed = [c.subject for c in checks if c.probe is None]
        if unprobed:
            listed = ", ".join(unprobed)
            return True, "ok", f"{listed}: allowed, not probed (no harmless request)"
    return True, "ok", ""


def _verb(check: SubjectCheck) -> str:
    return "publish to" if check.direction == "pub" else "subscribe to"


def _probe_reason(check: SubjectCheck) -> str:
    probe = check.probe
    assert probe is not None
    if probe.result == "no-jetstream":
        return "JetStream is not enabled for this account"
    if probe.result == "no-responders":
        if check.entry.account == "system":
            return f"no responders for {check.subject}: needs the system account"
        return f"no responders for {check.subject}"
    if probe.result == "timeout":
        if check.entry.account == "system":
            return (
                f"no reply to {check.subject} in time: probably not the system "
                "account, or no server answered"
            )
        return f"no reply to {check.subject} in time"
    if probe.result == "no-reply-inbox":
        return f"replies cannot arrive: {probe.detail}"
    return probe.detail


def evaluate(
    perms: Permissions,
    *,
    connection: str = "system",
    kind: ConnKind = "system",
    account: str | None = None,
    account_name: str | None = None,
    inbox_prefix: str | None = None,
    features: Iterable[str] | None = None,
) -> dict[str, FeatureCheck]:
    """Per feature, whether ``perms`` on a connection of ``kind`` allow it.

    ``account`` (the account's public key, or name without JWTs) fills ``<acc>`` on
    an owning-account connection.
    """
    out: dict[str, FeatureCheck] = {}
    fill = account if kind == "owner" else None
    for fid in features or FEATURES:
        req = requirement(fid, kind)
        if not req.possible:
            out[fid] = FeatureCheck(
                fid,
                connection,
                False,
                "wrong-account",
                _wrong_account(fid, kind, account_name),
            )
            continue
        checks = subject_checks(
            perms, req.entries, account=fill, inbox_prefix=inbox_prefix
        )
        available, status, reason = _verdict(checks)
        out[fid] = FeatureCheck(fid, connection, available, status, reason, checks)
    return out


# -- probing -------------------------------------------------------------------


class _Hook:
    """One wrapper around a client's error callback, shared by every prober of
    that client: permission violations go to the probers that expect them, all
    other errors to the original callback."""

    def __init__(self, nc: Client) -> None:
        self.nc = nc
        self.orig: Callable[[Exception], Awaitable[None]] | None = nc._error_cb
        self.watchers: list[_Violations] = []
        nc._error_cb = self.on_error

    async def on_error(self, exc: Exception) -> None:
        m = _VIOLATION.search(str(exc).lower())
        if m:
            key = ("pub" if m.group(1) == "publish" else "sub", m.group(2))
            expected = False
            for watcher in self.watchers:
                watcher.seen.add(key)
                expected = expected or key in watcher.watch
            if expected:
                return
        if self.orig is not None:
            await self.orig(exc)

    def remove(self) -> None:
        self.nc._error_cb = self.orig  # type: ignore[assignment]


_HOOKS: weakref.WeakKeyDictionary[Client, _Hook] = weakref.WeakKeyDictionary()


class _Violations:
    """Permission violations the server reports while one prober runs; those it
    expects are kept away from the client's own error callback."""

    def __init__(self, nc: Client) -> None:
        self.nc = nc
        self.seen: set[tuple[str, str]] = set()
        self.watch: set[tuple[str, str]] = set()

    def __enter__(self) -> _Violations:
        hook = _HOOKS.get(self.nc)
        if hook is None:
            hook = _HOOKS[self.nc] = _Hook(self.nc)
        hook.watchers.append(self)
        return self

    def __exit__(self, *exc: object) -> None:
        hook = _HOOKS.get(self.nc)
        if hook is None:
            return
        with contextlib.suppress(ValueError):
            hook.watchers.remove(self)
        if not hook.watchers:
            hook.remove()
            del _HOOKS[self.nc]

    def expect(self, direction: str, subject: str) -> tuple[str, str]:
        key = (direction, subject.lower())
        self.watch.add(key)
        return key


async def _settle(nc: Client, timeout: float) -> None:
    """A barrier: once it returns, the server has processed everything sent before
    and any permission error it sent for it has reached the error callback.

    nats-py's ``flush`` writes its PING straight to the socket, ahead of commands
    still buffered for the flusher task, so the first PONG proves nothing about
    them; the flush also wakes the flusher, which writes them before the PONG can
    be read, so the second PING follows them and its PONG is the barrier.
    """
    for _ in range(2):
        await nc.flush(timeout=max(1, math.ceil(timeout)))


@dataclass
class _Req:
    check: SubjectCheck
    subject: str
    body: bytes
    inbox: str = ""
    sub: Any = None
    key: tuple[str, str] = ("", "")
    inbox_key: tuple[str, str] = ("", "")
    t0: float = 0.0


class Prober:
    """Harmless requests and subscriptions on one connection, telling a denied
    permission from no responders and from a timeout."""

    def __init__(self, nc: Client, timeout: float = 2.0) -> None:
        self.nc = nc
        self.timeout = timeout
        self.fake = f"natsops-probe-{secrets.token_hex(6)}"

    def _fill(self, text: str, server_id: str, account: str) -> str:
        return (
            text.replace("<stream>", self.fake)
            .replace("<consumer>", self.fake)
            .replace("<server>", self.fake)
            .replace("<user>", self.fake)
            .replace("<id>", server_id)
            .replace("<acc>", account)
        )

    async def run(
        self,
        checks: Iterable[SubjectCheck],
        *,
        server_id: str | None,
        account: str | None,
        inbox_prefix: str,
    ) -> None:
        """Probe every check that has a harmless form; set ``check.probe``."""
        requests: list[_Req] = []
        subs: list[tuple[SubjectCheck, str, Any, tuple[str, str]]] = []
        todo: list[SubjectCheck] = []
        for check in checks:
            entry = check.entry
            if entry.direction == "pub" and entry.probe is None:
                continue
            if "<id>" in entry.template and not server_id:
                continue
            if "<acc>" in entry.template and not account:
                continue
            todo.append(check)
        if not todo:
            return

        with _Violations(self.nc) as violations:
            for check in todo:
                entry = check.entry
                if entry.direction == "sub":
                    if entry.template == _INBOX_TEMPLATE:
                        subject = f"{self.nc.new_inbox()}.*"
                    else:
                        subject = entry.pattern_for(None, inbox_prefix)
                    key = violations.expect("sub", subject)
                    sub = await self.nc.subscribe(subject, cb=_discard)
                    subs.append((check, subject, sub, key))
                    continue
                subject = self._fill(entry.template, server_id or "", account or "")
                body = self._fill(entry.probe or "", server_id or "", account or "")
                req = _Req(check, subject, body.encode())
                req.inbox = self.nc.new_inbox()
                req.inbox_key = violations.expect("sub", req.inbox)
                req.key = violations.expect("pub", subject)
                req.sub = await self.nc.subscribe(req.inbox)
                req.t0 = time.monotonic()
                await self.nc.publish(subject, req.body, reply=req.inbox)
                requests.append(req)
            settled = True
            try:
                await _settle(self.nc, self.timeout)
            except Exception as exc:  # a flush timeout: the connection is stuck
                log.debug("probe flush failed: %s", exc)
                settled = False

            for check, subject, sub, key in subs:
                if key in violations.seen:
                    check.probe = ProbeOutcome("denied", f"subscribe to {subject}")
                elif settled:
                    check.probe = ProbeOutcome("ok")
                else:
                    check.probe = ProbeOutcome(
                        "timeout", "the server did not answer a PING in time"
                    )
                with contextlib.suppress(Exception):
                    await sub.unsubscribe()

            deadline = time.monotonic() + self.timeout
            pending = []
            for req in requests:
                if req.key in violations.seen:
                    req.check.probe = ProbeOutcome(
                        "denied", f"publish to {req.subject}"
                    )
                    await _drop(req.sub)
                elif req.inbox_key in violations.seen:
                    req.check.probe = ProbeOutcome(
                        "no-reply-inbox", f"subscribe to {req.inbox} denied"
                    )
                    await _drop(req.sub)
                else:
                    pending.append(req)
            await asyncio.gather(*(self._await_reply(r, deadline) for r in pending))

    async def _await_reply(self, req: _Req, deadline: float) -> None:
        try:
            req.check.probe = await self._reply_outcome(req, deadline)
        finally:
            await _drop(req.sub)

    async def _reply_outcome(self, req: _Req, deadline: float) -> ProbeOutcome:
        try:
            msg = await req.sub.next_msg(timeout=max(0.05, deadline - time.monotonic()))
        except Exception:
            return ProbeOutcome("timeout", f"no reply to {req.subject}")
        latency = time.monotonic() - req.t0
        if msg.headers and msg.headers.get("Status") == "503":
            return ProbeOutcome(
                "no-responders", f"no responders for {req.subject}", latency
            )
        return _classify_reply(msg.data, latency)


def _classify_reply(data: bytes, latency: float) -> ProbeOutcome:
    try:
        body = json.loads(data) if data else None
    except ValueError:
        return ProbeOutcome("ok", "non-JSON reply", latency)
    if not isinstance(body, dict):
        return ProbeOutcome("ok", "", latency)
    err = body.get("error")
    if isinstance(err, dict):
        code = err.get("err_code") or err.get("code")
        desc = str(err.get("description", ""))
        if code == _JS_NOT_ENABLED:
            return ProbeOutcome("no-jetstream", desc, latency, body)
        return ProbeOutcome(
            "ok", f"permitted; the server answered: {desc}", latency, body
        )
    return ProbeOutcome("ok", "", latency, body)


async def _discard(msg: Any) -> None:
    return None


async def _drop(sub: Any) -> None:
    with contextlib.suppress(Exception):
        await sub.unsubscribe()


# -- one connection ------------------------------------------------------------


async def _first_reply(
    nc: Client, subject: str, body: bytes, timeout: float
) -> ProbeOutcome:
    """The first reply to one request, classified like a probe."""
    entry = SubjectEntry(subject, "pub", "either", "read", (), "", probe=body.decode())
    check = SubjectCheck(entry, subject, Decision("pub", subject, "all"))
    await Prober(nc, timeout).run(
        [check], server_id=None, account=None, inbox_prefix=""
    )
    return check.probe or ProbeOutcome("timeout")


def _inbox_prefix_of(nc: Client | None, given: str | None) -> str:
    if given:
        return given
    raw = getattr(nc, "_inbox_prefix", None) if nc is not None else None
    if raw:
        with contextlib.suppress(Exception):
            return bytes(raw).decode()
    return DEFAULT_INBOX


async def _user_info(nc: Client, timeout: float) -> tuple[str, dict[str, Any] | None]:
    outcome = await _first_reply(nc, "$SYS.REQ.USER.INFO", b"", timeout)
    data = (outcome.reply or {}).get("data")
    return outcome.result, data if isinstance(data, dict) else None


async def _detect_system(
    nc: Client, perms: Permissions, prefix: str, timeout: float
) -> tuple[bool | None, str, str | None]:
    """(is_system, basis, a server id) from a STATSZ or IDZ ping, if allowed."""
    if not _inbox_decision(perms, prefix).allowed:
        return None, "unknown: replies to this credential are denied", None
    for kind in ("IDZ", "STATSZ"):
        subject = f"$SYS.REQ.SERVER.PING.{kind}"
        if not perms.decide("pub", subject).allowed:
            continue
        outcome = await _first_reply(nc, subject, b"", timeout)
        result, reply = outcome.result, outcome.reply
        if result == "ok" and reply is not None:
            server = reply.get("server") if kind == "STATSZ" else reply
            sid = server.get("id") if isinstance(server, dict) else None
            return True, f"{subject} answered", sid
        if result == "no-responders":
            return False, f"{subject} has no responders in this account", None
        if result == "timeout":
            return None, f"{subject} got no reply in time", None
    return None, "unknown: no server ping is allowed", None


@dataclass
class _Who:
    """Who a connection is, gathered from the JWT and the server."""

    user: str | None = None
    user_name: str | None = None
    account: str | None = None
    account_name: str | None = None


def as_permissions(value: Any) -> Permissions:
    """Permissions from this module's type, ``natsops.creds.Permissions``, a user
    JWT's claims (whole or their ``nats`` object) or a USER.INFO ``permissions``."""
    if isinstance(value, Permissions):
        return value
    if hasattr(value, "pub_allow"):
        return Permissions(
            pub=SubjectPermission(tuple(value.pub_allow), tuple(value.pub_deny)),
            sub=SubjectPermission(tuple(value.sub_allow), tuple(value.sub_deny)),
        )
    if isinstance(value, Mapping):
        if "publish" in value or "subscribe" in value:
            return Permissions.from_server(value)
        return Permissions.from_jwt(value)
    if value is None:
        return Permissions()
    raise TypeError(f"not permissions: {type(value).__name__}")


def _local_view(jwt: Any, who: _Who) -> Permissions | None:
    """The JWT's permissions, filling ``who`` from it."""
    if jwt is None:
        return None
    if hasattr(jwt, "permissions") and hasattr(jwt, "account_public_key"):
        who.user, who.user_name = jwt.public_key, jwt.name or None
        who.account = jwt.account_public_key
        who.account_name = jwt.account_name
        return as_permissions(jwt.permissions)
    if isinstance(jwt, Mapping) and ("nats" in jwt or "sub" in jwt):
        nats = jwt.get("nats")
        if isinstance(nats, Mapping):
            who.user = jwt.get("sub") if isinstance(jwt.get("sub"), str) else None
            who.user_name = jwt.get("name")
            who.account = nats.get("issuer_account") or jwt.get("iss")
    return as_permissions(jwt)


def _server_view(info: Any, who: _Who) -> Permissions | None:
    """USER.INFO's permissions (``data`` dict or a connection.UserInfo)."""
    if info is None:
        return None
    fields = (
        dict(info)
        if isinstance(info, Mapping)
        else {
            k: getattr(info, k, None)
            for k in ("user", "user_name", "account", "account_name")
        }
    )
    if isinstance(info, Mapping):
        perms = Permissions.from_server(info.get("permissions"))
    else:
        perms = as_permissions(info.permissions)
    who.user = fields.get("user") or who.user
    who.user_name = fields.get("user_name") or who.user_name
    who.account = fields.get("account") or who.account
    who.account_name = fields.get("account_name") or who.account_name
    return perms


async def check_credential(
    nc: Client | None,
    *,
    connection: str = "system",
    jwt: Any = None,
    user_info: Any = None,
    is_system: bool | None = None,
    account: str | None = None,
    account_name: str | None = None,
    inbox_prefix: str | None = None,
    probe: bool = False,
    timeout: float = 2.0,
    system_basis: str = "given by the caller",
) -> ConnectionReport:
    """Check one connection's credential, per natsops feature.

    ``jwt`` is the local view: a ``natsops.creds.UserClaims``, the user JWT's
    decoded claims, or a permissions dict. The server's view wins: ``user_info``
    (a ``natsops.connection.UserInfo`` or USER.INFO's ``data``) or, with a client
    ``nc``, a fresh ``$SYS.REQ.USER.INFO``. Without ``is_system`` the system account
    is recognised by a server ping, when the credential may send one. ``probe``
    also makes harmless requests and subscriptions and trusts what the server did.
    """
    prefix = _inbox_prefix_of(nc, inbox_prefix)
    notes: list[str] = []
    who = _Who(account=account, account_name=account_name)
    jwt_perms = _local_view(jwt, who)
    if account:
        who.account = account

    if user_info is None and nc is not None:
        result, user_info = await _user_info(nc, timeout)
        if user_info is None:
            notes.append(f"$SYS.REQ.USER.INFO: {result}; using the JWT's permissions")
    server_perms = _server_view(user_info, who)
    if account_name and not who.account_name:
        who.account_name = account_name

    if server_perms is not None:
        perms, source = server_perms, "server"
        if jwt_perms is not None and not jwt_perms.same_as(server_perms):
            notes.append(
                "the server applies other permissions than the JWT lists "
                "(account default permissions?); the server's view is used"
            )
    elif jwt_perms is not None:
        perms, source = jwt_perms, "jwt"
    else:
        perms, source = Permissions(), "none"
        notes.append("no permissions known: assuming none are restricted")

    basis = system_basis
    server_id: str | None = None
    if nc is not None and (is_system is None or probe):
        found, why, server_id = await _detect_system(nc, perms, prefix, timeout)
        if is_system is None:
            is_system, basis = found, why
    if is_system is None:
        role = "system" if connection == "system" else "an account"
        basis = f"{basis}; counted as {role} by the connection's role"
    if connection == "system" and is_system is False:
        notes.append("this credential is not in the system account")

    report = ConnectionReport(
        connection=connection,
        is_system=is_system,
        system_basis=basis,
        permissions=perms,
        permissions_source=source,  # type: ignore[arg-type]
        account=who.account,
        account_name=who.account_name,
        user=who.user,
        user_name=who.user_name,
        jwt_permissions=jwt_perms,
        server_permissions=server_perms,
        inbox_prefix=prefix,
        notes=notes,
    )
    report.features = evaluate(
        perms,
        connection=connection,
        kind=report.kind,
        account=who.account,
        account_name=who.account_name,
        inbox_prefix=prefix,
    )
    if probe and nc is not None:
        await _probe_features(nc, report, server_id, timeout)
    return report


async def check_link(
    link: Any, *, probe: bool = False, timeout: float | None = None
) -> ConnectionReport:
    """Check one ``natsops.connection.AccountLink`` of a hub."""
    settings = getattr(link, "settings", None)
    wait = timeout or (settings.timeout if settings is not None else 2.0)
    return await check_credential(
        link.nc,
        connection=link.name,
        jwt=link.claims,
        user_info=None if probe else link.info,
        is_system=link.is_system,
        account=link.public_key or None,
        account_name=link.account_name,
        inbox_prefix=getattr(settings, "inbox_prefix", None),
        probe=probe,
        timeout=min(wait, 5.0),
        system_basis="checked when connecting",
    )


async def check_hub(
    hub: Any, *, probe: bool = False, timeout: float | None = None
) -> PermsReport:
    """Check every connection of a ``natsops.connection.Hub`` (concurrently)."""
    links = list(hub.links())
    results = await asyncio.gather(
        *(check_link(link, probe=probe, timeout=timeout) for link in links),
        return_exceptions=True,
    )
    report = PermsReport()
    for link, result in zip(links, results, strict=True):
        if isinstance(result, ConnectionReport):
            report.connections.append(result)
            continue
        if not isinstance(result, Exception):
            raise result
        log.debug("checking %s failed", link.name, exc_info=result)
        report.connections.append(
            ConnectionReport(
                connection=link.name,
                is_system=getattr(link, "is_system", None),
                system_basis="not checked",
                permissions=Permissions(),
                permissions_source="none",
                error=f"check failed: {result or type(result).__name__}",
            )
        )
    for name, error in sorted(getattr(hub, "account_errors", {}).items()):
        report.connections.append(
            ConnectionReport(
                connection=name,
                is_system=None,
                system_basis="not connected",
                permissions=Permissions(),
                permissions_source="none",
                error=f"not connected: {error}",
            )
        )
    return report


def _evidence_checks(report: ConnectionReport, fid: str) -> list[SubjectCheck]:
    """For a feature of the other kind of account: the subjects whose probe shows
    why it fails here (no responders for a ping, 10039 for a stream call).

    System-only JetStream calls are left out on an account connection: the server
    drops them silently, so all they would show is a timeout.
    """
    other: ConnKind = "owner" if report.kind == "system" else "system"
    entries = [
        e
        for e in requirement(fid, other).entries
        if e.template != _INBOX_TEMPLATE
        and e.direction == "pub"
        and e.probe is not None
        and not (report.kind == "owner" and e.template.startswith("$JS.API."))
    ]
    return subject_checks(
        report.permissions,
        entries,
        account=report.account if report.kind == "owner" else None,
        inbox_prefix=report.inbox_prefix,
    )


def _evidence_reason(checks: list[SubjectCheck]) -> str:
    for check in checks:
        probe = check.probe
        if probe is None or probe.result == "denied":
            continue
        if probe.result == "ok":
            why = f" ({check.entry.note})" if check.entry.note else ""
            return f"the server answered {check.subject}{why}"
        return f"the server: {_probe_reason(check)}"
    return ""


async def _probe_features(
    nc: Client, report: ConnectionReport, server_id: str | None, timeout: float
) -> None:
    for feat in report.features.values():
        if feat.status == "wrong-account":
            feat.subjects = _evidence_checks(report, feat.feature)

    checks: dict[tuple[str, str], list[SubjectCheck]] = {}
    for feat in report.features.values():
        for check in feat.subjects:
            checks.setdefault((check.direction, check.subject), []).append(check)
    leaders = [group[0] for group in checks.values()]
    await Prober(nc, timeout).run(
        leaders,
        server_id=server_id,
        account=report.account or "",
        inbox_prefix=report.inbox_prefix,
    )
    for group in checks.values():
        for other in group[1:]:
            other.probe = group[0].probe

    for feat in report.features.values():
        if not feat.subjects:
            continue
        feat.probed = any(c.probe is not None for c in feat.subjects)
        if feat.status == "wrong-account":
            evidence = _evidence_reason(feat.subjects)
            if evidence:
                feat.reason = f"{feat.reason}; {evidence}"
            continue
        feat.available, feat.status, feat.reason = _verdict(feat.subjects)
        for check in feat.subjects:
            if (
                check.probe
                and check.probe.result == "denied"
                and check.decision.allowed
            ):
                note = (
                    f"the permissions allow {_verb(check)} {check.subject} "
                    "but the server denied it"
                )
                if note not in report.notes:
                    report.notes.append(note)


# -- every connection of a hub --------------------------------------------------


def feature_check(
    report: PermsReport, feature_id: str, account: str | None = None
) -> FeatureCheck:
    """The check that decides whether natsops can use ``feature_id`` now.

    Features of the system account look at the system connection; stream and
    consumer features at the connection for ``account`` (name or public key; any
    account connection when None); features that work from either account take
    whichever is available, the account's connection first.
    """
    feat = FEATURES[feature_id]
    candidates: list[ConnectionReport] = []
    system = report.system
    named = report.connection(account) if account else None
    if named is system:
        named = None
    if feat.where in ("owner", "either"):
        if named is not None:
            candidates.append(named)
        elif account is None:
            candidates += [c for c in report.connections if c is not system]
    if feat.where in ("system", "either") and system is not None:
        candidates.append(system)

    broken = [c for c in candidates if c.error]
    checks = [c.features[feature_id] for c in candidates if feature_id in c.features]
    for check in checks:
        if check.available:
            return check
    if checks:
        return checks[0]
    if broken:
        return FeatureCheck(
            feature_id,
            broken[0].connection,
            False,
            "no-connection",
            broken[0].error or "",
        )
    if feat.where == "owner" or (feat.where == "either" and system is None):
        who = f"account {account}" if account else "the account that owns the stream"
        return FeatureCheck(
            feature_id,
            account or "-",
            False,
            "no-connection",
            f"needs a connection for {who}: add --account-creds "
            f"{account or 'NAME'}=FILE",
        )
    return FeatureCheck(
        feature_id, "system", False, "no-connection", "needs a system connection"
    )


def feature_available(
    report: PermsReport, feature_id: str, account: str | None = None
) -> bool:
    """Can natsops use ``feature_id`` (for ``account``) with these credentials?"""
    return feature_check(report, feature_id, account).available


def unavailable_reason(
    report: PermsReport, feature_id: str, account: str | None = None
) -> str | None:
    """Why ``feature_id`` is unavailable, or None when it is available."""
    check = feature_check(report, feature_id, account)
    return None if check.available else check.reason
