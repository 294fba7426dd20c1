"""Unit tests of runner.py, the kernel that runs inside every sandbox.

Run by scripts/pycheck (and so by `make test`) with pytest. The first half
imports runner.py as a module and tests its pure logic: framing, JSON
sanitising, MIME bundles, plain-text display, traceback trimming, import
scanning. The second half starts runner.py as the Go side does, with the
request pipe on fd 3 and the event pipe on fd 4, under the sandbox's own
Python ($INTERP_RUNNER_PYTHON, else $INTERP_HOME/env/bin/python), once with
IPython and once without, and checks the protocol: output capture, display
formats, errors, and the interrupt path. Isolation is not tested here (no
sandbox): that is internal/sandbox's job.
"""

import ast
import base64
import importlib.util
import json
import os
import select
import signal
import subprocess
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
RUNNER = os.path.join(HERE, "runner.py")


def load_runner():
    spec = importlib.util.spec_from_file_location("interp_runner", RUNNER)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)  # side-effect free: fds 3 and 4 are touched only by _main
    return mod


@pytest.fixture(scope="module")
def r():
    return load_runner()


def strict_loads(text):
    def no_constant(name):
        raise ValueError("non-finite float in JSON: " + name)

    return json.loads(text, parse_constant=no_constant)


# ------------------------------------------------------------------ framing


def test_frame_is_length_prefixed_utf8_json(r):
    frame = r._encode_frame({"type": "stream", "text": "héllo\n"})
    n = int.from_bytes(frame[:4], "big")
    assert n == len(frame) - 4
    assert strict_loads(frame[4:].decode("utf-8")) == {"type": "stream", "text": "héllo\n"}


class Unprintable:
    def __str__(self):
        raise RuntimeError("no")


@pytest.mark.parametrize(
    "value, want",
    [
        ("bad \udcff surrogate", "bad \\udcff surrogate"),
        (float("nan"), None),
        (float("inf"), None),
        ({1: "a", None: "b", (1, 2): "c"}, {"1": "a", "null": "b", "(1, 2)": "c"}),
        (b"bytes \xff", "bytes \ufffd"),
        (frozenset([3]), [3]),
        ([Unprintable()], ["<unserializable Unprintable object>"]),
    ],
)
def test_frame_sanitises_what_json_cannot_say(r, value, want):
    frame = r._encode_frame({"v": value})
    assert strict_loads(frame[4:].decode("utf-8")) == {"v": want}


def test_frame_of_a_cycle_still_encodes(r):
    cycle = []
    cycle.append(cycle)
    body = strict_loads(r._encode_frame({"v": cycle})[4:].decode("utf-8"))
    depth = 0
    v = body["v"]
    while isinstance(v, list):
        v, depth = v[0], depth + 1
    assert isinstance(v, str) and depth > 50  # cut off deep down, as text


# ------------------------------------------------------------- MIME bundles


@pytest.mark.parametrize(
    "n, want",
    [(0, "0 bytes"), (10, "10 bytes"), (1024, "1 KB"), (57549, "56.2 KB"), (10 << 20, "10 MB"), (12897485, "12.3 MB")],
)
def test_fmt_size(r, n, want):
    assert r._fmt_size(n) == want


def test_bundle_images_base64_and_limited(r):
    png = b"\x89PNG" + b"x" * 2044
    out, notes = r._clean_bundle({"image/png": png, "text/plain": "<Figure>"}, 4096)
    assert base64.b64decode(out["image/png"]) == png
    assert notes == []

    out, notes = r._clean_bundle({"image/png": png, "text/plain": "<Figure>"}, 1024)
    assert out == {"text/plain": "<Figure>"}
    assert notes == ["[interp: image/png output of 2 KB omitted: over the 1 KB limit]\n"]


def test_bundle_kinds(r):
    out, notes = r._clean_bundle(
        {
            "image/jpeg": "QUJD\nREVG\n",  # already base64: newlines go
            "application/json": {"a": [1]},
            "application/vnd.x+json": [1, 2],
            "text/html": b"<b>hi</b>",
            "text/markdown": None,  # left out
            7: "not a MIME type",
        },
        1 << 20,
    )
    assert notes == []
    assert out == {
        "image/jpeg": "QUJDREVG",
        "application/json": {"a": [1]},
        "application/vnd.x+json": [1, 2],
        "text/html": "<b>hi</b>",
        # text/plain is always there; absent, it names what there is.
        "text/plain": "<image/jpeg, application/json, application/vnd.x+json, text/html, text/markdown output>",
    }


