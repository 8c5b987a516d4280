"""Raft groups of streams and consumers as operations see them: peers, leader, moves.

Built from ``STREAM.INFO``/``CONSUMER.INFO`` replies or from JSZ ``stream_detail``,
where each server reports only the replicas it hosts and the leader's view is best.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

#: Seconds without contact after which a replica that is not current counts as gone.
_SILENT = 5.0


def _map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _int(value: Any, default: int = 0) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


@dataclass
class Peer:
    """One replica of a raft group."""

    name: str
    peer_id: str = ""
    leader: bool = False
    current: bool = True
    offline: bool = False
    pending: bool = False
    lag: int = 0
    active: float = 0.0  # seconds since the leader last heard from it

    @property
    def unreachable(self) -> bool:
        """Offline, or not current and silent for longer than a heartbeat or two."""
        return self.offline or (not self.current and self.active >= _SILENT)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "peer": self.peer_id,
            "leader": self.leader,
            "current": self.current,
            "offline": self.offline,
            "pending": self.pending,
            "lag": self.lag,
            "active": round(self.active, 3),
        }


@dataclass
class GroupView:
    """A stream's or consumer's raft group at one moment."""

    account: str
    stream: str
    consumer: str | None
    replicas: int
    cluster: str
    leader: str | None
    peers: list[Peer]
    desired: dict[str, Any] | None = None
    config: dict[str, Any] = field(default_factory=dict)
    state: dict[str, Any] = field(default_factory=dict)
    account_name: str = ""
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.peers]

    def peer(self, name_or_id: str) -> Peer | None:
        for p in self.peers:
            if name_or_id in (p.name, p.peer_id):
                return p
        return None

    @property
    def healthy(self) -> list[Peer]:
        """Peers that vote: online and heard from lately (lagging still counts)."""
        return [p for p in self.peers if not p.unreachable]

    @property
    def quorum(self) -> int:
        return self.size // 2 + 1

    @property
    def size(self) -> int:
        return max(self.replicas, len(self.peers), 1)

    @property
    def moving(self) -> bool:
        return bool(self.desired)

    @property
    def label(self) -> str:
        return f"{self.stream} > {self.consumer}" if self.consumer else self.stream

    def removal_problem(self, server: str) -> str | None:
        """What removing ``server`` would do to this group, or None if harmless."""
        if self.peer(server) is None:
            return None
        if self.size <= 1:
            return f"its only replica is on {server}: the data would be lost"
        after = len([p for p in self.healthy if p.name != server])
        if after < self.quorum:
            return (
                f"left without quorum: {after} of {self.size} replicas online "
                f"without {server}, {self.quorum} needed"
            )
        return None


def _peer(doc: Mapping[str, Any]) -> Peer:
    active = doc.get("active")
    return Peer(
        name=str(doc.get("name") or ""),
        peer_id=str(doc.get("peer") or ""),
        current=doc.get("current") is True,
        offline=doc.get("offline") is True,
        pending=doc.get("pending") is True,
        lag=_int(doc.get("lag")),
        active=(active / 1e9) if isinstance(active, int | float) else 0.0,
    )


def _peers(cluster: Mapping[str, Any], reporter: str | None = None) -> list[Peer]:
    leader = cluster.get("leader")
    peers: list[Peer] = []
    if isinstance(leader, str) and leader:
        peers.append(Peer(name=leader, leader=True))
    for doc in cluster.get("replicas") or []:
        if isinstance(doc, Mapping) and doc.get("name") and doc.get("name") != leader:
            peers.append(_peer(doc))
    if reporter and reporter not in {p.name for p in peers}:
        peers.append(Peer(name=reporter))
    return peers


def _desired(cluster: Mapping[str, Any]) -> dict[str, Any] | None:
    desired = cluster.get("desired")
    return dict(desired) if isinstance(desired, Mapping) and desired else None


def stream_view(
    info: Mapping[str, Any], account: str = "", account_name: str = ""
) -> GroupView:
    """A stream's group from a ``STREAM.INFO`` reply."""
    cluster = _map(info.get("cluster"))
    config = _map(info.get("config"))
    leader = cluster.get("leader") if isinstance(cluster.get("leader"), str) else None
    return GroupView(
        account=account,
        account_name=account_name,
        stream=str(config.get("name") or ""),
        consumer=None,
        replicas=_int(config.get("num_replicas"), 1) or 1,
        cluster=str(cluster.get("name") or ""),
        leader=leader or None,
        peers=_peers(cluster),
        desired=_desired(cluster),
        config=dict(config),
        state=dict(info.get("state") or {}),
        raw=dict(info),
    )


