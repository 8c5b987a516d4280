"""Command mode (``:name``) parsing and the palette's jumps and theme choices."""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import Any

from textual.command import DiscoveryHit, Hit, Hits, Provider

from natsops.errors import UsageError

_VERBS = {
    "theme": "theme",
    "sort": "sort",
    "filter": "filter",
    "f": "filter",
    "refresh": "refresh",
    "pause": "pause",
    "help": "help",
    "quit": "quit",
    "q": "quit",
}


def view_names(views: Mapping[str, Any]) -> dict[str, str]:
    """Every name and alias -> view name."""
    names: dict[str, str] = {}
    for name, view in views.items():
        names[name] = name
        for alias in getattr(view, "ALIASES", ()):
            names[alias] = name
    return names


def parse_command(text: str, views: Mapping[str, Any]) -> tuple[str, str]:
    """``servers`` -> ("view", "servers"); ``theme x`` -> ("theme", "x")..."""
    words = text.strip().removeprefix(":").strip().split(None, 1)
    if not words:
        raise UsageError("empty command", "type a view name, e.g. :servers; ? for help")
    head = words[0].lower()
    arg = words[1].strip() if len(words) > 1 else ""
    names = view_names(views)
    if head in names:
        return "view", names[head]
    verb = _VERBS.get(head)
    if verb is None:
        known = ", ".join(sorted(names))
        raise UsageError(f"unknown command :{head}", f"views: {known}; ? lists keys")
    if verb in ("theme", "sort") and not arg:
        raise UsageError(f":{head} needs an argument", f"e.g. :{head} NAME")
    return verb, arg


class JumpProvider(Provider):
    """Jump to any server, stream, consumer or account the dashboard has seen."""

    def _targets(self) -> list[tuple[str, str, str, str]]:
        """(label, view, row key, filter text) of every jump target."""
        # TODO: streams, consumers and accounts are known once their view has been
        # shown (only the visible view fetches); a palette search could ask JSZ.
        app: Any = self.app
        targets: list[tuple[str, str, str, str]] = []
        for entry in app.source.roster.entries():
            label = f"server {entry.name} ({entry.cluster or '?'}, {entry.state})"
            targets.append((label, "servers", entry.name, entry.name))
        for name in ("streams", "consumers", "accounts"):
            view = app.views.get(name)
            model = getattr(view, "model", None)
            if model is None:
                continue
            for row in model.rows():
                title = view.row_title(row)
                targets.append((title, name, row.key, str(row.values[1])))
        return targets

    async def discover(self) -> Hits:
        app: Any = self.app
        for label, view, key, text in self._targets()[:40]:
            yield DiscoveryHit(
                label, partial(app.jump_to, view, key, text), help=f"go to {view}"
            )

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for label, view, key, text in self._targets():
            score = matcher.match(label)
            if score > 0:
                yield Hit(
                    score,
                    matcher.highlight(label),
                    partial(self.app.jump_to, view, key, text),  # type: ignore[attr-defined]
                    text=label,
                    help=f"go to {view}",
                )


class ThemeChoiceProvider(Provider):
    """Choose a natsops theme (bundled or from the user's theme folder)."""

    def _themes(self) -> list[str]:
        app: Any = self.app
        return sorted(app.theme_set.themes)

    async def discover(self) -> Hits:
        for name in self._themes():
            yield DiscoveryHit(
                f"theme: {name}",
                partial(self.app.apply_theme, name),  # type: ignore[attr-defined]
                help="switch the dashboard theme",
            )

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name in self._themes():
            label = f"theme: {name}"
            score = matcher.match(label)
            if score > 0:
                yield Hit(
                    score,
                    matcher.highlight(label),
                    partial(self.app.apply_theme, name),  # type: ignore[attr-defined]
                    text=label,
                    help="switch the dashboard theme",
                )
