"""Connection and console settings resolved from flags, environment, natscli
contexts, the natsops config file and defaults, in that order of precedence.

Nothing here opens a file other than a context or the config file, and nothing
connects: credentials are read and checked by :mod:`natsops.creds`, connections are
made by :mod:`natsops.connection`.

Precedence, field by field, for the system connection:

1. command-line flags (``--server``, ``--creds``, ...);
2. environment (``NATS_URL``, ``NATS_CREDS``, ``NATS_NKEY``, ``NATS_USER``,
   ``NATS_PASSWORD``, ``NATS_TOKEN``, ``NATS_TIMEOUT``);
3. the natscli context named by ``--context``, ``NATS_CONTEXT`` or the profile's
   ``context`` key; without any of these, the context selected in natscli's
   ``context.txt``, but only when the profile names no connection of its own;
4. the natsops config file: the chosen profile, then the file's top level;
5. defaults (``nats://127.0.0.1:4222``, 5 s timeouts).

Authentication is taken as a whole from the highest layer that sets any of it
(creds, nkey, user/password, token, user JWT and seed), so a lower layer never mixes
a second method in: ``--creds`` on the command line drops a context's token. Flags
and environment count as one layer for this rule, so ``--user`` combines with
``NATS_PASSWORD``.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from natsops.errors import ConfigError, UsageError

log = logging.getLogger(__name__)

#: Server used when nothing names one.
DEFAULT_SERVER = "nats://127.0.0.1:4222"

#: Theme used when nothing names one.
DEFAULT_THEME = "natsops-dark"

#: The fields that together make one way of authenticating.
AUTH_FIELDS = ("creds", "nkey", "user", "password", "token", "user_jwt", "user_seed")


@dataclass
class ConnectionSettings:
    """How to reach and authenticate one connection (system or one account).

    Attributes:
        servers: server URLs to try (``nats://``, ``tls://``, ``ws://``, ``wss://``).
        creds: a ``.creds`` file holding a user JWT and its nkey seed.
        nkey: a file holding a user nkey seed (non-JWT nkey authentication).
        user: user name for user/password authentication.
        password: password for user/password authentication.
        token: token for token authentication.
        user_jwt: a user JWT given inline by a natscli context.
        user_seed: the seed matching ``user_jwt``, given inline by a natscli context.
        tls_cert: client certificate (PEM) for mutual TLS.
        tls_key: private key (PEM) of ``tls_cert``.
        tls_ca: certificate authority (PEM) that signed the servers' certificates.
        tls_first: do the TLS handshake before the server's INFO (``handshake_first``
            on the server).
        inbox_prefix: prefix of reply subjects, for users limited to other inboxes.
        timeout: seconds to wait for the reply to one request.
        connect_timeout: seconds bounding the whole first connect, every server
            tried included.
        label: ``"system"`` or the account NAME this connection is for.
        jetstream_domain: JetStream domain of the account (from a context).
        context: the natscli context these settings came from, if any (name or
            path, for messages).
    """

    servers: list[str] = field(default_factory=lambda: [DEFAULT_SERVER])
    creds: Path | None = None
    nkey: Path | None = None
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)
    user_jwt: str | None = field(default=None, repr=False)
    user_seed: str | None = field(default=None, repr=False)
    tls_cert: Path | None = None
    tls_key: Path | None = None
    tls_ca: Path | None = None
    tls_first: bool = False
    inbox_prefix: str | None = None
    timeout: float = 5.0
    connect_timeout: float = 5.0
    label: str = "system"
    jetstream_domain: str | None = None
    context: str | None = None

    @property
    def auth_method(self) -> str:
        """How this connection authenticates: creds, jwt, nkey, user, token, none."""
        if self.creds is not None:
            return "creds"
        if self.user_jwt is not None:
            return "jwt"
        if self.nkey is not None or self.user_seed is not None:
            return "nkey"
        if self.user is not None:
            return "user"
        if self.token is not None:
            return "token"
        return "none"

    @property
    def wants_tls(self) -> bool:
        """Whether the user asked for TLS (scheme, client certificate, CA, first)."""
        return (
            self.tls_first
            or self.tls_ca is not None
            or self.tls_cert is not None
            or any(s.lower().startswith(("tls://", "wss://")) for s in self.servers)
        )


def _default_audit_log() -> Path:
    return state_home(os.environ) / "natsops" / "audit.jsonl"


@dataclass
class Settings:
    """Everything natsops needs to run: connections and console preferences.

    Attributes:
        system: the system-account connection.
        accounts: account connections by account NAME (each with ``label=NAME``),
            for stream and consumer operations and owner-only advisories.
        read_only: refuse every operation that changes the cluster.
        theme: dashboard theme name.
        refresh: seconds between dashboard refreshes.
        audit_log: JSON-lines file every attempted operation is appended to.
        record: JSON-lines file every event is appended to (``--record``).
        event_buffer: events kept in memory for the Events view.
        profile: the config profile in use, if any.
        config_path: the config file that was read, if any.
    """

    system: ConnectionSettings = field(default_factory=ConnectionSettings)
    accounts: dict[str, ConnectionSettings] = field(default_factory=dict)
    read_only: bool = False
    theme: str = DEFAULT_THEME
    refresh: float = 2.0
    audit_log: Path = field(default_factory=_default_audit_log)
    record: Path | None = None
    event_buffer: int = 10_000
    profile: str | None = None
    config_path: Path | None = None


# --------------------------------------------------------------------------- paths


def _home(environ: Mapping[str, str]) -> Path:
    home = environ.get("HOME")
    return Path(home) if home else Path.home()


def config_home(environ: Mapping[str, str]) -> Path:
    """``$XDG_CONFIG_HOME``, or ``~/.config``."""
    xdg = environ.get("XDG_CONFIG_HOME")
    return Path(xdg) if xdg else _home(environ) / ".config"


def state_home(environ: Mapping[str, str]) -> Path:
    """``$XDG_STATE_HOME``, or ``~/.local/state``."""
    xdg = environ.get("XDG_STATE_HOME")
    return Path(xdg) if xdg else _home(environ) / ".local" / "state"


def default_config_path(environ: Mapping[str, str]) -> Path:
    """Where the natsops config file lives unless ``--config`` says otherwise."""
    return config_home(environ) / "natsops" / "config.toml"


def natscli_context_dir(environ: Mapping[str, str]) -> Path:
    """natscli's context folder: ``$XDG_CONFIG_HOME/nats/context``."""
    return config_home(environ) / "nats" / "context"


