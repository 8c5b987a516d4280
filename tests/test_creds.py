"""Creds and nkey files, local user JWT decoding, expiry and redaction."""

from __future__ import annotations

import base64
import logging
import os
import time
from pathlib import Path

import nkeys
import pytest

from natsops import jwt
from natsops.creds import (
    RedactingFilter,
    decode_user_jwt,
    from_jwt_and_seed,
    read_creds,
    read_nkey,
    redact,
)
from natsops.errors import CredentialError


class Keys:
    """An operator-less account and a user, signed locally."""

    def __init__(self) -> None:
        self.account = jwt.new_keypair(nkeys.PREFIX_BYTE_ACCOUNT)
        self.signing = jwt.new_keypair(nkeys.PREFIX_BYTE_ACCOUNT)
        self.user = jwt.new_keypair(nkeys.PREFIX_BYTE_USER)

    @property
    def seed(self) -> str:
        return jwt.seed_text(self.user)

    def user_jwt(
        self,
        *,
        expires: float | None = None,
        pub: dict | None = None,
        sub: dict | None = None,
        signing_key: bool = False,
        extra_nats: dict | None = None,
    ) -> str:
        claims = {
            "type": "user",
            "version": 2,
            "pub": pub or {},
            "sub": sub or {},
            **(extra_nats or {}),
        }
        issuer = self.account
        if signing_key:
            issuer = self.signing
            claims["issuer_account"] = jwt.public_key(self.account)
        return jwt.encode(
            claims,
            subject=jwt.public_key(self.user),
            issuer=issuer,
            name="alice",
            expires=expires,
        )


@pytest.fixture
def keys() -> Keys:
    return Keys()


def write(tmp_path: Path, text: str, name: str = "user.creds") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def assert_secret_free(message: str, *secrets: str) -> None:
    for secret in secrets:
        assert secret not in message
        assert secret[:20] not in message


# ------------------------------------------------------------------- reading


def test_read_creds(tmp_path: Path, keys: Keys) -> None:
    token = keys.user_jwt(
        pub={"allow": ["$SYS.REQ.>"], "deny": ["$SYS.REQ.SERVER.*.KICK"]},
        sub={"allow": ["_INBOX.>"]},
        expires=time.time() + 3600,
    )
    path = write(tmp_path, jwt.creds_text(token, keys.seed))
    cred = read_creds(path)
    assert cred.kind == "creds"
    assert cred.path == path
    assert cred.public_key == jwt.public_key(keys.user)
    claims = cred.claims
    assert claims is not None
    assert claims.name == "alice"
    assert claims.public_key == jwt.public_key(keys.user)
    assert claims.account_public_key == jwt.public_key(keys.account)
    assert claims.issuer == jwt.public_key(keys.account)
    assert not claims.signed_by_signing_key
    assert claims.permissions.pub_allow == ("$SYS.REQ.>",)
    assert claims.permissions.pub_deny == ("$SYS.REQ.SERVER.*.KICK",)
    assert claims.permissions.sub_allow == ("_INBOX.>",)
    assert claims.permissions.sub_deny == ()
    assert claims.expires is not None and claims.expires > time.time()
    cred.check_not_expired()
    assert_secret_free(repr(cred), token, keys.seed)


def test_signing_key_user_reports_the_account(tmp_path: Path, keys: Keys) -> None:
    token = keys.user_jwt(signing_key=True)
    cred = read_creds(write(tmp_path, jwt.creds_text(token, keys.seed)))
    assert cred.claims is not None
    assert cred.claims.account_public_key == jwt.public_key(keys.account)
    assert cred.claims.issuer == jwt.public_key(keys.signing)
    assert cred.claims.signed_by_signing_key


def test_signature_verifies(tmp_path: Path, keys: Keys) -> None:
    cred = read_creds(write(tmp_path, jwt.creds_text(keys.user_jwt(), keys.seed)))
    signature = base64.b64decode(cred.sign("nonce-123"))
    assert keys.user.verify(b"nonce-123", signature)


def test_expired_jwt(tmp_path: Path, keys: Keys) -> None:
    token = keys.user_jwt(expires=time.time() - 60)
    path = write(tmp_path, jwt.creds_text(token, keys.seed))
    cred = read_creds(path)
    assert cred.claims is not None and cred.claims.expired()
    with pytest.raises(CredentialError) as err:
        cred.check_not_expired()
    message = str(err.value)
    assert str(path) in message and "expired at" in message
    assert_secret_free(message, token, keys.seed)


def test_nkey_file(tmp_path: Path, keys: Keys) -> None:
    path = write(tmp_path, f"# user alice\n{keys.seed}\n", "alice.nk")
    cred = read_nkey(path)
    assert cred.kind == "nkey"
    assert cred.claims is None
    assert cred.public_key == jwt.public_key(keys.user)


def test_inline_jwt_and_seed(keys: Keys) -> None:
    cred = from_jwt_and_seed(keys.user_jwt(), keys.seed, "natscli context x")
    assert cred.public_key == jwt.public_key(keys.user)


# -------------------------------------------------------------------- errors


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.creds"
    with pytest.raises(CredentialError) as err:
        read_creds(path)
    assert f"creds file {path} does not exist" in str(err.value)


