"""The operations engine: plan an action with read-only requests, then execute it.

Every ``plan_*`` method resolves the target and computes the impact without changing
anything; :meth:`Operator.execute` enforces read-only mode, sends the request,
checks the effect against the cluster with bounded waiting, and audits every attempt.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import re
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar
from urllib.parse import urlsplit

from nats.aio.client import Client

from natsops.audit import AuditLog
from natsops.connection import inbox_denied, request_json, watch_permission
from natsops.errors import (
    AccountConnectionMissing,
    ApiError,
    ConnectError,
    NatsopsError,
    NotFound,
    NotSystemAccount,
    PermissionDenied,
    ReadOnlyError,
    RequestTimeout,
)
from natsops.fanout import Collector, FanoutResult, PingFilter
from natsops.ops.move import MoveTracker
from natsops.ops.plan import (
    ErrorContext,
    OperationDenied,
    OperationRefused,
    Outcome,
    Plan,
    Risk,
    explain_error,
)
from natsops.ops.views import (
    GroupView,
    consumer_view,
    groups_from_jsz,
    risks_for_removal,
    stream_view,
)

log = logging.getLogger(__name__)

_ACCOUNT_KEY = re.compile(r"^A[A-Z2-7]{55}$")
_API = "$JS.API"
_PING = "$SYS.REQ.SERVER.PING"
#: nats-server's own JSZ page of account details.
JSZ_PAGE_SIZE = 1024

T = TypeVar("T")


class AccountClient(Protocol):
    """An account connection: its configured NAME, account public key and client."""

    name: str
    public_key: str
    nc: Client


class Connections(Protocol):
    """What the operator needs from natsops' connections (``Hub`` provides it)."""

    @property
    def system(self) -> Client: ...

    def account(self, name_or_public_key: str) -> AccountClient: ...


@dataclass
class AccountConn:
    """A plain account connection for :class:`StaticConnections`."""

    name: str
    public_key: str
    nc: Client


@dataclass
class StaticConnections:
    """Connections given directly (scripts and tests); ``Hub`` does the same live."""

    system_nc: Client | None
    accounts: dict[str, AccountConn] = field(default_factory=dict)

    @property
    def system(self) -> Client:
        if self.system_nc is None:
            raise NotSystemAccount(
                "no system connection",
                "connect with a system-account user (--creds of a SYS user)",
            )
        return self.system_nc

    def account(self, name_or_public_key: str) -> AccountConn:
        key = name_or_public_key
        for link in self.accounts.values():
            if key in (link.name, link.public_key):
                return link
        raise AccountConnectionMissing(
            f"no connection for account '{key}'",
            f"add one with --account-creds {key}=FILE",
        )


@dataclass
class AccountRef:
    """An account resolved from a NAME or public key; ``link`` when connected."""

    public_key: str
    name: str
    link: AccountClient | None

    @property
    def label(self) -> str:
        return self.name or self.public_key


def is_account_key(text: str) -> bool:
    """Whether ``text`` looks like an account public key."""
    return bool(_ACCOUNT_KEY.match(text))


def _rfc3339(when: dt.datetime) -> str:
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _clean_url(url: Any) -> str:
    """A connected URL as text, without user info."""
    if url is None:
        return ""
    try:
        host = url.hostname or ""
        port = f":{url.port}" if url.port else ""
        return f"{url.scheme}://{host}{port}"
    except (AttributeError, ValueError):
        parts = urlsplit(str(url))
        return f"{parts.scheme}://{parts.hostname or ''}"


