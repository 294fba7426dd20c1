import os
import struct
import threading
import time
import zlib

import httpx
import pytest

import interp
from conftest import run_python, script


def test_state_across_calls(sb):
    assert sb.run_code("x = 6 * 7").ok
    ex = sb.run_code("print(x)\nx")
    assert ex.stdout == "42\n"
    assert ex.text == "42"
    assert ex.status == "ok" and ex.duration > 0 and ex.execution_count == 2


def test_image_result(sb):
    ex = sb.run_code("import matplotlib.pyplot as plt\nplt.plot([1, 2, 3])")
    pngs = [r.png for r in ex.results if r.png]
    assert pngs, ex
    png = pngs[0]
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    width, height = struct.unpack(">II", png[16:24])
    assert width > 100 and height > 100


def test_html_result(sb):
    ex = sb.run_code("from IPython.display import HTML\nHTML('<b>bold</b>')")
    assert ex.results[-1].html == "<b>bold</b>"
    assert "text/html" in ex.results[-1].formats


def test_error_result(sb):
    ex = sb.run_code("def f():\n    return 1 / 0\nf()")
    assert ex.status == "error"
    assert ex.error is not None and ex.error.name == "ZeroDivisionError"
    assert ex.error.value == "division by zero"
    assert any("1 / 0" in line for line in ex.error.traceback)
    # The session survives.
    assert sb.run_code("1 + 1").text == "2"


def test_callbacks_and_typed_events(sb):
    seen = []
    ex = sb.run_code(
        "import sys\nprint('out', flush=True)\nsys.stderr.write('err\\n')\n1/0",
        on_stdout=lambda t: seen.append(("stdout", t)),
        on_stderr=lambda t: seen.append(("stderr", t)),
        on_error=lambda e: seen.append(("error", e.name)),
    )
    assert seen == [("stdout", "out\n"), ("stderr", "err\n"), ("error", "ZeroDivisionError")]
    assert ex.stdout == "out\n" and ex.status == "error"
    events = list(sb.stream_code("print('a')\n7"))
    assert [type(e) for e in events] == [interp.StdoutEvent, interp.DisplayEvent, interp.DoneEvent]
    assert events[1].data["text/plain"] == "7" and events[-1].status == "ok"


def test_interrupt(sb):
    started = threading.Event()
    t = threading.Thread(target=lambda: (started.wait(30), time.sleep(0.3), sb.interrupt()))
    t.start()
    ex = sb.run_code("import time\nprint('go', flush=True)\ntime.sleep(60)", on_stdout=lambda _: started.set())
    t.join()
    assert ex.status == "interrupted"
    assert ex.error is not None and ex.error.name == "KeyboardInterrupt"
    assert sb.run_code("2 + 2").text == "4"


def test_timeout(sb):
    ex = sb.run_code("import time\ntime.sleep(30)", timeout=1)
    assert ex.status == "timeout"
    assert "time limit" in ex.reason
    assert sb.run_code("3").text == "3"


def test_request_timeout_raises(env, sb):
    # A server that accepts connections and never answers: past the
    # per-call timeout, and the retries of a safe request, TimeoutError.
    import socket

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    try:
        url = "http://127.0.0.1:%d" % silent.getsockname()[1]
        start = time.monotonic()
        with pytest.raises(interp.TimeoutError):
            interp.Sandbox.connect("s_x", url, "ik_x", timeout=0.3, max_retries=1)
        assert time.monotonic() - start < 10
    finally:
        silent.close()
    # The per-call timeout of one request.
    assert sb.files.list(timeout=5) is not None


def test_binary_file_round_trip(sb):
    data = bytes(range(256)) * 1000 + zlib.compress(os.urandom(5000))
    w = sb.files.write("data/blob.bin", data)
    assert w.path == "data/blob.bin" and w.size == len(data)
    assert sb.files.read("data/blob.bin") == data
    # The code sees the same bytes, and writes its own.
    ex = sb.run_code(
        "import hashlib\nb = open('data/blob.bin', 'rb').read()\n"
        "open('out.bin', 'wb').write(bytes(reversed(b)))\nhashlib.sha256(b).hexdigest()"
    )
    import hashlib

    assert ex.text == repr(hashlib.sha256(data).hexdigest())
    assert sb.files.read("out.bin") == bytes(reversed(data))
    assert {f.path for f in sb.files.list()} >= {"data", "data/blob.bin", "out.bin"}
    sb.files.remove("out.bin")
    with pytest.raises(interp.NotFound):
        sb.files.read("out.bin")
    sb.files.write("text.txt", "héllo")
    assert sb.files.read("text.txt").decode() == "héllo"


def test_limits_and_env(env):
    with interp.Sandbox(
        env["url"],
        env["keys"]["alice"],
        limits=interp.Limits(memory=512 << 20, cell_timeout=5),
        env={"GREETING": "hello"},
    ) as sb:
        assert sb.info.memory == 512 << 20 and sb.info.cell_timeout == 5
        assert sb.run_code("import os\nos.environ['GREETING']").text == "'hello'"
        assert sb.run_code("import os\n'OPENAI_API_KEY' in os.environ").text == "False"


