"""JetStream models: JSZ with the meta group, accounts, streams, consumers and raft.

Each server reports only the stream and consumer replicas it hosts, and only a
leader's view of its replicas is current; :mod:`natsops.model.views` merges the
per-server reports into one row per stream. A fleet's JSZ holds tens of thousands of
stream replicas, so each one is read on a fast path (plain dict access, exact type
checks); only a replica with a field of the wrong type goes through the tolerant path.
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
    ns_to_seconds,
    reply_parser,
)

log = logging.getLogger(__name__)

_STR_ONLY = frozenset({str})


@dataclass(slots=True)
class ApiStats:
    """JetStream API request counters."""

    total: int = 0
    errors: int = 0
    level: int = 0
    inflight: int = 0


@dataclass(slots=True)
class PeerInfo:
    """One replica of a raft group (meta, stream or consumer) as seen by a server.

    ``active`` is seconds since the peer was last heard from; ``lag`` is entries
    behind; ``pending`` marks a replica still being added by a move.
    """

    name: str = ""
    peer: str = ""
    current: bool = False
    offline: bool = False
    active: float = 0.0
    lag: int = 0
    pending: bool = False
    observer: bool = False


@dataclass(slots=True)
class MetaCluster:
    """The JetStream meta group as reported by one server.

    Only the meta leader's report has meaningful ``current``/``lag`` for the peers;
    ``name`` is the cluster of the reporting server.
    """

    name: str = ""
    leader: str = ""
    peer: str = ""
    cluster_size: int = 0
    quorum_needed: int = 0
    pending: int = 0
    leader_since: str = ""
    replicas: list[PeerInfo] = field(default_factory=list)


@dataclass(slots=True)
class JetStreamConfig:
    """A server's JetStream limits and storage settings."""

    max_memory: int = 0
    max_storage: int = 0
    store_dir: str = ""
    domain: str = ""
    sync_interval: float = 0.0
    compress_ok: bool = False
    strict: bool = False


@dataclass(slots=True)
class JetStreamUsage:
    """JetStream resource usage of a server (the ``stats`` of STATSZ/VARZ)."""

    memory: int = 0
    storage: int = 0
    reserved_memory: int = 0
    reserved_storage: int = 0
    accounts: int = 0
    ha_assets: int = 0
    api: ApiStats = field(default_factory=ApiStats)


@dataclass(slots=True)
class JetStreamInfo:
    """The ``jetstream`` block of STATSZ and VARZ."""

    config: JetStreamConfig = field(default_factory=JetStreamConfig)
    stats: JetStreamUsage = field(default_factory=JetStreamUsage)
    meta: MetaCluster | None = None


@dataclass(slots=True)
class Placement:
    """Where a stream should live: a cluster, tags, a preferred leader."""

    cluster: str = ""
    tags: list[str] = field(default_factory=list)
    preferred: str = ""


@dataclass(slots=True)
class MoveStatus:
    """A pending change of a stream's peer set (``cluster.desired``): a move or scale.

    ``status_type`` is one of meta, membership, snapshot, catchup, quorum, blocked,
    unavailable (empty when the server gave none yet).
    """

    cluster: str = ""
    created: str = ""
    replicas: list[PeerInfo] = field(default_factory=list)
    origin_cluster: str = ""
    origin_tags: list[str] = field(default_factory=list)
    origin_replicas: int = 0
    status_type: str = ""
    status_description: str = ""

    @property
    def peers(self) -> list[str]:
        """Names of the target peers."""
        return [p.name or p.peer for p in self.replicas]


@dataclass(slots=True)
class ClusterInfo:
    """The raft group of a stream or consumer: leader and the other replicas.

    ``replicas`` lists the peers other than the reporting server (the leader's own
    report is the one with current ``current``/``lag``); during a move the leader
    may be empty.
    """

    name: str = ""
    leader: str = ""
    leader_since: str = ""
    raft_group: str = ""
    replicas: list[PeerInfo] = field(default_factory=list)
    desired: MoveStatus | None = None
    traffic_account: str = ""


