"""Interp's in-sandbox kernel: the "runner".

One long-lived Python process that runs cells of user code in one persistent
namespace (like a Jupyter kernel) and reports to the Go side over a framed
JSON protocol. Only the standard library is imported at start-up. IPython is
used when importable (unless INTERP_RUNNER_NO_IPYTHON is set to a non-empty
value); otherwise a plain-Python executor with the same protocol. Python 3.9+.
Start it as a script: `python [-I] .../runner.py`, with the workspace as the
working directory.

Protocol, version 1
===================

File descriptors
  3: requests, Go -> runner.        4: events, runner -> Go.
  0: /dev/null.                     1, 2: raw OS-level stdout/stderr pipes.
  Raw fds 1/2 carry, unframed: output of subprocesses and C code, Python
  output written while no cell runs (e.g. by background threads), and output
  of forked children. fds 3 and 4 are kept close-on-exec (subprocesses do not
  inherit them); they are made inheritable only for a restart's exec.

Framing, both directions
  4-byte big-endian unsigned length, then that many bytes of UTF-8 JSON
  holding one object. Frames over 64 MiB are rejected. Event JSON is always
  valid UTF-8 (lone surrogates in text become backslash escapes such as
  "\\udcff"), floats are finite, keys are strings.

Lifecycle
  When ready (after IPython, if used, is loaded) the runner sends
    {"type":"hello","protocol":1,"python":"3.11.2","ipython":true,"pid":123}
  Requests are handled one at a time, in order; fd 3 is not read while a
  cell runs (interrupt with SIGINT, see below).

Requests
  {"type":"execute","id":ID,"code":CODE,"max_image_bytes":N,"name":NAME,"count":C}
      ID and CODE strings; max_image_bytes optional (default 10 MiB); NAME
      optional, what tracebacks call the cell (a file's name) instead of
      In[N]; C optional, an integer >= 1: this cell is In[C] and the ones
      after it go on from there (a resumed conversation's numbering).
  {"type":"preload","id":ID,"modules":["numpy", ...]}
      Imports the modules (binding no names, not counted as a cell), e.g. to
      warm a pooled runner. Output during it is sent as stream events with ID;
      it ends with {"type":"done","id":ID,"status":"ok"|"error"|"interrupted",
      "cpu_time":S,"peak_memory":B}, plus "message" naming what failed.
  {"type":"analyze","id":ID,"code":CODE}
      Finds the imports of CODE without running it, with Python's own ast
      (IPython syntax is transformed first; %pip/!pip lines are reported,
      not parsed). Answered by one
        {"type":"imports","id":ID,"imports":[IMPORT, ...],"pip":[[ARG, ...], ...],
         "error":TEXT}
      where IMPORT is {"module":DOTTED,"top":NAME,"line":N,"status":S,
      "group":G,"fallback":BOOL}: S is "stdlib", "installed", "local" (a
      file or directory in the working directory) or "missing"; imports in
      one try statement whose handler catches ImportError share a group
      G > 0, with those in the handler marked fallback (G is 0 elsewhere).
      "error" is set, and "imports" empty, when CODE does not parse.
  {"type":"restart"}
      Sends all pending events, then re-execs the same interpreter with the
      same arguments, the environment and working directory the runner
      started with; the new process sends a new hello. Nothing else is sent.
  {"type":"shutdown"}
      Sends all pending events, runs atexit handlers, exits with status 0.
      EOF on fd 3 does the same.
  Anything else is answered with
      {"type":"protocol_error","message":TEXT}  (plus "id" if the request had
      a string id) and the runner carries on. A malformed execute (missing id
      or code) gets a protocol_error and no done.

Events of an execute; each carries the request's "id"
  {"type":"stream","id":ID,"name":"stdout"|"stderr","text":TEXT}
      sys.stdout/sys.stderr. Sent live: within ~50 ms of a write, at once
      when a line ends; consecutive writes are coalesced into one event.
  {"type":"display","id":ID,"data":{MIME:VALUE},"metadata":{...}}
      A rich output: the value of the cell's last expression (unless None or
      the cell ends with ";"), display(...) calls (display is in the user
      namespace without IPython; with IPython, IPython.display.display), and
      matplotlib figures (every figure still open after the cell, or at
      plt.show(), as image/png with text/plain such as
      "<Figure size 640x480 with 1 Axes>"; the figures are then closed).
      "text/plain" is always present. Binary types (image/png, image/jpeg,
      image/gif, application/pdf, ...) are base64 strings; application/json
      and */*+json are JSON values; others strings. An image (or other binary)
      value larger than max_image_bytes is left out, and a stderr stream event
      comes first instead, e.g.
        "[interp: image/png output of 12.3 MB omitted: over the 10 MB limit]\\n"
      (MB are MiB; small sizes read "56.2 KB" or "10 bytes"). A bundle that
      would exceed the frame limit is cut to text/plain, with a similar note.
  {"type":"error","id":ID,"ename":"ZeroDivisionError","evalue":"division by zero",
   "traceback":[LINE, ...]}
      At most one per execute: the exception that ended the cell. The lines
      are plain text (no ANSI colours, no trailing newlines; join with "\\n")
      in Python's traceback format, with the user's frames shown as IPython
      does: "Cell In[N], line L" (N the execution count; ", in f" for a
      function's frame), or 'File "NAME", line L, in <module>' for a cell
      given a NAME, or 'File "helper.py", line L, in f' for a file of the
      working directory, then the line marked "-->" among up to two lines either side,
      numbered. The user's frames are those of cells and of files in the
      working directory; runs of other frames (the standard library,
      installed packages) become one line, "[3 frames in pandas]", and the
      runner's and IPython's own frames are left out. A SyntaxError in the
      cell has only the exception part (Cell In[N], line L; the
      evalue also names the line). Exceptions that do not end the cell (e.g. a
      failing _repr_html_) are written to stderr instead.
  {"type":"done","id":ID,"status":"ok"|"error"|"interrupted","execution_count":N,
   "cpu_time":SECONDS,"peak_memory":BYTES}
      Exactly one per execute, always the last event with that id, also when
      the runner itself fails (then status "error" and an error event whose
      traceback starts with "interp runner internal error"). cpu_time is
      user+system time of the runner and its waited-for children during the
      cell; peak_memory is the runner's peak resident set size in bytes so far
      (VmHWM; like ru_maxrss but without what Linux carries over an exec from
      the spawning process or from before a restart). execution_count
      is the cell's N; a blank cell runs nothing and reports the previous N.

Status
  "interrupted": KeyboardInterrupt ended the cell (error event ename
  "KeyboardInterrupt"). SystemExit (sys.exit(), exit()) does not end the
  runner: with code None or 0 the cell counts as "ok" and no error event is
  sent; any other code gives an error event (ename "SystemExit") and "error".

Interrupts
  SIGINT while a cell runs raises KeyboardInterrupt in the user's code (code
  that is stuck in C may only notice when it returns to Python; escalate with
  SIGKILL if needed). SIGINT that arrives between cells is ignored; one that
  arrives while a cell is being set up interrupts that cell. The runner puts
  its SIGINT handler back after every cell.

Environment
  INTERP_SITE, if set, names a directory of packages installed for this
  session; it goes on sys.path after the standard library and before the
  base environment, and import
  caches are invalidated before every cell so new installs are seen.
  The runner sets MPLBACKEND=Agg (always) and IPYTHONDIR (if unset, to
  $TMPDIR/interp-ipython-<uid>) so no GUI is opened and nothing is written to
  ~/.ipython; IPython's history database is disabled. The working directory
  is put first on sys.path (and the runner's own directory removed), so user
  modules in the workspace import even under -I. sys.stdout and sys.stderr
  are reset to the runner's streams at the start of every cell.
"""

# Start-up cost matters (a cold runner should cost only a few ms more than
# `python -c pass`), so only C modules and modules Python has already loaded
# are imported here. `json`, `signal`, `threading`, `ast`, `linecache` and
# `traceback` would pull in `re` and `enum`; their C cores are used instead,
# and `traceback`/`linecache` are imported when first needed.
import _ast
import _signal
import _thread
import binascii
import builtins
import io
import os
import resource
import sys
import warnings
from time import monotonic as _monotonic, sleep as _sleep

_PROTOCOL = 1
_MAX_FRAME = 64 << 20  # largest frame either side may send
_DEFAULT_MAX_IMAGE = 10 << 20
_CHUNK = 64 << 10  # characters of stream text that trigger a send
_PIECE = 1 << 20  # most characters of text in one stream event
_FLUSH_DELAY = 0.05  # seconds a partial line may wait before it is sent
_HIGH_WATER = 8 << 20  # queued output at which writers wait for the pipe
_LOW_WATER = 2 << 20
_WRITE_SIZE = 1 << 20  # bytes of frames per write
_CO_COROUTINE = 0x80  # inspect.CO_COROUTINE
_REQ_FD = 3
_EVT_FD = 4

# Frames of this file are hidden from user tracebacks.
_RUNNER_FILE = (lambda: None).__code__.co_filename


# --------------------------------------------------------------------- JSON


def _json_default(obj):
    """Make an object the JSON encoder does not know JSON-able."""
    tolist = getattr(obj, "tolist", None)  # numpy scalars and arrays
    if tolist is not None and callable(tolist):
        return tolist()
    if isinstance(obj, (set, frozenset)):
        return list(obj)
    if isinstance(obj, (bytes, bytearray, memoryview)):
        return bytes(obj).decode("utf-8", "replace")
    return str(obj)


