"""A Server-Sent Events reader, as the HTML standard parses them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, List, Optional


@dataclass
class SSE:
    """One event: its id, type and data."""

    id: Optional[str]
    event: str
    data: str


class SSEDecoder:
    """Turns lines into events. Feed it each line without its line ending;
    an empty line ends an event."""

    def __init__(self) -> None:
        self._event = ""
        self._data: List[str] = []
        self._id: Optional[str] = None
        self.last_id: Optional[str] = None

    def feed(self, line: str) -> Optional[SSE]:
        if line == "":
            if not self._data and not self._event:
                return None
            ev = SSE(
                self._id if self._id is not None else self.last_id, self._event or "message", "\n".join(self._data)
            )
            if self._id is not None:
                self.last_id = self._id
            self._event, self._data, self._id = "", [], None
            return ev
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id" and "\0" not in value:
            self._id = value
        return None

    def iter(self, lines: Iterator[str]) -> Iterator[SSE]:
        for line in lines:
            ev = self.feed(line)
            if ev is not None:
                yield ev