class Operator:
    """Plans and executes operations over one set of connections.

    ``read_only`` makes :meth:`execute` refuse everything; ``audit`` receives one
    line per attempt (plan failures, refusals, cancellations and executions).
    """

    def __init__(
        self,
        conns: Connections,
        *,
        read_only: bool = False,
        audit: AuditLog | None = None,
        collector: Collector | None = None,
        timeout: float = 5.0,
        wait: float = 10.0,
        read_only_reason: str = "read-only mode is on",
    ) -> None:
        self.conns = conns
        self.read_only = read_only
        self.read_only_reason = read_only_reason
        self.audit = audit
        self.timeout = timeout
        self.wait = wait
        self._collector = collector
        self._own_collector = collector is None
        self._identities: dict[int, dict[str, str]] = {}
        #: Accounts per JSZ page when every account's assets must be seen.
        self.jsz_page_size = JSZ_PAGE_SIZE

    @classmethod
    def from_hub(cls, hub: Any, **kwargs: Any) -> Operator:
        """An operator over a ``Hub``, with read-only and audit from its settings."""
        settings = hub.settings
        reason = "read-only mode (--read-only, NATSOPS_READ_ONLY=1 or the profile)"
        kwargs.setdefault("read_only", bool(settings.read_only))
        kwargs.setdefault("audit", AuditLog(settings.audit_log))
        kwargs.setdefault("timeout", float(settings.system.timeout))
        kwargs.setdefault("read_only_reason", reason)
        return cls(hub, **kwargs)

    async def close(self) -> None:
        """Release the fan-out inboxes this operator opened."""
        if self._collector is not None and self._own_collector:
            await self._collector.close()

    # ------------------------------------------------------------------ plumbing

    def _system(self) -> Client:
        try:
            nc = self.conns.system
        except (ConnectError, AttributeError) as exc:
            raise NotSystemAccount(
                "this operation needs the system connection",
                "connect with a system-account user (--creds of a SYS user)",
            ) from exc
        if nc is None:
            raise NotSystemAccount(
                "this operation needs the system connection",
                "connect with a system-account user (--creds of a SYS user)",
            )
        return nc

    @property
    def collector(self) -> Collector:
        if self._collector is None:
            self._collector = Collector(self._system())
        return self._collector

    @staticmethod
    def _denied(nc: Client, subject: str, exc: PermissionDenied) -> PermissionDenied:
        """The denial to report: the reply inbox's own, else the request subject's."""
        if inbox_denied(nc) or isinstance(exc, OperationDenied):
            return exc
        return OperationDenied(subject)

    async def _guarded(
        self, nc: Client, subjects: Sequence[str], work: Awaitable[T]
    ) -> T:
        """Await ``work`` (requests published on ``subjects``), but fail at once with
        a PermissionDenied naming the subject when the server reports that this user
        may not publish there (or may not subscribe to its reply inbox), instead of
        waiting for the silence of servers that never got the request."""
        task = asyncio.ensure_future(work)
        with contextlib.ExitStack() as stack:
            watches = {
                stack.enter_context(watch_permission(nc, s)): s for s in subjects
            }
            try:
                await asyncio.wait(
                    {task, *watches}, return_when=asyncio.FIRST_COMPLETED
                )
            except asyncio.CancelledError:
                task.cancel()
                raise
            if not task.done():
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
                for fut, subject in watches.items():
                    if fut.done() and not fut.cancelled():
                        raise self._denied(nc, subject, fut.result())
            try:
                return task.result()
            except PermissionDenied as exc:
                raise self._denied(nc, subjects[0], exc) from None

    async def _ping(
        self,
        kind: str,
        body: dict[str, Any] | None = None,
        flt: PingFilter | None = None,
        *,
        timeout: float | None = None,
        want: int | None = None,
    ) -> FanoutResult:
        """A fan-out on ``$SYS.REQ.SERVER.PING.<KIND>``; a denied publish fails fast."""
        collector = self.collector
        return await self._guarded(
            collector.nc,
            [f"{_PING}.{kind.upper()}"],
            collector.ping(kind, body, flt, timeout=timeout or self.timeout, want=want),
        )

    async def _every_account_jsz(self, body: dict[str, Any]) -> FanoutResult:
        """JSZ with the details of every account of every server: the first page
        from the fan-out, the rest from each server's own subject."""
        collector = self.collector
        return await self._guarded(
            collector.nc,
            [f"{_PING}.JSZ"],
            collector.paged(
                "JSZ",
                body,
                "account_details",
                page_size=self.jsz_page_size,
                timeout=self.timeout,
            ),
        )

    def _account_link(self, ref: str) -> AccountClient:
        try:
            return self.conns.account(ref)
        except AccountConnectionMissing as exc:
            name = ref if not is_account_key(ref) else "NAME"
            raise AccountConnectionMissing(
                f"no connection for account '{ref}': stream and consumer operations "
                "go through a user of the owning account",
                f"add one with --account-creds {name}=FILE (a creds file of a user "
                "of that account)",
            ) from exc

    async def resolve_account(self, ref: str, *, need_link: bool) -> AccountRef:
        """The account named by a connection NAME, account name or public key.

        With ``need_link`` an account connection is required
        (AccountConnectionMissing otherwise).
        """
        try:
            link = self.conns.account(ref)
        except AccountConnectionMissing:
            if need_link:
                self._account_link(ref)  # raises with the full hint
            link = None
        if link is not None:
            name = getattr(link, "account_name", None) or link.name
            return AccountRef(link.public_key or ref, str(name), link)
        names = await self._account_names()
        if is_account_key(ref):
            return AccountRef(ref, names.get(ref, ""), None)
        for key, name in names.items():
            if name == ref:
                return AccountRef(key, name, None)
        raise NotFound(
            f"unknown account '{ref}'",
            "give its public key, or the NAME of an --account-creds connection",
        )

    async def _account_names(self) -> dict[str, str]:
        """Account public key to name, for every account with JetStream assets."""
        try:
            result = await self._ping("JSZ", {"accounts": True})
        except NotSystemAccount:
            return {}
        names: dict[str, str] = {}
        for data in result.data().values():
            for acc in data.get("account_details") or []:
                if acc.get("id"):
                    names[str(acc["id"])] = str(acc.get("name") or "")
        return names

    async def _request(
        self,
        nc: Client,
        subject: str,
        body: dict[str, Any] | None,
        ctx: ErrorContext,
        timeout: float | None = None,
    ) -> dict[str, Any]:
        """One request; server errors become clear messages with ``ctx``."""
        try:
            return await request_json(
                nc, subject, body, timeout=timeout or self.timeout
            )
        except PermissionDenied as exc:
            raise self._denied(nc, subject, exc) from None
        except ApiError as exc:
            raise explain_error(
                {
                    "code": exc.code,
                    "err_code": exc.err_code,
                    "description": exc.description,
                },
                ctx,
            ) from None

    async def _stream(self, acc: AccountRef, stream: str) -> GroupView:
        """A stream's group: STREAM.INFO through the account, else JSZ."""
        ctx = ErrorContext(stream=stream, account=acc.label)
        if acc.link is not None:
            info = await self._request(
                acc.link.nc, f"{_API}.STREAM.INFO.{stream}", None, ctx
            )
            return stream_view(info, acc.public_key, acc.name)
        return await self._stream_from_jsz(acc, stream)

    async def _stream_from_jsz(self, acc: AccountRef, stream: str) -> GroupView:
        body = {
            "accounts": True,
            "streams": True,
            "config": True,
            "account": acc.public_key,
        }
        await self._discover()
        result = await self._ping("JSZ", body)
        streams, _ = groups_from_jsz(result.data(), acc.public_key)
        for group in streams:
            if group.stream == stream:
                return group
        raise NotFound(
            f"stream {stream!r} not found in account {acc.label}",
            "check the name and the account (natsops streams --account A)",
        )

    async def _consumer(
        self, acc: AccountRef, stream: str, consumer: str
    ) -> tuple[GroupView, GroupView]:
        link = acc.link
        assert link is not None
        sview = await self._stream(acc, stream)
        ctx = ErrorContext(stream=stream, consumer=consumer, account=acc.label)
        info = await self._request(
            link.nc, f"{_API}.CONSUMER.INFO.{stream}.{consumer}", None, ctx
        )
        return sview, consumer_view(info, acc.public_key, acc.name, sview.size)

    async def _discover(self, *, soft: bool = False) -> dict[str, Any]:
        """Every server that answers STATSZ now, by name (with cluster and tags).

        With ``soft`` a missing system connection (or one whose user may not ask)
        gives an empty answer instead of an error (for plans where the server list
        only adds detail).
        """
        try:
            collector = self.collector
            result = await self._guarded(
                collector.nc,
                [f"{_PING}.STATSZ", f"{_PING}.JSZ"],
                collector.discover(timeout=self.timeout),
            )
        except (NotSystemAccount, PermissionDenied) as exc:
            if soft:
                log.debug("server discovery skipped: %s", exc)
                return {}
            raise
        return {name: reply.server for name, reply in result.replies.items()}

    async def _is_online(self, server: str) -> bool:
        """Whether ``server`` answers right now (asked alone, not in a fan-out)."""
        result = await self._ping(
            "STATSZ",
            flt=PingFilter(server_name=server, exact=True),
            timeout=min(self.timeout, 2.0),
            want=1,
        )
        return server in result.replies

    async def _meta(self, timeout: float | None = None) -> dict[str, Any]:
        """The JetStream meta group as the meta leader reports it."""
        result = await self._ping(
            "JSZ", {"leader_only": True}, timeout=timeout or self.timeout, want=1
        )
        for reply in result.replies.values():
            meta = (reply.data or {}).get("meta_cluster")
            if isinstance(meta, dict) and meta.get("leader"):
                return meta
        raise RequestTimeout(
            "no JetStream meta leader answered",
            "the meta group may have lost quorum, or JetStream is not enabled",
        )

    async def _server_id(self, name: str) -> str:
        """A server's current id, asked fresh (ids change on every restart)."""
        # IDZ ignores server filters; STATSZ honours them and its envelope has the id.
        result = await self._ping(
            "STATSZ",
            flt=PingFilter(server_name=name, exact=True),
            timeout=min(self.timeout, 2.0),
            want=1,
        )
        reply = result.replies.get(name)
        if reply is None or not reply.server.id:
            known = ", ".join(e.name for e in self.collector.roster.entries())
            raise NotFound(
                f"server {name!r} did not answer",
                f"check the name and that it runs (known: {known or 'none'})",
            )
        return reply.server.id

    async def _server_request(
        self,
        name: str,
        kind: str,
        body: dict[str, Any] | None = None,
        timeout: float | None = None,
    ) -> dict[str, Any]:
        """The ``data`` of ``$SYS.REQ.SERVER.<id>.<KIND>`` for one server by name."""
        server_id = await self._server_id(name)
        nc = self._system()
        subject = f"$SYS.REQ.SERVER.{server_id}.{kind}"
        try:
            reply = await request_json(
                nc, subject, body, timeout=timeout or self.timeout
            )
        except PermissionDenied as exc:
            raise self._denied(nc, subject, exc) from None
        data = reply.get("data")
        return data if isinstance(data, dict) else {}

    def _identity(self, nc: Client | None, connection: str) -> dict[str, str]:
        """Where a request goes and as whom, for the audit log."""
        if nc is None:
            return {"connection": connection}
        cached = self._identities.get(id(nc))
        if cached is not None:
            return {**cached, "url": _clean_url(getattr(nc, "connected_url", None))}
        ident = {"connection": connection, "account": "", "account_name": ""}
        ident["user_key"] = ""
        link: Any = None
        try:
            if connection == "system":
                link = getattr(self.conns, "system_link", None)
            else:
                link = self.conns.account(connection)
        except NatsopsError:
            link = None
        info = getattr(link, "info", None)
        if info is not None:
            ident["account"] = str(getattr(info, "account", "") or "")
            ident["account_name"] = str(getattr(info, "account_name", "") or "")
            ident["user_key"] = str(getattr(info, "user", "") or "")
        elif link is not None and connection != "system":
            ident["account"] = str(getattr(link, "public_key", "") or "")
            ident["account_name"] = str(getattr(link, "name", "") or "")
        self._identities[id(nc)] = ident
        server_info = getattr(nc, "_server_info", None) or {}
        return {
            **ident,
            "url": _clean_url(getattr(nc, "connected_url", None)),
            "server": str(server_info.get("server_name", "")),
        }

    async def _learn_identity(self, nc: Client, connection: str) -> None:
        """Fill the audit identity from USER.INFO when no link carried it."""
        ident = self._identity(nc, connection)
        if ident.get("user_key"):
            return
        try:
            reply = await request_json(nc, "$SYS.REQ.USER.INFO", None, timeout=2.0)
        except NatsopsError:
            return
        raw = reply.get("data")
        data: dict[str, Any] = raw if isinstance(raw, dict) else {}
        cached = self._identities.setdefault(id(nc), dict(ident))
        cached["user_key"] = str(data.get("user") or "")
        cached["account"] = str(data.get("account") or cached.get("account", ""))
        cached["account_name"] = str(
            data.get("account_name") or cached.get("account_name", "")
        )

    def _client_for(self, plan: Plan) -> Client:
        if plan.connection == "system":
            return self._system()
        return self._account_link(plan.connection).nc

    # ------------------------------------------------------------------ auditing

    def _audit(
        self,
        *,
        action: str,
        result: str,
        target: str = "",
        connection: str = "",
        subject: str = "",
        body: Any = None,
        summary: str = "",
        error: str = "",
        duration: float = 0.0,
        nc: Client | None = None,
        stage: str = "execute",
    ) -> None:
        if self.audit is None:
            return
        record: dict[str, Any] = {
            "action": action,
            "result": result,
            "stage": stage,
            "target": target,
            "subject": subject,
            "body": body,
            "summary": summary,
            "error": error,
            "duration_ms": round(duration * 1000, 1),
        }
        record.update(self._identity(nc, connection))
        self.audit.append(record)

    def _audit_plan(self, plan: Plan, **kwargs: Any) -> None:
        nc: Client | None
        try:
            nc = self._client_for(plan)
        except NatsopsError:
            nc = None
        self._audit(
            action=plan.action,
            target=plan.target,
            connection=plan.connection,
            subject=plan.subject,
            body=plan.body,
            nc=nc,
            **kwargs,
        )

    async def _planned(self, action: str, target: str, build: Awaitable[Plan]) -> Plan:
        """Run a plan builder; a failure is audited as an attempt that failed."""
        t0 = time.monotonic()
        try:
            return await build
        except NatsopsError as exc:
            error = _for_action(exc, action)
            self._audit(
                action=action,
                result="error",
                target=target,
                error=str(error),
                duration=time.monotonic() - t0,
                stage="plan",
            )
            if error is exc:
                raise
            raise error from None

    def record_cancelled(self, plan: Plan, reason: str = "declined") -> None:
        """Audit a plan the operator did not confirm."""
        self._audit_plan(plan, result="cancelled", error=reason, stage="confirm")

    def record_refused(self, plan: Plan, reason: str) -> None:
        """Audit a plan refused before execution (for example, no ``--yes``)."""
        self._audit_plan(plan, result="refused", error=reason, stage="confirm")

    # ------------------------------------------------------------------ execute

    def check_writable(self, plan: Plan) -> None:
        """Raise ReadOnlyError (and audit the refusal) in read-only mode."""
        if not self.read_only:
            return
        error = ReadOnlyError(
            f"{plan.action} refused: {self.read_only_reason}",
            "natsops changes nothing in this mode; run without --read-only "
            "(and unset NATSOPS_READ_ONLY) to act",
        )
        self._audit_plan(plan, result="refused", error=str(error))
        raise error

    async def execute(self, plan: Plan, *, wait: float | None = None) -> Outcome:
        """Perform a confirmed plan and check its effect (bounded by ``wait``)."""
        self.check_writable(plan)
        if self.audit is not None:
            self.audit.check_writable()
        t0 = time.monotonic()
        nc: Client | None = None
        try:
            nc = self._client_for(plan)
            await self._learn_identity(nc, plan.connection)
            if plan.action in ("server-reload", "client-kick"):
                await self._refresh_server_subject(plan)
            reply = await self._send(nc, plan)
            outcome = await self._verify(plan, reply, wait or self.wait)
        except NatsopsError as exc:
            error = _for_action(exc, plan.action)
            self._audit_plan(
                plan, result="error", error=str(error), duration=time.monotonic() - t0
            )
            if error is exc:
                raise
            raise error from None
        outcome.duration = time.monotonic() - t0
        self._audit_plan(
            plan,
            result=outcome.result,
            summary=outcome.summary,
            duration=outcome.duration,
        )
        return outcome

    async def _send(self, nc: Client, plan: Plan) -> dict[str, Any]:
        ctx = ErrorContext(
            stream=plan.stream,
            consumer=plan.consumer,
            account=plan.account_name or plan.account,
            server=plan.server,
            peer=plan.check.get("peer"),
            action=plan.action,
        )
        reply = await self._request(nc, plan.subject, plan.body, ctx)
        if reply.get("success") is False:
            raise OperationRefused(
                f"the server did not perform {plan.action}",
                "see the server log for the reason",
            )
        return reply

    async def _refresh_server_subject(self, plan: Plan) -> None:
        """Per-server subjects carry the id, which changes on restart: look again."""
        assert plan.server is not None
        server_id = await self._server_id(plan.server)
        kind = plan.subject.rsplit(".", 1)[-1]
        plan.subject = f"$SYS.REQ.SERVER.{server_id}.{kind}"

    async def _poll(
        self,
        probe: Callable[[], Awaitable[Any]],
        done: Callable[[Any], bool],
        wait: float,
        interval: float = 0.1,
    ) -> tuple[Any, bool]:
        """Call ``probe`` until ``done(value)`` or ``wait`` seconds passed."""
        deadline = time.monotonic() + wait
        last: Any = None
        while True:
            try:
                last = await probe()
                if done(last):
                    return last, True
            except (RequestTimeout, NotFound, ApiError) as exc:
                log.debug("poll: %s", exc)
            if time.monotonic() >= deadline:
                return last, False
            await asyncio.sleep(interval)

    async def _verify(self, plan: Plan, reply: dict[str, Any], wait: float) -> Outcome:
        verifier = _VERIFIERS.get(plan.action)
        if verifier is None:
            return Outcome(plan, True, True, f"{plan.action} done", reply)
        return await verifier(self, plan, reply, wait)

    # ------------------------------------------------------------------ stepdowns

    async def plan_meta_stepdown(
        self,
        preferred: str | None = None,
        cluster: str | None = None,
        tags: list[str] | None = None,
    ) -> Plan:
        """Meta leader stepdown, optionally to a preferred server, cluster or tags."""
        return await self._planned(
            "meta-stepdown",
            "JetStream meta leader",
            self._plan_meta_stepdown(preferred, cluster, tags or []),
        )

    async def _plan_meta_stepdown(
        self, preferred: str | None, cluster: str | None, tags: list[str]
    ) -> Plan:
        meta = await self._meta()
        servers = await self._discover()
        leader = str(meta["leader"])
        peers = [p for p in meta.get("replicas") or [] if isinstance(p, dict)]
        names = {leader} | {str(p.get("name")) for p in peers}
        warnings: list[str] = []

        def fits(name: str) -> bool:
            info = servers.get(name)
            if preferred and name != preferred:
                return False
            if cluster and (info is None or info.cluster != cluster):
                return False
            return not (tags and (info is None or not set(tags) <= set(info.tags)))

        if preferred:
            if preferred not in names:
                raise NotFound(
                    f"server {preferred!r} is not a JetStream meta peer",
                    "known peers: " + ", ".join(sorted(names)),
                )
            if preferred == leader:
                raise OperationRefused(
                    f"{preferred} is already the meta leader",
                    "choose another --preferred server, or none",
                )
        candidates = sorted(
            str(p["name"])
            for p in peers
            if p.get("name") != leader and not p.get("offline") and fits(str(p["name"]))
        )
        offline = sorted(str(p["name"]) for p in peers if p.get("offline"))
        if offline:
            warnings.append("offline meta peers: " + ", ".join(offline))
        if not candidates:
            wanted = preferred or cluster or ",".join(tags) or "any server"
            raise OperationRefused(
                f"no online meta peer matches {wanted}: nothing to step down to",
                "check the servers with natsops jetstream",
            )
        placement: dict[str, Any] = {}
        if preferred:
            placement["preferred"] = preferred
        if cluster:
            placement["cluster"] = cluster
        if tags:
            placement["tags"] = list(tags)
        body = {"placement": placement} if placement else None
        quorum = meta.get("quorum_needed")
        return Plan(
            action="meta-stepdown",
            target=f"JetStream meta leader {leader}",
            connection="system",
            subject=f"{_API}.META.LEADER.STEPDOWN",
            body=body,
            effect=f"{leader} gives up meta leadership; "
            + (f"{preferred} should take over" if preferred else "a new election")
            + f" (meta group of {meta.get('cluster_size', len(names))}, "
            f"quorum {quorum})",
            warnings=warnings,
            leader=leader,
            candidates=candidates,
            server=leader,
            check={
                "previous": leader,
                "preferred": preferred,
                "cluster": cluster,
                "tags": tags,
            },
        )

    async def plan_stream_stepdown(
        self, account: str, stream: str, preferred: str | None = None
    ) -> Plan:
        """Stream leader stepdown through the owning account's connection."""
        return await self._planned(
            "stream-stepdown",
            f"stream {stream} (account {account})",
            self._plan_group_stepdown(account, stream, None, preferred),
        )

    async def plan_consumer_stepdown(
        self, account: str, stream: str, consumer: str, preferred: str | None = None
    ) -> Plan:
        """Consumer leader stepdown through the owning account's connection."""
        return await self._planned(
            "consumer-stepdown",
            f"consumer {stream} > {consumer} (account {account})",
            self._plan_group_stepdown(account, stream, consumer, preferred),
        )

    async def _plan_group_stepdown(
        self,
        account: str,
        stream: str,
        consumer: str | None,
        preferred: str | None,
    ) -> Plan:
        acc = await self.resolve_account(account, need_link=True)
        assert acc.link is not None
        if consumer is None:
            group = await self._stream(acc, stream)
            what = f"stream {stream}"
            subject = f"{_API}.STREAM.LEADER.STEPDOWN.{stream}"
            action = "stream-stepdown"
        else:
            _, group = await self._consumer(acc, stream, consumer)
            what = f"consumer {consumer} of stream {stream}"
            subject = f"{_API}.CONSUMER.LEADER.STEPDOWN.{stream}.{consumer}"
            action = "consumer-stepdown"
        if not group.cluster and group.leader is None:
            raise OperationRefused(
                f"{what} is not clustered: nothing to step down to",
                "stepdowns need a JetStream cluster",
            )
        if group.size <= 1:
            raise OperationRefused(
                f"{what} has one replica: nothing to step down to",
                "a leader stepdown needs replicas (num_replicas > 1)",
            )
        leader = group.leader
        warnings: list[str] = []
        if leader is None:
            warnings.append(f"{what} has no leader right now")
        candidates = sorted(
            p.name for p in group.peers if not p.leader and not p.offline
        )
        lagging = sorted(p.name for p in group.peers if not p.leader and not p.current)
        if lagging:
            warnings.append("replicas not current: " + ", ".join(lagging))
        if preferred:
            peer = group.peer(preferred)
            if peer is None:
                raise OperationRefused(
                    f"{preferred} holds no replica of {what}",
                    "replicas: " + ", ".join(group.names),
                )
            if peer.leader:
                raise OperationRefused(
                    f"{preferred} is already the leader of {what}",
                    "choose another --preferred server, or none",
                )
            if peer.offline:
                raise OperationRefused(
                    f"{preferred} is offline", "choose an online replica"
                )
            candidates = [preferred]
        if not candidates:
            raise OperationRefused(
                f"no online replica of {what} can take over",
                "wait for the replicas to come back (natsops streams)",
            )
        body = {"placement": {"preferred": preferred}} if preferred else None
        return Plan(
            action=action,
            target=f"{what} (account {acc.label})",
            connection=acc.link.name,
            subject=subject,
            body=body,
            effect=f"{leader or 'the leader'} gives up leadership of {what}; "
            + (f"{preferred} should take over" if preferred else "a new election")
            + f" among R{group.size}",
            warnings=warnings,
            leader=leader,
            candidates=candidates,
            account=acc.public_key,
            account_name=acc.name,
            stream=stream,
            consumer=consumer,
            check={"previous": leader, "preferred": preferred},
        )

    # ------------------------------------------------------------------ moves

    async def plan_move_off_server(
        self, account: str, stream: str, server: str
    ) -> Plan:
        """Move a stream's replica off one server (the server picks the target)."""
        return await self._planned(
            "stream-move-server",
            f"stream {stream} (account {account}) off {server}",
            self._plan_move_off_server(account, stream, server),
        )

    async def _plan_move_off_server(
        self, account: str, stream: str, server: str
    ) -> Plan:
        acc = await self.resolve_account(account, need_link=False)
        group = await self._stream(acc, stream)
        if group.peer(server) is None:
            raise OperationRefused(
                f"{server} holds no replica of stream {stream}",
                "replicas: " + ", ".join(group.names),
            )
        if group.moving:
            raise OperationRefused(
                f"stream {stream} is already moving",
                "follow it or cancel it with natsops move --cancel",
            )
        servers = await self._discover()
        cluster = servers[server].cluster if server in servers else group.cluster
        spares = sorted(
            n
            for n, info in servers.items()
            if info.cluster == cluster and info.jetstream and n not in group.names
        )
        warnings: list[str] = []
        if not spares:
            warnings.append(
                f"no spare JetStream server in cluster {cluster}: the server will "
                "refuse (no suitable peers)"
            )
        connection, nc_label = self._system_or_account(acc)
        return Plan(
            action="stream-move-server",
            target=f"stream {stream} (account {acc.label}) off {server}",
            connection=connection,
            subject=f"{_API}.ACCOUNT.STREAM.MOVE.{acc.public_key}.{stream}",
            body={"server": server},
            effect=f"the replica on {server} moves to another server of cluster "
            f"{cluster} ({', '.join(spares) or 'none free'}); the stream stays "
            "available while its data is copied",
            warnings=warnings,
            leader=group.leader,
            candidates=spares,
            account=acc.public_key,
            account_name=acc.name,
            stream=stream,
            server=server,
            check={"off_server": server, "via": nc_label},
        )

    def _system_or_account(self, acc: AccountRef) -> tuple[str, str]:
        """MOVE and CANCEL_MOVE work from the system or the owning account."""
        try:
            self._system()
            return "system", "system"
        except NotSystemAccount:
            if acc.link is None:
                raise
            return acc.link.name, acc.link.name

    async def plan_move_placement(
        self,
        account: str,
        stream: str,
        cluster: str | None = None,
        tags: list[str] | None = None,
    ) -> Plan:
        """Move a stream to another cluster or tag set (a stream config update)."""
        want = cluster or ",".join(tags or [])
        return await self._planned(
            "stream-move-placement",
            f"stream {stream} (account {account}) to {want}",
            self._plan_move_placement(account, stream, cluster, tags or []),
        )

    async def _plan_move_placement(
        self, account: str, stream: str, cluster: str | None, tags: list[str]
    ) -> Plan:
        if not cluster and not tags:
            raise OperationRefused(
                "a move needs a target", "give --cluster C, --tags T or --from-server S"
            )
        acc = await self.resolve_account(account, need_link=True)
        assert acc.link is not None
        group = await self._stream(acc, stream)
        if group.moving:
            raise OperationRefused(
                f"stream {stream} is already moving",
                "follow it or cancel it with natsops move --cancel",
            )
        config = dict(group.config)
        old = dict(config.get("placement") or {})
        placement: dict[str, Any] = {}
        if cluster:
            placement["cluster"] = cluster
        if tags:
            placement["tags"] = list(tags)
        if cluster and group.cluster == cluster and not tags:
            raise OperationRefused(
                f"stream {stream} is already in cluster {cluster}",
                "to leave one server, use --from-server",
            )
        servers = await self._discover(soft=True)
        candidates = sorted(
            n
            for n, info in servers.items()
            if info.jetstream
            and (not cluster or info.cluster == cluster)
            and set(tags) <= set(info.tags)
        )
        warnings: list[str] = []
        if servers and len(candidates) < group.size:
            warnings.append(
                f"only {len(candidates)} server(s) match for R{group.size}: the "
                "server will refuse (no suitable peers)"
            )
        config["placement"] = placement
        return Plan(
            action="stream-move-placement",
            target=f"stream {stream} (account {acc.label}) to "
            + (f"cluster {cluster}" if cluster else f"tags {','.join(tags)}"),
            connection=acc.link.name,
            subject=f"{_API}.STREAM.UPDATE.{stream}",
            body=config,
            effect=f"stream {stream} (R{group.size}, now in {group.cluster or '?'} on "
            f"{', '.join(group.names)}) is re-placed by "
            f"{placement} (was {old or 'no placement'}); data is copied, then the "
            "old replicas are removed",
            warnings=warnings,
            leader=group.leader,
            candidates=candidates,
            account=acc.public_key,
            account_name=acc.name,
            stream=stream,
            check={"cluster": cluster, "tags": tags},
        )

    async def plan_cancel_move(self, account: str, stream: str) -> Plan:
        """Cancel an in-flight move (rolls back to the original peers)."""
        return await self._planned(
            "stream-cancel-move",
            f"stream {stream} (account {account})",
            self._plan_cancel_move(account, stream),
        )

    async def _plan_cancel_move(self, account: str, stream: str) -> Plan:
        acc = await self.resolve_account(account, need_link=False)
        group = await self._stream(acc, stream)
        if not group.moving:
            raise OperationRefused(
                f"no move is in flight for stream {stream}", "nothing to cancel"
            )
        desired = group.desired or {}
        origin = desired.get("origin") or {}
        connection, _ = self._system_or_account(acc)
        return Plan(
            action="stream-cancel-move",
            target=f"stream {stream} (account {acc.label})",
            connection=connection,
            subject=f"{_API}.ACCOUNT.STREAM.CANCEL_MOVE.{acc.public_key}.{stream}",
            body=None,
            effect=f"the move of {stream} toward "
            f"{', '.join(str(r.get('name')) for r in desired.get('replicas') or [])} "
            f"stops and rolls back to {origin.get('placement') or 'its peers'} "
            f"(R{origin.get('replicas', group.size)})",
            leader=group.leader,
            account=acc.public_key,
            account_name=acc.name,
            stream=stream,
            check={"origin": origin, "peers": group.names},
        )

    def tracker(self, plan: Plan) -> MoveTracker:
        """A tracker that follows the move a plan started (or cancelled)."""
        assert plan.account and plan.stream
        return MoveTracker(
            self,
            plan.account_name or plan.account,
            plan.stream,
            off_server=plan.check.get("off_server"),
            cluster=plan.check.get("cluster"),
            tags=plan.check.get("tags") or None,
        )

    # ------------------------------------------------------------------ removals

    async def plan_peer_remove(
        self, account: str, stream: str, peer: str, *, evacuate: bool = False
    ) -> Plan:
        """Remove (or evacuate: migrate, then remove) one peer of a stream."""
        action = "stream-peer-evacuate" if evacuate else "stream-peer-remove"
        return await self._planned(
            action,
            f"peer {peer} of stream {stream} (account {account})",
            self._plan_peer_remove(account, stream, peer, evacuate),
        )

    async def _plan_peer_remove(
        self, account: str, stream: str, peer: str, evacuate: bool
    ) -> Plan:
        acc = await self.resolve_account(account, need_link=True)
        assert acc.link is not None
        group = await self._stream(acc, stream)
        member = group.peer(peer)
        if member is None:
            raise OperationRefused(
                f"{peer} holds no replica of stream {stream}",
                "replicas: " + ", ".join(group.names),
            )
        servers = await self._discover(soft=True)
        spares = sorted(
            n
            for n, info in servers.items()
            if info.cluster == (group.cluster or info.cluster)
            and info.jetstream
            and n not in group.names
        )
        warnings: list[str] = []
        risks: list[Risk] = []
        destructive = False
        if group.size <= 1 and not evacuate:
            destructive = True
            risks.append(
                Risk(
                    "stream",
                    acc.label,
                    stream,
                    None,
                    1,
                    f"its only replica is on {member.name}: removing it re-creates "
                    "the stream empty elsewhere (use --evacuate to move it first)",
                )
            )
        else:
            problem = group.removal_problem(member.name)
            if problem and not evacuate:
                risks.append(
                    Risk("stream", acc.label, stream, None, group.size, problem)
                )
        if servers and not spares:
            warnings.append(
                f"no spare server in cluster {group.cluster or '?'} to replace "
                f"{member.name}: the server will refuse (peer remap failed)"
            )
        if member.leader:
            warnings.append(f"{member.name} is the leader: a new one will be elected")
        verb = "EVACUATE" if evacuate else "REMOVE"
        return Plan(
            action="stream-peer-evacuate" if evacuate else "stream-peer-remove",
            target=f"peer {member.name} of stream {stream} (account {acc.label})",
            connection=acc.link.name,
            subject=f"{_API}.STREAM.PEER.{verb}.{stream}",
            body={"peer": member.name},
            effect=(
                f"a new replica is built on a spare server, then {member.name} is "
                "removed"
                if evacuate
                else f"{member.name} leaves the stream's group at once; a spare "
                "server replaces it and catches up"
            )
            + f" (spares: {', '.join(spares) or 'none'})",
            warnings=warnings,
            destructive=destructive,
            leader=group.leader,
            candidates=spares,
            at_risk=risks,
            account=acc.public_key,
            account_name=acc.name,
            stream=stream,
            server=member.name,
            check={"peer": member.name},
        )

    async def plan_server_remove(self, server: str, *, evacuate: bool = False) -> Plan:
        """Remove a server from the JetStream meta group (or evacuate it first)."""
        action = "server-evacuate" if evacuate else "server-remove"
        return await self._planned(
            action, f"server {server}", self._plan_server_remove(server, evacuate)
        )

    async def _plan_server_remove(self, server: str, evacuate: bool) -> Plan:
        meta = await self._meta()
        leader = str(meta["leader"])
        peers = {leader: {"name": leader}}
        for p in meta.get("replicas") or []:
            if isinstance(p, dict) and p.get("name"):
                peers[str(p["name"])] = p
        if server not in peers:
            raise NotFound(
                f"server {server!r} is not a JetStream meta peer",
                "known peers: " + ", ".join(sorted(peers)),
            )
        online = await self._is_online(server)
        warnings: list[str] = []
        if online and not evacuate:
            warnings.append(
                f"server {server} is ONLINE: removing an online peer is dangerous "
                "(its assets lose that replica at once); stop it first or use "
                "--evacuate"
            )
        if server == leader:
            warnings.append(f"{server} is the meta leader: a new one will be elected")
        body = {"accounts": True, "streams": True, "consumer": True, "config": True}
        result = await self._every_account_jsz(body)
        streams, consumers = groups_from_jsz(result.data())
        risks: list[Risk] = []
        for group, problem in risks_for_removal([*streams, *consumers], server):
            risks.append(
                Risk(
                    "consumer" if group.consumer else "stream",
                    group.account_name or group.account,
                    group.stream,
                    group.consumer,
                    group.size,
                    problem,
                )
            )
        hosted = [g for g in streams if g.peer(server) is not None]
        if result.missing:
            warnings.append(
                "JSZ incomplete, assets on silent servers not checked: "
                + ", ".join(result.missing)
            )
        short = sorted(
            name
            for name, data in result.data().items()
            if isinstance(data.get("total"), int)
            and len(data.get("account_details") or ()) < data["total"]
        )
        if short:
            warnings.append(
                "JSZ pages missing, some accounts' assets not checked on: "
                + ", ".join(short)
            )
        subject = f"{_API}.SERVER.EVACUATE" if evacuate else f"{_API}.SERVER.REMOVE"
        effect = (
            f"every stream and consumer replica on {server} ({len(hosted)} streams) "
            "is migrated to other servers, then the server is removed"
            if evacuate
            else f"{server} is removed from the meta group; its {len(hosted)} "
            "stream replicas are re-placed on other servers where possible"
        )
        return Plan(
            action="server-evacuate" if evacuate else "server-remove",
            target=f"server {server} ({'online' if online else 'offline'})",
            connection="system",
            subject=subject,
            # TODO: add "peer_id" when two clusters hold servers of the same name.
            body={"peer": server},
            effect=effect,
            warnings=warnings,
            destructive=not evacuate,
            leader=leader,
            at_risk=risks,
            streams=sorted(f"{g.account_name or g.account}/{g.stream}" for g in hosted),
            server=server,
            check={"online": online},
        )

    async def plan_account_purge(self, account: str) -> Plan:
        """Delete every stream of an account (the name must be typed to confirm)."""
        return await self._planned(
            "account-purge",
            f"account {account}",
            self._plan_account_purge(account),
        )

    async def _plan_account_purge(self, account: str) -> Plan:
        acc = await self.resolve_account(account, need_link=False)
        await self._discover()
        body = {
            "accounts": True,
            "streams": True,
            "consumer": True,
            "account": acc.public_key,
        }
        result = await self._ping("JSZ", body)
        streams, consumers = groups_from_jsz(result.data(), acc.public_key)
        if not acc.name:
            acc.name = next((s.account_name for s in streams if s.account_name), "")
        warnings = []
        if result.missing:
            warnings.append(
                "JSZ incomplete, streams on silent servers not listed: "
                + ", ".join(result.missing)
            )
        if not streams:
            warnings.append(f"account {acc.label} has no streams that natsops can see")
        names = sorted(s.stream for s in streams)
        risks = [
            Risk("stream", acc.label, s.stream, None, s.size, "deleted with its data")
            for s in streams
        ]
        return Plan(
            action="account-purge",
            target=f"account {acc.label} ({acc.public_key})",
            connection="system",
            subject=f"{_API}.ACCOUNT.PURGE.{acc.public_key}",
            body=None,
            effect=f"deletes all {len(names)} streams and {len(consumers)} consumers "
            f"of account {acc.label} with their data, on every server; this cannot "
            "be undone",
            warnings=warnings,
            destructive=True,
            confirm=acc.name or acc.public_key,
            at_risk=risks,
            streams=names,
            account=acc.public_key,
            account_name=acc.name,
            check={"streams": names},
        )

    # ------------------------------------------------------------------ consumers

    async def plan_consumer_pause(
        self, account: str, stream: str, consumer: str, until: dt.datetime
    ) -> Plan:
        """Pause a consumer until ``until`` (a timezone-aware time)."""
        return await self._planned(
            "consumer-pause",
            f"consumer {stream} > {consumer} (account {account})",
            self._plan_consumer_pause(account, stream, consumer, until),
        )

    async def _plan_consumer_pause(
        self, account: str, stream: str, consumer: str, until: dt.datetime | None
    ) -> Plan:
        acc = await self.resolve_account(account, need_link=True)
        assert acc.link is not None
        _, group = await self._consumer(acc, stream, consumer)
        paused = group.raw.get("paused") is True
        target = f"consumer {consumer} of stream {stream} (account {acc.label})"
        subject = f"{_API}.CONSUMER.PAUSE.{stream}.{consumer}"
        warnings: list[str] = []
        if until is None:
            if not paused:
                warnings.append("the consumer is not paused: resuming changes nothing")
            return Plan(
                action="consumer-resume",
                target=target,
                connection=acc.link.name,
                subject=subject,
                body=None,
                effect="the consumer delivers messages again at once",
                warnings=warnings,
                leader=group.leader,
                account=acc.public_key,
                account_name=acc.name,
                stream=stream,
                consumer=consumer,
            )
        if until.tzinfo is None:
            until = until.replace(tzinfo=dt.UTC)
        if until <= dt.datetime.now(dt.UTC):
            raise OperationRefused(
                f"pause time {_rfc3339(until)} is in the past",
                "give a future RFC3339 time or a duration such as 10m",
            )
        if paused:
            warnings.append(
                "the consumer is already paused until "
                f"{group.config.get('pause_until')}: the new time replaces it"
            )
        stamp = _rfc3339(until)
        return Plan(
            action="consumer-pause",
            target=target,
            connection=acc.link.name,
            subject=subject,
            body={"pause_until": stamp},
            effect=f"the consumer stops delivering until {stamp}; pending messages "
            "wait in the stream",
            warnings=warnings,
            leader=group.leader,
            account=acc.public_key,
            account_name=acc.name,
            stream=stream,
            consumer=consumer,
            check={"until": stamp},
        )

    async def plan_consumer_resume(
        self, account: str, stream: str, consumer: str
    ) -> Plan:
        """Resume a paused consumer (an empty PAUSE request)."""
        return await self._planned(
            "consumer-resume",
            f"consumer {stream} > {consumer} (account {account})",
            self._plan_consumer_pause(account, stream, consumer, None),
        )

    async def plan_consumer_unpin(
        self, account: str, stream: str, consumer: str, group: str
    ) -> Plan:
        """Unpin the pinned client of a consumer's priority group."""
        return await self._planned(
            "consumer-unpin",
            f"consumer {stream} > {consumer} group {group} (account {account})",
            self._plan_consumer_unpin(account, stream, consumer, group),
        )

    async def _plan_consumer_unpin(
        self, account: str, stream: str, consumer: str, group_name: str
    ) -> Plan:
        acc = await self.resolve_account(account, need_link=True)
        assert acc.link is not None
        _, view = await self._consumer(acc, stream, consumer)
        policy = view.config.get("priority_policy")
        groups = [str(g) for g in view.config.get("priority_groups") or []]
        if policy != "pinned_client":
            raise OperationRefused(
                f"consumer {consumer} does not pin clients "
                f"(priority policy {policy or 'none'})",
                "unpin applies to consumers with priority_policy pinned_client",
            )
        if group_name not in groups:
            raise OperationRefused(
                f"consumer {consumer} has no priority group {group_name!r}",
                "its groups: " + (", ".join(groups) or "none"),
            )
        pinned = _pinned(view.raw, group_name)
        warnings = [] if pinned else [f"no client is pinned in group {group_name}"]
        return Plan(
            action="consumer-unpin",
            target=f"group {group_name} of consumer {consumer} of stream {stream} "
            f"(account {acc.label})",
            connection=acc.link.name,
            subject=f"{_API}.CONSUMER.UNPIN.{stream}.{consumer}",
            body={"group": group_name},
            effect=f"the pinned client {pinned or '(none)'} loses its pin; the next "
            "pull request of the group gets a new pin",
            warnings=warnings,
            leader=view.leader,
            account=acc.public_key,
            account_name=acc.name,
            stream=stream,
            consumer=consumer,
            check={"group": group_name, "pinned": pinned},
        )

    # ------------------------------------------------------------------ servers

    async def plan_server_reload(self, server: str) -> Plan:
        """Reload one server's configuration file."""
        return await self._planned(
            "server-reload", f"server {server}", self._plan_server_reload(server)
        )

    async def _plan_server_reload(self, server: str) -> Plan:
        server_id = await self._server_id(server)
        varz = await self._server_request(server, "VARZ")
        loaded = str(varz.get("config_load_time") or "")
        return Plan(
            action="server-reload",
            target=f"server {server}",
            connection="system",
            subject=f"$SYS.REQ.SERVER.{server_id}.RELOAD",
            body=None,
            effect=f"{server} re-reads its configuration file (last loaded "
            f"{loaded or 'unknown'}); settings that cannot change live are kept",
            server=server,
            check={"loaded": loaded},
        )

    async def plan_kick(self, server: str, cid: int) -> Plan:
        """Disconnect one client connection (by its id on that server)."""
        return await self._planned(
            "client-kick",
            f"client {cid} on {server}",
            self._plan_kick(server, cid),
        )

    async def _plan_kick(self, server: str, cid: int) -> Plan:
        server_id = await self._server_id(server)
        conn = await self._connection(server, cid)
        if conn is None:
            raise NotFound(
                f"no open client connection {cid} on {server}",
                "connection ids are per server: find it with natsops connections",
            )
        who = ", ".join(
            f"{k} {conn[k]}"
            for k in ("name", "account", "ip", "lang", "version")
            if conn.get(k)
        )
        return Plan(
            action="client-kick",
            target=f"client {cid} on {server} ({who or 'unnamed'})",
            connection="system",
            subject=f"$SYS.REQ.SERVER.{server_id}.KICK",
            body={"cid": cid},
            effect=f"{server} closes connection {cid} at once; the client may "
            "reconnect (with a new id) if it is set to",
            server=server,
            check={"cid": cid},
        )

    async def _connection(self, server: str, cid: int) -> dict[str, Any] | None:
        data = await self._server_request(server, "CONNZ", {"cid": cid, "auth": True})
        for conn in data.get("connections") or []:
            if conn.get("cid") == cid:
                return dict(conn)
        return None


