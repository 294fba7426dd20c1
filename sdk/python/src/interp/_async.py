"""The asynchronous client: AsyncSandbox, the same surface as Sandbox."""

from __future__ import annotations

import asyncio
import json
from typing import IO, Any, AsyncIterator, Callable, Dict, List, Optional, Union

import httpx

from . import _core as core
from . import _errors as errors
from ._models import Execution, ExecutionError, Result, parse_event
from ._sse import SSEDecoder
from ._types import FileInfo, ResultEvent, SessionInfo


class _AsyncClient:
    def __init__(
        self,
        url: Optional[str],
        api_key: Optional[str],
        timeout: float,
        max_retries: int,
        http_client: Optional[httpx.AsyncClient],
    ) -> None:
        self.url, key = core.settings(url, api_key)
        self.timeout = timeout
        self.max_retries = max_retries
        self._own = http_client is None
        self.http = http_client or httpx.AsyncClient(timeout=timeout)
        self.headers = core.headers(key)

    async def close(self) -> None:
        if self._own:
            await self.http.aclose()

    async def request(
        self, method: str, path: str, *, session: bool = False, timeout: Optional[float] = None, **kw: Any
    ) -> httpx.Response:
        attempt = 0
        hdrs = {**self.headers, **kw.pop("headers", {})}
        while True:
            attempt += 1
            try:
                r = await self.http.request(
                    method,
                    self.url + path,
                    headers=hdrs,
                    timeout=timeout if timeout is not None else self.timeout,
                    **kw,
                )
            except httpx.TransportError as exc:
                if attempt <= self.max_retries and core.retryable(method, exc=exc):
                    await asyncio.sleep(core.backoff(attempt))
                    continue
                raise core.map_transport_error(exc) from exc
            if r.is_success:
                return r
            if attempt <= self.max_retries and core.retryable(method, status=r.status_code):
                await asyncio.sleep(core.backoff(attempt, r))
                continue
            raise core.error_from(r, session=session)

    async def stream(
        self, method: str, path: str, *, timeout: Optional[float], json_body: Any = None
    ) -> AsyncIterator[Dict[str, Any]]:
        decoder = SSEDecoder()
        stream_id = ""
        attempt = 0
        t = httpx.Timeout(self.timeout, read=timeout)
        while True:
            try:
                h = {**self.headers, "Accept": "text/event-stream"}
                if not stream_id:
                    cm = self.http.stream(method, self.url + path, headers=h, json=json_body, timeout=t)
                else:
                    if decoder.last_id:
                        h["Last-Event-ID"] = decoder.last_id
                    cm = self.http.stream("GET", self.url + "/v1/streams/" + stream_id, headers=h, timeout=t)
                async with cm as r:
                    if not r.is_success:
                        await r.aread()
                        raise core.error_from(r, session=True)
                    stream_id = r.headers.get("X-Stream-ID", stream_id)
                    async for line in r.aiter_lines():
                        sse = decoder.feed(line)
                        if sse is not None:
                            yield json.loads(sse.data)
                return
            except httpx.TransportError as exc:
                attempt += 1
                if attempt <= self.max_retries and core.stream_retryable(method, stream_id, exc):
                    await asyncio.sleep(core.backoff(attempt))
                    continue
                raise core.map_transport_error(exc) from exc