_VAR = re.compile(r"\$(?:\{(\w+)\}|(\w+))")


def expand_path(
    text: str, environ: Mapping[str, str], base: Path | None = None
) -> Path:
    """Expand ``~`` and ``$VAR``/``${VAR}`` in ``text`` using ``environ``.

    Unknown variables are left as they are. A relative result is taken relative to
    ``base`` when given (the config file's folder), else to the working directory.
    """

    def sub(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        return environ.get(name, match.group(0))

    expanded = _VAR.sub(sub, text)
    if expanded == "~" or expanded.startswith("~/"):
        expanded = str(_home(environ)) + expanded[1:]
    path = Path(expanded)
    if base is not None and not path.is_absolute():
        path = base / path
    return path


def split_servers(text: str | Sequence[str]) -> list[str]:
    """Server URLs from a comma-separated string or a list of such strings."""
    parts = [text] if isinstance(text, str) else list(text)
    out: list[str] = []
    for part in parts:
        out.extend(s.strip() for s in part.split(",") if s.strip())
    return out


def display_url(url: str) -> str:
    """``url`` without any password (user names are kept)."""
    try:
        parts = urlsplit(url if "://" in url else f"nats://{url}")
    except ValueError:
        return url
    if parts.password is None:
        return url
    netloc = parts.hostname or ""
    if parts.port is not None:
        netloc = f"{netloc}:{parts.port}"
    if parts.username:
        netloc = f"{parts.username}:***@{netloc}"
    return parts._replace(netloc=netloc).geturl()


_DURATION = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*(ms|s|m|h)?\s*$")


def parse_duration(text: str) -> float:
    """Seconds from ``"5"``, ``"2.5"``, ``"500ms"``, ``"5s"``, ``"1m"`` or ``"1h"``.

    Raises ValueError for anything else, including zero and negative values.
    """
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"not a duration: {text!r} (use e.g. 5, 2.5s, 500ms)")
    value = float(match.group(1))
    value *= {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}[match.group(2)]
    if value <= 0:
        raise ValueError(f"duration must be positive: {text!r}")
    return value


