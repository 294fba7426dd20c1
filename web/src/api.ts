// The HTTP API, as the browser uses it: same origin, the session cookie
// (HttpOnly: the page never sees it), and the CSRF token on every request
// that changes something. The API key is sent once, to sign in, and never
// stored.

import type {
  AgentEvent,
  Conversation,
  ConversationSummary,
  FileInfo,
  Me,
  SessionInfo,
  SettingsDoc,
  UserSettings,
  WebSession,
} from "./types";

export class APIError extends Error {
  constructor(
    public status: number,
    message: string,
  ) {
    super(message);
  }
}

let csrf = "";

/** setCSRF remembers the session's CSRF token (in memory only). */
export function setCSRF(token: string | undefined): void {
  csrf = token ?? "";
}

async function problem(res: Response): Promise<APIError> {
  let msg = res.statusText;
  try {
    const body = await res.json();
    msg = body.detail || body.title || msg;
    if (Array.isArray(body.errors) && body.errors.length > 0) {
      msg += `: ${body.errors.map((e: { message: string; location?: string }) => `${e.location ?? ""} ${e.message}`.trim()).join("; ")}`;
    }
  } catch {
    // not JSON
  }
  return new APIError(res.status, msg);
}

export async function request(
  method: string,
  path: string,
  body?: unknown,
  init?: RequestInit,
): Promise<Response> {
  const headers: Record<string, string> = { Accept: "application/json" };
  if (method !== "GET" && method !== "HEAD") headers["X-CSRF-Token"] = csrf;
  let payload: BodyInit | undefined;
  if (body instanceof Blob || body instanceof ArrayBuffer) {
    payload = body;
    headers["Content-Type"] = "application/octet-stream";
  } else if (body !== undefined) {
    payload = JSON.stringify(body);
    headers["Content-Type"] = "application/json";
  }
  const res = await fetch(path, { method, headers, body: payload, credentials: "same-origin", ...init });
  if (!res.ok) throw await problem(res);
  return res;
}

async function json<T>(method: string, path: string, body?: unknown): Promise<T> {
  const res = await request(method, path, body);
  if (res.status === 204) return undefined as T;
  return (await res.json()) as T;
}

export const api = {
  session: () => json<WebSession>("GET", "/v1/auth/session"),
  signIn: (key: string) => json<WebSession>("POST", "/v1/auth/login", { key }),
  signOut: () => json<void>("POST", "/v1/auth/logout"),
  me: () => json<Me>("GET", "/v1/me"),
  settings: () => json<SettingsDoc>("GET", "/v1/me/settings"),
  saveSettings: (s: UserSettings) => json<SettingsDoc>("PUT", "/v1/me/settings", s),
  /** conversations lists the history; with q, what the server's search finds. */
  conversations: (q = "", signal?: AbortSignal) =>
    request("GET", `/v1/conversations?limit=500${q ? `&q=${encodeURIComponent(q)}` : ""}`, undefined, {
      signal,
    })
      .then((r) => r.json() as Promise<{ conversations: ConversationSummary[] | null }>)
      .then((r) => r.conversations ?? []),
  conversation: (id: string) => json<Conversation>("GET", `/v1/conversations/${encodeURIComponent(id)}`),
  rename: (id: string, title: string) =>
    json<void>("PATCH", `/v1/conversations/${encodeURIComponent(id)}`, { title }),
  deleteConversation: (id: string) => json<void>("DELETE", `/v1/conversations/${encodeURIComponent(id)}`),
  exportURL: (id: string, format: string) =>
    `/v1/conversations/${encodeURIComponent(id)}/export?format=${encodeURIComponent(format)}`,
  createSession: () => json<SessionInfo>("POST", "/v1/sessions", {}),
  getSession: (id: string) => json<SessionInfo>("GET", `/v1/sessions/${encodeURIComponent(id)}`),
  interrupt: (id: string) =>
    json<{ interrupted: boolean }>("POST", `/v1/sessions/${encodeURIComponent(id)}/interrupt`),
  files: (id: string) =>
    json<{ files: FileInfo[] | null }>("GET", `/v1/sessions/${encodeURIComponent(id)}/files`).then(
      (r) => r.files ?? [],
    ),
  upload: (id: string, path: string, file: Blob) =>
    json<{ path: string; size: number }>(
      "POST",
      `/v1/sessions/${encodeURIComponent(id)}/files?path=${encodeURIComponent(path)}`,
      file,
    ),
  /** confirm answers a confirm event: run (code: an edit) or skip. */
  confirm: (convID: string, id: string, action: "run" | "skip", code?: string) =>
    json<void>("POST", `/v1/conversations/${encodeURIComponent(convID)}/confirm`, { id, action, code }),
  fileURL: (id: string, path: string) =>
    `/v1/sessions/${encodeURIComponent(id)}/file?path=${encodeURIComponent(path)}`,
};

export interface StreamHandlers {
  onOpen?: (res: Response) => void;
  onEvent: (type: string, data: unknown) => void;
}

/** readSSE reads a Server-Sent Events body, calling onEvent for each. */
export async function readSSE(res: Response, onEvent: (type: string, data: unknown) => void): Promise<void> {
  if (!res.body) return;
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += value;
    let end = buf.indexOf("\n\n");
    while (end >= 0) {
      const block = buf.slice(0, end);
      buf = buf.slice(end + 2);
      end = buf.indexOf("\n\n");
      let type = "message";
      const data: string[] = [];
      for (const line of block.split("\n")) {
        if (line.startsWith("event:")) type = line.slice(6).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
      }
      if (data.length === 0) continue;
      try {
        onEvent(type, JSON.parse(data.join("\n")));
      } catch {
        // a malformed event is skipped, not fatal
      }
    }
  }
}

export interface TaskRequest {
  prompt: string;
  conversation_id?: string;
  session_id?: string;
  /** confirm asks before each step's code runs (confirm events). */
  confirm?: boolean;
}

/** runTask starts a task and streams its events. */
export async function runTask(body: TaskRequest, h: StreamHandlers, signal?: AbortSignal): Promise<void> {
  const res = await request("POST", "/v1/tasks", body, { signal });
  h.onOpen?.(res);
  await readSSE(res, h.onEvent);
}

/** openSession returns a finished conversation's session while it is open. */
export async function openSession(convID: string): Promise<string | undefined> {
  const ctrl = new AbortController();
  const res = await request("GET", `/v1/conversations/${encodeURIComponent(convID)}/stream`, undefined, {
    signal: ctrl.signal,
  });
  // A task started meanwhile: its stream is not wanted here.
  if (res.status !== 204) ctrl.abort();
  return res.headers.get("X-Session-ID") ?? undefined;
}

/** follow attaches to a conversation's running task; false if none runs. */
export async function follow(convID: string, h: StreamHandlers, signal?: AbortSignal): Promise<boolean> {
  const res = await request("GET", `/v1/conversations/${encodeURIComponent(convID)}/stream`, undefined, {
    signal,
  });
  if (res.status === 204) return false;
  h.onOpen?.(res);
  await readSSE(res, h.onEvent);
  return true;
}

export type { AgentEvent };