def _for_action(exc: NatsopsError, action: str) -> NatsopsError:
    """A denial names the operation that needed the subject; others stay as is."""
    return exc.for_action(action) if isinstance(exc, OperationDenied) else exc


def _pinned(info: Mapping[str, Any], group: str) -> str:
    for entry in info.get("priority_groups") or []:
        if isinstance(entry, Mapping) and entry.get("group") == group:
            return str(entry.get("pinned_client_id") or "")
    return ""


# ---------------------------------------------------------------------- verifiers


async def _verify_meta(op: Operator, plan: Plan, reply: Any, wait: float) -> Outcome:
    previous = plan.check.get("previous")

    async def probe() -> str | None:
        meta = await op._meta(timeout=1.0)
        return str(meta.get("leader"))

    leader, seen = await op._poll(probe, lambda x: bool(x) and x != previous, wait)
    return _leader_outcome(op, plan, reply, leader, seen, "meta leader")


async def _verify_group_stepdown(
    op: Operator, plan: Plan, reply: Any, wait: float
) -> Outcome:
    previous = plan.check.get("previous")
    acc = await op.resolve_account(plan.connection, need_link=True)
    assert acc.link is not None and plan.stream
    nc = acc.link.nc
    ctx = ErrorContext(stream=plan.stream, consumer=plan.consumer)
    if plan.consumer:
        subject = f"{_API}.CONSUMER.INFO.{plan.stream}.{plan.consumer}"
    else:
        subject = f"{_API}.STREAM.INFO.{plan.stream}"

    async def probe() -> str | None:
        info = await op._request(nc, subject, None, ctx, timeout=1.0)
        leader = (info.get("cluster") or {}).get("leader")
        return str(leader) if leader else None

    leader, seen = await op._poll(probe, lambda x: bool(x) and x != previous, wait)
    return _leader_outcome(op, plan, reply, leader, seen, "leader")


