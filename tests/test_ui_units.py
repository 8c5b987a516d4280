"""Unit tests of the dashboard's pure parts: table model, themes, formats, commands."""

from __future__ import annotations

import argparse
import datetime as dt
import socket
import time
from pathlib import Path
from typing import Any

import pytest

from natsops.errors import ConnectError, NatsopsError, UsageError
from natsops.fanout import FanoutResult, Reply, Roster, ServerInfo
from natsops.ui import fmt
from natsops.ui.actions import parse_move, parse_until
from natsops.ui.app import VIEW_CLASSES, roll_call
from natsops.ui.commands import parse_command
from natsops.ui.table import Column, Row, TableModel
from natsops.ui.testing import wait_until
from natsops.ui.themes import (
    ThemeError,
    bundled_theme_dir,
    load_all_themes,
    load_theme_file,
    user_theme_dir,
)
from natsops.ui.views.events import parse_event_filter

COLUMNS = [Column("name", "NAME"), Column("n", "N", desc=True)]


def rows(pairs: list[tuple[str, int]]) -> list[Row]:
    return [Row(k, (k, v), {"k": k}) for k, v in pairs]


def test_model_keyed_diff_keeps_unchanged_rows() -> None:
    model = TableModel(COLUMNS, sort="name")
    diff = model.set_rows(rows([("a", 1), ("b", 2), ("c", 3)]))
    assert (diff.added, diff.removed, diff.changed) == (3, 0, 0)
    kept = model.get("a")

    diff = model.set_rows(rows([("a", 1), ("b", 5), ("d", 4)]))
    assert (diff.added, diff.removed, diff.changed) == (1, 1, 1)
    assert model.get("a") is kept  # an unchanged row is the same object
    assert model.keys() == ["a", "b", "d"]

    version = model.version
    diff = model.set_rows(rows([("a", 1), ("b", 5), ("d", 4)]))
    assert not diff.any and model.version == version


def test_model_sort_filter_and_predicate() -> None:
    model = TableModel(COLUMNS, sort="n")
    assert model.sort_reverse  # numeric columns start descending
    model.set_rows(rows([("alpha", 1), ("beta", 3), ("gamma", 2)]))
    assert model.keys() == ["beta", "gamma", "alpha"]
    model.set_sort("n")  # the same column flips
    assert model.keys() == ["alpha", "gamma", "beta"]
    model.set_sort("name", reverse=False)
    model.set_filter("^(al|ga)")
    assert model.keys() == ["alpha", "gamma"]
    assert model.total == 3
    with pytest.raises(Exception):  # noqa: B017 - re.error
        model.set_filter("(")
    assert model.filter_text == "^(al|ga)"  # the old filter stays
    model.set_predicate(lambda row: row.values[1] > 1)
    assert model.keys() == ["gamma"]
    model.set_filter("")
    model.set_predicate(None)
    assert len(model) == 3


def test_model_extend_drops_the_oldest() -> None:
    model = TableModel(COLUMNS, sort="name", reverse=True)
    model.extend(rows([(f"{i:03d}", i) for i in range(5)]), keep=3)
    assert model.keys() == ["004", "003", "002"]
    model.extend(rows([("005", 5)]), keep=3)
    assert model.keys() == ["005", "004", "003"]


def test_model_handles_100k_rows_quickly_enough_to_be_keyed() -> None:
    model = TableModel(COLUMNS, sort="n")
    big = rows([(f"c{i:06d}", i % 977) for i in range(100_000)])
    model.set_rows(big)
    assert len(model) == 100_000
    # Same rows again: nothing changes and nothing is reordered.
    diff = model.set_rows(rows([(f"c{i:06d}", i % 977) for i in range(100_000)]))
    assert not diff.any
    assert model.index_of("c000976") is not None


def test_formats() -> None:
    assert fmt.count(1234) == "1,234"
    assert fmt.count(56_000) == "56.0K"
    assert fmt.size(1536) == "1.5 KiB"
    assert fmt.rate(None) == "-"
    assert fmt.duration(3725) == "1h02m"
    assert fmt.go_duration("1h2m3.5s") == pytest.approx(3723.5)
    assert fmt.go_duration("279µs") == pytest.approx(279e-6)
    assert fmt.go_duration("1.5ms") == pytest.approx(0.0015)
    assert fmt.parse_time("2026-12-03T20:39:44.871625722Z") == pytest.approx(
        dt.datetime(2026, 12, 3, 20, 39, 44, 871625, tzinfo=dt.UTC).timestamp()
    )
    assert fmt.parse_time("0001-01-01T00:00:00Z") is None
    assert fmt.sparkline([0, 1, 2, 4], 4) == "▁▃▅█"


