import { Encoder } from 'cbor-x';
import type { Doc } from '@automerge/automerge/slim';
import { ApiError, NetworkError } from '../api';
import { automerge } from '../automerge';
import { knownType } from '../doctypes';
import { keepEvicted, unconfirmed, type DocEntry, type Store } from '../store';
import { bounded, stallAllowanceMs } from './runner';
import type { PullItem, PushDoc, RefusalCode, SyncRequest, SyncResponse } from './wire';
import { LIMITS, RETRYABLE as RETRY_CODES } from '../generated/protocol.mjs';

// The one client of the sync protocol (docs/PROTOCOL.md): what a request carries and what
// a response does to the store. The field app pulls its scope from a stored cursor; the
// console pulls nothing and asks for the records it opens by id (`want`, `pull: false`).
// Both push whatever waits in the same per-user store.

// Plain CBOR the server can read (docs/PROTOCOL.md, "CBOR as the phone writes it").
// `int64AsNumber` is honoured by the decoder but missing from cbor-x's typings.
const cbor = new Encoder({ useRecords: false, mapsAsObjects: true, int64AsNumber: true } as ConstructorParameters<
  typeof Encoder
>[0]);

// The protocol's limits (sync/src/protocol.rs), the bytes with room to spare for the
// request around the changes.
const MAX_PUSH_DOCS = LIMITS.max_push_docs;
const MAX_PUSH_CHANGES = LIMITS.max_push_changes;
const MAX_PUSH_BYTES = 8 * 1024 * 1024;
// One document's share of a push: with more changes than this the server refuses the whole
// request, so a record with more waiting (months offline, a long text saved keystroke by
// keystroke) goes out oldest first over several rounds. (Past the per-document bytes the
// server refuses that document alone, `too_large`, which the user sees; a record's saved
// state has the same cap, so splitting by bytes would not get such a record through.)
const MAX_DOC_CHANGES = LIMITS.max_changes_per_doc;
export const MAX_WANT = LIMITS.max_want;
const PULL_LIMIT = 200;
/** Waiting records read from IndexedDB together, to fill a push without awaiting each. */
const READ_AHEAD = 64;
/** Refusals worth retrying as they are: the next push may well succeed. */
const RETRYABLE = new Set<RefusalCode | undefined>(RETRY_CODES);

/** Sends one CBOR request body and resolves with the response body; `signal` gives up on it. */
export type Transport = (body: Uint8Array, signal: AbortSignal) => Promise<Uint8Array>;

export interface ExchangeOptions {
  /** Pull the user's scope from the stored cursor (the field app); false: push and `want` only. */
  pull: boolean;
  /** Records to fetch whole now (the console's records being opened), first in `want`. */
  want?: string[];
  /** Records to keep current as room in `want` allows, after everything else (held open). */
  keep?: string[];
  /** Want each pushed record back, to store the server's merge of it when nothing else pulls it. */
  wantPushed?: boolean;
  /** Documents sent and pull items applied so far in this exchange. */
  progress?: (pushed: number, pulled: number) => void;
}

export type SyncError = 'network' | 'auth' | 'server';

/** What a failed sync means for the runner: sign-in again (no retry) or try later. */
export function syncFailure(err: unknown, backoff: number): { error: SyncError; retryIn: number | null } {
  // api.ts has sent the user to sign in; the sign-in starts a new syncer.
  if (err instanceof ApiError && err.status === 401) return { error: 'auth', retryIn: null };
  return { error: err instanceof NetworkError ? 'network' : 'server', retryIn: backoff };
}

type Am = Awaited<ReturnType<typeof automerge>>;

interface Batch {
  push: PushDoc[];
  /** Each pushed document's heads, to tell later whether a refused record has been edited since. */
  heads: Map<string, string[]>;
  /** The protocol's limits left waiting records for another request. */
  more: boolean;
  /** Documents of which only the oldest changes went: the rest follow once these are taken. */
  partial: string[];
}

const NO_BATCH: Batch = { push: [], heads: new Map(), more: false, partial: [] };

