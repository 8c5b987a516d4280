"""Errors that natsops reports to a person: one line naming the problem and the fix.

Every failure that can reach the user is a :class:`NatsopsError`. The CLI prints
``natsops: <problem>: <hint>`` on stderr and exits with :attr:`exit_code`; the
dashboard shows the same text as a notice. Messages never contain a seed or a JWT.
"""

from __future__ import annotations


class NatsopsError(Exception):
    """A failure with a message for the user and a hint about what to do."""

    exit_code: int = 1

    def __init__(self, problem: str, hint: str = "") -> None:
        super().__init__(problem)
        self.problem = problem
        self.hint = hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.problem}: {self.hint}"
        return self.problem


class UsageError(NatsopsError):
    """The command line or configuration is wrong."""

    exit_code = 2


class ConfigError(UsageError):
    """A config file, context or profile is invalid."""


class CredentialError(NatsopsError):
    """A creds, nkey or JWT file is missing, unreadable, malformed or expired."""


class ConnectError(NatsopsError):
    """No server could be reached (wrong URL, closed port, TLS failure)."""


class AuthError(NatsopsError):
    """The server refused the credential."""


class NotSystemAccount(NatsopsError):
    """A system-account call was made with a user of another account."""


class PermissionDenied(NatsopsError):
    """The server denied publish or subscribe on a subject."""


class RequestTimeout(NatsopsError):
    """A request got no reply in time."""


class NoResponders(NatsopsError):
    """Nobody is subscribed to the subject of a request."""


class NotFound(NatsopsError):
    """An unknown server, account, stream or consumer was named."""


class ReadOnlyError(NatsopsError):
    """A write operation was attempted in read-only mode."""


class AccountConnectionMissing(NatsopsError):
    """An operation needs a connection for an account that natsops does not hold."""


class ApiError(NatsopsError):
    """A JetStream or system API answered with an error code."""

    def __init__(self, code: int, err_code: int, description: str, hint: str = ""):
        problem = f"server error {err_code or code}: {description}"
        super().__init__(problem, hint)
        self.code = code
        self.err_code = err_code
        self.description = description


class MalformedReply(NatsopsError):
    """A reply could not be parsed."""
