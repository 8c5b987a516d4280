"""Settings resolution: flags over environment over natscli context over config file
over defaults, strict config validation, account connections."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import pytest

from natsops.cli import build_parser
from natsops.errors import ConfigError, UsageError
from natsops.settings import (
    DEFAULT_SERVER,
    expand_path,
    parse_duration,
    resolve_settings,
    split_servers,
)


def parse(*argv: str) -> argparse.Namespace:
    """Parse a whoami command line the way natsops does."""
    return build_parser().parse_args(["whoami", *argv])


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """An environment whose HOME and XDG folders are private to the test."""
    home = tmp_path / "home"
    home.mkdir()
    return {"HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config")}


def write_context(env: dict[str, str], name: str, **fields: Any) -> Path:
    """Write a natscli context the way 'nats context save' does (all fields)."""
    folder = Path(env["XDG_CONFIG_HOME"]) / "nats" / "context"
    folder.mkdir(parents=True, exist_ok=True)
    full = {
        "description": "",
        "url": "",
        "token": "",
        "user": "",
        "password": "",
        "creds": "",
        "nkey": "",
        "cert": "",
        "key": "",
        "ca": "",
        "nsc": "",
        "jetstream_domain": "",
        "jetstream_api_prefix": "",
        "inbox_prefix": "",
        "user_jwt": "",
        "color_scheme": "",
        "tls_first": False,
    }
    full.update(fields)
    path = folder / f"{name}.json"
    path.write_text(json.dumps(full))
    return path


def select_context(env: dict[str, str], name: str) -> None:
    path = Path(env["XDG_CONFIG_HOME"]) / "nats" / "context.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(name + "\n")


def write_config(env: dict[str, str], text: str) -> Path:
    path = Path(env["XDG_CONFIG_HOME"]) / "natsops" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


# ------------------------------------------------------------------- defaults


def test_defaults(env: dict[str, str]) -> None:
    s = resolve_settings(parse(), env)
    assert s.system.servers == [DEFAULT_SERVER]
    assert s.system.label == "system"
    assert s.system.auth_method == "none"
    assert s.system.timeout == 5.0
    assert s.accounts == {}
    assert s.read_only is False
    assert s.theme == "natsops-dark"
    assert s.refresh == 2.0
    assert s.event_buffer == 10_000
    assert s.audit_log == Path(env["HOME"]) / ".local/state/natsops/audit.jsonl"
    assert s.config_path is None
    assert s.profile is None


def test_no_args_at_all(env: dict[str, str]) -> None:
    assert resolve_settings(None, env).system.servers == [DEFAULT_SERVER]


def test_audit_log_follows_xdg_state_home(env: dict[str, str], tmp_path: Path) -> None:
    env["XDG_STATE_HOME"] = str(tmp_path / "state")
    s = resolve_settings(parse(), env)
    assert s.audit_log == tmp_path / "state" / "natsops" / "audit.jsonl"


# --------------------------------------------------------------- flags and env


def test_servers_are_split_on_commas(env: dict[str, str]) -> None:
    s = resolve_settings(parse("--server", "nats://a:1, nats://b:2,,"), env)
    assert s.system.servers == ["nats://a:1", "nats://b:2"]


def test_environment_is_used(env: dict[str, str], tmp_path: Path) -> None:
    env.update(
        NATS_URL="nats://e1:4222,nats://e2:4222",
        NATS_CREDS="$HOME/sys.creds",
        NATS_TIMEOUT="2.5s",
        NATSOPS_READ_ONLY="1",
    )
    s = resolve_settings(parse(), env)
    assert s.system.servers == ["nats://e1:4222", "nats://e2:4222"]
    assert s.system.creds == Path(env["HOME"]) / "sys.creds"
    assert s.system.timeout == 2.5
    assert s.read_only is True


def test_flags_win_over_environment(env: dict[str, str]) -> None:
    env.update(NATS_URL="nats://env:4222", NATS_TIMEOUT="9", NATS_USER="envuser")
    s = resolve_settings(
        parse("--server", "nats://flag:4222", "--timeout", "1.5", "--user", "me"), env
    )
    assert s.system.servers == ["nats://flag:4222"]
    assert s.system.timeout == 1.5
    assert s.system.user == "me"


def test_flag_user_combines_with_env_password(env: dict[str, str]) -> None:
    env["NATS_PASSWORD"] = "s3cret"
    s = resolve_settings(parse("--user", "me"), env)
    assert (s.system.user, s.system.password) == ("me", "s3cret")
    assert "s3cret" not in repr(s)


def test_bad_env_timeout_is_a_config_error(env: dict[str, str]) -> None:
    env["NATS_TIMEOUT"] = "soon"
    with pytest.raises(ConfigError, match="NATS_TIMEOUT"):
        resolve_settings(parse(), env)


def test_bad_read_only_env(env: dict[str, str]) -> None:
    env["NATSOPS_READ_ONLY"] = "maybe"
    with pytest.raises(ConfigError, match="NATSOPS_READ_ONLY"):
        resolve_settings(parse(), env)


def test_read_only_flag(env: dict[str, str]) -> None:
    env["NATSOPS_READ_ONLY"] = "0"
    assert resolve_settings(parse(), env).read_only is False
    assert resolve_settings(parse("--read-only"), env).read_only is True


def test_tls_flags(env: dict[str, str]) -> None:
    s = resolve_settings(
        parse(
            "--tlscert",
            "~/c.pem",
            "--tlskey",
            "k.pem",
            "--tlsca",
            "/ca.pem",
            "--tlsfirst",
        ),
        env,
    )
    assert s.system.tls_cert == Path(env["HOME"]) / "c.pem"
    assert s.system.tls_key == Path("k.pem")
    assert s.system.tls_ca == Path("/ca.pem")
    assert s.system.tls_first is True
    assert s.system.wants_tls


def test_main_parser_flags_before_the_command(env: dict[str, str]) -> None:
    args = build_parser().parse_args(["--server", "nats://x:1", "whoami"])
    assert resolve_settings(args, env).system.servers == ["nats://x:1"]


# ------------------------------------------------------------ natscli contexts


def test_named_context(env: dict[str, str]) -> None:
    write_context(
        env,
        "prod",
        url="nats://p1:4222,nats://p2:4222",
        creds="~/prod.creds",
        ca="$HOME/ca.pem",
        inbox_prefix="_INBOX_ops",
        jetstream_domain="hub",
        tls_first=True,
    )
    s = resolve_settings(parse("--context", "prod"), env)
    home = Path(env["HOME"])
    assert s.system.servers == ["nats://p1:4222", "nats://p2:4222"]
    assert s.system.creds == home / "prod.creds"
    assert s.system.tls_ca == home / "ca.pem"
    assert s.system.inbox_prefix == "_INBOX_ops"
    assert s.system.jetstream_domain == "hub"
    assert s.system.tls_first is True
    assert s.system.context == "prod"
    # Empty natscli fields count as unset.
    assert s.system.user is None and s.system.token is None


def test_context_by_path_and_env(env: dict[str, str], tmp_path: Path) -> None:
    path = write_context(env, "elsewhere", url="nats://path:4222")
    moved = tmp_path / "ctx.json"
    moved.write_text(path.read_text())
    s = resolve_settings(parse("--context", str(moved)), env)
    assert s.system.servers == ["nats://path:4222"]
    env["NATS_CONTEXT"] = "elsewhere"
    assert resolve_settings(parse(), env).system.servers == ["nats://path:4222"]


def test_selected_context_is_used_by_default(env: dict[str, str]) -> None:
    write_context(env, "dev", url="nats://dev:4222", token="t0k")
    select_context(env, "dev")
    s = resolve_settings(parse(), env)
    assert s.system.servers == ["nats://dev:4222"]
    assert s.system.token == "t0k"


def test_flags_and_env_over_context(env: dict[str, str], tmp_path: Path) -> None:
    write_context(env, "dev", url="nats://dev:4222", token="t0k", user="ctxuser")
    select_context(env, "dev")
    env["NATS_URL"] = "nats://env:4222"
    s = resolve_settings(parse("--creds", str(tmp_path / "a.creds")), env)
    assert s.system.servers == ["nats://env:4222"]
    # Authentication is taken whole from the highest layer: no token mixed in.
    assert s.system.creds == tmp_path / "a.creds"
    assert s.system.token is None and s.system.user is None
    assert s.system.auth_method == "creds"


def test_context_user_jwt_and_seed(env: dict[str, str]) -> None:
    write_context(env, "inline", user_jwt=" eyJx.y.z ", user_seed="SUAAA")
    s = resolve_settings(parse("--context", "inline"), env)
    assert s.system.user_jwt == "eyJx.y.z"
    assert s.system.user_seed == "SUAAA"
    assert s.system.auth_method == "jwt"


def test_missing_context(env: dict[str, str]) -> None:
    with pytest.raises(ConfigError, match="natscli context 'nope' not found"):
        resolve_settings(parse("--context", "nope"), env)


def test_context_wrong_type(env: dict[str, str]) -> None:
    path = write_context(env, "bad", url=42)
    with pytest.raises(ConfigError) as err:
        resolve_settings(parse("--context", "bad"), env)
    assert str(path) in str(err.value) and "'url'" in str(err.value)


def test_context_not_json(env: dict[str, str]) -> None:
    path = write_context(env, "broken")
    path.write_text("{not json")
    with pytest.raises(ConfigError, match="not valid JSON"):
        resolve_settings(parse("--context", "broken"), env)


def test_context_with_only_nsc(env: dict[str, str]) -> None:
    write_context(env, "nsc", nsc="nsc://op/acc/user")
    with pytest.raises(ConfigError, match="nsc"):
        resolve_settings(parse("--context", "nsc"), env)


# ------------------------------------------------------------------ config file

CONFIG = """
default_profile = "prod"
theme = "natsops-light"
refresh = 5

