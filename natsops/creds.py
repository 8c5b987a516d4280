"""Credentials: creds and nkey seed files, local decoding of user JWTs, expiry, and
redaction of anything that looks like a seed or a JWT.

Seeds and JWTs stay inside :class:`Credential` (hidden from ``repr``); every message
this module produces names the file and the problem, never the secret.
"""

from __future__ import annotations

import base64
import logging
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import nkeys

from natsops import jwt as natsjwt
from natsops.errors import CredentialError

log = logging.getLogger(__name__)

#: Files larger than this are not credentials.
MAX_CREDS_BYTES = 64 * 1024

_JWT_BLOCK = re.compile(
    r"-{3,}\s*BEGIN NATS USER JWT\s*-{3,}\s*\n"
    r"\s*(\S+)\s*\n\s*-{3,}\s*END NATS USER JWT"
)
_SEED_BLOCK = re.compile(
    r"-{3,}\s*BEGIN USER NKEY SEED\s*-{3,}\s*\n"
    r"\s*(\S+)\s*\n\s*-{3,}\s*END USER NKEY SEED"
)

# A seed: 'S', a key type, then base32 (58 characters in all). A JWT: base64url JSON
# starting with '{"' ("eyJ"), usually three dot-separated parts.
_SECRET = re.compile(
    r"(?<![A-Za-z0-9_-])(?:"
    r"S[UAONCXP][A-Z2-7]{40,}"
    r"|eyJ[A-Za-z0-9_-]{8,}(?:\.[A-Za-z0-9_-]*){0,2}"
    r")"
)


def redact(text: str, placeholder: str = "[redacted]") -> str:
    """``text`` with every seed-like (``SU...``, ``SA...``, ``SO...``) or JWT-like
    (``eyJ...``) token replaced by ``placeholder``. Public keys are kept."""
    return _SECRET.sub(placeholder, text)


class RedactingFilter(logging.Filter):
    """A logging filter that redacts seeds and JWTs from every record it sees."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record's message with secrets redacted; always keep it."""
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: keep the raw message
            message = str(record.msg)
        record.msg = redact(message)
        record.args = None
        return True


@dataclass(frozen=True)
class Permissions:
    """Publish and subscribe allow and deny lists of a user JWT.

    Empty lists mean "no rule": an empty allow list allows everything (unless the
    server applies defaults).
    """

    pub_allow: tuple[str, ...] = ()
    pub_deny: tuple[str, ...] = ()
    sub_allow: tuple[str, ...] = ()
    sub_deny: tuple[str, ...] = ()
    allow_responses: bool = False

    @classmethod
    def from_claims(cls, nats_claims: dict[str, Any]) -> Permissions:
        """From a user JWT's ``nats`` claim (``pub``/``sub``, ``allow``/``deny``)."""
        return cls(
            pub_allow=_strings(nats_claims.get("pub"), "allow"),
            pub_deny=_strings(nats_claims.get("pub"), "deny"),
            sub_allow=_strings(nats_claims.get("sub"), "allow"),
            sub_deny=_strings(nats_claims.get("sub"), "deny"),
            allow_responses=bool(nats_claims.get("resp")),
        )

    @classmethod
    def from_user_info(cls, permissions: dict[str, Any] | None) -> Permissions:
        """From ``$SYS.REQ.USER.INFO``'s ``permissions`` (``publish``/``subscribe``)."""
        permissions = permissions if isinstance(permissions, dict) else {}
        return cls(
            pub_allow=_strings(permissions.get("publish"), "allow"),
            pub_deny=_strings(permissions.get("publish"), "deny"),
            sub_allow=_strings(permissions.get("subscribe"), "allow"),
            sub_deny=_strings(permissions.get("subscribe"), "deny"),
            allow_responses=bool(permissions.get("responses")),
        )

    @property
    def unrestricted(self) -> bool:
        """True when no allow or deny rule is set at all."""
        return not (self.pub_allow or self.pub_deny or self.sub_allow or self.sub_deny)

    def to_json(self) -> dict[str, Any]:
        """The JWT permission shape: ``{"pub": {allow, deny}, "sub": {...}}``."""
        return {
            "pub": {"allow": list(self.pub_allow), "deny": list(self.pub_deny)},
            "sub": {"allow": list(self.sub_allow), "deny": list(self.sub_deny)},
        }


def _strings(table: Any, key: str) -> tuple[str, ...]:
    if not isinstance(table, dict):
        return ()
    values = table.get(key)
    if not isinstance(values, list):
        return ()
    return tuple(str(v) for v in values)


