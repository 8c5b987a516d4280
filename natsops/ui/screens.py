"""Modal screens: detail and raw JSON, confirmation of an operation, prompts, help."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Input, Static

from natsops.ui.keybar import KeyBar


class DetailScreen(Screen[None]):
    """Full-screen detail of one selection (a renderable or JSON text)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss_detail", "Back"),
        Binding("q", "dismiss_detail", "Back", show=False),
        Binding("j", "dismiss_detail", "Back", show=False),
    ]

    DEFAULT_CSS = """
    DetailScreen { background: $surface; }
    DetailScreen > .detail-title {
        height: 1; padding: 0 1; background: $panel; color: $text; text-style: bold;
    }
    DetailScreen > VerticalScroll { padding: 0 1; }
    """

    def __init__(self, title: str, body: Any, *, raw: bool = False) -> None:
        super().__init__()
        self.title_text = title
        self.raw = raw
        self.body = body

    def compose(self) -> ComposeResult:
        yield Static(self.title_text, classes="detail-title", id="detail-title")
        content: Any = self.body
        if self.raw or isinstance(self.body, str):
            content = Syntax(
                str(self.body),
                "json",
                theme="ansi_dark",
                word_wrap=True,
                background_color="default",
            )
        with VerticalScroll(id="detail-scroll"):
            yield Static(content, id="detail-body")
        yield KeyBar()

    def on_mount(self) -> None:
        self.query_one("#detail-scroll").focus()

    def action_dismiss_detail(self) -> None:
        self.dismiss(None)


class ConfirmScreen(ModalScreen[bool]):
    """Shows an operation's exact target, subject, body and effect; y or n."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Confirm"),
        Binding("n", "answer(False)", "Cancel"),
        Binding("escape", "answer(False)", "Cancel"),
    ]

    DEFAULT_CSS = """
    ConfirmScreen { align: center middle; }
    ConfirmScreen > Vertical {
        width: 100; max-width: 95%; height: auto; max-height: 90%;
        border: thick $warning; background: $panel; padding: 1 2;
    }
    ConfirmScreen .confirm-title { text-style: bold; color: $warning; }
    ConfirmScreen .confirm-hint { color: $text-muted; margin-top: 1; }
    ConfirmScreen Input { margin-top: 1; }
    """

    def __init__(self, plan: Any) -> None:
        super().__init__()
        self.plan = plan
        self.typed = getattr(plan, "confirm", None)

    def compose(self) -> ComposeResult:
        plan = self.plan
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold", no_wrap=True)
        table.add_column()
        table.add_row("action", plan.action)
        table.add_row("target", plan.target)
        table.add_row("connection", plan.connection)
        table.add_row("subject", plan.subject)
        table.add_row("body", plan.body_text())
        if plan.leader is not None:
            table.add_row("leader", plan.leader)
        if plan.candidates:
            table.add_row("candidates", ", ".join(plan.candidates))
        if plan.streams:
            table.add_row("streams", ", ".join(plan.streams))
        table.add_row("effect", plan.effect)
        for risk in plan.at_risk:
            table.add_row(Text("AT RISK", style="bold red"), risk.describe())
        for warning in plan.warnings:
            table.add_row(Text("WARNING", style="bold yellow"), warning)
        with Vertical():
            yield Static(f"Confirm {plan.action}?", classes="confirm-title")
            yield Static(table, id="confirm-plan")
            if self.typed:
                yield Static(
                    f"Type {self.typed!r} and press enter to confirm; esc cancels.",
                    classes="confirm-hint",
                )
                yield Input(placeholder=self.typed, id="confirm-input")
            else:
                yield Static("y confirms, n or esc cancels.", classes="confirm-hint")

    def on_mount(self) -> None:
        if self.typed:
            self.query_one("#confirm-input", Input).focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # With a typed confirmation, only enter (with the right text) confirms.
        if action == "answer" and self.typed and parameters == (True,):
            return False
        return True

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if self.plan.confirms(event.value):
            self.dismiss(True)
        else:
            event.input.add_class("-invalid")
            self.notify(f"type {self.typed!r} exactly to confirm", severity="warning")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


class PromptScreen(ModalScreen[str | None]):
    """One line of input (a move target, a peer, a pause time).

    Enter answers the text (possibly empty); esc answers None (cancelled).
    """

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    DEFAULT_CSS = """
    PromptScreen { align: center middle; }
    PromptScreen > Vertical {
        width: 90; max-width: 95%; height: auto; border: thick $primary;
        background: $panel; padding: 1 2;
    }
    PromptScreen .prompt-hint { color: $text-muted; }
    """

    def __init__(self, title: str, hint: str, default: str = "") -> None:
        super().__init__()
        self.title_text = title
        self.hint = hint
        self.default = default

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text(self.title_text, style="bold"))
            yield Static(self.hint, classes="prompt-hint")
            yield Input(value=self.default, id="prompt-input")

    def on_mount(self) -> None:
        self.query_one("#prompt-input", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(event.value.strip())

    def action_cancel(self) -> None:
        self.dismiss(None)


class HelpScreen(ModalScreen[None]):
    """Every key of the dashboard and of each view, and the command names."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close"),
        Binding("question_mark", "close", "Close", show=False),
        Binding("q", "close", "Close", show=False),
    ]

    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll {
        width: 110; max-width: 95%; height: 90%; border: thick $primary;
        background: $panel; padding: 0 1;
    }
    """

    def __init__(self, sections: Iterable[tuple[str, list[tuple[str, str]]]]) -> None:
        super().__init__()
        self.sections = list(sections)

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-scroll"):
            for title, rows in self.sections:
                table = Table(
                    title=title,
                    title_justify="left",
                    title_style="bold",
                    show_header=False,
                    box=None,
                    expand=True,
                )
                table.add_column(style="bold", no_wrap=True, width=26)
                table.add_column(ratio=1)
                for key, text in rows:
                    table.add_row(key, text)
                yield Static(table)

    def action_close(self) -> None:
        self.dismiss(None)

    def keys_text(self) -> str:
        """Every listed key, for tests."""
        return " ".join(key for _title, rows in self.sections for key, _ in rows)
