import { Encoder } from 'cbor-x';
import type { Doc } from '@automerge/automerge/slim';
import { ApiError, NetworkError, postSync } from './api';
import { automerge } from './automerge';
import { keepEvicted, unconfirmed, type DocEntry, type Store } from './store';

// Plain CBOR the server can read (docs/PROTOCOL.md, "CBOR as the phone writes it").
// `int64AsNumber` is honoured by the decoder but missing from cbor-x's typings.
const cbor = new Encoder({ useRecords: false, mapsAsObjects: true, int64AsNumber: true } as ConstructorParameters<
  typeof Encoder
>[0]);

interface PushDoc {
  doc: string;
  changes: Uint8Array[];
}

interface SyncRequest {
  v: 1;
  cursor?: number;
  resume?: number;
  push: PushDoc[];
  want?: string[];
  limit: number;
}

interface PushResult {
  doc: string;
  ok: boolean;
  heads?: string[];
  code?: string;
  message?: string;
}

interface PullItem {
  doc: string;
  changes?: Uint8Array[];
  snapshot?: Uint8Array;
  evict?: boolean;
}

interface SyncResponse {
  v: number;
  results: PushResult[];
  pull: PullItem[];
  cursor: number;
  more: boolean;
  resume?: number;
  /** Wanted ids the response had no room for: ask again. */
  unsent?: string[];
}

// The protocol's limits, with room to spare for the request around the changes.
const MAX_PUSH_DOCS = 500;
const MAX_PUSH_BYTES = 8 * 1024 * 1024;
const PULL_LIMIT = 200;
/** Refusals worth retrying as they are: the next push may well succeed. */
const RETRYABLE = new Set(['busy', 'missing_deps']);

const PERIOD_MS = 3 * 60_000;
const BACKOFF_FIRST_MS = 5_000;
const BACKOFF_MAX_MS = 5 * 60_000;

export type SyncError = 'network' | 'auth' | 'server';

export interface SyncStatus {
  running: boolean;
  /** Documents sent and pull items applied in the sync under way (or the last one). */
  pushed: number;
  pulled: number;
  error: SyncError | null;
  /** When the next automatic attempt after a failure is due (epoch ms). */
  retryAt: number | null;
}

type Am = Awaited<ReturnType<typeof automerge>>;

interface Batch {
  push: PushDoc[];
  /** Each pushed document's heads, to tell later whether a refused record has been edited since. */
  heads: Map<string, string[]>;
  /** The protocol's limits left waiting records for another request. */
  more: boolean;
}

/**
 * Moves records between this device and the server: on start, when the network
 * comes back, every few minutes while online, and on request; with exponential
 * backoff after failures. Only one tab syncs at a time (Web Locks); the others
 * see the results through the store.
 */
export class Syncer {
  status: SyncStatus = { running: false, pushed: 0, pulled: 0, error: null, retryAt: null };
  private readonly listeners = new Set<() => void>();
  private failures = 0;
  private timer: number | undefined;
  private current: Promise<void> | null = null;
  /** syncNow was called during the sync under way. */
  private again = false;
  private stopped = false;

  constructor(private readonly store: Store) {}

  start(): void {
    window.addEventListener('online', this.onOnline);
    this.schedule(0);
  }

  stop(): void {
    this.stopped = true;
    window.removeEventListener('online', this.onOnline);
    window.clearTimeout(this.timer);
  }

  subscribe(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private readonly onOnline = () => {
    this.failures = 0;
    this.schedule(0);
  };

  private set(patch: Partial<SyncStatus>): void {
    this.status = { ...this.status, ...patch };
    for (const fn of this.listeners) fn();
  }

  private schedule(delay: number): void {
    window.clearTimeout(this.timer);
    if (this.stopped) return;
    this.timer = window.setTimeout(() => void this.syncNow(), delay);
  }

  /**
   * Syncs now; resolves when it is over. Asked while a sync is running, it runs once
   * more after it: an edit made meanwhile may have missed that sync's batch, and would
   * otherwise wait for the next periodic sync.
   */
  syncNow(): Promise<void> {
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
    window.clearTimeout(this.timer);
    if (!navigator.onLine) {
      // The online event starts the next attempt.
      this.set({ error: 'network', retryAt: null });
      return;
    }
    this.set({ running: true, pushed: 0, pulled: 0, error: null, retryAt: null });
    try {
      await navigator.locks.request('haitang-sync', { ifAvailable: true }, async (lock) => {
        // Another tab holds the lock and is syncing the same database.
        if (lock) await this.exchange();
      });
      this.failures = 0;
      this.set({ running: false });
      this.schedule(PERIOD_MS);
    } catch (err) {
      const error: SyncError =
        err instanceof NetworkError ? 'network' : err instanceof ApiError && err.status === 401 ? 'auth' : 'server';
      if (error === 'auth') {
        // api.ts has sent the user to sign in; the sign-in starts a new Syncer.
        this.set({ running: false, error, retryAt: null });
        return;
      }
      const delay = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** this.failures);
      this.failures++;
      // Jitter, so phones that lost the network together do not return in step.
      const wait = Math.round(delay * (0.75 + Math.random() * 0.5));
      this.set({ running: false, error, retryAt: Date.now() + wait });
      this.schedule(wait);
      if (!(err instanceof NetworkError || err instanceof ApiError)) console.error('sync failed', err);
    }
  }