def _leader_outcome(
    op: Operator, plan: Plan, reply: Any, leader: str | None, seen: bool, what: str
) -> Outcome:
    previous = plan.check.get("previous")
    preferred = plan.check.get("preferred")
    details = {"previous": previous, "leader": leader}
    if not seen:
        return Outcome(
            plan,
            True,
            False,
            f"stepdown accepted, but no new {what} was seen within the wait "
            f"(still {leader or 'none'})",
            reply,
            details,
        )
    warnings: list[str] = []
    verified = True
    if preferred and leader != preferred:
        verified = False
        warnings.append(f"{leader} was elected instead of the preferred {preferred}")
    summary = f"new {what}: {leader} (was {previous})"
    return Outcome(plan, True, verified, summary, reply, details, warnings)


async def _verify_move(op: Operator, plan: Plan, reply: Any, wait: float) -> Outcome:
    cluster = reply.get("cluster") if isinstance(reply.get("cluster"), dict) else {}
    desired = cluster.get("desired") or {}
    targets = [str(r.get("name")) for r in desired.get("replicas") or []]
    details = {"target_peers": targets, "cluster": desired.get("name")}
    summary = (
        f"move started toward {', '.join(targets)}" if targets else "move accepted"
    )
    return Outcome(plan, True, True, summary, reply, details)