def _make_json():
    """Return (dumps, loads) built on the C accelerator `_json`.

    Importing `json` costs a few ms (it imports `re`); `_json` costs nothing.
    The result is checked, and `json` is used if `_json` behaves differently
    in this Python version.
    """
    try:
        import _json

        class _Context:
            strict = True
            object_hook = None
            object_pairs_hook = None
            parse_float = float
            parse_int = int
            memo = {}

            @staticmethod
            def parse_constant(name):
                raise ValueError("invalid JSON constant " + name)

        scan = _json.make_scanner(_Context())
        encode = _json.make_encoder(None, _json_default, _json.encode_basestring, None, ":", ",", False, False, False)

        def dumps(obj):
            return "".join(encode(obj, 0))

        def loads(text):
            text = text.strip(" \t\r\n")
            try:
                obj, end = scan(text, 0)
            except Exception:
                # The C scanner reports errors well only once json.decoder
                # is loaded; let the json module say what is wrong.
                import json

                return json.loads(text)
            if end != len(text):
                raise ValueError("extra data after the JSON value")
            return obj

        sample = {"a": [1, 2.5, "\u00e9\n", None, True, {}]}
        wire = '{"a":[1,2.5,"\u00e9\\n",null,true,{}]}'
        if dumps(sample) != wire or loads(" " + wire) != sample:
            raise ValueError("unexpected _json behaviour")
        return dumps, loads
    except Exception:
        import json

        def dumps(obj):
            return json.dumps(obj, ensure_ascii=False, allow_nan=False, separators=(",", ":"), default=_json_default)

        return dumps, json.loads


_dumps, _loads = _make_json()