def _truthy(name: str, text: str) -> bool:
    low = text.strip().lower()
    if low in ("1", "true", "yes", "on"):
        return True
    if low in ("", "0", "false", "no", "off"):
        return False
    raise ConfigError(
        f"environment variable {name}={text!r} is not a boolean", "use 1 or 0"
    )


# ------------------------------------------------------------------ natscli contexts

#: natscli context fields natsops reads, and their JSON types.
_CONTEXT_FIELDS: dict[str, type] = {
    "url": str,
    "creds": str,
    "nkey": str,
    "user": str,
    "password": str,
    "token": str,
    "cert": str,
    "key": str,
    "ca": str,
    "tls_first": bool,
    "inbox_prefix": str,
    "jetstream_domain": str,
    "user_jwt": str,
    "user_seed": str,
    "nsc": str,
}


def context_path(ref: str, environ: Mapping[str, str]) -> Path:
    """The file of natscli context ``ref``: a name, or a path to a JSON file."""
    if "/" in ref or ref.endswith(".json") or ref.startswith("~"):
        return expand_path(ref, environ)
    return natscli_context_dir(environ) / f"{ref}.json"


def selected_context(environ: Mapping[str, str]) -> str | None:
    """The context selected with ``nats context select``, if any."""
    path = config_home(environ) / "nats" / "context.txt"
    try:
        name = path.read_text(encoding="utf-8").strip()
    except OSError:
        return None
    return name or None


def load_context(ref: str, environ: Mapping[str, str]) -> dict[str, Any]:
    """Read natscli context ``ref`` into connection-settings keys.

    The result maps :class:`ConnectionSettings` field names to values; empty
    strings (natscli writes every field) count as unset, unknown fields are ignored.
    Raises ConfigError when the context is missing, unreadable or has a field of the
    wrong type.
    """
    path = context_path(ref, environ)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            f"natscli context '{ref}' not found ({path})",
            "check the name with 'nats context ls' or pass a path to --context",
        ) from None
    except OSError as exc:
        raise ConfigError(
            f"cannot read natscli context {path}: {exc.strerror or exc}",
            "check the file's permissions",
        ) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"natscli context {path} is not valid JSON ({exc})",
            "fix the file or recreate it with 'nats context save'",
        ) from None
    if not isinstance(raw, dict):
        raise ConfigError(
            f"natscli context {path} is not a JSON object", "fix or recreate it"
        )

    values: dict[str, Any] = {}
    for key, kind in _CONTEXT_FIELDS.items():
        value = raw.get(key)
        if value is None or value == "":
            continue
        if not isinstance(value, kind):
            raise ConfigError(
                f"natscli context {path}: field '{key}' must be {_a(kind)}, "
                f"got {_a(type(value))}",
                "fix the file or recreate it with 'nats context save'",
            )
        values[key] = value

    out: dict[str, Any] = {"context": ref}
    if "url" in values:
        out["servers"] = split_servers(values["url"])
    for key, target in (
        ("creds", "creds"),
        ("nkey", "nkey"),
        ("cert", "tls_cert"),
        ("key", "tls_key"),
        ("ca", "tls_ca"),
    ):
        if key in values:
            out[target] = expand_path(values[key], environ)
    for key in ("user", "password", "token", "inbox_prefix", "jetstream_domain"):
        if key in values:
            out[key] = values[key]
    if "user_jwt" in values:
        out["user_jwt"] = values["user_jwt"].strip()
    if "user_seed" in values:
        out["user_seed"] = values["user_seed"].strip()
    if values.get("tls_first"):
        out["tls_first"] = True
    if "nsc" in values and not any(k in out for k in AUTH_FIELDS):
        raise ConfigError(
            f"natscli context {path} authenticates through nsc ({values['nsc']}), "
            "which natsops does not read",
            "export the user's creds with 'nsc generate creds' and set 'creds'",
        )
    return out


