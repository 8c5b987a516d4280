"""CONNZ models: client and leafnode connections of a server, parsed on a fast path.

A dashboard may read 100,000 connections per refresh, so :func:`parse_connz` reads each
connection with plain dict access and one combined type check; only a connection whose
fields have the wrong types goes through the tolerant (slower) path.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from operator import itemgetter
from typing import Any

from natsops.model.base import (
    as_dicts,
    as_int,
    as_str,
    as_str_list,
    duration_seconds,
    parse_time,
    reply_parser,
)

log = logging.getLogger(__name__)

_NO_SUBS: tuple[str, ...] = ()
_STR_ONLY = frozenset({str})


@dataclass(slots=True)
class Connection:
    """One connection as reported by the server it is connected to.

    Identified across the fleet by ``(server, cid)``; a cid seen again with another
    ``start`` is a new connection (servers reuse cids after a restart). ``in_*`` are
    counted from the client (what it published), ``out_*`` towards it. Times are
    RFC3339 text and durations Go text ("1m2s", "350µs"): see the ``*_seconds``
    properties.
    """

    server: str = ""
    cid: int = 0
    kind: str = ""
    ip: str = ""
    port: int = 0
    start: str = ""
    last_activity: str = ""
    rtt: str = ""
    uptime: str = ""
    idle: str = ""
    pending_bytes: int = 0
    in_msgs: int = 0
    out_msgs: int = 0
    in_bytes: int = 0
    out_bytes: int = 0
    subscriptions: int = 0
    type: str = ""
    name: str = ""
    lang: str = ""
    version: str = ""
    account: str = ""
    authorized_user: str = ""
    name_tag: str = ""
    tls_version: str = ""
    reason: str = ""
    stop: str = ""
    subscriptions_list: tuple[str, ...] = _NO_SUBS

    @property
    def key(self) -> tuple[str, int]:
        """``(server, cid)``: the connection's identity in aggregated views."""
        return (self.server, self.cid)

    @property
    def msgs_to(self) -> int:
        """Messages delivered to the client."""
        return self.out_msgs

    @property
    def msgs_from(self) -> int:
        """Messages published by the client."""
        return self.in_msgs

    @property
    def bytes_to(self) -> int:
        """Bytes delivered to the client."""
        return self.out_bytes

    @property
    def bytes_from(self) -> int:
        """Bytes published by the client."""
        return self.in_bytes

    @property
    def idle_seconds(self) -> float:
        """Seconds since the connection's last activity."""
        return duration_seconds(self.idle)

    @property
    def rtt_seconds(self) -> float:
        """Round-trip time in seconds."""
        return duration_seconds(self.rtt)

    @property
    def uptime_seconds(self) -> float:
        """Seconds since the connection was made."""
        return duration_seconds(self.uptime)

    @property
    def start_time(self) -> datetime | None:
        """When the connection was made."""
        return parse_time(self.start)

    @property
    def last_time(self) -> datetime | None:
        """When the connection was last active."""
        return parse_time(self.last_activity)

    @property
    def account_label(self) -> str:
        """The account's name when the server gave it (``name_tag``), else its id."""
        return self.name_tag or self.account

    @property
    def closed(self) -> bool:
        """True for a closed connection (CONNZ with ``state`` closed or all)."""
        return bool(self.stop or self.reason)


@dataclass(slots=True)
class Connz:
    """One server's CONNZ page."""

    server: str = ""
    server_id: str = ""
    now: str = ""
    num_connections: int = 0
    total: int = 0
    offset: int = 0
    limit: int = 0
    connections: list[Connection] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        """True when this page holds every connection the server has."""
        return self.offset + len(self.connections) >= self.total


#: Fields every CONNZ connection carries, in :class:`Connection` order, and their
#: JSON types; the fast path reads them with one C-level getter.
_ALWAYS = (
    ("cid", int),
    ("kind", str),
    ("ip", str),
    ("port", int),
    ("start", str),
    ("last_activity", str),
    ("rtt", str),
    ("uptime", str),
    ("idle", str),
    ("pending_bytes", int),
    ("in_msgs", int),
    ("out_msgs", int),
    ("in_bytes", int),
    ("out_bytes", int),
    ("subscriptions", int),
)
_get_always = itemgetter(*(name for name, _ in _ALWAYS))
_ALWAYS_TYPES = tuple(kind for _, kind in _ALWAYS)


