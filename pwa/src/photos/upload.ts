import { ApiError, NetworkError, authedFetch, errorOf } from '../api';
import type { Syncer } from '../sync';
import { getPhotos, type Photo, type Photos } from './db';

/** Bytes per PUT: small enough that a poor network still makes progress between drops. */
export const CHUNK_BYTES = 256 * 1024;
const BACKOFF_FIRST_MS = 2_000;
const BACKOFF_MAX_MS = 5 * 60_000;
/** After "over the daily quota" there is no point trying again soon. */
const QUOTA_WAIT_MS = 60 * 60_000;
const DRAFT_MAX_AGE_MS = 7 * 24 * 3600_000;

export interface UploadStatus {
  running: boolean;
  /** Photo being sent and how many of its bytes the server holds. */
  current: { sha256: string; sent: number; total: number } | null;
  error: 'network' | 'server' | 'quota' | null;
  retryAt: number | null;
}

/** The server has the blob complete (200), or the offset to continue from. */
async function head(sha256: string): Promise<true | number> {
  const res = await authedFetch(`/blobs/${sha256}`, { method: 'HEAD' });
  if (res.ok) return true;
  if (res.status === 404) return Number(res.headers.get('Upload-Offset') ?? 0) || 0;
  throw await errorOf(res);
}

function offsetOf(res: Response, fallback: number): number {
  const v = res.headers.get('Upload-Offset');
  return v !== null && /^\d+$/.test(v) ? Number(v) : fallback;
}

class Refused extends Error {
  constructor(readonly code: string) {
    super(code);
  }
}

/**
 * Sends one photo, resuming from whatever the server already holds, in CHUNK_BYTES
 * pieces (`Content-Range`). Resolves once the server has confirmed the whole blob.
 */
export async function uploadPhoto(p: Photo, progress: (sent: number) => void = () => undefined): Promise<void> {
  const had = await head(p.sha256);
  if (had === true) return;
  const total = p.full.size;
  let offset = Math.min(had, total);
  let restarts = 0;
  // A server that never moves forward must not keep us here forever.
  for (let rounds = 0; rounds < 4 * Math.ceil(total / CHUNK_BYTES) + 8; rounds++) {
    progress(offset);
    const end = Math.min(total, offset + CHUNK_BYTES);
    const headers: Record<string, string> = { 'Content-Type': p.mime };
    if (!(offset === 0 && end === total)) headers['Content-Range'] = `bytes ${offset}-${end - 1}/${total}`;
    const res = await authedFetch(`/blobs/${p.sha256}`, { method: 'PUT', headers, body: p.full.slice(offset, end) });
    if (res.status === 200 || res.status === 201) return;
    if (res.status === 202) {
      offset = offsetOf(res, end);
      continue;
    }
    if (res.status === 409) {
      // Our idea of the offset was wrong (a chunk whose answer got lost): go on from the server's.
      offset = offsetOf(res, 0);
      continue;
    }
    const err = await errorOf(res);
    if (err.code === 'hash_mismatch' && restarts++ < 2) {
      offset = 0;
      continue;
    }
    if (err.status === 415 || err.code === 'hash_mismatch') throw new Refused(err.code);
    throw err;
  }
  throw new ApiError(500, 'no_progress', 'the server did not take the upload forward');
}

/**
 * Uploads the photos records refer to, apart from the document sync: after every
 * successful sync, when the network returns, when a photo starts waiting, and with
 * backoff after a failure. One tab per user at a time (Web Locks).
 */
export class Uploader {
  status: UploadStatus = { running: false, current: null, error: null, retryAt: null };
  private readonly listeners = new Set<() => void>();
  private failures = 0;
  private timer: number | undefined;
  private current: Promise<void> | null = null;
  private again = false;
  private stopped = false;
  private readonly cleanups: (() => void)[] = [];

  constructor(
    private readonly photos: Photos,
    private readonly syncer?: Syncer,
  ) {}

