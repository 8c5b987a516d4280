"""The subject matcher against straightforward reference implementations: a regex
for the server's literal rule, and brute-force enumeration of concrete subjects for
coverage, overlap and allow/deny decisions."""

from __future__ import annotations

import itertools
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from natsops.perms.subjects import (
    Permissions,
    SubjectPermission,
    covers,
    covers_any,
    is_valid,
    matches,
    meet,
    overlaps,
)

LITERALS = ["a", "b", "c"]
# No per-example deadline: the machine is shared and timing is not under test.
_PROPS = settings(max_examples=200, deadline=None)
_FAST = settings(deadline=None)
FRESH = "zz"  # stands for every token that no pattern names


# -- reference implementations (deliberately naive) ---------------------------


def ref_regex(pattern: str) -> re.Pattern[str]:
    parts = []
    for tok in pattern.split("."):
        if tok == "*":
            parts.append(r"[^.]+")
        elif tok == ">":
            parts.append(r".+")
        else:
            parts.append(re.escape(tok))
    return re.compile(r"\.".join(parts))


def ref_matches(pattern: str, subject: str) -> bool:
    """The subject's characters taken literally, as the server's sublist does."""
    return ref_regex(pattern).fullmatch(subject) is not None


def universe(*patterns: str) -> list[str]:
    """Every concrete subject that can tell these patterns apart."""
    longest = max(len(p.split(".")) for p in patterns) + 1
    alphabet = sorted({t for p in patterns for t in p.split(".")} - {"*", ">"})
    alphabet.append(FRESH)
    out = []
    for n in range(1, longest + 1):
        out += [".".join(t) for t in itertools.product(alphabet, repeat=n)]
    return out


def ref_set(pattern: str, world: list[str]) -> set[str]:
    return {s for s in world if ref_matches(pattern, s)}


# -- strategies ----------------------------------------------------------------


@st.composite
def patterns(draw: st.DrawFn, max_len: int = 4) -> str:
    n = draw(st.integers(1, max_len))
    toks = [draw(st.sampled_from([*LITERALS, "*"])) for _ in range(n)]
    if draw(st.booleans()):
        toks[-1] = ">"
    return ".".join(toks)


concrete = st.lists(st.sampled_from(LITERALS), min_size=1, max_size=5).map(".".join)


# -- properties ----------------------------------------------------------------


@_FAST
@given(patterns(), concrete)
def test_matches_concrete_like_regex(pattern: str, subject: str) -> None:
    assert matches(pattern, subject) == ref_matches(pattern, subject)


@_FAST
@given(patterns(), patterns())
def test_matches_wildcard_subject_literally_like_regex(pattern: str, sub: str) -> None:
    assert matches(pattern, sub) == ref_matches(pattern, sub)


@_PROPS
@given(patterns(), patterns())
def test_covers_is_set_inclusion(pattern: str, subject: str) -> None:
    world = universe(pattern, subject)
    expected = ref_set(subject, world) <= ref_set(pattern, world)
    assert covers(pattern, subject) == expected


@_PROPS
@given(st.lists(patterns(3), min_size=0, max_size=4), patterns(3))
def test_covers_any_is_union_inclusion(pats: list[str], subject: str) -> None:
    world = universe(subject, *pats)
    union: set[str] = set()
    for p in pats:
        union |= ref_set(p, world)
    assert covers_any(pats, subject) == (ref_set(subject, world) <= union)


@_PROPS
@given(patterns(), patterns())
def test_overlap_and_meet(a: str, b: str) -> None:
    world = universe(a, b)
    both = ref_set(a, world) & ref_set(b, world)
    assert overlaps(a, b) == bool(both)
    m = meet(a, b)
    if m is None:
        assert not both
    else:
        assert ref_set(m, world) == both


@_PROPS
@given(
    st.lists(patterns(3), max_size=3),
    st.lists(patterns(3), max_size=3),
    patterns(3),
)
def test_publish_decision_by_enumeration(
    allow: list[str], deny: list[str], subject: str
) -> None:
    perm = SubjectPermission(tuple(allow), tuple(deny))
    world = universe(subject, *allow, *deny)
    inside = ref_set(subject, world)

    def permitted(s: str) -> bool:
        ok = not allow or any(ref_matches(a, s) for a in allow)
        return ok and not any(ref_matches(d, s) for d in deny)

    verdicts = {permitted(s) for s in inside}
    expected = (
        "all" if verdicts == {True} else "none" if True not in verdicts else "some"
    )
    decision = perm.decide_publish(subject)
    assert decision.scope == expected, decision
    assert decision.allowed == (expected != "none")
    if expected != "all":
        assert decision.reason