# --------------------------------------------------------------------- config file

#: Keys of a profile (and of the file's top level) and their expected types.
_PROFILE_KEYS: dict[str, tuple[type, ...]] = {
    "server": (str, list),
    "creds": (str,),
    "context": (str,),
    "nkey": (str,),
    "user": (str,),
    "password": (str,),
    "token": (str,),
    "tls_cert": (str,),
    "tls_key": (str,),
    "tls_ca": (str,),
    "tls_first": (bool,),
    "inbox_prefix": (str,),
    "jetstream_domain": (str,),
    "timeout": (int, float),
    "connect_timeout": (int, float),
    "read_only": (bool,),
    "theme": (str,),
    "refresh": (int, float),
    "audit_log": (str,),
    "event_buffer": (int,),
    "accounts": (dict,),
}

#: Keys of an account table (``[profiles.NAME.accounts.ACC]``).
_ACCOUNT_KEYS: dict[str, tuple[type, ...]] = {
    "creds": (str,),
    "context": (str,),
    "nkey": (str,),
    "user": (str,),
    "password": (str,),
    "token": (str,),
    "server": (str, list),
    "inbox_prefix": (str,),
}

#: Keys only the file's top level may carry.
_TOP_ONLY_KEYS: dict[str, tuple[type, ...]] = {
    "default_profile": (str,),
    "profiles": (dict,),
}

_PATH_KEYS = ("creds", "nkey", "tls_cert", "tls_key", "tls_ca", "audit_log")


def _type_name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if set(kinds) == {int, float}:
        return "number"
    names = {
        str: "string",
        bool: "boolean",
        int: "integer",
        float: "number",
        list: "list",
        dict: "table",
    }
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def _a(kind: type | tuple[type, ...]) -> str:
    """``"a string"``, ``"an integer"``: the type name with its article."""
    name = _type_name(kind)
    return f"an {name}" if name[0] in "aeiou" else f"a {name}"


def _check_table(
    table: dict[str, Any],
    allowed: Mapping[str, tuple[type, ...]],
    where: str,
    path: Path,
) -> None:
    """Reject unknown keys and values of the wrong type, naming file and key."""
    for key, value in table.items():
        dotted = f"{where}.{key}" if where else key
        if key not in allowed:
            known = ", ".join(sorted(allowed))
            raise ConfigError(
                f"{path}: unknown key '{dotted}'", f"known keys here: {known}"
            )
        kinds = allowed[key]
        ok = isinstance(value, kinds) and not (
            isinstance(value, bool) and bool not in kinds
        )
        if not ok:
            raise ConfigError(
                f"{path}: '{dotted}' must be {_a(kinds)}, got {_a(type(value))}",
                "fix the config file",
            )
        if key == "server" and isinstance(value, list):
            if not value or not all(isinstance(s, str) for s in value):
                raise ConfigError(
                    f"{path}: '{dotted}' must be a non-empty list of strings",
                    "fix the config file",
                )
        if key in ("timeout", "connect_timeout", "refresh") and not (
            math.isfinite(value) and value > 0
        ):
            raise ConfigError(
                f"{path}: '{dotted}' must be a positive number of seconds, got {value}",
                "fix the config file",
            )
        if key == "event_buffer" and value < 1:
            raise ConfigError(
                f"{path}: '{dotted}' must be at least 1, got {value}",
                "fix the config file",
            )


@dataclass
class ConfigFile:
    """A parsed and validated natsops config file.

    Attributes:
        path: the file.
        top: top-level defaults (profile keys), without ``profiles``.
        profiles: each profile's keys, by profile name.
        default_profile: the profile used when none is chosen.
    """

    path: Path
    top: dict[str, Any]
    profiles: dict[str, dict[str, Any]]
    default_profile: str | None = None


