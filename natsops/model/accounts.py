"""Account models: ACCOUNTZ (the account list or one account's detail) and account
STATZ (connections, subscriptions and traffic per account on each server).

The account JWT that ACCOUNTZ returns is never kept: only whether there was one, and
the decoded expiry and limits.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from natsops.model.base import (
    as_bool,
    as_dict,
    as_dicts,
    as_int,
    as_str,
    as_str_list,
    reply_parser,
)
from natsops.model.server import MsgBytes

log = logging.getLogger(__name__)


@dataclass(slots=True)
class AccountImport:
    """A stream or service import of an account."""

    type: str = ""
    account: str = ""
    subject: str = ""
    local_subject: str = ""
    to: str = ""
    share: bool = False
    tracking: bool = False
    invalid: bool = False


@dataclass(slots=True)
class AccountExport:
    """A stream or service export of an account."""

    type: str = ""
    subject: str = ""
    token_req: bool = False
    response_type: str = ""
    approved_accounts: list[str] = field(default_factory=list)


@dataclass(slots=True)
class AccountDetail:
    """ACCOUNTZ detail of one account on one server.

    ``account`` is the account id (the public key in operator mode), ``name`` its
    name when known; ``limits`` are the JWT's limits (-1 unlimited).
    """

    account: str = ""
    name: str = ""
    issuer: str = ""
    update_time: str = ""
    expired: bool = False
    complete: bool = False
    jetstream_enabled: bool = False
    client_connections: int = 0
    leafnode_connections: int = 0
    subscriptions: int = 0
    has_jwt: bool = False
    expires: int = 0
    limits: dict[str, Any] = field(default_factory=dict)
    imports: list[AccountImport] = field(default_factory=list)
    exports: list[AccountExport] = field(default_factory=list)


@dataclass(slots=True)
class Accountz:
    """One server's ACCOUNTZ reply: the account ids it knows, or one account's
    ``detail`` when the request named an account."""

    server: str = ""
    server_id: str = ""
    now: str = ""
    system_account: str = ""
    accounts: list[str] = field(default_factory=list)
    detail: AccountDetail | None = None


@dataclass(slots=True)
class Traffic:
    """Messages and bytes of an account, with the part over routes, gateways, leafs."""

    msgs: int = 0
    bytes: int = 0
    routes: MsgBytes = field(default_factory=MsgBytes)
    gateways: MsgBytes = field(default_factory=MsgBytes)
    leafs: MsgBytes = field(default_factory=MsgBytes)


@dataclass(slots=True)
class AccountStat:
    """Account STATZ of one account on one server (``account`` is the id)."""

    server: str = ""
    account: str = ""
    name: str = ""
    conns: int = 0
    leafnodes: int = 0
    total_conns: int = 0
    num_subscriptions: int = 0
    slow_consumers: int = 0
    sent: Traffic = field(default_factory=Traffic)
    received: Traffic = field(default_factory=Traffic)


@dataclass(slots=True)
class AccountStatz:
    """One server's account STATZ reply."""

    server: str = ""
    server_id: str = ""
    now: str = ""
    accounts: list[AccountStat] = field(default_factory=list)


# -- parsers ----------------------------------------------------------------------


def _detail(value: object) -> AccountDetail | None:
    if not isinstance(value, dict):
        return None
    decoded = as_dict(value.get("decoded_jwt"))
    claims = as_dict(decoded.get("nats"))
    imports = [
        AccountImport(
            type=as_str(i.get("type")),
            account=as_str(i.get("account")),
            subject=as_str(i.get("subject")),
            local_subject=as_str(i.get("local_subject")),
            to=as_str(i.get("to")),
            share=as_bool(i.get("share")),
            tracking=as_bool(i.get("tracking")),
            invalid=as_bool(i.get("invalid")),
        )
        for i in as_dicts(value.get("imports"))
    ]
    exports = [
        AccountExport(
            type=as_str(e.get("type")),
            subject=as_str(e.get("subject")),
            token_req=as_bool(e.get("token_req")),
            response_type=as_str(e.get("response_type")),
            approved_accounts=as_str_list(e.get("approved_accounts")),
        )
        for e in as_dicts(value.get("exports"))
    ]
    account = as_str(value.get("account_name"))
    return AccountDetail(
        account=account,
        name=as_str(value.get("name_tag")) or as_str(decoded.get("name")) or account,
        issuer=as_str(value.get("issuer_key")),
        update_time=as_str(value.get("update_time")),
        expired=as_bool(value.get("expired")),
        complete=as_bool(value.get("complete")),
        jetstream_enabled=as_bool(value.get("jetstream_enabled")),
        client_connections=as_int(value.get("client_connections")),
        leafnode_connections=as_int(value.get("leafnode_connections")),
        subscriptions=as_int(value.get("subscriptions")),
        has_jwt=bool(value.get("jwt")),
        expires=as_int(decoded.get("exp")),
        limits=dict(as_dict(claims.get("limits"))),
        imports=imports,
        exports=exports,
    )


@reply_parser("ACCOUNTZ")
def parse_accountz(d: dict[str, Any], server: str = "") -> Accountz:
    """An :class:`Accountz` from an ACCOUNTZ ``data`` block."""
    return Accountz(
        server=server,
        server_id=as_str(d.get("server_id")),
        now=as_str(d.get("now")),
        system_account=as_str(d.get("system_account")),
        accounts=sorted(as_str_list(d.get("accounts"))),
        detail=_detail(d.get("account_detail")),
    )


def _pair(value: object) -> MsgBytes:
    d = as_dict(value)
    return MsgBytes(msgs=as_int(d.get("msgs")), bytes=as_int(d.get("bytes")))


def _traffic(value: object) -> Traffic:
    d = as_dict(value)
    return Traffic(
        msgs=as_int(d.get("msgs")),
        bytes=as_int(d.get("bytes")),
        routes=_pair(d.get("routes")),
        gateways=_pair(d.get("gateways")),
        leafs=_pair(d.get("leafs")),
    )


@reply_parser("STATZ")
def parse_account_statz(d: dict[str, Any], server: str = "") -> AccountStatz:
    """An :class:`AccountStatz` from an account STATZ ``data`` block."""
    stats = [
        AccountStat(
            server=server,
            account=as_str(a.get("acc")),
            name=as_str(a.get("name")) or as_str(a.get("acc")),
            conns=as_int(a.get("conns")),
            leafnodes=as_int(a.get("leafnodes")),
            total_conns=as_int(a.get("total_conns")),
            num_subscriptions=as_int(a.get("num_subscriptions")),
            slow_consumers=as_int(a.get("slow_consumers")),
            sent=_traffic(a.get("sent")),
            received=_traffic(a.get("received")),
        )
        for a in as_dicts(d.get("account_statz"))
    ]
    return AccountStatz(
        server=server,
        server_id=as_str(d.get("server_id")),
        now=as_str(d.get("now")),
        accounts=stats,
    )
