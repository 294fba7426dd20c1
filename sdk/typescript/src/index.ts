/**
 * Interp's TypeScript SDK: run Python in sandboxed sessions of an Interp
 * server, keeping state between calls, and give it tasks in plain language.
 * ESM, for Node 20+ and browsers (fetch). The types come from the server's
 * OpenAPI document (src/schema.d.ts, made by openapi-typescript).
 *
 *     const sb = await Sandbox.create({ url, apiKey });
 *     await sb.runCode("x = 6 * 7");
 *     (await sb.runCode("x")).text; // "42"
 */
import type { components } from "./schema.js";
import {
  backoff, ConnectionError, errorFrom, InstallError, InterpError, TimeoutError,
} from "./errors.js";
import { SSEReader } from "./sse.js";

export * from "./errors.js";
export { SSEReader } from "./sse.js";
export type { components, paths } from "./schema.js";

type S = components["schemas"];
export type InstallEvent = S["InstallEvent"];
export type StdoutEvent = S["StdoutEvent"];
export type StderrEvent = S["StderrEvent"];
export type DisplayEvent = S["DisplayEvent"];
export type ErrorEvent = S["ErrorEvent"];
export type FileEvent = S["FileEvent"];
export type DoneEvent = S["DoneEvent"];
export type MessageEvent = S["MessageEvent"];
export type CodeEvent = S["CodeEvent"];
export type ToolEvent = S["ToolEvent"];
export type ConfirmEvent = S["ConfirmEvent"];
export type AnswerEvent = S["AnswerEvent"];
export type StopEvent = S["StopEvent"];
export type ResultEvent = S["ResultEvent"];
export type ExecutionEvent = S["ExecutionEvent"];
export type TaskEvent = S["TaskEvent"];
export type SessionInfo = S["SessionInfo"];
export type FileInfo = S["FileInfo"];
export type FileWritten = S["FileWritten"];

const SAFE = new Set(["GET", "HEAD", "OPTIONS", "PUT", "DELETE"]);
const RETRY_STATUS = new Set([502, 503, 504]);
const RUN_MARGIN_MS = 30_000;

/** A rich result: a MIME bundle, as Jupyter's display data. */
export class Result {
  constructor(readonly data: Record<string, unknown>, readonly metadata: Record<string, unknown> = {}) {}
  get text(): string | undefined { return this.data["text/plain"] as string | undefined; }
  get html(): string | undefined { return this.data["text/html"] as string | undefined; }
  get markdown(): string | undefined { return this.data["text/markdown"] as string | undefined; }
  get svg(): string | undefined { return this.data["image/svg+xml"] as string | undefined; }
  /** image/png, decoded. */
  get png(): Uint8Array | undefined { return decode(this.data["image/png"]); }
  get jpeg(): Uint8Array | undefined { return decode(this.data["image/jpeg"]); }
  get json(): unknown { return this.data["application/json"]; }
  get formats(): string[] { return Object.keys(this.data); }
}