def _fix_text(text):
    """A str that encodes as UTF-8: lone surrogates become backslash escapes."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _json_key(key):
    if isinstance(key, str):
        return _fix_text(key)
    if key is None or key is True or key is False:
        return "null" if key is None else ("true" if key else "false")
    if isinstance(key, (int, float)):
        return repr(key)
    return _fix_text(_safe_str(key))


def _sanitize(obj, depth=0):
    """A copy of obj that JSON-encodes as valid UTF-8 without NaN/Infinity."""
    if isinstance(obj, str):
        return _fix_text(obj)
    if obj is None or obj is True or obj is False:
        return obj
    if isinstance(obj, int):
        return int(obj)
    if isinstance(obj, float):
        return float(obj) if obj - obj == 0.0 else None  # inf - inf and nan - nan are nan
    if depth > 100:
        return _fix_text(_safe_str(obj))
    if isinstance(obj, dict):
        return {_json_key(k): _sanitize(v, depth + 1) for k, v in list(obj.items())}
    if isinstance(obj, (list, tuple)):
        return [_sanitize(v, depth + 1) for v in obj]
    try:
        return _sanitize(_json_default(obj), depth + 1)
    except Exception:
        return "<unserializable %s object>" % type(obj).__name__


def _encode_frame(event):
    """Length-prefixed UTF-8 JSON for one event."""
    try:
        body = _dumps(event).encode("utf-8")
    except Exception:  # lone surrogates, NaN, unknown objects, cycles
        body = _dumps(_sanitize(event)).encode("utf-8")
    return len(body).to_bytes(4, "big") + body


def _safe_str(obj):
    try:
        return str(obj)
    except BaseException:
        return "<unprintable %s object>" % type(obj).__name__


def _raw_write(fd, text):
    """Write text straight to an OS-level fd (1 or 2), ignoring failures."""
    data = text.encode("utf-8", "backslashreplace")
    try:
        while data:
            data = data[os.write(fd, data) :]
    except OSError:
        pass


# ------------------------------------------------------------ event channel


class _Channel:
    """Events to fd 4.

    Every frame is written by one writer thread, never by the main thread:
    the SIGINT handler raises KeyboardInterrupt in the main thread at
    arbitrary points, which could cut a frame in half. Producers (any thread)
    only append to a queue under a lock. Stream text is coalesced into an
    open chunk that the writer sends when a line ends, when it reaches
    _CHUNK characters, or _FLUSH_DELAY after its first write.
    """

    def __init__(self, fd):
        self.fd = fd
        self._reset()

    def _reset(self):
        # RLock: a __del__ or signal handler that prints can run while this
        # very thread holds the lock (e.g. the garbage collector kicks in).
        self.lock = _thread.RLock()
        self.wake = _thread.allocate_lock()  # released to wake the writer
        self.wake.acquire()
        self.cell = None  # id of the running cell; None between cells
        self.raw = False  # forked child: all text goes to fds 1/2
        self.queue = []  # frames (bytes) and closed stream chunks (tuples)
        self.queued = 0  # characters/bytes in queue + open chunk
        self.inflight = False
        self.writer_ident = None
        self.idle = False  # writer is waiting on self.wake
        self.force = False  # send the open chunk now (stream.flush())
        self.sname = None  # the open stream chunk: stream name, cell, parts
        self.scell = None
        self.sparts = []
        self.ssize = 0
        self.snl = False  # open chunk has a newline
        self.sfirst = 0.0  # when its first part was written

    def start(self):
        _thread.start_new_thread(self._writer, ())

    def after_fork_in_child(self):
        # The writer thread does not exist in a forked child, and the locks
        # may have been held at fork time: start afresh, writing raw text.
        self._reset()
        self.raw = True

    def _wake_writer(self):  # lock held
        if self.idle:
            self.idle = False
            try:
                self.wake.release()
            except RuntimeError:  # already released
                pass

    def _close_chunk(self):  # lock held
        parts = self.sparts
        if parts:
            self.sparts = []
            self.ssize = 0
            self.snl = False
            self.queue.append((self.scell, self.sname, "".join(parts)))

    def begin_cell(self, cell):
        with self.lock:
            self.cell = cell

    def stream(self, name, text):
        """Queue stream text of the running cell (any thread)."""
        with self.lock:
            cell = self.cell
            if cell is not None:
                if self.sparts and (name != self.sname or cell != self.scell):
                    self._close_chunk()
                self.sname = name
                self.scell = cell
                parts = self.sparts
                wake = not parts
                if wake:
                    self.sfirst = _monotonic()
                parts.append(text)
                n = len(text)
                self.ssize += n
                self.queued += n
                if "\n" in text:
                    self.snl = wake = True
                if self.ssize >= _CHUNK:
                    self._close_chunk()
                    wake = True
                if wake:
                    self._wake_writer()
                if self.queued < _HIGH_WATER:
                    return
        if cell is None:
            _raw_write(2 if name == "stderr" else 1, text)
        else:
            self._wait_for_room()

    def _wait_for_room(self):
        # Go is not reading fd 4 fast enough: hold the writing thread back
        # instead of buffering without bound. Polls; this is rare.
        if _thread.get_ident() == self.writer_ident:
            return  # e.g. a __del__ that prints, run by the writer thread
        while self.queued > _LOW_WATER and not self.raw:
            _sleep(0.005)

    def request_flush(self):
        with self.lock:
            if self.sparts:
                self.force = True
                self._wake_writer()

    def send(self, frame, cell=None):
        """Queue an encoded frame. With a cell id, only if that cell still runs."""
        with self.lock:
            if cell is not None and cell != self.cell:
                return False
            self._close_chunk()
            self.queue.append(frame)
            self.queued += len(frame)
            self._wake_writer()
        return True

    def finish_cell(self, frame):
        """Queue the done frame; later output from threads goes to raw fds."""
        with self.lock:
            self._close_chunk()
            self.queue.append(frame)
            self.queued += len(frame)
            self.cell = None
            self._wake_writer()

    def drain(self, timeout=30.0):
        """Wait until everything queued has been written."""
        deadline = _monotonic() + timeout
        while _monotonic() < deadline:
            with self.lock:
                if not (self.queue or self.sparts or self.inflight) or self.raw:
                    return
                self.force = True
                self._wake_writer()
            _sleep(0.0005)

    def _due(self):  # lock held; 0: send now, -1: wait for a wake-up, else seconds
        if self.queue or self.force:
            return 0
        if self.sparts:
            if self.snl:
                return 0
            left = _FLUSH_DELAY - (_monotonic() - self.sfirst)
            return 0 if left <= 0 else left
        return -1

    def _writer(self):
        self.writer_ident = _thread.get_ident()
        while True:
            try:
                self._write_pending()
            except Exception:  # a runner bug: lose this batch, keep the channel
                try:
                    import traceback

                    _raw_write(2, "interp runner: event writer error:\n" + traceback.format_exc())
                    with self.lock:
                        self.inflight = False
                except Exception:
                    pass

    def _write_pending(self):
        """Wait until output is due, then write it all (writer thread)."""
        while True:
            with self.lock:
                self.idle = False
                due = self._due()
                if due:
                    self.idle = True
                else:
                    self._close_chunk()
                    batch = self.queue
                    self.queue = []
                    self.force = False
                    self.inflight = True
            if due:
                self.wake.acquire(True, due)
                continue
            break
        if not batch:
            with self.lock:
                self.inflight = False
            return
        # Encode and write in pieces of about _WRITE_SIZE, so a big backlog
        # does not exist twice more in memory as JSON.
        out = []
        out_size = 0
        for index, item in enumerate(batch):
            batch[index] = None
            if type(item) is tuple:
                cell, name, text = item
                for i in range(0, len(text), _PIECE):
                    event = {"type": "stream", "id": cell, "name": name, "text": text[i : i + _PIECE]}
                    out.append(_encode_frame(event))
                    out_size += len(out[-1])
                    if out_size >= _WRITE_SIZE:
                        self._write(out)
                        out, out_size = [], 0
                size = len(text)
            else:
                out.append(item)
                out_size += len(item)
                size = len(item)
            if out_size >= _WRITE_SIZE:
                self._write(out)
                out, out_size = [], 0
            with self.lock:
                self.queued -= size
        if out:
            self._write(out)
        with self.lock:
            self.inflight = False

    def _write(self, frames):
        data = frames[0] if len(frames) == 1 else b"".join(frames)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(self.fd, view) :]
        except OSError:
            # Go closed its end (or fd 4 was closed under us): nobody is
            # listening any more.
            os._exit(0)


_CH = _Channel(_EVT_FD)


# ------------------------------------------------------------------ streams


class _Stream(io.TextIOBase):
    """sys.stdout / sys.stderr: text becomes stream events of the running cell."""

    encoding = "utf-8"
    errors = "backslashreplace"
    newlines = None
    line_buffering = True
    write_through = True
    mode = "w"

    def __init__(self, name, fd):
        self.name = "<%s>" % name
        self._stream = name
        self._fd = fd
        self._buffer = None

    def __repr__(self):
        return "<interp stream %s>" % self.name

    def write(self, s):
        if not isinstance(s, str):
            raise TypeError("write() argument must be str, not %s" % type(s).__name__)
        if s:
            was = _shield()
            try:
                if _CH.raw:
                    _raw_write(self._fd, s)
                else:
                    _CH.stream(self._stream, s)
            finally:
                _unshield(was)
        return len(s)

    def flush(self):
        if not _CH.raw:
            was = _shield()
            try:
                _CH.request_flush()
            finally:
                _unshield(was)

    def close(self):
        # Closing sys.stdout would leave every later cell without output.
        self.flush()

    def fileno(self):
        # The OS-level fd: C code, faulthandler and subprocesses writing to
        # it reach the Go side's raw stdout/stderr pipe.
        return self._fd

    def isatty(self):
        return False

    def readable(self):
        return False

    def writable(self):
        return True

    def seekable(self):
        return False

    def reconfigure(self, **kwargs):
        pass

    @property
    def buffer(self):
        if self._buffer is None:
            self._buffer = _BinaryStream(self)
        return self._buffer


class _BinaryStream(io.BufferedIOBase):
    """sys.stdout.buffer: bytes are decoded as UTF-8 (invalid bytes replaced)."""

    def __init__(self, text_stream):
        self._text = text_stream
        self._decoder = None
        self.name = text_stream.name
        self.mode = "wb"

    def write(self, b):
        view = memoryview(b)
        if self._decoder is None:
            import codecs

            self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        text = self._decoder.decode(view.tobytes())
        if text:
            self._text.write(text)
        return view.nbytes

    def flush(self):
        self._text.flush()

    def close(self):
        self.flush()

    def fileno(self):
        return self._text.fileno()

    def isatty(self):
        return False

    def writable(self):
        return True


_STDOUT = _Stream("stdout", 1)
_STDERR = _Stream("stderr", 2)


# ---------------------------------------------------------- cell state, SIGINT


class _S:
    """Per-process runner state (a namespace, never instantiated)."""

    cell = None  # id of the running execute request
    busy = False  # user code is running: SIGINT raises KeyboardInterrupt
    pending_sigint = False  # SIGINT came while the cell was being set up
    error_sent = False
    max_image = _DEFAULT_MAX_IMAGE
    backend = None
    status_fd = None  # /proc/self/status, for peak memory
    site_mtime = None  # of INTERP_SITE, when there is one
    hidden_prefixes = ()  # source directories hidden in tracebacks (IPython's)
    cell_name = None  # the running execute's NAME
    workdir = None  # the working directory at start: its files are the user's


def _on_sigint(signum, frame):
    if _S.busy:
        raise KeyboardInterrupt
    if _S.cell is not None:
        _S.pending_sigint = True
    # Between cells: ignored. os.read on fd 3 restarts by itself (PEP 475).


def _enter_user():
    _S.busy = True
    if _S.pending_sigint:
        _S.pending_sigint = False
        _S.busy = False
        raise KeyboardInterrupt


def _leave_user():
    _S.busy = False


def _shield():
    """Defer KeyboardInterrupt while runner code holds its locks.

    A KeyboardInterrupt raised between taking a lock and entering the
    with-block would leave the lock held for ever, and the cell could then
    never report back. The interrupt is raised in _unshield instead.
    """
    was = _S.busy
    _S.busy = False
    return was


def _unshield(was):
    _S.busy = was
    if was and _S.pending_sigint:
        _S.pending_sigint = False
        raise KeyboardInterrupt


# ------------------------------------------------------------------ display


_BINARY_MIMES = frozenset(
    ("image/png", "image/jpeg", "image/gif", "image/webp", "image/bmp", "image/tiff", "application/pdf")
)


def _fmt_size(n):
    """12.3 MB (MiB really), 10 MB, 56.2 KB, 10 bytes."""
    if n >= 104858:
        value, unit = n / 1048576.0, "MB"
    elif n >= 1024:
        value, unit = n / 1024.0, "KB"
    else:
        return "%d bytes" % n
    text = "%.1f" % value
    return (text[:-2] if text.endswith(".0") else text) + " " + unit


def _clean_bundle(data, limit):
    """Protocol form of a MIME bundle, and notes about left-out images."""
    out = {}
    notes = []
    for mime, value in data.items():
        if not isinstance(mime, str) or value is None:
            continue
        limited = mime in _BINARY_MIMES or mime.startswith("image/")
        if mime in _BINARY_MIMES:
            if isinstance(value, (bytes, bytearray, memoryview)):
                raw = bytes(value)
                size = len(raw)
                value = None if size > limit else binascii.b2a_base64(raw, newline=False).decode("ascii")
            elif isinstance(value, str):  # already base64
                value = value.replace("\n", "")
                size = len(value) * 3 // 4
            else:
                continue
        elif mime == "application/json" or mime.endswith("+json"):
            size = 0
        else:
            if isinstance(value, (bytes, bytearray)):
                value = bytes(value).decode("utf-8", "replace")
            elif not isinstance(value, str):
                value = _safe_str(value)
            size = len(value)
        if limited and size > limit:
            notes.append(
                "[interp: %s output of %s omitted: over the %s limit]\n" % (mime, _fmt_size(size), _fmt_size(limit))
            )
            continue
        out[mime] = value
    if "text/plain" not in out:
        out["text/plain"] = "<%s output>" % ", ".join(m for m in data if isinstance(m, str))
    return out, notes


def _publish(data, metadata=None):
    """Send a MIME bundle as a display event of the running cell (any thread)."""
    if not isinstance(data, dict):
        raise TypeError("display data must be a dict, not %s" % type(data).__name__)
    cell = _CH.cell
    if cell is None:  # between cells (a background thread): plain text, raw
        text = data.get("text/plain")
        if text:
            _raw_write(1, _safe_str(text) + "\n")
        return
    data, notes = _clean_bundle(data, _S.max_image)
    for note in notes:
        _CH.stream("stderr", note)
    md = metadata if isinstance(metadata, dict) else {}
    frame = _encode_frame({"type": "display", "id": cell, "data": data, "metadata": md})
    if len(frame) > _MAX_FRAME:
        text = data.get("text/plain", "")
        _CH.stream(
            "stderr",
            "[interp: display output of %s omitted: over the 64 MB frame limit]\n" % _fmt_size(len(frame)),
        )
        frame = _encode_frame({"type": "display", "id": cell, "data": {"text/plain": text[:100000]}, "metadata": {}})
    _CH.send(frame, cell)


_REPR_METHODS = (
    ("text/html", "_repr_html_"),
    ("text/markdown", "_repr_markdown_"),
    ("image/svg+xml", "_repr_svg_"),
    ("image/png", "_repr_png_"),
    ("image/jpeg", "_repr_jpeg_"),
    ("text/latex", "_repr_latex_"),
    ("application/json", "_repr_json_"),
    ("application/javascript", "_repr_javascript_"),
    ("application/pdf", "_repr_pdf_"),
)

# Exact types whose display is just repr(); skips the _repr_*_ probing.
_PLAIN_TYPES = frozenset(
    (int, float, complex, bool, str, bytes, bytearray, list, tuple, dict, set, frozenset, range, type(None))
)


def _get_method(obj, name):
    """obj.name if it is a real method (IPython's rules: not on classes, not
    on objects that claim to have every attribute)."""
    try:
        if getattr(obj, "_ipython_canary_method_should_not_exist_", None) is not None:
            return None
        meth = getattr(obj, name, None)
    except Exception:
        return None
    return meth if callable(meth) else None


def _format_plain(obj, include=None, exclude=None):
    """MIME bundle and metadata for obj without IPython."""
    data = {}
    md = {}
    if type(obj) not in _PLAIN_TYPES and not isinstance(obj, type):
        if _is_figure(obj):
            data = _figure_bundle(obj)
            _close_figure(obj)
            return data, md
        meth = _get_method(obj, "_repr_mimebundle_")
        if meth is not None:
            try:
                r = meth(include=include, exclude=exclude)
            except Exception as e:
                _show_exception(e, terminal=False)
                r = None
            if isinstance(r, tuple) and len(r) == 2:
                r, m = r
                if isinstance(m, dict):
                    md.update(m)
            if isinstance(r, dict):
                data.update(r)
        for mime, name in _REPR_METHODS:
            if mime in data:
                continue
            meth = _get_method(obj, name)
            if meth is None:
                continue
            try:
                r = meth()
            except Exception as e:
                _show_exception(e, terminal=False)
                continue
            if isinstance(r, tuple) and len(r) == 2:
                r, m = r
                if m is not None:
                    md[mime] = m
            if r is None:
                continue
            if mime == "application/json" and isinstance(r, str):
                try:
                    r = _loads(r)
                except Exception:
                    pass
            data[mime] = r
    if "text/plain" not in data:
        try:
            data["text/plain"] = repr(obj)
        except Exception as e:  # as IPython: the error goes to stderr, the cell goes on
            _show_exception(e, terminal=False)
            if not data:
                return data, md
    if include:
        data = {k: v for k, v in data.items() if k in include}
    if exclude:
        data = {k: v for k, v in data.items() if k not in exclude}
    return data, md


def _make_display():
    def display(
        *objs,
        include=None,
        exclude=None,
        metadata=None,
        transient=None,
        display_id=None,
        raw=False,
        clear=False,
        **kwargs,
    ):
        """Show objects as rich output, like IPython.display.display.

        With raw=True each object is a ready MIME bundle {mime: data}.
        """
        for obj in objs:
            if raw:
                data, md = obj, dict(metadata or {})
            else:
                data, md = _format_plain(obj, include, exclude)
                if metadata:
                    md.update(metadata)
            if data:
                _publish(data, md)

    return display


# --------------------------------------------------------------- matplotlib


def _is_figure(obj):
    mod = sys.modules.get("matplotlib.figure")
    return mod is not None and isinstance(obj, mod.Figure)


def _render_png(fig):
    buf = io.BytesIO()
    # Warnings raised while the runner draws (one "Glyph missing" per
    # character and draw) would be blamed on the runner's own frames and
    # flood the output: the user's code never sees them.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fig.savefig(buf, format="png", bbox_inches="tight")
    return buf.getvalue()


def _close_figure(fig):
    plt = sys.modules.get("matplotlib.pyplot")
    if plt is not None:
        try:
            plt.close(fig)
        except Exception:
            pass


def _figure_bundle(fig):
    data = {"text/plain": repr(fig)}
    try:
        data["image/png"] = _render_png(fig)
    except Exception as e:
        _show_exception(e, terminal=False)
    return data


def _figure_png_formatter(fig):
    """IPython image/png formatter for Figures: render, then close (shown)."""
    try:
        return _render_png(fig)
    finally:
        _close_figure(fig)


def _flush_figures():
    """Display every open pyplot figure as PNG, then close them all."""
    plt = sys.modules.get("matplotlib.pyplot")
    if plt is None:
        return
    try:
        nums = plt.get_fignums()
    except Exception:
        return
    if not nums:
        return
    helpers = sys.modules.get("matplotlib._pylab_helpers")
    try:
        for num in nums:
            manager = helpers.Gcf.figs.get(num) if helpers is not None else None
            fig = manager.canvas.figure if manager is not None else plt.figure(num)
            _publish(_figure_bundle(fig))
    finally:
        try:
            plt.close("all")
        except Exception:
            pass


def _patch_pyplot(plt):
    """Make plt.show() display the open figures right away, in order with prints."""
    original = getattr(plt, "show", None)

    def show(*args, **kwargs):
        """Display all open figures as images and close them (interp runner)."""
        if _CH.cell is not None:
            _flush_figures()

    show.__module__ = "matplotlib.pyplot"
    show.__wrapped__ = original
    plt.show = show


# ---------------------------------------------------------- source, errors


_PENDING_SOURCES = {}


def _source_lines(code):
    lines = code.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line + "\n" for line in lines]


def _register_source(name, code):
    """Make a cell's source visible to linecache (tracebacks, inspect).

    linecache is not imported just for this (it imports tokenize and re):
    sources wait in _PENDING_SOURCES until something imports it.
    """
    lc = sys.modules.get("linecache")
    if lc is None:
        _PENDING_SOURCES[name] = code
    else:
        if _PENDING_SOURCES:
            _sync_linecache(lc)
        lc.cache[name] = (len(code), None, _source_lines(code), name)


def _sync_linecache(lc=None):
    lc = lc or sys.modules.get("linecache")
    if lc is not None:
        while _PENDING_SOURCES:
            name, code = _PENDING_SOURCES.popitem()
            lc.cache[name] = (len(code), None, _source_lines(code), name)


def _is_cell_file(filename):
    return filename.startswith("<cell ") or filename.startswith("<ipython-input-")


# What tracebacks call the cells that were given a NAME: "<cell N>" -> NAME.
_CELL_NAMES = {}


def _name_cell(name):
    """Remember the running execute's NAME for the cell compiled as name."""
    if _S.cell_name:
        _CELL_NAMES[name] = _S.cell_name


