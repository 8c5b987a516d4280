"""Least-privilege permission sets for the natsops roles, derived from the catalogue,
rendered as JWT permission JSON, ``nsc`` flags or a server config block.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass
from typing import Literal

from natsops.perms.catalogue import (
    DEFAULT_INBOX,
    ROLES,
    Role,
    requirement,
    role_features,
)
from natsops.perms.subjects import Permissions, SubjectPermission, covers

Target = Literal["system", "account"]
Format = Literal["json", "nsc", "conf"]
FORMATS: tuple[Format, ...] = ("json", "nsc", "conf")


@dataclass(frozen=True)
class PermissionSet:
    """A recommended permission set for one role and one kind of user."""

    role: Role
    target: Target
    permissions: Permissions
    features: tuple[str, ...]

    @property
    def pub_allow(self) -> tuple[str, ...]:
        return self.permissions.pub.allow

    @property
    def sub_allow(self) -> tuple[str, ...]:
        return self.permissions.sub.allow

    def to_jwt(self) -> dict[str, dict[str, list[str]]]:
        """JWT permission JSON: ``{"pub": {"allow", "deny"}, "sub": {...}}``."""
        return self.permissions.to_json()


def note(role: Role, target: Target) -> str:
    """The reminder printed with every recommendation."""
    if target == "system":
        return (
            "Stream and consumer operations (info, stepdown, peer remove, pause, "
            "unpin, owner-only advisories) also need a user in each owning account: "
            f"natsops perms recommend --role {role} --for account"
        )
    return (
        "Use this set for one user in each account that owns streams; server, "
        "meta and account-wide operations need a system-account user: "
        f"natsops perms recommend --role {role} --for system"
    )


def _minimal(patterns: list[str]) -> tuple[str, ...]:
    """Drop patterns that another pattern of the list already covers; keep order."""
    unique = list(dict.fromkeys(patterns))
    kept = [p for p in unique if not any(q != p and covers(q, p) for q in unique)]
    return tuple(kept)


def recommend(
    role: Role,
    target: Target = "system",
    *,
    inbox_prefix: str | None = None,
    account: str | None = None,
) -> PermissionSet:
    """The least-privilege set of ``role`` for a system-account user (``system``)
    or a user of an account that owns streams (``account``).

    ``account`` (the owning account's public key) narrows ``<acc>`` subjects.
    """
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")
    kind: Literal["system", "owner"] = "system" if target == "system" else "owner"
    pub: list[str] = []
    sub: list[str] = []
    features: list[str] = []
    for feat in role_features(role):
        req = requirement(feat.id, kind)
        if not req.possible:
            continue
        features.append(feat.id)
        for entry in req.entries:
            pattern = entry.pattern_for(
                account if kind == "owner" else None, inbox_prefix or DEFAULT_INBOX
            )
            (pub if entry.direction == "pub" else sub).append(pattern)
    perms = Permissions(
        pub=SubjectPermission(allow=_minimal(pub)),
        sub=SubjectPermission(allow=_minimal(sub)),
    )
    return PermissionSet(role, target, perms, tuple(features))


def render(
    pset: PermissionSet,
    fmt: Format,
    *,
    user: str | None = None,
    account: str | None = None,
) -> str:
    """The set as text in ``fmt``; ``json`` is pure JSON (print the note apart)."""
    if fmt == "json":
        return json.dumps(pset.to_jwt(), indent=2)
    if fmt == "nsc":
        return _nsc(pset, user, account)
    if fmt == "conf":
        return _conf(pset)
    raise ValueError(f"unknown format {fmt!r}")


def _comment(pset: PermissionSet) -> list[str]:
    who = "the system account" if pset.target == "system" else "an owning account"
    return [
        f"# natsops {pset.role} role for a user of {who}",
        f"# features: {', '.join(pset.features)}",
        f"# {note(pset.role, pset.target)}",
    ]


def _nsc(pset: PermissionSet, user: str | None, account: str | None) -> str:
    name = user or f"natsops-{pset.role}"
    acc = account or ("SYS" if pset.target == "system" else "ACCOUNT")
    lines = _comment(pset)
    parts = [
        "nsc edit user",
        f"--account {shlex.quote(acc)}",
        f"--name {shlex.quote(name)}",
    ]
    parts += [f"--allow-pub {shlex.quote(s)}" for s in pset.pub_allow]
    parts += [f"--allow-sub {shlex.quote(s)}" for s in pset.sub_allow]
    lines.append(" \\\n  ".join(parts))
    return "\n".join(lines)


def _conf(pset: PermissionSet) -> str:
    def block(name: str, subjects: tuple[str, ...]) -> list[str]:
        out = [f"  {name} {{", "    allow: ["]
        out += [f"      {json.dumps(s)}," for s in subjects]
        out += ["    ]", "  }"]
        return out

    lines = _comment(pset)
    lines.append("permissions {")
    lines += block("publish", pset.pub_allow)
    lines += block("subscribe", pset.sub_allow)
    lines.append("}")
    return "\n".join(lines)
