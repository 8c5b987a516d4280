"""A one-line key bar: the active bindings as text, cheap to update on every change.

Textual's Footer rebuilds one widget per key whenever bindings change; natsops
changes bindings on every view switch and focus change, so a single Static that
re-renders a line of text keeps key response low.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual.screen import Screen
from textual.widgets import Static


class KeyBar(Static):
    """The keys that work here; refused ones dimmed (see ``App.check_action``)."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "keybar--key",
        "keybar--disabled",
    }

    DEFAULT_CSS = """
    KeyBar { dock: bottom; height: 1; background: $panel; color: $text-muted; }
    KeyBar > .keybar--key { color: $accent; text-style: bold; }
    KeyBar > .keybar--disabled { color: $text-disabled; text-style: strike; }
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("", **kwargs)
        self._last = ""

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._changed)
        self.call_after_refresh(self.rebuild)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def _changed(self, screen: Screen[Any]) -> None:
        if self.is_attached and screen is self.screen:
            self.rebuild()

    def rebuild(self) -> None:
        """Render the active bindings (one per action) into the line."""
        key_style = self.get_component_rich_style("keybar--key")
        off_style = self.get_component_rich_style("keybar--disabled")
        text = Text(no_wrap=True, overflow="ellipsis")
        seen: set[str] = set()
        palette = self.app.COMMAND_PALETTE_BINDING
        for key, active in self.screen.active_bindings.items():
            binding = active.binding
            if not binding.show or binding.action in seen or key == palette:
                continue
            seen.add(binding.action)
            label = self.app.get_key_display(binding)
            text.append(f" {label}", style=key_style if active.enabled else off_style)
            text.append(
                f" {binding.description} ", style=None if active.enabled else off_style
            )
        if self.app.ENABLE_COMMAND_PALETTE:
            text.append(" ^p", style=key_style)
            text.append(" palette")
        plain = text.plain + str([s.style for s in text.spans])
        if plain != self._last:
            self._last = plain
            self.update(text)

    def keys(self) -> list[str]:
        """The keys shown (for tests)."""
        return [w for w in self._last.split() if w]
