"""Operation commands: stepdowns, moves, removals, purge, pause, unpin, reload, kick.

Each shows the plan and asks for confirmation on a terminal (``--yes`` otherwise),
then prints the outcome checked against the cluster (``--json`` for scripts).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from natsops.cli import run_async
from natsops.errors import NatsopsError, UsageError
from natsops.ops import (
    ConfirmationRequired,
    MoveSnapshot,
    OperationCancelled,
    Operator,
    Outcome,
    Plan,
)

Builder = Callable[[Operator, argparse.Namespace], Awaitable[Plan]]


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "-y", "--yes", action="store_true", help="confirm without asking (scripts)"
    )
    p.add_argument("--json", action="store_true", help="print the outcome as JSON")
    p.add_argument(
        "--wait-timeout",
        type=float,
        default=None,
        metavar="SECS",
        help="how long to wait for the effect to show (default 10, moves 120)",
    )


def _account(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--account",
        required=True,
        metavar="A",
        help="owning account: an --account-creds NAME or the account public key",
    )


def _tags(text: str | None) -> list[str]:
    return [t.strip() for t in (text or "").split(",") if t.strip()]


def parse_until(text: str, now: dt.datetime | None = None) -> dt.datetime:
    """An RFC3339 time, or a duration from now such as ``10m``, ``90s``, ``2h``."""
    from natsops.settings import parse_duration

    now = now or dt.datetime.now(dt.UTC)
    try:
        return now + dt.timedelta(seconds=parse_duration(text))
    except ValueError:
        pass
    try:
        when = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(
            f"--until {text!r} is neither an RFC3339 time nor a duration",
            "use e.g. 2030-01-01T00:00:00Z or 10m",
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


def register(sub: Any, parents: list[argparse.ArgumentParser]) -> None:
    """Add the operation commands."""
    sd = sub.add_parser(
        "stepdown",
        parents=parents,
        help="leader stepdown: meta, stream or consumer",
        allow_abbrev=False,  # --account must not look like --account-creds
    )
    kinds = sd.add_subparsers(dest="stepdown_kind", metavar="KIND", required=True)
    meta = kinds.add_parser("meta", parents=parents, help="JetStream meta leader")
    where = meta.add_mutually_exclusive_group()
    where.add_argument("--preferred", metavar="S", help="server to take over")
    where.add_argument("--cluster", metavar="C", help="cluster to move leadership to")
    where.add_argument("--tags", metavar="T", help="comma-separated server tags")
    _common(meta)
    meta.set_defaults(func=_runner(_build_meta))

    stream = kinds.add_parser("stream", parents=parents, help="stream leader")
    stream.add_argument("stream", metavar="STREAM")
    _account(stream)
    stream.add_argument("--preferred", metavar="S", help="replica to take over")
    _common(stream)
    stream.set_defaults(func=_runner(_build_stream_stepdown))

    cons = kinds.add_parser("consumer", parents=parents, help="consumer leader")
    cons.add_argument("stream", metavar="STREAM")
    cons.add_argument("consumer", metavar="CONSUMER")
    _account(cons)
    cons.add_argument("--preferred", metavar="S", help="replica to take over")
    _common(cons)
    cons.set_defaults(func=_runner(_build_consumer_stepdown))

    move = sub.add_parser(
        "move", parents=parents, help="move a stream off a server or to a cluster/tags"
    )
    move.add_argument("stream", metavar="STREAM")
    _account(move)
    target = move.add_mutually_exclusive_group()
    target.add_argument("--from-server", metavar="S", help="server to move off")
    target.add_argument("--cluster", metavar="C", help="cluster to move to")
    target.add_argument("--tags", metavar="T", help="comma-separated placement tags")
    target.add_argument("--cancel", action="store_true", help="cancel a move")
    move.add_argument("--wait", action="store_true", help="follow until it settles")
    _common(move)
    move.set_defaults(func=_runner(_build_move, follow=True))

    peer = sub.add_parser("peer-remove", parents=parents, help="remove a stream peer")
    peer.add_argument("stream", metavar="STREAM")
    peer.add_argument("peer", metavar="PEER", help="server name or peer id")
    _account(peer)
    peer.add_argument(
        "--evacuate", action="store_true", help="migrate the replica first"
    )
    _common(peer)
    peer.set_defaults(func=_runner(_build_peer_remove))

    srv = sub.add_parser(
        "server-remove", parents=parents, help="remove a server from JetStream"
    )
    srv.add_argument("target_server", metavar="SERVER")
    srv.add_argument(
        "--evacuate", action="store_true", help="migrate its assets, then remove"
    )
    _common(srv)
    srv.set_defaults(func=_runner(_build_server_remove))

    purge = sub.add_parser(
        "purge-account", parents=parents, help="delete every stream of an account"
    )
    purge.add_argument("account", metavar="ACCOUNT", help="name or public key")
    _common(purge)
    purge.set_defaults(func=_runner(_build_purge))

    pause = sub.add_parser("pause", parents=parents, help="pause a consumer")
    pause.add_argument("stream", metavar="STREAM")
    pause.add_argument("consumer", metavar="CONSUMER")
    _account(pause)
    pause.add_argument(
        "--until", required=True, metavar="T", help="RFC3339 time or duration (10m)"
    )
    _common(pause)
    pause.set_defaults(func=_runner(_build_pause))

    resume = sub.add_parser("resume", parents=parents, help="resume a consumer")
    resume.add_argument("stream", metavar="STREAM")
    resume.add_argument("consumer", metavar="CONSUMER")
    _account(resume)
    _common(resume)
    resume.set_defaults(func=_runner(_build_resume))

    unpin = sub.add_parser("unpin", parents=parents, help="unpin a consumer's client")
    unpin.add_argument("stream", metavar="STREAM")
    unpin.add_argument("consumer", metavar="CONSUMER")
    _account(unpin)
    unpin.add_argument("--group", required=True, metavar="G", help="priority group")
    _common(unpin)
    unpin.set_defaults(func=_runner(_build_unpin))

    reload = sub.add_parser("reload", parents=parents, help="reload a server's config")
    reload.add_argument("target_server", metavar="SERVER")
    _common(reload)
    reload.set_defaults(func=_runner(_build_reload))

    kick = sub.add_parser("kick", parents=parents, help="disconnect a client")
    kick.add_argument("target_server", metavar="SERVER")
    kick.add_argument("cid", metavar="CID", type=int, help="connection id")
    _common(kick)
    kick.set_defaults(func=_runner(_build_kick))


# ---------------------------------------------------------------------- builders


async def _build_meta(op: Operator, args: argparse.Namespace) -> Plan:
    return await op.plan_meta_stepdown(
        preferred=args.preferred, cluster=args.cluster, tags=_tags(args.tags)
    )


async def _build_stream_stepdown(op: Operator, args: argparse.Namespace) -> Plan:
    return await op.plan_stream_stepdown(args.account, args.stream, args.preferred)


async def _build_consumer_stepdown(op: Operator, args: argparse.Namespace) -> Plan:
    return await op.plan_consumer_stepdown(
        args.account, args.stream, args.consumer, args.preferred
    )


async def _build_move(op: Operator, args: argparse.Namespace) -> Plan:
    if args.cancel:
        return await op.plan_cancel_move(args.account, args.stream)
    if args.from_server:
        return await op.plan_move_off_server(
            args.account, args.stream, args.from_server
        )
    if args.cluster or args.tags:
        return await op.plan_move_placement(
            args.account, args.stream, cluster=args.cluster, tags=_tags(args.tags)
        )
    raise UsageError(
        "move needs a target", "give --from-server S, --cluster C, --tags T or --cancel"
    )


async def _build_peer_remove(op: Operator, args: argparse.Namespace) -> Plan:
    return await op.plan_peer_remove(
        args.account, args.stream, args.peer, evacuate=args.evacuate
    )


async def _build_server_remove(op: Operator, args: argparse.Namespace) -> Plan:
    return await op.plan_server_remove(args.target_server, evacuate=args.evacuate)


async def _build_purge(op: Operator, args: argparse.Namespace) -> Plan:
    return await op.plan_account_purge(args.account)


async def _build_pause(op: Operator, args: argparse.Namespace) -> Plan:
    until = parse_until(args.until)
    return await op.plan_consumer_pause(args.account, args.stream, args.consumer, until)


async def _build_resume(op: Operator, args: argparse.Namespace) -> Plan:
    return await op.plan_consumer_resume(args.account, args.stream, args.consumer)


async def _build_unpin(op: Operator, args: argparse.Namespace) -> Plan:
    return await op.plan_consumer_unpin(
        args.account, args.stream, args.consumer, args.group
    )


async def _build_reload(op: Operator, args: argparse.Namespace) -> Plan:
    return await op.plan_server_reload(args.target_server)


async def _build_kick(op: Operator, args: argparse.Namespace) -> Plan:
    return await op.plan_kick(args.target_server, args.cid)


# ---------------------------------------------------------------------- running


def _runner(
    build: Builder, *, follow: bool = False
) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        return run_async(_main(args, build, follow))

    return run


def _interactive() -> bool:
    try:
        return sys.stdin.isatty()
    except (AttributeError, ValueError):
        return False


def confirm(
    op: Operator,
    plan: Plan,
    *,
    yes: bool,
    interactive: bool,
    ask: Callable[[str], str] = input,
    show: Callable[[str], None] | None = None,
) -> None:
    """Ask for confirmation (or require ``--yes`` without a terminal).

    Refusals and declines are audited; both raise, and nothing is sent.
    """
    if op.read_only or yes:
        return
    if not interactive:
        reason = "no terminal to confirm on and no --yes"
        op.record_refused(plan, reason)
        raise ConfirmationRequired(
            f"{plan.action} not performed: {reason}",
            "run it on a terminal, or pass --yes to confirm",
        )
    emit = show or (lambda line: print(line, file=sys.stderr))
    for line in plan.describe():
        emit(line)
    if plan.confirm is not None:
        prompt = f"type {plan.confirm!r} to confirm: "
    else:
        prompt = "proceed? [y/N] "
    try:
        answer = ask(prompt)
    except EOFError:
        answer = ""
    if not plan.confirms(answer):
        op.record_cancelled(plan, "declined at the prompt")
        raise OperationCancelled(f"{plan.action} cancelled", "nothing was changed")


async def _main(args: argparse.Namespace, build: Builder, follow: bool) -> int:
    from natsops.connection import Hub
    from natsops.settings import resolve_settings

    settings = resolve_settings(args)
    hub = await Hub.open(settings, require_system=False)
    op = Operator.from_hub(hub)
    try:
        plan = await build(op, args)
        confirm(op, plan, yes=bool(args.yes), interactive=_interactive())
        wait = args.wait_timeout
        outcome = await op.execute(plan, wait=wait if wait is not None else None)
        snap: MoveSnapshot | None = None
        if (
            follow
            and getattr(args, "wait", False)
            and plan.action.startswith("stream-move")
        ):
            snap = await _follow(op, plan, args, wait if wait is not None else 120.0)
        return _report(plan, outcome, snap, args)
    finally:
        await op.close()
        await hub.close()


async def _follow(
    op: Operator, plan: Plan, args: argparse.Namespace, timeout: float
) -> MoveSnapshot:
    tracker = op.tracker(plan)
    nc = None
    sub = None
    try:
        link = op.conns.account(plan.account_name or plan.account or "")
        nc = link.nc
    except NatsopsError:
        try:
            nc = op.conns.system
        except NatsopsError:
            nc = None
    if nc is not None:

        async def on_event(msg: Any) -> None:
            try:
                doc = json.loads(msg.data)
            except ValueError:
                return
            if isinstance(doc, dict) and tracker.observe_event(doc):
                if not args.json:
                    print(f"  advisory: {tracker.events[-1]}")

        try:
            sub = await nc.subscribe(
                f"$JS.EVENT.ADVISORY.STREAM.*.{plan.stream}", cb=on_event
            )
        except Exception:  # advisories are a bonus; the poll is the truth
            sub = None

    def show(snap: MoveSnapshot) -> None:
        if not args.json:
            print(f"  {snap.describe()}")

    try:
        return await tracker.follow(timeout=timeout, on_update=show)
    finally:
        if sub is not None:
            try:
                await sub.unsubscribe()
            except Exception:  # the connection may be closing already
                pass


def _report(
    plan: Plan, outcome: Outcome, snap: MoveSnapshot | None, args: argparse.Namespace
) -> int:
    ok = outcome.ok and outcome.verified and (snap is None or snap.done)
    if args.json:
        doc: dict[str, Any] = {"plan": plan.to_dict(), "outcome": outcome.to_dict()}
        if snap is not None:
            doc["move"] = snap.to_dict()
        print(json.dumps(doc, indent=2, sort_keys=True, default=str))
        return 0 if ok else 1
    print(outcome.summary)
    for warning in [*plan.warnings, *outcome.warnings]:
        print(f"warning: {warning}")
    if snap is not None:
        print(snap.describe())
        if not snap.done:
            print(
                "natsops: the move has not settled yet: follow it with "
                "natsops streams, or cancel with natsops move --cancel",
                file=sys.stderr,
            )
    return 0 if ok else 1
