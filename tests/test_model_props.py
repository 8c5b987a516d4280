"""Property tests: random and malformed JSON never makes a parser (or a view over what
it parsed) raise anything but :class:`ModelError`."""

from __future__ import annotations

import json
import math
import random
from dataclasses import asdict
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from natsops.model import (
    PARSERS,
    Connz,
    Healthz,
    Jsz,
    ModelError,
    account_rows,
    aggregate_connections,
    cluster_overview,
    consumer_rows,
    duration_seconds,
    gateway_rows,
    health_rows,
    jetstream_overview,
    leader_distribution,
    leaf_rows,
    parse_connection,
    parse_duration,
    parse_time,
    route_rows,
    server_rows,
    sort_connections,
    stream_rows,
)
from natsops.model.base import as_bool, as_float, as_int, as_str
from natsops.model.conns import _connection_tolerant
from natsops.model.jetstream import _stream_fast, _stream_tolerant, parse_stream
from natsops.model.views import CONNECTION_SORT_KEYS

REPLIES = Path(__file__).parent / "fixtures" / "replies"

#: Which fixture feeds which parser's mutation test.
FIXTURE_OF = {
    "STATSZ": "statsz",
    "VARZ": "varz",
    "IDZ": "idz",
    "HEALTHZ": "healthz_errors",
    "CONNZ": "connz",
    "ROUTEZ": "routez",
    "GATEWAYZ": "gatewayz",
    "LEAFZ": "leafz",
    "SUBSZ": "subsz",
    "ACCOUNTZ": "accountz_app",
    "JSZ": "jsz",
    "STATZ": "account_statz",
}
SAMPLES: dict[str, Any] = {
    kind: next(
        iter(json.loads((REPLIES / f"{name}.json").read_text())["servers"].values())
    )
    for kind, name in FIXTURE_OF.items()
}
SAMPLES["JSZ_MOVE"] = json.loads((REPLIES / "jsz_move.json").read_text())["servers"]

PROPS = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
#: Mutating a real reply is cheap: run many more of those.
MANY = settings(PROPS, max_examples=400)

huge_ints = st.one_of(
    st.integers(),
    st.integers(min_value=2**63, max_value=2**80),
    st.just(10**400),
    st.just(-(2**64)),
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    huge_ints,
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(["", "0s", "1m2s", "350µs", "abc", "2026-12-03T20:36:35.7Z", "-1"]),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.text(max_size=12), inner, max_size=4),
    ),
    max_leaves=20,
)


def _keys(value: Any, out: set[str]) -> set[str]:
    if isinstance(value, dict):
        for k, v in value.items():
            out.add(k)
            _keys(v, out)
    elif isinstance(value, list):
        for v in value:
            _keys(v, out)
    return out


KNOWN_KEYS = sorted(set().union(*(_keys(v, set()) for v in SAMPLES.values())))


def _parse(kind: str, data: object) -> Any:
    try:
        return PARSERS[kind](data, "s1")
    except ModelError:
        assert not isinstance(data, dict), "a dict must always parse"
        return None


#: Values a broken or foreign server might put anywhere.
NASTY: list[Any] = [
    None,
    True,
    False,
    0,
    -1,
    2**64,
    -(2**63) - 1,
    10**400,
    1e308,
    -1e308,
    float("inf"),
    float("nan"),
    0.5,
    "",
    "x",
    "12",
    "1e999",
    "1m2s",
    "-5µs",
    "0001-01-01T00:00:00Z",
    "2026-13-45T99:99:99Z",
    [],
    {},
    [1, "a", None],
    {"name": None, "leader": 3},
    [{"name": "c1-n1", "current": "yes"}],
    {"replicas": {"a": 1}},
]


def mutate(value: Any, rng: random.Random, depth: int = 0) -> Any:
    """A copy of ``value`` with random parts replaced, dropped, added or retyped."""
    roll = rng.random()
    if depth > 0 and roll < 0.08:
        return rng.choice(NASTY)
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            if rng.random() < 0.1:
                continue  # a missing field
            out[k] = mutate(v, rng, depth + 1)
        if rng.random() < 0.2:
            out[rng.choice(KNOWN_KEYS)] = rng.choice(NASTY)  # a wrongly typed field
        return out
    if isinstance(value, list):
        items = [mutate(v, rng, depth + 1) for v in value[:4]]
        if rng.random() < 0.2:
            items.append(rng.choice(NASTY))
        return items
    return value


@PROPS
@given(kind=st.sampled_from(sorted(PARSERS)), data=json_values)
def test_any_json_value(kind: str, data: object) -> None:
    _parse(kind, data)