async def _verify_cancel(op: Operator, plan: Plan, reply: Any, wait: float) -> Outcome:
    tracker = op.tracker(plan)
    origin = plan.check.get("origin") or {}
    tracker.cluster = (origin.get("placement") or {}).get("cluster")
    snap = await tracker.follow(timeout=wait)
    details = {"peers": snap.peer_names, "cluster": snap.cluster, "done": snap.done}
    if snap.done:
        summary = f"move cancelled; stream back on {', '.join(snap.peer_names)}"
        return Outcome(plan, True, True, summary, reply, details)
    return Outcome(
        plan,
        True,
        False,
        f"cancel accepted; rollback still in flight ({snap.describe()})",
        reply,
        details,
    )


async def _verify_peer_remove(
    op: Operator, plan: Plan, reply: Any, wait: float
) -> Outcome:
    peer = str(plan.check.get("peer"))
    acc = await op.resolve_account(plan.connection, need_link=True)
    assert plan.stream

    async def probe() -> GroupView:
        return await op._stream(acc, plan.stream or "")

    group, seen = await op._poll(
        probe, lambda g: g.peer(peer) is None and not g.moving, wait, 0.2
    )
    names = group.names if group is not None else []
    details = {"peers": names, "removed": peer}
    if seen:
        summary = f"{peer} removed; replicas now {', '.join(names) or 'none'}"
        return Outcome(plan, True, True, summary, reply, details)
    return Outcome(
        plan,
        True,
        False,
        f"request accepted, but {peer} is still listed or the group is still "
        f"changing (replicas: {', '.join(names)})",
        reply,
        details,
    )