class AsyncFiles:
    """A session's workspace files: sb.files."""

    def __init__(self, sb: "AsyncSandbox") -> None:
        self._sb = sb

    async def write(
        self, path: str, data: Union[bytes, str, IO[bytes]], *, timeout: Optional[float] = None
    ) -> FileInfo:
        if isinstance(data, str):
            data = data.encode()
        r = await self._sb._c.request(
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

    async def read(self, path: str, *, timeout: Optional[float] = None) -> bytes:
        r = await self._sb._c.request(
            "GET", core.session_path(self._sb.id, "/file"), session=True, params={"path": path}, timeout=timeout
        )
        return r.content

    async def list(self, *, timeout: Optional[float] = None) -> List[FileInfo]:
        r = await self._sb._c.request("GET", core.session_path(self._sb.id, "/files"), session=True, timeout=timeout)
        return [FileInfo.from_dict(f) for f in r.json()["files"]]

    async def remove(self, path: str, *, timeout: Optional[float] = None) -> None:
        await self._sb._c.request(
            "DELETE", core.session_path(self._sb.id, "/file"), session=True, params={"path": path}, timeout=timeout
        )


class _Opening:
    """A session being started or connected to: await it for the
    AsyncSandbox, or use it in `async with`, which closes the session at
    the end."""

    def __init__(self, coro: Any) -> None:
        self._coro = coro
        self._sb: Optional["AsyncSandbox"] = None

    def __await__(self) -> Any:
        return self._coro.__await__()

    async def __aenter__(self) -> "AsyncSandbox":
        self._sb = await self._coro
        return self._sb

    async def __aexit__(self, *exc: Any) -> None:
        if self._sb is not None:
            await self._sb.close()


class AsyncSandbox:
    """Sandbox for asyncio: `async with AsyncSandbox.create(...) as sb`, or
    `sb = await AsyncSandbox.create(...)` and `await sb.close()`; connect to
    a session with `AsyncSandbox.connect(session_id, ...)` the same ways."""

    def __init__(self, c: _AsyncClient, info: SessionInfo) -> None:
        self._c = c
        self.info = info
        self.id = info.id
        self.files = AsyncFiles(self)

    @classmethod
    def create(
        cls,
        url: Optional[str] = None,
        api_key: Optional[str] = None,
        *,
        limits: core.LimitsLike = None,
        env: Optional[Dict[str, str]] = None,
        session_id: Optional[str] = None,
        timeout: float = core.DEFAULT_TIMEOUT,
        max_retries: int = 3,
        http_client: Optional[httpx.AsyncClient] = None,
    ) -> _Opening:
        """Starts a session (or connects to session_id), as Sandbox does."""
        return _Opening(cls._create(url, api_key, limits, env, session_id, timeout, max_retries, http_client))

    @classmethod
    async def _create(
        cls,
        url: Optional[str],
        api_key: Optional[str],
        limits: core.LimitsLike,
        env: Optional[Dict[str, str]],
        session_id: Optional[str],
        timeout: float,
        max_retries: int,
        http_client: Optional[httpx.AsyncClient],
    ) -> "AsyncSandbox":
        c = _AsyncClient(url, api_key, timeout, max_retries, http_client)
        try:
            if session_id:
                r = await c.request("GET", core.session_path(session_id), session=True)
            else:
                r = await c.request(
                    "POST", "/v1/sessions", json=core.create_body(limits, env), timeout=max(timeout, 120.0)
                )
        except BaseException:
            await c.close()
            raise
        return cls(c, SessionInfo.from_dict(r.json()))

    @classmethod
    def connect(cls, session_id: str, url: Optional[str] = None, api_key: Optional[str] = None, **kw: Any) -> _Opening:
        """Connects to an existing session by its ID."""
        return cls.create(url, api_key, session_id=session_id, **kw)

    async def __aenter__(self) -> "AsyncSandbox":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    def _run_timeout(self, timeout: Optional[float]) -> float:
        return (timeout or self.info.cell_timeout) + core.RUN_MARGIN

    async def run_code(
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
        """As Sandbox.run_code; callbacks may be plain functions or coroutines."""
        cb = core.Callbacks(on_stdout, on_stderr, on_result, on_error, on_event)
        if not cb.any():
            r = await self._c.request(
                "POST",
                core.session_path(self.id, "/execute"),
                session=True,
                json=core.execute_body(code, timeout, install),
                timeout=self._run_timeout(timeout),
            )
            return core.execution_from(r.json())
        ex = Execution()
        async for ev in self.stream_code(code, timeout=timeout, install=install):
            ex.add(ev)
            for res in _calls(cb, ev):
                if asyncio.iscoroutine(res):
                    await res
        return ex

    async def stream_code(
        self, code: str, *, timeout: Optional[float] = None, install: bool = True
    ) -> AsyncIterator[Any]:
        async for d in self._c.stream(
            "POST",
            core.session_path(self.id, "/execute/stream"),
            timeout=self._run_timeout(timeout),
            json_body=core.execute_body(code, timeout, install),
        ):
            yield parse_event(d)

    async def install(self, packages: List[str], *, timeout: Optional[float] = None) -> Execution:
        return core.check_installed(await self.run_code(core.pip_line(packages), timeout=timeout))

    async def restart(self) -> None:
        r = await self._c.request(
            "POST", core.session_path(self.id, "/restart"), session=True, timeout=max(self._c.timeout, 120.0)
        )
        self.info = SessionInfo.from_dict(r.json())

    async def interrupt(self) -> bool:
        r = await self._c.request("POST", core.session_path(self.id, "/interrupt"), session=True)
        return bool(r.json().get("interrupted"))

    async def refresh(self) -> SessionInfo:
        self.info = SessionInfo.from_dict(
            (await self._c.request("GET", core.session_path(self.id), session=True)).json()
        )
        return self.info

    async def task(
        self,
        prompt: str,
        *,
        conversation_id: Optional[str] = None,
        on_event: Optional[Callable[[Any], Any]] = None,
        timeout: Optional[float] = None,
    ) -> ResultEvent:
        result = None
        async for ev in self.stream_task(prompt, conversation_id=conversation_id, timeout=timeout):
            if on_event is not None:
                res = on_event(ev)
                if asyncio.iscoroutine(res):
                    await res
            if isinstance(ev, ResultEvent):
                result = ev
        if result is None:
            raise errors.ConnectionError("the task's stream ended without a result")
        return result

    async def stream_task(
        self, prompt: str, *, conversation_id: Optional[str] = None, timeout: Optional[float] = None
    ) -> AsyncIterator[Any]:
        body: Dict[str, Any] = {"prompt": prompt, "session_id": self.id}
        if conversation_id:
            body["conversation_id"] = conversation_id
        async for d in self._c.stream("POST", "/v1/tasks", timeout=timeout or 600.0, json_body=body):
            yield parse_event(d)

    async def close(self) -> None:
        try:
            await self._c.request("DELETE", core.session_path(self.id), session=True)
        except errors.NotFound:
            pass
        finally:
            await self._c.close()

    async def detach(self) -> None:
        await self._c.close()


def _calls(cb: core.Callbacks, ev: Any) -> List[Any]:
    """Dispatches ev to the callbacks, returning what they returned (coroutines to await)."""
    out: List[Any] = []

    def collect(f: Any) -> Any:
        return None if f is None else lambda x: out.append(f(x))

    wrap = core.Callbacks(*(collect(f) for f in (cb.on_stdout, cb.on_stderr, cb.on_result, cb.on_error, cb.on_event)))
    wrap.dispatch(ev)
    return out
