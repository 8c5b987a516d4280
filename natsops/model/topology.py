"""Topology models: ROUTEZ (routes in a cluster), GATEWAYZ (between clusters) and LEAFZ.

A route pool gives several route connections per remote server; gateways are listed
per remote cluster, outbound (one per cluster) and inbound (one per remote server).
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
    duration_seconds,
    reply_parser,
)

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Route:
    """One route connection to another server of the same cluster.

    ``account`` is set for a route pinned to one account.
    """

    rid: int = 0
    remote_id: str = ""
    remote_name: str = ""
    did_solicit: bool = False
    is_configured: bool = False
    ip: str = ""
    port: int = 0
    start: str = ""
    last_activity: str = ""
    rtt: str = ""
    uptime: str = ""
    idle: str = ""
    pending_size: int = 0
    in_msgs: int = 0
    out_msgs: int = 0
    in_bytes: int = 0
    out_bytes: int = 0
    subscriptions: int = 0
    compression: str = ""
    account: str = ""

    @property
    def rtt_seconds(self) -> float:
        """Round-trip time in seconds."""
        return duration_seconds(self.rtt)


@dataclass(slots=True)
class Routez:
    """One server's ROUTEZ reply."""

    server: str = ""
    server_id: str = ""
    server_name: str = ""
    now: str = ""
    num_routes: int = 0
    routes: list[Route] = field(default_factory=list)


@dataclass(slots=True)
class RemoteConn:
    """The connection details of a gateway link (``name`` is the remote server id)."""

    cid: int = 0
    ip: str = ""
    port: int = 0
    name: str = ""
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

    @property
    def rtt_seconds(self) -> float:
        """Round-trip time in seconds."""
        return duration_seconds(self.rtt)


@dataclass(slots=True)
class GatewayLink:
    """One gateway connection to the remote cluster ``gateway``."""

    gateway: str = ""
    outbound: bool = True
    configured: bool = False
    connection: RemoteConn = field(default_factory=RemoteConn)


@dataclass(slots=True)
class Gatewayz:
    """One server's GATEWAYZ reply; ``name`` is the server's own cluster."""

    server: str = ""
    server_id: str = ""
    name: str = ""
    host: str = ""
    port: int = 0
    now: str = ""
    outbound: list[GatewayLink] = field(default_factory=list)
    inbound: list[GatewayLink] = field(default_factory=list)

    @property
    def remote_clusters(self) -> list[str]:
        """Names of the clusters this server has an outbound gateway to."""
        return sorted({g.gateway for g in self.outbound})


@dataclass(slots=True)
class Leaf:
    """One leafnode connection (``name`` is the remote server's name)."""

    id: int = 0
    name: str = ""
    is_spoke: bool = False
    account: str = ""
    ip: str = ""
    port: int = 0
    rtt: str = ""
    in_msgs: int = 0
    out_msgs: int = 0
    in_bytes: int = 0
    out_bytes: int = 0
    subscriptions: int = 0
    compression: str = ""
    subscriptions_list: list[str] = field(default_factory=list)

    @property
    def rtt_seconds(self) -> float:
        """Round-trip time in seconds."""
        return duration_seconds(self.rtt)


@dataclass(slots=True)
class Leafz:
    """One server's LEAFZ reply."""

    server: str = ""
    server_id: str = ""
    now: str = ""
    leafnodes: int = 0
    leafs: list[Leaf] = field(default_factory=list)


# -- parsers ----------------------------------------------------------------------


def _route(d: dict[str, object]) -> Route:
    return Route(
        rid=as_int(d.get("rid")),
        remote_id=as_str(d.get("remote_id")),
        remote_name=as_str(d.get("remote_name")),
        did_solicit=as_bool(d.get("did_solicit")),
        is_configured=as_bool(d.get("is_configured")),
        ip=as_str(d.get("ip")),
        port=as_int(d.get("port")),
        start=as_str(d.get("start")),
        last_activity=as_str(d.get("last_activity")),
        rtt=as_str(d.get("rtt")),
        uptime=as_str(d.get("uptime")),
        idle=as_str(d.get("idle")),
        pending_size=as_int(d.get("pending_size")),
        in_msgs=as_int(d.get("in_msgs")),
        out_msgs=as_int(d.get("out_msgs")),
        in_bytes=as_int(d.get("in_bytes")),
        out_bytes=as_int(d.get("out_bytes")),
        subscriptions=as_int(d.get("subscriptions")),
        compression=as_str(d.get("compression")),
        account=as_str(d.get("account")),
    )


