import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import net from "node:net";
import { readFileSync, writeFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

import {
  Sandbox, QuotaExceeded, SessionNotFound, AuthenticationError, NotFound, TimeoutError, SSEReader, InstallError,
} from "../dist/index.js";
import { startEnv, runPython } from "./env.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
let env;
let sb;

before(async () => {
  env = await startEnv();
  sb = await Sandbox.create({ url: env.url, apiKey: env.keys.alice });
});

after(async () => {
  await sb?.close();
  await env?.stop();
});

describe("Sandbox", () => {
  test("state across calls", async () => {
    assert.ok((await sb.runCode("x = 6 * 7")).ok);
    const ex = await sb.runCode("print(x)\nx");
    assert.equal(ex.stdout, "42\n");
    assert.equal(ex.text, "42");
    assert.ok(ex.duration > 0);
  });

  test("an image result", async () => {
    const ex = await sb.runCode("import matplotlib.pyplot as plt\nplt.plot([1, 2, 3])");
    const png = ex.results.map((r) => r.png).find(Boolean);
    assert.ok(png, JSON.stringify(ex.events.map((e) => e.type)));
    assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  });

  test("an error result, and callbacks", async () => {
    const seen = [];
    const ex = await sb.runCode("import sys\nprint('out', flush=True)\nsys.stderr.write('err\\n')\n1/0", {
      onStdout: (t) => seen.push(["stdout", t]), onStderr: (t) => seen.push(["stderr", t]), onError: (e) => seen.push(["error", e.name]),
    });
    assert.deepEqual(seen, [["stdout", "out\n"], ["stderr", "err\n"], ["error", "ZeroDivisionError"]]);
    assert.equal(ex.status, "error");
    assert.equal(ex.error.value, "division by zero");
    assert.ok(ex.error.traceback.some((l) => l.includes("1/0")));
    const types = [];
    for await (const ev of sb.streamCode("print('a')\n7")) types.push(ev.type);
    assert.deepEqual(types, ["stdout", "display", "done"]);
  });

  test("an interrupt", async () => {
    let started;
    const running = new Promise((r) => { started = r; });
    const run = sb.runCode("import time\nprint('go', flush=True)\ntime.sleep(60)", { onStdout: () => started() });
    await running;
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(await sb.interrupt(), true);
    const ex = await run;
    assert.equal(ex.status, "interrupted");
    assert.equal(ex.error?.name, "KeyboardInterrupt");
    assert.equal((await sb.runCode("2 + 2")).text, "4");
  });

  test("a timeout", async () => {
    const ex = await sb.runCode("import time\ntime.sleep(30)", { timeout: 1 });
    assert.equal(ex.status, "timeout");
    assert.match(ex.reason, /time limit/);
    // A server that accepts connections and never answers: past the
    // per-call timeout, and the retries of a safe request, TimeoutError.
    const silent = net.createServer(() => {});
    await new Promise((r) => silent.listen(0, "127.0.0.1", r));
    try {
      const url = `http://127.0.0.1:${silent.address().port}`;
      await assert.rejects(Sandbox.connect("s_x", { url, apiKey: "ik_x", timeoutMs: 300, maxRetries: 1 }), TimeoutError);
    } finally {
      silent.close();
    }
    assert.ok(Array.isArray(await sb.files.list({ timeoutMs: 5000 })));
  });

  test("binary file round trips", async () => {
    const data = new Uint8Array(300_000);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7919) % 256;
    const w = await sb.files.write("data/blob.bin", data);
    assert.deepEqual(w, { path: "data/blob.bin", size: data.length });
    assert.deepEqual(await sb.files.read("data/blob.bin"), data);
    const ex = await sb.runCode("b = open('data/blob.bin', 'rb').read()\nopen('rev.bin', 'wb').write(bytes(reversed(b)))\nlen(b)");
    assert.equal(ex.text, String(data.length));
    assert.deepEqual(await sb.files.read("rev.bin"), data.slice().reverse());
    const paths = (await sb.files.list()).map((f) => f.path);
    assert.ok(paths.includes("data/blob.bin") && paths.includes("rev.bin"));
    await sb.files.remove("rev.bin");
    await assert.rejects(sb.files.read("rev.bin"), NotFound);
  });

  test("limits and environment variables", async () => {
    const other = await Sandbox.create({ url: env.url, apiKey: env.keys.alice, limits: { cell_timeout: 5 }, env: { GREETING: "hello" } });
    try {
      assert.equal(other.info.cell_timeout, 5);
      assert.equal((await other.runCode("import os\nos.environ['GREETING']")).text, "'hello'");
    } finally {
      await other.close();
    }
  });

  test("installing from the local index, and a package that does not exist", async () => {
    // testenv.py's index serves one tiny wheel, never on PyPI.
    assert.equal((await sb.runCode(`import ${env.module}`, { install: false })).error?.name, "ModuleNotFoundError");
    const ex = await sb.install([env.package]);
    assert.ok(ex.ok, JSON.stringify(ex.events));
    assert.deepEqual(ex.installs.filter((i) => i.phase === "installed").map((i) => [i.package, i.version]), [[env.package, "1.0"]]);
    assert.equal((await sb.runCode(`import ${env.module}\n${env.module}.VERSION`)).text, "'1.0'");

    await assert.rejects(sb.install(["interp-sdk-no-such-package"]), (e) => {
      assert.ok(e instanceof InstallError, String(e));
      assert.deepEqual(e.packages, ["interp-sdk-no-such-package"]);
      assert.match(e.message, /cannot install interp-sdk-no-such-package.*not found/);
      assert.equal(e.execution.installs.at(-1).phase, "failed");
      return true;
    });
    assert.equal((await sb.runCode("1 + 1")).text, "2");
  });

  test("reconnecting by ID", async () => {
    await sb.runCode("z = 'here'");
    const again = await Sandbox.connect(sb.id, { url: env.url, apiKey: env.keys.alice });
    assert.equal((await again.runCode("z")).text, "'here'");
  });

  test("a quota answer surfaces as QuotaExceeded", async () => {
    const open = [];
    try {
      await assert.rejects(async () => {
        for (let i = 0; i < 5; i++) open.push(await Sandbox.create({ url: env.url, apiKey: env.keys.carol }));
      }, (e) => e instanceof QuotaExceeded && e.status === 429 && e.retryAfter > 0);
      assert.equal(open.length, 4);
    } finally {
      await Promise.all(open.map((s) => s.close()));
    }
  });

  test("two users cannot see each other's sessions", async () => {
    await assert.rejects(Sandbox.connect(sb.id, { url: env.url, apiKey: env.keys.bob }), SessionNotFound);
    const r = await fetch(env.url + "/v1/sessions", { headers: { Authorization: "Bearer " + env.keys.bob } });
    assert.ok(!(await r.text()).includes(sb.id));
    await assert.rejects(Sandbox.create({ url: env.url, apiKey: "ik_wrong" }), AuthenticationError);
  });

  test("a task streamed end to end", async () => {
    await env.script({ text: "Let me compute.", tool_calls: [runPython("print(6 * 7)")] }, { text: "The answer is 42." });
    const events = [];
    const result = await sb.task("What is 6 times 7?", { onEvent: (ev) => events.push(ev) });
    const types = events.map((e) => e.type);
    assert.equal(types[0], "message");
    assert.equal(types.at(-1), "result");
    const tool = events.find((e) => e.type === "tool");
    assert.equal(tool.text, "print(6 * 7)");
    assert.equal(events.find((e) => e.type === "stdout").text, "42\n");
    assert.equal(result.stop, "answer");
    assert.equal(result.answer, "The answer is 42.");
    assert.equal(result.session_id, sb.id);
  });
});

