"""``natsops perms``: what each connection's credential may do, feature by feature,
and ``natsops perms recommend``: least-privilege permission sets for natsops roles.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from rich.console import Console
from rich.table import Table

from natsops.cli import run_async
from natsops.errors import NatsopsError, UsageError
from natsops.perms.catalogue import ROLES
from natsops.perms.check import PermsReport, check_hub
from natsops.perms.recommend import FORMATS, note, recommend, render
from natsops.settings import Settings, resolve_settings


def register(sub: Any, parents: list[argparse.ArgumentParser]) -> None:
    """Add ``perms`` and ``perms recommend`` to the parser."""
    p = sub.add_parser(
        "perms",
        parents=parents,
        help="check what each connection's credential may do",
        description="For the system connection and each account connection, tell "
        "per natsops feature whether the credential allows it and, if not, why: "
        "the denied subject, the wrong account, or what the server said.",
    )
    p.add_argument("--json", action="store_true", help="print JSON (stable fields)")
    p.add_argument(
        "--probe",
        action="store_true",
        help="also make harmless requests and subscriptions to confirm each one",
    )
    p.set_defaults(func=run_perms)

    psub = p.add_subparsers(dest="perms_command", metavar="SUBCOMMAND")
    r = psub.add_parser(
        "recommend",
        parents=parents,
        help="print a least-privilege permission set for a natsops role",
        description="Print the permissions a natsops user needs for a role: "
        "observer (read-only pings, health, events, replies) or operator "
        "(observer plus stepdowns, moves, removals, purge, reload, kick).",
    )
    r.add_argument("--role", required=True, choices=ROLES, help="the natsops role")
    r.add_argument(
        "--format",
        choices=FORMATS,
        default="json",
        help="JWT permission JSON, nsc flags, or a server config block",
    )
    r.add_argument(
        "--for",
        dest="target",
        choices=("system", "account"),
        default="system",
        help="a system-account user (default) or a user of an owning account",
    )
    r.add_argument("--name", dest="user_name", help="user name for the nsc command")
    r.add_argument("--account", help="account name for the nsc command")
    r.set_defaults(func=run_recommend)


def run_recommend(args: argparse.Namespace) -> int:
    """Entry point of ``natsops perms recommend``."""
    prefix = getattr(args, "inbox_prefix", None)
    if prefix is None:
        prefix = _settings_inbox_prefix(args)
    if prefix is not None and (not prefix or " " in prefix or prefix.endswith(".")):
        raise UsageError(
            f"invalid inbox prefix {prefix!r}", "use a subject like _INBOX"
        )
    pset = recommend(args.role, args.target, inbox_prefix=prefix)
    text = render(pset, args.format, user=args.user_name, account=args.account)
    sys.stdout.write(text + "\n")
    if args.format == "json":
        print(f"note: {note(args.role, args.target)}", file=sys.stderr)
    return 0


def _settings_inbox_prefix(args: argparse.Namespace) -> str | None:
    """The inbox prefix of the resolved settings, if they resolve at all."""
    try:
        return resolve_settings(args).system.inbox_prefix
    except NatsopsError:
        return None


def run_perms(args: argparse.Namespace) -> int:
    """Entry point of ``natsops perms``."""
    settings = resolve_settings(args)
    probe = bool(getattr(args, "probe", False))
    return run_async(_run_perms(settings, probe, bool(getattr(args, "json", False))))


async def _run_perms(settings: Settings, probe: bool, as_json: bool) -> int:
    report = await collect(settings, probe=probe)
    if as_json:
        json.dump(report.to_json(), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print_report(report)
    return 0


async def collect(settings: Settings, *, probe: bool = False) -> PermsReport:
    """Open every configured connection and check each credential."""
    from natsops.connection import Hub

    async with await Hub.open(
        settings, require_system=False, accounts_required=False
    ) as hub:
        return await check_hub(hub, probe=probe)


def print_report(report: PermsReport, console: Console | None = None) -> None:
    """The report as a table, then each connection's identity and notes."""
    console = console or Console(highlight=False, soft_wrap=False)
    table = Table(title="natsops permissions", title_justify="left")
    table.add_column("connection")
    table.add_column("feature")
    table.add_column("available")
    table.add_column("reason", overflow="fold")
    styles = {"yes": "green", "no": "red", "partial": "yellow"}
    for connection, feature, available, reason in report.rows():
        table.add_row(
            connection,
            feature,
            f"[{styles.get(available, '')}]{available}[/]",
            reason,
            end_section=False,
        )
    console.print(table)
    for conn in report.connections:
        system = {True: "yes", False: "no", None: "unknown"}[conn.is_system]
        who = conn.user_name or conn.user or "?"
        account = conn.account_name or conn.account or "?"
        console.print(
            f"{conn.connection}: user {who}, account {account}, system account: "
            f"{system} ({conn.system_basis}); permissions from "
            f"{conn.permissions_source}",
            markup=False,
        )
        for line in conn.notes:
            console.print(f"  note: {line}", markup=False)
    if not any(c.kind == "owner" for c in report.connections):
        console.print(
            "hint: stream and consumer features need a user of each owning account: "
            "add --account-creds NAME=FILE",
            markup=False,
        )
