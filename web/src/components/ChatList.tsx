import { useVirtualizer } from "@tanstack/react-virtual";
import { useEffect, useLayoutEffect, useMemo, useRef } from "react";
import type { Step, Turn } from "../events";
import type { Messages } from "../i18n";
import { markCommit } from "../perf";
import { type ConfirmAnswer, StepView } from "./StepView";

type Row =
  | { kind: "prompt"; key: string; text: string }
  | { kind: "step"; key: string; step: Step }
  | { kind: "end"; key: string; turn: Turn };

/**
 * ChatList shows the conversation as a virtualised list: only the rows on
 * screen are in the DOM, so a conversation of hundreds of steps and
 * images scrolls as smoothly as a short one.
 */
export function ChatList({
  turns,
  t,
  rev,
  fileURL,
  onConfirm,
}: {
  turns: Turn[];
  t: Messages;
  rev: number;
  fileURL: (path: string) => string | undefined;
  onConfirm?: ConfirmAnswer;
}) {
  const parent = useRef<HTMLDivElement>(null);
  const stick = useRef(true);
  // biome-ignore lint/correctness/useExhaustiveDependencies: turns change in place; rev says when
  const rows = useMemo(() => {
    const out: Row[] = [];
    for (const turn of turns) {
      out.push({ kind: "prompt", key: `${turn.key}:p`, text: turn.prompt });
      for (const s of turn.steps) out.push({ kind: "step", key: `${turn.key}:${s.n}`, step: s });
      if (!turn.running && turn.stop && turn.stop !== "answer")
        out.push({ kind: "end", key: `${turn.key}:e`, turn });
    }
    return out;
  }, [turns, rev]);
  const v = useVirtualizer({
    count: rows.length,
    getScrollElement: () => parent.current,
    estimateSize: () => 160,
    overscan: 4,
    getItemKey: (i) => rows[i].key,
  });
  useEffect(() => {
    const el = parent.current;
    if (!el) return;
    const onScroll = () => {
      stick.current = el.scrollHeight - el.scrollTop - el.clientHeight < 80;
    };
    el.addEventListener("scroll", onScroll, { passive: true });
    return () => el.removeEventListener("scroll", onScroll);
  }, []);
  // biome-ignore lint/correctness/useExhaustiveDependencies: follow the stream on every change
  useLayoutEffect(() => {
    markCommit();
    if (stick.current && rows.length > 0) v.scrollToIndex(rows.length - 1, { align: "end" });
  }, [rev, rows.length]);
  return (
    <div ref={parent} className="chat-scroll" data-testid="chat">
      <div className="chat-inner" style={{ height: v.getTotalSize() }}>
        {v.getVirtualItems().map((item) => {
          const row = rows[item.index];
          return (
            <div
              key={item.key}
              data-index={item.index}
              ref={v.measureElement}
              className="row"
              style={{ transform: `translateY(${item.start}px)` }}
            >
              {row.kind === "prompt" && <div className="prompt">{row.text}</div>}
              {row.kind === "step" && (
                <StepView step={row.step} t={t} fileURL={fileURL} rev={rev} onConfirm={onConfirm} />
              )}
              {row.kind === "end" && (
                <div className="turn-end" role="status">
                  {row.turn.stop === "stopped" ? t.stoppedBy : row.turn.stop}
                  {row.turn.reason ? `: ${row.turn.reason}` : ""}
                </div>
              )}
            </div>
          );
        })}
      </div>
    </div>
  );
}