  start(): void {
    window.addEventListener('online', this.onOnline);
    this.cleanups.push(() => window.removeEventListener('online', this.onOnline));
    if (this.syncer) {
      let wasRunning = this.syncer.status.running;
      this.cleanups.push(
        this.syncer.subscribe(() => {
          const s = this.syncer!.status;
          if (wasRunning && !s.running && s.error === null) void this.uploadNow();
          wasRunning = s.running;
        }),
      );
    }
    // A photo starts waiting (a record saved with photos): send it while the signal lasts.
    this.cleanups.push(this.photos.subscribe(() => void this.uploadNow()));
    void this.photos.dropStaleDrafts(DRAFT_MAX_AGE_MS).catch(() => undefined);
    void this.uploadNow();
  }

  stop(): void {
    this.stopped = true;
    window.clearTimeout(this.timer);
    for (const fn of this.cleanups.splice(0)) fn();
  }

  subscribe(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private readonly onOnline = () => {
    this.failures = 0;
    void this.uploadNow();
  };

  private set(patch: Partial<UploadStatus>): void {
    this.status = { ...this.status, ...patch };
    for (const fn of this.listeners) fn();
  }

  /** Uploads now, or once more after the run under way; resolves when nothing is left to try. */
  uploadNow(): Promise<void> {
    if (this.current) {
      this.again = true;
      return this.current;
    }
    this.current = (async () => {
      do {
        this.again = false;
        await this.run();
      } while (this.again && !this.stopped && this.status.error === null);
    })().finally(() => {
      this.current = null;
    });
    return this.current;
  }

  private async run(): Promise<void> {
    if (this.stopped || !navigator.onLine) return;
    window.clearTimeout(this.timer);
    this.set({ running: true, error: null, retryAt: null });
    // Bytes the server took in this run: a network that drops now and then still
    // works, so the retry after such a drop comes soon rather than after a long backoff.
    let progressed = false;
    try {
      await navigator.locks.request(`haitang-photos-u${this.photos.userId}`, { ifAvailable: true }, async (lock) => {
        if (!lock) return; // another tab is uploading this user's photos
        for (const p of await this.photos.withState('pending')) {
          if (this.stopped) return;
          this.set({ current: { sha256: p.sha256, sent: 0, total: p.full.size } });
          let from: number | undefined;
          try {
            await uploadPhoto(p, (sent) => {
              from ??= sent;
              if (sent > from) progressed = true;
              this.set({ current: { sha256: p.sha256, sent, total: p.full.size } });
            });
            progressed = true;
            await this.photos.setState([p.sha256], 'done');
          } catch (err) {
            if (!(err instanceof Refused)) throw err;
            await this.photos.setState([p.sha256], 'failed', err.code);
          }
        }
      });
      this.failures = 0;
      this.set({ running: false, current: null });
    } catch (err) {
      const quota = err instanceof ApiError && err.status === 413;
      const error = err instanceof NetworkError ? 'network' : quota ? 'quota' : 'server';
      if (err instanceof ApiError && err.status === 401) {
        this.set({ running: false, current: null, error: 'server', retryAt: null });
        return;
      }
      if (progressed) this.failures = 0;
      const delay = quota ? QUOTA_WAIT_MS : Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** this.failures);
      this.failures++;
      const wait = Math.round(delay * (0.75 + Math.random() * 0.5));
      this.set({ running: false, current: null, error, retryAt: Date.now() + wait });
      if (!this.stopped) this.timer = window.setTimeout(() => void this.uploadNow(), wait);
      if (!(err instanceof NetworkError || err instanceof ApiError)) console.error('photo upload failed', err);
    }
  }
}

declare global {
  interface Window {
    /** The browser tests watch uploads through this. */
    haitangUploads?: Uploader;
  }
}

/** Starts uploading the user's waiting photos alongside `syncer`; returns the uploader. */
export async function startUploads(userId: number, syncer?: Syncer): Promise<Uploader> {
  const uploader = new Uploader(await getPhotos(userId), syncer);
  uploader.start();
  window.haitangUploads = uploader;
  return uploader;
}
