"""Operation keys per view: which plan a key builds from the selection, and its prompt.

The dashboard never talks to the cluster to change it directly: every key builds a
``natsops.ops`` Plan, shows it for confirmation and lets the Operator execute it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from natsops.errors import UsageError
from natsops.ui import fmt
from natsops.ui.views.base import Selection

#: Every operation key, with what it means in general (for help and the footer).
OP_KEYS: dict[str, str] = {
    "S": "stepdown (stream, consumer or meta leader, by the view)",
    "M": "move stream",
    "C": "cancel move",
    "R": "remove peer or server",
    "X": "purge account",
    "P": "pause or resume consumer",
    "U": "unpin consumer",
    "L": "reload server config",
    "K": "kick connection",
}

#: Short footer labels of the operation keys.
OP_LABELS: dict[str, str] = {
    "S": "Stepdown",
    "M": "Move",
    "C": "Cancel move",
    "R": "Remove",
    "X": "Purge",
    "P": "Pause",
    "U": "Unpin",
    "L": "Reload",
    "K": "Kick",
}

Planner = Callable[[Any, Selection, str | None], Awaitable[Any]]
Default = Callable[[Selection], str]
#: (answer, label) pairs offered for a selection, given the server roster entries.
Choices = Callable[[Selection, Sequence[Any]], list[tuple[str, str]]]


@dataclass(frozen=True)
class Action:
    """One operation key in one view."""

    key: str
    label: str
    feature: str
    plan: Planner
    #: (title, hint) of a prompt asked before planning, or None.
    prompt: tuple[str, str] | None = None
    default: Default | None = None
    #: Whether the feature is judged for the selection's account.
    per_account: bool = False
    #: Targets to pick from instead of a one-line prompt (stream moves).
    choices: Choices | None = None

    def account(self, selection: Selection) -> str | None:
        data = selection.data if isinstance(selection.data, dict) else {}
        value = data.get("account")
        return str(value) if self.per_account and value else None


def _data(selection: Selection) -> dict[str, Any]:
    return selection.data if isinstance(selection.data, dict) else {}


def _stream_of(selection: Selection) -> tuple[str, str]:
    data = _data(selection)
    stream = data.get("stream") or {}
    return str(data.get("account", "")), str(stream.get("name", ""))


def _consumer_of(selection: Selection) -> tuple[str, str, str]:
    data = _data(selection)
    con = data.get("consumer") or {}
    return (
        str(data.get("account", "")),
        str(con.get("stream_name", "")),
        str(con.get("name", "")),
    )


def parse_until(text: str, now: dt.datetime | None = None) -> dt.datetime:
    """``+1h30m`` (from now) or an RFC 3339 time, as an aware datetime."""
    now = now or dt.datetime.now(dt.UTC)
    text = text.strip()
    if text.startswith("+"):
        seconds = fmt.go_duration(text[1:])
        if seconds is None or seconds <= 0:
            raise UsageError(f"not a duration: {text!r}", "use +30m, +2h or +1h30m")
        return now + dt.timedelta(seconds=seconds)
    stamp = fmt.parse_time(text)
    if stamp is None:
        raise UsageError(
            f"not a time: {text!r}", "use +30m or 2030-01-01T00:00:00Z (RFC 3339)"
        )
    return dt.datetime.fromtimestamp(stamp, dt.UTC)


def parse_move(text: str) -> tuple[str, str]:
    """``cluster C2`` | ``tags a,b`` | ``off SERVER`` -> (kind, value)."""
    words = text.split(None, 1)
    if len(words) == 2 and words[0] in ("cluster", "tags", "off"):
        return words[0], words[1].strip()
    raise UsageError(
        f"not a move target: {text!r}",
        "type 'cluster NAME', 'tags A,B' or 'off SERVER'",
    )


# -- planners -------------------------------------------------------------------------


async def _meta_stepdown(op: Any, sel: Selection, answer: str | None) -> Any:
    return await op.plan_meta_stepdown(preferred=answer or None)


async def _server_remove(op: Any, sel: Selection, answer: str | None) -> Any:
    return await op.plan_server_remove(sel.key)


async def _server_reload(op: Any, sel: Selection, answer: str | None) -> Any:
    return await op.plan_server_reload(sel.key)


async def _kick(op: Any, sel: Selection, answer: str | None) -> Any:
    server, _, cid = sel.key.rpartition(":")
    return await op.plan_kick(server, int(cid))


async def _stream_stepdown(op: Any, sel: Selection, answer: str | None) -> Any:
    account, stream = _stream_of(sel)
    return await op.plan_stream_stepdown(account, stream, preferred=answer or None)


async def _stream_move(op: Any, sel: Selection, answer: str | None) -> Any:
    account, stream = _stream_of(sel)
    kind, value = parse_move(answer or "")
    if kind == "off":
        return await op.plan_move_off_server(account, stream, value)
    if kind == "cluster":
        return await op.plan_move_placement(account, stream, cluster=value)
    tags = [t.strip() for t in value.split(",") if t.strip()]
    return await op.plan_move_placement(account, stream, tags=tags)


async def _cancel_move(op: Any, sel: Selection, answer: str | None) -> Any:
    account, stream = _stream_of(sel)
    return await op.plan_cancel_move(account, stream)


async def _peer_remove(op: Any, sel: Selection, answer: str | None) -> Any:
    account, stream = _stream_of(sel)
    if not answer:
        raise UsageError("no peer named", "type the server name of the replica")
    return await op.plan_peer_remove(account, stream, answer)


async def _consumer_stepdown(op: Any, sel: Selection, answer: str | None) -> Any:
    account, stream, consumer = _consumer_of(sel)
    return await op.plan_consumer_stepdown(
        account, stream, consumer, preferred=answer or None
    )


async def _consumer_pause(op: Any, sel: Selection, answer: str | None) -> Any:
    account, stream, consumer = _consumer_of(sel)
    if answer is None:
        return await op.plan_consumer_resume(account, stream, consumer)
    return await op.plan_consumer_pause(account, stream, consumer, parse_until(answer))


async def _consumer_unpin(op: Any, sel: Selection, answer: str | None) -> Any:
    account, stream, consumer = _consumer_of(sel)
    if not answer:
        raise UsageError("no priority group named", "type the consumer's group")
    return await op.plan_consumer_unpin(account, stream, consumer, answer)


async def _purge(op: Any, sel: Selection, answer: str | None) -> Any:
    data = _data(sel)
    return await op.plan_account_purge(str(data.get("name") or data.get("account")))


# -- defaults for prompts ----------------------------------------------------------


def _leader_default(sel: Selection) -> str:
    stream = _data(sel).get("stream") or {}
    leader = (stream.get("cluster") or {}).get("leader")
    return f"off {leader}" if leader else "cluster "


def _replica_default(sel: Selection) -> str:
    stream = _data(sel).get("stream") or {}
    replicas = (stream.get("cluster") or {}).get("replicas") or []
    return str(replicas[0].get("name", "")) if replicas else ""


def move_choices(sel: Selection, servers: Sequence[Any]) -> list[tuple[str, str]]:
    """Where a stream can go: off each replica's server, or to another cluster.

    ``servers`` are roster entries (name, cluster, state); a cluster is offered when
    it has at least as many servers as the stream has replicas.
    """
    stream = _data(sel).get("stream") or {}
    cluster = stream.get("cluster") or {}
    config = stream.get("config") or {}
    leader = cluster.get("leader")
    here = str(cluster.get("name") or "")
    peers = [str(leader)] if leader else []
    peers += [
        str(r.get("name"))
        for r in cluster.get("replicas") or []
        if isinstance(r, dict) and r.get("name") and r.get("name") != leader
    ]
    choices = [
        (
            f"off {name}",
            f"off {name}: move the replica on {name}"
            + (" (the leader)" if name == leader else "")
            + f" to another server of {here or 'its cluster'}",
        )
        for name in peers
    ]
    size = int(config.get("num_replicas") or len(peers) or 1)
    by_cluster: dict[str, list[str]] = {}
    for entry in servers:
        name = str(getattr(entry, "cluster", "") or "")
        if name:
            by_cluster.setdefault(name, []).append(str(getattr(entry, "name", "")))
    for name, members in sorted(by_cluster.items()):
        if name == here or len(members) < size:
            continue
        choices.append(
            (
                f"cluster {name}",
                f"cluster {name}: re-place the stream (R{size}) on "
                f"{', '.join(sorted(members))}",
            )
        )
    return choices


def _peer_default(sel: Selection) -> str:
    peer = _data(sel).get("peer") or {}
    return "" if not peer or sel.key == _data(sel).get("leader") else sel.key


def _group_default(sel: Selection) -> str:
    con = _data(sel).get("consumer") or {}
    groups = (con.get("config") or {}).get("priority_groups") or []
    return str(groups[0]) if groups else ""


def is_paused(sel: Selection) -> bool:
    con = _data(sel).get("consumer") or {}
    return bool(con.get("paused"))


_PREFERRED = ("preferred new leader (empty: let the cluster choose)", "server name")

ACTIONS: dict[str, dict[str, Action]] = {
    "servers": {
        "S": Action("S", "meta stepdown", "stepdown.meta", _meta_stepdown, _PREFERRED),
        "R": Action("R", "remove server", "server.remove", _server_remove),
        "L": Action("L", "reload config", "server.reload", _server_reload),
    },
    "jetstream": {
        "S": Action(
            "S",
            "meta stepdown",
            "stepdown.meta",
            _meta_stepdown,
            _PREFERRED,
            _peer_default,
        ),
        "R": Action("R", "remove server", "server.remove", _server_remove),
    },
    "health": {
        "L": Action("L", "reload config", "server.reload", _server_reload),
    },
    "connections": {
        "K": Action("K", "kick connection", "connection.kick", _kick),
    },
    "streams": {
        "S": Action(
            "S",
            "stream stepdown",
            "stepdown.stream",
            _stream_stepdown,
            _PREFERRED,
            per_account=True,
        ),
        "M": Action(
            "M",
            "move stream",
            "move",
            _stream_move,
            ("move to", "'cluster NAME', 'tags A,B' or 'off SERVER'"),
            _leader_default,
            per_account=True,
            choices=move_choices,
        ),
        "C": Action("C", "cancel move", "move.cancel", _cancel_move, per_account=True),
        "R": Action(
            "R",
            "remove peer",
            "peer.remove",
            _peer_remove,
            ("peer to remove", "the server name of one replica"),
            _replica_default,
            per_account=True,
        ),
    },
    "consumers": {
        "S": Action(
            "S",
            "consumer stepdown",
            "stepdown.consumer",
            _consumer_stepdown,
            _PREFERRED,
            per_account=True,
        ),
        "P": Action(
            "P",
            "pause or resume",
            "consumer.pause",
            _consumer_pause,
            ("pause until", "+30m, +2h or an RFC 3339 time"),
            lambda sel: "+1h",
            per_account=True,
        ),
        "U": Action(
            "U",
            "unpin",
            "consumer.unpin",
            _consumer_unpin,
            ("priority group", "the group whose pinned client is released"),
            _group_default,
            per_account=True,
        ),
    },
    "accounts": {
        "X": Action("X", "purge account", "purge.account", _purge),
    },
}


def action_for(view: str, key: str) -> Action | None:
    return ACTIONS.get(view, {}).get(key)