test("the SSE reader parses what the standard allows", async () => {
  const text = ": comment\r\nid: 1\r\nevent: a\r\ndata: {\"x\":\r\ndata: 1}\r\n\r\nevent: b\ndata: 2\n\n";
  const body = new ReadableStream({
    start(c) { for (const ch of text) c.enqueue(new TextEncoder().encode(ch)); c.close(); },
  });
  const r = new SSEReader();
  const evs = [];
  for await (const ev of r.read(body)) evs.push(ev);
  assert.deepEqual(evs, [{ id: "1", event: "a", data: "{\"x\":\n1}" }, { id: "1", event: "b", data: "2" }]);
});

test("the generated types match the document the server serves", async () => {
  const dir = mkdtempSync(path.join(tmpdir(), "interp-ts-"));
  const doc = path.join(dir, "openapi.json");
  writeFileSync(doc, await (await fetch(env.url + "/openapi.json")).text());
  const out = path.join(dir, "schema.d.ts");
  execFileSync(path.join(here, "..", "node_modules", ".bin", "openapi-typescript"), [doc, "-o", out], { stdio: "ignore" });
  assert.equal(readFileSync(out, "utf8"), readFileSync(path.join(here, "..", "src", "schema.d.ts"), "utf8"),
    "src/schema.d.ts differs from what openapi-typescript makes of the served document: run sdk/gen-types");
});
