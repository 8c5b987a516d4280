"""The connection hub: one system-account connection plus one connection per managed
account, opened with bounded waits and mapped errors, and kept alive afterwards.

The first connect gives up after ``connect_timeout`` with one clear error; once
connected, each client reconnects forever to any server of the cluster (the URLs the
servers advertise included), and every state change reaches the listeners as a
:class:`ConnEvent`. :func:`request_json` turns the ways a request can fail into
:class:`~natsops.errors.NatsopsError` subclasses, including permission violations,
which nats-py only reports out of band.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import logging
import socket
import ssl
import time
import weakref
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import nats.errors
from nats.aio.client import Client

from natsops import creds as credmod
from natsops.creds import Credential, Permissions, UserClaims
from natsops.errors import (
    AccountConnectionMissing,
    ApiError,
    AuthError,
    ConnectError,
    CredentialError,
    MalformedReply,
    NatsopsError,
    NoResponders,
    NotSystemAccount,
    PermissionDenied,
    RequestTimeout,
)
from natsops.settings import ConnectionSettings, Settings, display_url

log = logging.getLogger(__name__)

#: Subject answered by the local server with the caller's identity (every account).
USER_INFO_SUBJECT = "$SYS.REQ.USER.INFO"

#: Subject only system-account users get answers on (others: no responders).
SYSTEM_PROBE_SUBJECT = "$SYS.REQ.SERVER.PING.IDZ"

#: URL schemes nats-py can use.
SCHEMES = ("nats", "tls", "ws", "wss")

#: Seconds between reconnect attempts to the same server after the first connect.
RECONNECT_WAIT = 1.0

#: Client pings: the server is declared stale after this many unanswered pings.
PING_INTERVAL = 10
MAX_OUTSTANDING_PINGS = 2

#: At most one slow-consumer event per subscription per this many seconds.
SLOW_CONSUMER_EVENT_INTERVAL = 1.0

_EVENT_HISTORY = 200


# ------------------------------------------------------------------ nats-py logging


class _QuietNatsLog(logging.Filter):
    """Keep nats-py's own error log to one redacted line, without traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        message = record.getMessage()
        if exc is not None:
            message = f"{message}: {type(exc).__name__}: {exc}"
        record.msg = credmod.redact(message)
        record.args = None
        record.exc_info = None
        record.exc_text = None
        if record.levelno >= logging.ERROR:
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return log.isEnabledFor(logging.DEBUG)


