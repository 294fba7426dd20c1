import { readFileSync, statSync, writeFileSync } from "node:fs";
import { ask, code, expect, script, signIn, test } from "./fixtures";

// The web UI's benchmark, run by `make bench-web` (E2E_BENCH names the
// file to write the results to as markdown). Every result stands beside a
// baseline measured in the same run.
const out = process.env.E2E_BENCH;
test.skip(!out, "the benchmark runs only with E2E_BENCH (make bench-web)");

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

const results: string[] = [];

test("first load: JavaScript size", async ({ page }) => {
  const scripts = new Set<string>();
  page.on("request", (r) => {
    if (r.resourceType() === "script") scripts.add(new URL(r.url()).pathname);
  });
  await page.goto("/");
  await expect(page.getByLabel(/API key/)).toBeVisible();
  // What the server sends for each is its precompressed file in the
  // build (streamed, so without a Content-Length to read).
  let gzip = 0;
  let brotli = 0;
  let raw = 0;
  for (const p of scripts) {
    raw += statSync(`dist/ui${p}`).size;
    gzip += statSync(`dist/ui${p}.gz`).size;
    brotli += statSync(`dist/ui${p}.br`).size;
  }
  const kb = (n: number) => (n / 1024).toFixed(1);
  results.push(
    "### First load\n",
    "The JavaScript a browser downloads to show the first page, against the budget of 250 KB gzipped. KaTeX (78 KB gzipped) loads only when a message has math.\n",
    "| files | uncompressed | gzip | brotli | budget | gzip / budget |",
    "|---|---|---|---|---|---|",
    `| ${scripts.size} | ${kb(raw)} KB | ${kb(gzip)} KB | ${kb(brotli)} KB | 250 KB | ${(gzip / 1024 / 250).toFixed(2)} |`,
    "",
  );
});

test("stream: from an event to its paint", async ({ page, request }) => {
  await page.addInitScript(() => {
    (window as unknown as { __interpPerf: unknown[] }).__interpPerf = [];
  });
  await signIn(page);
  await script(
    request,
    code("import time\nfor i in range(300):\n    print('line', i, flush=True)\n    time.sleep(0.02)"),
    {
      Text: "Printed.",
    },
  );
  await ask(page, "Print 300 lines slowly");
  await expect(page.locator(".step.answer").last()).toContainText("Printed.", { timeout: 90_000 });
  const recs = await page.evaluate(
    () =>
      (window as unknown as { __interpPerf: { event?: number; paint?: number; bare?: number }[] })
        .__interpPerf,
  );
  const events = recs.filter((r) => r.event !== undefined).map((r) => r.event as number);
  const paints = recs.filter((r) => r.paint !== undefined).map((r) => r.paint as number);
  const bares = recs.filter((r) => r.bare !== undefined).map((r) => r.bare as number);
  const lat: number[] = [];
  const base: number[] = [];
  for (const e of events) {
    const p = paints.find((x) => x >= e);
    const b = bares.find((x) => x >= e);
    if (p !== undefined && b !== undefined) {
      lat.push(p - e);
      base.push(b - e);
    }
  }
  const ms = (n: number) => n.toFixed(1);
  results.push(
    "### Streaming\n",
    `A task printing 300 lines 20 ms apart: the time from each Server-Sent Event's arrival in the page to the paint of the frame that shows it (${lat.length} events), against the baseline of the next frame's paint had the page done nothing with the event.\n`,
    "| | median | p95 |",
    "|---|---|---|",
    `| event → paint | ${ms(pct(lat, 50))} ms | ${ms(pct(lat, 95))} ms |`,
    `| baseline: event → next paint | ${ms(pct(base, 50))} ms | ${ms(pct(base, 95))} ms |`,
    `| ratio | ${(pct(lat, 50) / pct(base, 50)).toFixed(2)} | ${(pct(lat, 95) / pct(base, 95)).toFixed(2)} |`,
    "",
  );
});

test("a conversation of 300 steps and 100 images scrolls", async ({ page }) => {
  const conv = process.env.E2E_BENCH_CONV ?? "";
  expect(conv).not.toBe("");
  await signIn(page);
  await page.goto(`/c/${conv}`);
  await expect(page.locator(".row").first()).toBeVisible({ timeout: 60_000 });
  await expect(page.locator("img.out-image").first()).toBeVisible();
  const frames = async (scroll: boolean) =>
    page.evaluate(async (scroll) => {
      const el = document.querySelector(".chat-scroll") as HTMLElement;
      el.scrollTop = 0;
      const times: number[] = [];
      let rows = 0;
      await new Promise<void>((done) => {
        const step = (t: number) => {
          times.push(t);
          if (scroll) el.scrollTop += 90;
          rows = Math.max(rows, document.querySelectorAll(".row").length);
          if (times.length < 400) requestAnimationFrame(step);
          else done();
        };
        requestAnimationFrame(step);
      });
      const gaps = times.slice(1).map((t, i) => t - times[i]);
      return { gaps, rows, height: el.scrollHeight };
    }, scroll);
  const idle = await frames(false);
  const moving = await frames(true);
  const fps = (g: number[]) => 1000 / (g.reduce((a, b) => a + b, 0) / g.length);
  const jank = (g: number[]) => g.filter((x) => x > 1000 / 60 + 8).length;
  results.push(
    "### Scrolling\n",
    `A recorded conversation of 300 steps with 100 images (${(moving.height / 1000).toFixed(0)}k px tall), scrolled 90 px a frame for 400 frames, against the same page's frames when it does not scroll. The list is virtualised: at most ${moving.rows} rows were in the DOM at once.\n`,
    "| | frames per second | p95 frame | frames over 24 ms |",
    "|---|---|---|---|",
    `| scrolling | ${fps(moving.gaps).toFixed(1)} | ${pct(moving.gaps, 95).toFixed(1)} ms | ${jank(moving.gaps)} |`,
    `| baseline: idle | ${fps(idle.gaps).toFixed(1)} | ${pct(idle.gaps, 95).toFixed(1)} ms | ${jank(idle.gaps)} |`,
    `| ratio | ${(fps(moving.gaps) / fps(idle.gaps)).toFixed(2)} | | |`,
    "",
  );
});

test.afterAll(() => {
  if (!out) return;
  const section = [
    "## The web UI",
    "",
    `Measured by \`make bench-web\` (web/e2e/bench.spec.ts) in Debian's headless Chromium (software rendering, no GPU) against a real interp serve, on ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC, on the machine above.`,
    "",
    ...results,
  ].join("\n");
  let doc = "";
  try {
    doc = readFileSync(out, "utf8");
  } catch {
    // a new file
  }
  const start = doc.indexOf("## The web UI");
  if (start >= 0) {
    const next = doc.indexOf("\n## ", start + 1);
    doc = doc.slice(0, start) + section + (next >= 0 ? doc.slice(next) : "\n");
  } else {
    doc = `${doc.trimEnd()}\n\n${section}\n`;
  }
  writeFileSync(out, doc);
});