@_PROPS
@given(
    st.lists(patterns(3), max_size=3),
    st.lists(patterns(3), max_size=3),
    patterns(3),
)
def test_subscribe_decision_is_the_servers_rule(
    allow: list[str], deny: list[str], subject: str
) -> None:
    perm = SubjectPermission(tuple(allow), tuple(deny))
    accepted = (not allow or any(ref_matches(a, subject) for a in allow)) and not any(
        ref_matches(d, subject) for d in deny
    )
    decision = perm.decide_subscribe(subject)
    assert decision.allowed == accepted
    if accepted:
        world = universe(subject, *deny) if deny else []
        filtered = {d for d in deny if ref_set(d, world) & ref_set(subject, world)}
        assert set(decision.filtered) == filtered
        assert decision.scope == ("some" if filtered else "all")


# -- what nats-server 2.15.1 did (recorded from a real server) ------------------


def test_subscribe_cases_seen_on_the_server() -> None:
    a1 = SubjectPermission(allow=("$JS.EVENT.*", "_INBOX.>"))
    assert a1.decide_subscribe("$JS.EVENT.>").allowed  # `*` matches the `>` token
    assert a1.decide_subscribe("$JS.EVENT.*").allowed
    assert not a1.decide_subscribe("$JS.EVENT.X.Y").allowed
    assert not a1.decide_subscribe("$JS.>").allowed
    assert not a1.decide_subscribe("$JS.EVENT.*.*").allowed

    a2 = SubjectPermission(allow=(">",), deny=("$JS.EVENT.*",))
    assert not a2.decide_subscribe("$JS.EVENT.>").allowed
    assert not a2.decide_subscribe("$JS.EVENT.X").allowed
    assert a2.decide_subscribe("$JS.EVENT.X.Y").allowed
    partial = a2.decide_subscribe("$JS.>")
    assert partial.scope == "some" and partial.filtered == ("$JS.EVENT.*",)

    a4 = SubjectPermission(allow=("a.*.c", "_INBOX.>"))
    assert a4.decide_subscribe("a.*.c").allowed
    assert a4.decide_subscribe("a.b.c").allowed
    for denied in ("a.*.*", "a.>", "a.b.>", "*.b.c", ">"):
        assert not a4.decide_subscribe(denied).allowed, denied


def test_publish_cases_seen_on_the_server() -> None:
    a3 = SubjectPermission(allow=("$SYS.REQ.USER.INFO", "foo.*"), deny=("foo.bar",))
    assert a3.decide_publish("foo.x").scope == "all"
    assert not a3.decide_publish("foo.bar").allowed
    assert not a3.decide_publish("bar").allowed
    some = a3.decide_publish("foo.*")
    assert some.scope == "some" and some.filtered == ("foo.bar",)


def test_queue_group_entries_govern_only_queue_subscriptions() -> None:
    only_queue = SubjectPermission(allow=("$JS.EVENT.> workers",))
    assert not only_queue.decide_subscribe("$JS.EVENT.>").allowed
    deny_queue = SubjectPermission(deny=("$JS.EVENT.> workers",))
    assert deny_queue.decide_subscribe("$JS.EVENT.>").scope == "all"


def test_deny_wins_and_empty_allow_allows_all() -> None:
    perm = Permissions(pub=SubjectPermission(deny=("$JS.API.META.LEADER.STEPDOWN",)))
    assert perm.decide("pub", "$SYS.REQ.SERVER.PING.STATSZ").scope == "all"
    denied = perm.decide("pub", "$JS.API.META.LEADER.STEPDOWN")
    assert not denied.allowed
    assert denied.denied_by == ("$JS.API.META.LEADER.STEPDOWN",)
    assert "denied by" in denied.reason

    both = SubjectPermission(allow=("$JS.API.>",), deny=("$JS.API.>",))
    assert not both.decide_publish("$JS.API.INFO").allowed


def test_permission_parsing() -> None:
    jwt = {"nats": {"pub": {"allow": ["a.>"]}, "sub": {"deny": ["b"]}}}
    p = Permissions.from_jwt(jwt)
    assert p.pub.allow == ("a.>",) and p.sub.deny == ("b",)
    assert Permissions.from_jwt({"pub": {}, "sub": {}}).unrestricted
    server = {"publish": {"allow": ["x"]}, "subscribe": {"allow": ["_INBOX.>"]}}
    s = Permissions.from_server(server)
    assert s.to_json() == {
        "pub": {"allow": ["x"], "deny": []},
        "sub": {"allow": ["_INBOX.>"], "deny": []},
    }
    assert Permissions.from_server(None).unrestricted
    assert SubjectPermission.parse("x").allow == ("x",)
    assert SubjectPermission.parse(["x", "y"]).allow == ("x", "y")


def test_validity() -> None:
    assert is_valid("$SYS.REQ.SERVER.PING")
    assert is_valid("a.*.>")
    assert not is_valid("a.>.b")
    assert not is_valid("a..b")
    assert not is_valid("")
    assert not is_valid("a b")
    assert not is_valid("a.*", wildcards=False)