def test_install(env, sb):
    # From testenv.py's local index: a tiny wheel, never on PyPI.
    pkg, mod = env["package"], env["module"]
    assert sb.run_code(f"import {mod}", install=False).error.name == "ModuleNotFoundError"
    ex = sb.install([pkg])
    assert ex.ok, ex
    assert [(i.package, i.version) for i in ex.installs if i.phase == "installed"] == [(pkg, "1.0")]
    assert sb.run_code(f"import {mod}\n{mod}.VERSION").text == "'1.0'"

    with pytest.raises(interp.InstallError) as e:
        sb.install(["interp-sdk-no-such-package"])
    assert e.value.packages == ["interp-sdk-no-such-package"]
    assert "cannot install interp-sdk-no-such-package" in str(e.value) and "not found" in str(e.value), str(e.value)
    assert e.value.execution.installs[-1].phase == "failed"
    assert sb.run_code("1 + 1").text == "2"


def test_restart_keeps_files(sb):
    sb.run_code("y = 1\nopen('kept.txt', 'w').write('k')")
    sb.restart()
    ex = sb.run_code("print('y' in globals(), open('kept.txt').read())")
    assert ex.stdout == "False k\n"


def test_reconnect_by_id(env, sb):
    sb.run_code("z = 'still here'")
    other = interp.Sandbox.connect(sb.id, env["url"], env["keys"]["alice"])
    try:
        assert other.run_code("z").text == "'still here'"
    finally:
        other.detach()


def test_quota_exceeded(env):
    # carol may have 4 sessions at once: the fifth is refused with 429.
    key = env["keys"]["carol"]
    open_ = []
    try:
        with pytest.raises(interp.QuotaExceeded) as exc:
            for _ in range(5):
                open_.append(interp.Sandbox(env["url"], key))
        assert exc.value.status == 429
        assert exc.value.retry_after is not None and exc.value.retry_after > 0
        assert len(open_) == 4
    finally:
        for s in open_:
            s.close()


def test_users_cannot_see_each_others_sessions(env, sb):
    bob = env["keys"]["bob"]
    with pytest.raises(interp.SessionNotFound):
        interp.Sandbox.connect(sb.id, env["url"], bob)
    r = httpx.get(env["url"] + "/v1/sessions", headers={"Authorization": "Bearer " + bob})
    assert sb.id not in r.text
    with pytest.raises(interp.AuthenticationError):
        interp.Sandbox(env["url"], "ik_wrong")


def test_task_streamed(env, sb):
    script(env, {"text": "Let me compute.", "tool_calls": [run_python("print(6 * 7)")]}, {"text": "The answer is 42."})
    events = []
    result = sb.task("What is 6 times 7?", on_event=events.append)
    kinds = [e.type for e in events]
    assert kinds[0] == "message" and "tool" in kinds and kinds[-1] == "result"
    tool = next(e for e in events if isinstance(e, interp.ToolEvent))
    assert tool.text == "print(6 * 7)" and tool.step == 1
    out = [e for e in events if isinstance(e, interp.StdoutEvent)]
    assert out and out[0].text == "42\n" and out[0].step == 1
    assert isinstance(result, interp.ResultEvent)
    assert result.stop == "answer" and result.answer == "The answer is 42." and result.session_id == sb.id
    # The task's code ran in this session.
    assert sb.run_code("_").ok


def test_stream_resumes_after_a_dropped_connection(env):
    """A stream cut after its first event resumes with Last-Event-ID: every
    event arrives once, and the code ran on meanwhile."""
    cuts = []

    class Cutting(httpx.HTTPTransport):
        def handle_request(self, request):
            resp = super().handle_request(request)
            if not request.url.path.endswith("/execute/stream") or cuts:
                return resp
            cuts.append(request.url.path)
            inner = resp.stream

            class Cut(httpx.SyncByteStream):
                def __iter__(self):
                    for chunk in inner:
                        yield chunk
                        if b"\n\n" in chunk:
                            raise httpx.ReadError("connection cut by the test", request=request)

                def close(self):
                    inner.close()

            return httpx.Response(resp.status_code, headers=resp.headers, stream=Cut(), request=request)

    with httpx.Client(transport=Cutting()) as http:
        with interp.Sandbox(env["url"], env["keys"]["alice"], http_client=http) as sb:
            out = []
            ex = sb.run_code(
                "import time\nprint('one', flush=True)\ntime.sleep(0.5)\nprint('two')\n'end'", on_stdout=out.append
            )
            assert cuts, "the stream was not cut"
            assert "".join(out) == "one\ntwo\n" and ex.stdout == "one\ntwo\n"
            assert [type(e).__name__ for e in ex.events] == ["StdoutEvent", "StdoutEvent", "DisplayEvent", "DoneEvent"]
            assert ex.status == "ok" and ex.text == "'end'"