  /** Pushes every waiting record (in batches) and pulls pages until the server has no more. */
  private async exchange(): Promise<void> {
    const A = await automerge();
    const actor = await this.store.actor();
    const pushedThisRun = new Set<string>();
    let want = (await this.store.meta<string[]>('want')) ?? [];
    let pushesLeft = true;
    let prefetched: Promise<SyncResponse> | null = null;
    for (;;) {
      const [cursor, resume] = await Promise.all([
        this.store.meta<number>('cursor'),
        this.store.meta<number>('resume'),
      ]);
      const { push, heads, more }: Batch = pushesLeft
        ? await this.batch(A, pushedThisRun)
        : { push: [], heads: new Map<string, string[]>(), more: false };
      pushesLeft = more;
      const res: SyncResponse = await (prefetched ??
        send({ v: 1, cursor, resume, push, want: want.length ? want : undefined, limit: PULL_LIMIT }));
      prefetched = null;
      if (res.more && !pushesLeft) {
        // The next page is asked for while this one is written to IndexedDB, so on a slow
        // link the round trip and the write overlap instead of adding up. It is the request
        // the loop would send next anyway: the cursor holds while paging, only `resume` moves.
        prefetched = send({ v: 1, cursor, resume: res.resume ?? res.cursor, push: [], limit: PULL_LIMIT });
        // If writing this page fails, the exchange ends and the prefetch is not wanted.
        prefetched.catch(() => undefined);
      }
      await this.apply(A, actor, res, heads, want);
      want = [];
      this.set({ pushed: this.status.pushed + push.length, pulled: this.status.pulled + res.pull.length });
      if (!res.more && !pushesLeft) return;
    }
  }

  /** The next request's worth of waiting records; `more` when the limits left some for another. */
  private async batch(
    A: Am,
    pushedThisRun: Set<string>,
  ): Promise<Batch> {
    const push: PushDoc[] = [];
    const heads = new Map<string, string[]>();
    let bytes = 0;
    for (const id of await this.store.pendingIds()) {
      if (pushedThisRun.has(id)) continue;
      const entry = await this.store.entry(id);
      // A record waiting for a reset is about to be replaced; its refused changes stay home.
      if (!entry || entry.reset) continue;
      const doc = A.load(entry.bytes);
      const changes = unconfirmed(A, doc, entry.acked);
      if (changes.length === 0) continue;
      const size = changes.reduce((n, c) => n + c.byteLength, 0);
      if (push.length >= MAX_PUSH_DOCS || (push.length > 0 && bytes + size > MAX_PUSH_BYTES)) {
        return { push, heads, more: true };
      }
      bytes += size;
      push.push({ doc: id, changes });
      heads.set(id, A.getHeads(doc));
      pushedThisRun.add(id);
    }
    return { push, heads, more: false };
  }

