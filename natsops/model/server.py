"""Server-level models: STATSZ, VARZ, IDZ and HEALTHZ replies.

STATSZ is cheap and pushed as an event every 10 s; VARZ adds the version, cluster,
gateway and leafnode configuration. Both carry the counters rates are computed from.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from natsops.model.base import (
    as_dict,
    as_dicts,
    as_float,
    as_int,
    as_list,
    as_str,
    as_str_list,
    duration_seconds,
    parse_time,
    reply_parser,
)
from natsops.model.jetstream import JetStreamInfo, parse_js_info

log = logging.getLogger(__name__)


@dataclass(slots=True)
class MsgBytes:
    """A pair of message and byte counters."""

    msgs: int = 0
    bytes: int = 0


@dataclass(slots=True)
class RouteStat:
    """Traffic over one route connection, from STATSZ."""

    rid: int = 0
    name: str = ""
    sent: MsgBytes = field(default_factory=MsgBytes)
    received: MsgBytes = field(default_factory=MsgBytes)
    pending: int = 0


@dataclass(slots=True)
class GatewayStat:
    """Traffic to one remote cluster over gateways, from STATSZ."""

    gwid: int = 0
    name: str = ""
    sent: MsgBytes = field(default_factory=MsgBytes)
    received: MsgBytes = field(default_factory=MsgBytes)
    inbound_connections: int = 0


@dataclass(slots=True)
class SlowConsumerStats:
    """Slow consumers by connection kind."""

    clients: int = 0
    routes: int = 0
    gateways: int = 0
    leafs: int = 0


@dataclass(slots=True)
class ServerStats:
    """A STATSZ ``statsz`` block: load, counters, routes, gateways, JetStream.

    ``sent``/``received`` count every message the server handled (clients, routes,
    gateways, leafnodes); ``start`` is RFC3339 text.
    """

    server: str = ""
    start: str = ""
    mem: int = 0
    cores: int = 0
    cpu: float = 0.0
    connections: int = 0
    total_connections: int = 0
    active_accounts: int = 0
    subscriptions: int = 0
    sent: MsgBytes = field(default_factory=MsgBytes)
    received: MsgBytes = field(default_factory=MsgBytes)
    slow_consumers: int = 0
    slow_consumer_stats: SlowConsumerStats = field(default_factory=SlowConsumerStats)
    routes: list[RouteStat] = field(default_factory=list)
    gateways: list[GatewayStat] = field(default_factory=list)
    active_servers: int = 0
    jetstream: JetStreamInfo | None = None

    @property
    def start_time(self) -> datetime | None:
        """When the server started."""
        return parse_time(self.start)


@dataclass(slots=True)
class ClusterOpts:
    """The ``cluster`` section of VARZ."""

    name: str = ""
    addr: str = ""
    port: int = 0
    urls: list[str] = field(default_factory=list)
    pool_size: int = 0


@dataclass(slots=True)
class GatewayOpts:
    """The ``gateway`` section of VARZ: this cluster's gateway and its remotes."""

    name: str = ""
    host: str = ""
    port: int = 0
    remotes: list[str] = field(default_factory=list)


@dataclass(slots=True)
class LeafOpts:
    """The ``leaf`` section of VARZ: the leafnode listener, if any."""

    host: str = ""
    port: int = 0
    remotes: int = 0


@dataclass(slots=True)
class Varz:
    """A VARZ reply: identity, version, configuration and counters of one server.

    ``raw`` keeps the whole reply for detail views of every VARZ section (JWTs
    replaced by "[redacted]").
    """

    server: str = ""
    server_id: str = ""
    server_name: str = ""
    version: str = ""
    go: str = ""
    git_commit: str = ""
    host: str = ""
    port: int = 0
    max_payload: int = 0
    max_connections: int = 0
    tags: list[str] = field(default_factory=list)
    system_account: str = ""
    start: str = ""
    now: str = ""
    uptime: str = ""
    config_load_time: str = ""
    mem: int = 0
    cores: int = 0
    cpu: float = 0.0
    connections: int = 0
    total_connections: int = 0
    routes: int = 0
    remotes: int = 0
    leafnodes: int = 0
    subscriptions: int = 0
    in_msgs: int = 0
    out_msgs: int = 0
    in_bytes: int = 0
    out_bytes: int = 0
    slow_consumers: int = 0
    slow_consumer_stats: SlowConsumerStats = field(default_factory=SlowConsumerStats)
    stale_connections: int = 0
    cluster: ClusterOpts = field(default_factory=ClusterOpts)
    gateway: GatewayOpts = field(default_factory=GatewayOpts)
    leaf: LeafOpts = field(default_factory=LeafOpts)
    jetstream: JetStreamInfo | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def name(self) -> str:
        """The server's name (from the reply, else the name it was collected under)."""
        return self.server_name or self.server

    @property
    def cluster_name(self) -> str:
        """The name of the server's cluster ("" for a standalone server)."""
        return self.cluster.name

    @property
    def uptime_seconds(self) -> float:
        """Uptime in seconds."""
        return duration_seconds(self.uptime)

    @property
    def start_time(self) -> datetime | None:
        """When the server started."""
        return parse_time(self.start)

    def identity(self) -> ServerIdentity:
        """The server's name, cluster and version, for the cluster overview."""
        return ServerIdentity(
            name=self.name,
            cluster=self.cluster.name,
            version=self.version,
            host=self.host,
            domain=self.jetstream.config.domain if self.jetstream else "",
            tags=list(self.tags),
            jetstream=self.jetstream is not None,
        )


