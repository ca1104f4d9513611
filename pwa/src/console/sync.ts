import { Encoder } from 'cbor-x';
import type { Doc } from '@automerge/automerge/slim';
import { ApiError, NetworkError, postSync } from '../api';
import { automerge } from '../automerge';
import { keepEvicted, unconfirmed, type DocEntry, type Store } from '../store';
import type { SyncError, SyncStatus } from '../sync';

// The console's side of the sync protocol. A supervisor's scope can be a whole street,
// so the console never pulls it: it asks for the records it opens by id (`want`, a
// snapshot each) and pushes its actions, which wait in the same per-user store as the
// field app's edits until they are confirmed. The inbox itself comes from
// GET /api/v1/cases.
//
// Requests say `pull: false`, so the wanted snapshots and the push results are all that
// comes back; the console keeps no cursor.

const cbor = new Encoder({ useRecords: false, mapsAsObjects: true, int64AsNumber: true } as ConstructorParameters<
  typeof Encoder
>[0]);

const MAX_WANT = 200;
const MAX_PUSH_DOCS = 500;
const RETRYABLE = new Set(['busy', 'missing_deps']);
const PERIOD_MS = 3 * 60_000;
const BACKOFF_FIRST_MS = 5_000;
const BACKOFF_MAX_MS = 5 * 60_000;

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
  results?: PushResult[];
  pull?: PullItem[];
  /** Wanted ids the response had no room for: ask again. */
  unsent?: string[];
}

type Am = Awaited<ReturnType<typeof automerge>>;

