"""Denied event subscriptions on real servers: named, never an empty success.

EventFeed records what the server refused (``denied``, ``notice``, ``on_denied`` and
an EventsDenied from ``denial_error``) and keeps the subscriptions it was allowed;
``natsops events`` fails with one line naming the denied subjects of the system
connection, and names an account connection it cannot watch.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import nats
import pytest

from natsops import cli
from natsops.connection import Hub
from natsops.errors import PermissionDenied
from natsops.events import EventFeed, EventFeedError, EventsDenied, EventStore
from natsops.harness import Deployment, Identity, async_wait_for
from natsops.settings import ConnectionSettings, Settings


def _settings(
    dep: Deployment, system: Identity, accounts: dict[str, Identity] | None = None
) -> Settings:
    def conn(who: Identity, label: str) -> ConnectionSettings:
        return ConnectionSettings(
            servers=dep.urls, creds=who.creds_path, label=label, connect_timeout=5
        )

    return Settings(
        system=conn(system, "system"),
        accounts={name: conn(who, name) for name, who in (accounts or {}).items()},
    )


@pytest.fixture(scope="module")
def no_js_events(cluster: Deployment) -> Identity:
    """A system user that may not subscribe to the JetStream advisories."""
    return cluster.make_user("SYS", "events-no-js", sub_deny=["$JS.EVENT.>"])


async def test_feed_names_the_denied_subject_and_keeps_the_others(
    cluster: Deployment, no_js_events: Identity
) -> None:
    store = EventStore()
    calls: list[tuple[str, str]] = []
    feed = EventFeed(store, on_denied=lambda *args: calls.append(args))
    async with await Hub.open(_settings(cluster, no_js_events)) as hub:
        await feed.start_hub(hub)
        try:
            await async_wait_for(lambda: feed.denied, 5, "the denied subscription")
            await hub.system.flush()
            assert feed.denied == [("system", "$JS.EVENT.>")]
            assert calls == [("system", "$JS.EVENT.>")]
            assert ("system", "$JS.EVENT.>") not in feed.subscriptions
            assert ("system", "$SYS.ACCOUNT.>") in feed.subscriptions
            notice = feed.notice
            assert notice is not None and "$JS.EVENT.>" in notice
            assert "$SYS.ACCOUNT.>" not in notice

            # The allowed subscriptions still deliver: a client's connect event.
            name = f"denied-feed-{uuid.uuid4().hex[:6]}"
            client = await nats.connect(
                servers=cluster.urls, user_credentials=cluster.app_user.creds, name=name
            )
            await client.close()
            await async_wait_for(
                lambda: any(
                    e.kind == "connect" and name in e.summary for e in store.events()
                ),
                10,
                "the connect event",
            )
        finally:
            await feed.stop()

        error = feed.denial_error()
        assert isinstance(error, EventsDenied)
        assert isinstance(error, PermissionDenied)
        assert isinstance(error, EventFeedError)
        assert error.problem == (
            "permission denied: subscribe to $JS.EVENT.> on the system connection"
        )


async def test_denied_account_subscription_is_named_per_account(
    cluster: Deployment,
) -> None:
    app = cluster.make_user("APP", "events-app-no-js", sub_deny=["$JS.EVENT.>"])
    feed = EventFeed(EventStore())
    settings = _settings(cluster, cluster.sys_user, {"APP": app})
    async with await Hub.open(settings) as hub:
        try:
            await feed.start_hub(hub)
            await async_wait_for(lambda: feed.denied, 5, "the denied subscription")
            assert ("system", "$JS.EVENT.>") in feed.subscriptions
        finally:
            await feed.stop()
    assert feed.denied == [("APP", "$JS.EVENT.>")]
    assert feed.denial_error(["system"]) is None
    error = feed.denial_error()
    assert error is not None
    assert error.problem.endswith("subscribe to $JS.EVENT.> on account APP")


def test_note_denied_without_a_hub_reaches_the_notice() -> None:
    feed = EventFeed(EventStore())
    assert feed.notice is None and feed.denial_error() is None
    feed.note_denied("system", "$SYS.ACCOUNT.>")
    feed.note_denied("system", "$SYS.ACCOUNT.>")  # reported again after a reconnect
    feed.note_denied("APP", "$JS.EVENT.>")
    assert feed.denied == [("system", "$SYS.ACCOUNT.>"), ("APP", "$JS.EVENT.>")]
    assert feed.notice == (
        "events missing: subscribe to $SYS.ACCOUNT.> on the system connection; "
        "$JS.EVENT.> on account APP denied"
    )


# --------------------------------------------------------------- command line


def _run(
    dep: Deployment,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    creds: Path,
    *extra: str,
) -> int:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    argv = ["events", "--server", dep.url, "--creds", str(creds), *extra]
    return cli.main(argv)


def test_cli_fails_on_a_denied_system_subscription(
    cluster: Deployment,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    user = cluster.make_user("SYS", "events-cli-no-acc", sub_deny=["$SYS.ACCOUNT.>"])
    # A long duration: the command must fail at once, not after it.
    code = _run(cluster, tmp_path, monkeypatch, user.creds_path, "--duration", "60")

    out, err = capsys.readouterr()
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 1, (out, err)
    assert len(lines) == 1, lines
    assert lines[0].startswith(
        "natsops: permission denied: subscribe to $SYS.ACCOUNT.> on the system "
        "connection: "
    ), lines[0]
    assert "$SYS.SERVER.>" not in lines[0]  # allowed, so not named
    assert "0 events" not in err
    assert out == ""


def test_cli_names_an_account_it_cannot_watch_and_goes_on(
    cluster: Deployment,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    app = cluster.make_user("APP", "events-cli-app-no-js", sub_deny=["$JS.EVENT.>"])
    code = _run(
        cluster,
        tmp_path,
        monkeypatch,
        cluster.sys_user.creds_path,
        "--account-creds",
        f"APP={app.creds_path}",
        "--duration",
        "0.2",
    )

    _, err = capsys.readouterr()
    assert code == 0, err
    assert (
        "natsops: account APP not watched: permission denied: subscribe to $JS.EVENT.>"
    ) in err
    assert "printed " in err