@dataclass(slots=True)
class ServerIdentity:
    """Who a server is: any object with ``name``, ``cluster`` and ``version`` works
    where this is expected (the fan-out envelope's server block does)."""

    name: str = ""
    cluster: str = ""
    version: str = ""
    host: str = ""
    domain: str = ""
    tags: list[str] = field(default_factory=list)
    jetstream: bool = False


@dataclass(slots=True)
class Idz:
    """An IDZ reply: the server's name, host and (per-process) id."""

    name: str = ""
    host: str = ""
    id: str = ""


@dataclass(slots=True)
class HealthError:
    """One failed check of HEALTHZ with ``details``."""

    type: str = ""
    account: str = ""
    stream: str = ""
    consumer: str = ""
    error: str = ""


@dataclass(slots=True)
class Healthz:
    """A HEALTHZ reply: ``status`` is ok, unavailable or error."""

    server: str = ""
    status: str = ""
    status_code: int = 0
    error: str = ""
    errors: list[HealthError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when the server reports itself healthy."""
        return self.status == "ok"

    @property
    def problems(self) -> list[str]:
        """Every reported problem as one line of text."""
        lines = [self.error] if self.error else []
        for err in self.errors:
            where = "/".join(x for x in (err.account, err.stream, err.consumer) if x)
            lines.append(f"{err.type} {where}: {err.error}" if where else err.error)
        return lines


# -- parsers ----------------------------------------------------------------------


def _msg_bytes(value: object) -> MsgBytes:
    d = as_dict(value)
    return MsgBytes(msgs=as_int(d.get("msgs")), bytes=as_int(d.get("bytes")))


def _slow(value: object) -> SlowConsumerStats:
    d = as_dict(value)
    return SlowConsumerStats(
        clients=as_int(d.get("clients")),
        routes=as_int(d.get("routes")),
        gateways=as_int(d.get("gateways")),
        leafs=as_int(d.get("leafs")),
    )


@reply_parser("STATSZ")
def parse_statsz(d: dict[str, Any], server: str = "") -> ServerStats:
    """A :class:`ServerStats` from a STATSZ reply's ``statsz`` block (or a whole
    ``{"server", "statsz"}`` message, as published on ``$SYS.SERVER.<id>.STATSZ``).
    """
    if isinstance(d.get("statsz"), dict):
        if not server:
            server = as_str(as_dict(d.get("server")).get("name"))
        d = d["statsz"]
    routes = [
        RouteStat(
            rid=as_int(r.get("rid")),
            name=as_str(r.get("name")),
            sent=_msg_bytes(r.get("sent")),
            received=_msg_bytes(r.get("received")),
            pending=as_int(r.get("pending")),
        )
        for r in as_dicts(d.get("routes"))
    ]
    gateways = [
        GatewayStat(
            gwid=as_int(g.get("gwid")),
            name=as_str(g.get("name")),
            sent=_msg_bytes(g.get("sent")),
            received=_msg_bytes(g.get("received")),
            inbound_connections=as_int(g.get("inbound_connections")),
        )
        for g in as_dicts(d.get("gateways"))
    ]
    return ServerStats(
        server=server,
        start=as_str(d.get("start")),
        mem=as_int(d.get("mem")),
        cores=as_int(d.get("cores")),
        cpu=as_float(d.get("cpu")),
        connections=as_int(d.get("connections")),
        total_connections=as_int(d.get("total_connections")),
        active_accounts=as_int(d.get("active_accounts")),
        subscriptions=as_int(d.get("subscriptions")),
        sent=_msg_bytes(d.get("sent")),
        received=_msg_bytes(d.get("received")),
        slow_consumers=as_int(d.get("slow_consumers")),
        slow_consumer_stats=_slow(d.get("slow_consumer_stats")),
        routes=routes,
        gateways=gateways,
        active_servers=as_int(d.get("active_servers")),
        jetstream=parse_js_info(d.get("jetstream")),
    )


@reply_parser("VARZ")
def parse_varz(d: dict[str, Any], server: str = "") -> Varz:
    """A :class:`Varz` from a VARZ ``data`` block."""
    cluster = as_dict(d.get("cluster"))
    gateway = as_dict(d.get("gateway"))
    leaf = as_dict(d.get("leaf"))
    remotes = [
        as_str(g.get("name"))
        for g in as_dicts(gateway.get("gateways"))
        if g.get("name") != gateway.get("name")
    ]
    return Varz(
        server=server,
        server_id=as_str(d.get("server_id")),
        server_name=as_str(d.get("server_name")),
        version=as_str(d.get("version")),
        go=as_str(d.get("go")),
        git_commit=as_str(d.get("git_commit")),
        host=as_str(d.get("host")),
        port=as_int(d.get("port")),
        max_payload=as_int(d.get("max_payload")),
        max_connections=as_int(d.get("max_connections")),
        tags=as_str_list(d.get("tags")),
        system_account=as_str(d.get("system_account")),
        start=as_str(d.get("start")),
        now=as_str(d.get("now")),
        uptime=as_str(d.get("uptime")),
        config_load_time=as_str(d.get("config_load_time")),
        mem=as_int(d.get("mem")),
        cores=as_int(d.get("cores")),
        cpu=as_float(d.get("cpu")),
        connections=as_int(d.get("connections")),
        total_connections=as_int(d.get("total_connections")),
        routes=as_int(d.get("routes")),
        remotes=as_int(d.get("remotes")),
        leafnodes=as_int(d.get("leafnodes")),
        subscriptions=as_int(d.get("subscriptions")),
        in_msgs=as_int(d.get("in_msgs")),
        out_msgs=as_int(d.get("out_msgs")),
        in_bytes=as_int(d.get("in_bytes")),
        out_bytes=as_int(d.get("out_bytes")),
        slow_consumers=as_int(d.get("slow_consumers")),
        slow_consumer_stats=_slow(d.get("slow_consumer_stats")),
        stale_connections=as_int(d.get("stale_connections")),
        cluster=ClusterOpts(
            name=as_str(cluster.get("name")),
            addr=as_str(cluster.get("addr")),
            port=as_int(cluster.get("cluster_port")),
            urls=as_str_list(cluster.get("urls")),
            pool_size=as_int(cluster.get("pool_size")),
        ),
        gateway=GatewayOpts(
            name=as_str(gateway.get("name")),
            host=as_str(gateway.get("host")),
            port=as_int(gateway.get("port")),
            remotes=[r for r in remotes if r],
        ),
        leaf=LeafOpts(
            host=as_str(leaf.get("host")),
            port=as_int(leaf.get("port")),
            remotes=len(as_list(leaf.get("remotes"))),
        ),
        jetstream=parse_js_info(d.get("jetstream")),
        raw=_without_jwts(d),
    )


def _without_jwts(d: dict[str, Any]) -> dict[str, Any]:
    """A shallow copy of a VARZ reply whose JWT fields (``trusted_operators_jwt``)
    are replaced by a marker, so detail views never show a token."""
    return {
        k: "[redacted]" if "jwt" in k.lower() and isinstance(v, str | list) else v
        for k, v in d.items()
    }


@reply_parser("IDZ")
def parse_idz(d: dict[str, Any], server: str = "") -> Idz:
    """An :class:`Idz` from an IDZ reply (a bare ``{name, host, id}``)."""
    return Idz(
        name=as_str(d.get("name")) or server,
        host=as_str(d.get("host")),
        id=as_str(d.get("id")),
    )


@reply_parser("HEALTHZ")
def parse_healthz(d: dict[str, Any], server: str = "") -> Healthz:
    """A :class:`Healthz` from a HEALTHZ ``data`` block."""
    return _healthz(d, server)


def _healthz(d: dict[str, Any], server: str) -> Healthz:
    errors = [
        HealthError(
            type=as_str(e.get("type")),
            account=as_str(e.get("account")),
            stream=as_str(e.get("stream")),
            consumer=as_str(e.get("consumer")),
            error=as_str(e.get("error")),
        )
        for e in as_dicts(d.get("errors"))
    ]
    status = as_str(d.get("status"))
    return Healthz(
        server=server,
        status=status.lower() if status else "",
        status_code=as_int(d.get("status_code")),
        error=as_str(d.get("error")),
        errors=errors,
    )
