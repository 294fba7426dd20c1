"""Types generated from Interp's OpenAPI document by scripts/gen_types.py: do not edit."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Literal, Optional, Union


@dataclass(frozen=True)
class AnswerEvent:
    """The model's final answer."""

    type: Literal["answer"]
    """answer."""
    step: Optional[int] = None
    """The model's step, from 1."""
    text: Optional[str] = None
    """The answer, whole (its pieces came as message events)."""

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> AnswerEvent:
        """A AnswerEvent from its JSON; fields it does not know are ignored."""
        return cls(
            type=d['type'],
            step=d.get('step'),
            text=d.get('text'),
        )


@dataclass(frozen=True)
class CodeEvent:
    """A piece of code, as the model writes it."""

    step: int
    """The model's step, from 1."""
    text: str
    """The next piece of the code the model is writing; the tool event that follows has it whole."""
    type: Literal["code"]
    """code."""

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> CodeEvent:
        """A CodeEvent from its JSON; fields it does not know are ignored."""
        return cls(
            step=d['step'],
            text=d['text'],
            type=d['type'],
        )


@dataclass(frozen=True)
class ConfirmEvent:
    """In a task started with confirm: code waiting for POST /v1/conversations/{id}/confirm to say run, edit or skip."""

    id: str
    """The question's ID: give it back with the answer, so that an answer cannot go to a later question."""
    step: int
    """The model's step, from 1."""
    text: str
    """The code waiting to run, whole."""
    type: Literal["confirm"]
    """confirm."""

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> ConfirmEvent:
        """A ConfirmEvent from its JSON; fields it does not know are ignored."""
        return cls(
            id=d['id'],
            step=d['step'],
            text=d['text'],
            type=d['type'],
        )


@dataclass(frozen=True)
class DisplayEvent:
    """A rich result: the value of the cell's last expression, a figure, or what display() showed."""

    data: Dict[str, Any]
    """A MIME bundle: MIME type to content. Text types (text/plain, text/html, image/svg+xml) are strings; binary ones (image/png, image/jpeg) are base64 strings; application/json is any JSON."""
    type: Literal["display"]
    """display."""
    cell: Optional[str] = None
    """The ID of the cell that displayed it."""
    metadata: Optional[Dict[str, Any]] = None
    """Metadata by MIME type, as Jupyter's (for example an image's width and height)."""
    step: Optional[int] = None
    """In a task's stream: the step of the model whose code displayed it, from 1."""

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> DisplayEvent:
        """A DisplayEvent from its JSON; fields it does not know are ignored."""
        return cls(
            data=d['data'],
            type=d['type'],
            cell=d.get('cell'),
            metadata=d.get('metadata'),
            step=d.get('step'),
        )


@dataclass(frozen=True)
class DoneEvent:
    """The end of a cell: always the last event of an execution."""

    status: Literal["ok", "error", "interrupted", "timeout", "died", "declined"]
    """How the cell ended: ok; error (it raised); interrupted; timeout (over its time limit); died (the Python process ended: see reason; the next execution restarts it, with the variables gone and the files kept); declined (in a task, the person skipped the code: it never ran)."""
    type: Literal["done"]
    """done."""
    cell: Optional[str] = None
    """The cell's ID."""
    cpu_time: Optional[float] = None
    """CPU time the cell used, in seconds."""
    duration: Optional[float] = None
    """Wall-clock time of the cell, in seconds."""
    execution_count: Optional[int] = None
    """The cell's number in the session, from 1, as Jupyter's In [n]."""
    peak_memory: Optional[int] = None
    """The session's peak memory so far, in bytes."""
    reason: Optional[str] = None
    """Why the cell or the session ended badly, for people: the memory limit, a signal, the time limit."""
    step: Optional[int] = None
    """In a task's stream: the step of the model whose code this was, from 1."""

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> DoneEvent:
        """A DoneEvent from its JSON; fields it does not know are ignored."""
        return cls(
            status=d['status'],
            type=d['type'],
            cell=d.get('cell'),
            cpu_time=d.get('cpu_time'),
            duration=d.get('duration'),
            execution_count=d.get('execution_count'),
            peak_memory=d.get('peak_memory'),
            reason=d.get('reason'),
            step=d.get('step'),
        )