def _rename_cells(text):
    """Call cells as IPython does: 'File "<cell N>", line L, in f' becomes
    "Cell In[N], line L, in f" (without ", in <module>"), and "<cell N>"
    elsewhere (a SyntaxError's message) "Cell In[N]"; a cell given a NAME
    (a file's) is 'File "NAME"' instead."""
    if "<cell " not in text:
        return text
    import re

    for internal, name in _CELL_NAMES.items():
        if internal in text:
            text = text.replace('"%s"' % internal, '"%s"' % name).replace("(%s," % internal, "(%s," % name)

    def ipython(m):
        if m.group(1) is None:
            return "Cell In[%s]" % m.group(4)
        out = "Cell In[%s], line %s" % (m.group(1), m.group(2))
        if m.group(3) and m.group(3) != "<module>":
            out += ", in " + m.group(3)
        return out

    return re.sub(r'File "<cell (\d+)>", line (\d+)(?:, in (\S+))?|<cell (\d+)>', ipython, text)


def _is_user_file(filename):
    """A frame of the user's: a cell, or a file in the working directory
    that is not an installed package."""
    if _is_cell_file(filename):
        return True
    wd = _S.workdir
    return bool(wd) and filename.startswith(wd + "/") and "-packages/" not in filename


def _frame_owner(filename):
    """The package (or module) a frame that is not the user's belongs to."""
    site = _Start.env.get("INTERP_SITE", "").rstrip("/") if _Start.env else ""
    if site and filename.startswith(site + "/"):
        filename = "site-packages/" + filename[len(site) + 1 :]
    parts = filename.replace("\\", "/").split("/")
    for i, part in enumerate(parts[:-1]):
        if part in ("site-packages", "dist-packages") or (
            part.startswith("python3") and i + 1 < len(parts) and parts[i + 1] not in ("site-packages", "dist-packages")
        ):
            name = parts[i + 1]
            break
    else:
        # Cython sources name themselves relatively: pandas/_libs/index.pyx.
        name = parts[0] if len(parts) > 1 and parts[0] else parts[-1]
    for ext in (".py", ".pyx", ".pxi", ".pyc"):
        if name.endswith(ext):
            name = name[: -len(ext)]
    return name or "?"


def _user_stack_type():
    """A traceback.StackSummary that formats the user's frames with their
    lines in context, IPython's way, and each run of other frames as one
    line naming their packages."""
    import linecache
    import traceback

    class _UserStack(traceback.StackSummary):
        def format(self, **kwargs):
            out = []
            hidden = []

            def flush():
                if hidden:
                    owners = []
                    for fs in hidden:
                        o = _frame_owner(fs.filename)
                        if o not in owners:
                            owners.append(o)
                    n = len(hidden)
                    out.append("  [%d frame%s in %s]\n" % (n, "" if n == 1 else "s", ", ".join(owners[:4])))
                    hidden.clear()

            for fs in self:
                if not _is_user_file(fs.filename):
                    hidden.append(fs)
                    continue
                flush()
                out.append(_format_user_frame(fs, linecache))
            flush()
            return out

    return _UserStack


def _format_user_frame(fs, linecache):
    filename = fs.filename
    if _S.workdir and filename.startswith(_S.workdir + "/"):
        filename = filename[len(_S.workdir) + 1 :]  # helper.py, as the user knows it
    lines = ['  File "%s", line %s, in %s\n' % (filename, fs.lineno, fs.name)]
    n = fs.lineno or 0
    if n <= 0:
        return lines[0]
    source = linecache.getlines(fs.filename)
    end = getattr(fs, "end_lineno", None) or n
    first, last = max(1, n - 2), min(len(source), max(end, n) + 2)
    width = len(str(last))
    for i in range(first, last + 1):
        text = source[i - 1].rstrip() if i <= len(source) else ""
        mark = "-->" if n <= i <= end else "   "
        lines.append("  %s %*d %s\n" % (mark, width, i, text) if text else "  %s %*d\n" % (mark, width, i))
        col, end_col = getattr(fs, "colno", None), getattr(fs, "end_colno", None)
        if i == n and end == n and col is not None and end_col is not None and text:
            stripped = text.strip()
            indent = len(text) - len(text.lstrip())
            # Carets only where they say more than the line does.
            if 0 <= col < end_col and (col > indent or end_col < indent + len(stripped)):
                lines.append(" " * (7 + width + col) + "^" * (end_col - col) + "\n")
    return "".join(lines)


def _user_frames(te, stack_type):
    """Give te and every exception chained to it the user's formatting. A
    chained exception with none of the user's frames keeps its last line
    alone (KeyError: 'nope'), not a traceback of a library's insides."""
    seen = set()
    todo = [te]
    while todo:
        t = todo.pop()
        if t is None or id(t) in seen:
            continue
        seen.add(id(t))
        stack = stack_type()  # from_list would make a plain StackSummary
        if t is te or any(_is_user_file(fs.filename) for fs in t.stack):
            stack.extend(t.stack)
        t.stack = stack
        todo.append(t.__cause__)
        todo.append(t.__context__)
        todo.extend(getattr(t, "exceptions", None) or ())


def _user_tb(tb, top=True):
    """The traceback without the runner's and IPython's frames around user code.

    It starts at the first cell frame. If there is none, the exception of the
    cell (top) came from compiling or running the cell, not from user code,
    and gets no frames; a chained exception (top=False) keeps its frames.
    """
    entries = []
    while tb is not None:
        entries.append(tb)
        tb = tb.tb_next
    if not entries:
        return None
    start = None
    for i, entry in enumerate(entries):
        if _is_cell_file(entry.tb_frame.f_code.co_filename):
            start = i
            break
    if start is None:
        if top:
            return None
        start = 0
    keep = []
    last = entries[-1]
    for entry in entries[start:]:
        filename = entry.tb_frame.f_code.co_filename
        if filename == _RUNNER_FILE:
            continue
        # IPython's machinery between user frames (e.g. of %timeit), unless
        # the exception was raised right there.
        if _S.hidden_prefixes and entry is not last and filename.startswith(_S.hidden_prefixes):
            continue
        if not _is_cell_file(filename):
            try:
                if entry.tb_frame.f_locals.get("__tracebackhide__"):
                    continue
            except Exception:
                pass
        keep.append(entry)
    if len(keep) == len(entries):
        return entries[0]
    new = None
    tb_type = type(entries[0])
    for entry in reversed(keep):
        new = tb_type(new, entry.tb_frame, entry.tb_lasti, entry.tb_lineno)
    return new