/**
 * Pushes every waiting record (in requests within the protocol's limits), fetches what is
 * wanted, and with `pull` pages through the scope until the server has no more. Each
 * response is applied in one transaction before the next round, except that the next page
 * of a pull is asked for while this one is written.
 */
export async function exchange(store: Store, transport: Transport, opts: ExchangeOptions): Promise<void> {
  const [A, actor, resets] = await Promise.all([automerge(), store.actor(), store.meta<string[]>('want')]);
  const pushed = new Set<string>();
  let first = true;
  let pushesLeft = true;
  let prefetched: Promise<SyncResponse> | null = null;
  let sent = 0;
  let pulled = 0;
  for (;;) {
    const [cursor, resume] = opts.pull
      ? await Promise.all([store.meta<number>('cursor'), store.meta<number>('resume')])
      : [undefined, undefined];
    const batch: Batch = pushesLeft ? await collectPush(A, store, pushed) : NO_BATCH;
    pushesLeft = batch.more;
    const ids = batch.push.map((p) => p.doc);
    // What was asked for, what was reset (the server's version replaces it), what was
    // pushed, then what is held open; the held ones and the resets once per exchange.
    const want = Array.from(
      new Set([
        ...(first ? [...(opts.want ?? []), ...(resets ?? [])] : []),
        ...(opts.wantPushed ? ids : []),
        ...(first ? (opts.keep ?? []) : []),
      ]),
    ).slice(0, MAX_WANT);
    first = false;
    const req: SyncRequest = { v: LIMITS.version, cursor, resume, push: batch.push, want: want.length ? want : undefined };
    if (opts.pull) req.limit = PULL_LIMIT;
    else req.pull = false;
    const res: SyncResponse = await (prefetched ?? send(transport, req));
    prefetched = null;
    if (opts.pull && res.more && !pushesLeft) {
      // The next page is asked for while this one is written to IndexedDB, so on a slow
      // link the round trip and the write overlap instead of adding up. It is the request
      // the loop would send next anyway: the cursor holds while paging, only `resume` moves.
      prefetched = send(transport, { v: LIMITS.version, cursor, resume: res.resume ?? res.cursor, push: [], limit: PULL_LIMIT });
      // If writing this page fails, the exchange ends and the prefetch is not wanted.
      prefetched.catch(() => undefined);
    }
    await apply(A, actor, store, res, { pushedHeads: batch.heads, wanted: want, pull: opts.pull });
    // A document sent in part goes on in the next round while the server takes each part;
    // refused or put off, it waits for the next sync like any other.
    for (const id of batch.partial) {
      if (res.results.some((r) => r.doc === id && r.ok)) pushesLeft = true;
      else pushed.add(id);
    }
    sent += batch.push.length;
    pulled += res.pull.length;
    opts.progress?.(sent, pulled);
    if (!res.more && !pushesLeft) return;
  }
}

async function send(transport: Transport, req: SyncRequest): Promise<SyncResponse> {
  const body = cbor.encode(req);
  const answer = await bounded(stallAllowanceMs(body.byteLength), (signal) => transport(body, signal));
  return cbor.decode(answer) as SyncResponse;
}