/** Same surface as the field app's `Syncer` (status, subscribe, syncNow, start, stop), plus `open`. */
export class ConsoleSyncer {
  status: SyncStatus = { running: false, pushed: 0, pulled: 0, error: null, retryAt: null };
  private readonly listeners = new Set<() => void>();
  /** Records opened in this session: each sync asks for them again so they stay current. */
  private readonly held: string[] = [];
  private queue: Promise<void> = Promise.resolve();
  private timer: number | undefined;
  private failures = 0;
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
    this.timer = window.setTimeout(() => void this.syncNow().catch(() => undefined), delay);
  }

  /** Pushes what waits and refreshes the records opened so far. */
  syncNow(): Promise<void> {
    return this.enqueue([]);
  }

  /**
   * Fetches these records (a snapshot each, merged with any local copy) together with
   * a push of whatever waits. Rejects when the server cannot be reached.
   */
  open(ids: string[]): Promise<void> {
    for (const id of ids) {
      const i = this.held.indexOf(id);
      if (i >= 0) this.held.splice(i, 1);
      this.held.unshift(id);
    }
    this.held.length = Math.min(this.held.length, MAX_WANT);
    return this.enqueue(ids);
  }

  private enqueue(ids: string[]): Promise<void> {
    const run = this.queue.then(() => this.run(ids));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async run(ids: string[]): Promise<void> {
    window.clearTimeout(this.timer);
    if (!navigator.onLine) {
      this.set({ error: 'network', retryAt: null });
      throw new NetworkError(new Error('offline'));
    }
    this.set({ running: true, pushed: 0, pulled: 0, error: null, retryAt: null });
    try {
      await navigator.locks.request(`haitang-console-sync-${this.store.userId}`, () => this.exchange(ids));
      this.failures = 0;
      await this.store.setMeta('last-sync', Date.now());
      this.set({ running: false });
      this.schedule(PERIOD_MS);
    } catch (err) {
      const error: SyncError =
        err instanceof NetworkError ? 'network' : err instanceof ApiError && err.status === 401 ? 'auth' : 'server';
      if (error === 'auth') {
        this.set({ running: false, error, retryAt: null });
        throw err;
      }
      const delay = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** this.failures);
      this.failures++;
      const wait = Math.round(delay * (0.75 + Math.random() * 0.5));
      this.set({ running: false, error, retryAt: Date.now() + wait });
      this.schedule(wait);
      throw err;
    }
  }

  private async exchange(ids: string[]): Promise<void> {
    const A = await automerge();
    const actor = await this.store.actor();
    const push: { doc: string; changes: Uint8Array[] }[] = [];
    const heads = new Map<string, string[]>();
    for (const id of await this.store.pendingIds()) {
      if (push.length >= MAX_PUSH_DOCS) break;
      const entry = await this.store.entry(id);
      if (!entry || entry.reset) continue;
      const doc = A.load(entry.bytes);
      const changes = unconfirmed(A, doc, entry.acked);
      if (changes.length === 0) continue;
      push.push({ doc: id, changes });
      heads.set(id, A.getHeads(doc));
    }
    const resets = (await this.store.meta<string[]>('want')) ?? [];
    // What was asked for, what was reset, what was pushed (to see the merged result), then the rest held.
    const want = Array.from(new Set([...ids, ...resets, ...push.map((p) => p.doc), ...this.held])).slice(0, MAX_WANT);
    const req = { v: 1, pull: false, push, want: want.length ? want : undefined };
    const res = cbor.decode(await postSync(cbor.encode(req))) as SyncResponse;
    await this.apply(A, actor, res, heads, want);
    this.set({ pushed: push.length, pulled: res.pull?.length ?? 0 });
  }

  /** Applies one response in one transaction, as the field app's syncer does. */
  private async apply(A: Am, actor: string, res: SyncResponse, pushedHeads: Map<string, string[]>, wanted: string[]) {
    await this.store.write(async (tx, put, remove) => {
      const docs = tx.objectStore('docs');
      const touched = new Map<string, { entry: DocEntry; doc: Doc<unknown> }>();
      const get = async (id: string) => {
        const known = touched.get(id);
        if (known) return known;
        const entry = await docs.get(id);
        if (!entry) return undefined;
        const t = { entry, doc: A.load(entry.bytes, { actor }) };
        touched.set(id, t);
        return t;
      };
      for (const r of res.results ?? []) {
        const t = await get(r.doc).catch(() => undefined);
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
      for (const item of res.pull ?? []) {
        if (item.evict) {
          const t = await get(item.doc);
          if (t && keepEvicted(A, t.entry, t.doc)) continue;
          touched.delete(item.doc);
          await remove(item.doc);
          continue;
        }
        if (!item.snapshot) continue; // no pull from a cursor: only snapshots of wanted records come
        const t = await get(item.doc).catch(() => undefined);
        if (t) delete t.entry.evicted;
        try {
          const remote = A.load(item.snapshot, { actor });
          const acked = A.getHeads(remote);
          if (!t || t.entry.reset) {
            touched.set(item.doc, { entry: { id: item.doc, bytes: item.snapshot, acked, kept: t?.entry.kept }, doc: remote });
          } else {
            t.doc = A.merge(t.doc, remote);
            // The server's heads after the snapshot; the refused changes it lacks stay waiting.
            t.entry.acked = acked;
          }
        } catch (err) {
          // One damaged record is its own problem: the others of the response are stored.
          console.warn(`sync: record ${item.doc} could not be applied`, err);
          if (t) t.entry.refusal = { code: 'damaged', message: String(err), at: Date.now(), heads: A.getHeads(t.doc) };
        }
      }
      const unsent = new Set(res.unsent ?? []);
      for (const id of wanted) {
        if (unsent.has(id)) continue;
        const t = touched.get(id) ?? (await get(id).catch(() => undefined));
        if (t) delete t.entry.reset;
      }
      for (const { entry, doc } of touched.values()) {
        await put({ ...entry, bytes: A.save(doc) }, doc, A);
      }
      const meta = tx.objectStore('meta');
      const resets = ((await meta.get('want')) as string[] | undefined) ?? [];
      const left = resets.filter((id) => !wanted.includes(id) || unsent.has(id));
      if (left.length) await meta.put(left, 'want');
      else await meta.delete('want');
    });
  }
}
