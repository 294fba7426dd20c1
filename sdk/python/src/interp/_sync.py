"""The synchronous client: Sandbox."""

from __future__ import annotations

import json
import time
from typing import IO, Any, Callable, Dict, Iterator, List, Optional, Union

import httpx

from . import _core as core
from . import _errors as errors
from ._models import Execution, ExecutionError, Result, parse_event
from ._sse import SSEDecoder
from ._types import FileInfo, ResultEvent, SessionInfo


class _Client:
    """HTTP with the key, retries and the SDK's errors."""

    def __init__(
        self,
        url: Optional[str],
        api_key: Optional[str],
        timeout: float,
        max_retries: int,
        http_client: Optional[httpx.Client],
    ) -> None:
        self.url, key = core.settings(url, api_key)
        self.timeout = timeout
        self.max_retries = max_retries
        self._own = http_client is None
        self.http = http_client or httpx.Client(timeout=timeout)
        self.headers = core.headers(key)

    def close(self) -> None:
        if self._own:
            self.http.close()

    def request(
        self, method: str, path: str, *, session: bool = False, timeout: Optional[float] = None, **kw: Any
    ) -> httpx.Response:
        attempt = 0
        hdrs = {**self.headers, **kw.pop("headers", {})}
        while True:
            attempt += 1
            try:
                r = self.http.request(
                    method,
                    self.url + path,
                    headers=hdrs,
                    timeout=timeout if timeout is not None else self.timeout,
                    **kw,
                )
            except httpx.TransportError as exc:
                if attempt <= self.max_retries and core.retryable(method, exc=exc):
                    time.sleep(core.backoff(attempt))
                    continue
                raise core.map_transport_error(exc) from exc
            if r.is_success:
                return r
            if attempt <= self.max_retries and core.retryable(method, status=r.status_code):
                time.sleep(core.backoff(attempt, r))
                continue
            raise core.error_from(r, session=session)

    def stream(
        self, method: str, path: str, *, timeout: Optional[float], json_body: Any = None
    ) -> Iterator[Dict[str, Any]]:
        """The events of a stream, as JSON objects. A dropped connection is
        resumed with Last-Event-ID, the stream's work having gone on."""
        decoder = SSEDecoder()
        stream_id = ""
        attempt = 0
        t = httpx.Timeout(self.timeout, read=timeout)
        while True:
            try:
                if not stream_id:
                    cm = self.http.stream(
                        method,
                        self.url + path,
                        headers={**self.headers, "Accept": "text/event-stream"},
                        json=json_body,
                        timeout=t,
                    )
                else:
                    h = {**self.headers, "Accept": "text/event-stream"}
                    if decoder.last_id:
                        h["Last-Event-ID"] = decoder.last_id
                    cm = self.http.stream("GET", self.url + "/v1/streams/" + stream_id, headers=h, timeout=t)
                with cm as r:
                    if not r.is_success:
                        r.read()
                        raise core.error_from(r, session=True)
                    stream_id = r.headers.get("X-Stream-ID", stream_id)
                    for sse in decoder.iter(r.iter_lines()):
                        yield json.loads(sse.data)
                return
            except httpx.TransportError as exc:
                attempt += 1
                if attempt <= self.max_retries and core.stream_retryable(method, stream_id, exc):
                    time.sleep(core.backoff(attempt))
                    continue
                raise core.map_transport_error(exc) from exc


class Files:
    """A session's workspace files: sb.files."""

    def __init__(self, sb: "Sandbox") -> None:
        self._sb = sb

    def write(self, path: str, data: Union[bytes, str, IO[bytes]], *, timeout: Optional[float] = None) -> FileInfo:
        """Writes a file (parent directories are made), whole or not at all."""
        if isinstance(data, str):
            data = data.encode()
        r = self._sb._c.request(
            "POST",
            core.session_path(self._sb.id, "/files"),
            session=True,
            params={"path": path},
            content=data,
            headers={"Content-Type": "application/octet-stream"},
            timeout=timeout,
        )
        w = r.json()
        return FileInfo(path=w["path"], size=w["size"], mode="", mtime=0)

    def read(self, path: str, *, timeout: Optional[float] = None) -> bytes:
        """A file's content."""
        return self._sb._c.request(
            "GET", core.session_path(self._sb.id, "/file"), session=True, params={"path": path}, timeout=timeout
        ).content

    def read_text(self, path: str, encoding: str = "utf-8") -> str:
        return self.read(path).decode(encoding)

    def list(self, *, timeout: Optional[float] = None) -> List[FileInfo]:
        """Every file and directory of the workspace."""
        r = self._sb._c.request("GET", core.session_path(self._sb.id, "/files"), session=True, timeout=timeout)
        return [FileInfo.from_dict(f) for f in r.json()["files"]]

    def remove(self, path: str, *, timeout: Optional[float] = None) -> None:
        """Deletes a file or an empty directory."""
        self._sb._c.request(
            "DELETE", core.session_path(self._sb.id, "/file"), session=True, params={"path": path}, timeout=timeout
        )

    def exists(self, path: str) -> bool:
        return any(f.path == path for f in self.list())