/** The next request's worth of waiting records, skipping those already sent (`pushed`, updated). */
async function collectPush(A: Am, store: Store, pushed: Set<string>): Promise<Batch> {
  const push: PushDoc[] = [];
  const heads = new Map<string, string[]>();
  const partial: string[] = [];
  let bytes = 0;
  let count = 0;
  const ids = (await store.pendingIds()).filter((id) => !pushed.has(id));
  for (let i = 0; i < ids.length; i += READ_AHEAD) {
    for (const entry of await store.entries(ids.slice(i, i + READ_AHEAD))) {
      // A record waiting for a reset is about to be replaced; its refused changes stay home.
      // A type this app does not know is kept as it came and never pushed.
      const type = entry && knownType(entry);
      if (!entry || !type || entry.reset) continue;
      let doc: Doc<unknown>;
      try {
        doc = A.load(entry.bytes);
      } catch (err) {
        // A copy that does not load cannot be pushed; it must not hold up the others.
        console.warn(`sync: record ${entry.id} does not load`, err);
        continue;
      }
      const waiting = unconfirmed(A, doc, entry.acked);
      if (waiting.length === 0) continue;
      const changes = oldestPart(waiting);
      const size = changes.reduce((n, c) => n + c.byteLength, 0);
      if (
        push.length > 0 &&
        (push.length >= MAX_PUSH_DOCS || bytes + size > MAX_PUSH_BYTES || count + changes.length > MAX_PUSH_CHANGES)
      ) {
        return { push, heads, more: true, partial };
      }
      bytes += size;
      count += changes.length;
      push.push({ doc: entry.id, type, changes });
      heads.set(entry.id, A.getHeads(doc));
      if (changes.length < waiting.length) partial.push(entry.id);
      else pushed.add(entry.id);
    }
  }
  return { push, heads, more: false, partial };
}

/**
 * The oldest of a document's waiting changes that one push may carry for it. Automerge
 * lists changes after those they depend on, so every part is whole: nothing in it waits
 * for a change left out.
 */
function oldestPart(changes: Uint8Array[]): Uint8Array[] {
  return changes.length > MAX_DOC_CHANGES ? changes.slice(0, MAX_DOC_CHANGES) : changes;
}

interface Touched {
  entry: DocEntry;
  doc: Doc<unknown>;
  /** The entry's bytes are the document, so it needs no A.save (a first pull brings
   * thousands of snapshots that are stored as they came). */
  saved: boolean;
  /** Something of the entry or document differs from what is stored: it is written. */
  changed: boolean;
}

interface ApplyContext {
  pushedHeads: Map<string, string[]>;
  wanted: string[];
  /** The request pulled the scope: the response moves the cursor. */
  pull: boolean;
}

/**
 * Applies one response in one transaction: push results, pulled documents, what was wanted,
 * and the cursor (or resume point) move together, so a browser killed at any moment either
 * has all of it or none and simply asks again.
 */
