"""What the sync and async clients share: configuration, errors, retries,
and turning events into callbacks and executions."""

from __future__ import annotations

import json
import os
import random
from dataclasses import dataclass
from typing import Any, Callable, Dict, Optional, Union
from urllib.parse import quote

import httpx

from . import _errors as errors
from ._models import Execution, ExecutionError, Result
from ._types import DisplayEvent, ErrorEvent

DEFAULT_URL = "http://127.0.0.1:8080"
DEFAULT_TIMEOUT = 30.0
"""Seconds for a request that does not run code."""
RUN_MARGIN = 30.0
"""Seconds a request that runs code waits beyond the cell's time limit."""

# Methods safe to send again: repeating them changes nothing more.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
RETRY_STATUSES = frozenset({502, 503, 504})


@dataclass(frozen=True)
class Limits:
    """A session's limits, within the server's maxima; None takes the server's default."""

    memory: Optional[int] = None
    """Memory limit in bytes, workspace files included."""
    cell_timeout: Optional[float] = None
    """Time limit of one execution, in seconds."""

    def body(self) -> Dict[str, Any]:
        b: Dict[str, Any] = {}
        if self.memory is not None:
            b["memory"] = self.memory
        if self.cell_timeout is not None:
            b["cell_timeout"] = self.cell_timeout
        return b


LimitsLike = Union[Limits, Dict[str, Any], None]


def create_body(limits: LimitsLike, env: Optional[Dict[str, str]]) -> Dict[str, Any]:
    """The body that starts a session."""
    if limits is None:
        body: Dict[str, Any] = {}
    elif isinstance(limits, dict):
        body = Limits(**limits).body()
    else:
        body = limits.body()
    if env:
        body["env"] = dict(env)
    return body


def settings(url: Optional[str], api_key: Optional[str]) -> "tuple[str, str]":
    url = (url or os.environ.get("INTERP_URL") or DEFAULT_URL).rstrip("/")
    key = api_key or os.environ.get("INTERP_API_KEY") or ""
    if not key:
        raise errors.AuthenticationError(
            "no API key: pass api_key, or set INTERP_API_KEY (make one with `interp admin key create USER`)"
        )
    return url, key


def headers(api_key: str) -> Dict[str, str]:
    return {"Authorization": "Bearer " + api_key, "User-Agent": "interp-python"}


def session_path(session_id: str, rest: str = "") -> str:
    return "/v1/sessions/" + quote(session_id, safe="") + rest


def retry_after(response: httpx.Response) -> Optional[float]:
    v = response.headers.get("Retry-After")
    if v is None:
        return None
    try:
        return max(float(v), 0.0)
    except ValueError:
        return None


def error_from(response: httpx.Response, *, session: bool = False) -> errors.InterpError:
    """The exception for an answer that is not a success."""
    status = response.status_code
    detail = ""
    try:
        body = json.loads(response.read() if not response.is_stream_consumed else response.content)
        detail = body.get("detail") or body.get("title") or ""
    except Exception:
        try:
            detail = response.text[:500]
        except Exception:
            detail = ""
    msg = f"{status} {response.reason_phrase}: {detail}" if detail else f"{status} {response.reason_phrase}"
    if status == 401:
        return errors.AuthenticationError(msg, status=status, detail=detail)
    if status == 403:
        return errors.PermissionDenied(msg, status=status, detail=detail)
    if status == 404:
        cls = errors.SessionNotFound if session and "session" in detail.lower() else errors.NotFound
        return cls(msg, status=status, detail=detail)
    if status == 409:
        return errors.Conflict(msg, status=status, detail=detail)
    if status == 413:
        return errors.PayloadTooLarge(msg, status=status, detail=detail)
    if status == 429:
        return errors.QuotaExceeded(msg, status=status, detail=detail, retry_after=retry_after(response))
    if status in (400, 422):
        return errors.InvalidRequest(msg, status=status, detail=detail)
    if status == 408:
        return errors.TimeoutError(msg, status=status, detail=detail)
    if status >= 500:
        return errors.ServerError(msg, status=status, detail=detail)
    return errors.InterpError(msg, status=status, detail=detail)