@dataclass(slots=True)
class StreamState:
    """Message counts and sequence range of a stream."""

    messages: int = 0
    bytes: int = 0
    first_seq: int = 0
    last_seq: int = 0
    first_ts: str = ""
    last_ts: str = ""
    consumer_count: int = 0
    num_subjects: int = 0
    num_deleted: int = 0


@dataclass(slots=True)
class SequenceInfo:
    """A consumer's delivered or ack-floor position."""

    consumer_seq: int = 0
    stream_seq: int = 0
    last_active: str = ""


@dataclass(slots=True)
class ConsumerInfo:
    """One consumer as reported by one server hosting a replica of it.

    ``pause_remaining`` is in seconds; ``config`` is the raw configuration block.
    """

    server: str = ""
    account: str = ""
    account_id: str = ""
    stream: str = ""
    name: str = ""
    created: str = ""
    durable: str = ""
    ack_policy: str = ""
    deliver_policy: str = ""
    deliver_subject: str = ""
    filter_subjects: list[str] = field(default_factory=list)
    max_ack_pending: int = 0
    max_deliver: int = 0
    ack_wait: float = 0.0
    num_replicas: int = 0
    delivered: SequenceInfo = field(default_factory=SequenceInfo)
    ack_floor: SequenceInfo = field(default_factory=SequenceInfo)
    num_pending: int = 0
    num_ack_pending: int = 0
    num_redelivered: int = 0
    num_waiting: int = 0
    paused: bool = False
    pause_remaining: float = 0.0
    pause_until: str = ""
    push_bound: bool = False
    cluster: ClusterInfo = field(default_factory=ClusterInfo)
    config: dict[str, Any] = field(default_factory=dict)

    @property
    def is_push(self) -> bool:
        """True for a push consumer (it has a deliver subject)."""
        return bool(self.deliver_subject)


@dataclass(slots=True)
class StreamInfo:
    """One stream as reported by one server hosting a replica of it.

    ``config`` is the raw configuration block (for detail views); the fields above it
    are the parts natsops reads.
    """

    server: str = ""
    account: str = ""
    account_id: str = ""
    name: str = ""
    created: str = ""
    subjects: list[str] = field(default_factory=list)
    num_replicas: int = 1
    storage: str = ""
    retention: str = ""
    placement: Placement = field(default_factory=Placement)
    mirror: str = ""
    sources: list[str] = field(default_factory=list)
    sealed: bool = False
    state: StreamState = field(default_factory=StreamState)
    cluster: ClusterInfo = field(default_factory=ClusterInfo)
    consumers: list[ConsumerInfo] = field(default_factory=list)
    consumer_raft_groups: dict[str, str] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class JsAccount:
    """JetStream usage and streams of one account, from one server's JSZ.

    ``name`` is the account's name (in operator mode, the name in its JWT) and ``id``
    the account's public key; usage figures are account-wide.
    """

    name: str = ""
    id: str = ""
    memory: int = 0
    storage: int = 0
    reserved_memory: int = 0
    reserved_storage: int = 0
    ha_assets: int = 0
    api: ApiStats = field(default_factory=ApiStats)
    streams: list[StreamInfo] = field(default_factory=list)

    @property
    def key(self) -> str:
        """The stable identity of the account: its id, else its name."""
        return self.id or self.name