@dataclass(frozen=True)
class UserClaims:
    """What a user JWT says about its user, decoded locally without verification.

    Attributes:
        name: the user's name (``name`` claim).
        public_key: the user's public key (``sub``).
        issuer: the key that signed the JWT (``iss``): the account or a signing key.
        account_public_key: the account (``nats.issuer_account`` when signed by a
            signing key, else ``iss``).
        account_name: the account's name when the JWT carries one (rare).
        permissions: publish and subscribe allow and deny lists.
        expires: expiry (``exp``) as a Unix time, or None for no expiry.
        issued_at: issue time (``iat``) as a Unix time, or None.
        bearer: a bearer token (no nonce signature needed).
        tags: the JWT's tags.
    """

    name: str
    public_key: str
    issuer: str
    account_public_key: str
    account_name: str | None
    permissions: Permissions
    expires: float | None
    issued_at: float | None
    bearer: bool = False
    tags: tuple[str, ...] = ()

    def expired(self, now: float | None = None) -> bool:
        """Whether ``exp`` is in the past."""
        if self.expires is None:
            return False
        return self.expires <= (time.time() if now is None else now)

    @property
    def signed_by_signing_key(self) -> bool:
        """True when a signing key, not the account itself, issued the JWT."""
        return self.issuer != self.account_public_key


def format_time(epoch: float | None) -> str:
    """An ISO-8601 UTC time for a Unix time, or ``"never"``."""
    if epoch is None:
        return "never"
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def decode_user_jwt(token: str, source: str = "the JWT") -> UserClaims:
    """Decode a user JWT's claims locally (no signature check).

    Raises CredentialError (naming ``source``) when it is not a well-formed user JWT.
    """
    try:
        claims = natsjwt.decode_claims(token)
    except ValueError as exc:
        raise CredentialError(
            f"{source} holds a malformed JWT ({exc})", _REISSUE_HINT
        ) from None
    nats_claims = claims.get("nats")
    if not isinstance(nats_claims, dict):
        nats_claims = {}
    kind = nats_claims.get("type", claims.get("type"))
    if kind not in (None, "user"):
        raise CredentialError(
            f"{source} holds a {kind} JWT, not a user JWT", _REISSUE_HINT
        )
    sub, iss = claims.get("sub"), claims.get("iss")
    if not isinstance(sub, str) or not sub.startswith("U"):
        raise CredentialError(
            f"{source} holds a JWT whose subject is not a user key", _REISSUE_HINT
        )
    if not isinstance(iss, str) or not iss:
        raise CredentialError(f"{source} holds a JWT without issuer", _REISSUE_HINT)
    issuer_account = nats_claims.get("issuer_account")
    account_key = (
        issuer_account if isinstance(issuer_account, str) and issuer_account else iss
    )
    account_name = nats_claims.get("issuer_account_name") or claims.get("account_name")
    tags = nats_claims.get("tags")
    return UserClaims(
        name=str(claims.get("name") or ""),
        public_key=sub,
        issuer=iss,
        account_public_key=account_key,
        account_name=str(account_name) if account_name else None,
        permissions=Permissions.from_claims(nats_claims),
        expires=_number(claims.get("exp")),
        issued_at=_number(claims.get("iat")),
        bearer=bool(nats_claims.get("bearer_token")),
        tags=tuple(str(t) for t in tags) if isinstance(tags, list) else (),
    )


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        return None
    return float(value)


_REISSUE_HINT = "issue new credentials (for example 'nsc generate creds')"


@dataclass
class Credential:
    """A user's credential read from a creds file, an nkey seed file or a context.

    Attributes:
        source: where it came from, for messages (a path or "context NAME").
        kind: ``"creds"`` (JWT and seed), ``"nkey"`` (seed only) or ``"jwt"``
            (JWT and seed given inline).
        public_key: the user's public key, derived from the seed.
        claims: the decoded user JWT, None for plain nkey authentication.
        path: the file it was read from, if any.
    """

    source: str
    kind: str
    public_key: str
    claims: UserClaims | None = None
    path: Path | None = None
    jwt: str | None = field(default=None, repr=False)
    seed: str | None = field(default=None, repr=False)

    def check_not_expired(self, now: float | None = None) -> None:
        """Raise CredentialError when the JWT has expired."""
        if self.claims is not None and self.claims.expired(now):
            raise CredentialError(
                f"the user JWT in {self.source} expired at "
                f"{format_time(self.claims.expires)}",
                _REISSUE_HINT,
            )

    def sign(self, nonce: str) -> bytes:
        """The base64 signature of a server nonce (for nats-py's ``signature_cb``)."""
        if self.seed is None:
            raise CredentialError(f"{self.source} holds no seed", _REISSUE_HINT)
        kp = nkeys.from_seed(bytearray(self.seed.encode("ascii")))
        try:
            return base64.b64encode(kp.sign(nonce.encode()))
        finally:
            kp.wipe()