[accounts.SHARED]
creds = "shared.creds"

[profiles.prod]
server = ["nats://p1:4222", "nats://p2:4222"]
creds = "~/sys.creds"
read_only = true
timeout = 3
connect_timeout = 1.5
audit_log = "audit/prod.jsonl"
event_buffer = 500

[profiles.prod.accounts.APP]
creds = "/keys/app.creds"

[profiles.prod.accounts.ORDERS]
context = "orders"

[profiles.lab]
server = "nats://lab:4222"
token = "labtoken"
theme = "high-contrast"
"""


def write_sample_config(env: dict[str, str]) -> Path:
    """CONFIG and the natscli context its ORDERS account names."""
    write_context(env, "orders", url="nats://orders:4222", creds="/keys/orders.creds")
    return write_config(env, CONFIG)


def test_config_default_profile(env: dict[str, str]) -> None:
    path = write_sample_config(env)
    s = resolve_settings(parse(), env)
    home = Path(env["HOME"])
    assert s.config_path == path
    assert s.profile == "prod"
    assert s.system.servers == ["nats://p1:4222", "nats://p2:4222"]
    assert s.system.creds == home / "sys.creds"
    assert s.system.timeout == 3.0
    assert s.system.connect_timeout == 1.5
    assert s.read_only is True
    assert s.theme == "natsops-light"  # from the top level
    assert s.refresh == 5.0
    assert s.event_buffer == 500
    assert s.audit_log == path.parent / "audit" / "prod.jsonl"  # relative to file
    assert set(s.accounts) == {"SHARED", "APP", "ORDERS"}
    app = s.accounts["APP"]
    assert app.label == "APP"
    assert app.creds == Path("/keys/app.creds")
    assert app.servers == s.system.servers  # inherited
    assert app.timeout == 3.0
    assert s.accounts["SHARED"].creds == path.parent / "shared.creds"
    orders = s.accounts["ORDERS"]
    assert orders.servers == ["nats://orders:4222"]
    assert orders.creds == Path("/keys/orders.creds")


def test_config_chosen_profile_and_flags_over_it(env: dict[str, str]) -> None:
    write_sample_config(env)
    s = resolve_settings(parse("--profile", "lab"), env)
    assert s.profile == "lab"
    assert s.system.servers == ["nats://lab:4222"]
    assert s.system.token == "labtoken"
    assert s.theme == "high-contrast"
    assert s.read_only is False
    s = resolve_settings(parse("--profile", "lab", "--server", "nats://x:1"), env)
    assert s.system.servers == ["nats://x:1"]


def test_context_over_config_file(env: dict[str, str]) -> None:
    write_sample_config(env)
    write_context(env, "ctx", url="nats://ctx:4222")
    s = resolve_settings(parse("--profile", "lab", "--context", "ctx"), env)
    assert s.system.servers == ["nats://ctx:4222"]
    assert s.system.token == "labtoken"  # the context sets no authentication


def test_selected_context_does_not_override_a_profile(env: dict[str, str]) -> None:
    write_sample_config(env)
    write_context(env, "dev", url="nats://dev:4222")
    select_context(env, "dev")
    assert resolve_settings(parse(), env).system.servers[0] == "nats://p1:4222"


def test_profile_authentication_replaces_the_top_level(
    env: dict[str, str], tmp_path: Path
) -> None:
    path = tmp_path / "c.toml"
    path.write_text(
        'server = "nats://top:1"\ncreds = "/top.creds"\n[profiles.tok]\ntoken = "abc"\n'
    )
    s = resolve_settings(parse("--config", str(path), "--profile", "tok"), env)
    assert s.system.servers == ["nats://top:1"]
    assert s.system.token == "abc"
    assert s.system.creds is None


def test_config_by_flag_and_env(env: dict[str, str], tmp_path: Path) -> None:
    other = tmp_path / "other.toml"
    other.write_text('[profiles.x]\nserver = "nats://other:1"\n')
    s = resolve_settings(parse("--config", str(other), "--profile", "x"), env)
    assert s.system.servers == ["nats://other:1"]
    env["NATSOPS_CONFIG"] = str(other)
    env["NATSOPS_PROFILE"] = "x"
    assert resolve_settings(parse(), env).system.servers == ["nats://other:1"]


def test_config_flag_missing_file(env: dict[str, str], tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        resolve_settings(parse("--config", str(tmp_path / "none.toml")), env)


def test_unknown_profile(env: dict[str, str]) -> None:
    path = write_sample_config(env)
    with pytest.raises(ConfigError) as err:
        resolve_settings(parse("--profile", "nope"), env)
    text = str(err.value)
    assert str(path) in text and "'nope'" in text and "lab, prod" in text


def test_profile_without_config_file(env: dict[str, str]) -> None:
    with pytest.raises(ConfigError, match="no config file"):
        resolve_settings(parse("--profile", "prod"), env)


@pytest.mark.parametrize(
    ("text", "key", "problem"),
    [
        ('sever = "nats://x"', "'sever'", "unknown key"),
        ("[profiles.a]\nrefresh = 'fast'", "'profiles.a.refresh'", "number"),
        ("[profiles.a]\nread_only = 1", "'profiles.a.read_only'", "boolean"),
        ("[profiles.a]\nevent_buffer = true", "'profiles.a.event_buffer'", "integer"),
        ("[profiles.a]\nevent_buffer = 0", "'profiles.a.event_buffer'", "at least 1"),
        ("[profiles.a]\ntimeout = -1", "'profiles.a.timeout'", "positive"),
        ("[profiles.a]\nserver = [1, 2]", "'profiles.a.server'", "list of strings"),
        ("[profiles.a]\ncolour = 'red'", "'profiles.a.colour'", "unknown key"),
        (
            "[profiles.a.accounts.APP]\ncred = 'x'",
            "'profiles.a.accounts.APP.cred'",
            "unknown key",
        ),
        (
            "[profiles.a.accounts.APP]\nserver = 'nats://x:1'",
            "'profiles.a.accounts.APP'",
            "names no credential",
        ),
        ("profiles = 3", "'profiles'", "table"),
        ("default_profile = 'zzz'", "'default_profile'", "unknown profile"),
        ("this is not toml", "", "not valid TOML"),
    ],
)
def test_invalid_config(env: dict[str, str], text: str, key: str, problem: str) -> None:
    path = write_config(env, text)
    with pytest.raises(ConfigError) as err:
        resolve_settings(parse(), env)
    message = str(err.value)
    assert str(path) in message
    assert key in message
    assert problem in message
    assert "\n" not in message


# ------------------------------------------------------------ account flags


def test_account_flags(env: dict[str, str], tmp_path: Path) -> None:
    write_context(env, "ord", creds="/keys/ord.creds", url="nats://ord:4222")
    s = resolve_settings(
        parse(
            "--server",
            "nats://a:1,nats://b:2",
            "--tlsca",
            "/ca.pem",
            "--account-creds",
            "APP=~/app.creds",
            "--account-creds",
            "OTHER = /x/other.creds",
            "--account-context",
            "ORDERS=ord",
        ),
        env,
    )
    assert set(s.accounts) == {"APP", "OTHER", "ORDERS"}
    app = s.accounts["APP"]
    assert app.creds == Path(env["HOME"]) / "app.creds"
    assert app.servers == ["nats://a:1", "nats://b:2"]
    assert app.tls_ca == Path("/ca.pem")
    assert app.label == "APP"
    assert s.accounts["OTHER"].creds == Path("/x/other.creds")
    assert s.accounts["ORDERS"].servers == ["nats://ord:4222"]
    assert s.accounts["ORDERS"].creds == Path("/keys/ord.creds")


def test_account_flags_override_config(env: dict[str, str]) -> None:
    write_config(env, CONFIG.replace('context = "orders"', 'creds = "o.creds"'))
    s = resolve_settings(parse("--account-creds", "APP=/flag/app.creds"), env)
    assert s.accounts["APP"].creds == Path("/flag/app.creds")


def test_account_inherits_no_system_authentication(env: dict[str, str]) -> None:
    s = resolve_settings(
        parse("--user", "u", "--password", "p", "--account-creds", "APP=/a.creds"),
        env,
    )
    app = s.accounts["APP"]
    assert app.user is None and app.password is None
    assert app.auth_method == "creds"


@pytest.mark.parametrize(
    "argv",
    [
        ["--account-creds", "APP"],
        ["--account-creds", "=x.creds"],
        ["--account-creds", "APP="],
        ["--account-context", "ORDERS"],
        ["--account-creds", "APP=a", "--account-creds", "APP=b"],
        ["--account-creds", "APP=a", "--account-context", "APP=b"],
    ],
)
def test_malformed_account_flags(env: dict[str, str], argv: list[str]) -> None:
    with pytest.raises(UsageError) as err:
        resolve_settings(parse(*argv), env)
    assert err.value.exit_code == 2
    assert "\n" not in str(err.value)


def test_bad_timeout_flag(env: dict[str, str]) -> None:
    with pytest.raises(UsageError, match="--timeout"):
        resolve_settings(parse("--timeout", "0"), env)


# ---------------------------------------------------------------- helpers


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("5", 5.0), ("2.5", 2.5), ("500ms", 0.5), ("5s", 5.0), ("1m", 60.0), ("1h", 3600)],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "0", "-1", "five", "5d", "1.2.3"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


def test_expand_path() -> None:
    env = {"HOME": "/home/op", "KEYS": "/srv/keys"}
    assert expand_path("~/a", env) == Path("/home/op/a")
    assert expand_path("$KEYS/a.creds", env) == Path("/srv/keys/a.creds")
    assert expand_path("${KEYS}/b", env) == Path("/srv/keys/b")
    assert expand_path("$UNSET/c", env) == Path("$UNSET/c")
    assert expand_path("rel", env, Path("/etc/natsops")) == Path("/etc/natsops/rel")


def test_split_servers() -> None:
    assert split_servers(["a,b", " c "]) == ["a", "b", "c"]