def _format_exception(exc, exc_only=False):
    """Plain traceback lines (no newlines) for an exception from user code."""
    import traceback

    _sync_linecache()
    # Trim every exception of the chain (the SIGINT handler's frame, say,
    # can sit in a __context__).
    seen = set()
    todo = [exc]
    while todo:
        e = todo.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        try:
            e.__traceback__ = None if exc_only else _user_tb(e.__traceback__, e is exc)
        except Exception:
            pass
        todo.append(e.__cause__)
        todo.append(e.__context__)
        todo.extend(getattr(e, "exceptions", None) or ())
    try:
        if exc_only:
            lines = traceback.format_exception_only(type(exc), exc)
        else:
            te = traceback.TracebackException(type(exc), exc, exc.__traceback__)
            try:
                _user_frames(te, _user_stack_type())
            except Exception:
                pass  # Python's own format, then
            lines = list(te.format())
    except Exception:
        lines = ["%s: %s" % (type(exc).__name__, _safe_str(exc))]
    return _rename_cells("".join(lines)).rstrip("\n").split("\n")


def _exit_ok(exc):
    return exc.code is None or exc.code == 0


def _in_user_code():
    f = sys._getframe(1)
    while f is not None:
        if _is_cell_file(f.f_code.co_filename):
            return True
        f = f.f_back
    return False


def _show_exception(exc, terminal=None, exc_only=False):
    """Report an exception: as the cell's error event if it ends the cell
    (no user code on the stack any more), else as stderr text."""
    if isinstance(exc, SystemExit) and _exit_ok(exc):
        return
    if terminal is None:
        terminal = not _in_user_code()
    if terminal:
        _report_error(exc, exc_only=exc_only)
    else:
        _CH.stream("stderr", "\n".join(_format_exception(exc, exc_only)) + "\n")


def _report_error(exc, exc_only=False):
    """Send the error event of the running cell (at most one per cell)."""
    if _S.error_sent or _S.cell is None:
        return
    sys.last_type, sys.last_value, sys.last_traceback = type(exc), exc, exc.__traceback__
    if sys.version_info >= (3, 12):
        sys.last_exc = exc
    lines = _format_exception(exc, exc_only)
    _send_error(type(exc).__name__, _rename_cells(_safe_str(exc)), lines)


def _report_internal(exc):
    """An error event for a failure of the runner itself (full traceback)."""
    try:
        import traceback

        lines = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)).rstrip("\n").split("\n")
    except BaseException:
        lines = [repr(exc)]
    try:
        _send_error(type(exc).__name__, _safe_str(exc), ["interp runner internal error:"] + lines)
    except BaseException:
        pass


def _send_error(ename, evalue, lines):
    cell = _S.cell
    _S.error_sent = True
    event = {"type": "error", "id": cell, "ename": ename, "evalue": evalue, "traceback": lines}
    frame = _encode_frame(event)
    if len(frame) > _MAX_FRAME:
        event["evalue"] = evalue[:65536]
        event["traceback"] = [line[:65536] for line in lines[:200]] + ["[interp: traceback truncated]"]
        frame = _encode_frame(event)
    _CH.send(frame, cell)


# ---------------------------------------------------------------- import hook


class _ImportHook:
    """sys.meta_path entry that calls a function right after certain modules
    are first imported (there is no post-import hook in Python).

    Used to patch matplotlib.pyplot.show and to hand pending cell sources to
    linecache. It only looks at imports of modules not yet in sys.modules.
    """

    def __init__(self, callbacks):
        self.callbacks = callbacks

    def find_spec(self, name, path=None, target=None):
        callback = self.callbacks.get(name)
        if callback is None:
            return None
        spec = None
        try:
            for finder in sys.meta_path:
                if finder is self:
                    continue
                find = getattr(finder, "find_spec", None)
                if find is not None:
                    spec = find(name, path, target)
                    if spec is not None:
                        break
        except Exception:
            return None
        loader = getattr(spec, "loader", None)
        # Class-level loaders (builtin, frozen) serve every module: leave them.
        if loader is None or isinstance(loader, type) or not hasattr(loader, "exec_module"):
            return spec
        exec_module = loader.exec_module

        def exec_then_call(module):
            exec_module(module)
            try:
                callback(module)
            except Exception:
                pass

        try:
            loader.exec_module = exec_then_call
        except Exception:
            pass
        return spec

    def invalidate_caches(self):
        pass


# -------------------------------------------------------------- plain Python


def _future_mask():
    import __future__

    mask = 0
    for name in __future__.all_feature_names:
        mask |= getattr(__future__, name).compiler_flag
    return mask


def _semicolon_after(code, node):
    """Does the cell end with ';' after its last expression? (suppresses it)"""
    if ";" not in code:
        return False
    lines = code.split("\n")
    line = lines[node.end_lineno - 1]
    rest = line.encode("utf-8")[node.end_col_offset :].decode("utf-8", "replace")
    # What follows the expression, backslash continuations joined.
    after = "\n".join([rest] + lines[node.end_lineno :]).replace("\\\n", "")
    return after.lstrip().startswith(";")


class _PlainBackend:
    """Runs cells with compile/exec, displaying the last expression's value."""

    ipython = False

    def __init__(self):
        module = type(sys)("__main__")  # a module whose dict is the namespace
        module.__builtins__ = builtins
        module.display = _make_display()
        self.ns = module.__dict__
        # pickle and friends look classes and functions up in __main__.
        sys.modules["__main__"] = module
        self.module = module
        self.count = 0
        self.flags = _ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
        self.future_mask = None
        self.loop = None

    def forked(self):
        """In a program forked from the zygote: nothing to redo."""

    def _compile(self, code, name):
        flags = self.flags
        tree = compile(code, name, "exec", flags | _ast.PyCF_ONLY_AST, True)
        body = tree.body
        last = None
        if body and type(body[-1]) is _ast.Expr and not _semicolon_after(code, body[-1]):
            last = _ast.Expression(body.pop().value)
        main = compile(tree, name, "exec", flags, True)
        if last is not None:
            last = compile(last, name, "eval", flags, True)
        # `from __future__ import ...` in a cell applies to later cells too.
        if self.future_mask is None:
            self.future_mask = _future_mask()
        self.flags |= main.co_flags & self.future_mask
        return main, last

    def _await(self, coro):
        import asyncio

        if self.loop is None or self.loop.is_closed():
            self.loop = asyncio.new_event_loop()
        return self.loop.run_until_complete(coro)

    def number_from(self, n):
        """Make the next cell In[n]."""
        self.count = n - 1

    def run(self, code):
        if not code.strip():
            return "ok", self.count
        self.count += 1
        n = self.count
        name = "<cell %d>" % n
        _name_cell(name)
        _register_source(name, code)
        try:
            main, last = self._compile(code, name)
        except Exception as e:  # SyntaxError, ValueError (NUL bytes), RecursionError, ...
            _report_error(e)
            return "error", n
        ns = self.ns
        try:
            _enter_user()
            try:
                result = eval(main, ns)
                if main.co_flags & _CO_COROUTINE:
                    self._await(result)
                if last is not None:
                    value = eval(last, ns)
                    if last.co_flags & _CO_COROUTINE:
                        value = self._await(value)
                    if value is not None:
                        data, md = _format_plain(value)
                        if data:
                            _publish(data, md)
            finally:
                _leave_user()
        except SystemExit as e:
            if _exit_ok(e):
                return "ok", n
            _report_error(e)
            return "error", n
        except KeyboardInterrupt as e:
            _report_error(e)
            return "interrupted", n
        except BaseException as e:
            _report_error(e)
            return "error", n
        return "ok", n

    def clear(self):
        self.ns.clear()


# ------------------------------------------------------------------ IPython


def _make_ipython_backend():
    """An IPython-based backend, or None if IPython is not importable."""
    if os.environ.get("INTERP_RUNNER_NO_IPYTHON"):
        return None
    try:
        import IPython  # noqa: F401
    except ImportError:
        return None
    try:
        return _IPythonBackend()
    except Exception:
        import traceback

        _raw_write(2, "interp runner: IPython set-up failed, using plain Python:\n" + traceback.format_exc())
        return None