def _read_text(path: Path, what: str, flag_hint: str) -> str:
    """The text of a small credential file, or CredentialError saying why not."""
    try:
        if path.is_dir():
            raise CredentialError(
                f"{what} {path} is a directory, not a file", flag_hint
            )
        with path.open("rb") as fh:
            data = fh.read(MAX_CREDS_BYTES + 1)
    except FileNotFoundError:
        raise CredentialError(f"{what} {path} does not exist", flag_hint) from None
    except PermissionError:
        raise CredentialError(
            f"{what} {path} is not readable (permission denied)",
            "fix its permissions (chmod 600) or run as its owner",
        ) from None
    except OSError as exc:
        raise CredentialError(
            f"cannot read {what} {path}: {exc.strerror or type(exc).__name__}",
            flag_hint,
        ) from None
    if len(data) > MAX_CREDS_BYTES:
        raise CredentialError(
            f"{what} {path} is too large to be a credential", flag_hint
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise CredentialError(f"{what} {path} is not a text file", flag_hint) from None


def _user_seed(seed: str, source: str) -> str:
    """The public key of a user seed; CredentialError when nkeys rejects it."""
    if not seed.startswith("SU"):
        kind = "an account" if seed.startswith("SA") else "not a user"
        if seed.startswith("SO"):
            kind = "an operator"
        raise CredentialError(
            f"{source} holds {kind} seed, not a user seed", _REISSUE_HINT
        )
    try:
        kp = nkeys.from_seed(bytearray(seed.encode("ascii")))
    except Exception:  # nkeys raises several types for bad seeds
        raise CredentialError(
            f"{source} holds a malformed nkey seed", _REISSUE_HINT
        ) from None
    try:
        return kp.public_key.decode("ascii")
    finally:
        kp.wipe()


def parse_creds_text(text: str, source: str) -> Credential:
    """A Credential from the text of a ``.creds`` file (JWT block and seed block)."""
    jwt_match = _JWT_BLOCK.search(text)
    if jwt_match is None:
        raise CredentialError(
            f"{source} is not a creds file (no 'BEGIN NATS USER JWT' block)",
            _REISSUE_HINT,
        )
    seed_match = _SEED_BLOCK.search(text)
    if seed_match is None:
        raise CredentialError(
            f"{source} is not a creds file (no 'BEGIN USER NKEY SEED' block)",
            _REISSUE_HINT,
        )
    return from_jwt_and_seed(jwt_match.group(1), seed_match.group(1), source)


def from_jwt_and_seed(token: str, seed: str, source: str) -> Credential:
    """A Credential from a user JWT and its seed (a creds file or a context)."""
    token, seed = token.strip(), seed.strip()
    claims = decode_user_jwt(token, source)
    public_key = _user_seed(seed, source)
    if public_key != claims.public_key:
        raise CredentialError(
            f"{source}: the seed does not belong to the JWT's user "
            f"({claims.public_key})",
            _REISSUE_HINT,
        )
    return Credential(
        source=source,
        kind="jwt",
        public_key=public_key,
        claims=claims,
        jwt=token,
        seed=seed,
    )


def read_creds(path: Path, *, flag_hint: str = "check the --creds path") -> Credential:
    """Read and check a ``.creds`` file: blocks present, JWT decodable, seed valid
    and matching the JWT's user. Expiry is checked separately."""
    text = _read_text(path, "creds file", flag_hint)
    cred = parse_creds_text(text, f"creds file {path}")
    cred.kind = "creds"
    cred.path = path
    return cred


def read_nkey(path: Path, *, flag_hint: str = "check the --nkey path") -> Credential:
    """Read a user nkey seed file (the first line starting with ``SU``)."""
    text = _read_text(path, "nkey file", flag_hint)
    source = f"nkey file {path}"
    seed = next(
        (line.strip() for line in text.splitlines() if line.strip().startswith("S")),
        None,
    )
    if seed is None:
        raise CredentialError(f"{source} holds no nkey seed", _REISSUE_HINT)
    public_key = _user_seed(seed, source)
    return Credential(
        source=source, kind="nkey", public_key=public_key, path=path, seed=seed
    )


def seed_only(seed: str, source: str) -> Credential:
    """A Credential from an inline user seed (plain nkey authentication)."""
    public_key = _user_seed(seed.strip(), source)
    return Credential(
        source=source, kind="nkey", public_key=public_key, seed=seed.strip()
    )