@dataclass(slots=True)
class Jsz:
    """One server's JSZ reply."""

    server: str = ""
    server_id: str = ""
    now: str = ""
    disabled: bool = False
    config: JetStreamConfig = field(default_factory=JetStreamConfig)
    memory: int = 0
    storage: int = 0
    reserved_memory: int = 0
    reserved_storage: int = 0
    accounts: int = 0
    ha_assets: int = 0
    api: ApiStats = field(default_factory=ApiStats)
    streams: int = 0
    consumers: int = 0
    messages: int = 0
    bytes: int = 0
    streams_leader: int = 0
    consumers_leader: int = 0
    meta: MetaCluster | None = None
    account_details: list[JsAccount] = field(default_factory=list)

    def iter_streams(self) -> list[StreamInfo]:
        """Every stream this server reported, across all accounts."""
        return [s for acc in self.account_details for s in acc.streams]


# -- parsers ----------------------------------------------------------------------


def parse_api(value: object) -> ApiStats:
    """An :class:`ApiStats` from an ``api`` block."""
    d = as_dict(value)
    return ApiStats(
        total=as_int(d.get("total")),
        errors=as_int(d.get("errors")),
        level=as_int(d.get("level")),
        inflight=as_int(d.get("inflight")),
    )


def parse_peer(value: object) -> PeerInfo:
    """A :class:`PeerInfo` from one replica entry."""
    d = as_dict(value)
    return PeerInfo(
        name=as_str(d.get("name")),
        peer=as_str(d.get("peer")),
        current=as_bool(d.get("current")),
        offline=as_bool(d.get("offline")),
        active=ns_to_seconds(d.get("active")),
        lag=as_int(d.get("lag")),
        pending=as_bool(d.get("pending")),
        observer=as_bool(d.get("observer")),
    )


def parse_meta(value: object) -> MetaCluster | None:
    """A :class:`MetaCluster` from ``meta_cluster`` (or ``meta``); None if absent."""
    if not isinstance(value, dict):
        return None
    return MetaCluster(
        name=as_str(value.get("name")),
        leader=as_str(value.get("leader")),
        peer=as_str(value.get("peer")),
        cluster_size=as_int(value.get("cluster_size")),
        quorum_needed=as_int(value.get("quorum_needed")),
        pending=as_int(value.get("pending")),
        leader_since=as_str(value.get("leader_since")),
        replicas=[parse_peer(p) for p in as_dicts(value.get("replicas"))],
    )


def parse_js_config(value: object) -> JetStreamConfig:
    """A :class:`JetStreamConfig` from a JetStream ``config`` block."""
    d = as_dict(value)
    return JetStreamConfig(
        max_memory=as_int(d.get("max_memory")),
        max_storage=as_int(d.get("max_storage")),
        store_dir=as_str(d.get("store_dir")),
        domain=as_str(d.get("domain")),
        sync_interval=ns_to_seconds(d.get("sync_interval")),
        compress_ok=as_bool(d.get("compress_ok")),
        strict=as_bool(d.get("strict")),
    )


def parse_js_info(value: object) -> JetStreamInfo | None:
    """The ``jetstream`` block of STATSZ/VARZ; None when absent or empty."""
    if not isinstance(value, dict) or not value:
        return None
    stats = as_dict(value.get("stats"))
    return JetStreamInfo(
        config=parse_js_config(value.get("config")),
        stats=JetStreamUsage(
            memory=as_int(stats.get("memory")),
            storage=as_int(stats.get("storage")),
            reserved_memory=as_int(stats.get("reserved_memory")),
            reserved_storage=as_int(stats.get("reserved_storage")),
            accounts=as_int(stats.get("accounts")),
            ha_assets=as_int(stats.get("ha_assets")),
            api=parse_api(stats.get("api")),
        ),
        meta=parse_meta(value.get("meta")),
    )


def parse_placement(value: object) -> Placement:
    """A :class:`Placement` from a ``placement`` block."""
    d = as_dict(value)
    return Placement(
        cluster=as_str(d.get("cluster")),
        tags=as_str_list(d.get("tags")),
        preferred=as_str(d.get("preferred")),
    )


