"""Recommended role permission sets: derived from the catalogue, least privilege,
and rendered as JWT JSON, nsc flags and a server config block."""

from __future__ import annotations

import json
import shlex

import pytest

from natsops.cli import main
from natsops.perms.catalogue import CATALOGUE, FEATURES, role_features
from natsops.perms.check import evaluate
from natsops.perms.recommend import recommend, render

KINDS = {"system": "system", "account": "owner"}


@pytest.mark.parametrize("target", ["system", "account"])
@pytest.mark.parametrize("role", ["observer", "operator"])
def test_role_set_allows_exactly_its_features(role: str, target: str) -> None:
    pset = recommend(role, target)  # type: ignore[arg-type]
    kind = KINDS[target]
    checks = evaluate(pset.permissions, kind=kind, account="AACC")  # type: ignore[arg-type]
    included = {f.id for f in role_features(role)}  # type: ignore[arg-type]
    for fid, check in checks.items():
        if check.status == "wrong-account":
            assert fid not in pset.features
            continue
        if fid in included:
            assert check.available and check.status == "ok", (fid, check.reason)
        else:
            assert not check.available, fid
            assert check.status == "denied"
    assert set(pset.features) <= included


@pytest.mark.parametrize("target", ["system", "account"])
def test_observer_cannot_publish_any_write_subject(target: str) -> None:
    perms = recommend("observer", target).permissions  # type: ignore[arg-type]
    writes = [e for e in CATALOGUE if e.access == "write" and e.direction == "pub"]
    assert writes
    for e in writes:
        assert perms.decide("pub", e.pattern).scope == "none", e.pattern


def test_operator_reaches_no_subject_outside_the_catalogue_features() -> None:
    perms = recommend("operator").permissions
    unused = [
        e
        for e in CATALOGUE
        if e.direction == "pub"
        and not any(FEATURES[f].role for f in e.features)
        and e.account != "owner"
    ]
    assert unused
    for e in unused:
        decision = perms.decide("pub", e.pattern)
        assert decision.scope != "all", e.pattern
        if not e.pattern.startswith("$SYS.REQ.SERVER.*."):
            assert not decision.allowed, e.pattern
        # per-server forms: only the PING subject of the same kind may be allowed


def test_custom_inbox_prefix() -> None:
    pset = recommend("observer", inbox_prefix="ops.inbox")
    assert "ops.inbox.>" in pset.sub_allow
    assert "_INBOX.>" not in pset.sub_allow


def test_json_is_jwt_permission_json() -> None:
    pset = recommend("operator")
    data = json.loads(render(pset, "json"))
    assert set(data) == {"pub", "sub"}
    assert data["pub"]["allow"] == list(pset.pub_allow)
    assert data["sub"]["allow"] == list(pset.sub_allow)
    assert data["pub"]["deny"] == [] and data["sub"]["deny"] == []
    assert "$JS.API.META.LEADER.STEPDOWN" in data["pub"]["allow"]


def test_nsc_flags_round_trip() -> None:
    pset = recommend("observer")
    text = render(pset, "nsc", user="console", account="SYS")
    assert "owning account" in text
    command = "\n".join(line for line in text.splitlines() if not line.startswith("#"))
    argv = shlex.split(command.replace("\\\n", " "))
    assert argv[:3] == ["nsc", "edit", "user"]
    pubs = [argv[i + 1] for i, a in enumerate(argv) if a == "--allow-pub"]
    subs = [argv[i + 1] for i, a in enumerate(argv) if a == "--allow-sub"]
    assert tuple(pubs) == pset.pub_allow and tuple(subs) == pset.sub_allow
    assert argv[argv.index("--name") + 1] == "console"


def test_recommend_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["perms", "recommend", "--role", "observer"]) == 0
    out = capsys.readouterr()
    data = json.loads(out.out)
    assert data == recommend("observer").to_jwt()
    assert "owning account" in out.err

    assert main(["perms", "recommend", "--role", "operator", "--format", "conf"]) == 0
    conf = capsys.readouterr().out
    assert conf.count("permissions {") == 1 and "owning account" in conf
    assert '"$JS.API.META.LEADER.STEPDOWN",' in conf

    args = ["perms", "recommend", "--role", "operator", "--for", "account"]
    assert main([*args, "--format", "nsc"]) == 0
    nsc = capsys.readouterr().out
    assert "--allow-pub '$JS.API.STREAM.LEADER.STEPDOWN.*'" in nsc
    assert "$JS.API.META.LEADER.STEPDOWN'" not in nsc

    assert main(["perms", "recommend", "--role", "nobody"]) == 2
