"""``natsops events`` streams live events; ``natsops replay`` reviews a recording.

``events`` prints one line (or JSON line) per event until ``--count``, ``--duration``
or Ctrl-C, then the counts; ``replay`` opens the Events view or prints.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from natsops.cli import run_async
from natsops.errors import NatsopsError, UsageError
from natsops.events import (
    SEVERITIES,
    Event,
    EventBatch,
    EventFeed,
    EventFilter,
    EventsDenied,
    EventStore,
    Recorder,
    RecordingReader,
    counts_line,
    replay_into,
)


def register(sub: Any, parents: list[argparse.ArgumentParser]) -> None:
    """Add ``events`` and ``replay`` to the parser."""
    p = sub.add_parser(
        "events",
        parents=parents,
        help="stream system events and JetStream advisories",
        description="Subscribe to the system events ($SYS.SERVER.>, $SYS.ACCOUNT.>), "
        "the JetStream advisories ($JS.EVENT.>) of the system account and of every "
        "account connection, and print one line per event.",
    )
    p.add_argument(
        "--subject",
        action="append",
        default=[],
        dest="subjects",
        metavar="S",
        help="subscribe to S instead of the default event subjects (repeatable)",
    )
    _add_filter_flags(p)
    p.add_argument("--json", action="store_true", help="print JSON lines")
    p.add_argument("--count", type=_positive_int, metavar="N", help="stop after N")
    p.add_argument(
        "--duration", type=_duration, metavar="SECONDS", help="stop after this long"
    )
    p.add_argument(
        "--record",
        default=argparse.SUPPRESS,
        metavar="FILE",
        help="append every event to FILE (JSON lines)",
    )
    p.set_defaults(func=run_events)

    r = sub.add_parser(
        "replay",
        parents=parents,
        help="review a recording made with --record",
        description="Open the dashboard's Events view on a recording, or print its "
        "events with --print (also when stdout is not a terminal).",
    )
    r.add_argument("file", metavar="FILE", help="a recording made with --record")
    r.add_argument(
        "--print",
        action="store_true",
        dest="print_events",
        help="print the events instead of opening the dashboard",
    )
    _add_filter_flags(r)
    r.add_argument("--json", action="store_true", help="print JSON lines")
    r.set_defaults(func=run_replay)


def _add_filter_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--type",
        action="append",
        default=[],
        dest="types",
        metavar="T",
        help="only events whose type or kind contains T (repeatable)",
    )
    p.add_argument(
        "--account",
        action="append",
        default=[],
        dest="event_accounts",
        metavar="A",
        help="only events of account A, name or public key (repeatable)",
    )
    p.add_argument(
        "--severity",
        choices=SEVERITIES,
        default="info",
        help="only events at least this severe",
    )


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _duration(text: str) -> float:
    from natsops.settings import parse_duration

    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _filter(args: argparse.Namespace) -> EventFilter:
    return EventFilter(
        types=getattr(args, "types", None) or [],
        accounts=getattr(args, "event_accounts", None) or [],
        min_severity=getattr(args, "severity", None) or "info",
    )


def format_line(ev: Event) -> str:
    """``HH:MM:SS.mmm severity server summary`` in local time."""
    t = ev.time
    clock = time.strftime("%H:%M:%S", time.localtime(t)) + f".{int(t % 1 * 1000):03d}"
    return f"{clock} {ev.severity:<8} {ev.server or '-':<12} {ev.summary}"


def format_json(ev: Event) -> str:
    return json.dumps(ev.to_dict(), separators=(",", ":"))


class _Printer:
    """Prints matching events and stops after ``count`` of them."""

    def __init__(
        self,
        flt: EventFilter,
        as_json: bool,
        count: int | None,
        out: TextIO,
        on_done: Callable[[], None] = lambda: None,
    ) -> None:
        self.filter = flt
        self.format = format_json if as_json else format_line
        self.count = count
        self.out = out
        self.printed = 0
        self.missed = 0
        self.broken = False
        self.on_done = on_done

    @property
    def done(self) -> bool:
        return self.broken or (self.count is not None and self.printed >= self.count)

    def __call__(self, batch: EventBatch) -> None:
        self.missed += batch.missed
        lines = []
        for ev in batch.events:
            if self.done:
                break
            if self.filter.empty or self.filter.matches(ev):
                lines.append(self.format(ev))
                self.printed += 1
        if lines:
            try:
                self.out.write("\n".join(lines) + "\n")
                self.out.flush()
            except BrokenPipeError:
                self.broken = True
        if self.done:
            self.on_done()


def _stderr(line: str) -> None:
    with contextlib.suppress(BrokenPipeError):
        print(f"natsops: {line}", file=sys.stderr, flush=True)


# -- events -------------------------------------------------------------------


def run_events(args: argparse.Namespace) -> int:
    """Entry point of ``natsops events``."""
    from natsops.settings import resolve_settings

    settings = resolve_settings(args)
    return run_async(_events(args, settings))


async def _events(args: argparse.Namespace, settings: Any) -> int:
    from natsops.connection import Hub

    store = EventStore(capacity=max(1, int(settings.event_buffer)))
    recorder = Recorder(settings.record) if settings.record is not None else None
    wake = asyncio.Event()  # the printer is done, a signal, or a denial
    printer = _Printer(
        _filter(args), bool(args.json), args.count, sys.stdout, on_done=wake.set
    )
    # the printer filters itself, so --count counts only what it printed
    store.add_listener(printer, interval=0.05)
    feed = EventFeed(
        store,
        recorder=recorder,
        subjects=args.subjects or None,
        on_denied=lambda _source, _subject: wake.set(),
    )
    loop = asyncio.get_running_loop()
    interrupted = False

    def on_signal() -> None:
        nonlocal interrupted
        interrupted = True
        wake.set()

    handlers = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, on_signal)
            handlers.append(sig)
    started = time.monotonic()
    try:
        hub = await Hub.open(settings, accounts_required=False)
        try:
            for name, error in sorted(hub.account_errors.items()):
                _stderr(f"account {name} not watched: {error}")
            await feed.start_hub(hub)
            started = time.monotonic()
            named: set[tuple[str, str]] = set()
            try:
                async with asyncio.timeout(args.duration):
                    while True:
                        await _check_denied(feed, hub, named)
                        if interrupted or printer.done:
                            break
                        wake.clear()
                        await wake.wait()
            except TimeoutError:
                pass
            await _check_denied(feed, hub, named)
        finally:
            await feed.stop()
            await hub.close()
    finally:
        for sig in handlers:
            loop.remove_signal_handler(sig)
        if recorder is not None:
            recorder.close()
    elapsed = time.monotonic() - started
    if not printer.broken:
        _report(store, feed, printer, elapsed, interrupted, recorder)
    return 0


async def _check_denied(feed: EventFeed, hub: Any, named: set[tuple[str, str]]) -> None:
    """Fail when the system connection may not subscribe to an event subject, or
    when nothing at all could be subscribed; an account connection whose
    subscription was denied is named once and left out, as when it cannot connect.

    The server reports each denied subscription on its own, so after the first one
    a round trip on every connection lets the others arrive to be named together.
    """
    if not feed.denied or set(feed.denied) <= named:
        return
    for link in hub.links():
        with contextlib.suppress(Exception):
            await link.nc.flush(timeout=2)
    error = feed.denial_error(["system"])
    if error is None and not feed.subscriptions:
        error = feed.denial_error()
    if error is not None:
        raise EventsDenied(
            error.problem,
            "this user may not receive these events; see what it may do with "
            "'natsops perms', or choose allowed subjects with --subject",
        )
    for source, subject in feed.denied:
        if (source, subject) not in named:
            named.add((source, subject))
            _stderr(
                f"account {source} not watched: permission denied: subscribe to "
                f"{subject}"
            )


def _report(
    store: EventStore,
    feed: EventFeed,
    printer: _Printer,
    elapsed: float,
    interrupted: bool,
    recorder: Recorder | None,
) -> None:
    why = "interrupted" if interrupted else f"{elapsed:.1f}s"
    line = f"printed {printer.printed} events ({why}); {counts_line(store.stats())}"
    _stderr(line)
    if feed.dropped:
        _stderr(f"{feed.dropped} events were dropped before parsing (falling behind)")
    if recorder is not None:
        _stderr(f"recorded {recorder.written} events to {recorder.path}")


# -- replay -------------------------------------------------------------------


def run_replay(args: argparse.Namespace) -> int:
    """Entry point of ``natsops replay``."""
    path = Path(args.file)
    reader = RecordingReader(path)  # one-line error for a missing or bad file
    if not args.print_events and not args.json and sys.stdout.isatty():
        try:
            from natsops.ui.launch import run_replay as open_replay
        except ImportError as exc:
            raise NatsopsError(
                f"the dashboard is not available ({exc})", "use --print"
            ) from exc
        return int(open_replay(path, args))
    return _print_replay(reader, args, sys.stdout)


def _print_replay(reader: RecordingReader, args: argparse.Namespace, out: Any) -> int:
    store = EventStore(capacity=10_000)
    printer = _Printer(_filter(args), bool(args.json), None, out)
    printer(EventBatch(replay_into(store, reader)))
    if printer.broken:
        return 0
    if store.seen == 0 and reader.header is None and reader.bad_lines == 0:
        raise UsageError(f"{reader.path} is empty", "it holds no recorded events")
    stats = store.stats()
    _stderr(f"replayed {printer.printed} events; {counts_line(stats)}")
    if reader.bad_lines:
        _stderr(f"{reader.bad_lines} lines of {reader.path} were not events")
    return 0