def load_config(path: Path) -> ConfigFile:
    """Read and strictly validate the TOML config file at ``path``.

    Raises ConfigError naming the file, the key and the problem.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"config file {path} not found", "check the path given to --config"
        ) from None
    except OSError as exc:
        raise ConfigError(
            f"cannot read config file {path}: {exc.strerror or exc}",
            "check the file's permissions",
        ) from None
    except UnicodeDecodeError:
        raise ConfigError(
            f"config file {path} is not UTF-8 text", "fix the file"
        ) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            f"config file {path} is not valid TOML: {exc}", "fix the syntax"
        ) from None

    allowed_top = {**_PROFILE_KEYS, **_TOP_ONLY_KEYS}
    _check_table(data, allowed_top, "", path)
    profiles_raw: dict[str, Any] = data.get("profiles", {})
    profiles: dict[str, dict[str, Any]] = {}
    for name, table in profiles_raw.items():
        where = f"profiles.{name}"
        if not isinstance(table, dict):
            raise ConfigError(
                f"{path}: '{where}' must be a table, got {_a(type(table))}",
                f"write it as [profiles.{name}]",
            )
        _check_table(table, _PROFILE_KEYS, where, path)
        profiles[name] = table

    for where, table in [
        ("", data),
        *((f"profiles.{n}", t) for n, t in profiles.items()),
    ]:
        accounts = table.get("accounts", {})
        prefix = f"{where}.accounts" if where else "accounts"
        for acc, acc_table in accounts.items():
            acc_where = f"{prefix}.{acc}"
            if not isinstance(acc_table, dict):
                raise ConfigError(
                    f"{path}: '{acc_where}' must be a table, got {_a(type(acc_table))}",
                    f"write it as [{acc_where}] with creds or context",
                )
            _check_table(acc_table, _ACCOUNT_KEYS, acc_where, path)
            if not any(
                k in acc_table for k in ("creds", "context", "nkey", "user", "token")
            ):
                raise ConfigError(
                    f"{path}: '{acc_where}' names no credential",
                    "give it 'creds' (a creds file) or 'context' (a natscli context)",
                )

    default_profile = data.get("default_profile")
    if default_profile is not None and default_profile not in profiles:
        raise ConfigError(
            f"{path}: 'default_profile' names unknown profile '{default_profile}'",
            _known_profiles_hint(profiles),
        )
    top = {k: v for k, v in data.items() if k not in _TOP_ONLY_KEYS}
    return ConfigFile(path, top, profiles, default_profile)


def _known_profiles_hint(profiles: Mapping[str, Any]) -> str:
    if not profiles:
        return "the file defines no [profiles.NAME] tables"
    return "known profiles: " + ", ".join(sorted(profiles))


def _config_layer(
    table: Mapping[str, Any], environ: Mapping[str, str], base: Path
) -> dict[str, Any]:
    """Connection-settings keys from a profile (or top-level) table."""
    out: dict[str, Any] = {}
    if "server" in table:
        out["servers"] = split_servers(table["server"])
    for key in ("creds", "nkey", "tls_cert", "tls_key", "tls_ca"):
        if key in table:
            out[key] = expand_path(table[key], environ, base)
    for key in ("user", "password", "token", "inbox_prefix", "jetstream_domain"):
        if key in table:
            out[key] = table[key]
    if table.get("tls_first"):
        out["tls_first"] = True
    for key in ("timeout", "connect_timeout"):
        if key in table:
            out[key] = float(table[key])
    return out


# ------------------------------------------------------------------------ resolving


def _arg(args: argparse.Namespace | None, name: str) -> Any:
    return None if args is None else getattr(args, name, None)


def _flag_layer(
    args: argparse.Namespace | None, environ: Mapping[str, str]
) -> dict[str, Any]:
    """Connection keys from command-line flags, over the environment."""
    out: dict[str, Any] = {}

    env_timeout = environ.get("NATS_TIMEOUT")
    if env_timeout:
        try:
            out["timeout"] = parse_duration(env_timeout)
        except ValueError as exc:
            raise ConfigError(
                f"environment variable NATS_TIMEOUT: {exc}", "use e.g. 5 or 5s"
            ) from None
    for env, key in (
        ("NATS_USER", "user"),
        ("NATS_PASSWORD", "password"),
        ("NATS_TOKEN", "token"),
    ):
        if environ.get(env):
            out[key] = environ[env]
    if environ.get("NATS_URL"):
        out["servers"] = split_servers(environ["NATS_URL"])
    for env, key in (("NATS_CREDS", "creds"), ("NATS_NKEY", "nkey")):
        if environ.get(env):
            out[key] = expand_path(environ[env], environ)

    server = _arg(args, "server")
    if server:
        out["servers"] = split_servers(server)
    for flag, key in (
        ("creds", "creds"),
        ("nkey", "nkey"),
        ("tlscert", "tls_cert"),
        ("tlskey", "tls_key"),
        ("tlsca", "tls_ca"),
    ):
        value = _arg(args, flag)
        if value:
            out[key] = expand_path(value, environ)
    for flag in ("user", "password", "token", "inbox_prefix"):
        value = _arg(args, flag)
        if value is not None:
            out[flag] = value
    if _arg(args, "tlsfirst"):
        out["tls_first"] = True
    timeout = _arg(args, "timeout")
    if timeout is not None:
        if not (math.isfinite(timeout) and timeout > 0):
            raise UsageError(
                f"--timeout must be a positive number of seconds, got {timeout}",
                "use e.g. --timeout 5",
            )
        out["timeout"] = float(timeout)

    if "servers" in out and not out["servers"]:
        raise UsageError("no server URL given", "use e.g. --server nats://host:4222")
    return out


def _merge(layers: Sequence[Mapping[str, Any]], label: str) -> ConnectionSettings:
    """Merge layers (highest first) field by field; authentication as a whole."""
    chosen: dict[str, Any] = {}
    auth_layer = next(
        (layer for layer in layers if any(k in layer for k in AUTH_FIELDS)), None
    )
    names = {f.name for f in fields(ConnectionSettings)}
    for name in names - set(AUTH_FIELDS) - {"label"}:
        for layer in layers:
            if name in layer:
                chosen[name] = layer[name]
                break
    if auth_layer is not None:
        for name in AUTH_FIELDS:
            if name in auth_layer:
                chosen[name] = auth_layer[name]
    return ConnectionSettings(label=label, **chosen)


def _parse_pairs(values: Sequence[str] | None, flag: str, what: str) -> dict[str, str]:
    """``NAME=VALUE`` pairs of a repeatable flag; UsageError when malformed."""
    out: dict[str, str] = {}
    for raw in values or []:
        name, sep, value = raw.partition("=")
        name, value = name.strip(), value.strip()
        if not sep or not name or not value:
            raise UsageError(
                f"{flag} expects NAME={what}, got {raw!r}",
                f"e.g. {flag} APP=/path/to/app.creds"
                if what == "FILE"
                else f"e.g. {flag} APP=app-context",
            )
        if name in out:
            raise UsageError(f"{flag} names account '{name}' twice", "give it once")
        out[name] = value
    return out


def _account_settings(
    name: str,
    layers: Sequence[Mapping[str, Any]],
    system: ConnectionSettings,
) -> ConnectionSettings:
    """An account connection: its own layers (highest first), then the system
    connection's servers, TLS and timeouts. Authentication is never inherited."""
    inherited = {
        "servers": list(system.servers),
        "tls_cert": system.tls_cert,
        "tls_key": system.tls_key,
        "tls_ca": system.tls_ca,
        "tls_first": system.tls_first,
        "timeout": system.timeout,
        "connect_timeout": system.connect_timeout,
    }
    base = {k: v for k, v in inherited.items() if v is not None}
    return _merge([*layers, base], name)


