"""``natsops whoami``: who each connection is, from the local JWT and the server.

For the system connection and every account connection: user, account, whether it
is the system account, permissions, expiry and the server that answered.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from rich.console import Console
from rich.table import Table

from natsops.cli import run_async
from natsops.connection import AccountLink, Hub
from natsops.creds import Permissions, format_time
from natsops.errors import NatsopsError
from natsops.settings import Settings, resolve_settings


def register(sub: Any, parents: list[argparse.ArgumentParser]) -> None:
    """Add ``whoami`` to the parser."""
    p = sub.add_parser(
        "whoami",
        parents=parents,
        help="show the user, account and permissions of each connection",
        description="Show, for the system connection and each account connection, "
        "the user and account (name and public key), whether it is the system "
        "account, the publish and subscribe permissions, the expiry and the server "
        "that answered.",
    )
    p.add_argument("--json", action="store_true", help="print JSON (stable fields)")
    p.set_defaults(func=run_whoami)


def run_whoami(args: argparse.Namespace) -> int:
    """Entry point of ``natsops whoami``."""
    settings = resolve_settings(args)
    return run_async(_whoami(settings, as_json=bool(getattr(args, "json", False))))


async def _whoami(settings: Settings, *, as_json: bool) -> int:
    async with await Hub.open(settings, require_system=False) as hub:
        entries = [await describe_link(hub, link) for link in hub.links()]
    if as_json:
        json.dump({"connections": entries}, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        console = Console()
        for entry in entries:
            console.print(_entry_table(entry))
    return 0


async def describe_link(hub: Hub, link: AccountLink) -> dict[str, Any]:
    """One connection's identity as a JSON-ready dict (the ``--json`` shape).

    Fields: ``connection`` ("system" or the account NAME), ``url``, ``server``
    (name of the server that answered USER.INFO), ``auth`` (creds, jwt, nkey, user,
    token, none), ``credential`` (the file or context, never its content),
    ``user`` {name, public_key}, ``account`` {name, public_key},
    ``system_account`` (true, false or null when it could not be checked),
    ``permissions`` {source: server|jwt|none, pub {allow, deny}, sub {allow,
    deny}}, ``expires`` (ISO-8601 UTC or null), ``issuer`` (key that signed the
    JWT), ``signing_key`` (issued by a signing key rather than the account),
    ``bearer``, ``errors`` (what could not be learned).
    """
    errors: list[str] = []
    info = link.info
    try:
        info = await hub.user_info(link)
    except NatsopsError as exc:
        errors.append(f"user info: {exc}")

    is_system = link.is_system
    try:
        is_system = await hub.probe_system(link)
    except NatsopsError as exc:
        errors.append(f"system probe: {exc}")

    system_link = hub.system_link
    if is_system is None and system_link.is_system and link.public_key:
        # The probe was denied, but the system account's key is known.
        is_system = link.public_key == system_link.public_key

    claims = link.claims
    cred = link.credential
    cs = link.settings

    if info is not None:  # the server's view; no permissions means unrestricted
        perms, source = info.permissions, "server"
    elif claims is not None:
        perms, source = claims.permissions, "jwt"
    else:
        perms, source = Permissions(), "none"

    expires: float | None = None
    if claims is not None and claims.expires is not None:
        expires = claims.expires
    elif info is not None and info.expires_at is not None:
        expires = info.expires_at

    user_name = (info.user_name if info else None) or (claims.name if claims else None)
    user_key = (claims.public_key if claims else None) or (
        cred.public_key if cred else None
    )
    if not user_key and info is not None:
        user_key = info.user
    account_name = (info.account_name if info else None) or (
        claims.account_name if claims else None
    )

    credential: str | None = None
    if cs is not None:
        if cs.creds is not None:
            credential = str(cs.creds)
        elif cs.nkey is not None:
            credential = str(cs.nkey)
        elif cs.context is not None:
            credential = f"context {cs.context}"

    return {
        "connection": link.name,
        "url": hub.connected_url(link.name),
        "server": (info.server_name if info else None) or hub.server_name(link.name),
        "auth": cs.auth_method if cs is not None else "none",
        "credential": credential,
        "user": {"name": user_name, "public_key": user_key},
        "account": {"name": account_name, "public_key": link.public_key or None},
        "system_account": is_system,
        "permissions": {"source": source, **perms.to_json()},
        "expires": format_time(expires) if expires is not None else None,
        "issuer": claims.issuer if claims else None,
        "signing_key": claims.signed_by_signing_key if claims else False,
        "bearer": claims.bearer if claims else False,
        "errors": errors,
    }


def _lines(values: list[str]) -> str:
    return "\n".join(values) if values else "-"


def _perm_text(side: dict[str, list[str]]) -> str:
    allow, deny = side.get("allow") or [], side.get("deny") or []
    if not allow and not deny:
        return "any subject"
    parts = []
    if allow:
        parts.append("allow " + " ".join(allow))
    if deny:
        parts.append("deny  " + " ".join(deny))
    return "\n".join(parts)


def _entry_table(e: dict[str, Any]) -> Table:
    """One connection as a two-column table (field, value)."""
    title = (
        "system connection"
        if e["connection"] == "system"
        else (f"account connection {e['connection']}")
    )
    table = Table(title=title, title_justify="left", show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")

    system = e["system_account"]
    system_text = "unknown" if system is None else ("yes" if system else "no")
    if system is True:
        system_text = "[green]yes[/green]"
    user, account = e["user"], e["account"]
    table.add_row("user", f"{user['name'] or '-'}  {user['public_key'] or ''}")
    table.add_row("account", f"{account['name'] or '-'}  {account['public_key'] or ''}")
    table.add_row("system account", system_text)
    perms = e["permissions"]
    table.add_row("publish", _perm_text(perms["pub"]))
    table.add_row("subscribe", _perm_text(perms["sub"]))
    table.add_row("permissions from", perms["source"])
    table.add_row("expires", e["expires"] or "never")
    table.add_row("server", f"{e['server'] or '-'}  {e['url'] or ''}")
    table.add_row("auth", f"{e['auth']} {e['credential'] or ''}".strip())
    if e["signing_key"]:
        table.add_row("issuer", f"signing key {e['issuer']}")
    if e["bearer"]:
        table.add_row("bearer", "yes (no nonce signature)")
    if e["errors"]:
        table.add_row("problems", _lines(e["errors"]))
    return table
