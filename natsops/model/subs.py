"""SUBSZ models: a server's subscription table statistics and (paged) subscriptions."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from natsops.model.base import (
    as_dicts,
    as_float,
    as_int,
    as_str,
    reply_parser,
)

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Subscription:
    """One subscription: ``account_tag`` is the account's name when known."""

    account: str = ""
    account_tag: str = ""
    subject: str = ""
    qgroup: str = ""
    sid: str = ""
    msgs: int = 0
    max: int = 0
    cid: int = 0


@dataclass(slots=True)
class Subsz:
    """One server's SUBSZ reply: sublist statistics plus a page of subscriptions."""

    server: str = ""
    server_id: str = ""
    now: str = ""
    num_subscriptions: int = 0
    num_cache: int = 0
    num_inserts: int = 0
    num_removes: int = 0
    num_matches: int = 0
    cache_hit_rate: float = 0.0
    max_fanout: int = 0
    avg_fanout: float = 0.0
    total: int = 0
    offset: int = 0
    limit: int = 0
    subscriptions: list[Subscription] = field(default_factory=list)


@reply_parser("SUBSZ")
def parse_subsz(d: dict[str, Any], server: str = "") -> Subsz:
    """A :class:`Subsz` from a SUBSZ ``data`` block."""
    subs = [
        Subscription(
            account=as_str(s.get("account")),
            account_tag=as_str(s.get("account_tag")),
            subject=as_str(s.get("subject")),
            qgroup=as_str(s.get("qgroup")),
            sid=as_str(s.get("sid")),
            msgs=as_int(s.get("msgs")),
            max=as_int(s.get("max")),
            cid=as_int(s.get("cid")),
        )
        for s in as_dicts(d.get("subscriptions_list"))
    ]
    return Subsz(
        server=server,
        server_id=as_str(d.get("server_id")),
        now=as_str(d.get("now")),
        num_subscriptions=as_int(d.get("num_subscriptions")),
        num_cache=as_int(d.get("num_cache")),
        num_inserts=as_int(d.get("num_inserts")),
        num_removes=as_int(d.get("num_removes")),
        num_matches=as_int(d.get("num_matches")),
        cache_hit_rate=as_float(d.get("cache_hit_rate")),
        max_fanout=as_int(d.get("max_fanout")),
        avg_fanout=as_float(d.get("avg_fanout")),
        total=as_int(d.get("total")),
        offset=as_int(d.get("offset")),
        limit=as_int(d.get("limit")),
        subscriptions=subs,
    )
