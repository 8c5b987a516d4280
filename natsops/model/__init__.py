"""Typed, tolerant models of nats-server monitoring replies, rates and derived views.

Every ``parse_*`` function takes a reply's ``data`` block (any JSON value) and the
replying server's name, and returns a dataclass; the only exception it raises is
:class:`ModelError`, when the data block is not a JSON object at all.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from natsops.model.accounts import (
    AccountDetail,
    AccountExport,
    AccountImport,
    AccountStat,
    AccountStatz,
    Accountz,
    Traffic,
    parse_account_statz,
    parse_accountz,
)
from natsops.model.base import (
    ModelError,
    as_bool,
    as_dict,
    as_dicts,
    as_float,
    as_int,
    as_list,
    as_str,
    as_str_list,
    duration_seconds,
    format_bytes,
    format_count,
    format_duration,
    ns_to_seconds,
    parse_duration,
    parse_time,
    time_key,
)
from natsops.model.conns import Connection, Connz, parse_connection, parse_connz
from natsops.model.jetstream import (
    ApiStats,
    ClusterInfo,
    ConsumerInfo,
    JetStreamConfig,
    JetStreamInfo,
    JetStreamUsage,
    JsAccount,
    Jsz,
    MetaCluster,
    MoveStatus,
    PeerInfo,
    Placement,
    SequenceInfo,
    StreamInfo,
    StreamState,
    parse_jsz,
)
from natsops.model.rates import (
    RATE_FIELDS,
    ConnectionRates,
    Counters,
    Rate,
    RateTracker,
    Sample,
    compute_rate,
    sparkline,
)
from natsops.model.server import (
    ClusterOpts,
    GatewayOpts,
    GatewayStat,
    HealthError,
    Healthz,
    Idz,
    LeafOpts,
    MsgBytes,
    RouteStat,
    ServerIdentity,
    ServerStats,
    SlowConsumerStats,
    Varz,
    parse_healthz,
    parse_idz,
    parse_statsz,
    parse_varz,
)
from natsops.model.subs import Subscription, Subsz, parse_subsz
from natsops.model.topology import (
    GatewayLink,
    Gatewayz,
    Leaf,
    Leafz,
    RemoteConn,
    Route,
    Routez,
    parse_gatewayz,
    parse_leafz,
    parse_routez,
)
from natsops.model.views import (
    CONNECTION_SORT_KEYS,
    AccountRow,
    ClusterOverview,
    ClusterRow,
    ConsumerRow,
    HealthRow,
    JetStreamOverview,
    JsUsageRow,
    LeaderRow,
    LinkRow,
    MetaPeerRow,
    MoveRow,
    ReplicaRow,
    ServerRow,
    StreamRow,
    account_rows,
    age_seconds,
    aggregate_connections,
    cluster_overview,
    connection_sort_key,
    consumer_rows,
    gateway_rows,
    health_rows,
    jetstream_overview,
    leader_distribution,
    leaf_rows,
    route_rows,
    server_names,
    server_rows,
    sort_connections,
    stream_rows,
    top_connections,
    version_key,
)

#: The parser for each fan-out kind (``$SYS.REQ.SERVER.PING.<KIND>``); "STATZ" is
#: the account STATZ of ``$SYS.REQ.ACCOUNT.PING.STATZ``.
PARSERS: dict[str, Callable[[object, str], Any]] = {
    "STATSZ": parse_statsz,
    "VARZ": parse_varz,
    "IDZ": parse_idz,
    "HEALTHZ": parse_healthz,
    "CONNZ": parse_connz,
    "ROUTEZ": parse_routez,
    "GATEWAYZ": parse_gatewayz,
    "LEAFZ": parse_leafz,
    "SUBSZ": parse_subsz,
    "ACCOUNTZ": parse_accountz,
    "JSZ": parse_jsz,
    "STATZ": parse_account_statz,
}


def parse_reply(kind: str, data: object, server: str = "") -> Any:
    """Parse a ``data`` block of the given kind (see :data:`PARSERS`).

    Raises :class:`ModelError` for an unknown kind or a data block that is not a dict.
    """
    parser = PARSERS.get(kind.upper())
    if parser is None:
        raise ModelError(f"no model for {kind!r} replies", "see natsops.model.PARSERS")
    return parser(data, server)


def parse_all(
    kind: str, replies: dict[str, object]
) -> tuple[dict[str, Any], dict[str, ModelError]]:
    """Parse many servers' data blocks: ``(models by server, errors by server)``.

    A server whose block is unreadable lands in the second mapping with its
    :class:`ModelError`, so one bad reply never hides the others.
    """
    parsed: dict[str, Any] = {}
    errors: dict[str, ModelError] = {}
    for server, data in replies.items():
        try:
            parsed[server] = parse_reply(kind, data, server)
        except ModelError as exc:
            errors[server] = exc
    return parsed, errors


__all__ = [
    "CONNECTION_SORT_KEYS",
    "PARSERS",
    "RATE_FIELDS",
    "AccountDetail",
    "AccountExport",
    "AccountImport",
    "AccountRow",
    "AccountStat",
    "AccountStatz",
    "Accountz",
    "ApiStats",
    "ClusterInfo",
    "ClusterOpts",
    "ClusterOverview",
    "ClusterRow",
    "Connection",
    "ConnectionRates",
    "Connz",
    "ConsumerInfo",
    "ConsumerRow",
    "Counters",
    "GatewayLink",
    "GatewayOpts",
    "GatewayStat",
    "Gatewayz",
    "HealthError",
    "HealthRow",
    "Healthz",
    "Idz",
    "JetStreamConfig",
    "JetStreamInfo",
    "JetStreamOverview",
    "JetStreamUsage",
    "JsAccount",
    "JsUsageRow",
    "Jsz",
    "LeaderRow",
    "Leaf",
    "LeafOpts",
    "Leafz",
    "LinkRow",
    "MetaCluster",
    "MetaPeerRow",
    "ModelError",
    "MoveRow",
    "MoveStatus",
    "MsgBytes",
    "PeerInfo",
    "Placement",
    "Rate",
    "RateTracker",
    "RemoteConn",
    "ReplicaRow",
    "Route",
    "RouteStat",
    "Routez",
    "Sample",
    "SequenceInfo",
    "ServerIdentity",
    "ServerRow",
    "ServerStats",
    "SlowConsumerStats",
    "StreamInfo",
    "StreamRow",
    "StreamState",
    "Subscription",
    "Subsz",
    "Traffic",
    "Varz",
    "account_rows",
    "age_seconds",
    "aggregate_connections",
    "as_bool",
    "as_dict",
    "as_dicts",
    "as_float",
    "as_int",
    "as_list",
    "as_str",
    "as_str_list",
    "cluster_overview",
    "compute_rate",
    "connection_sort_key",
    "consumer_rows",
    "duration_seconds",
    "format_bytes",
    "format_count",
    "format_duration",
    "gateway_rows",
    "health_rows",
    "jetstream_overview",
    "leader_distribution",
    "leaf_rows",
    "ns_to_seconds",
    "parse_account_statz",
    "parse_accountz",
    "parse_all",
    "parse_connection",
    "parse_connz",
    "parse_duration",
    "parse_gatewayz",
    "parse_healthz",
    "parse_idz",
    "parse_jsz",
    "parse_leafz",
    "parse_reply",
    "parse_routez",
    "parse_statsz",
    "parse_subsz",
    "parse_time",
    "parse_varz",
    "route_rows",
    "server_names",
    "server_rows",
    "sort_connections",
    "sparkline",
    "stream_rows",
    "time_key",
    "top_connections",
    "version_key",
]
