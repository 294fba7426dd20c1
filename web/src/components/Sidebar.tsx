import { useEffect, useState } from "react";
import { api } from "../api";
import type { Messages } from "../i18n";
import type { ConversationSummary } from "../types";

/** How a conversation's last task stands, as the sidebar marks it. */
export interface Mark {
  kind: "running" | "stopped" | "failed";
  label: string;
}

/**
 * markOf says how to mark a conversation from its status and state (GET
 * /v1/conversations): running, stopped without an answer (and why), or
 * failed; an answered one needs no mark.
 */
export function markOf(c: Pick<ConversationSummary, "status" | "state">, t: Messages): Mark | undefined {
  const status = c.status ?? "";
  if (status === "" || status === "answered" || status === "ok") return undefined;
  if (status === "running") return { kind: "running", label: t.running };
  const words: Record<string, string> = {
    stopped: t.stoppedBy,
    interrupted: t.stateInterrupted,
    failed: t.stateFailed,
    "step limit": t.stateStepLimit,
    "too many failures": t.stateTooManyFailures,
    "repeated error": t.stateRepeatedError,
    "token budget": t.stateTokenBudget,
    declined: t.stateDeclined,
    refused: t.stateRefused,
    "model error": t.stateModelError,
  };
  const state = c.state || status;
  const label = words[state] ?? state;
  // A task that could not work at all, or a cell that ended in an error.
  const failed = ["failed", "error", "died", "timeout"].includes(status);
  return { kind: failed ? "failed" : "stopped", label };
}

function StateMark({ mark }: { mark: Mark }) {
  return (
    <span className={`conv-state ${mark.kind}`} data-testid="conv-state" data-state={mark.kind}>
      <span className="conv-state-icon" aria-hidden="true">
        {mark.kind === "running" ? "" : mark.kind === "failed" ? "✕" : "■"}
      </span>
      {mark.label}
    </span>
  );
}

export function Sidebar({
  t,
  list,
  current,
  onOpen,
  onNew,
  onChanged,
  onError,
}: {
  t: Messages;
  list: ConversationSummary[];
  current?: string;
  onOpen: (id: string) => void;
  onNew: () => void;
  onChanged: () => void;
  onError: (msg: string) => void;
}) {
  const [q, setQ] = useState("");
  // The search runs on the server, over titles, prompts, answers and code;
  // its answer replaces the list until the box is emptied.
  const [found, setFound] = useState<ConversationSummary[]>();
  // biome-ignore lint/correctness/useExhaustiveDependencies: a change to the history (list) searches again
  useEffect(() => {
    const text = q.trim();
    if (!text) {
      setFound(undefined);
      return;
    }
    const ctrl = new AbortController();
    const timer = setTimeout(() => {
      api.conversations(text, ctrl.signal).then(setFound, (e: Error) => {
        if (e.name !== "AbortError") onError(e.message);
      });
    }, 200);
    return () => {
      clearTimeout(timer);
      ctrl.abort();
    };
  }, [q, list, onError]);
  const shown = (found ?? list).filter((c) => c.kind === "chat");
  // A task running elsewhere (another tab, another front end): the list
  // is asked again until none runs, so that its mark goes when it ends.
  const anyRunning = list.some((c) => c.status === "running");
  useEffect(() => {
    if (!anyRunning) return;
    const timer = setInterval(onChanged, 5000);
    return () => clearInterval(timer);
  }, [anyRunning, onChanged]);
  const act = async (f: () => Promise<unknown>) => {
    try {
      await f();
      onChanged();
    } catch (e) {
      onError((e as Error).message);
    }
  };
  return (
    <nav className="sidebar" aria-label={t.history}>
      <button type="button" className="primary new-chat" onClick={onNew}>
        + {t.newChat}
      </button>
      <input
        type="search"
        placeholder={t.search}
        aria-label={t.search}
        value={q}
        onChange={(e) => setQ(e.target.value)}
      />
      <h2>{t.history}</h2>
      {shown.length === 0 && <p className="muted">{t.noConversations}</p>}
      <ul className="conv-list">
        {shown.map((c) => {
          const mark = markOf(c, t);
          return (
            <li key={c.id} className={c.id === current ? "current" : ""} data-testid="conv">
              <button
                type="button"
                className="conv"
                onClick={() => onOpen(c.id)}
                aria-current={c.id === current}
              >
                <span className="conv-title">{c.title || t.untitled}</span>
                <span className="muted small conv-meta">
                  {new Date(c.updated_at).toLocaleString()}
                  {mark && <StateMark mark={mark} />}
                </span>
              </button>
              <span className="conv-actions">
                <button
                  type="button"
                  className="link small"
                  onClick={() => {
                    const title = window.prompt(t.rename, c.title);
                    if (title?.trim()) void act(() => api.rename(c.id, title.trim()));
                  }}
                >
                  {t.rename}
                </button>
                <button
                  type="button"
                  className="link small danger"
                  onClick={() => {
                    if (window.confirm(t.confirmDelete)) void act(() => api.deleteConversation(c.id));
                  }}
                >
                  {t.delete}
                </button>
              </span>
            </li>
          );
        })}
      </ul>
    </nav>
  );
}