@dataclass(frozen=True)
class ErrorEvent:
    """An exception the code raised, or a failure around it."""

    ename: str
    """The exception's class name, such as ZeroDivisionError or KeyboardInterrupt; WorkspaceQuotaExceeded when the execution left the workspaces over their quota."""
    type: Literal["error"]
    """error."""
    cell: Optional[str] = None
    """The ID of the cell that raised it."""
    evalue: Optional[str] = None
    """The exception's message; absent when it has none."""
    step: Optional[int] = None
    """In a task's stream: the step of the model whose code raised it, from 1."""
    traceback: Optional[List[str]] = None
    """The traceback's lines, the user's own frames only, without terminal colours."""

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> ErrorEvent:
        """A ErrorEvent from its JSON; fields it does not know are ignored."""
        return cls(
            ename=d['ename'],
            type=d['type'],
            cell=d.get('cell'),
            evalue=d.get('evalue'),
            step=d.get('step'),
            traceback=d.get('traceback'),
        )


@dataclass(frozen=True)
class FileEvent:
    """A file of the workspace the code created, modified or deleted."""

    change: Literal["created", "modified", "deleted"]
    """What happened to it."""
    path: str
    """The file's path, relative to the workspace."""
    type: Literal["file"]
    """file."""
    cell: Optional[str] = None
    """The ID of the cell that changed it."""
    size: Optional[int] = None
    """Its size in bytes after the cell; absent when 0 or deleted."""
    step: Optional[int] = None
    """In a task's stream: the step of the model whose code changed it, from 1."""

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> FileEvent:
        """A FileEvent from its JSON; fields it does not know are ignored."""
        return cls(
            change=d['change'],
            path=d['path'],
            type=d['type'],
            cell=d.get('cell'),
            size=d.get('size'),
            step=d.get('step'),
        )


@dataclass(frozen=True)
class InstallEvent:
    """A package install, before the code runs (or after a ModuleNotFoundError)."""

    phase: Literal["resolving", "downloading", "installed", "failed"]
    """Where the install is: resolving what to install, downloading, installed, or failed."""
    type: Literal["install"]
    """install."""
    bytes: Optional[int] = None
    """Bytes downloaded so far, while downloading: of package, or of all the packages in flight when package names several."""
    cell: Optional[str] = None
    """The ID of the cell the install is for."""
    eta: Optional[float] = None
    """While downloading: the estimated seconds left, once a rate is known."""
    message: Optional[str] = None
    """What happened, for people: why an install failed, for one."""
    package: Optional[str] = None
    """The distribution's name on the package index."""
    step: Optional[int] = None
    """In a task's stream: the step of the model whose code needed it, from 1."""
    total: Optional[int] = None
    """While downloading: the whole size in bytes of what bytes counts, when the index said."""
    version: Optional[str] = None
    """The version installed, once known."""

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> InstallEvent:
        """A InstallEvent from its JSON; fields it does not know are ignored."""
        return cls(
            phase=d['phase'],
            type=d['type'],
            bytes=d.get('bytes'),
            cell=d.get('cell'),
            eta=d.get('eta'),
            message=d.get('message'),
            package=d.get('package'),
            step=d.get('step'),
            total=d.get('total'),
            version=d.get('version'),
        )


@dataclass(frozen=True)
class MessageEvent:
    """A piece of the model's text, as it streams."""

    step: int
    """The model's step, from 1."""
    text: str
    """The next piece of the model's text: join the pieces of a step to get its message."""
    type: Literal["message"]
    """message."""

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> MessageEvent:
        """A MessageEvent from its JSON; fields it does not know are ignored."""
        return cls(
            step=d['step'],
            text=d['text'],
            type=d['type'],
        )