class Rich:
    def _repr_html_(self):
        return "<i>rich</i>"

    def _repr_json_(self):
        return '{"k": 1}'  # a JSON string becomes a JSON value

    def __repr__(self):
        return "Rich()"


class Bundled:
    def _repr_mimebundle_(self, include=None, exclude=None):
        return {"text/markdown": "**b**"}, {"text/markdown": {"note": 1}}

    def _repr_markdown_(self):
        raise AssertionError("the bundle's own text/markdown wins")


class BrokenHTML:
    def _repr_html_(self):
        raise ValueError("html broke")

    def __repr__(self):
        return "BrokenHTML()"


class Anything:
    """Claims every attribute, as some proxies do: no _repr_*_ is believed."""

    def __getattr__(self, name):
        return lambda *a, **k: "<b>lie</b>"

    def __repr__(self):
        return "Anything()"


def test_format_plain(r, capfd):
    data, md = r._format_plain(Rich())
    assert data == {"text/html": "<i>rich</i>", "application/json": {"k": 1}, "text/plain": "Rich()"}

    data, md = r._format_plain(Bundled())
    assert data["text/markdown"] == "**b**" and md == {"text/markdown": {"note": 1}}

    assert r._format_plain(Anything())[0] == {"text/plain": "Anything()"}
    assert r._format_plain(Rich, include={"text/html"})[0] == {}  # a class is shown by repr only
    assert r._format_plain([1, "a"])[0] == {"text/plain": "[1, 'a']"}
    assert r._format_plain(Rich(), exclude={"text/html", "application/json"})[0] == {"text/plain": "Rich()"}

    # A failing _repr_html_ does not fail the display: its traceback goes to
    # stderr (raw fd 2 between cells) and the plain text is still shown.
    data, _ = r._format_plain(BrokenHTML())
    assert data == {"text/plain": "BrokenHTML()"}
    assert "ValueError: html broke" in capfd.readouterr().err


# -------------------------------------------------------- cells and errors


@pytest.mark.parametrize(
    "code, hidden",
    [
        ("x", False),
        ("x;", True),
        ("x ;  # quiet", True),
        ("x \\\n;", True),  # the ";" on a continuation line
        ("f('a;b')", False),
        ("a = 1; b", False),
        ("é = 1; é ;", True),
    ],
)
def test_semicolon_hides_the_last_value(r, code, hidden):
    node = ast.parse(code).body[-1]
    assert r._semicolon_after(code, node) is hidden


def test_source_lines(r):
    assert r._source_lines("a\r\nb\rc\n") == ["a\n", "b\n", "c\n"]
    assert r._source_lines("") == []


def run_cell(r, code, name):
    r._register_source(name, code)
    try:
        exec(compile(code, name, "exec"), {})
    except BaseException as e:
        return e
    raise AssertionError("the cell did not fail")


def test_traceback_shows_only_user_frames(r):
    e = run_cell(r, "def f(x):\n    return 1 / x\n\nf(0)\n", "<cell 3>")
    lines = r._format_exception(e)
    assert lines[0] == "Traceback (most recent call last):"
    text = "\n".join(lines)
    # Each frame with its failing line marked among its neighbours.
    # IPython's way of naming a cell: Cell In[N], line L (, in f).
    assert "  Cell In[3], line 4" in lines and "  --> 4 f(0)" in lines
    assert "  Cell In[3], line 2, in f" in lines and "  --> 2     return 1 / x" in lines
    assert "<cell" not in text
    assert lines.index("  --> 4 f(0)") < lines.index("  --> 2     return 1 / x")
    assert lines[-1] == "ZeroDivisionError: division by zero"
    assert __file__ not in text and "runner.py" not in text  # the caller's frames are cut
    assert all("\n" not in line for line in lines)