def _shell_system(cmd):
    """Run a !cmd line through pipes, streaming its output as it comes.

    IPython's own runs it under a pty (pexpect), and a sandbox has no pty
    devices. Returns the exit status, negative for a signal, as IPython's.
    """
    import codecs
    import selectors
    import subprocess

    proc = subprocess.Popen(
        ["/bin/sh", "-c", cmd], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    sel = selectors.DefaultSelector()
    for pipe, out in ((proc.stdout, sys.stdout), (proc.stderr, sys.stderr)):
        sel.register(pipe, selectors.EVENT_READ, (out, codecs.getincrementaldecoder("utf-8")("replace")))
    try:
        while sel.get_map():
            for key, _ in sel.select():
                out, dec = key.data
                data = os.read(key.fd, 65536)
                text = dec.decode(data, final=not data)
                if text:
                    out.write(text)
                if not data:
                    sel.unregister(key.fileobj)
                    key.fileobj.close()
        return proc.wait()
    except KeyboardInterrupt:
        proc.kill()
        proc.wait()
        raise
    finally:
        sel.close()


class _IPythonBackend:
    ipython = True

    def __init__(self):
        from contextlib import nullcontext

        import IPython
        from IPython.core.compilerop import CachingCompiler
        from IPython.core.displayhook import DisplayHook
        from IPython.core.displaypub import DisplayPublisher
        from IPython.core.error import UsageError
        from IPython.core.interactiveshell import InteractiveShell
        from traitlets import Type
        from traitlets.config import Config

        class Compiler(CachingCompiler):
            # Cells are "<cell N>" in tracebacks and linecache, as without IPython.
            def get_code_name(self, raw_code, transformed_code, number):
                name = "<cell %d>" % number
                _name_cell(name)
                return name

            def format_code_name(self, name):
                return None

        class Hook(DisplayHook):
            # Like ipykernel's: the last expression's value becomes a display
            # event, with no "Out[n]:" prompt and no copy kept in the history.
            def write_output_prompt(self):
                pass

            def write_format_data(self, format_dict, md_dict=None):
                _publish(format_dict, md_dict)

            def log_output(self, format_dict):
                pass

        class Publisher(DisplayPublisher):
            def publish(self, data, metadata=None, source=None, *, transient=None, update=False, **kwargs):
                _publish(data, metadata)

            def clear_output(self, wait=False):
                pass

        class InterpShell(InteractiveShell):
            displayhook_class = Type(Hook)
            display_pub_class = Type(Publisher)
            compiler_class = Type(Compiler)

            def init_virtualenv(self):
                pass  # would warn and edit sys.path if VIRTUAL_ENV is set

            def _tee(self, channel):
                # IPython 9 copies all cell output into the history manager
                # (kept in memory forever): not wanted here.
                return nullcontext()

            def ask_exit(self):
                # exit()/quit() behave as in plain Python.
                raise SystemExit

            def showtraceback(
                self, exc_tuple=None, filename=None, tb_offset=None, exception_only=False, running_compiled_code=False
            ):
                try:
                    etype, value, tb = self._get_exc_info(exc_tuple)
                except ValueError:
                    return
                _show_exception(value, exc_only=etype is UsageError)

            def showsyntaxerror(self, filename=None, running_compiled_code=False):
                try:
                    etype, value, tb = self._get_exc_info()
                except ValueError:
                    return
                if filename and isinstance(value, SyntaxError):
                    try:
                        value.filename = filename
                    except Exception:
                        pass
                _show_exception(value)

            def show_usage_error(self, exc):
                _show_exception(exc, exc_only=True)

        config = Config()
        config.HistoryManager.enabled = False  # no sqlite database anywhere
        config.HistoryManager.hist_file = ":memory:"
        config.InteractiveShell.colors = "nocolor" if IPython.version_info[0] >= 9 else "NoColor"
        config.InteractiveShell.xmode = "Plain"
        config.InteractiveShell.autocall = 0
        # Jedi is slow to start and infers rather than looks: completions
        # come from the live namespace, as in a plain Python prompt.
        config.IPCompleter.use_jedi = False
        self.shell = shell = InterpShell.instance(config=config)
        shell.display_formatter.formatters["image/png"].for_type_by_name(
            "matplotlib.figure", "Figure", _figure_png_formatter
        )
        self._quiet_exit_warning()
        sys.modules["IPython.core.interactiveshell"].system = _shell_system
        self.usage_error = UsageError
        _S.hidden_prefixes = (os.path.dirname(IPython.__file__) + os.sep,)

    def forked(self):
        """In a program forked from the zygote that made this shell: its
        profile directory was worked out there, outside the sandbox."""
        try:
            from IPython.core.profiledir import ProfileDir

            self.shell.ipython_dir = os.environ["IPYTHONDIR"]
            self.shell.profile_dir = ProfileDir.create_profile_dir_by_name(self.shell.ipython_dir, "default")
        except Exception:
            pass

    @staticmethod
    def _quiet_exit_warning():
        # run_code warns "To exit: use 'exit', 'quit', or Ctrl-D." after every
        # SystemExit: meaningless here.
        mod = sys.modules.get("IPython.core.interactiveshell")
        warn = getattr(mod, "warn", None)
        if warn is None:
            return

        def quiet_warn(message, *args, **kwargs):
            if isinstance(message, str) and message.startswith("To exit: use"):
                return None
            return warn(message, *args, **kwargs)

        mod.warn = quiet_warn

    @property
    def count(self):
        return self.shell.execution_count - 1

    def number_from(self, n):
        """Make the next cell In[n]."""
        self.shell.execution_count = n

    def run(self, code):
        shell = self.shell
        n = shell.execution_count
        _enter_user()
        try:
            result = shell.run_cell(code, store_history=True)
        finally:
            _leave_user()
        if shell.execution_count == n:  # blank cell: nothing ran
            n -= 1
        err = result.error_before_exec
        if err is None:
            err = result.error_in_exec
        if err is None:
            return "ok", n
        if isinstance(err, SystemExit) and _exit_ok(err):
            return "ok", n
        if not _S.error_sent:  # e.g. IPython could not format it
            _report_error(err, exc_only=isinstance(err, self.usage_error))
        return ("interrupted" if isinstance(err, KeyboardInterrupt) else "error"), n

    def clear(self):
        try:
            self.shell.reset(new_session=False)  # also drops Out, _, _1, ...
        finally:
            self.shell.user_ns.clear()


# ------------------------------------------------------------- request loop


def _peak_memory():
    """Peak RSS of this process image in bytes.

    VmHWM rather than ru_maxrss: at exec Linux folds the old image's peak
    into ru_maxrss, so that would count the memory of whatever process
    spawned the runner (vfork shares the parent's memory) and, after a
    restart, the previous session's peak for ever.
    """
    try:
        if _S.status_fd is None:  # kept open: re-reading it costs half as much
            _S.status_fd = os.open("/proc/self/status", os.O_RDONLY)
        data = os.pread(_S.status_fd, 16384, 0)
        i = data.index(b"VmHWM:")
        return int(data[i + 6 : data.index(b"kB", i)]) * 1024
    except (OSError, ValueError):
        _S.status_fd = None  # closed by user code? open it again next time
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _prepare_cell():
    if sys.stdout is not _STDOUT:
        sys.stdout = _STDOUT
    if sys.stderr is not _STDERR:
        sys.stderr = _STDERR
    stdin = sys.stdin
    if stdin is None or getattr(stdin, "closed", False):  # site's exit() closes it
        sys.stdin = open(os.devnull)
    if _S.site_mtime is not None:
        # Packages may have been installed since the last cell.
        try:
            mtime = os.stat(os.environ["INTERP_SITE"]).st_mtime_ns
        except (OSError, KeyError):
            mtime = None
        if mtime != _S.site_mtime:
            _add_site()  # new .pth files
            _S.site_mtime = mtime
            import importlib

            importlib.invalidate_caches()


def _handle_execute(cell, code, max_image, name=None):
    _S.cell = cell
    _S.cell_name = name
    _S.error_sent = False
    _S.pending_sigint = False
    _S.max_image = max_image
    _CH.begin_cell(cell)
    backend = _S.backend
    status = "error"
    count = 0
    usage = resource.getrusage
    r_self = usage(resource.RUSAGE_SELF)
    r_children = usage(resource.RUSAGE_CHILDREN)
    try:
        count = backend.count
        _prepare_cell()
        status, count = backend.run(code)
        if "matplotlib.pyplot" in sys.modules:
            try:
                _enter_user()
                try:
                    _flush_figures()
                finally:
                    _leave_user()
            except KeyboardInterrupt as e:
                if status == "ok":
                    status = "interrupted"
                    _report_error(e)
    except KeyboardInterrupt as e:
        status = "interrupted"
        _report_error(e)
    except BaseException as e:
        status = "error"
        _report_internal(e)
    finally:
        _S.busy = False
        if _signal.getsignal(_signal.SIGINT) is not _on_sigint:
            _signal.signal(_signal.SIGINT, _on_sigint)
        try:
            r_self2 = usage(resource.RUSAGE_SELF)
            r_children2 = usage(resource.RUSAGE_CHILDREN)
            cpu = (
                r_self2.ru_utime
                - r_self.ru_utime
                + r_self2.ru_stime
                - r_self.ru_stime
                + r_children2.ru_utime
                - r_children.ru_utime
                + r_children2.ru_stime
                - r_children.ru_stime
            )
            peak = _peak_memory()
        except Exception:
            cpu, peak = 0.0, 0
        done = {
            "type": "done",
            "id": cell,
            "status": status,
            "execution_count": count,
            "cpu_time": round(cpu, 6),
            "peak_memory": peak,
        }
        _await_raw_output()
        _S.cell = None
        _CH.finish_cell(_encode_frame(done))


def _await_raw_output(limit=0.2):
    """Waits, briefly, until Go has read what the cell wrote to the raw
    fds 1 and 2 (a subprocess's output, os.write): it arrives on another
    pipe than the done frame, and could otherwise be read after it, and
    count for no cell."""
    import fcntl
    import stat
    import struct
    import termios

    deadline = None
    for fd in (1, 2):
        try:
            if not stat.S_ISFIFO(os.fstat(fd).st_mode):
                continue
            while True:
                # FIONREAD on a pipe's write end: bytes not yet read.
                left = struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0"))[0]
                if left <= 0:
                    break
                if deadline is None:
                    deadline = _monotonic() + limit
                if _monotonic() > deadline:
                    return
                _sleep(0.0005)
        except OSError:
            continue


def _handle_preload(cell, modules):
    """Import modules ahead of time (for pooled runners); no names are bound."""
    _S.cell = cell
    _S.error_sent = True  # failures go into the done's message
    _S.pending_sigint = False
    _CH.begin_cell(cell)
    failures = []
    status = "ok"
    usage = resource.getrusage
    r_self = usage(resource.RUSAGE_SELF)
    try:
        _prepare_cell()
        import importlib

        _enter_user()
        try:
            for name in modules:
                try:
                    importlib.import_module(name)
                except Exception as e:
                    failures.append("%s: %s: %s" % (name, type(e).__name__, _safe_str(e)))
            # A throwaway cell warms the executor's own first-use costs, so
            # that the user's first cell is as quick as the next ones. It
            # counts for nothing and leaves no name behind.
            shell = getattr(_S.backend, "shell", None)
            if shell is not None:
                shell.run_cell("pass", store_history=False, silent=True)
        finally:
            _leave_user()
    except KeyboardInterrupt:
        status = "interrupted"
        failures.append("interrupted")
    except BaseException as e:
        failures.append("%s: %s" % (type(e).__name__, _safe_str(e)))
    finally:
        if _signal.getsignal(_signal.SIGINT) is not _on_sigint:
            _signal.signal(_signal.SIGINT, _on_sigint)
        if failures and status == "ok":
            status = "error"
        r_self2 = usage(resource.RUSAGE_SELF)
        done = {
            "type": "done",
            "id": cell,
            "status": status,
            "cpu_time": round(r_self2.ru_utime - r_self.ru_utime + r_self2.ru_stime - r_self.ru_stime, 6),
            "peak_memory": _peak_memory(),
        }
        if failures:
            done["message"] = "; ".join(failures)
        _S.cell = None
        _CH.finish_cell(_encode_frame(done))


def _protocol_error(message, req=None):
    event = {"type": "protocol_error", "message": message}
    if isinstance(req, dict) and isinstance(req.get("id"), str):
        event["id"] = req["id"]
    _CH.send(_encode_frame(event))


def _read_exact(n):
    """n bytes from fd 3, or None at EOF."""
    chunks = []
    while n > 0:
        try:
            chunk = os.read(_REQ_FD, min(n, 1 << 20))
        except OSError:
            return None
        if not chunk:
            return None
        chunks.append(chunk)
        n -= len(chunk)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _read_request():
    """The next request (dict), or None at EOF. Bad frames are answered."""
    while True:
        header = _read_exact(4)
        if header is None:
            return None
        n = int.from_bytes(header, "big")
        if n > _MAX_FRAME:
            while n > 0:  # skip it to stay in step
                if _read_exact(min(n, 1 << 20)) is None:
                    return None
                n -= min(n, 1 << 20)
            _protocol_error("request frame over the 64 MiB limit")
            continue
        body = _read_exact(n) if n else b""
        if body is None:
            return None
        try:
            req = _loads(body.decode("utf-8"))
        except Exception as e:
            _protocol_error("invalid request JSON: %s" % e)
            continue
        if not isinstance(req, dict):
            _protocol_error("request is not a JSON object")
            continue
        return req


class _Start:
    """What the process started with, for restart."""

    cwd = None
    env = None
    argv = None
    sigmask = None
    ignored = ()


def _flush_stdio():
    for stream in (sys.__stdout__, sys.__stderr__):
        try:
            if stream is not None:
                stream.flush()
        except Exception:
            pass


def _shutdown(code=0):
    _CH.drain()
    try:
        import atexit

        atexit._run_exitfuncs()
    except BaseException:
        pass
    try:
        _S.backend.clear()  # lets unclosed files flush
    except BaseException:
        pass
    _flush_stdio()
    os._exit(code)


def _restart():
    _CH.drain()
    try:
        _S.backend.clear()  # lets unclosed files flush
    except BaseException:
        pass
    _flush_stdio()
    try:
        os.chdir(_Start.cwd)
    except OSError:
        pass
    orig_argv = getattr(sys, "orig_argv", None)
    if orig_argv:
        argv = [sys.executable] + list(orig_argv[1:])
    else:  # Python 3.9
        import subprocess

        argv = [sys.executable] + subprocess._args_from_interpreter_flags() + _Start.argv
    # Signals the user ignored would stay ignored across exec.
    try:
        for sig in _signal.valid_signals():
            if sig not in _Start.ignored and _signal.getsignal(sig) == _signal.SIG_IGN:
                _signal.signal(sig, _signal.SIG_DFL)
        _signal.pthread_sigmask(_signal.SIG_SETMASK, _Start.sigmask)
    except (OSError, ValueError, AttributeError):
        pass
    try:
        os.set_inheritable(_REQ_FD, True)
        os.set_inheritable(_EVT_FD, True)
        os.execve(sys.executable, argv, _Start.env)
    except OSError as e:
        for fd in (_REQ_FD, _EVT_FD):
            try:
                os.set_inheritable(fd, False)
            except OSError:
                pass
        _protocol_error("restart failed: %s" % e)


_PIP_LINE = None


def _pip_args(line):
    """The arguments of a %pip / !pip install line, or None."""
    global _PIP_LINE
    if _PIP_LINE is None:
        import re

        _PIP_LINE = re.compile(r"^\s*[%!]\s*(?:python3?\s+-m\s+)?pip3?\s+install\s+(.*?)\s*$")
    m = _PIP_LINE.match(line)
    if not m:
        return None
    import shlex

    try:
        return shlex.split(m.group(1))
    except ValueError:
        return m.group(1).split()


def _import_status(top, cwd):
    if top in getattr(sys, "stdlib_module_names", ()) or top in sys.builtin_module_names:
        return "stdlib"
    for cand in (top + ".py", top):
        if os.path.exists(os.path.join(cwd, cand)):
            return "local"
    import importlib.util

    try:
        if importlib.util.find_spec(top) is not None:
            return "installed"
    except (ImportError, ValueError):
        pass
    return "missing"


def _logical_line_starts(code):
    """Numbers of the lines that begin a logical line, or None if code
    cannot be tokenized (then every line counts as a start).

    Only there can "%" or "!" begin an IPython magic: inside brackets or
    after a backslash, "%" is the modulo operator.
    """
    import tokenize

    starts, depth, prev = set(), 0, tokenize.NEWLINE
    skip = (tokenize.INDENT, tokenize.DEDENT, tokenize.ENCODING)
    try:
        for tok in tokenize.generate_tokens(io.StringIO(code).readline):
            if tok.type in skip:
                continue
            if depth == 0 and prev in (tokenize.NEWLINE, tokenize.NL):
                starts.add(tok.start[0])
            if tok.type == tokenize.OP:
                if tok.string in "([{":
                    depth += 1
                elif tok.string in ")]}" and depth > 0:
                    depth -= 1
            prev = tok.type
    except (tokenize.TokenError, SyntaxError, ValueError):
        return None
    return starts


def _find_imports(code):
    """Imports of code, as (module, line, group, fallback), and pip lines."""
    import ast

    pip, kept = [], []
    starts = _logical_line_starts(code)
    for n, line in enumerate(code.splitlines(), 1):
        if starts is not None and n not in starts:
            kept.append(line)  # a continuation: "% x" there is the operator
            continue
        args = _pip_args(line)
        if args is not None:
            pip.append(args)
            kept.append("pass")
        elif line.lstrip().startswith(("%", "!")):
            kept.append("pass")  # other magics and shell lines
        else:
            kept.append(line)
    tree = ast.parse("\n".join(kept))
    found = []
    groups = [0]

    def catches_import_error(handler):
        t = handler.type
        if t is None:
            return True
        names = t.elts if isinstance(t, ast.Tuple) else [t]
        return any(
            isinstance(n, ast.Name) and n.id in ("ImportError", "ModuleNotFoundError", "Exception", "BaseException")
            for n in names
        )

    def visit(node, group, fallback):
        if isinstance(node, ast.Import):
            for a in node.names:
                found.append((a.name, node.lineno, group, fallback))
            return
        if isinstance(node, ast.ImportFrom):
            if node.level == 0 and node.module and node.module != "__future__":
                for a in node.names:
                    # from x import y may name a submodule: keep both.
                    found.append(
                        (node.module + "." + a.name if a.name != "*" else node.module, node.lineno, group, fallback)
                    )
            return
        if isinstance(node, ast.Call):
            f = node.func
            name = f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else None
            if (
                name in ("import_module", "__import__")
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
                and not node.args[0].value.startswith(".")
            ):
                found.append((node.args[0].value, node.lineno, group, fallback))
        if isinstance(node, ast.Try) and any(catches_import_error(h) for h in node.handlers):
            groups[0] += 1
            g = groups[0]
            for child in node.body:
                visit(child, g, False)
            for h in node.handlers:
                for child in h.body:
                    visit(child, g, True)
            for child in node.orelse + node.finalbody:
                visit(child, group, fallback)
            return
        for child in ast.iter_child_nodes(node):
            visit(child, group, fallback)

    visit(tree, 0, False)
    return found, pip


def _handle_analyze(rid, code):
    reply = {"type": "imports", "id": rid, "imports": [], "pip": []}
    try:
        found, reply["pip"] = _find_imports(code)
        cwd = os.getcwd()
        status = {}
        seen = set()
        for module, line, group, fallback in found:
            key = (module, group, fallback)
            if key in seen:
                continue
            seen.add(key)
            top = module.split(".")[0]
            if top not in status:
                status[top] = _import_status(top, cwd)
            reply["imports"].append(
                {
                    "module": module,
                    "top": top,
                    "line": line,
                    "status": status[top],
                    "group": group,
                    "fallback": fallback,
                }
            )
    except SyntaxError as e:
        reply["error"] = "SyntaxError: %s (line %s)" % (e.msg, e.lineno)
    except Exception as e:
        reply["error"] = "%s: %s" % (type(e).__name__, _safe_str(e))
    _CH.send(_encode_frame(reply))


def _handle_complete(rid, code, cursor):
    """Answer completions of code at cursor (a character offset), from the
    session's namespace: IPython's completer, or rlcompleter without it."""
    reply = {"type": "completions", "id": rid, "matches": [], "cursor_start": cursor}
    cursor = max(0, min(cursor, len(code)))
    line = code[:cursor].rsplit("\n", 1)[-1]
    try:
        backend = _S.backend
        if backend.ipython:
            text, matches = backend.shell.complete("", line, len(line))
        else:
            import re
            import rlcompleter

            text = re.search(r"[\w.]*$", line).group(0)
            completer = rlcompleter.Completer(backend.ns)
            matches = []
            while len(matches) < 1000:
                m = completer.complete(text, len(matches))
                if m is None:
                    break
                matches.append(m)
        reply["matches"] = [m for m in matches if isinstance(m, str)][:1000]
        reply["cursor_start"] = cursor - len(text)
    except Exception as e:
        reply["error"] = "%s: %s" % (type(e).__name__, _safe_str(e))
    _CH.send(_encode_frame(reply))


def _add_site():
    site_dir = os.environ.get("INTERP_SITE")
    if not site_dir or not os.path.isdir(site_dir):
        return
    import site

    if _S.site_mtime is None:
        _S.site_mtime = 0  # checked, and caches invalidated, before each cell
    before = list(sys.path)
    site.addsitedir(site_dir)  # also runs the .pth files there
    added = [p for p in sys.path if p not in before]
    rest = [p for p in sys.path if p not in added]
    # Session installs come after the standard library, so that a backport
    # pulled in by a bad guess cannot shadow it, and before the base
    # environment, so that a session can override a base package's version.
    std = os.path.dirname(os.__file__)
    at = 1
    for i, p in enumerate(rest):
        if p.endswith(".zip") or p == std or (p.startswith(std + os.sep) and "-packages" not in p):
            at = i + 1
    sys.path[:] = rest[:at] + added + rest[at:]


def _serve():
    while True:
        req = _read_request()
        if req is None:
            _shutdown(0)
        kind = req.get("type")
        try:
            if kind == "execute":
                cell, code = req.get("id"), req.get("code")
                if not isinstance(cell, str) or not isinstance(code, str):
                    _protocol_error("execute needs string id and code", req)
                    continue
                max_image = req.get("max_image_bytes")
                if type(max_image) is not int or max_image < 0:
                    max_image = _DEFAULT_MAX_IMAGE
                name = req.get("name")
                if not isinstance(name, str) or not name.strip() or "\n" in name:
                    name = None
                count = req.get("count")
                if type(count) is int and count >= 1:
                    _S.backend.number_from(count)
                _handle_execute(cell, code, max_image, name)
            elif kind == "preload":
                cell, modules = req.get("id"), req.get("modules")
                if (
                    not isinstance(cell, str)
                    or not isinstance(modules, list)
                    or not all(isinstance(m, str) for m in modules)
                ):
                    _protocol_error("preload needs a string id and a list of module names", req)
                    continue
                _handle_preload(cell, modules)
            elif kind == "analyze":
                rid, code = req.get("id"), req.get("code")
                if not isinstance(rid, str) or not isinstance(code, str):
                    _protocol_error("analyze needs string id and code", req)
                    continue
                _handle_analyze(rid, code)
            elif kind == "complete":
                rid, code, cursor = req.get("id"), req.get("code"), req.get("cursor")
                if not isinstance(rid, str) or not isinstance(code, str) or type(cursor) is not int:
                    _protocol_error("complete needs string id and code and an int cursor", req)
                    continue
                _handle_complete(rid, code, cursor)
            elif kind == "restart":
                _restart()
            elif kind == "shutdown":
                _shutdown(0)
            else:
                _protocol_error("unknown request type %r" % (kind,), req)
        except BaseException:
            # Never let the loop die on a runner bug; say so on raw stderr.
            try:
                import traceback

                _raw_write(2, "interp runner: internal error:\n" + traceback.format_exc())
            except BaseException:
                pass


def _after_fork_in_child():
    # A forked child (os.fork, multiprocessing) must never write frames: its
    # output goes to the raw fds, and it lets go of the protocol pipes.
    _S.cell = None
    _S.busy = False
    if _S.status_fd is not None:  # it shows the parent
        try:
            os.close(_S.status_fd)
        except OSError:
            pass
        _S.status_fd = None
    _CH.after_fork_in_child()
    try:
        _signal.signal(_signal.SIGINT, _signal.default_int_handler)
    except Exception:
        pass
    for fd in (_REQ_FD, _EVT_FD):
        try:
            os.close(fd)
        except OSError:
            pass


def _seed_matplotlib():
    """Copy a prebuilt matplotlib font list into MPLCONFIGDIR, if given one.

    Building it takes ~100 ms on the first plot of every fresh sandbox.
    The matplotlibrc beside it (from scripts/setup) names a CJK fallback font.
    """
    seed, dest = os.environ.get("INTERP_MPL_SEED"), os.environ.get("MPLCONFIGDIR")
    if not seed or not dest or os.path.exists(dest):
        return
    try:
        os.makedirs(dest)
        for name in os.listdir(seed):
            if (name.startswith("fontlist") and name.endswith(".json")) or name == "matplotlibrc":
                with open(os.path.join(seed, name), "rb") as src, open(os.path.join(dest, name), "wb") as dst:
                    dst.write(src.read())
    except OSError:
        pass  # matplotlib rebuilds it


def _fix_sys_path():
    cwd = os.getcwd()
    here = os.path.dirname(os.path.realpath(_RUNNER_FILE)) if not _RUNNER_FILE.startswith("<") else None
    path = []
    for entry in sys.path:
        if entry == "" or (here is not None and entry and os.path.realpath(entry) == here):
            continue  # the runner's own directory, or the moving target ""
        path.append(entry)
    sys.path[:] = [cwd] + [p for p in path if p != cwd]


_HOOKED = []


def _install_import_hook():
    if not _HOOKED:
        sys.meta_path.insert(0, _ImportHook({"matplotlib.pyplot": _patch_pyplot, "linecache": _sync_linecache}))
        _HOOKED.append(True)


def _zygote_prepare(modules):
    """Runs once in a zygote (Go: sandbox.Zygote), outside any sandbox: loads
    what every session forked from it shares. It knows nothing of any
    session, and runs no user code."""
    import gc
    import importlib

    os.environ["MPLBACKEND"] = "Agg"
    _seed_matplotlib()
    _install_import_hook()
    if not os.environ.get("INTERP_RUNNER_NO_IPYTHON"):
        try:
            import IPython.core.interactiveshell  # noqa: F401
        except ImportError:
            pass
    for name in modules:
        importlib.import_module(name)
    # The executor too, warmed by a throwaway cell as a pooled runner's is:
    # nothing of it is any session's yet (see _zygote_main).
    if not os.environ.get("IPYTHONDIR"):
        os.environ["IPYTHONDIR"] = os.path.join(os.environ.get("TMPDIR") or "/tmp", "ipython")
    _S.backend = _make_ipython_backend() or _PlainBackend()
    shell = getattr(_S.backend, "shell", None)
    if shell is not None:
        shell.run_cell("pass", store_history=False, silent=True)
        shell.display_formatter.format(0)  # a value's first display loads more
    # What is loaded now is shared with every session, copy-on-write. A
    # collection in a session would write to every object it visits, and
    # so copy their pages: they are moved out of the collector's reach.
    gc.collect()
    gc.freeze()


def _zygote_main():
    """Runs in each program forked from the zygote, once it is locked down
    in its own sandbox, with the session's environment and directory."""
    # Caches of paths worked out in the zygote, outside the sandbox.
    import tempfile

    tempfile.tempdir = None
    _S.status_fd = None
    mpl = sys.modules.get("matplotlib")
    cached = getattr(mpl, "_logged_cached", None)
    for name in ("get_configdir", "get_cachedir"):
        inner = getattr(getattr(mpl, name, None), "__wrapped__", None)
        if cached is not None and inner is not None:
            setattr(mpl, name, cached(name[4:].upper() + "=%s")(inner))
    _main()


def _main():
    # First, so a SIGINT during start-up is harmless.
    _signal.signal(_signal.SIGINT, _on_sigint)
    for fd in (_REQ_FD, _EVT_FD):
        try:
            os.fstat(fd)
        except OSError:
            _raw_write(
                2,
                "interp runner: fd %d is not open; start me with the request pipe on fd 3 "
                "and the event pipe on fd 4\n" % fd,
            )
            os._exit(2)
        os.set_inheritable(fd, False)
        os.set_blocking(fd, True)

    _Start.cwd = os.getcwd()
    _S.workdir = _Start.cwd.rstrip("/")
    _Start.env = dict(os.environ)
    _Start.argv = list(sys.argv)
    try:
        _Start.sigmask = _signal.pthread_sigmask(_signal.SIG_BLOCK, [])
        _Start.ignored = frozenset(s for s in _signal.valid_signals() if _signal.getsignal(s) == _signal.SIG_IGN)
    except (OSError, ValueError, AttributeError):
        _Start.sigmask = ()

    os.environ["MPLBACKEND"] = "Agg"
    _seed_matplotlib()
    if not os.environ.get("IPYTHONDIR"):
        tmp = os.environ.get("TMPDIR") or "/tmp"
        os.environ["IPYTHONDIR"] = os.path.join(tmp, "interp-ipython-%d" % os.getuid())
    _fix_sys_path()
    _add_site()
    sys.argv = [""]
    sys.stdout = _STDOUT
    sys.stderr = _STDERR
    _install_import_hook()
    os.register_at_fork(after_in_child=_after_fork_in_child)
    _CH.start()

    backend = _S.backend  # made in the zygote, if forked from one
    if backend is None:
        backend = _make_ipython_backend() or _PlainBackend()
    else:
        backend.forked()
    _S.backend = backend
    hello = {
        "type": "hello",
        "protocol": _PROTOCOL,
        "python": "%d.%d.%d" % sys.version_info[:3],
        "ipython": backend.ipython,
        "pid": os.getpid(),
    }
    _CH.send(_encode_frame(hello))
    _serve()


if __name__ == "__main__":
    _main()
