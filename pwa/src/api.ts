import type {
  AccessEntry,
  CareTag,
  ResidentEdit,
  ResidentEditResult,
  Resident, Category, ErrorBody, Person, ServerInfo, TokenResponse, Unit, User } from './api-types';
import { ERROR_CODES, type ErrorCode } from './generated/protocol.mjs';
import {
  clearSession,
  loadSession,
  saveServerInfo,
  saveSession,
  updateStoredUser,
  type Session,
} from './session';

export type { AccessEntry, CareTag, Category, Person, RecordKind, Resident, Role, Scope, ServerInfo, Unit, User } from './api-types';

const BASE = '/api/v1';

/** The server answered with an error status (`{code, message}` body). */
/**
 * Codes the app gives its own failures: no session to send with, an upload that stopped
 * moving, and `http_<status>` for an answer that was not the server's JSON (a proxy's
 * page) or named a code this version does not know.
 */
export type ClientErrorCode = 'no_session' | 'no_progress' | `http_${number}`;

export class ApiError extends Error {
  constructor(
    readonly status: number,
    /** One of the server's `ErrorCode`s, or one the app raises itself (`ClientErrorCode`). */
    readonly code: ErrorCode | ClientErrorCode,
    message: string,
    /** Seconds from the Retry-After header, when the server sent one. */
    readonly retryAfter: number | null = null,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** The request never got an answer: offline, server down, DNS, … */
export class NetworkError extends Error {
  constructor(cause: unknown) {
    super('network unavailable', { cause });
    this.name = 'NetworkError';
  }
}

const authLostListeners = new Set<() => void>();

/**
 * Called when the refresh token is rejected: the user has to sign in again.
 * Their local data stays; only the tokens are gone.
 */
export function onAuthLost(fn: () => void): () => void {
  authLostListeners.add(fn);
  return () => authLostListeners.delete(fn);
}

function emitAuthLost(): void {
  for (const fn of authLostListeners) fn();
}

export function parseRetryAfter(value: string | null, now = Date.now()): number | null {
  if (value === null) return null;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed);
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? null : Math.max(0, Math.ceil((date - now) / 1000));
}

/**
 * How long a one-off request may take before it is given up, so that a server that stops
 * answering cannot leave a screen waiting for ever. A caller with a signal of its own
 * (sync rounds and photo transfers bound themselves by their size) is not cut short.
 */
export const REQUEST_TIMEOUT_MS = 20_000;

/** The user gave up on a request (a cancel button): nothing to report to them. */
export class CancelledError extends Error {
  constructor() {
    super('cancelled');
    this.name = 'CancelledError';
  }
}

async function send(path: string, init: RequestInit = {}, timeout: 'default' | 'none' = 'default'): Promise<Response> {
  const headers = new Headers(init.headers);
  if (!headers.has('Accept')) headers.set('Accept', 'application/json');
  if (init.body !== undefined && !headers.has('Content-Type')) headers.set('Content-Type', 'application/json');
  const signal = init.signal ?? (timeout === 'default' ? AbortSignal.timeout(REQUEST_TIMEOUT_MS) : undefined);
  try {
    return await fetch(BASE + path, { ...init, headers, cache: 'no-store', signal });
  } catch (cause) {
    if (init.signal?.aborted && !(init.signal.reason instanceof DOMException && init.signal.reason.name === 'TimeoutError')) {
      throw new CancelledError();
    }
    throw new NetworkError(cause);
  }
}

async function toApiError(res: Response): Promise<ApiError> {
  let code: ApiError['code'] = `http_${res.status}`;
  let message = res.statusText;
  try {
    const body = (await res.json()) as Partial<ErrorBody>;
    const known = ERROR_CODES.find((c) => c === body.code);
    if (known) code = known;
    if (typeof body.message === 'string') message = body.message;
  } catch {
    // A proxy or crash page instead of our JSON; the status code still says enough.
  }
  return new ApiError(res.status, code, message, parseRetryAfter(res.headers.get('Retry-After')));
}

async function parse<T>(res: Response): Promise<T> {
  if (res.ok && res.headers.get('Content-Type')?.startsWith('application/cbor')) {
    try {
      return new Uint8Array(await res.arrayBuffer()) as T;
    } catch (cause) {
      // The link dropped (or the request timed out) halfway through the answer.
      throw new NetworkError(cause);
    }
  }
  if (!res.ok) throw await toApiError(res);
  if (res.status === 204) return undefined as T;
  return (await res.json()) as T;
}

function toSession(body: TokenResponse): Session {
  return {
    user: body.user,
    access_token: body.access_token,
    refresh_token: body.refresh_token,
    access_expires_at: Date.now() + body.expires_in * 1000,
  };
}

// Refresh tokens rotate and the server revokes the whole family when an old
// one is presented again, so two refreshes racing each other (two requests in
// this tab, or two tabs) would sign the user out. One refresh runs at a time;
// whoever comes second picks up the tokens the first one stored.
let inflightRefresh: Promise<Session> | null = null;

function refreshOnce(stale: Session): Promise<Session> {
  inflightRefresh ??= withCrossTabLock(() => refresh(stale)).finally(() => {
    inflightRefresh = null;
  });
  return inflightRefresh;
}

function withCrossTabLock<T>(fn: () => Promise<T>): Promise<T> {
  if (typeof navigator !== 'undefined' && navigator.locks) {
    return navigator.locks.request('haitang-auth-refresh', fn);
  }
  return fn();
}

async function refresh(stale: Session): Promise<Session> {
  const latest = await loadSession();
  if (!latest) throw new ApiError(401, 'no_session', 'not signed in');
  if (latest.refresh_token !== stale.refresh_token) return latest;

  const res = await send('/auth/refresh', {
    method: 'POST',
    body: JSON.stringify({ refresh_token: latest.refresh_token }),
  });
  if (res.status === 401) {
    const err = await toApiError(res);
    await clearSession();
    throw err;
  }
  const session = toSession(await parse<TokenResponse>(res));
  await saveSession(session);
  return session;
}

interface AuthedOptions {
  /** Whether a rejected refresh token should send the user to the login screen. */
  notifyAuthLost?: boolean;
}

/**
 * A request with the access token. On 401 the tokens are refreshed once and
 * the request retried, since access tokens live only 15 minutes.
 */
async function authed<T>(
  path: string,
  build: (session: Session) => RequestInit = () => ({}),
  options: AuthedOptions = {},
): Promise<T> {
  return parse<T>(await authedResponse(path, build, options));
}

/** `authed`, but the caller reads the answer itself. */
async function authedResponse(
  path: string,
  build: (session: Session) => RequestInit,
  { notifyAuthLost = true }: AuthedOptions = {},
  timeout: 'default' | 'none' = 'default',
): Promise<Response> {
  let session = await loadSession();
  if (!session) {
    if (notifyAuthLost) emitAuthLost();
    throw new ApiError(401, 'no_session', 'not signed in');
  }
  const attempt = (s: Session) => {
    const init = build(s);
    const headers = new Headers(init.headers);
    headers.set('Authorization', `Bearer ${s.access_token}`);
    return send(path, { ...init, headers }, timeout);
  };

  let res = await attempt(session);
  if (res.status === 401) {
    try {
      session = await refreshOnce(session);
    } catch (err) {
      if (notifyAuthLost && err instanceof ApiError && err.status === 401) emitAuthLost();
      throw err;
    }
    res = await attempt(session);
  }
  return res;
}

export async function getInfo(): Promise<ServerInfo> {
  const info = await parse<ServerInfo>(await send('/info'));
  await saveServerInfo(info);
  return info;
}

export async function login(username: string, password: string, signal?: AbortSignal): Promise<Session> {
  const res = await send('/auth/login', {
    method: 'POST',
    body: JSON.stringify({ username, password }),
    // The user's cancel, and the usual limit: a sign-in that hangs is given up either way.
    signal: signal ? AbortSignal.any([signal, AbortSignal.timeout(REQUEST_TIMEOUT_MS)]) : undefined,
  });
  const session = toSession(await parse<TokenResponse>(res));
  await saveSession(session);
  return session;
}

/** Fetches the current user and keeps the stored copy up to date. */
export async function me(): Promise<User> {
  const { user } = await authed<{ user: User }>('/me');
  await updateStoredUser(user);
  return user;
}

/**
 * Revokes the refresh token on the server when it can be reached, then forgets
 * the tokens locally. Works offline too: the user asked to leave.
 */
export async function logout(): Promise<void> {
  try {
    await authed<void>(
      '/auth/logout',
      (s) => ({ method: 'POST', body: JSON.stringify({ refresh_token: s.refresh_token }) }),
      { notifyAuthLost: false },
    );
  } catch {
    // Revocation is best effort; the refresh token expires on its own.
  }
  await clearSession();
}

export async function getCatalogue(): Promise<{ categories: Category[]; care_tags: CareTag[] }> {
  const body = await parse<{ categories: Category[]; care_tags?: CareTag[] }>(await send('/catalogue'));
  return { categories: body.categories, care_tags: body.care_tags ?? [] };
}

/**
 * The residents of the user's patch, or null when the copy named by `version` is still
 * current (the server answers 304 to its ETag).
 */
export async function getResidents(version?: string): Promise<{ version: string; residents: Resident[] } | null> {
  const res = await authedResponse('/residents', () => ({
    headers: version ? { 'If-None-Match': `"${version}"` } : ({} as Record<string, string>),
  }));
  if (res.status === 304) return null;
  return parse<{ version: string; residents: Resident[] }>(res);
}

/** Sends personal fields entered on the phone; the server answers each edit on its own. */
export async function postResidentEdits(edits: ResidentEdit[]): Promise<ResidentEditResult[]> {
  const body = await authed<{ results: ResidentEditResult[] }>('/residents', () => ({
    method: 'POST',
    body: JSON.stringify({ edits }),
  }));
  return body.results;
}

/** Uploads reveals made on the phone; the server checks each against what the role may see. */
export async function postAccessLog(entries: AccessEntry[]): Promise<void> {
  await authed<{ logged: number }>('/access-log', () => ({ method: 'POST', body: JSON.stringify({ entries }) }));
}

export async function getUnits(): Promise<Unit[]> {
  return (await authed<{ units: Unit[] }>('/units')).units;
}

export async function getPeople(): Promise<Person[]> {
  return (await authed<{ people: Person[] }>('/people')).people;
}

/**
 * One round of the sync protocol (docs/PROTOCOL.md): CBOR request body in, CBOR response
 * body out. `signal` gives up on a round that stalls (sync/runner.ts, `bounded`).
 */
export function postSync(body: Uint8Array, signal?: AbortSignal): Promise<Uint8Array> {
  return authed<Uint8Array>('/sync', () => ({
    method: 'POST',
    body: body as Uint8Array<ArrayBuffer>,
    signal,
    headers: { 'Content-Type': 'application/cbor', Accept: 'application/cbor' },
  }));
}

/**
 * A request with the access token (refreshed once on 401, like every other call)
 * whose answer the caller reads itself: status, headers and body. For photo blobs,
 * where 404 and 202 carry meaning and the body is an image.
 */
export function authedFetch(path: string, init: RequestInit = {}): Promise<Response> {
  // A photo takes as long as it takes on a slow line; uploads bound themselves by size.
  return authedResponse(path, () => init, {}, 'none');
}

/** Reads an error answer (`{code, message}`) the caller of `authedFetch` got. */
export function errorOf(res: Response): Promise<ApiError> {
  return toApiError(res);
}

/** `GET` of a JSON resource with the access token (the supervisor console's inbox, rates, …). */
export function getAuthed<T>(path: string): Promise<T> {
  return authed<T>(path);
}

/** `POST` of a JSON body with the access token (a supervisor's reveal, …). */
export function postAuthed<T>(path: string, body: unknown): Promise<T> {
  return authed<T>(path, () => ({ method: 'POST', body: JSON.stringify(body) }));
}