def resolve_settings(
    args: argparse.Namespace | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Resolve :class:`Settings` from parsed flags and an environment.

    ``environ`` defaults to ``os.environ``. Raises ConfigError for an invalid config
    file, profile or context and UsageError for malformed flag values.
    """
    env: Mapping[str, str] = os.environ if environ is None else environ

    # The config file and the profile.
    config_arg = _arg(args, "config") or env.get("NATSOPS_CONFIG")
    config: ConfigFile | None = None
    if config_arg:
        config = load_config(expand_path(config_arg, env))
    else:
        default_path = default_config_path(env)
        if default_path.is_file():
            config = load_config(default_path)

    profile_name = _arg(args, "profile") or env.get("NATSOPS_PROFILE") or None
    if profile_name and config is None:
        raise ConfigError(
            f"profile '{profile_name}' asked for, but there is no config file "
            f"({default_config_path(env)})",
            "create it or pass --config PATH",
        )
    if config is not None and not profile_name:
        profile_name = config.default_profile
    profile: dict[str, Any] = {}
    if config is not None and profile_name:
        if profile_name not in config.profiles:
            raise ConfigError(
                f"{config.path}: no profile '{profile_name}'",
                _known_profiles_hint(config.profiles),
            )
        profile = config.profiles[profile_name]
    top: dict[str, Any] = config.top if config is not None else {}
    base = config.path.parent if config is not None else Path.cwd()

    def pick(key: str) -> Any:
        if key in profile:
            return profile[key]
        return top.get(key)

    # The system connection.
    flags = _flag_layer(args, env)
    profile_layer = _config_layer(profile, env, base)
    top_layer = _config_layer(top, env, base)

    def names_connection(layer: Mapping[str, Any]) -> bool:
        return any(k in layer for k in ("servers", *AUTH_FIELDS))

    # The context named in the file: the profile's, else the top level's unless
    # the profile names a connection of its own.
    config_context = profile.get("context")
    if config_context is None and not names_connection(profile_layer):
        config_context = top.get("context")
    context_ref = _arg(args, "context") or env.get("NATS_CONTEXT") or config_context
    if not context_ref and not (
        names_connection(profile_layer) or names_connection(top_layer)
    ):
        context_ref = selected_context(env)
    context_layer = load_context(context_ref, env) if context_ref else {}
    system = _merge([flags, context_layer, profile_layer, top_layer], "system")

    # Account connections: config file, then flags (flags win by name).
    accounts: dict[str, ConnectionSettings] = {}
    config_accounts: dict[str, dict[str, Any]] = {}
    config_accounts.update(top.get("accounts", {}))
    config_accounts.update(profile.get("accounts", {}))
    for name, table in config_accounts.items():
        # Keys written next to 'context' in the same table override the context.
        layers = [_config_layer(table, env, base)]
        if "context" in table:
            layers.append(load_context(table["context"], env))
        accounts[name] = _account_settings(name, layers, system)
    flag_creds = _parse_pairs(_arg(args, "account_creds"), "--account-creds", "FILE")
    flag_contexts = _parse_pairs(
        _arg(args, "account_context"), "--account-context", "CONTEXT"
    )
    for name in flag_creds.keys() & flag_contexts.keys():
        raise UsageError(
            f"account '{name}' given both --account-creds and --account-context",
            "give one of them",
        )
    for name, file in flag_creds.items():
        layer = {"creds": expand_path(file, env)}
        accounts[name] = _account_settings(name, [layer], system)
    for name, ref in flag_contexts.items():
        accounts[name] = _account_settings(name, [load_context(ref, env)], system)

    # Console preferences.
    read_only = bool(pick("read_only"))
    if "NATSOPS_READ_ONLY" in env:
        read_only = _truthy("NATSOPS_READ_ONLY", env["NATSOPS_READ_ONLY"])
    if _arg(args, "read_only"):
        read_only = True

    audit_arg = _arg(args, "audit_log")
    if audit_arg:
        audit_log = expand_path(audit_arg, env)
    elif pick("audit_log"):
        audit_log = expand_path(pick("audit_log"), env, base)
    else:
        audit_log = state_home(env) / "natsops" / "audit.jsonl"
    record_arg = _arg(args, "record")

    refresh = _arg(args, "refresh") or pick("refresh") or 2.0
    event_buffer = _arg(args, "event_buffer") or pick("event_buffer") or 10_000

    settings = Settings(
        system=system,
        accounts=accounts,
        read_only=read_only,
        theme=_arg(args, "theme") or pick("theme") or DEFAULT_THEME,
        refresh=float(refresh),
        audit_log=audit_log,
        record=expand_path(record_arg, env) if record_arg else None,
        event_buffer=int(event_buffer),
        profile=profile_name,
        config_path=config.path if config is not None else None,
    )
    log.debug(
        "settings: servers=%s auth=%s accounts=%s profile=%s",
        [display_url(s) for s in system.servers],
        system.auth_method,
        sorted(accounts),
        profile_name,
    )
    return settings