@PROPS
@given(
    kind=st.sampled_from(sorted(PARSERS)),
    data=st.dictionaries(st.sampled_from(KNOWN_KEYS), json_values, max_size=12),
)
def test_known_keys_with_garbage_values(kind: str, data: dict[str, Any]) -> None:
    assert _parse(kind, data) is not None


@MANY
@given(kind=st.sampled_from(sorted(PARSERS)), seed=st.integers(0, 2**32))
def test_mutated_real_replies(kind: str, seed: int) -> None:
    _parse(kind, mutate(SAMPLES[kind], random.Random(seed)))


@MANY
@given(seed=st.integers(0, 2**32))
def test_views_over_mutated_jsz(seed: int) -> None:
    rng = random.Random(seed)
    replies = {}
    for name, block in SAMPLES["JSZ_MOVE"].items():
        parsed = _parse("JSZ", mutate(block, rng, 1))
        if isinstance(parsed, Jsz):
            replies[name] = parsed
    overview = jetstream_overview(replies)
    streams = stream_rows(replies)
    consumers = consumer_rows(replies)
    leaders = leader_distribution(replies, streams, consumers)
    assert isinstance(overview.has_quorum, bool)
    for row in streams:
        assert row.status in {"ok", "moving", "no leader", "offline", "lagging"}
        assert len({r.name for r in row.replicas}) == len(row.replicas)
    assert sum(r.meta for r in leaders) <= 1
    account_rows([], replies)


@MANY
@given(seed=st.integers(0, 2**32))
def test_views_over_mutated_other_replies(seed: int) -> None:
    rng = random.Random(seed)

    def parsed(kind: str) -> dict[str, Any]:
        out = {}
        for i in range(3):
            model = _parse(kind, mutate(SAMPLES[kind], rng, 1))
            if model is not None:
                model.server = f"s{i}"
                out[f"s{i}"] = model
        return out

    varz, statsz = parsed("VARZ"), parsed("STATSZ")
    server_rows(statsz=statsz, varz=varz)
    cluster_overview(varz)
    route_rows(parsed("ROUTEZ"))
    gateway_rows(parsed("GATEWAYZ"))
    leaf_rows(parsed("LEAFZ"))
    account_rows(parsed("STATZ"))
    health = parsed("HEALTHZ")
    assert all(isinstance(h, Healthz) for h in health.values())
    health_rows(health)
    pages = parsed("CONNZ")
    assert all(isinstance(p, Connz) for p in pages.values())
    conns = aggregate_connections(pages)
    for key in CONNECTION_SORT_KEYS:
        assert len(sort_connections(conns, key)) == len(conns)


@settings(PROPS, max_examples=80)
@given(
    conn=st.dictionaries(st.sampled_from(KNOWN_KEYS), json_values, max_size=20),
)
def test_connection_paths_agree_and_never_raise(conn: dict[str, Any]) -> None:
    parsed = parse_connection(conn, "s1")
    assert asdict(parsed) == asdict(_connection_tolerant(conn, "s1"))
    assert isinstance(parsed.cid, int) and isinstance(parsed.name, str)
    assert all(isinstance(s, str) for s in parsed.subscriptions_list)


@PROPS
@given(value=json_values)
def test_coercion_helpers_return_their_types(value: object) -> None:
    assert type(as_int(value)) is int
    number = as_float(value)
    assert type(number) is float and math.isfinite(number)
    assert type(as_str(value)) is str
    assert type(as_bool(value)) is bool
    seconds = parse_duration(value)
    assert seconds is None or isinstance(seconds, float)
    assert isinstance(duration_seconds(value), float)
    moment = parse_time(value)
    assert moment is None or moment.tzinfo is not None


@PROPS
@given(text=st.text(max_size=40))
def test_duration_and_time_parsers_accept_any_text(text: str) -> None:
    parse_duration(text)
    parse_time(text)


well_typed_connection = st.fixed_dictionaries(
    {
        "cid": huge_ints,
        "kind": st.sampled_from(["Client", "Leafnode"]),
        "ip": st.text(max_size=15),
        "port": st.integers(0, 65535),
        "start": st.text(max_size=30),
        "last_activity": st.text(max_size=30),
        "rtt": st.text(max_size=10),
        "uptime": st.text(max_size=10),
        "idle": st.text(max_size=10),
        "pending_bytes": huge_ints,
        "in_msgs": huge_ints,
        "out_msgs": huge_ints,
        "in_bytes": huge_ints,
        "out_bytes": huge_ints,
        "subscriptions": huge_ints,
    },
    optional={
        "type": st.text(max_size=5),
        "name": st.text(max_size=10),
        "lang": st.text(max_size=5),
        "account": st.text(max_size=10),
        "name_tag": st.text(max_size=10),
        "subscriptions_list": st.lists(st.text(max_size=8), max_size=3),
    },
)