def test_chained_exceptions_keep_their_cause(r):
    code = "try:\n    {}['k']\nexcept KeyError as e:\n    raise ValueError('bad') from e\n"
    lines = r._format_exception(run_cell(r, code, "<cell 4>"))
    text = "\n".join(lines)
    assert "KeyError: 'k'" in text
    assert "The above exception was the direct cause" in text
    assert lines[-1] == "ValueError: bad"


def test_syntax_error_has_only_the_exception_part(r):
    try:
        compile("x = (1,\n", "<cell 1>", "exec")
    except SyntaxError as e:
        lines = r._format_exception(e, exc_only=True)
        evalue = r._rename_cells(str(e))
    assert lines[0] == "  Cell In[1], line 1"
    assert lines[-1].startswith("SyntaxError: ")
    assert evalue.endswith("(Cell In[1], line 1)")
    assert not any(line.startswith("Traceback") for line in lines)


# ------------------------------------------------------------------ imports


@pytest.mark.parametrize(
    "line, want",
    [
        ("%pip install numpy==2.0 'pandas>2'", ["numpy==2.0", "pandas>2"]),
        ("!pip install -q requests", ["-q", "requests"]),
        ("  % python3 -m pip install humanize", ["humanize"]),
        ("!pip3 install 'unbalanced", ["'unbalanced"]),
        ("%pip list", None),
        ("pip install x", None),
        ("# %pip install x", None),
    ],
)
def test_pip_args(r, line, want):
    assert r._pip_args(line) == want


def test_find_imports(r):
    code = "\n".join(
        [
            "import os, numpy.linalg",
            "from pandas import DataFrame",
            "from . import local",
            "from __future__ import annotations",
            "%pip install humanize",
            "!ls -l",
            "try:",
            "    import ujson as json",
            "except ImportError:",
            "    import json",
            "mod = importlib.import_module('yaml')",
            "y = (10",
            "     %pip)",  # a continuation line: % is the operator here
        ]
    )
    found, pip = r._find_imports(code)
    assert pip == [["humanize"]]
    assert found == [
        ("os", 1, 0, False),
        ("numpy.linalg", 1, 0, False),
        ("pandas.DataFrame", 2, 0, False),
        ("ujson", 8, 1, False),
        ("json", 10, 1, True),
        ("yaml", 11, 0, False),
    ]


def test_find_imports_of_broken_code_raises(r):
    with pytest.raises(SyntaxError):
        r._find_imports("import (")


# ----------------------------------------------------------- the protocol

PYTHON = os.environ.get("INTERP_RUNNER_PYTHON") or os.path.join(
    os.environ.get("INTERP_HOME", "/opt/interp"), "env", "bin", "python"
)
# A guard against a hung runner only, never a measure of speed.
HANG = 120


class Runner:
    """runner.py started as internal/session starts it: requests on fd 3,
    events on fd 4, the workspace as the working directory."""

    def __init__(self, workdir, ipython):
        if not os.access(PYTHON, os.X_OK):
            pytest.fail("no sandbox Python at %s: run scripts/setup, or set INTERP_RUNNER_PYTHON" % PYTHON)
        req_r, self.req = os.pipe()
        self.evt, evt_w = os.pipe()
        env = {
            "PATH": "/usr/bin:/bin",
            "HOME": str(workdir),
            "TMPDIR": str(workdir),
            "LANG": "C.UTF-8",
        }
        if not ipython:
            env["INTERP_RUNNER_NO_IPYTHON"] = "1"

        def fds():
            os.dup2(req_r, 3)
            os.dup2(evt_w, 4)

        self.proc = subprocess.Popen(
            [PYTHON, "-I", RUNNER],
            cwd=str(workdir),
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            pass_fds=(3, 4),
            preexec_fn=fds,
        )
        os.close(req_r)
        os.close(evt_w)
        self.ipython = ipython
        self.n = 0
        self.hello = self.read()

    def send(self, req):
        body = json.dumps(req).encode()
        os.write(self.req, len(body).to_bytes(4, "big") + body)

    def _read_exact(self, n):
        data = b""
        while len(data) < n:
            ready, _, _ = select.select([self.evt], [], [], HANG)
            if not ready:
                raise AssertionError("runner sent nothing for %d s" % HANG)
            chunk = os.read(self.evt, n - len(data))
            if not chunk:
                raise EOFError("runner closed its event pipe: %s" % self.proc.stderr.read1(65536))
            data += chunk
        return data

    def read(self):
        n = int.from_bytes(self._read_exact(4), "big")
        return strict_loads(self._read_exact(n).decode("utf-8"))

    def execute(self, code, until_done=True, **extra):
        self.n += 1
        cell = "c%d" % self.n
        self.send({"type": "execute", "id": cell, "code": code, **extra})
        return self.events(cell) if until_done else cell

    def events(self, cell):
        out = []
        while True:
            ev = self.read()
            assert ev.get("id") == cell, ev
            out.append(ev)
            if ev["type"] == "done":
                return out

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.proc.stdout.close()
        self.proc.stderr.close()
        os.close(self.req)
        os.close(self.evt)


