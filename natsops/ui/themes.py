"""Dashboard themes: TOML files turned into Textual themes, bundled and per user.

Bundled themes live in ``natsops/_themes`` inside a wheel and in the repository's
top-level ``themes/`` otherwise; user themes in ``$XDG_CONFIG_HOME/natsops/themes``.
A user theme that fails to load is collected, never fatal, so that every failure can
be reported together.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from textual.color import Color, ColorParseError
from textual.theme import Theme

import natsops
from natsops.errors import ConfigError

DEFAULT_THEME = "natsops-dark"

_COLOURS = (
    "primary",
    "secondary",
    "warning",
    "error",
    "success",
    "accent",
    "foreground",
    "background",
    "surface",
    "panel",
    "boost",
)
_FLOATS = ("luminosity_spread", "text_alpha")
_KNOWN = {"name", "dark", "variables", *_COLOURS, *_FLOATS}


class ThemeError(ConfigError):
    """A theme file is unreadable or invalid."""


@dataclass
class ThemeSet:
    """The themes found, and one line per file that could not be loaded."""

    themes: dict[str, Theme] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """All failures as one notice text ('' when there were none)."""
        if not self.failures:
            return ""
        count = len(self.failures)
        head = f"{count} theme file{'s' if count > 1 else ''} could not be loaded:"
        return "\n".join([head, *self.failures])


def bundled_theme_dir() -> Path:
    """The themes shipped with natsops (wheel layout first, then the repository)."""
    package = Path(natsops.__file__).resolve().parent
    installed = package / "_themes"
    if installed.is_dir():
        return installed
    return package.parent / "themes"


def user_theme_dir(environ: Mapping[str, str] | None = None) -> Path:
    """``$XDG_CONFIG_HOME/natsops/themes`` (default ``~/.config/natsops/themes``)."""
    env = os.environ if environ is None else environ
    base = env.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "natsops" / "themes"


def theme_from_mapping(doc: Mapping[str, Any], origin: str) -> Theme:
    """Validate one theme document and build the Textual theme."""
    unknown = sorted(set(doc) - _KNOWN)
    if unknown:
        raise ThemeError(f"{origin}: unknown key {unknown[0]!r}")
    name = doc.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ThemeError(f"{origin}: 'name' must be a non-empty string")
    if "primary" not in doc:
        raise ThemeError(f"{origin}: 'primary' colour is required")

    colours: dict[str, str] = {}
    for key in _COLOURS:
        if key not in doc:
            continue
        value = doc[key]
        if not isinstance(value, str):
            raise ThemeError(f"{origin}: {key!r} must be a colour string")
        try:
            Color.parse(value)
        except ColorParseError:
            raise ThemeError(f"{origin}: {key!r} is not a colour: {value!r}") from None
        colours[key] = value

    floats: dict[str, float] = {}
    for key in _FLOATS:
        if key in doc:
            value = doc[key]
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ThemeError(f"{origin}: {key!r} must be a number")
            floats[key] = float(value)

    dark = doc.get("dark", True)
    if not isinstance(dark, bool):
        raise ThemeError(f"{origin}: 'dark' must be true or false")
    variables = doc.get("variables", {})
    if not isinstance(variables, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in variables.items()
    ):
        raise ThemeError(f"{origin}: [variables] must map names to strings")

    return Theme(
        name=name.strip(),
        dark=dark,
        variables=dict(variables),
        **colours,  # type: ignore[arg-type]
        **floats,  # type: ignore[arg-type]
    )


def load_theme_file(path: Path) -> Theme:
    """Read and validate one ``*.toml`` theme file."""
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ThemeError(f"{path}: cannot read ({exc.strerror})") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ThemeError(f"{path}: not valid TOML ({exc})") from None
    return theme_from_mapping(doc, str(path))


def load_theme_dir(directory: Path, into: ThemeSet | None = None) -> ThemeSet:
    """Load every ``*.toml`` in ``directory`` (sorted), collecting failures."""
    found = into if into is not None else ThemeSet()
    if not directory.is_dir():
        return found
    for path in sorted(directory.glob("*.toml")):
        try:
            theme = load_theme_file(path)
        except ThemeError as exc:
            found.failures.append(str(exc))
            continue
        found.themes[theme.name] = theme
    return found


def load_all_themes(user_dir: Path | None = None) -> ThemeSet:
    """Bundled themes, then user themes (which may replace a bundled one by name)."""
    found = load_theme_dir(bundled_theme_dir())
    load_theme_dir(user_dir if user_dir is not None else user_theme_dir(), found)
    return found
