// Timings for the web benchmark (e2e/bench.spec.ts): when each stream
// event arrived, when the frame that shows it was painted, and, as the
// baseline, when the next frame after the event would have been painted
// had the page done nothing. Recorded only when the page defines
// window.__interpPerf; otherwise these cost a property lookup.

type Record = { event?: number; paint?: number; bare?: number };

function sink(): Record[] | undefined {
  return (window as unknown as { __interpPerf?: Record[] }).__interpPerf;
}

// afterPaint runs f after the next frame is painted: a task queued from a
// frame callback runs after that frame's paint.
function afterPaint(f: () => void): void {
  requestAnimationFrame(() => setTimeout(f, 0));
}

export function markEvent(): void {
  const p = sink();
  if (!p) return;
  p.push({ event: performance.now() });
  afterPaint(() => p.push({ bare: performance.now() }));
}

export function markCommit(): void {
  const p = sink();
  if (!p) return;
  afterPaint(() => p.push({ paint: performance.now() }));
}
