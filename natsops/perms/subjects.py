"""NATS subject matching for permissions: wildcard coverage and overlap, and the
decision the server makes for a publish or subscribe under allow and deny lists.

Subjects are tokens separated by ``.``; in a pattern ``*`` matches exactly one token
and ``>`` (last token only) matches one or more trailing tokens.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

Direction = Literal["pub", "sub"]
Scope = Literal["all", "some", "none"]

PWC = "*"
FWC = ">"


def tokens(subject: str) -> list[str]:
    """The tokens of a subject or pattern."""
    return subject.split(".")


def is_valid(subject: str, *, wildcards: bool = True) -> bool:
    """True for a well-formed subject (a pattern when ``wildcards``)."""
    if not subject or any(c.isspace() for c in subject):
        return False
    toks = tokens(subject)
    for i, tok in enumerate(toks):
        if not tok:
            return False
        if tok in (PWC, FWC) and not wildcards:
            return False
        if tok == FWC and i != len(toks) - 1:
            return False
    return True


def has_wildcard(subject: str) -> bool:
    """True when a subject contains a ``*`` or ``>`` token."""
    return any(t in (PWC, FWC) for t in tokens(subject))


def matches(pattern: str, subject: str) -> bool:
    """Does ``pattern`` match ``subject`` the way the server's sublist does?

    The subject's tokens are taken literally: this is the exact rule for a concrete
    subject, and the rule the server applies to a subscription's own subject (so a
    ``*`` in the pattern also matches a ``>`` token of the subscription).
    """
    return _matches(tokens(pattern), tokens(subject))


def _matches(pat: Sequence[str], sub: Sequence[str]) -> bool:
    for i, p in enumerate(pat):
        if p == FWC:
            return len(sub) > i
        if i >= len(sub):
            return False
        if p != PWC and p != sub[i]:
            return False
    return len(pat) == len(sub)


def covers(pattern: str, subject: str) -> bool:
    """Does ``pattern`` match every concrete subject that ``subject`` matches?"""
    return covers_any([pattern], subject)


def covers_any(patterns: Iterable[str], subject: str) -> bool:
    """Does the union of ``patterns`` match every subject that ``subject`` matches?

    Exact: a wildcard of ``subject`` ranges over infinitely many tokens, so only the
    patterns' wildcards can cover it, and ``>`` splits into "one token" and "more".
    """
    return _covers([tokens(p) for p in patterns], tokens(subject))


def _covers(pats: list[list[str]], sub: list[str]) -> bool:
    if not sub:
        return any(not p for p in pats)
    head, rest = sub[0], sub[1:]
    if any(p and p[0] == FWC for p in pats):
        return True
    if head == FWC:
        tails = [p[1:] for p in pats if p and p[0] == PWC]
        if not tails:
            return False
        return _covers(tails, []) and _covers(tails, [FWC])
    if head == PWC:
        tails = [p[1:] for p in pats if p and p[0] == PWC]
    else:
        tails = [p[1:] for p in pats if p and p[0] in (PWC, head)]
    if not tails:
        return False
    return _covers(tails, rest)


def overlaps(a: str, b: str) -> bool:
    """Is there a concrete subject that both patterns match?"""
    return meet(a, b) is not None


def meet(a: str, b: str) -> str | None:
    """The pattern matching exactly the subjects both ``a`` and ``b`` match, if any."""
    out = _meet(tokens(a), tokens(b))
    return None if out is None else ".".join(out)


def _meet(a: list[str], b: list[str]) -> list[str] | None:
    out: list[str] = []
    i = 0
    while True:
        if i == len(a) and i == len(b):
            return out
        if i == len(a) or i == len(b):
            return None
        x, y = a[i], b[i]
        if x == FWC:
            return out + b[i:]
        if y == FWC:
            return out + a[i:]
        if x == PWC:
            out.append(y)
        elif y == PWC or x == y:
            out.append(x)
        else:
            return None
        i += 1


@dataclass(frozen=True)
class Decision:
    """Whether a publish or subscribe on ``subject`` is allowed, and why not.

    ``scope`` is ``all`` (every subject the pattern names is allowed), ``some`` (a
    part is, the rest is denied or not allowed; for a subscription: it is accepted
    but messages on ``filtered`` subjects are not delivered) or ``none``.
    """

    direction: Direction
    subject: str
    scope: Scope
    denied_by: tuple[str, ...] = ()
    filtered: tuple[str, ...] = ()
    not_allowed: bool = False

    @property
    def allowed(self) -> bool:
        return self.scope != "none"

    @property
    def reason(self) -> str:
        """One line a person can read; empty when everything is allowed."""
        verb = "publish to" if self.direction == "pub" else "subscribe to"
        if self.scope == "all":
            return ""
        if self.scope == "none":
            if self.denied_by:
                return f"{verb} {self.subject} denied by {', '.join(self.denied_by)}"
            return f"{verb} {self.subject} not in the allow list"
        parts: list[str] = []
        if self.filtered:
            parts.append(f"except {', '.join(self.filtered)} (denied)")
        if self.not_allowed:
            parts.append("only where the allow list covers it")
        return f"{verb} {self.subject} allowed {' and '.join(parts)}".strip()


@dataclass(frozen=True)
class SubjectPermission:
    """One side (publish or subscribe) of a permission: allow and deny patterns.

    An empty allow list allows everything; deny always wins over allow.
    """

    allow: tuple[str, ...] = ()
    deny: tuple[str, ...] = ()

    @classmethod
    def parse(cls, value: Any) -> SubjectPermission:
        """From ``{"allow": [...], "deny": [...]}``, a list, a string or None."""
        if value is None:
            return cls()
        if isinstance(value, str):
            return cls(allow=(value,))
        if isinstance(value, list | tuple):
            return cls(allow=tuple(str(v) for v in value))
        if isinstance(value, Mapping):
            return cls(
                allow=_strings(value.get("allow")), deny=_strings(value.get("deny"))
            )
        raise ValueError(f"not a permission: {value!r}")

    @property
    def unrestricted(self) -> bool:
        return not self.allow and not self.deny

    def to_json(self) -> dict[str, list[str]]:
        return {"allow": list(self.allow), "deny": list(self.deny)}

    def decide_publish(self, subject: str) -> Decision:
        """Publishing to ``subject`` (its wildcards stand for any token natsops fills
        in): is every such subject allowed, some of them, or none?"""
        allowed_all = not self.allow or covers_any(self.allow, subject)
        overlapping = tuple(d for d in self.deny if overlaps(d, subject))
        if allowed_all and not overlapping:
            return Decision("pub", subject, "all")
        candidates = [subject] if not self.allow else _meets(self.allow, subject)
        some = any(not covers_any(self.deny, c) for c in candidates)
        if not some:
            if not candidates:
                return Decision("pub", subject, "none", not_allowed=True)
            denied = tuple(d for d in overlapping if covers(d, subject)) or overlapping
            return Decision("pub", subject, "none", denied_by=denied)
        return Decision(
            "pub",
            subject,
            "some",
            filtered=overlapping,
            not_allowed=not allowed_all,
        )

    def decide_subscribe(self, subject: str) -> Decision:
        """Subscribing to exactly ``subject`` (not in a queue group): the server's
        own rule (its wildcards are taken literally), plus the deny patterns that
        filter its messages.

        Entries naming a queue group (``"orders.> workers"``) only govern queue
        subscriptions, so they neither allow nor deny this one.
        """
        allow = [a for a in self.allow if not _queue_entry(a)]
        deny = [d for d in self.deny if not _queue_entry(d)]
        if self.allow and not any(matches(a, subject) for a in allow):
            return Decision("sub", subject, "none", not_allowed=True)
        denied = tuple(d for d in deny if matches(d, subject))
        if denied:
            return Decision("sub", subject, "none", denied_by=denied)
        filtered = tuple(d for d in deny if overlaps(d, subject))
        if filtered:
            return Decision("sub", subject, "some", filtered=filtered)
        return Decision("sub", subject, "all")


def _queue_entry(entry: str) -> bool:
    """A subscribe permission of the form ``"<subject> <queue group>"``."""
    return len(entry.split()) > 1


def _meets(patterns: Iterable[str], subject: str) -> list[str]:
    out = []
    for p in patterns:
        m = meet(p, subject)
        if m is not None:
            out.append(m)
    return out


def _strings(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(str(v) for v in value)


@dataclass(frozen=True)
class Permissions:
    """Publish and subscribe permissions of one user."""

    pub: SubjectPermission = field(default_factory=SubjectPermission)
    sub: SubjectPermission = field(default_factory=SubjectPermission)

    @classmethod
    def from_jwt(cls, claims: Mapping[str, Any] | None) -> Permissions:
        """From a user JWT's claims (the whole claims or their ``nats`` object)."""
        if not claims:
            return cls()
        nats = claims.get("nats", claims)
        if not isinstance(nats, Mapping):
            return cls()
        return cls(
            pub=SubjectPermission.parse(nats.get("pub")),
            sub=SubjectPermission.parse(nats.get("sub")),
        )

    @classmethod
    def from_server(cls, perms: Mapping[str, Any] | None) -> Permissions:
        """From ``$SYS.REQ.USER.INFO``'s ``permissions`` (absent means none)."""
        if not perms:
            return cls()
        return cls(
            pub=SubjectPermission.parse(perms.get("publish")),
            sub=SubjectPermission.parse(perms.get("subscribe")),
        )

    @property
    def unrestricted(self) -> bool:
        return self.pub.unrestricted and self.sub.unrestricted

    def decide(self, direction: Direction, subject: str) -> Decision:
        """Publish or subscribe decision for ``subject``."""
        if direction == "pub":
            return self.pub.decide_publish(subject)
        return self.sub.decide_subscribe(subject)

    def to_json(self) -> dict[str, dict[str, list[str]]]:
        """As JWT permission JSON: ``{"pub": {...}, "sub": {...}}``."""
        return {"pub": self.pub.to_json(), "sub": self.sub.to_json()}

    def same_as(self, other: Permissions) -> bool:
        """Equal as sets of patterns (order and duplicates do not matter)."""
        return all(
            set(a.allow) == set(b.allow) and set(a.deny) == set(b.deny)
            for a, b in ((self.pub, other.pub), (self.sub, other.sub))
        )
