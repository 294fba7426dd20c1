"""The tests run against a real `interp serve` with real sandboxes, started
by ../../testenv.py, and the scripted fake model server for tasks."""

import json
import os
import subprocess
import sys
import urllib.request

import pytest

import interp

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


@pytest.fixture(scope="session")
def env():
    p = subprocess.Popen(
        [sys.executable, os.path.join(ROOT, "sdk", "testenv.py")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    line = p.stdout.readline()
    if not line:
        p.wait()
        pytest.fail("the test server did not start")
    e = json.loads(line)
    yield e
    p.stdin.close()
    p.wait(60)


@pytest.fixture
def sb(env):
    with interp.Sandbox(env["url"], env["keys"]["alice"]) as s:
        yield s


def script(env, *turns):
    """Sets what the fake model answers next: each turn is a dict with
    text and/or tool_calls ([{"name", "arguments"}])."""
    req = urllib.request.Request(
        env["llm_url"].rsplit("/v1", 1)[0] + "/_script",
        data=json.dumps(list(turns)).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    urllib.request.urlopen(req).read()


def run_python(code):
    """A tool call of the model that runs code."""
    return {"name": "run_python", "arguments": json.dumps({"code": code})}
