"""Follow a stream move until it settles: target peers, catch-up, leader, status.

Polls ``STREAM.INFO`` through the owning account (or JSZ through the system
connection) and reports the ``cluster.desired`` progress the server publishes.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from natsops.errors import ApiError, NotFound, RequestTimeout
from natsops.ops.views import GroupView, Peer

if TYPE_CHECKING:
    from natsops.ops.operator import Operator
    from natsops.ops.plan import Outcome


@dataclass
class MoveSnapshot:
    """One look at a stream while (or after) it moves."""

    stream: str
    account: str
    elapsed: float
    cluster: str
    leader: str | None
    peers: list[Peer]
    target_peers: list[str]
    target_cluster: str | None
    status_type: str
    status_description: str
    in_flight: bool
    done: bool
    leaders: list[str] = field(default_factory=list)
    events: list[str] = field(default_factory=list)
    error: str = ""

    @property
    def peer_names(self) -> list[str]:
        return [p.name for p in self.peers]

    def describe(self) -> str:
        """One line for a terminal or a status bar."""
        if self.error:
            return f"{self.stream}: {self.error} ({self.elapsed:.1f}s)"
        peers = " ".join(
            p.name
            + ("*" if p.leader else "")
            + (" (pending)" if p.pending else "")
            + (f" (lag {p.lag})" if p.lag else "")
            for p in self.peers
        )
        if self.done:
            return (
                f"{self.stream}: settled on {peers} in cluster {self.cluster} "
                f"after {self.elapsed:.1f}s"
            )
        status = self.status_type or "waiting"
        if self.status_description:
            status += f": {self.status_description}"
        target = ", ".join(self.target_peers) or "?"
        return (
            f"{self.stream}: moving to {target} [{status}] peers {peers or '-'} "
            f"leader {self.leader or '-'} ({self.elapsed:.1f}s)"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "stream": self.stream,
            "account": self.account,
            "elapsed": round(self.elapsed, 3),
            "cluster": self.cluster,
            "leader": self.leader,
            "peers": [p.to_dict() for p in self.peers],
            "target_peers": self.target_peers,
            "target_cluster": self.target_cluster,
            "status_type": self.status_type,
            "status_description": self.status_description,
            "in_flight": self.in_flight,
            "done": self.done,
            "leaders": self.leaders,
            "events": self.events,
            "error": self.error,
        }


class MoveTracker:
    """Follows one stream's move (off a server, to a cluster or tags, or a rollback).

    Done when ``desired`` has gone and the placement matches: the server left is no
    longer a peer, the stream runs in the target cluster, and it has a leader.
    Feed JetStream advisories to :meth:`observe_event` to list them on the way.
    """

    def __init__(
        self,
        operator: Operator,
        account: str,
        stream: str,
        *,
        off_server: str | None = None,
        cluster: str | None = None,
        tags: list[str] | None = None,
    ) -> None:
        self.operator = operator
        self.account = account
        self.stream = stream
        self.off_server = off_server
        self.cluster = cluster
        self.tags = list(tags or [])
        self.started = time.monotonic()
        self.leaders: list[str] = []
        self.events: list[str] = []
        self.target_peers: list[str] = []
        self.seen_in_flight = False
        self.last: MoveSnapshot | None = None

    def observe_event(self, event: Mapping[str, Any]) -> bool:
        """Record a JetStream advisory about this stream; True when it was one."""
        if event.get("stream") != self.stream:
            return False
        kind = str(event.get("type") or "").rsplit(".", 1)[-1]
        leader = event.get("leader")
        text = kind + (f" {leader}" if leader else "")
        self.events.append(f"{time.monotonic() - self.started:.1f}s {text}")
        return True

    async def _view(self) -> GroupView:
        acc = await self.operator.resolve_account(self.account, need_link=False)
        return await self.operator._stream(acc, self.stream)

    def _settled(self, group: GroupView) -> bool:
        if group.moving or group.leader is None:
            return False
        if self.off_server and group.peer(self.off_server) is not None:
            return False
        if self.cluster and group.cluster != self.cluster:
            return False
        if self.tags:
            placement = group.config.get("placement") or {}
            if group.config and not set(self.tags) <= set(placement.get("tags") or []):
                return False
        return len(group.peers) >= group.size

    async def poll(self) -> MoveSnapshot:
        """Look once."""
        elapsed = time.monotonic() - self.started
        try:
            group = await self._view()
        except (RequestTimeout, ApiError, NotFound) as exc:
            snap = MoveSnapshot(
                self.stream,
                self.account,
                elapsed,
                "",
                None,
                [],
                self.target_peers,
                self.cluster,
                "",
                "",
                True,
                False,
                list(self.leaders),
                list(self.events),
                error=exc.problem,
            )
            self.last = snap
            return snap
        desired = group.desired or {}
        status = desired.get("status") if isinstance(desired, Mapping) else None
        if desired:
            self.seen_in_flight = True
            self.target_peers = [
                str(r.get("name")) for r in desired.get("replicas") or []
            ]
            if not self.cluster and not self.off_server and desired.get("name"):
                self.cluster = str(desired.get("name"))
        if group.leader and (not self.leaders or self.leaders[-1] != group.leader):
            self.leaders.append(group.leader)
        snap = MoveSnapshot(
            stream=self.stream,
            account=self.account,
            elapsed=elapsed,
            cluster=group.cluster,
            leader=group.leader,
            peers=group.peers,
            target_peers=list(self.target_peers),
            target_cluster=self.cluster,
            status_type=str((status or {}).get("type") or ""),
            status_description=str((status or {}).get("description") or ""),
            in_flight=bool(desired),
            done=self._settled(group),
            leaders=list(self.leaders),
            events=list(self.events),
        )
        self.last = snap
        return snap

    async def follow(
        self,
        timeout: float = 60.0,
        interval: float = 0.1,
        on_update: Callable[[MoveSnapshot], None] | None = None,
    ) -> MoveSnapshot:
        """Poll until the move settles or ``timeout`` passes; returns the last look.

        ``on_update`` gets every snapshot that differs from the one before.
        """
        deadline = time.monotonic() + timeout
        previous = ""
        while True:
            snap = await self.poll()
            line = snap.describe().rsplit(" (", 1)[0]
            if on_update is not None and line != previous:
                on_update(snap)
            previous = line
            if snap.done or time.monotonic() >= deadline:
                return snap
            await asyncio.sleep(interval)

    async def cancel(self) -> Outcome:
        """Cancel the move (plan and execute ``CANCEL_MOVE``)."""
        plan = await self.operator.plan_cancel_move(self.account, self.stream)
        return await self.operator.execute(plan)