class _QuietAsyncioTls(logging.Filter):
    """Drop asyncio's harmless warning when a TLS server closes the connection."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("returning true from eof_received()")


_nats_logger = logging.getLogger("nats.aio.client")
if not any(isinstance(f, _QuietNatsLog) for f in _nats_logger.filters):
    _nats_logger.addFilter(_QuietNatsLog())
_asyncio_logger = logging.getLogger("asyncio")
if not any(isinstance(f, _QuietAsyncioTls) for f in _asyncio_logger.filters):
    _asyncio_logger.addFilter(_QuietAsyncioTls())


# ----------------------------------------------------------------------- events


@dataclass(frozen=True)
class ConnEvent:
    """A change of state of one connection, for status bars and event logs.

    Attributes:
        label: ``"system"`` or the account NAME of the connection.
        kind: ``connected``, ``disconnected``, ``reconnecting``, ``reconnected``,
            ``closed``, ``lame_duck``, ``discovered``, ``slow_consumer``,
            ``permission`` (a permission violation) or ``error`` (including each
            failed reconnect attempt: "reconnect attempt failed: ...").
        url: the server URL connected to (for connected/reconnected), else the
            last known one; without any password.
        server: the server's name when known.
        message: one line for a person, secrets redacted.
        subject: the subject concerned (permission violations, slow consumers);
            nats-py lower-cases the subjects of permission violations.
        time: Unix time of the event.
    """

    label: str
    kind: str
    url: str | None = None
    server: str | None = None
    message: str = ""
    subject: str | None = None
    time: float = field(default_factory=time.time)


StateListener = Callable[[ConnEvent], None]


# ---------------------------------------------------------- permission violations


class _Violations:
    """Correlates nats-py's out-of-band permission violations with requests.

    nats-py lower-cases the subject of a violation, so watchers are keyed by the
    lower-cased subject and keep the original spelling for messages.
    """

    def __init__(self, inbox_prefix: str) -> None:
        self.inbox_prefix = inbox_prefix.lower()
        self.inbox_display = inbox_prefix
        self.inbox_denied: str | None = None
        self._waiters: dict[str, dict[asyncio.Future[PermissionDenied], str]] = {}

    def watch(self, subject: str) -> asyncio.Future[PermissionDenied]:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[PermissionDenied] = loop.create_future()
        self._waiters.setdefault(subject.lower(), {})[fut] = subject
        if self.inbox_denied is not None:
            fut.set_result(_inbox_denied(self.inbox_denied))
        return fut

    def unwatch(self, subject: str, fut: asyncio.Future[PermissionDenied]) -> None:
        waiters = self._waiters.get(subject.lower())
        if waiters is not None:
            waiters.pop(fut, None)
            if not waiters:
                del self._waiters[subject.lower()]
        if not fut.done():
            fut.cancel()

    def report(self, op: str, subject: str) -> None:
        """A violation: ``op`` is ``publish`` or ``subscription``."""
        if op == "subscription" and subject.startswith(self.inbox_prefix + "."):
            self.inbox_denied = self.inbox_display
            for waiters in self._waiters.values():
                for fut in waiters:
                    if not fut.done():
                        fut.set_result(_inbox_denied(self.inbox_display))
            return
        if op == "publish":
            for fut, original in self._waiters.get(subject.lower(), {}).items():
                if not fut.done():
                    fut.set_result(
                        PermissionDenied(f"publish to {original} denied", _DENIED_HINT)
                    )


_DENIED_HINT = "this user's permissions do not allow it; see 'natsops whoami'"


def _inbox_denied(prefix: str) -> PermissionDenied:
    return PermissionDenied(
        f"subscribe to {prefix}.> denied, so no reply can be received",
        "allow subscribe on the inbox for this user, or pass --inbox-prefix "
        "with a prefix it may subscribe to",
    )


_TRACKERS: weakref.WeakKeyDictionary[Client, _Violations] = weakref.WeakKeyDictionary()


@contextlib.contextmanager
def watch_permission(nc: Client, subject: str) -> Iterator[asyncio.Future[Any]]:
    """A future that resolves to a PermissionDenied when the server reports a
    violation for publishing to ``subject`` (or for the client's reply inbox).

    Works for clients opened by :class:`Hub`; for other clients the future never
    resolves. Await it alongside a request or a fan-out to fail fast.
    """
    tracker = _TRACKERS.get(nc)
    if tracker is None:
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        try:
            yield fut
        finally:
            fut.cancel()
        return
    fut = tracker.watch(subject)
    try:
        yield fut
    finally:
        tracker.unwatch(subject, fut)


# ------------------------------------------------------------------ request_json


def _payload(body: dict[str, Any] | bytes | str | None) -> bytes:
    if body is None:
        return b""
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode()
    return json.dumps(body, separators=(",", ":")).encode()


async def request_json(
    nc: Client,
    subject: str,
    body: dict[str, Any] | bytes | str | None = None,
    timeout: float = 5.0,
) -> dict[str, Any]:
    """Send one request and return its JSON reply as a dict.

    Raises NoResponders (nobody subscribed), RequestTimeout, PermissionDenied
    (publish to ``subject`` or subscribe to the reply inbox denied), ApiError (a
    reply ``{"error": {...}}``), MalformedReply (not a JSON object) and
    ConnectError (the connection is closed or reconnecting too long).
    """
    payload = _payload(body)
    with watch_permission(nc, subject) as denied:
        if denied.done():
            raise denied.result()
        request = asyncio.ensure_future(nc.request(subject, payload, timeout=timeout))
        try:
            await asyncio.wait({request, denied}, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            request.cancel()
            raise
        if denied.done() and not denied.cancelled() and not request.done():
            request.cancel()
            with contextlib.suppress(BaseException):
                await request
            raise denied.result()
        try:
            msg = request.result()
        except nats.errors.NoRespondersError:
            raise NoResponders(
                f"no responders on {subject}",
                "nothing answers this subject for this account",
            ) from None
        except nats.errors.TimeoutError:
            if denied.done() and not denied.cancelled():
                raise denied.result() from None
            raise RequestTimeout(
                f"no reply on {subject} within {timeout:g}s",
                "the server may be busy or the subject not answered for this "
                "account; raise --timeout to wait longer",
            ) from None
        except (
            nats.errors.ConnectionClosedError,
            nats.errors.ConnectionReconnectingError,
            nats.errors.ConnectionDrainingError,
        ) as exc:
            raise ConnectError(
                f"request on {subject} failed: the connection is {_closed_word(exc)}",
                "wait for natsops to reconnect or check the servers",
            ) from None
        except (nats.errors.BadSubjectError, ValueError) as exc:
            raise NatsopsError(f"invalid subject {subject!r} ({exc})") from None
        except nats.errors.Error as exc:
            raise ConnectError(
                f"request on {subject} failed: {credmod.redact(str(exc))}"
            ) from None

    return parse_json_reply(subject, msg.data)


def _closed_word(exc: BaseException) -> str:
    if isinstance(exc, nats.errors.ConnectionReconnectingError):
        return "reconnecting"
    if isinstance(exc, nats.errors.ConnectionDrainingError):
        return "draining"
    return "closed"


def parse_json_reply(subject: str, data: bytes) -> dict[str, Any]:
    """Decode a JSON object reply; ``{"error": {...}}`` becomes ApiError."""
    try:
        reply = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        raise MalformedReply(
            f"reply on {subject} is not JSON ({len(data)} bytes)",
            "the server or a foreign responder answered unexpectedly",
        ) from None
    if not isinstance(reply, dict):
        raise MalformedReply(
            f"reply on {subject} is not a JSON object",
            "the server or a foreign responder answered unexpectedly",
        )
    error = reply.get("error")
    if isinstance(error, dict) and ("code" in error or "description" in error):
        code = _int(error.get("code"))
        raise ApiError(
            code,
            _int(error.get("err_code")),
            str(error.get("description") or "unknown error"),
        )
    return reply


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


# --------------------------------------------------------------------- identity


@dataclass
class UserInfo:
    """The server's answer to ``$SYS.REQ.USER.INFO``: who this connection is.

    Attributes:
        user: the user's public key (or name, for user/password users).
        user_name: the user's name, when it has one.
        account: the account's public key (or name outside operator mode).
        account_name: the account's name.
        permissions: the server's view of the user's permissions (unrestricted
            when the server sends none).
        expires: seconds from the reply until the user's credential expires, or
            None for no expiry.
        server: the envelope's ``server`` block (``name``, ``id``, ``cluster``...)
            of the server that answered.
        data: the reply's ``data`` object as received.
        received: Unix time of the reply.
    """

    user: str
    user_name: str | None
    account: str
    account_name: str | None
    permissions: Permissions
    expires: float | None
    server: dict[str, Any]
    data: dict[str, Any]
    received: float = field(default_factory=time.time)

    @property
    def server_name(self) -> str:
        """Name of the server that answered."""
        return str(self.server.get("name") or "")

    @property
    def expires_at(self) -> float | None:
        """Unix time the credential expires, per the server."""
        return None if self.expires is None else self.received + self.expires

    @classmethod
    def from_reply(cls, reply: dict[str, Any]) -> UserInfo:
        """Parse the USER.INFO envelope ``{"server": {...}, "data": {...}}``."""
        data = reply.get("data")
        if not isinstance(data, dict) or not data.get("user"):
            raise MalformedReply(
                f"reply on {USER_INFO_SUBJECT} has no user data",
                "the server answered unexpectedly",
            )
        server = reply.get("server") if isinstance(reply.get("server"), dict) else {}
        expires = data.get("expires")
        seconds: float | None = None
        if isinstance(expires, int | float) and not isinstance(expires, bool):
            # A Go time.Duration: nanoseconds until expiry.
            seconds = expires / 1e9 if expires > 0 else None
        return cls(
            user=str(data.get("user")),
            user_name=str(data["user_name"]) if data.get("user_name") else None,
            account=str(data.get("account") or ""),
            account_name=str(data["account_name"])
            if data.get("account_name")
            else None,
            permissions=Permissions.from_user_info(data.get("permissions")),
            expires=seconds,
            server=dict(server or {}),
            data=data,
        )


async def fetch_user_info(nc: Client, timeout: float = 5.0) -> UserInfo:
    """Ask the local server who this connection is (any account may ask)."""
    reply = await request_json(nc, USER_INFO_SUBJECT, None, timeout=timeout)
    return UserInfo.from_reply(reply)


def inbox_denied(nc: Client) -> bool:
    """Whether the server refused this client's reply-inbox subscription."""
    tracker = _TRACKERS.get(nc)
    return tracker is not None and tracker.inbox_denied is not None


async def probe_system(nc: Client, timeout: float = 5.0) -> bool | None:
    """Whether this connection's user is in the system account.

    True when a server answers ``$SYS.REQ.SERVER.PING.IDZ``, False on no responders
    or no answer at all (other accounts' requests are dropped), None when the
    user may not publish the probe (unknown).
    """
    return (await _probe(nc, timeout))[0]


async def _probe(nc: Client, timeout: float) -> tuple[bool | None, str]:
    """The system probe's verdict and how it was reached."""
    try:
        await request_json(nc, SYSTEM_PROBE_SUBJECT, None, timeout=timeout)
    except NoResponders:
        return False, "no responders"
    except RequestTimeout:
        return False, "timeout"
    except PermissionDenied:
        if inbox_denied(nc):
            raise
        return None, "denied"
    except (ApiError, MalformedReply):
        return True, "answered"  # only the system account gets answers at all
    return True, "answered"


@dataclass
class AccountLink:
    """One live connection and who it is.

    Attributes:
        name: the account NAME it was configured for, ``"system"`` for the system
            connection.
        public_key: the account's public key ("" when the server did not say and
            no JWT carries it).
        nc: the nats-py client.
        settings: how it was opened.
        credential: the credential it authenticates with (None for user/password,
            token or no authentication).
        info: the server's USER.INFO answer when the connection was opened.
        is_system: whether the user is in the system account (None: unknown).
    """

    name: str
    public_key: str
    nc: Client
    settings: ConnectionSettings | None = None
    credential: Credential | None = field(default=None, repr=False)
    info: UserInfo | None = None
    is_system: bool | None = None

    @property
    def account_name(self) -> str | None:
        """The account's own name, from the server, else the JWT."""
        if self.info is not None and self.info.account_name:
            return self.info.account_name
        claims = self.claims
        return claims.account_name if claims is not None else None

    @property
    def claims(self) -> UserClaims | None:
        """The locally decoded user JWT, if the credential has one."""
        return self.credential.claims if self.credential is not None else None

    @property
    def user_description(self) -> str:
        """``user 'NAME'`` or the user's public key, for messages."""
        name = self.info.user_name if self.info is not None else None
        if not name and self.claims is not None:
            name = self.claims.name
        if name:
            return f"user '{name}'"
        key = self.info.user if self.info is not None else None
        if not key and self.credential is not None:
            key = self.credential.public_key
        return f"user {key or '?'}"

    @property
    def account_description(self) -> str:
        """``account 'NAME'`` or the account's public key, for messages."""
        if self.account_name:
            return f"account '{self.account_name}'"
        return f"account {self.public_key or '?'}"


# -------------------------------------------------------------------- connecting


class _FatalConnect(Exception):
    """Raised from error_cb during the first connect to stop nats-py retrying."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error


def check_servers(servers: list[str], label: str) -> None:
    """Reject URLs nats-py cannot use, before trying to connect."""
    if not servers:
        raise ConnectError(f"{_who(label)}: no server URL", "use --server URL")
    schemes = set()
    for url in servers:
        scheme = url.split("://", 1)[0].lower() if "://" in url else "nats"
        if scheme not in SCHEMES:
            raise ConnectError(
                f"unsupported URL scheme '{scheme}' in {display_url(url)}",
                "use nats://host:4222 or tls://host:4222 "
                "(ws:// or wss:// for websocket)",
            )
        try:
            parts = urlsplit(url if "://" in url else f"nats://{url}")
            _ = parts.port
        except ValueError:
            raise ConnectError(
                f"invalid server URL {display_url(url)}",
                "use nats://host:4222",
            ) from None
        if not parts.hostname:
            raise ConnectError(
                f"invalid server URL {display_url(url)} (no host)",
                "use nats://host:4222",
            )
        schemes.add("ws" if scheme in ("ws", "wss") else "nats")
    if len(schemes) > 1:
        raise ConnectError(
            f"{_who(label)}: websocket and non-websocket URLs cannot be mixed",
            "use one kind of URL",
        )
    if schemes == {"ws"} and importlib.util.find_spec("aiohttp") is None:
        raise ConnectError(
            f"websocket URLs ({_servers_text(servers)}) need the aiohttp package",
            "pip install aiohttp, or use a nats:// URL",
        )


def _who(label: str) -> str:
    return "system connection" if label == "system" else f"account {label} connection"


def _servers_text(servers: list[str]) -> str:
    shown = [display_url(s) for s in servers[:3]]
    more = f" and {len(servers) - 3} more" if len(servers) > 3 else ""
    return ", ".join(shown) + more


def build_tls_context(cs: ConnectionSettings) -> ssl.SSLContext | None:
    """An SSL context from the TLS settings, or None when TLS is not asked for.

    Raises CredentialError for missing or invalid certificate, key or CA files.
    """
    if not cs.wants_tls:
        return None
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    if cs.tls_ca is not None:
        _tls_file(cs.tls_ca, "TLS CA file", "--tlsca")
        try:
            ctx.load_verify_locations(cafile=str(cs.tls_ca))
        except (ssl.SSLError, ValueError) as exc:
            raise CredentialError(
                f"TLS CA file {cs.tls_ca} is not a PEM certificate "
                f"({_ssl_reason(exc)})",
                "pass the CA that signed the server's certificate with --tlsca",
            ) from None
    if cs.tls_cert is not None or cs.tls_key is not None:
        if cs.tls_cert is None:
            raise CredentialError(
                "a TLS key was given without a certificate", "add --tlscert"
            )
        _tls_file(cs.tls_cert, "TLS certificate", "--tlscert")
        if cs.tls_key is not None:
            _tls_file(cs.tls_key, "TLS key", "--tlskey")
        try:
            ctx.load_cert_chain(
                str(cs.tls_cert), str(cs.tls_key) if cs.tls_key else None
            )
        except (ssl.SSLError, ValueError) as exc:
            raise CredentialError(
                f"TLS certificate {cs.tls_cert} or its key cannot be loaded "
                f"({_ssl_reason(exc)})",
                "check --tlscert and --tlskey (PEM, matching each other)",
            ) from None
    return ctx


def _ssl_reason(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None)
    return str(reason or (exc.args[-1] if exc.args else type(exc).__name__))


def _tls_file(path: Path, what: str, flag: str) -> None:
    if not path.is_file():
        raise CredentialError(
            f"{what} {path} does not exist", f"check the path given to {flag}"
        )
    try:
        with path.open("rb"):
            pass
    except OSError as exc:
        raise CredentialError(
            f"{what} {path} is not readable ({exc.strerror})",
            "fix its permissions",
        ) from None


def load_credential(cs: ConnectionSettings) -> Credential | None:
    """Read and check the credential named by ``cs`` (None when it names none).

    Raises CredentialError when a file is missing, unreadable or malformed, or the
    JWT has expired.
    """
    flag = "--creds" if cs.label == "system" else f"--account-creds {cs.label}=FILE"
    cred: Credential | None = None
    if cs.creds is not None:
        cred = credmod.read_creds(cs.creds, flag_hint=f"check the path given to {flag}")
    elif cs.user_jwt is not None:
        if cs.user_seed is None:
            raise CredentialError(
                f"natscli context {cs.context} has user_jwt but no user_seed",
                "add user_seed to the context or use creds",
            )
        cred = credmod.from_jwt_and_seed(
            cs.user_jwt, cs.user_seed, f"natscli context {cs.context}"
        )
    elif cs.nkey is not None:
        cred = credmod.read_nkey(cs.nkey)
    elif cs.user_seed is not None:
        cred = credmod.seed_only(cs.user_seed, f"natscli context {cs.context}")
    if cred is not None:
        cred.check_not_expired()
    return cred


class _Conn:
    """One connection being opened and then watched."""

    def __init__(self, hub: Hub, cs: ConnectionSettings) -> None:
        self.hub = hub
        self.cs = cs
        self.label = cs.label
        self.nc = Client()
        self.credential: Credential | None = None
        self.connected = False  # True once the first connect succeeded
        self.closing = False
        self.state = "connecting"
        self.url: str | None = None
        self.server: str | None = None
        self.errors: list[BaseException] = []
        self._slow: dict[int, float] = {}
        self._slow_dropped: dict[int, int] = {}

    # ---- nats-py callbacks (all async, as nats-py requires)

    async def on_error(self, exc: Exception) -> None:
        if not self.connected:
            self.errors.append(exc)
            log.debug("%s: connect attempt failed: %s", self.label, _brief(exc))
            if _is_auth_error(exc) or isinstance(exc, ssl.SSLError):
                raise _FatalConnect(exc)
            return
        if isinstance(exc, nats.errors.SlowConsumerError):
            self._slow_consumer(exc)
            return
        text = str(exc)
        if "permissions violation" in text:
            op, subject = _parse_violation(text)
            tracker = _TRACKERS.get(self.nc)
            if tracker is not None and op and subject:
                tracker.report(op, subject)
            self.emit(
                "permission",
                f"permissions violation for {op} to {subject}",
                subject=subject,
            )
            return
        if self.closing or isinstance(exc, nats.errors.UnexpectedEOF):
            return  # an EOF is followed by the disconnected event
        if self.nc.is_reconnecting:
            self.emit("error", f"reconnect attempt failed: {_brief(exc)}")
        else:
            self.emit("error", _brief(exc))

    def _slow_consumer(self, exc: nats.errors.SlowConsumerError) -> None:
        now = time.monotonic()
        sid = exc.sid
        self._slow_dropped[sid] = self._slow_dropped.get(sid, 0) + 1
        if now - self._slow.get(sid, 0.0) < SLOW_CONSUMER_EVENT_INTERVAL:
            return
        self._slow[sid] = now
        dropped = self._slow_dropped.pop(sid)  # drops since the last event
        self.emit(
            "slow_consumer",
            f"slow consumer on {exc.subject}: {dropped} message(s) dropped",
            subject=exc.subject,
        )

    async def on_disconnected(self) -> None:
        if not self.connected or self.closing:
            return
        self.emit("disconnected", f"disconnected from {self.url or 'the server'}")
        if self.nc.is_reconnecting:
            self.emit("reconnecting", "reconnecting to the cluster")

    async def on_reconnected(self) -> None:
        self._note_url()
        self.emit("reconnected", f"reconnected to {self.url}")

    async def on_closed(self) -> None:
        if not self.connected:
            return
        reason = ""
        err = self.nc.last_error
        if err is not None and not self.closing:
            reason = f": {_brief(err)}"
        self.emit("closed", f"connection closed{reason}")

    async def on_discovered(self) -> None:
        self.emit("discovered", "new servers discovered in the cluster")

    async def on_lame_duck(self) -> None:
        self.emit(
            "lame_duck", f"server {self.server or self.url} entered lame duck mode"
        )

    # ---- helpers

    def _note_url(self) -> None:
        url = self.nc.connected_url
        self.url = display_url(url.geturl()) if url is not None else None
        info = getattr(self.nc, "_server_info", None) or {}
        self.server = info.get("server_name") or None

    def emit(self, kind: str, message: str, *, subject: str | None = None) -> None:
        state = {
            "connected": "connected",
            "reconnected": "connected",
            "disconnected": "disconnected",
            "reconnecting": "reconnecting",
            "closed": "closed",
        }.get(kind)
        if state is not None:
            self.state = state
        event = ConnEvent(
            label=self.label,
            kind=kind,
            url=self.url,
            server=self.server,
            message=credmod.redact(message),
            subject=subject,
        )
        self.hub._dispatch(event)

    def _options(self) -> dict[str, Any]:
        cs = self.cs
        per_attempt = max(0.2, min(2.0, cs.connect_timeout))
        opts: dict[str, Any] = {
            "servers": list(cs.servers),
            "name": f"natsops {self.label}",
            "error_cb": self.on_error,
            "disconnected_cb": self.on_disconnected,
            "reconnected_cb": self.on_reconnected,
            "closed_cb": self.on_closed,
            "discovered_server_cb": self.on_discovered,
            "lame_duck_mode_cb": self.on_lame_duck,
            # The first connect: each server at most twice, quickly; widened
            # to "forever" once connected (see open).
            "allow_reconnect": True,
            "max_reconnect_attempts": 1,
            "reconnect_time_wait": 0.1,
            "connect_timeout": per_attempt,
            "ping_interval": PING_INTERVAL,
            "max_outstanding_pings": MAX_OUTSTANDING_PINGS,
            "tls_handshake_first": cs.tls_first,
        }
        tls = build_tls_context(cs)
        if tls is not None:
            opts["tls"] = tls
        if cs.inbox_prefix:
            opts["inbox_prefix"] = cs.inbox_prefix

        cred = self.credential
        if cred is not None and cred.kind in ("creds", "jwt"):
            source = _JwtSource(cred)
            opts["user_jwt_cb"] = source.jwt
            opts["signature_cb"] = source.sign
        elif cred is not None and cred.kind == "nkey":
            opts["nkeys_seed_str"] = cred.seed
        if cs.user is not None:
            opts["user"] = cs.user
            opts["password"] = cs.password or ""
        if cs.token is not None:
            opts["token"] = cs.token
        return opts

    async def open(self) -> None:
        """Connect once, bounded by ``connect_timeout``; then reconnect forever."""
        cs = self.cs
        check_servers(cs.servers, self.label)
        self.credential = load_credential(cs)
        opts = self._options()
        _TRACKERS[self.nc] = _Violations(cs.inbox_prefix or "_INBOX")

        timed_out = False
        failure: BaseException | None = None
        try:
            async with asyncio.timeout(cs.connect_timeout):
                await self.nc.connect(**opts)
        except _FatalConnect as fatal:
            failure = fatal.error
        except TimeoutError as exc:
            timed_out = True
            failure = exc
        except (nats.errors.Error, OSError) as exc:
            failure = exc
        if failure is not None:
            await self._abandon()
            raise _connect_failure(cs, self.errors, failure, timed_out)

        self._note_url()
        if cs.wants_tls and not getattr(self.nc, "_server_info", {}).get(
            "tls_required"
        ):
            await self._abandon()
            raise ConnectError(
                f"{_who(self.label)}: TLS was asked for but {self.url} does not "
                "offer TLS",
                "use a nats:// URL without TLS flags, or enable TLS on the server",
            )
        self.nc.options["max_reconnect_attempts"] = -1
        self.nc.options["reconnect_time_wait"] = RECONNECT_WAIT
        self.connected = True
        self.errors.clear()
        self.emit("connected", f"connected to {self.url}")

    async def _abandon(self) -> None:
        """Drop a client whose first connect failed."""
        self.closing = True
        if self.nc.is_connected:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(2.0):
                    await self.nc.close()
            return
        # Never connected: no reader, pinger or flusher task runs yet, only a
        # socket. nats-py's close() would wait forever for a socket that a failed
        # TLS upgrade took over, so close the socket alone.
        transport = getattr(self.nc, "_transport", None)
        with contextlib.suppress(Exception):
            if transport is not None:
                transport.close()

    async def close(self) -> None:
        if not self.connected:
            await self._abandon()
            return
        if self.nc.is_closed:
            return
        self.closing = True
        try:
            async with asyncio.timeout(2.0):
                await self.nc.close()
        except (TimeoutError, Exception) as exc:  # closing must never raise
            log.debug("%s: close: %s", self.label, _brief(exc))
        if self.connected and self.state != "closed":
            self.emit("closed", "connection closed")


class _JwtSource:
    """Feeds nats-py the JWT and nonce signature, re-reading the creds file on each
    (re)connect so a rotated file is picked up; falls back to the last good copy."""

    def __init__(self, cred: Credential) -> None:
        self.cred = cred

    def _refresh(self) -> None:
        path = self.cred.path
        if path is None or self.cred.kind != "creds":
            return
        try:
            fresh = credmod.read_creds(path)
        except CredentialError as exc:
            log.warning("%s; using the copy read at start", exc)
            return
        self.cred = fresh

    def sign(self, nonce: str) -> bytes:
        self._refresh()
        return self.cred.sign(nonce)

    def jwt(self) -> bytes:
        return (self.cred.jwt or "").encode("ascii")


def _is_auth_error(exc: BaseException) -> bool:
    if isinstance(exc, nats.errors.AuthorizationError):
        return True
    if not isinstance(exc, nats.errors.Error):
        return False
    text = str(exc).lower()
    return "authorization violation" in text or "authentication" in text


def _parse_violation(text: str) -> tuple[str, str]:
    """(``publish``|``subscription``, subject) from a nats-py violation message."""
    low = text.lower()
    op = "publish" if "for publish to" in low else "subscription"
    marker = "to "
    idx = low.find("for publish to " if op == "publish" else "for subscription to ")
    if idx < 0:
        return "", ""
    rest = text[idx:].split(marker, 1)[1].strip()
    subject = rest.split()[0].strip("'\"") if rest else ""
    return op, subject


def _brief(exc: BaseException) -> str:
    """One redacted line describing an exception."""
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, socket.gaierror):
        return "host name not found"
    if isinstance(exc, ssl.SSLError):
        return f"TLS error: {exc.reason or exc}"
    if isinstance(exc, TimeoutError) and not str(exc):
        return "timed out"
    if isinstance(exc, nats.errors.UnexpectedEOF):
        return "the server closed the connection"
    text = str(exc).removeprefix("nats: ").strip("'\"") or type(exc).__name__
    if isinstance(exc, OSError) and exc.strerror:
        text = exc.strerror
    return credmod.redact(text)


def _connect_failure(
    cs: ConnectionSettings,
    seen: list[BaseException],
    final: BaseException,
    timed_out: bool,
) -> NatsopsError:
    """The one error that best explains why the first connect failed."""
    who = _who(cs.label)
    where = _servers_text(cs.servers)
    candidates = [*seen, final]

    auth = next((e for e in candidates if _is_auth_error(e)), None)
    if auth is not None:
        reason = _brief(auth)
        hint = "check that the credential belongs to an account the servers trust"
        if cs.creds is not None:
            hint = (
                f"check that {cs.creds} is a user of an account these servers "
                "trust, not revoked or expired"
            )
        elif cs.user is not None:
            hint = "check --user and --password"
        elif cs.auth_method == "none":
            hint = "the servers require authentication: pass --creds"
        if cs.auth_method == "none":
            return AuthError(f"{who}: {where} requires authentication ({reason})", hint)
        return AuthError(f"{who}: {where} refused the credential ({reason})", hint)

    tls = next((e for e in candidates if isinstance(e, ssl.SSLError)), None)
    if tls is not None:
        return ConnectError(
            f"{who}: TLS handshake with {where} failed ({_brief(tls)})",
            "check --tlsca (the CA of the server's certificate), --tlscert and "
            "--tlskey, and --tlsfirst if the server wants TLS first",
        )

    refused = next(
        (e for e in candidates if isinstance(e, ConnectionRefusedError)), None
    )
    if refused is not None:
        return ConnectError(
            f"{who}: cannot connect to {where}: connection refused",
            "check the URL and that nats-server is listening there (--server)",
        )
    dns = next((e for e in candidates if isinstance(e, socket.gaierror)), None)
    if dns is not None:
        return ConnectError(
            f"{who}: cannot connect to {where}: host name not found",
            "check the host in the URL (--server)",
        )
    protocol = next(
        (
            e
            for e in candidates
            if isinstance(e, nats.errors.Error)
            and not isinstance(e, nats.errors.NoServersError | nats.errors.TimeoutError)
        ),
        None,
    )
    if protocol is not None:
        hint = "check the port: NATS clients use the client port (4222 by default)"
        if not cs.tls_first:
            hint += "; add --tlsfirst if the server wants the TLS handshake first"
        return ConnectError(
            f"{who}: {where} did not answer like a NATS server ({_brief(protocol)})",
            hint,
        )
    if timed_out or any(isinstance(e, TimeoutError) for e in candidates):
        hint = (
            "check the URL and the network; raise connect_timeout in the config "
            "profile to wait longer"
        )
        if not cs.tls_first:
            hint += "; add --tlsfirst if the server wants the TLS handshake first"
        return ConnectError(
            f"{who}: no answer from {where} within {cs.connect_timeout:g}s", hint
        )
    other = next((e for e in candidates if isinstance(e, OSError)), final)
    return ConnectError(
        f"{who}: cannot connect to {where}: {_brief(other)}",
        "check the URL and that nats-server is running (--server)",
    )


# --------------------------------------------------------------------------- hub


class Hub:
    """The system connection plus one connection per managed account.

    Attributes:
        settings: what the hub was opened with.
        system: the system-account client.
        system_link: the system connection as an :class:`AccountLink`.
        accounts: account connections by account NAME.
        account_errors: accounts that could not be connected (only when opened with
            ``accounts_required=False``), with the error.
        system_verified: whether the system connection was confirmed to be in the
            system account (False when the probe was not allowed).
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.accounts: dict[str, AccountLink] = {}
        self.account_errors: dict[str, NatsopsError] = {}
        self.system_verified = False
        self.history: deque[ConnEvent] = deque(maxlen=_EVENT_HISTORY)
        self._listeners: list[StateListener] = []
        self._conns: dict[str, _Conn] = {}
        self._system_link: AccountLink | None = None
        self._closed = False

    # ---- opening

    @classmethod
    async def open(
        cls,
        settings: Settings,
        *,
        require_system: bool = True,
        accounts_required: bool = True,
    ) -> Hub:
        """Connect the system connection and every account connection.

        With ``require_system`` the system connection's user must be in the system
        account (NotSystemAccount otherwise). With ``accounts_required`` an account
        connection that fails fails the whole open; without, it is left out and its
        error kept in :attr:`account_errors`.
        """
        hub = cls(settings)
        system_conn = _Conn(hub, settings.system)
        hub._conns["system"] = system_conn
        account_conns = {name: _Conn(hub, cs) for name, cs in settings.accounts.items()}
        hub._conns.update(account_conns)

        try:
            results = await asyncio.gather(
                hub._open_system(system_conn, require_system),
                *(hub._open_account(name, c) for name, c in account_conns.items()),
                return_exceptions=True,
            )
        except BaseException:  # cancelled or interrupted: leave nothing open
            await asyncio.shield(hub.close())
            raise
        system_result, account_results = results[0], results[1:]
        if isinstance(system_result, BaseException):
            await hub.close()
            raise system_result
        for (name, _), result in zip(
            account_conns.items(), account_results, strict=True
        ):
            if not isinstance(result, BaseException):
                continue
            if accounts_required or not isinstance(result, NatsopsError):
                await hub.close()
                raise result
            hub.account_errors[name] = result
            hub._conns.pop(name, None)
            log.warning("account %s not connected: %s", name, result)
        return hub

    async def _open_system(self, conn: _Conn, require_system: bool) -> None:
        await conn.open()
        link = AccountLink(
            name="system",
            public_key="",
            nc=conn.nc,
            settings=conn.cs,
            credential=conn.credential,
        )
        self._system_link = link
        timeout = conn.cs.timeout
        info_result, probe_result = await asyncio.gather(
            fetch_user_info(conn.nc, timeout=timeout),
            _probe(conn.nc, timeout),
            return_exceptions=True,
        )
        if isinstance(info_result, UserInfo):
            link.info = info_result
        elif isinstance(info_result, PermissionDenied) and inbox_denied(conn.nc):
            raise info_result
        elif isinstance(info_result, NatsopsError):
            log.info("system connection: no user info (%s)", info_result)
        elif isinstance(info_result, BaseException):
            raise info_result
        link.public_key = _account_key(link)
        if isinstance(probe_result, BaseException):
            raise probe_result
        verdict, how = probe_result
        link.is_system = verdict
        self.system_verified = verdict is True
        if require_system and verdict is False:
            if how == "timeout":
                raise NotSystemAccount(
                    f"no server answered {SYSTEM_PROBE_SUBJECT} within {timeout:g}s: "
                    f"{link.user_description} of {link.account_description} is "
                    "probably not in the system account",
                    "use a system user's creds with --creds, or raise --timeout",
                )
            raise NotSystemAccount(
                f"{link.user_description} of {link.account_description} is not in "
                "the system account",
                "use a system user's creds with --creds",
            )
        if verdict is None:
            log.info(
                "system connection: may not publish %s, so the system account "
                "could not be confirmed",
                SYSTEM_PROBE_SUBJECT,
            )

    async def _open_account(self, name: str, conn: _Conn) -> None:
        await conn.open()
        link = AccountLink(
            name=name,
            public_key="",
            nc=conn.nc,
            settings=conn.cs,
            credential=conn.credential,
        )
        try:
            link.info = await fetch_user_info(conn.nc, timeout=conn.cs.timeout)
        except NatsopsError as exc:
            if isinstance(exc, PermissionDenied) and inbox_denied(conn.nc):
                raise PermissionDenied(
                    f"account {name}: {exc.problem}", exc.hint
                ) from None
            log.info("account %s: no user info (%s)", name, exc)
        link.public_key = _account_key(link)
        if link.account_name and link.account_name != name:
            log.warning(
                "account connection %s authenticates a user of account '%s'",
                name,
                link.account_name,
            )
        self.accounts[name] = link

    # ---- lookups

    @property
    def system(self) -> Client:
        """The system-account client."""
        return self.system_link.nc

    @property
    def system_link(self) -> AccountLink:
        """The system connection as a link."""
        if self._system_link is None:
            raise ConnectError("the system connection is not open")
        return self._system_link

    def links(self) -> list[AccountLink]:
        """The system link first, then the account links by name."""
        return [self.system_link, *(self.accounts[n] for n in sorted(self.accounts))]

    def account(self, name_or_public_key: str) -> AccountLink:
        """The account connection for an account NAME, its own name or public key.

        Raises AccountConnectionMissing naming the account and how to add it.
        """
        key = name_or_public_key
        if key in self.accounts:
            return self.accounts[key]
        for link in self.accounts.values():
            if key in (link.public_key, link.account_name):
                return link
        for link in self.accounts.values():
            if link.name.lower() == key.lower() or (
                link.account_name and link.account_name.lower() == key.lower()
            ):
                return link
        raise AccountConnectionMissing(
            f"no connection for account '{key}'",
            f"add one with --account-creds {key}=FILE or --account-context "
            f"{key}=CONTEXT (or in the config profile)",
        )

    def state(self, label: str = "system") -> str:
        """``connecting``, ``connected``, ``disconnected``, ``reconnecting`` or
        ``closed`` for the connection ``label``."""
        conn = self._conns.get(label)
        return conn.state if conn is not None else "closed"

    def connected_url(self, label: str = "system") -> str | None:
        """The URL (without password) of the server ``label`` is connected to."""
        conn = self._conns.get(label)
        return conn.url if conn is not None else None

    def server_name(self, label: str = "system") -> str | None:
        """The name of the server ``label`` is connected to."""
        conn = self._conns.get(label)
        return conn.server if conn is not None else None

    # ---- identity

    async def user_info(
        self, link: AccountLink | Client | str = "system", timeout: float | None = None
    ) -> UserInfo:
        """Ask the server for USER.INFO on a link, client, or label."""
        nc, default_timeout = self._client(link)
        return await fetch_user_info(nc, timeout=timeout or default_timeout)

    async def probe_system(
        self, link: AccountLink | Client | str = "system", timeout: float | None = None
    ) -> bool | None:
        """Whether the link's user is in the system account (None: not allowed to
        ask)."""
        nc, default_timeout = self._client(link)
        return await probe_system(nc, timeout=timeout or default_timeout)

    def _client(self, link: AccountLink | Client | str) -> tuple[Client, float]:
        """The client of a link, client or label, and its request timeout."""
        if isinstance(link, Client):
            return link, self.settings.system.timeout
        if isinstance(link, str):
            link = self.system_link if link == "system" else self.account(link)
        timeout = link.settings.timeout if link.settings else 5.0
        return link.nc, timeout

    # ---- events

    def add_state_listener(self, cb: StateListener, *, replay: bool = False) -> None:
        """Call ``cb`` with every ConnEvent from now on (and the recent history
        first with ``replay``). Listeners must not block; errors are logged."""
        self._listeners.append(cb)
        if replay:
            for event in list(self.history):
                self._call(cb, event)

    def remove_state_listener(self, cb: StateListener) -> None:
        """Stop calling ``cb``."""
        with contextlib.suppress(ValueError):
            self._listeners.remove(cb)

    def _dispatch(self, event: ConnEvent) -> None:
        self.history.append(event)
        level = (
            logging.DEBUG
            if event.kind in ("connected", "discovered")
            else (logging.INFO)
        )
        log.log(level, "%s: %s", event.label, event.message)
        for cb in list(self._listeners):
            self._call(cb, event)

    @staticmethod
    def _call(cb: StateListener, event: ConnEvent) -> None:
        try:
            cb(event)
        except Exception:  # a listener must never break the connection
            log.exception("state listener failed on %s", event.kind)

    # ---- closing

    async def close(self) -> None:
        """Close every connection (bounded); safe to call twice."""
        if self._closed:
            return
        self._closed = True
        await asyncio.gather(
            *(conn.close() for conn in self._conns.values()), return_exceptions=True
        )

    async def __aenter__(self) -> Hub:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


def _account_key(link: AccountLink) -> str:
    if link.info is not None and link.info.account.startswith("A"):
        return link.info.account
    if link.claims is not None:
        return link.claims.account_public_key
    return link.info.account if link.info is not None else ""
