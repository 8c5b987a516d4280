"""The subjects of the NATS system and JetStream APIs that natsops uses, as data:
direction, the account that may use each, read or write, and the features needing it.

Placeholders in a template (``<id>``, ``<acc>``, ``<stream>``, ``<consumer>``,
``<user>``) become ``*`` in the permission pattern; ``<inbox>`` is the reply prefix
(``_INBOX`` unless a custom inbox prefix is set).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from natsops.perms.subjects import Direction

AccountKind = Literal["system", "owner", "either"]
Access = Literal["read", "write"]
Role = Literal["observer", "operator"]

ROLES: tuple[Role, ...] = ("observer", "operator")
DEFAULT_INBOX = "_INBOX"

_PLACEHOLDER = re.compile(r"<[a-z]+>")


@dataclass(frozen=True)
class Feature:
    """A natsops capability that needs some subjects.

    ``where`` says which connection can provide it: the system account, a user of
    the account that owns the streams (``owner``), or either. ``role`` is the least
    recommended role that includes it (None: in no recommended role).
    """

    id: str
    title: str
    where: AccountKind
    access: Access
    role: Role | None
    replies: bool = True

    @property
    def write(self) -> bool:
        return self.access == "write"


@dataclass(frozen=True)
class SubjectEntry:
    """One subject of the catalogue.

    ``account`` says where the server answers it (``system``: only for users of the
    system account; ``owner``: a user of the account that owns the stream or is
    being asked about; ``either``). ``probe`` is the body of a harmless request that
    shows whether the permission holds (None: no harmless request exists), and is
    only meaningful for publish subjects.
    """

    template: str
    direction: Direction
    account: AccountKind
    access: Access
    features: tuple[str, ...]
    summary: str
    note: str = ""
    since: str = ""
    probe: str | None = None

    @property
    def pattern(self) -> str:
        """The permission pattern: placeholders become ``*``."""
        return self.pattern_for()

    def pattern_for(
        self, account: str | None = None, inbox_prefix: str | None = None
    ) -> str:
        """The pattern with ``<acc>`` filled in (when given) and the inbox prefix."""
        text = self.template.replace("<inbox>", inbox_prefix or DEFAULT_INBOX)
        if account:
            text = text.replace("<acc>", account)
        return _PLACEHOLDER.sub("*", text)

    def admits(self, kind: Literal["system", "owner"]) -> bool:
        """Can a connection of this kind use the subject?"""
        return self.account in ("either", kind)


def _features() -> dict[str, Feature]:
    obs: Role = "observer"
    op: Role = "operator"
    rows: list[Feature] = [
        Feature("whoami", "identity and effective permissions", "either", "read", obs),
        Feature(
            "servers", "servers: statistics, variables, ids", "system", "read", obs
        ),
        Feature("connections", "client connections", "system", "read", obs),
        Feature(
            "jetstream", "JetStream overview and meta group", "either", "read", obs
        ),
        Feature("streams", "streams of every account", "either", "read", obs),
        Feature("consumers", "consumers of a stream", "either", "read", obs),
        Feature("health", "server health", "system", "read", obs),
        Feature("topology", "routes, gateways, leafnodes", "system", "read", obs),
        Feature("accounts", "accounts and their statistics", "system", "read", obs),
        Feature(
            "events.system",
            "system events and advisories",
            "system",
            "read",
            obs,
            replies=False,
        ),
        Feature(
            "events.account",
            "advisories of an account",
            "owner",
            "read",
            obs,
            replies=False,
        ),
        Feature("stepdown.meta", "meta leader stepdown", "system", "write", op),
        Feature("stepdown.stream", "stream leader stepdown", "owner", "write", op),
        Feature("stepdown.consumer", "consumer leader stepdown", "owner", "write", op),
        Feature("move", "move a stream off a server", "either", "write", op),
        Feature(
            "move.placement", "move a stream to a cluster or tags", "owner", "write", op
        ),
        Feature("move.cancel", "cancel a stream move", "either", "write", op),
        Feature("peer.remove", "remove a stream peer", "owner", "write", op),
        Feature("peer.evacuate", "evacuate a stream peer", "owner", "write", op),
        Feature("consumer.peer.remove", "remove a consumer peer", "owner", "write", op),
        Feature(
            "consumer.peer.evacuate", "evacuate a consumer peer", "owner", "write", op
        ),
        Feature(
            "server.remove",
            "remove a server from the meta group",
            "system",
            "write",
            op,
        ),
        Feature("server.evacuate", "evacuate a server", "system", "write", op),
        Feature("meta.rescue", "rescue the meta group", "system", "write", None),
        Feature("purge.account", "purge an account's JetStream", "system", "write", op),
        Feature("consumer.pause", "pause or resume a consumer", "owner", "write", op),
        Feature("consumer.unpin", "unpin a pinned client", "owner", "write", op),
        Feature("server.reload", "reload a server's config", "system", "write", op),
        Feature("connection.kick", "disconnect a client", "system", "write", op),
    ]
    return {f.id: f for f in rows}


#: Every natsops feature by id.
FEATURES: dict[str, Feature] = _features()

_PING_KINDS = {
    "STATSZ": (("servers",), "server statistics", ""),
    "VARZ": (("servers",), "server variables and config", ""),
    "IDZ": (("servers",), "server name, host and id (replies are not enveloped)", ""),
    "SUBSZ": (("servers",), "subscription counts", '{"limit": 1}'),
    "CONNZ": (("connections",), "client connections", '{"limit": 1}'),
    "ROUTEZ": (("topology",), "routes", ""),
    "GATEWAYZ": (("topology",), "gateways", ""),
    "LEAFZ": (("topology",), "leafnode connections", ""),
    "ACCOUNTZ": (("accounts",), "accounts", ""),
    "JSZ": (("jetstream", "streams", "consumers"), "JetStream", '{"limit": 1}'),
    "HEALTHZ": (("health",), "health", ""),
    "RAFTZ": ((), "raft groups", ""),
    "EXPVARZ": ((), "Go runtime variables", ""),
    "IPQUEUESZ": ((), "internal queues", ""),
    "PROFILEZ": ((), "profiles (expensive: takes a CPU profile)", None),
}

#: Per-server forms natsops uses (paging and detail views).
_PER_SERVER_FEATURES = {
    "STATSZ": ("servers",),
    "VARZ": ("servers",),
    "CONNZ": ("connections",),
    "SUBSZ": ("servers",),
    "JSZ": ("streams", "consumers"),
}

_MISSING_FROM_REFERENCE = {"JSZ", "HEALTHZ", "IDZ", "RAFTZ", "EXPVARZ", "IPQUEUESZ"}


def _server_entries() -> list[SubjectEntry]:
    out: list[SubjectEntry] = []
    for kind, (features, summary, probe) in _PING_KINDS.items():
        note = (
            "missing from the reference list" if kind in _MISSING_FROM_REFERENCE else ""
        )
        if kind == "CONNZ":
            note = (
                "from another account it is imported and answers that account's "
                "own connections only"
            )
        out.append(
            SubjectEntry(
                f"$SYS.REQ.SERVER.PING.{kind}",
                "pub",
                "system",
                "read",
                features,
                f"{summary}, from every server",
                note=note,
                probe=probe,
            )
        )
        out.append(
            SubjectEntry(
                f"$SYS.REQ.SERVER.<id>.{kind}",
                "pub",
                "system",
                "read",
                _PER_SERVER_FEATURES.get(kind, ()),
                f"{summary}, from one server (ids change on every restart)",
                probe=probe,
            )
        )
    out += [
        SubjectEntry(
            "$SYS.REQ.SERVER.<id>.RELOAD",
            "pub",
            "system",
            "write",
            ("server.reload",),
            "reload one server's configuration",
        ),
        SubjectEntry(
            "$SYS.REQ.SERVER.<id>.KICK",
            "pub",
            "system",
            "write",
            ("connection.kick",),
            'disconnect a client ({"cid": N})',
            note="missing from the reference list",
            probe='{"cid": 0}',
        ),
        SubjectEntry(
            "$SYS.REQ.SERVER.<id>.LDM",
            "pub",
            "system",
            "write",
            (),
            'send a client a lame-duck notice ({"cid": N})',
            note="missing from the reference list",
            probe='{"cid": 0}',
        ),
    ]
    return out


def _account_entries() -> list[SubjectEntry]:
    out = [
        SubjectEntry(
            f"$SYS.REQ.ACCOUNT.<acc>.{kind}",
            "pub",
            "system",
            "read",
            ("accounts",) if kind in ("CONNZ", "STATZ", "JSZ", "INFO") else (),
            f"one account's {summary}, from every server",
            note="" if kind in ("CONNZ", "STATZ") else "missing from the reference",
            probe="",
        )
        for kind, summary in (
            ("CONNZ", "connections"),
            ("SUBSZ", "subscriptions"),
            ("LEAFZ", "leafnodes"),
            ("JSZ", "JetStream usage"),
            ("INFO", "details"),
            ("STATZ", "statistics"),
        )
    ]
    out += [
        SubjectEntry(
            "$SYS.REQ.ACCOUNT.PING.STATZ",
            "pub",
            "either",
            "read",
            ("accounts",),
            "statistics of every account: the only real account fan-out",
            note="from another account it answers that account's own statistics",
            probe="",
        ),
        SubjectEntry(
            "$SYS.REQ.ACCOUNT.PING.CONNZ",
            "pub",
            "owner",
            "read",
            (),
            "an account's own connections (imported into every account)",
            note="sent from the system account it means an account named PING",
        ),
        SubjectEntry(
            "$SYS.REQ.USER.INFO",
            "pub",
            "either",
            "read",
            ("whoami",),
            "the caller's user, account and effective permissions (local server)",
            probe="",
        ),
        SubjectEntry(
            "$SYS.REQ.USER.<user>.INFO",
            "pub",
            "system",
            "read",
            (),
            "one user's information",
        ),
        SubjectEntry(
            "$SYS.DEBUG.SUBSCRIBERS",
            "pub",
            "system",
            "read",
            (),
            "count subscribers of a subject (local server, requesting account only)",
        ),
    ]
    claims = (
        ("$SYS.REQ.CLAIMS.UPDATE", "push updated account JWTs", "write"),
        ("$SYS.REQ.CLAIMS.PACK", "pack claims", "read"),
        ("$SYS.REQ.CLAIMS.LIST", "list claims", "read"),
        ("$SYS.REQ.CLAIMS.DELETE", "delete claims", "write"),
        ("$SYS.REQ.ACCOUNT.<acc>.CLAIMS.LOOKUP", "look up an account JWT", "read"),
        ("$SYS.REQ.ACCOUNT.<acc>.CLAIMS.UPDATE", "update an account JWT", "write"),
        (
            "$SYS.ACCOUNT.<acc>.CLAIMS.UPDATE",
            "update an account JWT (a request subject, not an event)",
            "write",
        ),
    )
    for template, summary, access in claims:
        out.append(
            SubjectEntry(
                template,
                "pub",
                "system",
                access,  # type: ignore[arg-type]
                (),
                summary,
                note="answered only with a full or cache resolver (MEMORY: 503)",
            )
        )
    return out


def _events() -> list[SubjectEntry]:
    out = [
        SubjectEntry(
            "$SYS.SERVER.>",
            "sub",
            "system",
            "read",
            ("events.system",),
            "server events (STATSZ, SHUTDOWN, LAMEDUCK, CLIENT.AUTH.ERR)",
        ),
        SubjectEntry(
            "$SYS.ACCOUNT.>",
            "sub",
            "system",
            "read",
            ("events.system",),
            "connect and disconnect events of every account (storms possible)",
        ),
        SubjectEntry(
            "$JS.EVENT.>",
            "sub",
            "either",
            "read",
            ("events.system", "events.account"),
            "JetStream advisories and metrics (owner-only ones need the owner)",
        ),
        SubjectEntry(
            "<inbox>.>",
            "sub",
            "either",
            "read",
            tuple(f.id for f in FEATURES.values() if f.replies),
            "replies to every request",
            note="the custom inbox prefix replaces _INBOX when one is set",
        ),
    ]
    single = (
        ("$SYS.SERVER.<id>.STATSZ", "system", "statistics every 10 s"),
        ("$SYS.SERVER.<id>.SHUTDOWN", "system", "server shutdown"),
        ("$SYS.SERVER.<id>.LAMEDUCK", "system", "lame duck (then no SHUTDOWN)"),
        ("$SYS.SERVER.<id>.CLIENT.AUTH.ERR", "system", "authentication failures"),
        ("$SYS.ACCOUNT.<acc>.CONNECT", "system", "client connected"),
        ("$SYS.ACCOUNT.<acc>.DISCONNECT", "system", "client disconnected"),
        ("$SYS.ACCOUNT.<acc>.LEAFNODE.CONNECT", "system", "leafnode connected"),
        ("$SYS.ACCOUNT.<acc>.SERVER.CONNS", "system", "connection counts"),
        (
            "$SYS.SERVER.ACCOUNT.<acc>.CONNS",
            "system",
            "legacy duplicate of SERVER.CONNS",
        ),
        ("$JS.EVENT.ADVISORY.>", "either", "JetStream advisories"),
        ("$JS.EVENT.METRIC.>", "either", "JetStream metrics"),
    )
    for template, account, summary in single:
        out.append(
            SubjectEntry(
                template,
                "sub",
                account,  # type: ignore[arg-type]
                "read",
                (),
                summary,
                note="natsops receives it through a wildcard subscription above",
            )
        )
    return out


_NO_STREAM = '{"name": "<stream>"}'


def _js(
    template: str,
    account: AccountKind,
    access: Access,
    features: tuple[str, ...],
    summary: str,
    *,
    note: str = "",
    since: str = "",
    probe: str | None = None,
) -> SubjectEntry:
    return SubjectEntry(
        template, "pub", account, access, features, summary, note, since, probe
    )


def _js_entries() -> list[SubjectEntry]:
    return [
        _js(
            "$JS.API.INFO",
            "owner",
            "read",
            ("jetstream",),
            "account JetStream info",
            note="the system account answers 10039: it has no JetStream",
            probe="",
        ),
        _js(
            "$JS.API.STREAM.NAMES",
            "owner",
            "read",
            ("streams",),
            "list stream names",
            probe="",
        ),
        _js(
            "$JS.API.STREAM.LIST",
            "owner",
            "read",
            ("streams",),
            "list streams",
            probe='{"offset": 0}',
        ),
        _js(
            "$JS.API.STREAM.INFO.<stream>",
            "owner",
            "read",
            ("streams", "move.placement"),
            "stream info",
            probe="",
        ),
        _js("$JS.API.STREAM.CREATE.<stream>", "owner", "write", (), "create a stream"),
        _js(
            "$JS.API.STREAM.UPDATE.<stream>",
            "owner",
            "write",
            ("move.placement",),
            "update a stream (a new placement moves it)",
            probe=_NO_STREAM,
        ),
        _js("$JS.API.STREAM.DELETE.<stream>", "owner", "write", (), "delete a stream"),
        _js("$JS.API.STREAM.PURGE.<stream>", "owner", "write", (), "purge a stream"),
        _js(
            "$JS.API.STREAM.SNAPSHOT.<stream>",
            "owner",
            "write",
            (),
            "snapshot a stream",
        ),
        _js(
            "$JS.API.STREAM.RESTORE.<stream>", "owner", "write", (), "restore a stream"
        ),
        _js("$JS.API.STREAM.MSG.GET.<stream>", "owner", "read", (), "get a message"),
        _js(
            "$JS.API.STREAM.MSG.DELETE.<stream>",
            "owner",
            "write",
            (),
            "delete a message",
        ),
        _js("$JS.API.DIRECT.GET.<stream>", "owner", "read", (), "direct get"),
        _js(
            "$JS.API.DIRECT.GET.<stream>.>",
            "owner",
            "read",
            (),
            "direct get last by subject",
        ),
        _js(
            "$JS.API.STREAM.LEADER.STEPDOWN.<stream>",
            "owner",
            "write",
            ("stepdown.stream",),
            "stream leader stepdown",
            probe="",
        ),
        _js(
            "$JS.API.STREAM.PEER.REMOVE.<stream>",
            "owner",
            "write",
            ("peer.remove",),
            "remove a stream peer",
            probe='{"peer": "<server>"}',
        ),
        _js(
            "$JS.API.STREAM.PEER.EVACUATE.<stream>",
            "owner",
            "write",
            ("peer.evacuate",),
            "migrate a stream peer away, then remove it",
            since="2.15",
            probe='{"peer": "<server>"}',
        ),
        _js(
            "$JS.API.CONSUMER.CREATE.<stream>",
            "owner",
            "write",
            (),
            "create a consumer",
        ),
        _js(
            "$JS.API.CONSUMER.CREATE.<stream>.>",
            "owner",
            "write",
            (),
            "create a named consumer",
        ),
        _js(
            "$JS.API.CONSUMER.DURABLE.CREATE.<stream>.<consumer>",
            "owner",
            "write",
            (),
            "create a durable consumer",
        ),
        _js(
            "$JS.API.CONSUMER.DELETE.<stream>.<consumer>",
            "owner",
            "write",
            (),
            "delete a consumer",
        ),
        _js(
            "$JS.API.CONSUMER.INFO.<stream>.<consumer>",
            "owner",
            "read",
            ("consumers",),
            "consumer info",
            probe="",
        ),
        _js(
            "$JS.API.CONSUMER.NAMES.<stream>",
            "owner",
            "read",
            ("consumers",),
            "list consumer names",
            probe="",
        ),
        _js(
            "$JS.API.CONSUMER.LIST.<stream>",
            "owner",
            "read",
            ("consumers",),
            "list consumers",
            probe="",
        ),
        _js(
            "$JS.API.CONSUMER.MSG.NEXT.<stream>.<consumer>",
            "owner",
            "write",
            (),
            "pull messages (consumes them)",
        ),
        _js(
            "$JS.API.CONSUMER.PAUSE.<stream>.<consumer>",
            "owner",
            "write",
            ("consumer.pause",),
            "pause or resume a consumer",
            probe="{}",
        ),
        _js(
            "$JS.API.CONSUMER.UNPIN.<stream>.<consumer>",
            "owner",
            "write",
            ("consumer.unpin",),
            "unpin a consumer's pinned client",
            probe='{"group": "<consumer>"}',
        ),
        _js(
            "$JS.API.CONSUMER.RESET.<stream>.<consumer>",
            "owner",
            "write",
            (),
            "reset a consumer to a sequence",
            note="missing from the reference",
        ),
        _js(
            "$JS.API.CONSUMER.LEADER.STEPDOWN.<stream>.<consumer>",
            "owner",
            "write",
            ("stepdown.consumer",),
            "consumer leader stepdown",
            probe="",
        ),
        _js(
            "$JS.API.CONSUMER.PEER.REMOVE.<stream>.<consumer>",
            "owner",
            "write",
            ("consumer.peer.remove",),
            "remove a consumer peer",
            since="2.15.1",
            probe='{"peer": "<server>"}',
        ),
        _js(
            "$JS.API.CONSUMER.PEER.EVACUATE.<stream>.<consumer>",
            "owner",
            "write",
            ("consumer.peer.evacuate",),
            "evacuate a consumer peer",
            since="2.15.1",
            probe='{"peer": "<server>"}',
        ),
        _js(
            "$JS.API.META.LEADER.STEPDOWN",
            "system",
            "write",
            ("stepdown.meta",),
            "meta leader stepdown",
            note="from another account the request is dropped",
        ),
        _js(
            "$JS.API.META.RESCUE",
            "system",
            "write",
            ("meta.rescue",),
            "rescue a meta group that lost quorum",
            since="2.15",
        ),
        _js(
            "$JS.API.SERVER.REMOVE",
            "system",
            "write",
            ("server.remove",),
            "remove a server from the meta group (dangerous while it is online)",
            probe='{"peer": "<server>"}',
        ),
        _js(
            "$JS.API.SERVER.EVACUATE",
            "system",
            "write",
            ("server.evacuate",),
            "move every asset off a server",
            since="2.15",
            probe='{"peer": "<server>"}',
        ),
        _js(
            "$JS.API.ACCOUNT.PURGE.<acc>",
            "system",
            "write",
            ("purge.account",),
            "delete every stream of an account",
        ),
        _js(
            "$JS.API.ACCOUNT.STREAM.MOVE.<acc>.<stream>",
            "either",
            "write",
            ("move",),
            "move a stream off one server",
            note="the reference says system only: the owning account may call it too",
            probe='{"server": "<server>"}',
        ),
        _js(
            "$JS.API.ACCOUNT.STREAM.CANCEL_MOVE.<acc>.<stream>",
            "either",
            "write",
            ("move.cancel",),
            "cancel a stream move (rolls it back)",
            note="the reference says system only: the owning account may call it too",
            probe="",
        ),
    ]


#: The whole catalogue.
CATALOGUE: tuple[SubjectEntry, ...] = tuple(
    _server_entries() + _account_entries() + _js_entries() + _events()
)


def _check() -> None:
    templates = [(e.template, e.direction) for e in CATALOGUE]
    if len(set(templates)) != len(templates):
        raise RuntimeError("duplicate subject in the permission catalogue")
    for entry in CATALOGUE:
        for fid in entry.features:
            if fid not in FEATURES:
                raise RuntimeError(f"unknown feature {fid!r} in the catalogue")
    for fid in FEATURES:
        if not any(fid in e.features and e.template != "<inbox>.>" for e in CATALOGUE):
            raise RuntimeError(f"feature {fid!r} needs no subject")


_check()


@dataclass(frozen=True)
class Requirement:
    """The subjects one feature needs on one kind of connection."""

    feature: Feature
    kind: Literal["system", "owner"]
    entries: tuple[SubjectEntry, ...] = field(default=())

    @property
    def possible(self) -> bool:
        """False when this kind of connection cannot provide the feature."""
        return self.feature.where in ("either", self.kind) and bool(self.entries)


def feature(feature_id: str) -> Feature:
    """The feature with this id (KeyError for an unknown id)."""
    return FEATURES[feature_id]


def requirement(feature_id: str, kind: Literal["system", "owner"]) -> Requirement:
    """The subjects ``feature_id`` needs on a system or an owning-account
    connection; ``possible`` is False when that kind cannot provide it."""
    feat = FEATURES[feature_id]
    if feat.where not in ("either", kind):
        return Requirement(feat, kind)
    entries = tuple(e for e in CATALOGUE if feature_id in e.features and e.admits(kind))
    if not any(e.template != "<inbox>.>" for e in entries):
        return Requirement(feat, kind)
    return Requirement(feat, kind, entries)


def entries_for(feature_id: str) -> tuple[SubjectEntry, ...]:
    """Every catalogue entry that ``feature_id`` needs, on any connection."""
    return tuple(e for e in CATALOGUE if feature_id in e.features)


def role_features(role: Role) -> tuple[Feature, ...]:
    """The features a recommended role includes (operator includes observer)."""
    wanted = {"observer"} if role == "observer" else {"observer", "operator"}
    return tuple(f for f in FEATURES.values() if f.role in wanted)
