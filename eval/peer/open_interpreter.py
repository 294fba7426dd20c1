"""Runs an eval suite through Open Interpreter, the peer agent Interp is
compared with, and writes its results for `interp eval --replay`.

Run it through eval/peer/run, which installs Open Interpreter pinned into
its own virtual environment, serves the model as Interp does, runs this as
the unprivileged user nobody (Open Interpreter runs the model's code on the
host, unsandboxed) and checks the answers with `interp eval --replay`.

Each task gets a fresh working directory with its input files; the final
assistant message is the answer, and the directory is the workspace the
checks look at. A task that runs past --task-timeout is stopped and
counted with what it had answered by then.
"""

import argparse
import json
import os
import shutil
import signal
import sys
import time

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no download at import
os.environ.setdefault("DISABLE_TELEMETRY", "1")


class TaskTimeout(BaseException):  # not caught by the agent's own "except Exception"
    pass


def on_timeout(signum, frame):
    raise TaskTimeout()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--suite", required=True)
    ap.add_argument("--api-base", required=True)
    ap.add_argument("--model", default="local")
    ap.add_argument("--work", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--only", default="", help="comma-separated task ids")
    ap.add_argument("--max-tokens", type=int, default=1024)
    ap.add_argument("--task-timeout", type=int, default=90, help="seconds a task may take")
    args = ap.parse_args()

    from interpreter import interpreter

    suite_dir = os.path.dirname(os.path.abspath(args.suite))
    tasks = [json.loads(line) for line in open(args.suite, encoding="utf-8") if line.strip()]
    only = [s for s in args.only.split(",") if s]
    if only:
        tasks = [t for t in tasks if t["id"] in only]
    done = set()
    if os.path.exists(args.out):
        done = {json.loads(line)["id"] for line in open(args.out) if line.strip()}

    for t in tasks:
        if t["id"] in done:
            continue
        ws = os.path.join(args.work, t["id"])
        shutil.rmtree(ws, ignore_errors=True)
        os.makedirs(ws)
        for f in t.get("files", []):
            shutil.copy(os.path.join(suite_dir, "data", f), ws)
        interpreter.reset()
        interpreter.offline = True
        interpreter.auto_run = True
        interpreter.llm.model = "openai/" + args.model
        interpreter.llm.api_base = args.api_base
        interpreter.llm.api_key = "none"
        interpreter.llm.temperature = 0
        interpreter.llm.context_window = 8192
        interpreter.llm.max_tokens = args.max_tokens
        interpreter.max_output = 2000
        os.chdir(ws)
        start = time.time()
        err = ""
        msgs = []
        signal.signal(signal.SIGALRM, on_timeout)
        signal.alarm(args.task_timeout)
        try:
            msgs = interpreter.chat(t["prompt"], display=False, stream=False)
        except TaskTimeout:
            err = f"timed out after {args.task_timeout} s"
            msgs = list(interpreter.messages)
        except Exception as e:  # the peer failing is a result too
            err = f"{type(e).__name__}: {e}"[:300]
            msgs = list(interpreter.messages)
        finally:
            signal.alarm(0)
        seconds = time.time() - start
        try:
            interpreter.computer.terminate()
        except Exception:
            pass
        answer = ""
        for m in msgs or []:
            if m.get("role") == "assistant" and m.get("type") == "message":
                answer = m.get("content", "")
        cells = sum(1 for m in msgs or [] if m.get("type") == "code")
        errors = sum(1 for m in msgs or [] if m.get("role") == "computer" and "Traceback" in str(m.get("content", "")))
        rec = {
            "id": t["id"],
            "answer": answer,
            "workspace": ws,
            "seconds": round(seconds, 2),
            "cells": cells,
            "cell_errors": errors,
            "steps": sum(1 for m in msgs or [] if m.get("role") == "assistant"),
            "error": err,
        }
        with open(args.out, "a") as f:
            f.write(json.dumps(rec, ensure_ascii=False) + "\n")
        print(f"{t['id']}: {seconds:.1f} s, {cells} cells: {answer[:80]!r}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
