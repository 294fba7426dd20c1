"""The exceptions of the SDK, each named for what went wrong."""

from __future__ import annotations

import builtins
from typing import Any, Optional


class InterpError(Exception):
    """Anything that went wrong talking to Interp.

    status is the HTTP status when the server answered (0 otherwise) and
    detail the server's own explanation.
    """

    def __init__(self, message: str, *, status: int = 0, detail: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.detail = detail or message


class AuthenticationError(InterpError):
    """The API key is missing, wrong or revoked (401)."""


class PermissionDenied(InterpError):
    """The key may not do this: an admin-only operation, a file the sandbox may not touch (403)."""


class NotFound(InterpError):
    """No such thing, or it is another user's (404)."""


class SessionNotFound(NotFound):
    """No such session: closed, reaped when idle, or another user's (404)."""


class Conflict(InterpError):
    """The session is busy with other code, or its Python process ended (409)."""


class InvalidRequest(InterpError):
    """The request was wrong: a bad path, a limit out of range (400, 422)."""


class PayloadTooLarge(InterpError):
    """A file or request over the server's limit (413)."""


class QuotaExceeded(InterpError):
    """A quota of yours is used up (429): wait retry_after seconds, or free something."""

    def __init__(
        self, message: str, *, status: int = 429, detail: str = "", retry_after: Optional[float] = None
    ) -> None:
        super().__init__(message, status=status, detail=detail)
        self.retry_after = retry_after


class ServerError(InterpError):
    """The server failed or is unavailable (5xx)."""


class InstallError(InterpError):
    """A package of install() could not be installed: no such project on the
    index, no wheel for this Python, a conflict. packages names those that
    failed; execution is what the install did."""

    def __init__(self, message: str, *, packages: "list[str]", execution: Any) -> None:
        super().__init__(message)
        self.packages = packages
        self.execution = execution


class TimeoutError(InterpError, builtins.TimeoutError):
    """The server did not answer in time."""


class ConnectionError(InterpError, builtins.ConnectionError):
    """The server could not be reached, or the connection dropped."""