def parse_move(value: object) -> MoveStatus | None:
    """A :class:`MoveStatus` from ``cluster.desired``; None when nothing is pending."""
    if not isinstance(value, dict) or not value:
        return None
    origin = as_dict(value.get("origin"))
    placement = as_dict(origin.get("placement"))
    status = as_dict(value.get("status"))
    return MoveStatus(
        cluster=as_str(value.get("name")),
        created=as_str(value.get("created")),
        replicas=[parse_peer(p) for p in as_dicts(value.get("replicas"))],
        origin_cluster=as_str(placement.get("cluster")),
        origin_tags=as_str_list(placement.get("tags")),
        origin_replicas=as_int(origin.get("replicas")),
        status_type=as_str(status.get("type")),
        status_description=as_str(status.get("description")),
    )


def parse_cluster_info(value: object) -> ClusterInfo:
    """A :class:`ClusterInfo` from a stream's or consumer's ``cluster`` block."""
    d = as_dict(value)
    return ClusterInfo(
        name=as_str(d.get("name")),
        leader=as_str(d.get("leader")),
        leader_since=as_str(d.get("leader_since")),
        raft_group=as_str(d.get("raft_group")),
        replicas=[parse_peer(p) for p in as_dicts(d.get("replicas"))],
        desired=parse_move(d.get("desired")),
        traffic_account=as_str(d.get("traffic_account")),
    )


def parse_sequence(value: object) -> SequenceInfo:
    """A :class:`SequenceInfo` from ``delivered`` or ``ack_floor``."""
    d = as_dict(value)
    return SequenceInfo(
        consumer_seq=as_int(d.get("consumer_seq")),
        stream_seq=as_int(d.get("stream_seq")),
        last_active=as_str(d.get("last_active")),
    )


def parse_consumer(
    value: object, server: str = "", account: str = "", account_id: str = ""
) -> ConsumerInfo:
    """A :class:`ConsumerInfo` from one ``consumer_detail`` entry."""
    d = as_dict(value)
    config = as_dict(d.get("config"))
    filters = as_str_list(config.get("filter_subjects"))
    single = as_str(config.get("filter_subject"))
    if single and single not in filters:
        filters.insert(0, single)
    name = as_str(d.get("name")) or as_str(config.get("name"))
    return ConsumerInfo(
        server=server,
        account=account,
        account_id=account_id,
        stream=as_str(d.get("stream_name")),
        name=name,
        created=as_str(d.get("created")),
        durable=as_str(config.get("durable_name")),
        ack_policy=as_str(config.get("ack_policy")),
        deliver_policy=as_str(config.get("deliver_policy")),
        deliver_subject=as_str(config.get("deliver_subject")),
        filter_subjects=filters,
        max_ack_pending=as_int(config.get("max_ack_pending")),
        max_deliver=as_int(config.get("max_deliver")),
        ack_wait=ns_to_seconds(config.get("ack_wait")),
        num_replicas=as_int(config.get("num_replicas")),
        delivered=parse_sequence(d.get("delivered")),
        ack_floor=parse_sequence(d.get("ack_floor")),
        num_pending=as_int(d.get("num_pending")),
        num_ack_pending=as_int(d.get("num_ack_pending")),
        num_redelivered=as_int(d.get("num_redelivered")),
        num_waiting=as_int(d.get("num_waiting")),
        paused=as_bool(d.get("paused")),
        pause_remaining=ns_to_seconds(d.get("pause_remaining")),
        pause_until=as_str(config.get("pause_until")),
        push_bound=as_bool(d.get("push_bound")),
        cluster=parse_cluster_info(d.get("cluster")),
        config=config,
    )


def parse_stream(
    value: object, server: str = "", account: str = "", account_id: str = ""
) -> StreamInfo:
    """A :class:`StreamInfo` from one ``stream_detail`` entry (any value)."""
    if type(value) is dict:
        info = _stream_fast(value, server, account, account_id)
        if info is not None:
            return info
    return _stream_tolerant(value, server, account, account_id)


