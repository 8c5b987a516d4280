"""Command mode (``:name``) parsing and the palette's jumps and theme choices."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from textual.command import DiscoveryHit, Hit, Hits, Provider

from natsops.errors import NatsopsError, UsageError

log = logging.getLogger(__name__)

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


#: The palette waits at most this long for names when it opens (seconds).
JUMP_FETCH_TIMEOUT = 1.5
#: Names fetched for the palette are reused for this long (seconds).
JUMP_CACHE_SECONDS = 15.0
#: At most this many jump targets (the first ones by view and name).
JUMP_LIMIT = 20_000


@dataclass(frozen=True)
class JumpTarget:
    """One palette jump: its label, the view, the row key, and a fallback filter."""

    label: str
    view: str
    key: str
    text: str


def _jsz_targets(result: Any, names: Mapping[str, str]) -> list[JumpTarget]:
    """Streams, consumers and accounts named by a JSZ reply with details."""
    targets: dict[str, JumpTarget] = {}
    for data in result.data().values():
        for acc in data.get("account_details") or ():
            if not isinstance(acc, dict):
                continue
            key = str(acc.get("id") or "")
            account = str(acc.get("name") or names.get(key) or key)
            if key:
                targets[f"a/{key}"] = JumpTarget(
                    f"account {account}", "accounts", key, account
                )
            for stream in acc.get("stream_detail") or ():
                if not isinstance(stream, dict):
                    continue
                name = str(stream.get("name", ""))
                row = f"{account}/{name}"
                targets[f"s/{row}"] = JumpTarget(
                    f"stream {name} (account {account})", "streams", row, name
                )
                for con in stream.get("consumer_detail") or ():
                    if not isinstance(con, dict):
                        continue
                    cname = str(con.get("name", ""))
                    targets[f"c/{row}/{cname}"] = JumpTarget(
                        f"consumer {cname} of stream {name} ({account})",
                        "consumers",
                        f"{row}/{cname}",
                        cname,
                    )
    return list(targets.values())


async def fetch_jump_targets(app: Any) -> list[JumpTarget]:
    """Every server, stream, consumer and account natsops can name right now.

    Servers come from the roster; the rest is asked of the servers (JSZ with
    details, ACCOUNTZ) within :data:`JUMP_FETCH_TIMEOUT`, so views never shown
    are reachable too. What the views already hold fills any gap.
    """
    source = app.source
    targets: dict[tuple[str, str], JumpTarget] = {}
    for entry in source.roster.entries():
        label = f"server {entry.name} ({entry.cluster or '?'}, {entry.state})"
        targets[("servers", entry.name)] = JumpTarget(
            label, "servers", entry.name, entry.name
        )
    names = dict(getattr(source, "account_keys", {}) or {})
    body = {"accounts": True, "streams": True, "consumer": True}
    try:
        async with asyncio.timeout(JUMP_FETCH_TIMEOUT):
            jsz, accountz = await asyncio.gather(
                source.paged("JSZ", body, "account_details", JUMP_FETCH_TIMEOUT),
                source.ping("ACCOUNTZ", {}, JUMP_FETCH_TIMEOUT),
            )
    except (NatsopsError, TimeoutError) as exc:
        log.debug("palette names: %s", exc)
    else:
        for t in _jsz_targets(jsz, names):
            targets[(t.view, t.key)] = t
        for data in accountz.data().values():
            for key in data.get("accounts") or ():
                if isinstance(key, str) and ("accounts", key) not in targets:
                    name = names.get(key) or key
                    targets[("accounts", key)] = JumpTarget(
                        f"account {name}", "accounts", key, name
                    )
    for view_name in ("streams", "consumers", "accounts"):
        view = app.views.get(view_name)
        model = getattr(view, "model", None)
        if model is None:
            continue
        for row in model.rows():
            if (view_name, row.key) not in targets:
                text = str(row.values[0] if view_name == "accounts" else row.values[1])
                targets[(view_name, row.key)] = JumpTarget(
                    view.row_title(row), view_name, row.key, text
                )
    return list(targets.values())[:JUMP_LIMIT]


class JumpProvider(Provider):
    """Jump to any server, stream, consumer or account, shown before or not."""

    async def startup(self) -> None:
        app: Any = self.app
        cached = getattr(app, "jump_cache", None)
        if cached is not None and time.monotonic() - cached[0] < JUMP_CACHE_SECONDS:
            self.targets: list[JumpTarget] = cached[1]
            return
        self.targets = await fetch_jump_targets(app)
        app.jump_cache = (time.monotonic(), self.targets)

    def _jump(self, target: JumpTarget) -> Any:
        app: Any = self.app
        return partial(app.jump_to, target.view, target.key, target.text)

    async def discover(self) -> Hits:
        for target in getattr(self, "targets", [])[:40]:
            yield DiscoveryHit(
                target.label, self._jump(target), help=f"go to {target.view}"
            )

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        wanted = set(query.lower()) - {" "}
        for target in getattr(self, "targets", []):
            label = target.label
            if not wanted <= set(label.lower()):
                continue  # cheaper than the fuzzy match on thousands of names
            score = matcher.match(label)
            if score > 0:
                yield Hit(
                    score,
                    matcher.highlight(label),
                    self._jump(target),
                    text=label,
                    help=f"go to {target.view}",
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