async def _verify_server_remove(
    op: Operator, plan: Plan, reply: Any, wait: float
) -> Outcome:
    server = plan.server

    async def probe() -> dict[str, Any]:
        return await op._meta(timeout=1.0)

    def gone(meta: dict[str, Any]) -> bool:
        names = {str(p.get("name")) for p in meta.get("replicas") or []}
        return server not in names and meta.get("leader") != server

    if plan.action == "server-evacuate":
        return await _verify_evacuate(op, plan, reply, wait)
    meta, seen = await op._poll(probe, gone, wait, 0.2)
    size = (meta or {}).get("cluster_size")
    details = {"cluster_size": size}
    if seen:
        return Outcome(
            plan,
            True,
            True,
            f"{server} removed from the meta group (now {size} peers)",
            reply,
            details,
        )
    return Outcome(
        plan, True, False, f"request accepted; {server} still listed", reply, details
    )


async def _verify_evacuate(
    op: Operator, plan: Plan, reply: Any, wait: float
) -> Outcome:
    server = str(plan.server)
    body = {"accounts": True, "streams": True}

    async def probe() -> int:
        reply = await op._ping(
            "JSZ", body, flt=PingFilter(server_name=server, exact=True), timeout=1.0
        )
        data = reply.data().get(server)
        if data is None:
            return 0
        streams, _ = groups_from_jsz({server: data})
        return len(streams)

    left, seen = await op._poll(probe, lambda n: n == 0, wait, 0.25)
    details = {"streams_left": left}
    if seen:
        return Outcome(
            plan, True, True, f"{server} evacuated: it hosts no streams", reply, details
        )
    return Outcome(
        plan,
        True,
        False,
        f"evacuation of {server} in flight: {left} streams still there",
        reply,
        details,
    )


