"""What an operation will do (Plan) and what it did (Outcome), plus JetStream errors.

A :class:`Plan` is built by read-only requests and shown to the operator before
anything changes; an :class:`Outcome` is the result checked against the cluster.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from natsops.errors import ApiError, NatsopsError, NotFound, PermissionDenied

#: Every action natsops can perform, by its audit name.
ACTIONS = (
    "meta-stepdown",
    "stream-stepdown",
    "consumer-stepdown",
    "stream-move-server",
    "stream-move-placement",
    "stream-cancel-move",
    "stream-peer-remove",
    "stream-peer-evacuate",
    "server-remove",
    "server-evacuate",
    "account-purge",
    "consumer-pause",
    "consumer-resume",
    "consumer-unpin",
    "server-reload",
    "client-kick",
)


class OperationRefused(NatsopsError):
    """natsops refuses an operation that cannot do what was asked."""


class ConfirmationRequired(NatsopsError):
    """An operation needs a confirmation that was not given."""


class OperationCancelled(NatsopsError):
    """The operator declined the confirmation; nothing was changed."""


class OperationDenied(PermissionDenied):
    """The server denied publishing a request an operation needs (plan or execute).

    ``subject`` is the denied subject as natsops sent it; ``action`` the operation.
    """

    def __init__(self, subject: str, action: str = "") -> None:
        need = f"{action} needs it" if action else "the operation needs it"
        super().__init__(
            f"permission denied: publish to {subject}",
            f"{need}, but this user may not publish there; see what it may do "
            "with 'natsops perms'",
        )
        self.subject = subject
        self.action = action

    def for_action(self, action: str) -> OperationDenied:
        """The same denial, naming the operation that needed the subject."""
        return self if self.action else OperationDenied(self.subject, action)


@dataclass
class Risk:
    """A stream or consumer that would lose data or quorum."""

    kind: str  # "stream" or "consumer"
    account: str
    stream: str
    consumer: str | None
    replicas: int
    problem: str

    def describe(self) -> str:
        name = f"{self.stream} > {self.consumer}" if self.consumer else self.stream
        return f"{self.kind} {name} (account {self.account}, R{self.replicas}): " + (
            self.problem
        )


@dataclass
class Plan:
    """An operation ready to be confirmed: exact target, request and expected effect.

    ``connection`` is ``"system"`` or the account connection NAME the request goes
    through. ``body`` None means an empty request body. ``confirm`` is the text the
    operator must type for destructive operations (the account name for a purge).
    """

    action: str
    target: str
    connection: str
    subject: str
    body: dict[str, Any] | None
    effect: str
    warnings: list[str] = field(default_factory=list)
    destructive: bool = False
    confirm: str | None = None
    leader: str | None = None
    candidates: list[str] = field(default_factory=list)
    at_risk: list[Risk] = field(default_factory=list)
    streams: list[str] = field(default_factory=list)
    account: str | None = None
    account_name: str | None = None
    stream: str | None = None
    consumer: str | None = None
    server: str | None = None
    created: float = field(default_factory=time.time)
    #: Private facts the executor uses to check the outcome (previous leader, ...).
    check: dict[str, Any] = field(default_factory=dict, repr=False)

    def payload(self) -> bytes:
        """The request body as sent."""
        return b"" if self.body is None else json.dumps(self.body).encode()

    def body_text(self) -> str:
        """The request body as shown to the operator."""
        return "(empty)" if self.body is None else json.dumps(self.body, sort_keys=True)

    def confirms(self, typed: str) -> bool:
        """Whether ``typed`` is the confirmation this plan asks for."""
        if self.confirm is None:
            return typed.strip().lower() in ("y", "yes")
        return typed.strip() == self.confirm

    def describe(self) -> list[str]:
        """The confirmation text: one line per fact, warnings last."""
        lines = [
            f"action:     {self.action}",
            f"target:     {self.target}",
            f"connection: {self.connection}",
            f"subject:    {self.subject}",
            f"body:       {self.body_text()}",
        ]
        if self.leader is not None:
            lines.append(f"leader:     {self.leader}")
        if self.candidates:
            lines.append("candidates: " + ", ".join(self.candidates))
        if self.streams:
            lines.append(f"streams:    {', '.join(self.streams)}")
        lines.append(f"effect:     {self.effect}")
        for risk in self.at_risk:
            lines.append(f"AT RISK:    {risk.describe()}")
        for warning in self.warnings:
            lines.append(f"WARNING:    {warning}")
        return lines

    def to_dict(self) -> dict[str, Any]:
        """Stable JSON for ``--json`` and the dashboard."""
        doc = asdict(self)
        doc.pop("check", None)
        return doc


@dataclass
class Outcome:
    """What happened, checked against the cluster after the request.

    ``ok`` means the server accepted the request; ``verified`` that the expected
    effect was then seen (new leader elected, peer gone, consumer paused, ...).
    """

    plan: Plan
    ok: bool
    verified: bool
    summary: str
    reply: dict[str, Any] | None = None
    details: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    duration: float = 0.0

    @property
    def result(self) -> str:
        """``ok`` when verified, ``unverified`` when accepted but not yet seen."""
        return "ok" if self.ok and self.verified else "unverified"

    def to_dict(self) -> dict[str, Any]:
        return {
            "action": self.plan.action,
            "target": self.plan.target,
            "subject": self.plan.subject,
            "connection": self.plan.connection,
            "ok": self.ok,
            "verified": self.verified,
            "result": self.result,
            "summary": self.summary,
            "details": self.details,
            "warnings": self.warnings,
            "duration_ms": round(self.duration * 1000, 1),
            "reply": self.reply,
        }


@dataclass
class ErrorContext:
    """Names used to turn a server error code into a sentence."""

    stream: str | None = None
    consumer: str | None = None
    account: str | None = None
    server: str | None = None
    peer: str | None = None
    action: str = ""


def _where(ctx: ErrorContext) -> str:
    return f" in account {ctx.account}" if ctx.account else ""


def explain_error(err: Mapping[str, Any], ctx: ErrorContext) -> NatsopsError:
    """A clear :class:`NatsopsError` for a JetStream or system API error block."""
    raw_code, raw_err_code = err.get("code"), err.get("err_code")
    code = raw_code if isinstance(raw_code, int) else 0
    err_code = raw_err_code if isinstance(raw_err_code, int) else 0
    desc = str(err.get("description") or "unknown error")
    if err_code == 10059:
        return NotFound(
            f"stream {ctx.stream!r} not found{_where(ctx)}",
            "check the name and the account (natsops streams --account A)",
        )
    if err_code == 10014:
        return NotFound(
            f"consumer {ctx.consumer!r} not found on stream {ctx.stream!r}"
            f"{_where(ctx)}",
            f"list them with natsops consumers {ctx.stream} --account A",
        )
    hints = {
        10005: "the preferred server may already be leader, be unknown, or have no "
        "connected replacement; for moves, no suitable server matches the placement",
        10010: "this is a standalone server: stepdowns, moves and removals need a "
        "JetStream cluster",
        10039: "stream and consumer operations need a user of the owning account "
        "(--account-creds NAME=FILE), not the system user",
        10040: f"{ctx.peer or 'that peer'} holds no replica of "
        f"{ctx.stream or 'the stream'}; see its peers with natsops streams",
        10044: f"{ctx.server or ctx.peer or 'that server'} is not a JetStream peer; "
        "check the name with natsops jetstream",
        10075: "no spare server can take the replica: add a server or lower the "
        "stream's replicas",
        10124: "a move is already in flight: wait for it or cancel it with "
        "natsops move --cancel",
        10129: "no move or replica change is in flight for this stream",
        10008: "the group has no leader right now (quorum lost?); check natsops health",
        10160: "the consumer has no such priority group; see its priority_groups",
        10025: "the server rejected the request body; this natsops version may not "
        "match the server",
        10003: "the server rejected the request as malformed",
    }
    if code == 500 and "no such client" in desc:
        return NotFound(
            f"no client with that id on {ctx.server or 'the server'}",
            "connection ids are per server: find it with natsops connections",
        )
    return ApiError(code, err_code, desc, hints.get(err_code, ""))