class Sandbox:
    """A Python session in a sandbox of an Interp server, keeping its state
    between calls, like a Jupyter kernel.

        with interp.Sandbox("http://127.0.0.1:8080", api_key) as sb:
            sb.run_code("x = 6 * 7")
            print(sb.run_code("x").text)  # 42

    url and api_key default to INTERP_URL and INTERP_API_KEY; env sets
    environment variables of the sandbox (never the host's). With
    session_id, it connects to an existing session instead of starting
    one. timeout bounds each request that does not run code; max_retries
    how often a failed safe request is sent again.
    """

    def __init__(
        self,
        url: Optional[str] = None,
        api_key: Optional[str] = None,
        *,
        limits: core.LimitsLike = None,
        env: Optional[Dict[str, str]] = None,
        session_id: Optional[str] = None,
        timeout: float = core.DEFAULT_TIMEOUT,
        max_retries: int = 3,
        http_client: Optional[httpx.Client] = None,
    ) -> None:
        self._c = _Client(url, api_key, timeout, max_retries, http_client)
        self.files = Files(self)
        try:
            if session_id:
                r = self._c.request("GET", core.session_path(session_id), session=True)
            else:
                r = self._c.request(
                    "POST", "/v1/sessions", json=core.create_body(limits, env), timeout=max(timeout, 120.0)
                )
        except BaseException:
            self._c.close()
            raise
        self.info = SessionInfo.from_dict(r.json())
        self.id = self.info.id

    @classmethod
    def connect(cls, session_id: str, url: Optional[str] = None, api_key: Optional[str] = None, **kw: Any) -> "Sandbox":
        """Connects to an existing session by its ID."""
        return cls(url, api_key, session_id=session_id, **kw)

    def __enter__(self) -> "Sandbox":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _run_timeout(self, timeout: Optional[float]) -> float:
        return (timeout or self.info.cell_timeout) + core.RUN_MARGIN

    def run_code(
        self,
        code: str,
        *,
        timeout: Optional[float] = None,
        install: bool = True,
        on_stdout: Optional[Callable[[str], Any]] = None,
        on_stderr: Optional[Callable[[str], Any]] = None,
        on_result: Optional[Callable[[Result], Any]] = None,
        on_error: Optional[Callable[[ExecutionError], Any]] = None,
        on_event: Optional[Callable[[Any], Any]] = None,
    ) -> Execution:
        """Runs code as the session's next cell and returns what it did.

        timeout is the cell's time limit in seconds (the session's by
        default); past it the cell is interrupted and the status is
        timeout. Missing packages the code imports are installed first
        unless install is False. With callbacks, the events stream and
        each is called as it arrives.
        """
        cb = core.Callbacks(on_stdout, on_stderr, on_result, on_error, on_event)
        if not cb.any():
            r = self._c.request(
                "POST",
                core.session_path(self.id, "/execute"),
                session=True,
                json=core.execute_body(code, timeout, install),
                timeout=self._run_timeout(timeout),
            )
            return core.execution_from(r.json())
        ex = Execution()
        for ev in self.stream_code(code, timeout=timeout, install=install):
            ex.add(ev)
            cb.dispatch(ev)
        return ex

    def stream_code(self, code: str, *, timeout: Optional[float] = None, install: bool = True) -> Iterator[Any]:
        """Runs code and yields its typed events as they happen (StdoutEvent,
        DisplayEvent, ..., DoneEvent last)."""
        for d in self._c.stream(
            "POST",
            core.session_path(self.id, "/execute/stream"),
            timeout=self._run_timeout(timeout),
            json_body=core.execute_body(code, timeout, install),
        ):
            yield parse_event(d)

    def install(self, packages: List[str], *, timeout: Optional[float] = None) -> Execution:
        """Installs packages into the session (as %pip install would);
        raises InstallError if any cannot be installed."""
        return core.check_installed(self.run_code(core.pip_line(packages), timeout=timeout))

    def restart(self) -> None:
        """A fresh Python process: variables are lost, files kept."""
        r = self._c.request(
            "POST", core.session_path(self.id, "/restart"), session=True, timeout=max(self._c.timeout, 120.0)
        )
        self.info = SessionInfo.from_dict(r.json())

    def interrupt(self) -> bool:
        """Stops what runs in the session, as Ctrl-C; reports whether anything ran."""
        r = self._c.request("POST", core.session_path(self.id, "/interrupt"), session=True)
        return bool(r.json().get("interrupted"))

    def refresh(self) -> SessionInfo:
        """The session as the server describes it now."""
        self.info = SessionInfo.from_dict(self._c.request("GET", core.session_path(self.id), session=True).json())
        return self.info

    def task(
        self,
        prompt: str,
        *,
        conversation_id: Optional[str] = None,
        on_event: Optional[Callable[[Any], Any]] = None,
        timeout: Optional[float] = None,
    ) -> ResultEvent:
        """Works on a task in plain language in this session: the model
        writes and runs code until it answers. Each event goes to on_event;
        returns the result event."""
        result = None
        for ev in self.stream_task(prompt, conversation_id=conversation_id, timeout=timeout):
            if on_event is not None:
                on_event(ev)
            if isinstance(ev, ResultEvent):
                result = ev
        if result is None:
            raise errors.ConnectionError("the task's stream ended without a result")
        return result

    def stream_task(
        self, prompt: str, *, conversation_id: Optional[str] = None, timeout: Optional[float] = None
    ) -> Iterator[Any]:
        """Yields a task's typed events (MessageEvent, ToolEvent, StdoutEvent,
        ..., ResultEvent last)."""
        body: Dict[str, Any] = {"prompt": prompt, "session_id": self.id}
        if conversation_id:
            body["conversation_id"] = conversation_id
        for d in self._c.stream("POST", "/v1/tasks", timeout=timeout or 600.0, json_body=body):
            yield parse_event(d)

    def close(self) -> None:
        """Closes the session: its sandbox and files go."""
        try:
            self._c.request("DELETE", core.session_path(self.id), session=True)
        except errors.NotFound:
            pass
        finally:
            self._c.close()

    def detach(self) -> None:
        """Lets go of the connection and keeps the session, to connect to later by its ID."""
        self._c.close()