def test_bundled_themes_load(tmp_path: Path) -> None:
    found = load_all_themes(user_dir=tmp_path / "none")
    assert {"natsops-dark", "natsops-light", "natsops-high-contrast"} <= set(
        found.themes
    )
    assert not found.failures
    assert found.themes["natsops-light"].dark is False
    assert (bundled_theme_dir() / "natsops-dark.toml").is_file()


def test_user_themes_fail_together_and_good_ones_load(tmp_path: Path) -> None:
    (tmp_path / "ok.toml").write_text('name = "mine"\nprimary = "#112233"\n')
    (tmp_path / "bad-colour.toml").write_text('name = "x"\nprimary = "nocolour"\n')
    (tmp_path / "bad-toml.toml").write_text("name = \n")
    (tmp_path / "unknown.toml").write_text('name = "y"\nprimary = "#fff"\nfoo = 1\n')
    found = load_all_themes(user_dir=tmp_path)
    assert "mine" in found.themes
    assert len(found.failures) == 3
    summary = found.summary()
    assert summary.startswith("3 theme files could not be loaded:")
    for name in ("bad-colour.toml", "bad-toml.toml", "unknown.toml"):
        assert name in summary
    with pytest.raises(ThemeError, match="primary"):
        load_theme_file(tmp_path / "bad-colour.toml")


def test_user_theme_dir_follows_xdg(tmp_path: Path) -> None:
    env = {"XDG_CONFIG_HOME": str(tmp_path)}
    assert user_theme_dir(env) == tmp_path / "natsops" / "themes"


def test_command_names_and_aliases() -> None:
    views = {cls.NAME: cls for cls in VIEW_CLASSES}
    for text, want in (
        (":srv", "servers"),
        ("conn", "connections"),
        (":js", "jetstream"),
        (":str", "streams"),
        (":con", "consumers"),
        (":acc", "accounts"),
        (":topo", "topology"),
        (":health", "health"),
        (":ev", "events"),
        (":audit", "audit"),
        (":perms", "perms"),
    ):
        assert parse_command(text, views) == ("view", want)
    assert parse_command("theme natsops-light", views) == ("theme", "natsops-light")
    assert parse_command(":q", views) == ("quit", "")
    with pytest.raises(UsageError, match="unknown command"):
        parse_command(":nope", views)
    with pytest.raises(UsageError):
        parse_command(":theme", views)


def test_every_view_has_a_unique_key() -> None:
    keys = [cls.KEY for cls in VIEW_CLASSES if cls.KEY]
    assert keys == list("1234567890")


def test_event_filter_words() -> None:
    flt, rest = parse_event_filter("type:leader server:c1-n2 account:APP boom.*")
    assert flt.types == ["leader"] and flt.servers == ["c1-n2"]
    assert flt.accounts == ["APP"] and rest == "boom.*"
    flt, rest = parse_event_filter("sev:warning")
    assert not flt.empty and rest == ""


def test_move_and_pause_arguments() -> None:
    assert parse_move("cluster c2") == ("cluster", "c2")
    assert parse_move("off c1-n2") == ("off", "c1-n2")
    with pytest.raises(UsageError):
        parse_move("somewhere")
    now = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
    assert parse_until("+1h30m", now) == now + dt.timedelta(minutes=90)
    assert parse_until("2030-01-02T00:00:00Z", now).day == 2
    with pytest.raises(UsageError):
        parse_until("soon", now)


def _reply(name: str) -> Reply:
    return Reply(ServerInfo(name=name), {}, None, 0.001)


