#!/usr/bin/env python3
"""Starts what the SDKs' tests run against, and stops it when stdin closes.

A real `interp serve` (bin/interp, real sandboxes) on a free port of
127.0.0.1 with a throwaway database, users alice, bob and carol with a key
each (made with `interp admin`), and the scripted fake OpenAI server of
internal/llm/llmtest as the model for tasks. Packages install from a local
PEP 503 index on 127.0.0.1 (never PyPI) that serves one tiny pure-Python
wheel, TINY_PACKAGE 1.0, whose module TINY_MODULE has VERSION = "1.0".
It prints one JSON line: {"url", "keys": {"alice", "bob", "carol"},
"llm_url", "index_url", "package", "module", "dir"}, then waits; closing
its stdin (or killing it) stops everything.

Standard library only: the Python and the TypeScript tests both use it.
"""

import base64
import functools
import hashlib
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "bin")

TINY_PACKAGE = "interp-sdk-tiny"
TINY_MODULE = "interp_sdk_tiny"


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


def build_wheel(d: str) -> str:
    """Writes TINY_PACKAGE's wheel into d and returns its file name."""
    dist, version = TINY_MODULE, "1.0"
    info = f"{dist}-{version}.dist-info"
    files = {
        f"{TINY_MODULE}/__init__.py": f'VERSION = "{version}"\n',
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {TINY_PACKAGE}\nVersion: {version}\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: interp-testenv\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = ""
    for name, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record += f"{name},sha256={digest},{len(text.encode())}\n"
    files[f"{info}/RECORD"] = record + f"{info}/RECORD,,\n"
    wheel = f"{dist}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(os.path.join(d, wheel), "w", zipfile.ZIP_DEFLATED) as z:
        for name, text in files.items():
            z.writestr(name, text)
    return wheel


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def start_index(d: str) -> "tuple[http.server.ThreadingHTTPServer, str]":
    """Serves a PEP 503 simple index of TINY_PACKAGE's wheel from d on
    127.0.0.1; any other project is a 404. Returns the server and its URL."""
    os.makedirs(os.path.join(d, "files"))
    wheel = build_wheel(os.path.join(d, "files"))
    with open(os.path.join(d, "files", wheel), "rb") as f:
        sha = hashlib.sha256(f.read()).hexdigest()
    project = os.path.join(d, "simple", TINY_PACKAGE)
    os.makedirs(project)
    with open(os.path.join(d, "simple", "index.html"), "w") as f:
        f.write(f'<!DOCTYPE html>\n<html><body><a href="/simple/{TINY_PACKAGE}/">{TINY_PACKAGE}</a></body></html>\n')
    with open(os.path.join(project, "index.html"), "w") as f:
        f.write(f'<!DOCTYPE html>\n<html><body><a href="/files/{wheel}#sha256={sha}">{wheel}</a></body></html>\n')
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=d))
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv, f"http://127.0.0.1:{srv.server_address[1]}/simple/"


def main() -> None:
    interp = build()
    d = tempfile.mkdtemp(prefix="interp-sdk-test-")
    procs = []
    index = None
    try:
        index, index_url = start_index(os.path.join(d, "index"))
        fake = subprocess.Popen([os.path.join(BIN, "interp-fakellm")], stdout=subprocess.PIPE, text=True)
        procs.append(fake)
        llm_url = fake.stdout.readline().strip()
        db = os.path.join(d, "history.db")
        keys = {}
        for user in ("alice", "bob", "carol"):
            subprocess.run([interp, "admin", "--db", db, "user", "create", user], check=True, stdout=subprocess.DEVNULL)
            keys[user] = subprocess.run(
                [interp, "admin", "--db", db, "key", "create", user],
                check=True,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
            ).stdout.strip()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "ANTHROPIC_", "OLLAMA_", "INTERP_"))}
        env.update(
            OPENAI_BASE_URL=llm_url,
            OPENAI_API_KEY="test-key",
            INTERP_CONFIG=os.path.join(d, "config.yaml"),
            HOME=d,
            XDG_CONFIG_HOME=d,
        )
        if os.environ.get("INTERP_HOME"):
            env["INTERP_HOME"] = os.environ["INTERP_HOME"]
        args = [
            interp,
            "serve",
            "--db",
            db,
            "--listen",
            "127.0.0.1:0",
            "--provider",
            "openai",
            "--model",
            "gpt-test",
            "--index-url",
            index_url,
            "--pool",
            os.environ.get("INTERP_TEST_POOL", "1"),
            "--quota-sessions",
            "4",
            "--quota-executions",
            "-1",
            "--max-cell-timeout",
            "60s",
            "--default-cell-timeout",
            "30s",
            "--log-level",
            "info",
        ]
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
        print(
            json.dumps(
                {
                    "url": url,
                    "keys": keys,
                    "llm_url": llm_url,
                    "index_url": index_url,
                    "package": TINY_PACKAGE,
                    "module": TINY_MODULE,
                    "dir": d,
                }
            ),
            flush=True,
        )
        sys.stdin.read()
    finally:
        for p in reversed(procs):
            p.terminate()
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
        if index is not None:
            index.shutdown()
        if not os.environ.get("INTERP_TEST_KEEP"):
            shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