def text(events, name):
    return "".join(e["text"] for e in events if e["type"] == "stream" and e["name"] == name)


def displays(events):
    return [e["data"] for e in events if e["type"] == "display"]


def done(events):
    assert [e["type"] for e in events].count("done") == 1 and events[-1]["type"] == "done"
    return events[-1]


BACKENDS = ["ipython", "plain"]


@pytest.fixture(scope="module", params=BACKENDS)
def kernel(request, tmp_path_factory):
    k = Runner(tmp_path_factory.mktemp(request.param), request.param == "ipython")
    yield k
    k.close()


def test_hello(kernel):
    h = kernel.hello
    assert h["type"] == "hello" and h["protocol"] == 1
    assert h["ipython"] is kernel.ipython
    assert h["pid"] == kernel.proc.pid
    major, minor, _ = (int(n) for n in h["python"].split("."))
    assert (major, minor) >= (3, 9)


def test_output_value_and_state(kernel):
    ev = kernel.execute("import sys\nx = 6\nprint('out')\nprint('err', file=sys.stderr)\nx * 7")
    assert text(ev, "stdout") == "out\n"
    assert text(ev, "stderr") == "err\n"
    assert displays(ev) == [{"text/plain": "42"}]
    d = done(ev)
    assert d["status"] == "ok" and d["execution_count"] > 0
    assert d["cpu_time"] >= 0 and d["peak_memory"] > 0

    ev = kernel.execute("x + 1;")  # the namespace persists; ";" hides the value
    assert displays(ev) == [] and done(ev)["status"] == "ok"
    assert displays(kernel.execute("x + 1")) == [{"text/plain": "7"}]


def test_output_order_and_binary_stream(kernel):
    ev = kernel.execute(
        "import sys\n"
        "for i in range(3):\n"
        "    print(i, flush=True)\n"
        "    sys.stdout.buffer.write(b'\\xc3\\xa9\\xff\\n')\n"
        "display({'a': 1})\n"
        "print('after')"
    )
    assert text(ev, "stdout") == "0\né\ufffd\n1\né\ufffd\n2\né\ufffd\nafter\n"
    kinds = [e["type"] for e in ev]
    assert kinds.index("display") < max(i for i, e in enumerate(ev) if e["type"] == "stream" and "after" in e["text"])


def test_error(kernel):
    ev = kernel.execute("def f():\n    return 1 / 0\nf()")
    err = [e for e in ev if e["type"] == "error"]
    assert len(err) == 1
    assert err[0]["ename"] == "ZeroDivisionError" and err[0]["evalue"] == "division by zero"
    tb = "\n".join(err[0]["traceback"])
    assert "return 1 / 0" in tb and "runner.py" not in tb and "\x1b[" not in tb
    assert err[0]["traceback"][-1] == "ZeroDivisionError: division by zero"
    assert done(ev)["status"] == "error"

    ev = kernel.execute("x = (")
    err = [e for e in ev if e["type"] == "error"]
    assert err[0]["ename"] == "SyntaxError" and done(ev)["status"] == "error"


@pytest.mark.parametrize("code, status", [("raise SystemExit", "ok"), ("import sys; sys.exit(3)", "error")])
def test_system_exit_does_not_end_the_runner(kernel, code, status):
    ev = kernel.execute(code)
    assert done(ev)["status"] == status
    assert [e["ename"] for e in ev if e["type"] == "error"] == ([] if status == "ok" else ["SystemExit"])
    assert displays(kernel.execute("'alive'")) == [{"text/plain": "'alive'"}]