# TODO: about 3 µs per connection on this machine (half of json.loads' own cost), so
# re-parsing 100,000 connections every tick costs 0.3 s or more; large fleets need
# server-side sort and limit, or parsing only the pages that changed.
def _connection_fast(d: dict[str, Any], server: str) -> Connection | None:
    """The common case: every always-present field exists with its JSON type, and the
    optional ones are absent or strings. None sends the entry to the tolerant path."""
    try:
        always = _get_always(d)
    except KeyError:
        return None
    if tuple(map(type, always)) != _ALWAYS_TYPES:
        return None
    get = d.get
    ctype = get("type", "")
    name = get("name", "")
    lang = get("lang", "")
    version = get("version", "")
    account = get("account", "")
    user = get("authorized_user", "")
    name_tag = get("name_tag", "")
    tls = get("tls_version", "")
    reason = get("reason", "")
    stop = get("stop", "")
    sub_list = get("subscriptions_list")
    if sub_list is None:
        sub_list = _NO_SUBS
    elif type(sub_list) is list and set(map(type, sub_list)) <= _STR_ONLY:
        sub_list = tuple(sub_list)
    else:
        return None
    if (
        type(ctype) is str
        and type(name) is str
        and type(lang) is str
        and type(version) is str
        and type(account) is str
        and type(user) is str
        and type(name_tag) is str
        and type(tls) is str
        and type(reason) is str
        and type(stop) is str
    ):
        # mypy cannot count the fields a starred tuple fills.
        return Connection(  # type: ignore[call-arg]
            server,
            *always,
            ctype,
            name,
            lang,
            version,
            account,
            user,
            name_tag,
            tls,
            reason,
            stop,
            sub_list,
        )
    return None


def _connection_tolerant(d: dict[str, Any], server: str) -> Connection:
    """Any dict: every field coerced or defaulted."""
    get = d.get
    return Connection(
        server=server,
        cid=as_int(get("cid")),
        kind=as_str(get("kind")),
        type=as_str(get("type")),
        ip=as_str(get("ip")),
        port=as_int(get("port")),
        start=as_str(get("start")),
        last_activity=as_str(get("last_activity")),
        rtt=as_str(get("rtt")),
        uptime=as_str(get("uptime")),
        idle=as_str(get("idle")),
        pending_bytes=as_int(get("pending_bytes")),
        in_msgs=as_int(get("in_msgs")),
        out_msgs=as_int(get("out_msgs")),
        in_bytes=as_int(get("in_bytes")),
        out_bytes=as_int(get("out_bytes")),
        subscriptions=as_int(get("subscriptions")),
        name=as_str(get("name")),
        lang=as_str(get("lang")),
        version=as_str(get("version")),
        account=as_str(get("account")),
        authorized_user=as_str(get("authorized_user")),
        name_tag=as_str(get("name_tag")),
        tls_version=as_str(get("tls_version")),
        reason=as_str(get("reason")),
        stop=as_str(get("stop")),
        subscriptions_list=tuple(as_str_list(get("subscriptions_list"))),
    )


def parse_connection(value: object, server: str = "") -> Connection:
    """A :class:`Connection` from one entry of ``connections`` (any value)."""
    if type(value) is not dict:
        return _connection_tolerant(value if isinstance(value, dict) else {}, server)
    return _connection_fast(value, server) or _connection_tolerant(value, server)


def parse_connections(items: object, server: str = "") -> list[Connection]:
    """Every connection of a ``connections`` list; non-dict entries are skipped."""
    if type(items) is not list:
        return [_connection_tolerant(d, server) for d in as_dicts(items)]
    fast = _connection_fast
    out: list[Connection] = []
    append = out.append
    for item in items:
        if type(item) is dict:
            conn = fast(item, server)
            append(conn if conn is not None else _connection_tolerant(item, server))
        elif isinstance(item, dict):
            append(_connection_tolerant(item, server))
    return out


@reply_parser("CONNZ")
def parse_connz(d: dict[str, Any], server: str = "") -> Connz:
    """A :class:`Connz` from a CONNZ ``data`` block of the replying ``server``."""
    return Connz(
        server=server,
        server_id=as_str(d.get("server_id")),
        now=as_str(d.get("now")),
        num_connections=as_int(d.get("num_connections")),
        total=as_int(d.get("total")),
        offset=as_int(d.get("offset")),
        limit=as_int(d.get("limit")),
        connections=parse_connections(d.get("connections"), server),
    )
