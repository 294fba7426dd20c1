"""What an execution returns: output, rich results and the error."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from ._types import DisplayEvent, DoneEvent, ErrorEvent, EVENT_TYPES, FileEvent, InstallEvent


def parse_event(d: Dict[str, Any]) -> Any:
    """The typed event of a stream's JSON object; an unknown type stays a dict."""
    cls = EVENT_TYPES.get(d.get("type", ""))
    return cls.from_dict(d) if cls is not None else d


@dataclass(frozen=True)
class Result:
    """A rich result: a MIME bundle, as Jupyter's display data."""

    data: Dict[str, Any]
    metadata: Dict[str, Any] = field(default_factory=dict)

    @property
    def text(self) -> Optional[str]:
        """text/plain: the value's repr."""
        return self.data.get("text/plain")

    @property
    def html(self) -> Optional[str]:
        """text/html, as pandas tables come."""
        return self.data.get("text/html")

    @property
    def markdown(self) -> Optional[str]:
        return self.data.get("text/markdown")

    @property
    def svg(self) -> Optional[str]:
        return self.data.get("image/svg+xml")

    @property
    def png(self) -> Optional[bytes]:
        """image/png, decoded: figures come as PNG."""
        v = self.data.get("image/png")
        return base64.b64decode(v) if v else None

    @property
    def jpeg(self) -> Optional[bytes]:
        v = self.data.get("image/jpeg")
        return base64.b64decode(v) if v else None

    @property
    def json(self) -> Any:
        """application/json, as its value."""
        v = self.data.get("application/json")
        return json.loads(v) if isinstance(v, str) else v

    @property
    def formats(self) -> List[str]:
        """The MIME types the result comes in."""
        return list(self.data)

    def __getitem__(self, mime: str) -> Any:
        return self.data[mime]


@dataclass(frozen=True)
class ExecutionError:
    """The exception a cell raised."""

    name: str
    value: str
    traceback: List[str]

    def __str__(self) -> str:
        return f"{self.name}: {self.value}" if self.value else self.name


@dataclass
class Execution:
    """What running code did: its output, results, error and how it ended."""

    stdout: str = ""
    stderr: str = ""
    results: List[Result] = field(default_factory=list)
    error: Optional[ExecutionError] = None
    status: str = ""
    """ok, error, interrupted, timeout or died."""
    reason: str = ""
    """Why it ended badly, for people (a time or memory limit)."""
    duration: float = 0.0
    """Seconds the cell ran."""
    execution_count: int = 0
    files: List[FileEvent] = field(default_factory=list)
    """The files the code created, modified or deleted."""
    installs: List[InstallEvent] = field(default_factory=list)
    events: List[Any] = field(default_factory=list)
    """Every event, in order, done last."""

    @property
    def text(self) -> Optional[str]:
        """The text of the last result: the value of the last expression, as a rule."""
        return self.results[-1].text if self.results else None

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def add(self, ev: Any) -> None:
        """Takes in the next event."""
        self.events.append(ev)
        t = getattr(ev, "type", None)
        if t == "stdout":
            self.stdout += ev.text
        elif t == "stderr":
            self.stderr += ev.text
        elif isinstance(ev, DisplayEvent):
            self.results.append(Result(ev.data, ev.metadata or {}))
        elif isinstance(ev, ErrorEvent):
            self.error = ExecutionError(ev.ename, ev.evalue or "", list(ev.traceback or []))
        elif isinstance(ev, FileEvent):
            self.files.append(ev)
        elif isinstance(ev, InstallEvent):
            self.installs.append(ev)
        elif isinstance(ev, DoneEvent):
            self.status = ev.status
            self.reason = ev.reason or ""
            self.duration = ev.duration or 0.0
            self.execution_count = ev.execution_count or 0