  /**
   * Applies one response in one transaction: push results, pulled documents,
   * and the cursor (or resume point) move together, so a browser killed at any
   * moment either has all of it or none and simply asks again.
   */
  private async apply(
    A: Am,
    actor: string,
    res: SyncResponse,
    pushedHeads: Map<string, string[]>,
    wanted: string[],
  ): Promise<void> {
    await this.store.write(async (tx, put, remove) => {
      const docs = tx.objectStore('docs');
      // `saved`: the entry's bytes already are the document, so it needs no A.save (a
      // first pull brings thousands of snapshots that are stored as they came).
      const touched = new Map<string, { entry: DocEntry; doc: Doc<unknown>; saved: boolean }>();
      // Every entry the response names is read up front, the requests all in flight at
      // once: awaited one by one, each is a round trip to the browser's storage process,
      // and a first pull was spending most of its time waiting on them.
      const ids = new Set([...(res.results ?? []).map((r) => r.doc), ...(res.pull ?? []).map((i) => i.doc), ...wanted]);
      const stored = new Map<string, DocEntry>();
      await Promise.all(
        Array.from(ids, async (id) => {
          const entry = await docs.get(id);
          if (entry) stored.set(id, entry);
        }),
      );
      const get = (id: string) => {
        const known = touched.get(id);
        if (known) return known;
        const entry = stored.get(id);
        if (!entry) return undefined;
        const t = { entry, doc: A.load(entry.bytes, { actor }), saved: true };
        touched.set(id, t);
        return t;
      };
      const safeGet = (id: string) => {
        try {
          return get(id);
        } catch {
          return undefined;
        }
      };

      for (const r of res.results ?? []) {
        const t = safeGet(r.doc);
        if (!t) continue;
        if (r.ok) {
          t.entry.acked = r.heads ?? [];
        } else if (!RETRYABLE.has(r.code ?? '')) {
          t.entry.refusal = {
            code: r.code ?? 'unknown',
            message: r.message ?? '',
            at: Date.now(),
            heads: pushedHeads.get(r.doc) ?? A.getHeads(t.doc),
          };
        }
      }

      // One record that does not load (a damaged copy on the server, or here) is that
      // record's problem alone: the rest of the page is stored and the cursor moves on.
      const applyItem = async (item: PullItem) => {
        if (item.evict) {
          const t = get(item.doc);
          if (t && keepEvicted(A, t.entry, t.doc)) return;
          touched.delete(item.doc);
          stored.delete(item.doc);
          await remove(item.doc);
          return;
        }
        const t = get(item.doc);
        // Back in the user's area (or never left it): an evicted copy is an ordinary one again.
        if (t) delete t.entry.evicted;
        if (item.snapshot) {
          const remote = A.load(item.snapshot, { actor });
          const acked = A.getHeads(remote);
          if (!t || t.entry.reset) {
            // Nothing local, or the user asked for the server's version instead of theirs.
            // A copy: the decoder hands out views into the whole response, and IndexedDB
            // would store that entire buffer with every record.
            const entry: DocEntry = { id: item.doc, bytes: item.snapshot.slice(), acked, kept: t?.entry.kept };
            touched.set(item.doc, { entry, doc: remote, saved: true });
          } else {
            t.doc = A.merge(t.doc, remote);
            t.saved = false;
            t.entry.acked = acked;
          }
        } else if (item.changes) {
          const base = t ?? { entry: { id: item.doc, bytes: new Uint8Array(), acked: [] }, doc: A.init({ actor }), saved: false };
          [base.doc] = A.applyChanges(base.doc, item.changes);
          base.saved = false;
          base.entry.acked = advanceAcked(A, base.entry.acked, item.changes);
          touched.set(item.doc, base);
        }
      };
      for (const item of res.pull ?? []) {
        try {
          await applyItem(item);
        } catch (err) {
          // A local copy keeps what the user has and says why it no longer syncs; a record
          // never seen here is simply not stored (the server reports it to its operator).
          console.warn(`sync: record ${item.doc} could not be applied`, err);
          const t = touched.get(item.doc) ?? safeGet(item.doc);
          if (t) t.entry.refusal = { code: 'damaged', message: String(err), at: Date.now(), heads: A.getHeads(t.doc) };
        }
      }

      // Whatever was asked for has come, or the server has no version of it for us,
      // except what it had no room for, which is asked for again.
      const unsent = new Set(res.unsent ?? []);
      for (const id of wanted) {
        if (unsent.has(id)) continue;
        const t = safeGet(id);
        if (t) delete t.entry.reset;
      }
      await Promise.all(
        Array.from(touched.values(), ({ entry, doc, saved }) => put(saved ? entry : { ...entry, bytes: A.save(doc) }, doc, A)),
      );
      const meta = tx.objectStore('meta');
      if (unsent.size) await meta.put([...unsent], 'want');
      else if (wanted.length) await meta.delete('want');
      if (res.more) {
        await meta.put(res.resume ?? res.cursor, 'resume');
      } else {
        await meta.put(res.cursor, 'cursor');
        await meta.delete('resume');
        await meta.put(Date.now(), 'last-sync');
      }
    });
  }
}

async function send(req: SyncRequest): Promise<SyncResponse> {
  return cbor.decode(await postSync(cbor.encode(req))) as SyncResponse;
}

/**
 * The server's heads after pulled changes: the old acked heads that no pulled
 * change builds on, plus the pulled changes nothing else pulled builds on. Those
 * changes came from the server, so they must not count as waiting to be pushed.
 */
function advanceAcked(A: Am, acked: string[], changes: Uint8Array[]): string[] {
  const decoded = changes.map((c) => A.decodeChange(c));
  const deps = new Set(decoded.flatMap((c) => c.deps));
  const heads = new Set(acked.filter((h) => !deps.has(h)));
  for (const c of decoded) if (!deps.has(c.hash)) heads.add(c.hash);
  return Array.from(heads);
}