async function apply(A: Am, actor: string, store: Store, res: SyncResponse, ctx: ApplyContext): Promise<void> {
  await store.write(async (tx, put, remove) => {
    const docs = tx.objectStore('docs');
    const meta = tx.objectStore('meta');
    const touched = new Map<string, Touched>();
    // Every entry the response names is read up front, the requests all in flight at
    // once: awaited one by one, each is a round trip to the browser's storage process,
    // and a first pull was spending most of its time waiting on them.
    const ids = new Set([...res.results.map((r) => r.doc), ...res.pull.map((i) => i.doc), ...ctx.wanted]);
    const stored = new Map<string, DocEntry>();
    const [resets] = await Promise.all([
      meta.get('want') as Promise<string[] | undefined>,
      ...Array.from(ids, async (id) => {
        const entry = await docs.get(id);
        if (entry) stored.set(id, entry);
      }),
    ]);
    const get = (id: string) => {
      const known = touched.get(id);
      if (known) return known;
      const entry = stored.get(id);
      if (!entry) return undefined;
      const t: Touched = { entry, doc: A.load(entry.bytes, { actor }), saved: true, changed: false };
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

    for (const r of res.results) {
      const t = safeGet(r.doc);
      if (!t) continue;
      if (r.ok) {
        t.entry.acked = r.heads ?? [];
        t.changed = true;
      } else if (!RETRYABLE.has(r.code)) {
        t.entry.refusal = {
          code: r.code ?? 'unknown',
          message: r.message ?? '',
          at: Date.now(),
          heads: ctx.pushedHeads.get(r.doc) ?? A.getHeads(t.doc),
        };
        t.changed = true;
      }
    }

    // Removals are issued as items come (before any write that follows), all awaited at the end.
    const writes: Promise<void>[] = [];
    // One record that does not load (a damaged copy on the server, or here) is that
    // record's problem alone: the rest of the page is stored and the cursor moves on.
    const applyItem = (item: PullItem) => {
      if ('evict' in item) {
        const t = get(item.doc);
        if (t && keepEvicted(A, t.entry, t.doc)) {
          t.changed = true;
          return;
        }
        touched.delete(item.doc);
        if (stored.delete(item.doc)) writes.push(remove(item.doc));
        return;
      }
      const t = get(item.doc);
      // Back in the user's area (or never left it): an evicted copy is an ordinary one again.
      if (t?.entry.evicted) {
        delete t.entry.evicted;
        t.changed = true;
      }
      if ('snapshot' in item) {
        const remote = A.load(item.snapshot, { actor });
        const acked = A.getHeads(remote);
        if (!t || t.entry.reset) {
          // Nothing local, or the user asked for the server's version instead of theirs.
          // A copy: the decoder hands out views into the whole response, and IndexedDB
          // would store that entire buffer with every record.
          const entry: DocEntry = {
            id: item.doc,
            type: item.type,
            bytes: new Uint8Array(item.snapshot),
            acked,
            kept: t?.entry.kept,
          };
          touched.set(item.doc, { entry, doc: remote, saved: true, changed: true });
        } else {
          // Merging keeps local changes the server does not have yet; a copy that already
          // has everything (a record opened again) is left as it is stored.
          const before = A.getHeads(t.doc);
          t.doc = A.merge(t.doc, remote);
          if (!sameHeads(before, A.getHeads(t.doc))) t.saved = false;
          if (!t.saved || !sameHeads(t.entry.acked, acked)) {
            t.entry.acked = acked;
            t.changed = true;
          }
        }
      } else {
        const base = t ?? {
          entry: { id: item.doc, type: item.type, bytes: new Uint8Array(), acked: [] },
          doc: A.init({ actor }),
          saved: false,
          changed: true,
        };
        const before = A.getHeads(base.doc);
        [base.doc] = A.applyChanges(base.doc, item.changes);
        const acked = advanceAcked(A, base.entry.acked, item.changes);
        if (!sameHeads(before, A.getHeads(base.doc))) base.saved = false;
        if (!base.saved || !sameHeads(base.entry.acked, acked)) {
          base.entry.acked = acked;
          base.changed = true;
        }
        touched.set(item.doc, base);
      }
    };
    for (const item of res.pull) {
      try {
        applyItem(item);
      } catch (err) {
        // A local copy keeps what the user has and says why it no longer syncs; a record
        // never seen here is simply not stored (the server reports it to its operator).
        console.warn(`sync: record ${item.doc} could not be applied`, err);
        const t = touched.get(item.doc) ?? safeGet(item.doc);
        if (t) {
          t.entry.refusal = { code: 'damaged' satisfies RefusalCode, message: String(err), at: Date.now(), heads: A.getHeads(t.doc) };
          t.changed = true;
        }
      }
    }

    // Whatever was asked for has come, or the server has no version of it for us,
    // except what it had no room for, which is asked for again.
    const unsent = new Set(res.unsent ?? []);
    const served = new Set(ctx.wanted.filter((id) => !unsent.has(id)));
    for (const id of served) {
      const t = touched.get(id) ?? (stored.get(id)?.reset ? safeGet(id) : undefined);
      if (t?.entry.reset) {
        delete t.entry.reset;
        t.changed = true;
      }
    }
    for (const { entry, doc, saved, changed } of touched.values()) {
      if (changed) writes.push(put(saved ? entry : { ...entry, bytes: A.save(doc) }, doc, A));
    }
    await Promise.all(writes);
    // Resets asked for while this request was out stay for the next one.
    const left = (resets ?? []).filter((id) => !served.has(id));
    if (left.length === 0 && resets) await meta.delete('want');
    else if (left.length < (resets?.length ?? 0)) await meta.put(left, 'want');
    if (ctx.pull) {
      if (res.more) {
        await meta.put(res.resume ?? res.cursor, 'resume');
      } else {
        await meta.put(res.cursor, 'cursor');
        await meta.delete('resume');
      }
    }
    if (!res.more) await meta.put(Date.now(), 'last-sync');
  });
}

function sameHeads(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((h) => b.includes(h));
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
