import { useEffect, useState } from "react";
import { api } from "../api";
import type { Messages } from "../i18n";
import type { ConversationSummary } from "../types";

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
        {shown.map((c) => (
          <li key={c.id} className={c.id === current ? "current" : ""}>
            <button
              type="button"
              className="conv"
              onClick={() => onOpen(c.id)}
              aria-current={c.id === current}
            >
              <span className="conv-title">{c.title || t.untitled}</span>
              <span className="muted small">
                {new Date(c.updated_at).toLocaleString()}
                {c.status ? ` · ${c.status}` : ""}
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
        ))}
      </ul>
    </nav>
  );
}