@PROPS
@given(conn=well_typed_connection)
def test_fast_path_keeps_every_well_typed_value(conn: dict[str, Any]) -> None:
    parsed = parse_connection(conn, "s1")
    assert asdict(parsed) == asdict(_connection_tolerant(conn, "s1"))
    assert parsed.in_msgs == conn["in_msgs"]  # huge numbers are kept as they are
    assert parsed.subscriptions_list == tuple(conn.get("subscriptions_list", ()))


# -- JSZ streams: the fast path and the tolerant path agree ----------------------

#: Every stream_detail entry of the recordings, the seeds of the stream tests.
STREAMS: list[dict[str, Any]] = [
    stream
    for data in [SAMPLES["JSZ"], *SAMPLES["JSZ_MOVE"].values()]
    for acc in data.get("account_details") or []
    for stream in acc.get("stream_detail") or []
]
STREAM_KEYS = sorted(set().union(*(_keys(s, set()) for s in STREAMS)))


def _same_stream(detail: object) -> None:
    fast = parse_stream(detail, "s1", "APP", "AAPP")
    assert asdict(fast) == asdict(_stream_tolerant(detail, "s1", "APP", "AAPP"))


@MANY
@given(seed=st.integers(0, 2**32))
def test_stream_paths_agree_on_mutated_real_streams(seed: int) -> None:
    rng = random.Random(seed)
    _same_stream(mutate(rng.choice(STREAMS), rng))


@PROPS
@given(detail=st.dictionaries(st.sampled_from(STREAM_KEYS), json_values, max_size=12))
def test_stream_paths_agree_on_garbage(detail: dict[str, Any]) -> None:
    _same_stream(detail)


_peer = st.fixed_dictionaries(
    {"name": st.text(max_size=8), "current": st.booleans(), "active": huge_ints},
    optional={
        "peer": st.text(max_size=8),
        "offline": st.booleans(),
        "lag": huge_ints,
        "pending": st.booleans(),
    },
)
well_typed_stream = st.fixed_dictionaries(
    {
        "name": st.text(max_size=10),
        "created": st.text(max_size=30),
        "state": st.fixed_dictionaries(
            {"messages": huge_ints, "bytes": huge_ints, "last_seq": huge_ints},
            optional={"first_ts": st.text(max_size=30), "num_deleted": huge_ints},
        ),
    },
    optional={
        "cluster": st.fixed_dictionaries(
            {"name": st.text(max_size=5), "leader": st.text(max_size=8)},
            optional={
                "raft_group": st.text(max_size=8),
                "replicas": st.lists(_peer, max_size=3),
            },
        ),
        "config": st.fixed_dictionaries(
            {"num_replicas": huge_ints, "subjects": st.lists(st.text(max_size=8))},
            optional={
                "storage": st.sampled_from(["file", "memory"]),
                "placement": st.fixed_dictionaries(
                    {"cluster": st.text(max_size=5)},
                    optional={"tags": st.lists(st.text(max_size=5), max_size=2)},
                ),
                "sources": st.lists(
                    st.fixed_dictionaries({}, optional={"name": st.text(max_size=5)}),
                    max_size=2,
                ),
                "mirror": st.fixed_dictionaries(
                    {}, optional={"name": st.text(max_size=5)}
                ),
                "sealed": st.booleans(),
                "retention": st.sampled_from(["limits", "interest"]),
                "name": st.text(max_size=5),
            },
        ),
        "stream_raft_group": st.text(max_size=8),
    },
)


@PROPS
@given(detail=well_typed_stream)
def test_fast_path_keeps_every_well_typed_stream(detail: dict[str, Any]) -> None:
    _same_stream(detail)
    replicas = (detail.get("cluster") or {}).get("replicas") or []
    if all(abs(p["active"]) < 2**1000 for p in replicas):
        fast = _stream_fast(detail, "s1", "APP", "AAPP")
        assert fast is not None  # well typed: never sent to the tolerant path
        assert fast.state.messages == detail["state"]["messages"]  # huge kept
        assert [p.lag for p in fast.cluster.replicas] == [
            p.get("lag", 0) for p in replicas
        ]
