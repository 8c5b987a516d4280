"""Encode and decode NATS JWTs (ed25519-nkey) with ``nkeys``, in pure Python.

Decoding never verifies trust chains: natsops only reads claims locally to tell the
user who they are; the server is the authority.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from typing import Any

import nkeys

_HEADER = {"typ": "JWT", "alg": "ed25519-nkey"}


def b64url(data: bytes) -> str:
    """Base64url without padding, as NATS JWTs use."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Decode base64url with or without padding."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def new_keypair(prefix: int) -> nkeys.KeyPair:
    """A fresh key pair of the given role (operator, account, user)."""
    seed = nkeys.encode_seed(secrets.token_bytes(32), prefix)
    return nkeys.from_seed(bytearray(seed))


def public_key(kp: nkeys.KeyPair) -> str:
    """The public key of a key pair as text."""
    key: bytes = kp.public_key
    return key.decode("ascii")


def seed_text(kp: nkeys.KeyPair) -> str:
    """The seed of a key pair as text (only ever written to creds files)."""
    return bytes(kp.seed).decode("ascii")


def encode(
    claims_nats: dict[str, Any],
    *,
    subject: str,
    issuer: nkeys.KeyPair,
    name: str,
    expires: float | None = None,
    issued_at: float | None = None,
    extra: dict[str, Any] | None = None,
) -> str:
    """Sign a JWT whose ``nats`` claim is ``claims_nats`` with ``issuer``."""
    iat = int(issued_at if issued_at is not None else time.time())
    claims: dict[str, Any] = {
        "jti": secrets.token_hex(16).upper(),
        "iat": iat,
        "iss": public_key(issuer),
        "name": name,
        "sub": subject,
        "nats": claims_nats,
    }
    if expires is not None:
        claims["exp"] = int(expires)
    if extra:
        claims.update(extra)
    head = b64url(json.dumps(_HEADER, separators=(",", ":")).encode())
    body = b64url(json.dumps(claims, separators=(",", ":")).encode())
    signing_input = f"{head}.{body}".encode("ascii")
    signature = issuer.sign(signing_input)
    return f"{head}.{body}.{b64url(signature)}"


def decode_claims(token: str) -> dict[str, Any]:
    """The claims of a JWT, without checking its signature.

    Raises ValueError when the token is not a well-formed JWT.
    """
    parts = token.strip().split(".")
    if len(parts) != 3:
        raise ValueError("not a JWT (expected three dot-separated parts)")
    try:
        claims = json.loads(b64url_decode(parts[1]))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError("JWT claims are not base64url JSON") from exc
    if not isinstance(claims, dict):
        raise ValueError("JWT claims are not a JSON object")
    return claims


def creds_text(jwt_token: str, seed: str) -> str:
    """The text of a ``.creds`` file holding a user JWT and its seed."""
    return (
        "-----BEGIN NATS USER JWT-----\n"
        f"{jwt_token}\n"
        "------END NATS USER JWT------\n\n"
        "************************* IMPORTANT *************************\n"
        "NKEY Seed printed below can be used to sign and prove identity.\n"
        "NKEYs are sensitive and should be treated as secrets.\n\n"
        "-----BEGIN USER NKEY SEED-----\n"
        f"{seed}\n"
        "------END USER NKEY SEED------\n\n"
        "*************************************************************\n"
    )