async def _verify_purge(op: Operator, plan: Plan, reply: Any, wait: float) -> Outcome:
    assert plan.account
    body = {"accounts": True, "streams": True, "account": plan.account}

    async def probe() -> list[str]:
        result = await op._ping("JSZ", body, timeout=1.0)
        streams, _ = groups_from_jsz(result.data(), plan.account)
        return sorted(s.stream for s in streams)

    left, seen = await op._poll(probe, lambda names: not names, wait, 0.25)
    deleted = plan.check.get("streams") or []
    details = {"deleted": deleted, "left": left or []}
    if seen:
        summary = f"account {plan.account_name or plan.account} purged: " + (
            f"{len(deleted)} streams deleted" if deleted else "no streams left"
        )
        return Outcome(plan, True, True, summary, reply, details)
    return Outcome(
        plan,
        True,
        False,
        f"purge initiated; streams still present: {', '.join(left or [])}",
        reply,
        details,
    )


async def _consumer_info(op: Operator, plan: Plan) -> dict[str, Any]:
    acc = await op.resolve_account(plan.connection, need_link=True)
    assert acc.link is not None
    ctx = ErrorContext(stream=plan.stream, consumer=plan.consumer)
    return await op._request(
        acc.link.nc,
        f"{_API}.CONSUMER.INFO.{plan.stream}.{plan.consumer}",
        None,
        ctx,
        timeout=1.0,
    )