def consumer_view(
    info: Mapping[str, Any],
    account: str = "",
    account_name: str = "",
    stream_replicas: int = 0,
) -> GroupView:
    """A consumer's group from a ``CONSUMER.INFO`` reply."""
    cluster = _map(info.get("cluster"))
    config = _map(info.get("config"))
    leader = cluster.get("leader") if isinstance(cluster.get("leader"), str) else None
    peers = _peers(cluster)
    replicas = _int(config.get("num_replicas")) or stream_replicas or len(peers) or 1
    return GroupView(
        account=account,
        account_name=account_name,
        stream=str(info.get("stream_name") or ""),
        consumer=str(info.get("name") or ""),
        replicas=replicas,
        cluster=str(cluster.get("name") or ""),
        leader=leader or None,
        peers=peers,
        desired=_desired(cluster),
        config=dict(config),
        state={},
        raw=dict(info),
    )


def _merge(views: list[tuple[str, GroupView]]) -> GroupView:
    """One group from each server's view: the leader's, plus every named peer."""
    best = next((v for server, v in views if v.leader == server), views[0][1])
    known = {p.name for p in best.peers}
    for server, view in views:
        for p in view.peers:
            if p.name not in known:
                best.peers.append(Peer(name=p.name, offline=p.offline))
                known.add(p.name)
        if server not in known:
            best.peers.append(Peer(name=server))
            known.add(server)
        if best.desired is None and view.desired is not None and view.leader == server:
            best.desired = view.desired
    return best


def groups_from_jsz(
    replies: Mapping[str, Mapping[str, Any]], account: str | None = None
) -> tuple[list[GroupView], list[GroupView]]:
    """Streams and consumers from JSZ data blocks by server name.

    JSZ must have been asked with ``accounts`` and ``streams`` (and ``consumer`` for
    consumers). Each server reports the replicas it hosts; the views are merged per
    group, preferring what the group's leader says.
    """
    streams: dict[tuple[str, str], list[tuple[str, GroupView]]] = {}
    consumers: dict[tuple[str, str, str], list[tuple[str, GroupView]]] = {}
    for server, data in replies.items():
        for acc in data.get("account_details") or []:
            acc_id = str(acc.get("id") or "")
            if account and acc_id != account:
                continue
            acc_name = str(acc.get("name") or "")
            for detail in acc.get("stream_detail") or []:
                cluster = detail.get("cluster") or {}
                config = detail.get("config") or {}
                view = GroupView(
                    account=acc_id,
                    account_name=acc_name,
                    stream=str(detail.get("name") or ""),
                    consumer=None,
                    replicas=_int(config.get("num_replicas")),
                    cluster=str(cluster.get("name") or ""),
                    leader=cluster.get("leader") or None,
                    peers=_peers(cluster, server),
                    desired=_desired(cluster),
                    config=dict(config),
                    state=dict(detail.get("state") or {}),
                    raw=dict(detail),
                )
                streams.setdefault((acc_id, view.stream), []).append((server, view))
                for cdoc in detail.get("consumer_detail") or []:
                    ccluster = cdoc.get("cluster") or {}
                    cconfig = cdoc.get("config") or {}
                    cview = GroupView(
                        account=acc_id,
                        account_name=acc_name,
                        stream=view.stream,
                        consumer=str(cdoc.get("name") or ""),
                        replicas=_int(cconfig.get("num_replicas")),
                        cluster=str(ccluster.get("name") or ""),
                        leader=ccluster.get("leader") or None,
                        peers=_peers(ccluster, server),
                        config=dict(cconfig),
                        raw=dict(cdoc),
                    )
                    key = (acc_id, view.stream, cview.consumer or "")
                    consumers.setdefault(key, []).append((server, cview))
    merged_streams = [_merge(v) for _, v in sorted(streams.items())]
    by_stream = {(s.account, s.stream): s for s in merged_streams}
    merged_consumers: list[GroupView] = []
    for key, views in sorted(consumers.items()):
        group = _merge(views)
        if not group.replicas:
            parent = by_stream.get((key[0], key[1]))
            group.replicas = parent.size if parent else len(group.peers)
        merged_consumers.append(group)
    for s in merged_streams:
        if not s.replicas:
            s.replicas = len(s.peers) or 1
    return merged_streams, merged_consumers


def risks_for_removal(
    groups: Iterable[GroupView], server: str
) -> list[tuple[GroupView, str]]:
    """Groups that would lose data or quorum if ``server`` left them."""
    out: list[tuple[GroupView, str]] = []
    for group in groups:
        problem = group.removal_problem(server)
        if problem:
            out.append((group, problem))
    return out