def _stream_tolerant(
    value: object, server: str = "", account: str = "", account_id: str = ""
) -> StreamInfo:
    """Any value: every field coerced or defaulted."""
    d = as_dict(value)
    config = as_dict(d.get("config"))
    state = as_dict(d.get("state"))
    name = as_str(d.get("name")) or as_str(config.get("name"))
    mirror = as_dict(config.get("mirror"))
    sources = [as_str(s.get("name")) for s in as_dicts(config.get("sources"))]
    consumers = [
        parse_consumer(c, server, account, account_id)
        for c in as_dicts(d.get("consumer_detail"))
    ]
    for consumer in consumers:
        if not consumer.stream:
            consumer.stream = name
    groups = {
        as_str(g.get("name")): as_str(g.get("raft_group"))
        for g in as_dicts(d.get("consumer_raft_groups"))
    }
    cluster = parse_cluster_info(d.get("cluster"))
    if not cluster.raft_group:
        cluster.raft_group = as_str(d.get("stream_raft_group"))
    return StreamInfo(
        server=server,
        account=account,
        account_id=account_id,
        name=name,
        created=as_str(d.get("created")),
        subjects=as_str_list(config.get("subjects")),
        num_replicas=max(1, as_int(config.get("num_replicas"), 1)),
        storage=as_str(config.get("storage")),
        retention=as_str(config.get("retention")),
        placement=parse_placement(config.get("placement")),
        mirror=as_str(mirror.get("name")),
        sources=[s for s in sources if s],
        sealed=as_bool(config.get("sealed")),
        state=StreamState(
            messages=as_int(state.get("messages")),
            bytes=as_int(state.get("bytes")),
            first_seq=as_int(state.get("first_seq")),
            last_seq=as_int(state.get("last_seq")),
            first_ts=as_str(state.get("first_ts")),
            last_ts=as_str(state.get("last_ts")),
            consumer_count=as_int(state.get("consumer_count")),
            num_subjects=as_int(state.get("num_subjects")),
            num_deleted=as_int(state.get("num_deleted")),
        ),
        cluster=cluster,
        consumers=consumers,
        consumer_raft_groups=groups,
        config=config,
    )


def _peers_fast(items: list[Any]) -> list[PeerInfo] | None:
    """Replica entries whose fields all have their JSON types; None otherwise."""
    out: list[PeerInfo] = []
    append = out.append
    for p in items:
        if type(p) is not dict:
            return None
        get = p.get
        name = get("name", "")
        peer = get("peer", "")
        current = get("current", False)
        offline = get("offline", False)
        active = get("active", 0)
        lag = get("lag", 0)
        pending = get("pending", False)
        observer = get("observer", False)
        if not (
            type(name) is str
            and type(peer) is str
            and type(current) is bool
            and type(offline) is bool
            and type(active) is int
            and type(lag) is int
            and type(pending) is bool
            and type(observer) is bool
        ):
            return None
        try:
            seconds = float(active) / 1e9
        except OverflowError:
            return None
        append(PeerInfo(name, peer, current, offline, seconds, lag, pending, observer))
    return out


def _cluster_fast(c: object) -> ClusterInfo | None:
    """A stream's ``cluster`` block when it is well typed; None otherwise."""
    if c is None:
        return ClusterInfo()
    if type(c) is not dict:
        return None
    get = c.get
    name = get("name", "")
    leader = get("leader", "")
    since = get("leader_since", "")
    group = get("raft_group", "")
    traffic = get("traffic_account", "")
    if not (
        type(name) is str
        and type(leader) is str
        and type(since) is str
        and type(group) is str
        and type(traffic) is str
    ):
        return None
    replicas = get("replicas")
    if replicas is None:
        peers: list[PeerInfo] | None = []
    elif type(replicas) is list:
        peers = _peers_fast(replicas)
    else:
        return None
    if peers is None:
        return None
    desired = get("desired")
    move = None if desired is None else parse_move(desired)
    return ClusterInfo(name, leader, since, group, peers, move, traffic)