async def _verify_pause(op: Operator, plan: Plan, reply: Any, wait: float) -> Outcome:
    want = plan.action == "consumer-pause"

    async def probe() -> dict[str, Any]:
        return await _consumer_info(op, plan)

    info, seen = await op._poll(
        probe, lambda i: (i.get("paused") is True) == want, wait
    )
    until = (info or {}).get("config", {}).get("pause_until")
    details = {"paused": (info or {}).get("paused") is True, "pause_until": until}
    if not seen:
        return Outcome(
            plan, True, False, "request accepted; consumer state unchanged", reply
        )
    summary = f"consumer paused until {until}" if want else "consumer resumed"
    return Outcome(plan, True, True, summary, reply, details)


async def _verify_unpin(op: Operator, plan: Plan, reply: Any, wait: float) -> Outcome:
    group = str(plan.check.get("group"))
    before = plan.check.get("pinned") or ""

    async def probe() -> str:
        return _pinned(await _consumer_info(op, plan), group)

    pinned, seen = await op._poll(probe, lambda p: not before or p != before, wait)
    details = {"group": group, "previous": before, "pinned": pinned}
    summary = f"group {group} unpinned" + (f" (was {before})" if before else "")
    if pinned:
        summary += f"; now pinned to {pinned}"
    return Outcome(plan, True, seen, summary, reply, details)


async def _verify_reload(op: Operator, plan: Plan, reply: Any, wait: float) -> Outcome:
    server = str(plan.server)
    before = str(plan.check.get("loaded") or "")

    async def probe() -> str:
        varz = await op._server_request(server, "VARZ", timeout=1.0)
        return str(varz.get("config_load_time") or "")

    loaded, seen = await op._poll(probe, lambda t: bool(t) and t != before, wait)
    details = {"config_load_time": loaded, "previous": before}
    if seen:
        return Outcome(
            plan,
            True,
            True,
            f"{server} reloaded its config at {loaded}",
            reply,
            details,
        )
    return Outcome(plan, True, False, f"{server} answered the reload", reply, details)


async def _verify_kick(op: Operator, plan: Plan, reply: Any, wait: float) -> Outcome:
    server = str(plan.server)
    cid = int(plan.check["cid"])

    async def probe() -> bool:
        return await op._connection(server, cid) is None

    _, seen = await op._poll(probe, bool, wait)
    summary = f"client {cid} disconnected from {server}"
    if not seen:
        summary = f"kick sent, but client {cid} is still listed on {server}"
    return Outcome(plan, True, seen, summary, reply, {"cid": cid})


_VERIFIERS: dict[str, Callable[[Operator, Plan, Any, float], Awaitable[Outcome]]] = {
    "meta-stepdown": _verify_meta,
    "stream-stepdown": _verify_group_stepdown,
    "consumer-stepdown": _verify_group_stepdown,
    "stream-move-server": _verify_move,
    "stream-move-placement": _verify_move,
    "stream-cancel-move": _verify_cancel,
    "stream-peer-remove": _verify_peer_remove,
    "stream-peer-evacuate": _verify_peer_remove,
    "server-remove": _verify_server_remove,
    "server-evacuate": _verify_server_remove,
    "account-purge": _verify_purge,
    "consumer-pause": _verify_pause,
    "consumer-resume": _verify_pause,
    "consumer-unpin": _verify_unpin,
    "server-reload": _verify_reload,
    "client-kick": _verify_kick,
}