def test_count_numbers_on_from_a_given_cell(kernel):
    # A resumed conversation's cells go on from its last In[N].
    assert done(kernel.execute("a = 1", count=7))["execution_count"] == 7
    assert done(kernel.execute("a += 1"))["execution_count"] == 8
    ev = kernel.execute("1/0", count=20)
    assert done(ev)["execution_count"] == 20
    assert any("Cell In[20], line 1" in line for e in ev if e["type"] == "error" for line in e["traceback"])


def test_rich_displays(kernel):
    ev = kernel.execute(
        "import matplotlib.pyplot as plt, pandas as pd\nplt.plot([1, 4, 9])\npd.DataFrame({'a': [1, 2]})"
    )
    assert done(ev)["status"] == "ok", ev
    shown = displays(ev)
    assert len(shown) == 2, shown
    table = next(d for d in shown if "text/html" in d)
    assert "<table" in table["text/html"] and "a" in table["text/plain"]
    figure = next(d for d in shown if "image/png" in d)
    assert base64.b64decode(figure["image/png"]).startswith(b"\x89PNG\r\n\x1a\n")
    assert figure["text/plain"].startswith("<Figure size")
    # Shown figures are closed: the next cell shows none.
    assert displays(kernel.execute("1")) == [{"text/plain": "1"}]


def test_image_over_the_limit_is_left_out_with_a_note(kernel):
    ev = kernel.execute(
        "import matplotlib.pyplot as plt\nplt.plot([1, 2])\nplt.show()",
        max_image_bytes=100,
    )
    assert all("image/png" not in d for d in displays(ev))
    assert "omitted: over the 100 bytes limit]" in text(ev, "stderr")


def test_analyze(kernel):
    kernel.send({"type": "analyze", "id": "a1", "code": "import os, surely_missing_pkg\n%pip install tiny"})
    reply = kernel.read()
    assert reply["type"] == "imports" and reply["id"] == "a1" and reply["pip"] == [["tiny"]]
    assert {i["top"]: i["status"] for i in reply["imports"]} == {"os": "stdlib", "surely_missing_pkg": "missing"}


def test_protocol_errors(kernel):
    kernel.send({"type": "no-such-request", "id": "p1"})
    assert kernel.read() == {"type": "protocol_error", "id": "p1", "message": "unknown request type 'no-such-request'"}
    kernel.send({"type": "execute", "id": 5})
    ev = kernel.read()
    assert ev["type"] == "protocol_error" and "id" not in ev
    assert done(kernel.execute("1"))["status"] == "ok"


@pytest.fixture(params=BACKENDS)
def fresh(request, tmp_path):
    k = Runner(tmp_path, request.param == "ipython")
    yield k
    k.close()


def wait_for_stdout(kernel, cell, want):
    seen = []
    while True:
        ev = kernel.read()
        assert ev.get("id") == cell and ev["type"] != "done", (ev, seen)
        seen.append(ev)
        if ev["type"] == "stream" and want in ev.get("text", ""):
            return seen


def test_interrupt(fresh):
    # Between cells SIGINT is ignored.
    fresh.proc.send_signal(signal.SIGINT)
    time.sleep(0.2)
    assert displays(fresh.execute("2 + 2")) == [{"text/plain": "4"}]

    cell = fresh.execute("import time\nprint('ready', flush=True)\nwhile True:\n    time.sleep(0.01)", until_done=False)
    wait_for_stdout(fresh, cell, "ready")
    fresh.proc.send_signal(signal.SIGINT)
    ev = fresh.events(cell)
    err = [e for e in ev if e["type"] == "error"]
    assert [e["ename"] for e in err] == ["KeyboardInterrupt"]
    assert done(ev)["status"] == "interrupted"
    # The runner carries on, state intact, and interrupts again.
    assert displays(fresh.execute("time.sleep(0); 'still here'")) == [{"text/plain": "'still here'"}]
    cell = fresh.execute("print('again', flush=True)\nwhile True: pass", until_done=False)
    wait_for_stdout(fresh, cell, "again")
    fresh.proc.send_signal(signal.SIGINT)
    assert done(fresh.events(cell))["status"] == "interrupted"


def test_shutdown_and_eof(fresh):
    fresh.send({"type": "shutdown"})
    assert fresh.proc.wait(HANG) == 0
