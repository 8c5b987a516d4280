"""``natsops demo``: a local supercluster with sample streams and traffic, shown in
the dashboard or held for other tools with ``--no-ui``."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

from natsops.errors import UsageError

log = logging.getLogger(__name__)


def register(sub: Any, parents: list[argparse.ArgumentParser]) -> None:
    """Add ``demo`` to the parser."""
    p = sub.add_parser(
        "demo",
        parents=parents,
        help="run a local demo supercluster and open the dashboard on it",
        description="Start a local two-cluster NATS supercluster with sample "
        "streams, consumers and light traffic, and open the dashboard on it as the "
        "system user with the APP account connected. Quitting stops every server "
        "and removes the demo's data.",
    )
    p.add_argument(
        "--no-ui",
        action="store_true",
        help="print URLs, creds paths and command lines, and hold the cluster "
        "until interrupted",
    )
    p.add_argument(
        "--no-traffic", action="store_true", help="do not run the traffic generator"
    )
    p.add_argument(
        "--traffic-scale",
        type=float,
        default=1.0,
        metavar="X",
        help="multiply every traffic rate (1.0: about 120 messages a second)",
    )
    p.set_defaults(func=run)


@contextmanager
def _stop_signals(event: threading.Event) -> Iterator[None]:
    """Turn SIGINT and SIGTERM into ``event`` while the block runs."""

    def handler(signum: int, frame: FrameType | None) -> None:
        event.set()

    previous = {
        sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


@contextmanager
def _term_as_interrupt() -> Iterator[None]:
    """While the dashboard runs, SIGTERM ends it like Ctrl-C, so cleanup runs."""

    def handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    old = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


def run(args: argparse.Namespace) -> int:
    """Start the demo, show it, and always tear it down."""
    from natsops.demo import DEMO_CLUSTERS, READY_LINE, Demo

    scale = float(getattr(args, "traffic_scale", 1.0))
    if not 0 <= scale <= 20:
        raise UsageError(
            f"--traffic-scale must be between 0 and 20, got {scale:g}",
            "use e.g. --traffic-scale 2",
        )
    no_ui = bool(getattr(args, "no_ui", False))
    stop = threading.Event()
    starting = f"natsops demo: starting {sum(n for _, n in DEMO_CLUSTERS)} servers ..."

    if no_ui:
        print(starting, flush=True)
        with _stop_signals(stop):
            demo = Demo.start(traffic=not args.no_traffic, scale=scale)
            try:
                if not stop.is_set():
                    for line in demo.describe():
                        print(line, flush=True)
                    print(READY_LINE, flush=True)
                while not stop.wait(0.5):
                    if not demo.deployment.running_servers():
                        log.warning("every demo server has exited")
                        break
            finally:
                demo.close()
        print("natsops demo stopped; data removed", flush=True)
        return 0

    print(starting, file=sys.stderr, flush=True)
    demo = Demo.start(traffic=not args.no_traffic, scale=scale)
    try:
        from natsops.ui.launch import run_dashboard

        with _term_as_interrupt():
            return run_dashboard(demo.dashboard_args(args))
    except KeyboardInterrupt:
        return 0
    finally:
        demo.close()
