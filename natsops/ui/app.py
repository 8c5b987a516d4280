"""The natsops dashboard: every view one key away, live, and honest about gaps.

Workers fetch (one worker group per feed, async on the app's loop), messages carry
the results, handlers change state. Only the visible view polls; the next poll is
scheduled when the last one finished.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any, ClassVar

from rich.text import Text
from textual import events, on, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.notifications import SeverityLevel
from textual.screen import Screen
from textual.suggester import SuggestFromList
from textual.timer import Timer
from textual.widgets import ContentSwitcher, Input, Static

from natsops.audit import redact
from natsops.dispose import gc_hold, gc_release
from natsops.errors import NatsopsError
from natsops.fanout import LAME_DUCK, MISSING, SHUTDOWN, FanoutResult, Roster
from natsops.ui import actions
from natsops.ui.commands import JumpProvider, ThemeChoiceProvider, parse_command
from natsops.ui.keybar import KeyBar
from natsops.ui.screens import ConfirmScreen, DetailScreen, HelpScreen, PromptScreen
from natsops.ui.source import CONNECTED, OFFLINE, RECONNECTING, DataSource, LinkState
from natsops.ui.themes import DEFAULT_THEME, ThemeSet, load_all_themes
from natsops.ui.tracker import TRACKED_ACTIONS, MoveTargetScreen, MoveTrackerScreen
from natsops.ui.views.base import Fetched, Selection, TableView, View
from natsops.ui.views.cluster import AccountsView, HealthView, TopologyView
from natsops.ui.views.connections import ConnectionsView
from natsops.ui.views.events import EventsView
from natsops.ui.views.jetstream import ConsumersView, JetStreamView, StreamsView
from natsops.ui.views.records import AuditView, PermissionsView
from natsops.ui.views.servers import ServersView

log = logging.getLogger(__name__)

#: Views in key order; the Permissions view has no digit (``:perms``).
VIEW_CLASSES: tuple[type[View], ...] = (
    ServersView,
    ConnectionsView,
    JetStreamView,
    StreamsView,
    ConsumersView,
    AccountsView,
    TopologyView,
    HealthView,
    EventsView,
    AuditView,
    PermissionsView,
)

#: App keys that act on the view under the cursor (inert over another screen).
_VIEW_ACTIONS = frozenset({"op", "raw", "command", "show"})

#: Tables from this many rows up move their rows out of the cyclic GC's way.
LARGE_TABLE = 5_000
#: How often frozen objects are handed back to the GC to find cycles (seconds).
GC_THAW_INTERVAL = 60.0
_last_thaw = time.monotonic()


def gc_after_large_refresh() -> None:
    """Move the objects alive now (mostly table rows) out of the GC's scans.

    A refresh of 100,000 rows allocates that many objects; each full collection
    then walks every live row and stalls keys for hundreds of milliseconds. Rows
    hold no cycles and are freed by reference counting, so freezing them is safe.
    Once a minute everything is thawed instead and left to the collector until the
    next large refresh, so that cycles caught in a freeze are still collected.
    """
    global _last_thaw
    now = time.monotonic()
    if now - _last_thaw >= GC_THAW_INTERVAL:
        _last_thaw = now
        gc.unfreeze()
        return
    gc.freeze()


#: Events are pulled from the store at most this often (seconds).
EVENT_PULL_INTERVAL = 0.1
#: A pull of this many events means a storm (see :func:`gc_after_large_refresh`).
STORM_BATCH = 500


def preserve_svg_spaces(svg: str) -> str:
    """Mark an exported SVG so renderers keep the leading spaces of text runs."""
    if 'xml:space="preserve"' in svg:
        return svg
    return svg.replace("<svg ", '<svg xml:space="preserve" ', 1)


def roll_call(result: FanoutResult, roster: Roster) -> tuple[str, bool]:
    """``6/6 servers`` or ``5/6 servers, missing: c2-n3`` and whether to warn.

    Servers the roster knows as shut down or in lame duck still count: a server
    that said goodbye is as absent as one that went silent.
    """
    answered = set(result.replies) | set(result.errors)
    gone = {
        e.name: e.state
        for e in roster.entries()
        if e.state in (SHUTDOWN, LAME_DUCK, MISSING) and e.name not in answered
    }
    total = set(result.expected) | answered | set(gone)
    missing = sorted(total - answered)
    text = f"{len(answered)}/{len(total)} servers"
    if missing:
        named = [
            f"{n} ({gone[n].replace('_', ' ')})"
            if gone.get(n) in (SHUTDOWN, LAME_DUCK)
            else n
            for n in missing
        ]
        text += ", missing: " + ", ".join(named)
    if result.errors:
        text += ", errors: " + ", ".join(
            f"{name} ({r.error_text})" for name, r in sorted(result.errors.items())
        )
    return text, bool(missing or result.errors or result.malformed)


class IdentityBar(Static):
    """Top line: who natsops is connected as, to which server, and the link state."""

    DEFAULT_CSS = """
    IdentityBar { dock: top; height: 1; background: $primary 40%; color: $text; }
    """


class StatusBar(Static):
    """Bottom line: link, refresh age, roll call, read-only and pause badges."""

    DEFAULT_CSS = """
    StatusBar { height: 1; background: $panel; color: $text; }
    """


class CommandLine(Input):
    """The ``:`` command line, with completion of view names and commands."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("tab", "complete", "Complete", show=False)
    ]

    def action_complete(self) -> None:
        """Tab takes the suggested completion (as right-arrow at the end does)."""
        self.cursor_position = len(self.value)
        self.action_cursor_right()

    DEFAULT_CSS = """
    CommandLine { display: none; height: 3; border: tall $accent; }
    CommandLine.-shown { display: block; }
    """