@dataclass(frozen=True)
class ResultEvent:
    """How the task ended: always the last event of a task."""

    conversation_id: str
    """The conversation the task is recorded in: give it to the next task to continue."""
    session_id: str
    """The session the code ran in."""
    steps: int
    """How many times the model was called."""
    stop: str
    """Why the task ended: answer, max_steps, max_failures, repeated_error, token_budget, stopped, refused (a quota, such as the workspace's, refused more code), provider_error, or failed."""
    type: Literal["result"]
    """result."""
    usage: Usage
    """The tokens the task used."""
    answer: Optional[str] = None
    """The model's final answer."""
    reason: Optional[str] = None
    """Why, for people, when the task ended without an answer."""
    task_id: Optional[str] = None
    """The task's ID in the history."""

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> ResultEvent:
        """A ResultEvent from its JSON; fields it does not know are ignored."""
        return cls(
            conversation_id=d['conversation_id'],
            session_id=d['session_id'],
            steps=d['steps'],
            stop=d['stop'],
            type=d['type'],
            usage=Usage.from_dict(d['usage']),
            answer=d.get('answer'),
            reason=d.get('reason'),
            task_id=d.get('task_id'),
        )


@dataclass(frozen=True)
class StderrEvent:
    """Text the code wrote to standard error."""

    text: str
    """The text, as it was written: a piece of a line, or several lines."""
    type: Literal["stderr"]
    """stderr."""
    cell: Optional[str] = None
    """The ID of the cell that wrote it."""
    step: Optional[int] = None
    """In a task's stream: the step of the model whose code wrote it, from 1."""

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> StderrEvent:
        """A StderrEvent from its JSON; fields it does not know are ignored."""
        return cls(
            text=d['text'],
            type=d['type'],
            cell=d.get('cell'),
            step=d.get('step'),
        )


@dataclass(frozen=True)
class StdoutEvent:
    """Text the code wrote to standard output."""

    text: str
    """The text, as it was written: a piece of a line, or several lines."""
    type: Literal["stdout"]
    """stdout."""
    cell: Optional[str] = None
    """The ID of the cell that wrote it."""
    step: Optional[int] = None
    """In a task's stream: the step of the model whose code wrote it, from 1."""

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> StdoutEvent:
        """A StdoutEvent from its JSON; fields it does not know are ignored."""
        return cls(
            text=d['text'],
            type=d['type'],
            cell=d.get('cell'),
            step=d.get('step'),
        )


@dataclass(frozen=True)
class StopEvent:
    """The task ended without an answer."""

    type: Literal["stop"]
    """stop."""
    reason: Optional[str] = None
    """Why, for people."""
    status: Optional[str] = None
    """Why, as a word: max_steps, max_failures, repeated_error, token_budget, stopped, refused or provider_error (as the result event's stop)."""
    step: Optional[int] = None
    """The last step, from 1."""

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> StopEvent:
        """A StopEvent from its JSON; fields it does not know are ignored."""
        return cls(
            type=d['type'],
            reason=d.get('reason'),
            status=d.get('status'),
            step=d.get('step'),
        )


@dataclass(frozen=True)
class ToolEvent:
    """A tool call about to run, with its whole code (again, with the edit, when the person edited it)."""

    step: int
    """The model's step, from 1."""
    tool: str
    """The tool's name: run_python."""
    type: Literal["tool"]
    """tool."""
    packages: Optional[List[str]] = None
    """Packages the model asked to install first."""
    text: Optional[str] = None
    """The code about to run, whole."""

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> ToolEvent:
        """A ToolEvent from its JSON; fields it does not know are ignored."""
        return cls(
            step=d['step'],
            tool=d['tool'],
            type=d['type'],
            packages=d.get('packages'),
            text=d.get('text'),
        )