function decode(v: unknown): Uint8Array | undefined {
  if (typeof v !== "string") return undefined;
  const bin = atob(v);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** The exception a cell raised. */
export interface ExecutionError {
  name: string;
  value: string;
  traceback: string[];
}

/** What running code did. */
export class Execution {
  stdout = "";
  stderr = "";
  results: Result[] = [];
  error: ExecutionError | undefined;
  /** ok, error, interrupted, timeout or died. */
  status = "";
  reason = "";
  /** Seconds the cell ran. */
  duration = 0;
  executionCount = 0;
  files: FileEvent[] = [];
  installs: InstallEvent[] = [];
  events: ExecutionEvent[] = [];

  /** The text of the last result: the value of the last expression, as a rule. */
  get text(): string | undefined { return this.results.at(-1)?.text; }
  get ok(): boolean { return this.status === "ok"; }

  /** Takes in the next event. */
  add(ev: ExecutionEvent): void {
    this.events.push(ev);
    switch (ev.type) {
      case "stdout": this.stdout += ev.text; break;
      case "stderr": this.stderr += ev.text; break;
      case "display": this.results.push(new Result(ev.data, ev.metadata ?? {})); break;
      case "error": this.error = { name: ev.ename, value: ev.evalue ?? "", traceback: ev.traceback ?? [] }; break;
      case "file": this.files.push(ev); break;
      case "install": this.installs.push(ev); break;
      case "done":
        this.status = ev.status;
        this.reason = ev.reason ?? "";
        this.duration = ev.duration ?? 0;
        this.executionCount = ev.execution_count ?? 0;
        break;
    }
  }
}

export interface Limits {
  /** Memory limit in bytes, workspace files included. */
  memory?: number;
  /** Time limit of one execution, in seconds. */
  cell_timeout?: number;
}

export interface SandboxOptions {
  /** The server; INTERP_URL in Node, else http://127.0.0.1:8080. */
  url?: string;
  /** An API key (`interp admin key create USER`); INTERP_API_KEY in Node. */
  apiKey?: string;
  limits?: Limits;
  /** Environment variables of the sandbox (never the host's). */
  env?: Record<string, string>;
  /** Connects to this existing session instead of starting one. */
  sessionId?: string;
  /** Milliseconds a request that does not run code may take (30 s). */
  timeoutMs?: number;
  /** How often a failed safe request is sent again (3). */
  maxRetries?: number;
  /** A fetch to use instead of the global one. */
  fetch?: typeof fetch;
}

export interface RunOptions {
  /** The cell's time limit in seconds; the session's by default. */
  timeout?: number;
  /** Install the packages the code imports and lacks first (true). */
  install?: boolean;
  onStdout?: (text: string) => unknown;
  onStderr?: (text: string) => unknown;
  onResult?: (result: Result) => unknown;
  onError?: (error: ExecutionError) => unknown;
  onEvent?: (event: ExecutionEvent) => unknown;
  signal?: AbortSignal;
}

export interface CallOptions {
  /** Milliseconds this call may take. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

function env(name: string): string | undefined {
  const p = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process;
  return p?.env?.[name];
}

/** HTTP with the key, retries and the SDK's errors. */
class Client {
  readonly url: string;
  private readonly headers: Record<string, string>;
  private readonly fetch: typeof fetch;
  constructor(readonly opts: SandboxOptions) {
    this.url = (opts.url ?? env("INTERP_URL") ?? "http://127.0.0.1:8080").replace(/\/+$/, "");
    const key = opts.apiKey ?? env("INTERP_API_KEY");
    if (!key) throw new (class extends InterpError {})("no API key: pass apiKey, or set INTERP_API_KEY");
    this.headers = { Authorization: `Bearer ${key}` };
    this.fetch = opts.fetch ?? globalThis.fetch.bind(globalThis);
  }

  private async send(method: string, path: string, init: RequestInit, timeoutMs: number, signal?: AbortSignal): Promise<Response> {
    const signals = [AbortSignal.timeout(timeoutMs)];
    if (signal) signals.push(signal);
    try {
      return await this.fetch(this.url + path, {
        ...init, method, headers: { ...this.headers, ...(init.headers as Record<string, string> | undefined) },
        signal: AbortSignal.any(signals),
      });
    } catch (e) {
      const err = e as Error;
      if (err.name === "TimeoutError") throw new TimeoutError(`the server did not answer within ${timeoutMs} ms`);
      if (err.name === "AbortError") throw err;
      throw new ConnectionError(`cannot reach the server: ${err.message}${err.cause ? " (" + String(err.cause) + ")" : ""}`);
    }
  }

  async request(method: string, path: string, init: RequestInit = {}, o: CallOptions & { session?: boolean } = {}): Promise<Response> {
    const max = this.opts.maxRetries ?? 3;
    for (let attempt = 1; ; attempt++) {
      let res: Response;
      try {
        res = await this.send(method, path, init, o.timeoutMs ?? this.opts.timeoutMs ?? 30_000, o.signal);
      } catch (e) {
        // A request that may have reached the server is repeated only when safe.
        if (attempt <= max && e instanceof InterpError && SAFE.has(method)) {
          await sleep(backoff(attempt));
          continue;
        }
        throw e;
      }
      if (res.ok) return res;
      if (attempt <= max && SAFE.has(method) && RETRY_STATUS.has(res.status)) {
        await res.body?.cancel();
        await sleep(backoff(attempt, res));
        continue;
      }
      throw await errorFrom(res, o.session ?? false);
    }
  }

  /** A stream's events as JSON objects; a dropped connection resumes with Last-Event-ID. */
  async *stream(path: string, body: unknown, timeoutMs: number, signal?: AbortSignal): AsyncGenerator<Record<string, unknown>> {
    const reader = new SSEReader();
    let streamId = "";
    const max = this.opts.maxRetries ?? 3;
    for (let attempt = 1; ; attempt++) {
      let res: Response;
      if (!streamId) {
        res = await this.send("POST", path, {
          body: JSON.stringify(body), headers: { "Content-Type": "application/json", Accept: "text/event-stream" },
        }, timeoutMs, signal);
      } else {
        const h: Record<string, string> = { Accept: "text/event-stream" };
        if (reader.lastId) h["Last-Event-ID"] = reader.lastId;
        res = await this.send("GET", `/v1/streams/${encodeURIComponent(streamId)}`, { headers: h }, timeoutMs, signal);
      }
      if (!res.ok) throw await errorFrom(res, true);
      streamId = res.headers.get("X-Stream-ID") ?? streamId;
      try {
        for await (const ev of reader.read(res.body!)) yield JSON.parse(ev.data);
        return;
      } catch (e) {
        const err = e as Error;
        if (!streamId || attempt > max || err.name === "AbortError" || err.name === "TimeoutError") {
          if (err.name === "TimeoutError") throw new TimeoutError("the stream did not end in time");
          throw err instanceof InterpError || err.name === "AbortError" ? err : new ConnectionError(`the stream broke: ${err.message}`);
        }
        await sleep(backoff(attempt));
      }
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

const enc = encodeURIComponent;

/** A session's workspace files: sb.files. */
export class Files {
  constructor(private readonly sb: Sandbox) {}

  /** Writes a file (parent directories are made), whole or not at all. */
  async write(path: string, data: Uint8Array | ArrayBuffer | Blob | string, o: CallOptions = {}): Promise<FileWritten> {
    const res = await this.sb.client.request("POST", `${this.sb.path}/files?path=${enc(path)}`, {
      body: typeof data === "string" ? new TextEncoder().encode(data) : data as BodyInit,
      headers: { "Content-Type": "application/octet-stream" },
    }, { ...o, session: true });
    return res.json();
  }

  /** A file's content. */
  async read(path: string, o: CallOptions = {}): Promise<Uint8Array> {
    const res = await this.sb.client.request("GET", `${this.sb.path}/file?path=${enc(path)}`, {}, { ...o, session: true });
    return new Uint8Array(await res.arrayBuffer());
  }

  async readText(path: string, o: CallOptions = {}): Promise<string> {
    return new TextDecoder().decode(await this.read(path, o));
  }

  /** Every file and directory of the workspace. */
  async list(o: CallOptions = {}): Promise<FileInfo[]> {
    const res = await this.sb.client.request("GET", `${this.sb.path}/files`, {}, { ...o, session: true });
    return (await res.json()).files;
  }

  /** Deletes a file or an empty directory. */
  async remove(path: string, o: CallOptions = {}): Promise<void> {
    await this.sb.client.request("DELETE", `${this.sb.path}/file?path=${enc(path)}`, {}, { ...o, session: true });
  }
}

/** A Python session in a sandbox of an Interp server, keeping state between calls. */
export class Sandbox {
  readonly files: Files;
  /** @internal */ readonly path: string;

  private constructor(/** @internal */ readonly client: Client, public info: SessionInfo) {
    this.files = new Files(this);
    this.path = `/v1/sessions/${enc(info.id)}`;
  }

  get id(): string { return this.info.id; }

  /** Starts a session, or connects to opts.sessionId. */
  static async create(opts: SandboxOptions = {}): Promise<Sandbox> {
    const c = new Client(opts);
    const res = opts.sessionId
      ? await c.request("GET", `/v1/sessions/${enc(opts.sessionId)}`, {}, { session: true })
      : await c.request("POST", "/v1/sessions", {
        body: JSON.stringify({ ...opts.limits, ...(opts.env ? { env: opts.env } : {}) }), headers: { "Content-Type": "application/json" },
      }, { timeoutMs: Math.max(opts.timeoutMs ?? 30_000, 120_000) });
    return new Sandbox(c, await res.json());
  }

  /** Connects to an existing session by its ID. */
  static connect(sessionId: string, opts: SandboxOptions = {}): Promise<Sandbox> {
    return Sandbox.create({ ...opts, sessionId });
  }

  private runTimeoutMs(timeout?: number): number {
    return (timeout ?? this.info.cell_timeout) * 1000 + RUN_MARGIN_MS;
  }

  private body(code: string, o: RunOptions): Record<string, unknown> {
    const b: Record<string, unknown> = { code };
    if (o.timeout) b.timeout = o.timeout;
    if (o.install === false) b.install = false;
    return b;
  }

  /**
   * Runs code as the session's next cell. With callbacks, the events stream
   * and each callback is called as they arrive.
   */
  async runCode(code: string, o: RunOptions = {}): Promise<Execution> {
    const ex = new Execution();
    if (!(o.onStdout || o.onStderr || o.onResult || o.onError || o.onEvent)) {
      const res = await this.client.request("POST", `${this.path}/execute`, {
        body: JSON.stringify(this.body(code, o)), headers: { "Content-Type": "application/json" },
      }, { session: true, timeoutMs: this.runTimeoutMs(o.timeout), signal: o.signal });
      const r = await res.json() as S["ExecuteResult"];
      for (const ev of r.events ?? []) ex.add(ev);
      return ex;
    }
    for await (const ev of this.streamCode(code, o)) {
      ex.add(ev);
      await o.onEvent?.(ev);
      switch (ev.type) {
        case "stdout": await o.onStdout?.(ev.text); break;
        case "stderr": await o.onStderr?.(ev.text); break;
        case "display": await o.onResult?.(new Result(ev.data, ev.metadata ?? {})); break;
        case "error": await o.onError?.({ name: ev.ename, value: ev.evalue ?? "", traceback: ev.traceback ?? [] }); break;
      }
    }
    return ex;
  }

  /** Runs code and yields its typed events as they happen, done last. */
  async *streamCode(code: string, o: RunOptions = {}): AsyncGenerator<ExecutionEvent> {
    for await (const d of this.client.stream(`${this.path}/execute/stream`, this.body(code, o), this.runTimeoutMs(o.timeout), o.signal)) {
      yield d as ExecutionEvent;
    }
  }

  /** Installs packages into the session, as %pip install would; throws
   * InstallError if any cannot be installed. */
  async install(packages: string[], o: RunOptions = {}): Promise<Execution> {
    for (const p of packages) {
      if (!p || p.startsWith("-") || /\s/.test(p)) throw new InterpError(`not a package name: ${JSON.stringify(p)}`);
    }
    const ex = await this.runCode("%pip install " + packages.join(" "), o);
    const failed = ex.installs.filter((ev) => ev.phase === "failed");
    if (failed.length > 0) {
      throw new InstallError(failed.map((ev) => ev.message || `cannot install ${ev.package}`).join("; "), failed.map((ev) => ev.package ?? ""), ex);
    }
    return ex;
  }

  /** A fresh Python process: variables are lost, files kept. */
  async restart(): Promise<void> {
    const res = await this.client.request("POST", `${this.path}/restart`, {}, { session: true, timeoutMs: 120_000 });
    this.info = await res.json();
  }

  /** Stops what runs in the session, as Ctrl-C; tells whether anything ran. */
  async interrupt(): Promise<boolean> {
    const res = await this.client.request("POST", `${this.path}/interrupt`, {}, { session: true });
    return (await res.json()).interrupted;
  }

  /** The session as the server describes it now. */
  async refresh(): Promise<SessionInfo> {
    this.info = await (await this.client.request("GET", this.path, {}, { session: true })).json();
    return this.info;
  }

  /** Works on a task in plain language in this session; returns the result event. */
  async task(prompt: string, o: { conversationId?: string; onEvent?: (ev: TaskEvent) => unknown; timeoutMs?: number; signal?: AbortSignal } = {}): Promise<ResultEvent> {
    let result: ResultEvent | undefined;
    for await (const ev of this.streamTask(prompt, o)) {
      await o.onEvent?.(ev);
      if (ev.type === "result") result = ev;
    }
    if (!result) throw new ConnectionError("the task's stream ended without a result");
    return result;
  }

  /** Yields a task's typed events, the result last. */
  async *streamTask(prompt: string, o: { conversationId?: string; timeoutMs?: number; signal?: AbortSignal } = {}): AsyncGenerator<TaskEvent> {
    const body: Record<string, unknown> = { prompt, session_id: this.id };
    if (o.conversationId) body.conversation_id = o.conversationId;
    for await (const d of this.client.stream("/v1/tasks", body, o.timeoutMs ?? 600_000, o.signal)) yield d as TaskEvent;
  }

  /** Closes the session: its sandbox and files go. */
  async close(): Promise<void> {
    try {
      await this.client.request("DELETE", this.path, {}, { session: true });
    } catch (e) {
      if (!(e instanceof InterpError && e.status === 404)) throw e;
    }
  }
}