def _placement_fast(p: object) -> Placement | None:
    if p is None:
        return Placement()
    if type(p) is not dict:
        return None
    get = p.get
    cluster = get("cluster", "")
    tags = get("tags")
    preferred = get("preferred", "")
    if type(cluster) is not str or type(preferred) is not str:
        return None
    if tags is None:
        return Placement(cluster, [], preferred)
    if type(tags) is list and set(map(type, tags)) <= _STR_ONLY:
        return Placement(cluster, list(tags), preferred)
    return None


def _stream_fast(
    d: dict[str, Any], server: str, account: str, account_id: str
) -> StreamInfo | None:
    """The common case: every field present has its JSON type. None sends the entry
    to the tolerant path (which gives the same result for what this path accepts)."""
    get = d.get
    name = get("name", "")
    created = get("created", "")
    raft_group = get("stream_raft_group", "")
    config = get("config")
    state = get("state")
    if not (
        type(name) is str
        and type(created) is str
        and type(raft_group) is str
        and (config is None or type(config) is dict)
        and (state is None or type(state) is dict)
    ):
        return None

    # Configuration: absent unless JSZ was asked with ``config``.
    if config is None:
        config = {}
        subjects: list[str] = []
        replicas = 1
        storage = retention = mirror = ""
        placement: Placement | None = Placement()
        sources: list[str] = []
        sealed = False
    else:
        cget = config.get
        raw_subjects = cget("subjects")
        replicas = cget("num_replicas", 1)
        storage = cget("storage", "")
        retention = cget("retention", "")
        sealed = cget("sealed", False)
        if not (
            type(replicas) is int
            and type(storage) is str
            and type(retention) is str
            and type(sealed) is bool
        ):
            return None
        if raw_subjects is None:
            subjects = []
        elif type(raw_subjects) is list and set(map(type, raw_subjects)) <= _STR_ONLY:
            subjects = list(raw_subjects)
        else:
            return None
        if not name:
            name = cget("name", "")
            if type(name) is not str:
                return None
        placement = _placement_fast(cget("placement"))
        raw_mirror = cget("mirror")
        if raw_mirror is None:
            mirror = ""
        elif type(raw_mirror) is dict and type(raw_mirror.get("name", "")) is str:
            mirror = raw_mirror.get("name", "")
        else:
            return None
        raw_sources = cget("sources")
        if raw_sources is None:
            sources = []
        elif type(raw_sources) is list and all(
            type(x) is dict and type(x.get("name", "")) is str for x in raw_sources
        ):
            sources = [x["name"] for x in raw_sources if x.get("name")]
        else:
            return None
    if placement is None:
        return None

    # State: message counts and sequences.
    if state is None:
        stream_state = StreamState()
    else:
        sget = state.get
        messages = sget("messages", 0)
        size = sget("bytes", 0)
        first_seq = sget("first_seq", 0)
        last_seq = sget("last_seq", 0)
        first_ts = sget("first_ts", "")
        last_ts = sget("last_ts", "")
        consumer_count = sget("consumer_count", 0)
        num_subjects = sget("num_subjects", 0)
        num_deleted = sget("num_deleted", 0)
        if not (
            type(messages) is int
            and type(size) is int
            and type(first_seq) is int
            and type(last_seq) is int
            and type(first_ts) is str
            and type(last_ts) is str
            and type(consumer_count) is int
            and type(num_subjects) is int
            and type(num_deleted) is int
        ):
            return None
        stream_state = StreamState(
            messages,
            size,
            first_seq,
            last_seq,
            first_ts,
            last_ts,
            consumer_count,
            num_subjects,
            num_deleted,
        )

    cluster = _cluster_fast(get("cluster"))
    if cluster is None:
        return None
    if not cluster.raft_group:
        cluster.raft_group = raft_group

    # Consumers (JSZ with ``consumer``) and their raft groups are rarer: tolerant.
    # TODO: a fast path for consumer_detail too; the JetStream and Consumers views
    # ask JSZ with ``consumer``, and one consumer per stream read this way makes a
    # fleet's JSZ (30,000 replicas) take about 2.5 times as long to parse.
    raw_consumers = get("consumer_detail")
    consumers: list[ConsumerInfo] = []
    if raw_consumers is not None:
        consumers = [
            parse_consumer(c, server, account, account_id)
            for c in as_dicts(raw_consumers)
        ]
        for consumer in consumers:
            if not consumer.stream:
                consumer.stream = name
    raw_groups = get("consumer_raft_groups")
    groups: dict[str, str] = {}
    if raw_groups is not None:
        groups = {
            as_str(g.get("name")): as_str(g.get("raft_group"))
            for g in as_dicts(raw_groups)
        }
    return StreamInfo(
        server,
        account,
        account_id,
        name,
        created,
        subjects,
        max(1, replicas),
        storage,
        retention,
        placement,
        mirror,
        sources,
        sealed,
        stream_state,
        cluster,
        consumers,
        groups,
        config,
    )


