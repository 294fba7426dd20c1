"""The examples run against the real server, with the fake model server
standing in for OpenAI."""

import importlib.util
import json
import os
import urllib.request

import pytest

from conftest import script

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples")


def load(name):
    spec = importlib.util.spec_from_file_location(name, os.path.join(EXAMPLES, name + ".py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def run_code_call(code):
    return {"name": "run_code", "arguments": json.dumps({"code": code})}


def requests(env):
    with urllib.request.urlopen(env["llm_url"].rsplit("/v1", 1)[0] + "/_requests") as r:
        return json.load(r)


@pytest.mark.parametrize("example", ["openai_function_calling", "langchain_tool"])
def test_framework_example(env, sb, example):
    mod = load(example)
    script(
        env,
        {"text": "", "tool_calls": [run_code_call("x = 2 ** 100\nprint(x)")]},
        {"tool_calls": [run_code_call("len(str(x))")]},
        {"text": "2**100 is 1267650600228229401496703205376, 31 digits."},
    )
    if example == "openai_function_calling":
        from openai import OpenAI

        answer = mod.ask("What is 2**100?", sb, OpenAI(base_url=env["llm_url"], api_key="test-key"), "gpt-test")
    else:
        from langchain_openai import ChatOpenAI

        llm = ChatOpenAI(model="gpt-test", base_url=env["llm_url"], api_key="test-key", streaming=True)
        answer = mod.ask("What is 2**100?", sb, llm)
    assert answer == "2**100 is 1267650600228229401496703205376, 31 digits."
    # The tool's results went back to the model, from the real sandbox,
    # with the state kept between the two calls.
    sent = json.dumps(requests(env)[-1]["messages"])
    assert "1267650600228229401496703205376" in sent
    assert "31" in sent
    assert sb.run_code("x").text == "1267650600228229401496703205376"


def test_quickstart(env, tmp_path, monkeypatch):
    monkeypatch.setenv("INTERP_URL", env["url"])
    monkeypatch.setenv("INTERP_API_KEY", env["keys"]["alice"])
    monkeypatch.chdir(tmp_path)
    load("quickstart")
    assert (tmp_path / "plot.png").read_bytes().startswith(b"\x89PNG")
