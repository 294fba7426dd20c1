import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { APIError, api, follow, openSession, runTask, setCSRF } from "./api";
import { ChatList } from "./components/ChatList";
import { Composer } from "./components/Composer";
import { FilePanel } from "./components/FilePanel";
import { type Lang, Settings, type Theme } from "./components/Settings";
import { Sidebar } from "./components/Sidebar";
import { SignIn } from "./components/SignIn";
import { apply, fromHistory, newTurn, type Turn } from "./events";
import { catalogs, detectLanguage } from "./i18n";
import { markEvent } from "./perf";
import type { ConversationSummary, RecordedTask, TaskResult, User } from "./types";

function convFromPath(): string | undefined {
  const m = /^\/c\/([A-Za-z0-9_-]+)$/.exec(window.location.pathname);
  return m?.[1];
}

/**
 * loadConfirm reads the user's ask-before-running setting from the server.
 * Once, it takes over the switch this browser kept before the setting
 * was the server's (localStorage "interp.confirm"): on there, it is
 * saved on.
 */
async function loadConfirm(): Promise<boolean> {
  const d = await api.settings();
  let on = !!d.settings.confirm;
  if (localStorage.getItem("interp.confirm") === "1" && !on)
    on = !!(await api.saveSettings({ ...d.settings, confirm: true })).settings.confirm;
  localStorage.removeItem("interp.confirm");
  return on;
}

function stored<T extends string>(key: string, def: T): T {
  return (localStorage.getItem(key) as T) || def;
}