def _streams(
    items: object, server: str, account: str, account_id: str
) -> list[StreamInfo]:
    """Every stream of a ``stream_detail`` list; non-dict entries are skipped."""
    if type(items) is not list:
        return [
            _stream_tolerant(s, server, account, account_id) for s in as_dicts(items)
        ]
    fast = _stream_fast
    out: list[StreamInfo] = []
    append = out.append
    for item in items:
        if type(item) is dict:
            info = fast(item, server, account, account_id)
            append(
                info
                if info is not None
                else _stream_tolerant(item, server, account, account_id)
            )
        elif isinstance(item, dict):
            append(_stream_tolerant(item, server, account, account_id))
    return out


def parse_js_account(value: object, server: str = "") -> JsAccount:
    """A :class:`JsAccount` from one ``account_details`` entry."""
    d = as_dict(value)
    name = as_str(d.get("name"))
    account_id = as_str(d.get("id"))
    return JsAccount(
        name=name or account_id,
        id=account_id or name,
        memory=as_int(d.get("memory")),
        storage=as_int(d.get("storage")),
        reserved_memory=as_int(d.get("reserved_memory")),
        reserved_storage=as_int(d.get("reserved_storage")),
        ha_assets=as_int(d.get("ha_assets")),
        api=parse_api(d.get("api")),
        streams=_streams(
            d.get("stream_detail"), server, name or account_id, account_id or name
        ),
    )


@reply_parser("JSZ")
def parse_jsz(d: dict[str, Any], server: str = "") -> Jsz:
    """A :class:`Jsz` from a JSZ ``data`` block; ``server`` is the replying server."""
    return Jsz(
        server=server,
        server_id=as_str(d.get("server_id")),
        now=as_str(d.get("now")),
        disabled=as_bool(d.get("disabled")),
        config=parse_js_config(d.get("config")),
        memory=as_int(d.get("memory")),
        storage=as_int(d.get("storage")),
        reserved_memory=as_int(d.get("reserved_memory")),
        reserved_storage=as_int(d.get("reserved_storage")),
        accounts=as_int(d.get("accounts")),
        ha_assets=as_int(d.get("ha_assets")),
        api=parse_api(d.get("api")),
        streams=as_int(d.get("streams")),
        consumers=as_int(d.get("consumers")),
        messages=as_int(d.get("messages")),
        bytes=as_int(d.get("bytes")),
        streams_leader=as_int(d.get("streams_leader")),
        consumers_leader=as_int(d.get("consumers_leader")),
        meta=parse_meta(d.get("meta_cluster")),
        account_details=[
            parse_js_account(a, server) for a in as_dicts(d.get("account_details"))
        ],
    )