@dataclass(frozen=True)
class SessionInfo:
    """SessionInfo"""

    cell_timeout: float
    """Time limit of one execution, in seconds."""
    created_at: str
    id: str
    """The session's ID."""
    last_used_at: str
    memory: int
    """Memory limit in bytes, workspace files included."""
    status: Literal["idle", "busy", "dead"]
    """idle: ready for code; busy: running code; dead: its Python process ended (restart it)."""
    conversation_id: Optional[str] = None
    """The history conversation its executions are recorded in, once it ran code."""
    python: Optional[str] = None
    """The Python version."""

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> SessionInfo:
        """A SessionInfo from its JSON; fields it does not know are ignored."""
        return cls(
            cell_timeout=d['cell_timeout'],
            created_at=d['created_at'],
            id=d['id'],
            last_used_at=d['last_used_at'],
            memory=d['memory'],
            status=d['status'],
            conversation_id=d.get('conversation_id'),
            python=d.get('python'),
        )


@dataclass(frozen=True)
class FileInfo:
    """FileInfo"""

    mode: str
    mtime: int
    path: str
    """The path, relative to the workspace. A name that is not valid UTF-8 (code can make such names) shows U+FFFD for its invalid bytes here: use path_b64 to name it."""
    size: int
    is_dir: Optional[bool] = None
    path_b64: Optional[str] = None
    """Only for a name that is not valid UTF-8: its bytes, in standard base64. Give it as path_b64 to download or delete the file."""

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> FileInfo:
        """A FileInfo from its JSON; fields it does not know are ignored."""
        return cls(
            mode=d['mode'],
            mtime=d['mtime'],
            path=d['path'],
            size=d['size'],
            is_dir=d.get('is_dir'),
            path_b64=d.get('path_b64'),
        )


@dataclass(frozen=True)
class FileWritten:
    """FileWritten"""

    path: str
    """Where the file is, relative to the workspace."""
    size: int
    """Its size in bytes."""

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> FileWritten:
        """A FileWritten from its JSON; fields it does not know are ignored."""
        return cls(
            path=d['path'],
            size=d['size'],
        )


@dataclass(frozen=True)
class Usage:
    """Usage"""

    input_tokens: int
    output_tokens: int
    estimated: Optional[bool] = None

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> Usage:
        """A Usage from its JSON; fields it does not know are ignored."""
        return cls(
            input_tokens=d['input_tokens'],
            output_tokens=d['output_tokens'],
            estimated=d.get('estimated'),
        )


@dataclass(frozen=True)
class InterruptResult:
    """InterruptResult"""

    interrupted: bool
    """Whether code was running and got KeyboardInterrupt."""

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> InterruptResult:
        """A InterruptResult from its JSON; fields it does not know are ignored."""
        return cls(
            interrupted=d['interrupted'],
        )


ExecutionEvent = Union[DisplayEvent, DoneEvent, ErrorEvent, FileEvent, InstallEvent, StderrEvent, StdoutEvent]
"""One event of an execution: what a cell did, as it happened. The type tells which."""

TaskEvent = Union[AnswerEvent, CodeEvent, ConfirmEvent, DisplayEvent, DoneEvent, ErrorEvent, FileEvent, InstallEvent, MessageEvent, ResultEvent, StderrEvent, StdoutEvent, StopEvent, ToolEvent]
"""One event of a task: the model's messages and code, the events of the code it ran, and the result last. The type tells which."""


EVENT_TYPES: Dict[str, Any] = {
    'answer': AnswerEvent,
    'code': CodeEvent,
    'confirm': ConfirmEvent,
    'display': DisplayEvent,
    'done': DoneEvent,
    'error': ErrorEvent,
    'file': FileEvent,
    'install': InstallEvent,
    'message': MessageEvent,
    'result': ResultEvent,
    'stderr': StderrEvent,
    'stdout': StdoutEvent,
    'stop': StopEvent,
    'tool': ToolEvent,
}
"""Each event type's class, by the type field."""
