/** The errors of the SDK, each named for what went wrong. */
import type { Execution } from "./index.js";

/** Anything that went wrong talking to Interp: status is the HTTP status (0 when none came). */
export class InterpError extends Error {
  readonly status: number;
  readonly detail: string;
  constructor(message: string, status = 0, detail = "") {
    super(message);
    this.name = new.target.name;
    this.status = status;
    this.detail = detail || message;
  }
}
/** The API key is missing, wrong or revoked (401). */
export class AuthenticationError extends InterpError {}
/** The key may not do this (403). */
export class PermissionDenied extends InterpError {}
/** No such thing, or it is another user's (404). */
export class NotFound extends InterpError {}
/** No such session: closed, reaped when idle, or another user's (404). */
export class SessionNotFound extends NotFound {}
/** The session is busy with other code, or its Python process ended (409). */
export class Conflict extends InterpError {}
/** The request was wrong (400, 422). */
export class InvalidRequest extends InterpError {}
/** A file or request over the server's limit (413). */
export class PayloadTooLarge extends InterpError {}
/** A quota is used up (429): wait retryAfter seconds, or free something. */
export class QuotaExceeded extends InterpError {
  readonly retryAfter: number | undefined;
  constructor(message: string, status: number, detail: string, retryAfter?: number) {
    super(message, status, detail);
    this.retryAfter = retryAfter;
  }
}
/** The server failed or is unavailable (5xx). */
export class ServerError extends InterpError {}
/** A package of install() could not be installed: no such project on the index,
 * no wheel for this Python, a conflict. packages names those that failed;
 * execution is what the install did. */
export class InstallError extends InterpError {
  readonly packages: string[];
  readonly execution: Execution;
  constructor(message: string, packages: string[], execution: Execution) {
    super(message);
    this.packages = packages;
    this.execution = execution;
  }
}
/** The server did not answer in time. */
export class TimeoutError extends InterpError {}
/** The server could not be reached, or the connection dropped. */
export class ConnectionError extends InterpError {}

function retryAfter(res: Response): number | undefined {
  const v = res.headers.get("Retry-After");
  if (v === null) return undefined;
  const n = Number(v);
  return Number.isFinite(n) ? Math.max(n, 0) : undefined;
}

/** The error for an answer that is not a success. */
export async function errorFrom(res: Response, session: boolean): Promise<InterpError> {
  let detail = "";
  try {
    const text = await res.text();
    try {
      const body = JSON.parse(text);
      detail = body.detail || body.title || "";
    } catch {
      detail = text.slice(0, 500);
    }
  } catch {
    /* no body */
  }
  const s = res.status;
  const msg = `${s} ${res.statusText}${detail ? ": " + detail : ""}`;
  switch (true) {
    case s === 401: return new AuthenticationError(msg, s, detail);
    case s === 403: return new PermissionDenied(msg, s, detail);
    case s === 404: return session && /session/i.test(detail) ? new SessionNotFound(msg, s, detail) : new NotFound(msg, s, detail);
    case s === 409: return new Conflict(msg, s, detail);
    case s === 413: return new PayloadTooLarge(msg, s, detail);
    case s === 429: return new QuotaExceeded(msg, s, detail, retryAfter(res));
    case s === 400 || s === 422: return new InvalidRequest(msg, s, detail);
    case s === 408: return new TimeoutError(msg, s, detail);
    case s >= 500: return new ServerError(msg, s, detail);
  }
  return new InterpError(msg, s, detail);
}

export function backoff(attempt: number, res?: Response): number {
  const ra = res ? retryAfter(res) : undefined;
  if (ra !== undefined) return Math.min(ra, 30) * 1000;
  return Math.min(250 * 2 ** (attempt - 1), 8000) * (0.5 + Math.random() / 2);
}
