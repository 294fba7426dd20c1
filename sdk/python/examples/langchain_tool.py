"""Interp as a LangChain tool, driven by a LangChain chat model.

OPENAI_API_KEY=... INTERP_URL=... INTERP_API_KEY=... python examples/langchain_tool.py "What is 2**100?"
"""

import os
import sys

from langchain_core.messages import HumanMessage, ToolMessage
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI

import interp


def make_tool(sb: interp.Sandbox):
    @tool
    def run_code(code: str) -> str:
        """Runs Python in a persistent sandboxed session and returns its output.
        Variables persist between calls; the last expression's value is shown."""
        ex = sb.run_code(code)
        out = [ex.stdout, ex.stderr, ex.text or ""]
        if ex.error:
            out.append(f"{ex.error.name}: {ex.error.value}")
        return "\n".join(p for p in out if p).strip() or "(no output)"

    return run_code


def ask(question: str, sb: interp.Sandbox, llm: ChatOpenAI, max_steps: int = 10) -> str:
    run_code = make_tool(sb)
    model = llm.bind_tools([run_code])
    messages = [HumanMessage(question)]
    for _ in range(max_steps):
        msg = model.invoke(messages)
        messages.append(msg)
        if not msg.tool_calls:
            return msg.content
        for call in msg.tool_calls:
            messages.append(ToolMessage(run_code.invoke(call["args"]), tool_call_id=call["id"]))
    return "(no answer within the step limit)"


def main() -> None:
    llm = ChatOpenAI(model=os.environ.get("MODEL", "gpt-4o-mini"), streaming=True)
    with interp.Sandbox() as sb:
        print(ask(" ".join(sys.argv[1:]) or "What is 2**100?", sb, llm))


if __name__ == "__main__":
    main()
