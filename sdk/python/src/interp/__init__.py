"""Interp's Python SDK: run code in sandboxed Python sessions of an Interp
server, keeping state between calls, and give it tasks in plain language.

    import interp

    with interp.Sandbox("http://127.0.0.1:8080", api_key) as sb:
        sb.run_code("import math; r = 2")
        print(sb.run_code("math.pi * r ** 2").text)
"""

from ._async import AsyncFiles, AsyncSandbox
from ._core import Limits
from ._errors import (
    AuthenticationError,
    Conflict,
    ConnectionError,
    InstallError,
    InterpError,
    InvalidRequest,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    QuotaExceeded,
    ServerError,
    SessionNotFound,
    TimeoutError,
)
from ._models import Execution, ExecutionError, Result, parse_event
from ._sync import Files, Sandbox
from ._types import (
    AnswerEvent,
    CodeEvent,
    ConfirmEvent,
    DisplayEvent,
    DoneEvent,
    ErrorEvent,
    ExecutionEvent,
    FileEvent,
    FileInfo,
    InstallEvent,
    MessageEvent,
    ResultEvent,
    SessionInfo,
    StderrEvent,
    StdoutEvent,
    StopEvent,
    TaskEvent,
    ToolEvent,
    Usage,
)

__version__ = "0.1.0"

__all__ = [
    "AsyncFiles",
    "AsyncSandbox",
    "Files",
    "Sandbox",
    "Limits",
    "Execution",
    "ExecutionError",
    "Result",
    "parse_event",
    "InterpError",
    "AuthenticationError",
    "PermissionDenied",
    "NotFound",
    "SessionNotFound",
    "Conflict",
    "InvalidRequest",
    "PayloadTooLarge",
    "QuotaExceeded",
    "InstallError",
    "ServerError",
    "TimeoutError",
    "ConnectionError",
    "AnswerEvent",
    "CodeEvent",
    "ConfirmEvent",
    "DisplayEvent",
    "DoneEvent",
    "ErrorEvent",
    "ExecutionEvent",
    "FileEvent",
    "FileInfo",
    "InstallEvent",
    "MessageEvent",
    "ResultEvent",
    "SessionInfo",
    "StderrEvent",
    "StdoutEvent",
    "StopEvent",
    "TaskEvent",
    "ToolEvent",
    "Usage",
]