def map_transport_error(exc: httpx.TransportError) -> errors.InterpError:
    if isinstance(exc, httpx.TimeoutException):
        return errors.TimeoutError(f"the server did not answer in time: {exc!r}")
    return errors.ConnectionError(f"cannot reach the server: {exc!r}")


def retryable(method: str, *, exc: Optional[BaseException] = None, status: int = 0) -> bool:
    """Whether a failed attempt may be sent again. A request that never
    reached the server (no connection) always may; one that may have,
    only when it is safe to repeat."""
    if exc is not None:
        if isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout)):
            return True
        return method in SAFE_METHODS and isinstance(exc, httpx.TransportError)
    return method in SAFE_METHODS and status in RETRY_STATUSES


def stream_retryable(method: str, stream_id: str, exc: BaseException) -> bool:
    """Whether a stream that failed may be tried again: resumed, once the
    server named it (its work goes on without the client), else sent
    again as a request."""
    if stream_id:
        return isinstance(exc, httpx.TransportError) and not isinstance(exc, httpx.TimeoutException)
    return retryable(method, exc=exc)


def backoff(attempt: int, response: Optional[httpx.Response] = None) -> float:
    """Seconds to wait before attempt (from 1): the server's Retry-After,
    else exponential with jitter, at most 8 s."""
    if response is not None:
        ra = retry_after(response)
        if ra is not None:
            return min(ra, 30.0)
    return min(0.25 * (2 ** (attempt - 1)), 8.0) * (0.5 + random.random() / 2)


@dataclass
class Callbacks:
    """Functions called as a streamed execution's events arrive."""

    on_stdout: Optional[Callable[[str], Any]] = None
    on_stderr: Optional[Callable[[str], Any]] = None
    on_result: Optional[Callable[[Result], Any]] = None
    on_error: Optional[Callable[[ExecutionError], Any]] = None
    on_event: Optional[Callable[[Any], Any]] = None

    def any(self) -> bool:
        return any((self.on_stdout, self.on_stderr, self.on_result, self.on_error, self.on_event))

    def dispatch(self, ev: Any) -> None:
        if self.on_event is not None:
            self.on_event(ev)
        t = getattr(ev, "type", None)
        if t == "stdout" and self.on_stdout is not None:
            self.on_stdout(ev.text)
        elif t == "stderr" and self.on_stderr is not None:
            self.on_stderr(ev.text)
        elif isinstance(ev, DisplayEvent) and self.on_result is not None:
            self.on_result(Result(ev.data, ev.metadata or {}))
        elif isinstance(ev, ErrorEvent) and self.on_error is not None:
            self.on_error(ExecutionError(ev.ename, ev.evalue or "", list(ev.traceback or [])))


def execute_body(code: str, timeout: Optional[float], install: bool) -> Dict[str, Any]:
    body: Dict[str, Any] = {"code": code}
    if timeout:
        body["timeout"] = timeout
    if not install:
        body["install"] = False
    return body


def execution_from(result: Dict[str, Any]) -> Execution:
    from ._models import parse_event

    ex = Execution()
    for d in result.get("events") or []:
        ex.add(parse_event(d))
    return ex


def pip_line(packages: "list[str]") -> str:
    for p in packages:
        if not p or p.startswith("-") or any(c.isspace() for c in p):
            raise errors.InvalidRequest(f"not a package name: {p!r}")
    return "%pip install " + " ".join(packages)


def check_installed(ex: Execution) -> Execution:
    """Raises InstallError when a package of ex (an install) failed."""
    failed = [ev for ev in ex.installs if ev.phase == "failed"]
    if failed:
        names = [ev.package for ev in failed]
        msg = "; ".join(ev.message or f"cannot install {ev.package}" for ev in failed)
        raise errors.InstallError(msg, packages=names, execution=ex)
    return ex