class NatsopsApp(App[int]):
    """The dashboard over a :class:`~natsops.ui.source.DataSource`."""

    TITLE = "natsops"
    COMMANDS = App.COMMANDS | {JumpProvider, ThemeChoiceProvider}
    CSS = """
    Screen { layers: base overlay; }
    ContentSwitcher { height: 1fr; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        *(
            Binding(cls.KEY, f"show('{cls.NAME}')", cls.TITLE, show=False)
            for cls in VIEW_CLASSES
            if cls.KEY
        ),
        Binding("colon", "command", "Command", key_display=":"),
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("j", "raw", "JSON"),
        Binding("r", "refresh", "Refresh"),
        Binding("p", "pause", "Pause"),
        Binding("escape", "back", "Back", show=False),
        Binding("q", "quit", "Quit"),
        *(
            Binding(f"{key},shift+{key.lower()}", f"op('{key}')", label)
            for key, label in actions.OP_LABELS.items()
        ),
    ]

    class Started(Message):
        """The data source is ready (roster learnt)."""

        def __init__(self, error: str = "") -> None:
            super().__init__()
            self.error = error

    class Data(Message):
        """A view's fetch finished with data."""

        def __init__(self, view: str, fetched: Fetched) -> None:
            super().__init__()
            self.view = view
            self.fetched = fetched

    class Failed(Message):
        """A view's fetch failed with a message for the user."""

        def __init__(self, view: str, error: str) -> None:
            super().__init__()
            self.view = view
            self.error = error

    class PollDone(Message):
        """A view's fetch ended (either way): schedule the next one."""

        def __init__(self, view: str) -> None:
            super().__init__()
            self.view = view

    class LinkChanged(Message):
        """The system connection changed state."""

        def __init__(self, link: LinkState) -> None:
            super().__init__()
            self.link = link

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, NatsopsApp.LinkChanged)

    class RosterChanged(Message):
        """A server's state changed (missing, lame duck, shutdown)."""

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, NatsopsApp.RosterChanged)

    class PlanReady(Message):
        """An operation was planned and waits for confirmation."""

        def __init__(self, plan: Any, label: str) -> None:
            super().__init__()
            self.plan = plan
            self.label = label

    class OpDone(Message):
        """An operation finished (outcome or error)."""

        def __init__(
            self, outcome: Any = None, error: str = "", label: str = ""
        ) -> None:
            super().__init__()
            self.outcome = outcome
            self.error = error
            self.label = label

    def __init__(
        self,
        source: DataSource,
        *,
        theme: str | None = None,
        themes: ThemeSet | None = None,
        initial_view: str = "servers",
        clock: Callable[[], float] = time.monotonic,
        refresh: float | None = None,
        live: bool = True,
        replay: bool = False,
    ) -> None:
        super().__init__()
        self.source = source
        self.clock = clock
        self.refresh_interval = float(
            refresh if refresh is not None else source.refresh
        )
        self.live = live
        self.replay = replay
        self.initial_view = initial_view
        self.theme_set = themes if themes is not None else load_all_themes()
        self.wanted_theme = theme or source.theme or DEFAULT_THEME
        self.views: dict[str, View] = {cls.NAME: cls() for cls in VIEW_CLASSES}
        self.current = initial_view
        self.previous: list[str] = []
        self.paused = False
        self.started = False
        self.link = source.link_state()
        self.roll_call = ""
        self.roll_call_warn = False
        self.notice = ""
        self.poll_count: dict[str, int] = {}
        self.last_apply_cost = 0.0
        self.perms_report: Any = None
        #: (monotonic time, targets) of the palette's last fetch of names.
        self.jump_cache: tuple[float, list[Any]] | None = None
        self._op_state: tuple[bool | None, ...] = ()
        self._inflight: set[str] = set()
        self._again: set[str] = set()
        self._poll_timer: Timer | None = None
        self._gc_held = 0  # gc_hold() calls of fetches whose PollDone is due
        self.identity_bar = IdentityBar(id="identity")
        self.status_bar = StatusBar(id="status")
        names = sorted({w for cls in VIEW_CLASSES for w in (cls.NAME, *cls.ALIASES)})
        words = [*names, "theme", "sort", "filter", "refresh", "pause", "help", "quit"]
        self.command_line = CommandLine(
            placeholder="view name or command (tab completes)",
            suggester=SuggestFromList(words, case_sensitive=False),
            id="command",
        )

    # -- layout ------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield self.identity_bar
        with ContentSwitcher(initial=f"view-{self.initial_view}", id="views"):
            yield from self.views.values()
        yield self.command_line
        yield self.status_bar
        yield KeyBar()

    def on_mount(self) -> None:
        for theme in self.theme_set.themes.values():
            self.register_theme(theme)
        self.apply_theme(self.wanted_theme)
        if self.theme_set.failures:
            self.notify(self.theme_set.summary(), title="themes", severity="warning")
        self._attach_events()
        self.source.add_state_listener(self._on_link)
        self.source.roster.add_listener(self._roster_changed)
        self.update_identity()
        self.update_status()
        self.set_interval(1.0, self.update_status, name="status")
        self.set_interval(EVENT_PULL_INTERVAL, self._pull_events, name="events")
        self.views[self.current].focus_main()
        self._start()

    def on_unmount(self) -> None:
        # A fetch cut short by the exit never reports PollDone: collection must
        # not stay off for whatever else runs in this process.
        while self._gc_held:
            self._release_gc()

    def apply_theme(self, name: str) -> bool:
        """Switch theme by name; an unknown name keeps the current one and says so."""
        if self.get_theme(name) is None:
            known = ", ".join(sorted(self.theme_set.themes)) or "none"
            self.notify(
                f"unknown theme {name!r} (known: {known})",
                title="themes",
                severity="warning",
            )
            if self.theme not in self.theme_set.themes and DEFAULT_THEME in (
                self.theme_set.themes
            ):
                self.theme = DEFAULT_THEME
            return False
        self.theme = name
        return True

    # -- starting ----------------------------------------------------------------------

    @work(group="start", exclusive=True, exit_on_error=False)
    async def _start(self) -> None:
        try:
            await self.source.start()
        except NatsopsError as exc:
            self.post_message(self.Started(str(exc)))
            return
        self.post_message(self.Started())

    def _attach_events(self) -> None:
        events = self.views["events"]
        assert isinstance(events, EventsView)
        if events.store is not self.source.events:
            events.attach(self.source.events, replay=self.replay)

    def on_natsops_app_started(self, message: Started) -> None:
        self.started = True
        self._attach_events()
        conns = self.views["connections"]
        assert isinstance(conns, ConnectionsView)
        conns.account_names.update(self.source.account_keys)
        if message.error:
            self.notify(message.error, title="natsops", severity="error")
        self.update_identity()
        self._load_perms()
        self.poll_now()

    # -- polling -----------------------------------------------------------------------

    @property
    def view(self) -> View:
        return self.views[self.current]

    def poll_now(self, name: str | None = None) -> None:
        """Fetch a view now (the visible one by default), unless one is in flight."""
        view = self.views[name or self.current]
        if not view.POLLS and not isinstance(view, EventsView):
            return
        if isinstance(view, EventsView):
            view.pull()
            return
        if self._poll_timer is not None:
            self._poll_timer.stop()
            self._poll_timer = None
        if view.NAME in self._inflight:
            self._again.add(view.NAME)
            return
        self._inflight.add(view.NAME)
        self.run_worker(
            self._fetch(view),
            group=f"feed-{view.NAME}",
            exclusive=True,
            exit_on_error=False,
            description=f"poll {view.NAME}",
        )

    async def _fetch(self, view: View) -> None:
        t0 = time.perf_counter()
        gc_hold()  # released when PollDone, posted after Data, is handled
        self._gc_held += 1
        try:
            fetched = await view.fetch(self.source)
            if isinstance(view, TableView):
                await view.prepare(fetched)
        except NatsopsError as exc:
            self.post_message(self.Failed(view.NAME, str(exc)))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a view must never bring the dashboard down
            log.exception("fetching %s failed", view.NAME)
            self.post_message(self.Failed(view.NAME, f"internal error: {exc}"))
        else:
            fetched.cost = time.perf_counter() - t0
            self.post_message(self.Data(view.NAME, fetched))
        finally:
            if not self.post_message(self.PollDone(view.NAME)):
                self._release_gc()  # the app is closing: nobody will handle it

    def _release_gc(self) -> None:
        """End one fetch's :func:`gc_hold` (see :meth:`_fetch`)."""
        if self._gc_held:
            self._gc_held -= 1
            gc_release()

    def on_natsops_app_data(self, message: Data) -> None:
        view = self.views[message.view]
        message.fetched.at = self.clock()
        t0 = time.perf_counter()
        view.apply(message.fetched)
        self.last_apply_cost = time.perf_counter() - t0
        if isinstance(view, TableView) and view.model.total >= LARGE_TABLE:
            gc_after_large_refresh()
        self.poll_count[view.NAME] = self.poll_count.get(view.NAME, 0) + 1
        self._share_names(view)
        result = message.fetched.result
        if result is not None and message.view == self.current and result.total:
            self.roll_call, self.roll_call_warn = roll_call(result, self.source.roster)
        self.update_status()

    def _share_names(self, view: View) -> None:
        if isinstance(view, AccountsView):
            names = view.account_names()
            conns = self.views["connections"]
            assert isinstance(conns, ConnectionsView)
            conns.account_names.update(names)
            if self.source.events is not None:
                self.source.events.account_names.update(names)

    def on_natsops_app_failed(self, message: Failed) -> None:
        self.views[message.view].failed(message.error)
        if message.view == self.current:
            self.notice = message.error
            self.update_status()

    def on_natsops_app_poll_done(self, message: PollDone) -> None:
        self._release_gc()
        self._inflight.discard(message.view)
        if message.view != self.current:
            return
        if message.view in self._again:
            self._again.discard(message.view)
            self.poll_now()
            return
        self._schedule()

    def _schedule(self) -> None:
        if self.paused or not self.live or not self.view.POLLS:
            return
        if self._poll_timer is not None:
            self._poll_timer.stop()
        self._poll_timer = self.set_timer(self.refresh_interval, self.poll_now)

    def _pull_events(self) -> None:
        # TODO: during a 20,000 events/s storm keys answer in 25-45 ms at the
        # median and 60-100 ms at p95 on a shared 2-core machine, so the 100 ms
        # target holds only just: parsing, pulls and repaints share this loop, and
        # a key's repaint takes several hops through Textual's message queues, each
        # of which can wait behind a pull (about 12 ms) or a full repaint (15-25
        # ms). Tried and dropped: deferring pulls while keys arrive (no measurable
        # difference), halving the pulls in a storm (median 10 ms, but larger
        # pulls made p95 worse, up to 190 ms).
        view = self.views["events"]
        if self.current == "events" and not self.paused:
            assert isinstance(view, EventsView)
            if view.pull() >= STORM_BATCH:
                # A storm: keep the buffered events and their rows out of the
                # cyclic GC's full scans, as for large tables.
                gc_after_large_refresh()
        feed_notice = getattr(getattr(self.source, "feed", None), "notice", None)
        if feed_notice and feed_notice != self.notice:
            self.notice = feed_notice
            self.update_status()

    # -- connection state ------------------------------------------------------------

    def _on_link(self, link: LinkState) -> None:
        self.post_message(self.LinkChanged(link))

    def on_natsops_app_link_changed(self, message: LinkChanged) -> None:
        before = self.link.state
        self.link = message.link
        self.update_identity()
        self.update_status()
        if before == RECONNECTING and message.link.state == CONNECTED:
            self.notify(f"reconnected to {message.link.server or message.link.url}")
            self.poll_now()

    def _roster_changed(self, _entry: Any) -> None:
        self.post_message(self.RosterChanged())

    def on_natsops_app_roster_changed(self, message: RosterChanged) -> None:
        if self.current in ("servers", "jetstream", "health") and self.started:
            self.poll_now()

    # -- header and status -------------------------------------------------------------

    def update_identity(self) -> None:
        me = self.source.identity()
        text = Text()
        text.append(" natsops ", style="bold reverse")
        text.append(f"  {me.user or '?'}", style="bold")
        text.append(f" @ {me.account or '?'}")
        server = self.link.server or me.server
        text.append("  server ")
        text.append(server or "?", style="bold")
        if me.url:
            text.append(f" {me.url}")
        text.append("  ")
        text.append_text(self._link_badge())
        self.identity_bar.update(text, layout=False)

    def _link_badge(self) -> Text:
        state = self.link.state
        if state == CONNECTED:
            return Text("● connected", style="bold green")
        if state == RECONNECTING:
            return Text("◌ reconnecting", style="bold yellow")
        if state == OFFLINE:
            return Text(f"○ {self.link.detail or 'offline'}", style="bold")
        return Text(f"✕ {self.link.detail or state}", style="bold red")

    def refresh_age(self) -> float | None:
        updated = self.view.updated_at
        return None if updated is None else max(0.0, self.clock() - updated)

    def status_text(self) -> Text:
        text = Text()
        link = self.link
        if link.state == CONNECTED:
            text.append(f" {link.server or 'connected'} ", style="bold")
        elif link.state == RECONNECTING:
            text.append(" reconnecting… ", style="bold yellow")
        else:
            text.append(f" {link.detail or link.state} ", style="bold")
        age = self.refresh_age()
        text.append("│ ")
        if self.view.POLLS:
            text.append("updated " + ("never" if age is None else f"{age:.0f}s ago"))
            text.append(f" every {self.refresh_interval:g}s ")
        else:
            text.append(f"{self.view.TITLE.lower()} ")
        if self.roll_call:
            text.append("│ ")
            text.append(
                self.roll_call, style="bold yellow" if self.roll_call_warn else ""
            )
            text.append(" ")
        if self.source.read_only:
            text.append(" READ-ONLY ", style="bold reverse red")
            text.append(" ")
        if self.paused:
            text.append(" PAUSED ", style="bold reverse yellow")
            text.append(" ")
        if self.notice:
            text.append("│ ")
            text.append(self.notice, style="italic")
        return text

    def update_status(self) -> None:
        # One line of fixed height: no new layout (a reflow of the whole screen).
        self.status_bar.update(self.status_text(), layout=False)

    # -- navigation --------------------------------------------------------------------

    def action_show(self, name: str) -> None:
        self.show_view(name)

    def show_view(self, name: str, remember: bool = True) -> None:
        """Switch to a view; it fetches now and the others stop polling."""
        if name not in self.views:
            self.notify(f"unknown view {name!r}", severity="warning")
            return
        if name != self.current and remember:
            self.previous.append(self.current)
            del self.previous[:-20]
        self.current = name
        self.notice = ""
        self.query_one(ContentSwitcher).current = f"view-{name}"
        self.views[name].focus_main()
        self.refresh_bindings()
        self.update_status()
        if self.started:
            # Paint the view's current rows first, then fetch fresh ones.
            self.call_after_refresh(self.poll_now, name)

    async def action_back(self) -> None:
        if self.command_line.has_class("-shown"):
            self._close_command()
            return
        if self.view.clear_or_back():
            return
        if self.previous:
            self.show_view(self.previous.pop(), remember=False)

    def action_refresh(self) -> None:
        self.poll_now()
        self.notify("refreshing", timeout=1)

    def action_pause(self) -> None:
        self.paused = not self.paused
        if self.paused:
            if self._poll_timer is not None:
                self._poll_timer.stop()
                self._poll_timer = None
        else:
            self.poll_now()
        self.update_status()

    # -- selection: detail and raw JSON ------------------------------------------------

    def open_detail(self, selection: Selection, raw: bool = False) -> None:
        """Show a selection's detail (or raw JSON) once its view completed it."""
        self._open_selection(self.view, selection, raw)

    @work(group="detail", exclusive=True, exit_on_error=False)
    async def _open_selection(
        self, view: View, selection: Selection, raw: bool
    ) -> None:
        try:
            selection = await view.resolve(self.source, selection)
        except NatsopsError as exc:
            self.notify(str(exc), title=selection.title, severity="warning")
            return
        if isinstance(selection.data, dict):
            # CONNZ with auth carries each user's JWT; VARZ the operator's.
            selection = replace(selection, data=redact(selection.data))
        if raw:
            screen = DetailScreen(
                f"{selection.title} (raw JSON)", view.raw_json(selection), raw=True
            )
        else:
            screen = DetailScreen(selection.title, view.detail(selection))
        self.call_later(self.push_screen, screen)

    def action_raw(self) -> None:
        selection = self.view.selection()
        if selection is None:
            self.notify("nothing selected", severity="warning")
            return
        self.open_detail(selection, raw=True)

    # -- command line ------------------------------------------------------------------

    def action_command(self) -> None:
        self.command_line.add_class("-shown")
        self.command_line.value = ""
        self.command_line.focus()

    def _close_command(self) -> None:
        self.command_line.remove_class("-shown")
        self.command_line.value = ""
        self.view.focus_main()

    @on(Input.Submitted, "#command")
    def _command_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        text = event.value
        self._close_command()
        self.run_command(text)

    def run_command(self, text: str) -> None:
        """Run one ``:`` command (a view name or alias, theme, sort, filter...)."""
        try:
            verb, arg = parse_command(text, self.views)
        except NatsopsError as exc:
            self.notify(str(exc), severity="warning")
            return
        if verb == "view":
            self.show_view(arg)
        elif verb == "theme":
            if self.apply_theme(arg):
                self.notify(f"theme {arg}")
        elif verb == "sort":
            self._sort(arg)
        elif verb == "filter":
            view = self.view
            if isinstance(view, TableView):
                view.set_filter(arg)
        elif verb == "refresh":
            self.action_refresh()
        elif verb == "pause":
            self.action_pause()
        elif verb == "help":
            self.action_help()
        elif verb == "quit":
            self.exit(0)

    def _sort(self, column: str) -> None:
        view = self.view
        if not isinstance(view, TableView):
            return
        wanted = column.lower()
        for col in view.model.columns:
            if wanted in (col.key.lower(), col.label.lower()):
                view.sort_by(col.key)
                return
        keys = ", ".join(c.key for c in view.model.columns)
        self.notify(f"no column {column!r} (columns: {keys})", severity="warning")

    # -- palette -----------------------------------------------------------------------

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for cls in VIEW_CLASSES:
            yield SystemCommand(
                f"View: {cls.TITLE}",
                f"show {cls.TITLE} (:{cls.NAME})",
                lambda name=cls.NAME: self.show_view(name),
            )

    def jump_to(self, view: str, key: str, text: str) -> None:
        """Show ``view`` with the cursor on row ``key`` (else filtered by ``text``).

        A view that has not fetched yet takes the jump with its first data.
        """
        target = self.views[view]
        if isinstance(target, TableView):
            target.jump(key, text)
        self.show_view(view)

    # -- help --------------------------------------------------------------------------

    def help_sections(self) -> list[tuple[str, list[tuple[str, str]]]]:
        views = [(cls.KEY or f":{cls.NAME}", cls.TITLE) for cls in VIEW_CLASSES]
        general = [
            (
                ":",
                "command mode: "
                + ", ".join(
                    f":{c.NAME}" + "".join(f" :{a}" for a in c.ALIASES)
                    for c in VIEW_CLASSES
                )
                + ", :theme NAME, :sort COLUMN, :filter REGEX, :quit (tab completes)",
            ),
            (
                "ctrl+p",
                "palette: jump to a server, stream, consumer or account; themes",
            ),
            ("/", "filter the table (regular expression); esc clears it"),
            ("esc", "clear the filter, close, or go back to the previous view"),
            ("s / d", "sort by the next column / reverse the order"),
            ("enter", "detail of the selection"),
            ("j", "raw JSON of the selection"),
            ("r", "refresh now"),
            ("p", "pause or resume live updates"),
            ("?", "this help"),
            ("q", "quit"),
            ("up down pgup pgdn home end", "move the cursor"),
        ]
        conns = [(k, f"sort by {v}") for k, v in ConnectionsView.SORT_KEYS.items()]
        conns += [
            (
                "/",
                "filter words acc:NAME user:PUBLIC-KEY state:open|closed|all are "
                "asked of the servers (CONNZ filters), then a regex",
            ),
            (
                "large deployments",
                "above 20,000 connections each server is asked for its top N by "
                "the sort key (the title says so); scrolling down fetches more",
            ),
        ]
        events = [
            (
                "/",
                "filter words type:KIND server:NAME account:NAME sev:warning, "
                "then a regex",
            )
        ]
        ops = [(k, v) for k, v in actions.OP_KEYS.items()]
        ops.append(
            (
                "M then y",
                "the move tracker follows the stream until it settles; C in it "
                "cancels the move, esc leaves it running",
            )
        )
        per_view = [
            (f"{view}", ", ".join(f"{a.key} {a.label}" for a in acts.values()))
            for view, acts in actions.ACTIONS.items()
        ]
        return [
            ("views", views),
            ("keys", general),
            ("Connections", conns),
            ("Events", events),
            ("operations (confirmation shows target, subject, body, effect; y/n)", ops),
            ("operations by view", per_view),
        ]

    def action_help(self) -> None:
        self.push_screen(HelpScreen(self.help_sections()))

    # -- operations --------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Operation keys: hidden where they mean nothing, dimmed where refused.

        Over another screen (a detail, the move tracker, a confirmation) the keys
        that act on the view underneath are hidden and do nothing.
        """
        if action in _VIEW_ACTIONS and self.screen is not self.screen_stack[0]:
            return False
        if action == "op" and parameters:
            act = actions.action_for(self.current, str(parameters[0]))
            if act is None:
                return False
            return None if self.op_refusal(act) else True
        return True

    def op_refusal(self, act: actions.Action) -> str | None:
        """Why an operation key does nothing here (None when it may be used)."""
        if self.source.read_only:
            return (
                f"{act.key} ({act.label}) does nothing: natsops runs read-only "
                "(--read-only, NATSOPS_READ_ONLY=1 or the profile)"
            )
        if self.source.ops is None:
            return f"{act.key} ({act.label}) needs a live connection to the cluster"
        if self.perms_report is not None:
            selection = self.view.selection()
            account = act.account(selection) if selection is not None else None
            from natsops.perms.check import unavailable_reason

            try:
                reason = unavailable_reason(self.perms_report, act.feature, account)
            except KeyError:
                reason = None
            if reason:
                return (
                    f"{act.key} ({act.label}) is disabled for this credential: {reason}"
                )
        return None

    def on_key(self, event: events.Key) -> None:
        """A dimmed operation key still says why it does nothing."""
        key = event.key
        if key.startswith("shift+") and len(key) == 7:
            key = key[-1].upper()
        act = actions.action_for(self.current, key)
        if act is None or isinstance(self.focused, Input) or len(self.screen_stack) > 1:
            return
        reason = self.op_refusal(act)
        if reason:
            event.stop()
            self._refuse(reason)

    def _refuse(self, reason: str) -> None:
        title = "READ-ONLY" if self.source.read_only else "not available"
        self.notify(reason, title=title, severity="warning")

    def on_windowed_table_highlighted(self, event: Any) -> None:
        # Per-account permissions may enable or dim keys for the new selection;
        # refresh the footer only when that changes (it is rebuilt on refresh).
        state = tuple(
            self.check_action("op", (key,))
            for key in actions.ACTIONS.get(self.current, {})
        )
        if state != self._op_state:
            self._op_state = state
            self.refresh_bindings()

    @work(group="perms", exclusive=True, exit_on_error=False)
    async def _load_perms(self) -> None:
        try:
            report = await self.source.perms_report()
        except NatsopsError as exc:
            log.debug("permission report: %s", exc)
            return
        self.call_later(self._perms_loaded, report)

    def _perms_loaded(self, report: Any) -> None:
        self.perms_report = report
        self.refresh_bindings()

    def action_op(self, key: str) -> None:
        """An operation key: refuse with a reason, or prompt, plan and confirm."""
        act = actions.action_for(self.current, key)
        if act is None:
            return
        reason = self.op_refusal(act)
        if reason:
            self._refuse(reason)
            return
        selection = self.view.selection()
        if selection is None:
            self.notify(f"{key} ({act.label}): nothing selected", severity="warning")
            return
        if act.prompt is None or (act.key == "P" and actions.is_paused(selection)):
            self._plan(act, selection, None)
            return
        title, hint = act.prompt
        default = act.default(selection) if act.default else ""

        def answered(value: str | None) -> None:
            if value is None:
                self.notify(f"{act.label} cancelled; nothing changed")
                return
            self._plan(act, selection, value)

        if act.choices is not None:
            choices = act.choices(selection, self.source.roster.entries())
            self.push_screen(
                MoveTargetScreen(f"{act.label}: {selection.title}", choices, default),
                answered,
            )
            return
        self.push_screen(
            PromptScreen(
                f"{act.label}: {selection.title}", f"{title} ({hint})", default
            ),
            answered,
        )

    def _plan(
        self, act: actions.Action, selection: Selection, answer: str | None
    ) -> None:
        self.notify(f"planning {act.label}…", timeout=2)
        self._plan_worker(act, selection, answer)

    @work(group="ops", exclusive=False, exit_on_error=False)
    async def _plan_worker(
        self, act: actions.Action, selection: Selection, answer: str | None
    ) -> None:
        try:
            plan = await act.plan(self.source.ops, selection, answer)
        except NatsopsError as exc:
            self.post_message(self.OpDone(error=str(exc), label=act.label))
            return
        self.post_message(self.PlanReady(plan, act.label))

    def on_natsops_app_plan_ready(self, message: PlanReady) -> None:
        plan = message.plan

        def confirmed(yes: bool | None) -> None:
            if not yes:
                self.source.ops.record_cancelled(plan)
                self.notify(f"{message.label} cancelled; nothing changed")
                return
            if plan.action in TRACKED_ACTIONS:
                # The tracker sends the plan and follows the stream until it settles.
                self.push_screen(MoveTrackerScreen(self.source, plan), self._tracked)
                return
            self.notify(f"{message.label}: sent, checking the outcome…", timeout=3)
            self._execute(plan, message.label)

        self.push_screen(ConfirmScreen(plan), confirmed)

    def _tracked(self, _result: None = None) -> None:
        """The tracker screen closed: show what the move changed."""
        self.poll_now()
        self.views["audit"].updated_at = None

    @work(group="ops", exclusive=False, exit_on_error=False)
    async def _execute(self, plan: Any, label: str) -> None:
        try:
            outcome = await self.source.ops.execute(plan)
        except NatsopsError as exc:
            self.post_message(self.OpDone(error=str(exc), label=label))
            return
        self.post_message(self.OpDone(outcome=outcome, label=label))

    def on_natsops_app_op_done(self, message: OpDone) -> None:
        if message.error:
            self.notify(
                message.error, title=message.label, severity="error", timeout=10
            )
        else:
            outcome = message.outcome
            severity: SeverityLevel = "information" if outcome.verified else "warning"
            self.notify(
                outcome.summary, title=message.label, severity=severity, timeout=10
            )
        self.poll_now()
        audit = self.views["audit"]
        if self.current != "audit":
            audit.updated_at = None

    # -- screenshots -------------------------------------------------------------------

    def export_screenshot(
        self, *, title: str | None = None, simplify: bool = False
    ) -> str:
        """An SVG of the screen whose spacing survives every SVG renderer.

        Rich writes each run of one style as its own ``<text>`` element, so the
        space between ``Servers`` and its count starts an element; renderers that
        follow the default ``xml:space`` (librsvg, Inkscape, image viewers) strip
        it and the words run together. ``xml:space="preserve"`` keeps it.
        """
        svg = super().export_screenshot(title=title, simplify=simplify)
        return preserve_svg_spaces(svg)

    # -- testing helpers ---------------------------------------------------------------

    def table_of(self, name: str) -> TableView:
        view = self.views[name]
        assert isinstance(view, TableView)
        return view