def test_directory(tmp_path: Path) -> None:
    with pytest.raises(CredentialError, match="is a directory"):
        read_creds(tmp_path)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_file(tmp_path: Path, keys: Keys) -> None:
    path = write(tmp_path, jwt.creds_text(keys.user_jwt(), keys.seed))
    path.chmod(0)
    with pytest.raises(CredentialError, match="not readable"):
        read_creds(path)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _malformed_cases(keys: Keys) -> list[tuple[str, str, str]]:
    good = keys.user_jwt()
    head, body, sig = good.split(".")
    account_jwt = jwt.encode(
        {"type": "account", "version": 2},
        subject=jwt.public_key(keys.account),
        issuer=keys.account,
        name="ACC",
    )
    other_seed = jwt.seed_text(jwt.new_keypair(nkeys.PREFIX_BYTE_USER))
    account_seed = jwt.seed_text(keys.account)
    return [
        ("empty", "", "no 'BEGIN NATS USER JWT' block"),
        ("text", "hello\nworld\n", "no 'BEGIN NATS USER JWT' block"),
        (
            "no seed",
            jwt.creds_text(good, keys.seed).split("*****")[0],
            "no 'BEGIN USER NKEY SEED' block",
        ),
        ("two parts", jwt.creds_text(f"{head}.{body}", keys.seed), "malformed JWT"),
        ("bad base64", jwt.creds_text(f"{head}.%%%%.{sig}", keys.seed), "malformed"),
        (
            "not json",
            jwt.creds_text(f"{head}.{_b64(b'not json')}.{sig}", keys.seed),
            "malformed JWT",
        ),
        (
            "json list",
            jwt.creds_text(f"{head}.{_b64(b'[1]')}.{sig}", keys.seed),
            "malformed JWT",
        ),
        ("account jwt", jwt.creds_text(account_jwt, keys.seed), "account JWT"),
        (
            "bad seed",
            jwt.creds_text(good, keys.seed[:-10]),
            "malformed nkey seed",
        ),
        ("account seed", jwt.creds_text(good, account_seed), "account seed"),
        ("foreign seed", jwt.creds_text(good, other_seed), "does not belong"),
    ]


@pytest.mark.parametrize("case", range(11))
def test_malformed_creds(tmp_path: Path, keys: Keys, case: int) -> None:
    cases = _malformed_cases(keys)
    assert len(cases) == 11
    name, text, expected = cases[case]
    path = write(tmp_path, text)
    with pytest.raises(CredentialError) as err:
        read_creds(path)
    message = str(err.value)
    assert expected in message, name
    assert str(path) in message
    assert "\n" not in message
    assert_secret_free(message, keys.user_jwt().split(".")[1], keys.seed)
    assert "eyJ" not in message


def test_binary_file(tmp_path: Path) -> None:
    path = tmp_path / "bin.creds"
    path.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(CredentialError, match="not a text file"):
        read_creds(path)


def test_huge_file(tmp_path: Path) -> None:
    path = tmp_path / "big.creds"
    path.write_text("x" * 200_000)
    with pytest.raises(CredentialError, match="too large"):
        read_creds(path)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("", "holds no nkey seed"), ("SUnotaseed\n", "malformed nkey seed")],
)
def test_bad_nkey_file(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(CredentialError, match=expected):
        read_nkey(write(tmp_path, text, "x.nk"))


def test_decode_user_jwt_without_exp(keys: Keys) -> None:
    claims = decode_user_jwt(keys.user_jwt())
    assert claims.expires is None
    assert not claims.expired()
    assert claims.permissions.unrestricted


def test_decode_bearer_and_tags(keys: Keys) -> None:
    token = keys.user_jwt(extra_nats={"bearer_token": True, "tags": ["ops", "x"]})
    claims = decode_user_jwt(token)
    assert claims.bearer
    assert claims.tags == ("ops", "x")


# ---------------------------------------------------------------- redaction


def test_redact_seeds_and_jwts(keys: Keys) -> None:
    token = keys.user_jwt()
    account_seed = jwt.seed_text(keys.account)
    operator_seed = jwt.seed_text(jwt.new_keypair(nkeys.PREFIX_BYTE_OPERATOR))
    user_key = jwt.public_key(keys.user)
    text = (
        f"jwt={token} seed {keys.seed}, acc:{account_seed} op '{operator_seed}' "
        f"partial eyJhbGciOiJlZDI1NTE5 user {user_key}"
    )
    out = redact(text)
    for secret in (token, keys.seed, account_seed, operator_seed, "eyJhbGciOiJl"):
        assert secret not in out
    assert out.count("[redacted]") == 5
    assert user_key in out  # public keys are not secrets
    assert redact("STREAM ORDERS on c1-n1") == "STREAM ORDERS on c1-n1"


def test_redacting_filter(keys: Keys, caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("natsops.test.redact")
    logger.addFilter(RedactingFilter())
    with caplog.at_level(logging.INFO, logger="natsops.test.redact"):
        logger.info("connecting with %s", keys.seed)
    assert keys.seed not in caplog.text
    assert "[redacted]" in caplog.text
