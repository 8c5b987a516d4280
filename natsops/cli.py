"""Command-line entry point: parses flags, dispatches to commands, reports errors.

Headless commands never import Textual; only the dashboard (no command) and
``demo``/``replay`` load ``natsops.ui`` lazily.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import os
import sys
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from natsops import __version__
from natsops.creds import RedactingFilter, redact
from natsops.errors import NatsopsError, UsageError

log = logging.getLogger("natsops")

#: Modules that add subcommands; each has ``register(subparsers, parents)``.
COMMAND_MODULES = [
    "natsops.commands.identity",
    "natsops.commands.reports",
    "natsops.commands.events",
    "natsops.commands.ops",
    "natsops.commands.perms",
    "natsops.commands.demo",
]


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line and exit code 2."""

    def error(self, message: str) -> Any:
        raise UsageError(message, f"see '{self.prog} --help'")


def add_connection_args(parser: argparse.ArgumentParser, suppress: bool) -> None:
    """Add the connection, profile and safety flags shared by every command."""
    default: Any = argparse.SUPPRESS if suppress else None
    g = parser.add_argument_group("connection")
    g.add_argument("-s", "--server", default=default, help="comma-separated URLs")
    g.add_argument("--creds", default=default, help="user credentials file")
    g.add_argument("--nkey", default=default, help="user nkey seed file")
    g.add_argument("--user", default=default, help="user name")
    g.add_argument("--password", default=default, help="password")
    g.add_argument("--token", default=default, help="authentication token")
    g.add_argument("--tlscert", default=default, help="TLS client certificate")
    g.add_argument("--tlskey", default=default, help="TLS client key")
    g.add_argument("--tlsca", default=default, help="TLS certificate authority")
    g.add_argument(
        "--tlsfirst",
        action="store_true",
        default=argparse.SUPPRESS if suppress else None,
        help="TLS handshake before the NATS INFO",
    )
    g.add_argument("--inbox-prefix", default=default, help="custom reply prefix")
    g.add_argument("--timeout", type=float, default=default, help="seconds")
    g.add_argument("--context", default=default, help="natscli context name or path")
    g.add_argument(
        "--account-creds",
        action="append",
        default=default,
        metavar="NAME=FILE",
        help="creds of a user of account NAME (repeatable)",
    )
    g.add_argument(
        "--account-context",
        action="append",
        default=default,
        metavar="NAME=CONTEXT",
        help="natscli context of a user of account NAME (repeatable)",
    )
    p = parser.add_argument_group("natsops")
    p.add_argument("--config", default=default, help="natsops config file (TOML)")
    p.add_argument("--profile", default=default, help="profile in the config file")
    p.add_argument(
        "--read-only",
        action="store_true",
        default=argparse.SUPPRESS if suppress else None,
        help="refuse every operation that changes the cluster",
    )
    p.add_argument("--audit-log", default=default, help="audit log path (JSON lines)")
    p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS)


def add_filter_args(parser: argparse.ArgumentParser) -> None:
    """Add the server filters shared by fan-out commands."""
    g = parser.add_argument_group("server filter")
    g.add_argument("--cluster", help="only servers of this cluster")
    g.add_argument("--name", help="only servers whose name contains this")
    g.add_argument("--host", help="only servers on this host")
    g.add_argument("--tags", help="comma-separated tags, all must match")
    g.add_argument("--domain", help="only servers of this JetStream domain")
    g.add_argument(
        "--exact", action="store_true", help="cluster/name/host match exactly"
    )


def run_async(coro: Coroutine[Any, Any, int]) -> int:
    """Run a command's coroutine on a fresh event loop and return its exit code."""
    return asyncio.run(coro)


def build_parser() -> argparse.ArgumentParser:
    """The full parser: global flags, then one subparser per command."""
    parser = _Parser(
        prog="natsops",
        allow_abbrev=False,
        description="Terminal operations console for NATS clusters. "
        "With no command, opens the dashboard.",
    )
    parser.add_argument("--version", action="version", version=f"natsops {__version__}")
    parser.add_argument("--theme", help="dashboard theme name")
    parser.add_argument("--record", help="append every event to this JSON-lines file")
    add_connection_args(parser, suppress=False)
    parents = _shared_parent()
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub, [parents])
    return parser


def _shared_parent() -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    add_connection_args(parent, suppress=True)
    return parent


def _open_dashboard(args: argparse.Namespace) -> int:
    from natsops.ui.launch import run_dashboard

    return run_dashboard(args)


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv``, run the command and turn every failure into one line."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv or os.environ.get("NATSOPS_DEBUG") == "1"
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.WARNING,
        format="natsops: %(levelname)s %(name)s: %(message)s",
    )
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
    try:
        args = build_parser().parse_args(argv)
        func: Callable[[argparse.Namespace], int] = getattr(
            args, "func", _open_dashboard
        )
        return func(args)
    except NatsopsError as exc:
        print(f"natsops: {redact(str(exc))}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("natsops: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # the last line of defence: never a traceback
        if debug:
            raise
        print(
            f"natsops: internal error ({type(exc).__name__}: {redact(str(exc))}); "
            "run again with --debug and report it",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
