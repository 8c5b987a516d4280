"""Report commands with a stopped server: the roll call names it, in table and JSON
output, on a first run with no history."""

from __future__ import annotations

import pytest
from test_reports_support import (  # noqa: F401 (fixtures)
    Background,
    _isolated_env,
    add_stream,
    connect,
    run_cli,
    run_json,
)

from natsops.harness import Deployment


def test_stopped_server_is_named_everywhere(
    fresh_cluster: Deployment, capsys: pytest.CaptureFixture[str]
) -> None:
    bg = Background()
    try:
        nc = bg.run(connect(fresh_cluster.urls, fresh_cluster.app_user.creds))
        bg.run(add_stream(nc, {"name": "F3", "subjects": ["f3.>"], "num_replicas": 3}))
        bg.run(nc.close())
    finally:
        bg.close()

    fresh_cluster.servers["c1-n3"].kill()

    code, out, err = run_cli(capsys, fresh_cluster, "servers")
    assert code == 0, err
    assert out.rstrip().splitlines()[-1] == "2/3 servers, missing: c1-n3"
    row = next(ln for ln in out.splitlines() if ln.strip().startswith("c1-n3"))
    assert "missing" in row

    doc = run_json(capsys, fresh_cluster, "servers")
    assert doc["roll_call"]["missing"] == ["c1-n3"]
    assert doc["roll_call"]["text"] == "2/3 servers, missing: c1-n3"
    assert doc["roll_call"]["complete"] is False
    states = {r["name"]: r["state"] for r in doc["servers"]}
    assert states == {"c1-n1": "ok", "c1-n2": "ok", "c1-n3": "missing"}

    code, _, _ = run_cli(capsys, fresh_cluster, "servers", "--strict")
    assert code == 3

    for command in ("jetstream", "streams", "health", "routes", "connections"):
        doc = run_json(capsys, fresh_cluster, command)
        assert doc["roll_call"]["missing"] == ["c1-n3"], command

    # The stream keeps being reported, with the dead replica still named.
    streams = run_json(capsys, fresh_cluster, "streams")
    (f3,) = [r for r in streams["streams"] if r["name"] == "F3"]
    assert "c1-n3" in {r["name"] for r in f3["replicas"]}
    assert f3["hosted_by"] == ["c1-n1", "c1-n2"]

    health = run_json(capsys, fresh_cluster, "health")
    row = next(r for r in health["servers"] if r["server"] == "c1-n3")
    assert row["state"] == "missing"
