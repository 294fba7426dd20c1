#!/usr/bin/env python3
"""Starts what the SDKs' tests run against, and stops it when stdin closes.

A real `interp serve` (bin/interp, real sandboxes) on a free port of
127.0.0.1 with a throwaway database, users alice, bob and carol with a key
each (made with `interp admin`), and the scripted fake OpenAI server of
internal/llm/llmtest as the model for tasks. It prints one JSON line:
{"url", "keys": {"alice", "bob", "carol"}, "llm_url", "dir"}, then waits;
closing its stdin (or killing it) stops everything.

Standard library only: the Python and the TypeScript tests both use it.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "bin")


def build() -> str:
    """Builds interp (unless INTERP_BIN names one) and the fake model server into bin/."""
    env = {**os.environ, "CGO_ENABLED": "0"}
    interp = os.environ.get("INTERP_BIN")
    if not interp:
        # Always: the served document must be the code's.
        subprocess.run(["make", "-s", "-C", ROOT, "build"], check=True, stdout=sys.stderr)
        interp = os.path.join(BIN, "interp")
    fake = os.path.join(BIN, "interp-fakellm")
    subprocess.run(["go", "build", "-o", fake, "./internal/llm/llmtest/fakellm"], cwd=ROOT, env=env, check=True)
    return interp


def main() -> None:
    interp = build()
    d = tempfile.mkdtemp(prefix="interp-sdk-test-")
    procs = []
    try:
        fake = subprocess.Popen([os.path.join(BIN, "interp-fakellm")], stdout=subprocess.PIPE, text=True)
        procs.append(fake)
        llm_url = fake.stdout.readline().strip()
        db = os.path.join(d, "history.db")
        keys = {}
        for user in ("alice", "bob", "carol"):
            subprocess.run([interp, "admin", "--db", db, "user", "create", user], check=True, stdout=subprocess.DEVNULL)
            keys[user] = subprocess.run([interp, "admin", "--db", db, "key", "create", user], check=True,
                                        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True).stdout.strip()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "ANTHROPIC_", "OLLAMA_", "INTERP_"))}
        env.update(OPENAI_BASE_URL=llm_url, OPENAI_API_KEY="test-key", INTERP_CONFIG=os.path.join(d, "config.yaml"),
                   HOME=d, XDG_CONFIG_HOME=d)
        if os.environ.get("INTERP_HOME"):
            env["INTERP_HOME"] = os.environ["INTERP_HOME"]
        args = [interp, "serve", "--db", db, "--listen", "127.0.0.1:0", "--provider", "openai", "--model", "gpt-test",
                "--no-install", "--pool", os.environ.get("INTERP_TEST_POOL", "1"), "--quota-sessions", "4",
                "--quota-executions", "-1", "--max-cell-timeout", "60s", "--default-cell-timeout", "30s",
                "--log-level", "info"]
        log = open(os.path.join(d, "serve.log"), "w+")
        srv = subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.PIPE, text=True)
        procs.append(srv)
        url = ""
        deadline = time.time() + 120
        while not url and time.time() < deadline:
            line = srv.stderr.readline()
            if not line:
                raise SystemExit("interp serve exited: see " + log.name)
            log.write(line)
            m = re.search(r'"addr":"(http://[^"]+)"', line) or re.search(r"addr=(http://\S+)", line)
            if m and "listening" in line:
                url = m.group(1)
        if not url:
            raise SystemExit("interp serve did not say where it listens")

        def drain() -> None:
            for line in srv.stderr:
                log.write(line)
                log.flush()

        threading.Thread(target=drain, daemon=True).start()
        print(json.dumps({"url": url, "keys": keys, "llm_url": llm_url, "dir": d}), flush=True)
        sys.stdin.read()
    finally:
        for p in reversed(procs):
            p.terminate()
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
        if not os.environ.get("INTERP_TEST_KEEP"):
            shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