@reply_parser("ROUTEZ")
def parse_routez(d: dict[str, Any], server: str = "") -> Routez:
    """A :class:`Routez` from a ROUTEZ ``data`` block."""
    return Routez(
        server=server,
        server_id=as_str(d.get("server_id")),
        server_name=as_str(d.get("server_name")),
        now=as_str(d.get("now")),
        num_routes=as_int(d.get("num_routes")),
        routes=[_route(r) for r in as_dicts(d.get("routes"))],
    )


def _remote_conn(value: object) -> RemoteConn:
    d = as_dict(value)
    return RemoteConn(
        cid=as_int(d.get("cid")),
        ip=as_str(d.get("ip")),
        port=as_int(d.get("port")),
        name=as_str(d.get("name")),
        start=as_str(d.get("start")),
        last_activity=as_str(d.get("last_activity")),
        rtt=as_str(d.get("rtt")),
        uptime=as_str(d.get("uptime")),
        idle=as_str(d.get("idle")),
        pending_bytes=as_int(d.get("pending_bytes")),
        in_msgs=as_int(d.get("in_msgs")),
        out_msgs=as_int(d.get("out_msgs")),
        in_bytes=as_int(d.get("in_bytes")),
        out_bytes=as_int(d.get("out_bytes")),
        subscriptions=as_int(d.get("subscriptions")),
    )


def _link(gateway: str, value: object, outbound: bool) -> GatewayLink:
    d = as_dict(value)
    return GatewayLink(
        gateway=gateway,
        outbound=outbound,
        configured=as_bool(d.get("configured")),
        connection=_remote_conn(d.get("connection")),
    )


@reply_parser("GATEWAYZ")
def parse_gatewayz(d: dict[str, Any], server: str = "") -> Gatewayz:
    """A :class:`Gatewayz` from a GATEWAYZ ``data`` block."""
    outbound = [
        _link(str(name), link, True)
        for name, link in sorted(as_dict(d.get("outbound_gateways")).items())
        if isinstance(link, dict)
    ]
    inbound: list[GatewayLink] = []
    for name, links in sorted(as_dict(d.get("inbound_gateways")).items()):
        for link in as_dicts(links):
            inbound.append(_link(str(name), link, False))
    return Gatewayz(
        server=server,
        server_id=as_str(d.get("server_id")),
        name=as_str(d.get("name")),
        host=as_str(d.get("host")),
        port=as_int(d.get("port")),
        now=as_str(d.get("now")),
        outbound=outbound,
        inbound=inbound,
    )


def _leaf(d: dict[str, object]) -> Leaf:
    return Leaf(
        id=as_int(d.get("id")),
        name=as_str(d.get("name")),
        is_spoke=as_bool(d.get("is_spoke")),
        account=as_str(d.get("account")),
        ip=as_str(d.get("ip")),
        port=as_int(d.get("port")),
        rtt=as_str(d.get("rtt")),
        in_msgs=as_int(d.get("in_msgs")),
        out_msgs=as_int(d.get("out_msgs")),
        in_bytes=as_int(d.get("in_bytes")),
        out_bytes=as_int(d.get("out_bytes")),
        subscriptions=as_int(d.get("subscriptions")),
        compression=as_str(d.get("compression")),
        subscriptions_list=as_str_list(d.get("subscriptions_list")),
    )


@reply_parser("LEAFZ")
def parse_leafz(d: dict[str, Any], server: str = "") -> Leafz:
    """A :class:`Leafz` from a LEAFZ ``data`` block."""
    return Leafz(
        server=server,
        server_id=as_str(d.get("server_id")),
        now=as_str(d.get("now")),
        leafnodes=as_int(d.get("leafnodes")),
        leafs=[_leaf(x) for x in as_dicts(d.get("leafs"))],
    )
