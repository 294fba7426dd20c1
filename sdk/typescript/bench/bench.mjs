// The SDK's round trip of `1+1` beside the same request made raw with
// fetch, interleaved: node bench.mjs URL KEY N prints one JSON object,
// {"raw": [ns, ...], "sdk": [ns, ...]}. cmd/interp-bench runs it.
import { Sandbox } from "../dist/index.js";

const [url, key, nArg] = process.argv.slice(2);
const n = Number(nArg);
const sb = await Sandbox.create({ url, apiKey: key });
const path = `${url}/v1/sessions/${sb.id}/execute`;
const now = () => process.hrtime.bigint();

async function runRaw() {
  const t = now();
  const r = await fetch(path, {
    method: "POST", body: JSON.stringify({ code: "1+1" }),
    headers: { Authorization: `Bearer ${key}`, "Content-Type": "application/json" },
  });
  if (!r.ok) throw new Error(`raw: ${r.status}`);
  const { events } = await r.json();
  const d = Number(now() - t);
  if (!events.some((e) => e.data?.["text/plain"] === "2")) throw new Error(`raw: ${JSON.stringify(events)}`);
  return d;
}

async function runSdk() {
  const t = now();
  const ex = await sb.runCode("1+1");
  const d = Number(now() - t);
  if (ex.text !== "2") throw new Error(`sdk: ${JSON.stringify(ex.events)}`);
  return d;
}

const out = { raw: [], sdk: [] };
try {
  for (let i = 0; i < 20 + n; i++) {
    const order = i % 2 === 0 ? [["raw", runRaw], ["sdk", runSdk]] : [["sdk", runSdk], ["raw", runRaw]];
    const got = {};
    for (const [name, f] of order) got[name] = await f();
    if (i >= 20) for (const name of ["raw", "sdk"]) out[name].push(got[name]);
  }
} finally {
  await sb.close();
}
console.log(JSON.stringify(out));
