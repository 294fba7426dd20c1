import asyncio

import pytest

import interp
from conftest import run_python, script


async def test_async_sandbox(env):
    async with interp.AsyncSandbox.create(env["url"], env["keys"]["alice"]) as sb:
        await sb.run_code("x = 2")
        ex = await sb.run_code("x ** 10")
        assert ex.text == "1024"
        out = []

        async def on_stdout(t):
            out.append(t)

        ex = await sb.run_code("print('hi')\n1/0", on_stdout=on_stdout)
        assert out == ["hi\n"] and ex.error.name == "ZeroDivisionError"
        await sb.files.write("b.bin", b"\x00\xff" * 10)
        assert await sb.files.read("b.bin") == b"\x00\xff" * 10
        kinds = [type(e).__name__ async for e in sb.stream_code("print(1)")]
        assert kinds == ["StdoutEvent", "DoneEvent"]

        async def stop_soon():
            await asyncio.sleep(1)
            return await sb.interrupt()

        ex, interrupted = await asyncio.gather(sb.run_code("import time; time.sleep(60)"), stop_soon())
        assert interrupted and ex.status == "interrupted"

        script(env, {"tool_calls": [run_python("print(2 + 2)")]}, {"text": "4."})
        result = await sb.task("2+2?")
        assert result.answer == "4." and result.steps == 2


async def test_async_errors(env):
    with pytest.raises(interp.AuthenticationError):
        await interp.AsyncSandbox.create(env["url"], "ik_nope")
    with pytest.raises(interp.SessionNotFound):
        await interp.AsyncSandbox.connect("s_missing", env["url"], env["keys"]["alice"])
    # Awaited, not entered: closed by hand.
    sb = await interp.AsyncSandbox.create(env["url"], env["keys"]["alice"])
    assert (await sb.run_code("1 + 1")).text == "2"
    with pytest.raises(interp.InstallError, match="cannot install interp-sdk-no-such-package"):
        await sb.install(["interp-sdk-no-such-package"])
    assert (await sb.install([env["package"]])).ok
    await sb.close()
    with pytest.raises(interp.SessionNotFound):
        await interp.AsyncSandbox.connect(sb.id, env["url"], env["keys"]["alice"])
