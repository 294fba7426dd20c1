// Starts ../testenv.py (a real interp serve, users and keys, the fake
// model server) for the tests, and stops it when they end.
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import path from "node:path";

const here = path.dirname(fileURLToPath(import.meta.url));

export async function startEnv() {
  const p = spawn("python3", [path.join(here, "..", "..", "testenv.py")], { stdio: ["pipe", "pipe", "inherit"] });
  const rl = createInterface({ input: p.stdout });
  const line = await new Promise((resolve, reject) => {
    rl.once("line", resolve);
    p.once("exit", (code) => reject(new Error(`testenv.py exited with ${code}`)));
  });
  const env = JSON.parse(line);
  env.stop = () => new Promise((resolve) => { p.once("exit", resolve); p.stdin.end(); });
  env.script = async (...turns) => {
    const r = await fetch(env.llm_url.replace(/\/v1$/, "") + "/_script", { method: "POST", body: JSON.stringify(turns) });
    if (!r.ok) throw new Error(`script: ${r.status}`);
  };
  return env;
}

export const runPython = (code) => ({ name: "run_python", arguments: JSON.stringify({ code }) });