export function App() {
  const [user, setUser] = useState<User | null | undefined>(undefined);
  const [lang, setLang] = useState<Lang>(() => stored("interp.lang", "auto"));
  const [theme, setTheme] = useState<Theme>(() => stored("interp.theme", "system"));
  // Ask before running code: the user's setting, kept by the server so
  // that every browser they sign in from asks. A task sent before it is
  // known waits for it (settingsLoaded).
  const [confirmRun, setConfirmRun] = useState(false);
  const confirmRef = useRef(false);
  confirmRef.current = confirmRun;
  const settingsLoaded = useRef<Promise<unknown>>(Promise.resolve());
  const t = catalogs[lang === "auto" ? detectLanguage() : lang];

  const [list, setList] = useState<ConversationSummary[]>([]);
  const [convID, setConvID] = useState<string | undefined>(convFromPath);
  const [sessionID, setSessionID] = useState<string>();
  const turns = useRef<Turn[]>([]);
  const [rev, setRev] = useState(0);
  const [running, setRunning] = useState(false);
  const [stopping, setStopping] = useState(false);
  const [error, setError] = useState("");
  const [notice, setNotice] = useState("");
  // On a phone, the files panel opens over the chat when asked for.
  const [panel, setPanel] = useState<"files" | "none">(() =>
    window.matchMedia?.("(max-width: 760px)").matches ? "none" : "files",
  );
  const [showSettings, setShowSettings] = useState(false);
  const [drawer, setDrawer] = useState(false);
  const abort = useRef<AbortController | undefined>(undefined);
  const frame = useRef(0);

  // Events arrive faster than frames: one render per frame.
  const bump = useCallback(() => {
    if (frame.current) return;
    frame.current = requestAnimationFrame(() => {
      frame.current = 0;
      setRev((r) => r + 1);
    });
  }, []);

  useEffect(() => {
    document.documentElement.dataset.theme = theme;
    localStorage.setItem("interp.theme", theme);
  }, [theme]);
  useEffect(() => {
    localStorage.setItem("interp.lang", lang);
    document.documentElement.lang = lang === "auto" ? detectLanguage() : lang;
  }, [lang]);

  const showError = useCallback((msg: string) => setError(msg), []);

  const refreshList = useCallback(async () => {
    try {
      setList(await api.conversations());
    } catch (e) {
      if (e instanceof APIError && e.status === 401) setUser(null);
    }
  }, []);

  // Who is signed in (the cookie is HttpOnly: ask the server).
  useEffect(() => {
    api.session().then(
      (s) => {
        setCSRF(s.csrf_token);
        setUser(s.user);
      },
      () => setUser(null),
    );
  }, []);

  const attach = useCallback(
    async (id: string, turn: Turn) => {
      const ctrl = new AbortController();
      abort.current = ctrl;
      setRunning(true);
      try {
        const live = await follow(
          id,
          {
            onOpen: (res) => {
              const sid = res.headers.get("X-Session-ID");
              if (sid) setSessionID(sid);
              setNotice(t.reattached);
            },
            onEvent: (type, data) => {
              apply(turn, type, data as TaskResult);
              if (type === "result") setSessionID((data as TaskResult).session_id);
              bump();
            },
          },
          ctrl.signal,
        );
        return live;
      } finally {
        setRunning(false);
        setStopping(false);
        bump();
      }
    },
    [bump, t.reattached],
  );

  const open = useCallback(
    async (id: string) => {
      abort.current?.abort();
      setError("");
      setNotice("");
      setConvID(id);
      setSessionID(undefined);
      setDrawer(false);
      if (window.location.pathname !== `/c/${id}`) window.history.pushState(null, "", `/c/${id}`);
      try {
        const c = await api.conversation(id);
        const tasks = (c.tasks as unknown as RecordedTask[]) ?? [];
        turns.current = fromHistory(tasks, c.events ?? []);
        bump();
        const last = turns.current[turns.current.length - 1];
        if (last?.running) {
          // A task is still running (the page was reloaded): follow it
          // from its start.
          const fresh = newTurn(last.key, last.prompt);
          turns.current[turns.current.length - 1] = fresh;
          const live = await attach(id, fresh);
          if (!live)
            turns.current = fromHistory(
              (await api.conversation(id)).tasks as unknown as RecordedTask[],
              c.events ?? [],
            );
          void refreshList();
        } else {
          // The files panel shows the conversation's session while it is open.
          const sid = await openSession(id);
          if (sid) setSessionID(sid);
        }
      } catch (e) {
        setError((e as Error).message);
      }
    },
    [attach, bump, refreshList],
  );

  // biome-ignore lint/correctness/useExhaustiveDependencies: once per sign-in
  useEffect(() => {
    if (!user) return;
    settingsLoaded.current = loadConfirm().then(setConfirmRun, () => setConfirmRun(false));
    void refreshList();
    const id = convFromPath();
    if (id) void open(id);
    const onPop = () => {
      const p = convFromPath();
      if (p) void open(p);
      else newChat();
    };
    window.addEventListener("popstate", onPop);
    return () => window.removeEventListener("popstate", onPop);
  }, [user]);

  const newChat = () => {
    abort.current?.abort();
    turns.current = [];
    setConvID(undefined);
    setSessionID(undefined);
    setError("");
    setNotice("");
    setDrawer(false);
    if (window.location.pathname !== "/") window.history.pushState(null, "", "/");
    bump();
  };

  const ensureSession = useCallback(async () => {
    if (sessionID) return sessionID;
    const s = await api.createSession();
    setSessionID(s.id);
    return s.id;
  }, [sessionID]);

  const send = async (prompt: string) => {
    setError("");
    setNotice("");
    const turn = newTurn(`local-${Date.now()}`, prompt);
    turns.current = [...turns.current, turn];
    bump();
    const ctrl = new AbortController();
    abort.current = ctrl;
    setRunning(true);
    try {
      await settingsLoaded.current;
      await runTask(
        { prompt, conversation_id: convID, session_id: sessionID, confirm: confirmRef.current || undefined },
        {
          onOpen: (res) => {
            const c = res.headers.get("X-Conversation-ID");
            const s = res.headers.get("X-Session-ID");
            if (s) setSessionID(s);
            if (c) {
              setConvID(c);
              if (window.location.pathname !== `/c/${c}`) window.history.pushState(null, "", `/c/${c}`);
              void refreshList();
            }
          },
          onEvent: (type, data) => {
            markEvent();
            apply(turn, type, data as TaskResult);
            bump();
          },
        },
        ctrl.signal,
      );
    } catch (e) {
      if ((e as Error).name !== "AbortError") {
        turn.running = false;
        setError((e as Error).message);
      }
    } finally {
      setRunning(false);
      setStopping(false);
      bump();
      void refreshList();
    }
  };

  const stop = useCallback(async () => {
    if (!sessionID) return;
    setStopping(true);
    try {
      await api.interrupt(sessionID);
    } catch (e) {
      setError((e as Error).message);
      setStopping(false);
    }
  }, [sessionID]);

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.key === "Escape" && running && !showSettings) void stop();
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [running, stop, showSettings]);

  // The conversation of the running task, for answering its questions.
  const convRef = useRef(convID);
  convRef.current = convID;
  const answerConfirm = useCallback((id: string, action: "run" | "skip", code?: string) => {
    const c = convRef.current;
    if (!c) return;
    api.confirm(c, id, action, code).catch((e: Error) => setError(e.message));
  }, []);

  const fileURL = useMemo(
    () => (p: string) => (sessionID ? api.fileURL(sessionID, p) : undefined),
    [sessionID],
  );

  if (user === undefined) return <div className="loading" aria-busy="true" />;
  if (user === null)
    return (
      <SignIn
        t={t}
        onSignIn={async (key) => {
          const s = await api.signIn(key);
          setCSRF(s.csrf_token);
          setUser(s.user);
        }}
      />
    );

  const current = list.find((c) => c.id === convID);
  return (
    <div className={`app${drawer ? " drawer-open" : ""}`}>
      <header className="topbar">
        <button type="button" className="menu" aria-label={t.history} onClick={() => setDrawer(!drawer)}>
          ☰
        </button>
        <h1 className="brand">{t.appName}</h1>
        <span className="title">{current?.title ?? ""}</span>
        <span className="spacer" />
        {convID && (
          <details className="export">
            <summary>{t.export}</summary>
            <div className="menu-pop">
              {["ipynb", "py", "md", "json"].map((f) => (
                <a key={f} href={api.exportURL(convID, f)} download={`${convID}.${f}`}>
                  .{f}
                </a>
              ))}
            </div>
          </details>
        )}
        <button
          type="button"
          className="link"
          onClick={() => setPanel(panel === "files" ? "none" : "files")}
          aria-pressed={panel === "files"}
        >
          {t.files}
        </button>
        <button type="button" className="link" onClick={() => setShowSettings(true)}>
          {t.settings}
        </button>
        <span className="muted small user">{user.name}</span>
        <button
          type="button"
          className="link"
          onClick={async () => {
            await api.signOut().catch(() => undefined);
            setCSRF("");
            setUser(null);
          }}
        >
          {t.signOut}
        </button>
      </header>
      <Sidebar
        t={t}
        list={list}
        current={convID}
        onOpen={(id) => void open(id)}
        onNew={newChat}
        onChanged={refreshList}
        onError={showError}
      />
      <main className="main">
        {turns.current.length === 0 ? (
          <div className="empty">
            <h2>{t.emptyTitle}</h2>
            <p className="muted">{t.emptyHint}</p>
          </div>
        ) : (
          <ChatList turns={turns.current} t={t} rev={rev} fileURL={fileURL} onConfirm={answerConfirm} />
        )}
        {notice && (
          <div className="notice" role="status">
            {notice}
          </div>
        )}
        {error && (
          <div className="error" role="alert">
            {error}
            <button type="button" className="link" aria-label={t.close} onClick={() => setError("")}>
              ×
            </button>
          </div>
        )}
        <Composer
          t={t}
          running={running}
          stopping={stopping}
          onSend={(p) => void send(p)}
          onStop={() => void stop()}
        />
      </main>
      {panel === "files" && (
        <aside className="side-panel">
          <FilePanel
            t={t}
            sessionID={sessionID}
            ensureSession={ensureSession}
            rev={running ? -1 : rev}
            onError={showError}
          />
        </aside>
      )}
      {showSettings && (
        <Settings
          t={t}
          theme={theme}
          lang={lang}
          onTheme={setTheme}
          onLang={setLang}
          confirmRun={confirmRun}
          onConfirmRun={setConfirmRun}
          onClose={() => setShowSettings(false)}
        />
      )}
    </div>
  );
}
