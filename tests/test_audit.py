"""The audit log: redaction, whole-line appends, tail reading, torn lines."""

from __future__ import annotations

import json
import stat
import threading
from pathlib import Path

import nkeys
import pytest

from natsops import jwt
from natsops.audit import AuditError, AuditLog, read_audit, redact


def _seed() -> str:
    return jwt.seed_text(jwt.new_keypair(nkeys.PREFIX_BYTE_USER))


def test_redact_masks_secrets_by_key_and_by_shape() -> None:
    seed = _seed()
    token = jwt.encode(
        {"type": "user", "version": 2},
        subject=jwt.public_key(jwt.new_keypair(nkeys.PREFIX_BYTE_USER)),
        issuer=jwt.new_keypair(nkeys.PREFIX_BYTE_ACCOUNT),
        name="u",
    )
    body = {
        "peer": "c1-n2",
        "password": "hunter2",
        "nested": [{"jwt": token}, f"seed is {seed} here", {"note": token}],
        "cid": 7,
        "token": "",
    }
    out = redact(body)
    text = json.dumps(out)
    assert seed not in text and token not in text and "hunter2" not in text
    assert out["peer"] == "c1-n2" and out["cid"] == 7
    assert out["password"] == "<redacted>"
    assert out["nested"][1] == "seed is <redacted> here"
    assert out["token"] == ""  # empty values stay visibly empty
    key = jwt.public_key(jwt.new_keypair(nkeys.PREFIX_BYTE_ACCOUNT))
    assert redact({"account": key}) == {"account": key}  # public keys are kept


def test_append_writes_whole_redacted_lines_with_private_mode(tmp_path: Path) -> None:
    path = tmp_path / "state" / "natsops" / "audit.jsonl"
    log = AuditLog(path)
    seed = _seed()
    written = log.append(
        {"action": "kick", "result": "ok", "body": {"cid": 3, "creds": seed}}
    )
    assert written["user"] and written["time"].endswith("+00:00")
    raw = path.read_text()
    assert raw.endswith("\n") and raw.count("\n") == 1 and seed not in raw
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    [entry] = read_audit(path)
    assert entry.action == "kick" and entry.body == {"cid": 3, "creds": "<redacted>"}


def test_concurrent_appends_never_interleave(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    logs = [AuditLog(path), AuditLog(path)]

    def writer(n: int) -> None:
        for i in range(100):
            logs[n % 2].append(
                {"action": f"a{n}", "result": "ok", "summary": "x" * 3000, "i": i}
            )

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    lines = path.read_bytes().splitlines()
    assert len(lines) == 400
    assert all(json.loads(line)["summary"] == "x" * 3000 for line in lines)


def test_read_audit_tails_and_skips_torn_lines(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path)
    for i in range(2000):
        log.append({"action": "reload", "result": "ok", "summary": f"n{i}"})
    with path.open("ab") as fh:
        fh.write(b'{"action": "torn", "res')  # a crash mid-write
    last = read_audit(path, limit=5)
    assert [e.summary for e in last] == [f"n{i}" for i in range(1995, 2000)]
    assert len(read_audit(path, limit=10_000)) == 2000
    assert read_audit(tmp_path / "missing.jsonl") == []
    assert read_audit(path, limit=0) == []


def test_a_file_in_place_of_the_directory_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    log = AuditLog(tmp_path / "file" / "audit.jsonl")
    with pytest.raises(AuditError, match="--audit-log"):
        log.check_writable()
    with pytest.raises(AuditError):
        log.append({"action": "x", "result": "ok"})
