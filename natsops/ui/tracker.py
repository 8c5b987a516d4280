"""Stream moves in the dashboard: choosing the target, and watching the move finish.

:class:`MoveTargetScreen` offers the targets that make sense for the selected stream
(off one of its replica servers, or to another cluster) and free text for tag sets.
:class:`MoveTrackerScreen` sends a confirmed move (or cancel) plan and follows it
with a ``natsops.ops.MoveTracker`` until the stream settles, feeding it the stream's
advisories from the event store; ``C`` cancels the move from there.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from typing import Any, ClassVar

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen, Screen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from natsops.errors import NatsopsError
from natsops.ui.keybar import KeyBar
from natsops.ui.screens import ConfirmScreen

log = logging.getLogger(__name__)

#: Plans whose execution the tracker screen follows.
MOVE_ACTIONS = ("stream-move-server", "stream-move-placement")
CANCEL_ACTION = "stream-cancel-move"
TRACKED_ACTIONS = (*MOVE_ACTIONS, CANCEL_ACTION)

#: Seconds between two looks at the stream while it moves.
POLL_INTERVAL = 0.2
#: Stop watching (the move goes on) after this long without settling.
MAX_FOLLOW = 900.0


class MoveTargetScreen(ModalScreen[str | None]):
    """Pick where a stream goes: a listed target, or typed ``tags A,B``.

    Answers the target as ``off SERVER``, ``cluster NAME`` or ``tags A,B`` (what
    ``natsops.ui.actions.parse_move`` reads); esc answers None.
    """

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    DEFAULT_CSS = """
    MoveTargetScreen { align: center middle; }
    MoveTargetScreen > Vertical {
        width: 100; max-width: 95%; height: auto; max-height: 90%;
        border: thick $primary; background: $panel; padding: 1 2;
    }
    MoveTargetScreen OptionList { height: auto; max-height: 16; margin: 1 0; }
    MoveTargetScreen .prompt-hint { color: $text-muted; }
    """

    def __init__(
        self, title: str, choices: Sequence[tuple[str, str]], default: str = ""
    ) -> None:
        super().__init__()
        self.title_text = title
        self.choices = list(choices)
        self.default = default

    def compose(self) -> ComposeResult:
        options = [
            Option(label, id=f"target-{i}")
            for i, (_v, label) in enumerate(self.choices)
        ]
        with Vertical():
            yield Static(Text(self.title_text, style="bold"))
            yield Static(
                "enter picks a target; or type 'tags A,B', 'cluster NAME' or "
                "'off SERVER' below",
                classes="prompt-hint",
            )
            yield OptionList(*options, id="move-targets")
            yield Input(
                placeholder="tags A,B | cluster NAME | off SERVER", id="move-input"
            )

    def on_mount(self) -> None:
        targets = self.query_one("#move-targets", OptionList)
        if self.choices:
            index = next(
                (i for i, (v, _l) in enumerate(self.choices) if v == self.default), 0
            )
            targets.highlighted = index
            targets.focus()
        else:
            self.query_one("#move-input", Input).focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(self.choices[event.option_index][0])

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        value = event.value.strip()
        if value:
            self.dismiss(value)

    def action_cancel(self) -> None:
        self.dismiss(None)


def _in_account(ev: Any, account: str, public_key: str) -> bool:
    """Whether an event belongs to the account (events without one are kept)."""
    names = {account, public_key} - {""}
    own = {str(getattr(ev, "account", "") or ""), str(getattr(ev, "account_id", ""))}
    own.discard("")
    return not own or bool(own & names)


class MoveTrackerScreen(Screen[None]):
    """Sends a move (or cancel) plan and follows the stream until it settles."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("C,shift+c", "cancel_move", "Cancel move"),
        Binding("escape", "close", "Back"),
        Binding("q", "close", "Back", show=False),
    ]

    DEFAULT_CSS = """
    MoveTrackerScreen { background: $surface; }
    MoveTrackerScreen > .tracker-title {
        height: 1; padding: 0 1; background: $panel; color: $text; text-style: bold;
    }
    MoveTrackerScreen > VerticalScroll { padding: 0 1; }
    """

    class Update(Message):
        """A new look at the stream (or the follow loop ended)."""

        def __init__(self, snapshot: Any = None, ended: str = "") -> None:
            super().__init__()
            self.snapshot = snapshot
            self.ended = ended

    class Executed(Message):
        """The plan was sent: its outcome, or the error."""

        def __init__(self, plan: Any, outcome: Any = None, error: str = "") -> None:
            super().__init__()
            self.plan = plan
            self.outcome = outcome
            self.error = error

    def __init__(self, source: Any, plan: Any) -> None:
        super().__init__()
        self.source = source
        self.ops = source.ops
        self.stream = str(plan.stream or "")
        self.account = str(plan.account_name or plan.account or "")
        self.public_key = str(plan.account or "")
        self.move_plan = plan if plan.action in MOVE_ACTIONS else None
        self.plan = plan
        self.started = time.monotonic()
        self.tracker: Any = None
        self.snapshot: Any = None
        self.history: list[Any] = []
        self.outcomes: list[tuple[str, str, bool]] = []
        self.events: list[str] = []
        self.sent = False
        self.failed = ""
        self.done = False
        self.ended = ""
        store = getattr(source, "events", None)
        self._cursor = store.cursor() if store is not None else None
        self.title_bar = Static(classes="tracker-title", id="tracker-title")
        self.body = Static(id="tracker-body")

    # -- layout -----------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield self.title_bar
        with VerticalScroll(id="tracker-scroll"):
            yield self.body
        yield KeyBar()

    def on_mount(self) -> None:
        self._begin(self.plan)

    @property
    def cancelling(self) -> bool:
        return self.plan.action == CANCEL_ACTION

    def _begin(self, plan: Any) -> None:
        """Send ``plan`` and (re)start following with a tracker made for it."""
        self.plan = plan
        self.sent = False
        self.failed = ""
        self.done = False
        self.ended = ""
        tracker = self.ops.tracker(plan)
        if plan.action == CANCEL_ACTION:
            origin = plan.check.get("origin") or {}
            tracker.cluster = (origin.get("placement") or {}).get("cluster")
        if self.tracker is not None:
            tracker.events = list(self.tracker.events)
            tracker.leaders = list(self.tracker.leaders)
        self.tracker = tracker
        self._execute(plan)
        self._follow(tracker)
        self.render_state()

    # -- workers ------------------------------------------------------------------

    @work(group="move-exec", exclusive=True, exit_on_error=False)
    async def _execute(self, plan: Any) -> None:
        try:
            outcome = await self.ops.execute(plan)
        except NatsopsError as exc:
            self.post_message(self.Executed(plan, error=str(exc)))
            return
        self.post_message(self.Executed(plan, outcome=outcome))

    @work(group="move-follow", exclusive=True, exit_on_error=False)
    async def _follow(self, tracker: Any) -> None:
        deadline = time.monotonic() + MAX_FOLLOW
        while True:
            self._feed_events(tracker)
            try:
                snap = await tracker.poll()
            except NatsopsError as exc:
                self.post_message(self.Update(ended=f"stopped watching: {exc}"))
                return
            self.post_message(self.Update(snap))
            if snap.done and self.sent:
                self.post_message(self.Update(ended="done"))
                return
            if self.failed:
                return
            if time.monotonic() >= deadline:
                self.post_message(
                    self.Update(
                        ended=f"not settled after {MAX_FOLLOW:.0f}s; stopped "
                        "watching (the move goes on)"
                    )
                )
                return
            await asyncio.sleep(POLL_INTERVAL)

    def _feed_events(self, tracker: Any) -> None:
        """Hand the stream's new advisories from the event store to the tracker."""
        if self._cursor is None:
            return
        for ev in self._cursor.pull().events:
            if getattr(ev, "stream", "") != self.stream:
                continue
            if not _in_account(ev, self.account, self.public_key):
                continue
            kind = str(getattr(ev, "kind", "") or getattr(ev, "type", ""))
            leader = ev.server if kind.endswith("leader_elected") else None
            tracker.observe_event({"stream": ev.stream, "type": kind, "leader": leader})

    # -- messages -------------------------------------------------------------------

    def on_move_tracker_screen_executed(self, message: Executed) -> None:
        if message.plan is not self.plan:
            return
        label = "cancel" if message.plan.action == CANCEL_ACTION else "move"
        if message.error:
            self.failed = message.error
            self.outcomes.append((label, message.error, False))
            self.notify(message.error, title=f"{label} failed", severity="error")
        else:
            self.sent = True
            outcome = message.outcome
            self.outcomes.append((label, outcome.summary, True))
        self.render_state()

    def on_move_tracker_screen_update(self, message: Update) -> None:
        if message.snapshot is not None:
            self.snapshot = message.snapshot
            self.history.append(message.snapshot)
            del self.history[:-500]
        if message.ended:
            self.ended = message.ended
            if message.ended == "done":
                self.done = True
                self.notify(self._done_text(), title="move", timeout=8)
        self.render_state()

    # -- keys ------------------------------------------------------------------------

    def action_close(self) -> None:
        if not self.done and not self.failed:
            self.app.notify(
                f"stopped watching {self.stream}; the move goes on (see Streams)",
                timeout=5,
            )
        self.app.pop_screen()

    def action_cancel_move(self) -> None:
        if self.source.read_only:
            self.notify(
                "C (cancel move) does nothing: natsops runs read-only",
                title="READ-ONLY",
                severity="warning",
            )
            return
        if self.done or self.failed:
            self.notify("no move in flight to cancel", severity="warning")
            return
        if self.cancelling:
            self.notify("the move is already being cancelled", severity="warning")
            return
        self._plan_cancel()

    @work(group="move-plan", exclusive=True, exit_on_error=False)
    async def _plan_cancel(self) -> None:
        try:
            plan = await self.ops.plan_cancel_move(self.account, self.stream)
        except NatsopsError as exc:
            self.notify(str(exc), title="cancel move", severity="error")
            return

        def confirmed(yes: bool | None) -> None:
            if not yes:
                self.ops.record_cancelled(plan)
                self.notify("cancel declined; the move goes on")
                return
            self._begin(plan)

        self.app.push_screen(ConfirmScreen(plan), confirmed)

    # -- rendering -------------------------------------------------------------------

    def _done_text(self) -> str:
        snap = self.snapshot
        where = ", ".join(snap.peer_names) if snap is not None else "?"
        cluster = snap.cluster if snap is not None else "?"
        verb = "rolled back to" if self.cancelling else "settled on"
        elapsed = time.monotonic() - self.started
        return f"{self.stream} {verb} {where} in cluster {cluster} after {elapsed:.1f}s"

    def _goal(self) -> str:
        plan = self.move_plan or self.plan
        check = plan.check
        if check.get("off_server"):
            goal = f"off {check['off_server']}"
        elif check.get("cluster"):
            goal = f"to cluster {check['cluster']}"
        elif check.get("tags"):
            goal = f"to tags {','.join(check['tags'])}"
        else:
            goal = ""
        return goal

    def state_line(self) -> str:
        """One line of where the move stands (for the title and tests)."""
        if self.failed:
            return f"failed: {self.failed}"
        if self.done:
            return "done: " + self._done_text()
        snap = self.snapshot
        if snap is None:
            return "sending…" if not self.sent else "waiting for the first look…"
        return snap.describe()

    def render_state(self) -> None:
        goal = self._goal()
        head = Text()
        verb = "Cancelling the move of" if self.cancelling else "Moving"
        head.append(f"{verb} stream {self.stream} ", style="bold")
        head.append(f"(account {self.account}) {goal}".rstrip())
        self.title_bar.update(head)
        self.body.update(self._renderable())

    def _renderable(self) -> Group:
        snap = self.snapshot
        parts: list[Any] = []
        status = Text()
        elapsed = time.monotonic() - self.started
        if self.failed:
            status.append("FAILED ", style="bold red")
            status.append(self.failed)
        elif self.done:
            status.append("DONE ", style="bold green")
            status.append(self._done_text())
        else:
            status.append(
                "IN FLIGHT " if self.sent else "SENDING ", style="bold yellow"
            )
            if snap is not None and snap.status_type:
                status.append(f"{snap.status_type}", style="bold")
                if snap.status_description:
                    status.append(f": {snap.status_description}")
            elif snap is not None and snap.error:
                status.append(snap.error, style="italic")
            else:
                status.append("waiting for the servers to report progress")
        status.append(f"   elapsed {elapsed:.1f}s", style="dim")
        parts.append(status)
        if self.ended and self.ended != "done":
            parts.append(Text(self.ended, style="italic"))

        facts = Table.grid(padding=(0, 2))
        facts.add_column(style="bold", no_wrap=True)
        facts.add_column()
        if snap is not None:
            facts.add_row("cluster", snap.cluster or "?")
            facts.add_row("target peers", ", ".join(snap.target_peers) or "-")
            facts.add_row("target cluster", snap.target_cluster or "-")
            facts.add_row("leader", snap.leader or "none")
            facts.add_row("leaders seen", " -> ".join(snap.leaders) or "-")
        for label, text, ok in self.outcomes:
            facts.add_row(
                f"{label} request", Text(text, style="" if ok else "bold red")
            )
        parts.append(facts)

        reps = Table(title="replicas", title_justify="left", expand=False)
        for col in ("server", "role", "current", "pending", "lag", "offline"):
            reps.add_column(col)
        for peer in snap.peers if snap is not None else []:
            reps.add_row(
                peer.name,
                "leader" if peer.leader else "replica",
                "yes" if peer.current else "no",
                Text("pending", style="bold yellow") if peer.pending else "",
                str(peer.lag) if peer.lag else "0",
                Text("offline", style="bold red") if peer.offline else "",
            )
        parts.append(reps)

        events = Text()
        events.append("advisories", style="bold underline")  # the title only
        seen = snap.events if snap is not None else self.tracker.events
        if not seen:
            events.append("\nnone yet", style="dim")
        for line in seen[-12:]:
            events.append(f"\n{line}")
        parts.append(events)
        hint = "C cancels the move, esc goes back (the move goes on)"
        if self.done or self.failed:
            hint = "esc goes back"
        parts.append(Text(hint, style="dim"))
        return Group(*parts)
