"""The OpenAI Python SDK's function calling, with Interp's run_code as the tool.

    OPENAI_API_KEY=... INTERP_URL=... INTERP_API_KEY=... python examples/openai_function_calling.py "What is 2**100?"

Any OpenAI-compatible server works: set OPENAI_BASE_URL (and MODEL).
"""

import json
import os
import sys

from openai import OpenAI

import interp

TOOL = {
    "type": "function",
    "function": {
        "name": "run_code",
        "description": (
            "Runs Python in a persistent sandboxed session and returns its output. "
            "Variables persist between calls; the last expression's value is shown."
        ),
        "parameters": {
            "type": "object",
            "properties": {"code": {"type": "string", "description": "The Python code to run."}},
            "required": ["code"],
        },
    },
}


def tool_output(ex: interp.Execution) -> str:
    """What the model gets back from a run: output, the value, or the error."""
    parts = [ex.stdout, ex.stderr]
    if ex.text:
        parts.append(ex.text)
    if ex.error:
        parts.append(f"{ex.error.name}: {ex.error.value}")
    return "\n".join(p for p in parts if p).strip() or "(no output)"


def ask(question: str, sb: interp.Sandbox, client: OpenAI, model: str, max_steps: int = 10) -> str:
    messages = [{"role": "user", "content": question}]
    for _ in range(max_steps):
        # Streamed, as every server supports; the SDK's stream helpers
        # gather the tool calls.
        with client.chat.completions.stream(model=model, messages=messages, tools=[TOOL]) as stream:
            msg = stream.get_final_completion().choices[0].message
        messages.append(msg.model_dump(exclude_none=True))
        if not msg.tool_calls:
            return msg.content or ""
        for call in msg.tool_calls:
            code = json.loads(call.function.arguments)["code"]
            messages.append({"role": "tool", "tool_call_id": call.id, "content": tool_output(sb.run_code(code))})
    return "(no answer within the step limit)"


def main() -> None:
    client = OpenAI()  # OPENAI_API_KEY, OPENAI_BASE_URL
    with interp.Sandbox() as sb:
        print(ask(" ".join(sys.argv[1:]) or "What is 2**100?", sb, client, os.environ.get("MODEL", "gpt-4o-mini")))


if __name__ == "__main__":
    main()
