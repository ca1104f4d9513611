import { ApiError, NetworkError, authedFetch, errorOf } from '../api';
import { bounded, Runner, stallAllowanceMs } from '../sync/runner';
import type { SyncHandle } from '../sync/syncer';
import { getPhotos, type Photo, type Photos } from './db';

/** Bytes per PUT: small enough that a poor network still makes progress between drops. */
export const CHUNK_BYTES = 256 * 1024;
const QUOTA_WAIT_MS = 60 * 60_000;

export interface UploadStatus {
  running: boolean;
  /** Photo being sent and how many of its bytes the server holds. */
  current: { sha256: string; sent: number; total: number } | null;
  error: 'network' | 'server' | 'quota' | null;
  retryAt: number | null;
}

/** One blob request, given up (a `NetworkError`) if it stalls. */
function blobRequest(sha256: string, init: RequestInit, bytes = 0): Promise<Response> {
  return bounded(stallAllowanceMs(bytes), (signal) => authedFetch(`/blobs/${sha256}`, { ...init, signal }));
}

/** The server has the blob complete (200), or the offset to continue from. */
async function head(sha256: string): Promise<true | number> {
  const res = await blobRequest(sha256, { method: 'HEAD' });
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
    const res = await blobRequest(p.sha256, { method: 'PUT', headers, body: p.full.slice(offset, end) }, end - offset);
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

/** What a failed upload round means: over the quota waits long, a lost sign-in waits for the next one. */
function uploadFailure(err: unknown, backoff: number): { error: NonNullable<UploadStatus['error']>; retryIn: number | null } {
  // The sign-in that follows starts a new uploader.
  if (err instanceof ApiError && err.status === 401) return { error: 'server', retryIn: null };
  // After "over the daily quota" there is no point trying again soon.
  if (err instanceof ApiError && err.status === 413) return { error: 'quota', retryIn: QUOTA_WAIT_MS };
  return { error: err instanceof NetworkError ? 'network' : 'server', retryIn: backoff };
}

/**
 * Uploads the photos records refer to, apart from the document sync: after every
 * successful sync, when the network returns, when a photo starts waiting, and with
 * backoff after a failure. One tab per user at a time (Web Locks).
 */
export class Uploader {
  private readonly runner: Runner<UploadStatus>;
  private readonly cleanups: (() => void)[] = [];

  constructor(
    private readonly photos: Photos,
    private readonly syncer?: SyncHandle,
  ) {
    this.runner = new Runner<UploadStatus>({
      lock: `haitang-photos-u${photos.userId}`,
      backoff: { first: 2_000, max: 5 * 60_000 },
      initial: { running: false, current: null, error: null, retryAt: null },
      ending: { current: null },
      failure: uploadFailure,
      round: () => this.round(),
    });
  }

  get status(): UploadStatus {
    return this.runner.status;
  }

  start(): void {
    this.runner.start();
    if (this.syncer) {
      const syncer = this.syncer;
      let wasRunning = syncer.status.running;
      this.cleanups.push(
        syncer.subscribe(() => {
          const s = syncer.status;
          if (wasRunning && !s.running && s.error === null) void this.uploadNow();
          wasRunning = s.running;
        }),
      );
    }
    // A photo starts waiting (a record saved with photos): send it while the signal lasts.
    this.cleanups.push(this.photos.subscribe(() => void this.uploadNow()));
  }

  stop(): void {
    this.runner.stop();
    for (const fn of this.cleanups.splice(0)) fn();
  }

  subscribe(fn: () => void): () => void {
    return this.runner.subscribe(fn);
  }

  /** Uploads now, or once more after the run under way; resolves when nothing is left to try. */
  async uploadNow(): Promise<void> {
    await this.runner.now();
  }

  private async round(): Promise<void> {
    for (const p of await this.photos.withState('pending')) {
      if (this.runner.stopped) return;
      this.runner.set({ current: { sha256: p.sha256, sent: 0, total: p.full.size } });
      let from: number | undefined;
      try {
        await uploadPhoto(p, (sent) => {
          from ??= sent;
          // Bytes the server took in this round: a retry after a drop comes soon.
          if (sent > from) this.runner.progressed();
          this.runner.set({ current: { sha256: p.sha256, sent, total: p.full.size } });
        });
        this.runner.progressed();
        await this.photos.setState([p.sha256], 'done');
      } catch (err) {
        if (!(err instanceof Refused)) throw err;
        await this.photos.setState([p.sha256], 'failed', err.code);
      }
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
export async function startUploads(userId: number, syncer?: SyncHandle): Promise<Uploader> {
  const uploader = new Uploader(await getPhotos(userId), syncer);
  uploader.start();
  window.haitangUploads = uploader;
  return uploader;
}