def test_roll_call_names_silent_and_shut_down_servers() -> None:
    roster = Roster()
    for name in ("a", "b", "c", "d"):
        roster.observe(ServerInfo(name=name))
    roster.mark("d", "shutdown")
    result = FanoutResult(
        kind="VARZ",
        replies={"a": _reply("a"), "b": _reply("b")},
        errors={},
        missing=["c"],
        expected={"a", "b", "c"},
        elapsed=0.01,
    )
    text, warn = roll_call(result, roster)
    assert text == "2/4 servers, missing: c, d (shutdown)"
    assert warn
    full = FanoutResult("VARZ", {"a": _reply("a")}, {}, [], {"a"}, 0.0)
    solo = Roster()
    solo.observe(ServerInfo(name="a"))
    assert roll_call(full, solo) == ("1/1 servers", False)


def test_dashboard_connection_error_is_one_line_before_the_app(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from natsops.ui.launch import run_dashboard

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    args = argparse.Namespace(server=f"nats://127.0.0.1:{port}", timeout=1.0)
    t0 = time.monotonic()
    with pytest.raises(ConnectError) as info:
        run_dashboard(args)
    assert time.monotonic() - t0 < 15
    assert "\n" not in str(info.value)
    assert isinstance(info.value, NatsopsError)


def test_replay_of_a_missing_file_is_an_error(tmp_path: Path) -> None:
    from natsops.ui.launch import run_replay

    with pytest.raises(NatsopsError, match="no recording"):
        run_replay(tmp_path / "nope.jsonl")


def _account_names(replies: Path) -> dict[str, str]:
    """Account public key -> name, as the recorded JSZ names them."""
    import json

    doc = json.loads((replies / "jsz.json").read_text())
    names: dict[str, str] = {}
    for data in doc["servers"].values():
        for acc in data.get("account_details") or []:
            names[acc["id"]] = acc["name"]
    return names


async def command(app: Any, pilot: Any, text: str) -> None:
    """``:`` then ``text`` (set at once) and enter."""
    await pilot.press("colon")
    app.command_line.value = text
    await pilot.press("enter")


async def palette_jump(app: Any, pilot: Any, query: str, label: str) -> None:
    """Open the palette, type ``query``, wait for the hit ``label``, take it."""
    from textual.command import CommandInput, CommandList

    await pilot.press("ctrl+p")
    await wait_until(lambda: app.screen.__class__.__name__ == "CommandPalette")
    # Typed at once (Pilot takes about 100 ms a key): the palette searches on the
    # change as it does for keys.
    app.screen.query_one(CommandInput).value = query

    def hit() -> bool:
        found = app.screen.query(CommandList)
        if not found:
            return False
        options = found.first()
        return options.option_count > 0 and label in str(
            options.get_option_at_index(0).prompt
        )

    await wait_until(hit, 5, f"the palette to offer {label}")
    await pilot.press("enter")


async def test_palette_command_line_and_theme_on_recorded_replies(
    tmp_path: Path,
) -> None:
    from natsops.ui.app import NatsopsApp
    from natsops.ui.source import RecordedSource, Recording
    from natsops.ui.testing import show

    replies = Path(__file__).parent / "fixtures" / "replies"
    source = RecordedSource(Recording.load(replies))
    app = NatsopsApp(source, themes=load_all_themes(user_dir=tmp_path))
    async with app.run_test(size=(150, 40)) as pilot:
        await show(app, "servers")
        await show(app, "streams")

        # ctrl+p jumps to a server by name; the cursor lands on its row.
        await palette_jump(app, pilot, "server c1-n2", "server c1-n2")
        await wait_until(lambda: app.current == "servers", 5, "the jump")
        assert app.table_of("servers").table.cursor_key == "c1-n2"

        # Consumers and accounts were never shown: the palette asked for their
        # names (JSZ with details, ACCOUNTZ), and the jump waits for the rows.
        assert app.poll_count.get("consumers", 0) == 0
        app.jump_cache = None
        await palette_jump(app, pilot, "consumer audit", "consumer audit of stream")
        await wait_until(lambda: app.current == "consumers", 5, "the jump")
        consumers = app.table_of("consumers")
        await wait_until(
            lambda: consumers.table.cursor_key == "APP/ORDERS/audit", 5, "the cursor"
        )
        assert ("JSZ", {"accounts": True, "streams": True, "consumer": True}) in (
            source.requests
        )
        other = next(
            key for key, name in _account_names(replies).items() if name == "OTHER"
        )
        await palette_jump(app, pilot, "account OTHER", "account OTHER")
        await wait_until(lambda: app.current == "accounts", 5, "the jump")
        accounts = app.table_of("accounts")
        await wait_until(lambda: accounts.table.cursor_key == other, 5, "the cursor")

        # : with tab completion: ":topo" from ":top".
        await pilot.press("colon", *"top", "tab", "enter")
        assert app.current == "topology"

        await command(app, pilot, "theme natsops-light")
        assert app.theme == "natsops-light"
        await command(app, pilot, "theme nope")
        assert app.theme == "natsops-light"  # unknown names change nothing

        # :sort by a column name, then s cycles to the next column.
        await pilot.press("1")
        await command(app, pilot, "sort conns")
        servers = app.table_of("servers")
        assert servers.model.sort_column.key == "conns"
        await pilot.press("s")
        assert servers.model.sort_column.key == "subs"


async def test_replay_opens_the_events_view_on_a_recording(tmp_path: Path) -> None:
    import json

    from natsops.events import Recorder, parse_event
    from natsops.ui.app import NatsopsApp
    from natsops.ui.launch import replay_source
    from natsops.ui.views.events import EventsView

    path = tmp_path / "events.jsonl"
    server = {"name": "c1-n1", "id": "NSRV", "seq": 0}
    events = []
    for i in range(5):
        doc = {
            "type": "io.nats.server.advisory.v1.client_connect",
            "id": f"ev{i}",
            "timestamp": "2026-12-03T20:40:00Z",
            "server": {**server, "seq": i + 1},
            "client": {"name": f"c{i}", "acc": "APP"},
        }
        events.append(
            parse_event("$SYS.ACCOUNT.APP.CONNECT", json.dumps(doc).encode(), "system")
        )
    with Recorder(path) as recorder:
        recorder.write(events)

    source = replay_source(path)
    app = NatsopsApp(
        source,
        themes=load_all_themes(user_dir=tmp_path / "none"),
        initial_view="events",
        live=False,
        replay=True,
    )
    async with app.run_test(size=(150, 40)) as pilot:
        view = app.views["events"]
        assert isinstance(view, EventsView)
        await wait_until(lambda: len(view.model) == 5, 5, "five events")
        assert "replay" in app.status_text().plain
        # The filter words narrow the list; esc brings every event back.
        await pilot.press("slash")
        view.filter_input.value = "server:c1-n1 c3"  # type: ignore[attr-defined]
        await pilot.press("enter")
        assert len(view.model) == 1  # type: ignore[attr-defined]
        await pilot.press("escape")
        assert len(view.model) == 5  # type: ignore[attr-defined]


def test_extend_in_order_matches_a_full_resort() -> None:
    """The append fast path gives the order a full sort gives, filters included."""
    cols = [Column("seq", "#", desc=True), Column("text", "TEXT")]

    def rows_from(start: int, n: int) -> list[Row]:
        return [
            Row(f"{i:06d}", (i, "even" if i % 2 == 0 else "odd"))
            for i in range(start, start + n)
        ]

    for reverse in (True, False):
        for flt in ("", "even"):
            fast = TableModel(cols, sort="seq", reverse=reverse)
            slow = TableModel(cols, sort="seq", reverse=reverse)
            fast.set_filter(flt)
            slow.set_filter(flt)
            start = 0
            for n in (7, 3, 12, 1, 9):
                batch = rows_from(start, n)
                start += n
                fast.extend(batch, keep=10, in_order=0)
                slow.extend(batch, keep=10)
                assert fast.keys() == slow.keys(), (reverse, flt, start)
                assert fast.total == slow.total == min(start, 10)


def test_event_cells_are_lazy_but_sort_and_filter() -> None:
    from natsops.ui.views.events import LazyCell

    class Ev:
        def __init__(self, summary: str, time: float) -> None:
            self.summary = summary
            self.time = time

    a, b = Ev("beta", 2.0), Ev("alpha", 1.0)
    assert sorted([LazyCell(a, "summary"), LazyCell(b, "summary")])[0].ev is b
    assert LazyCell(a, "time") > LazyCell(b, "time")
    assert str(LazyCell(a, "summary")) == "beta"
    assert str(LazyCell(b, "time")) == "00:00:01"


def test_connection_filter_words_and_top_n() -> None:
    from natsops.ui.views.connections import (
        ConnectionsView,
        connection_entry,
        parse_conn_filter,
        top_entries,
    )

    flt = parse_conn_filter("acc:APP user:UBOB state:closed billing.*")
    assert flt.accounts == ["APP"] and flt.users == ["UBOB"]
    assert flt.state == "closed" and flt.rest == "billing.*"
    assert parse_conn_filter("state:weird").rest == "state:weird"

    conns = [
        {"cid": i, "in_msgs": (i * 7) % 11, "out_msgs": i, "account": "A"}
        for i in range(1, 30)
    ]
    entries = [connection_entry("s1", c, {}) for c in conns]
    top = top_entries(entries, ConnectionsView.COLUMNS, "msgs_from", True, 5)
    index = [c.key for c in ConnectionsView.COLUMNS].index("in_msgs")
    best = sorted((e[1][index] for e in entries), reverse=True)[:5]
    assert sorted((e[1][index] for e in top), reverse=True) == best
    first = top_entries(entries, ConnectionsView.COLUMNS, "cid", False, 3)
    assert [e[0] for e in first] == ["s1:1", "s1:2", "s1:3"]


def test_move_choices_offer_replica_servers_and_other_clusters() -> None:
    from natsops.fanout import ServerInfo
    from natsops.ui.actions import move_choices
    from natsops.ui.views.base import Selection

    roster = Roster()
    for name in ("c1-n1", "c1-n2", "c1-n3", "c2-n1", "c2-n2", "c2-n3", "c3-n1"):
        roster.observe(ServerInfo(name=name, cluster=name.split("-")[0]))
    stream = {
        "name": "ORDERS",
        "config": {"num_replicas": 3},
        "cluster": {
            "name": "c1",
            "leader": "c1-n2",
            "replicas": [{"name": "c1-n1"}, {"name": "c1-n3"}],
        },
    }
    sel = Selection("streams", "stream", "APP/ORDERS", {"stream": stream}, "stream")
    values = [v for v, _label in move_choices(sel, roster.entries())]
    # c3 has one server: too small for R3; c1 is where the stream is.
    assert values == ["off c1-n2", "off c1-n1", "off c1-n3", "cluster c2"]


def test_exported_svgs_keep_their_spaces() -> None:
    from natsops.ui.app import preserve_svg_spaces

    svg = '<svg class="rich-terminal" viewBox="0 0 1 1"><text>&#160;6</text></svg>'
    fixed = preserve_svg_spaces(svg)
    assert fixed.startswith('<svg xml:space="preserve" class="rich-terminal"')
    assert preserve_svg_spaces(fixed) == fixed


async def test_a_cursor_move_in_a_scrolled_table_is_painted_at_once() -> None:
    """Far down a long table, up and down repaint the two cursor lines (and only
    the cursor moves: a refresh of lines outside the window would paint nothing
    until the next full refresh)."""
    from textual.app import App, ComposeResult

    from natsops.ui.table import WindowedTable

    model = TableModel(COLUMNS, sort="n")
    model.set_rows(rows([(f"row{i:04d}", i) for i in range(2_000)]))
    table = WindowedTable(model)

    class TableApp(App[None]):
        def compose(self) -> ComposeResult:
            yield table

    async with TableApp().run_test(size=(60, 20)) as pilot:
        table.focus()
        table.sync()
        table.move_cursor(1_500)
        await pilot.pause()
        assert table.scroll_y > 1_000
        for key, row in (("up", 1_499), ("down", 1_500), ("down", 1_501)):
            before = table.lines_rendered
            await pilot.press(key)
            await pilot.pause()
            assert table.cursor == row
            assert table.lines_rendered > before, f"{key} was not painted"


def test_collection_is_held_and_released_in_pairs() -> None:
    import gc

    from natsops.dispose import gc_held, gc_hold, gc_release

    # Interleaved as a fetch's hold and a table's burst can be, in both orders.
    with gc_held():
        gc_hold()
    assert not gc.isenabled()
    gc_release()
    assert gc.isenabled()
    gc_hold()
    with gc_held():
        gc_release()
        assert not gc.isenabled()
    assert gc.isenabled()

    assert gc.isenabled()
    gc_hold()
    gc_hold()
    assert not gc.isenabled()
    gc_release()
    assert not gc.isenabled()
    gc_release()
    assert gc.isenabled()
    gc_release()  # an extra release changes nothing
    assert gc.isenabled()
