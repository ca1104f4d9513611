import { openDB, type DBSchema, type IDBPDatabase, type IDBPTransaction } from 'idb';
import type { Doc } from '@automerge/automerge/slim';
import type { AccessEntry, CareTag, Category, Person, Resident, ResidentEdit, ResidentEditResult, Unit } from './api-types';
import { addMembers, newHousehold, readHousehold, setMemberStatus, type HouseholdData, type NewHouseholdFields } from './household';
import type { Relation, ResidentStatus } from './generated/protocol.mjs';
import { automerge } from './automerge';
import { addNote, editText, newRecord, readRecord, type NewRecordFields, type RecordData, type TextField } from './record/core.mjs';
import { entryFor, knownType, type Listing } from './doctypes';
import type { DocType } from './generated/protocol.mjs';
import type { SavedDraft } from './drafts';
import { newsOf, type News, type NewsMarks } from './news';
import { userDbName } from './session';
import type { RefusalCode } from './sync/wire';

/**
 * One user's field data, in the database `haitang-u<id>`:
 *
 * - `docs`: every record as saved Automerge bytes, with the heads the server has
 *   confirmed (`acked`), the server's last refusal, and copies of refused text.
 * - `summaries`: what the list shows, one small object per record, so the list
 *   never has to load documents (or the wasm) to open.
 * - `meta`: actor id, sync cursor and resume, last sync time, cached units and catalogue.
 *
 * Every write that changes a document also writes its summary in the same
 * transaction, so the list and the waiting count never disagree with the data.
 */
export type SyncState = 'pending' | 'synced' | 'refused';

export interface Refusal {
  /** A `RefusalCode`, or what an older version stored (`unknown` when the server gave none). */
  code: string;
  message: string;
  at: number;
  /** The document's heads when it was refused: an edit after that makes it worth pushing again. */
  heads: string[];
}

/** What a refused record said before it was reset to the server's version. */
export interface KeptCopy {
  at: number;
  code: string;
  message: string;
  text: string;
}

export interface DocEntry {
  id: string;
  /**
   * The document's type as the server named it (`doctypes.ts`); absent for a record, and on
   * every entry written before types existed. A type this app does not know is kept as it came.
   */
  type?: string;
  bytes: Uint8Array;
  /** Heads the server confirmed: these and everything before them need no push. */
  acked: string[];
  refusal?: Refusal;
  kept?: KeptCopy[];
  /** Set by "reset to the server's version": the next sync asks for a snapshot and replaces the document. */
  reset?: boolean;
  /**
   * When the server said the record left this user's area while the phone still held
   * the user's words the server never took: the copy stays until the user discards it.
   */
  evicted?: number;
}

export interface Summary extends Listing {
  id: string;
  /** The document's type; absent on summaries written before households had one (records). */
  type?: DocType;
  sync: SyncState;
  /** Whether the server holds some version of the record (it confirmed or sent one). */
  on_server: boolean;
}

type MetaKey =
  | 'actor'
  | 'actors'
  | 'cursor'
  | 'resume'
  | 'last-sync'
  | 'units'
  | 'catalogue'
  | 'care-tags'
  | 'people'
  | 'want'
  | 'residents-version'
  | 'news';
type MetaValue = string | string[] | number | Unit[] | Category[] | CareTag[] | Person[] | NewsMarks;

interface UserDb extends DBSchema {
  docs: { key: string; value: DocEntry };
  summaries: { key: string; value: Summary; indexes: { sync: SyncState } };
  meta: { key: MetaKey; value: MetaValue };
  /**
   * The residents of the user's patch, a replaceable cache: replaced whole from the server
   * at each sync (so a correction or an erasure there reaches it), never an ID number in clear.
   */
  residents: { key: string; value: Resident };
  /** Reveals made on this phone, until the server has logged them. */
  access: { key: number; value: AccessEntry };
  /**
   * People's personal fields entered on this phone, one queued edit per person, until the
   * server has taken them (after the household that lists them): never in a document.
   */
  edits: { key: string; value: QueuedEdit };
  /** Report forms being filled in (`drafts.ts`): on this phone only, never synced. */
  drafts: { key: string; value: SavedDraft };
}

/** A person's edit waiting for the server, with the household it belongs to. */
export interface QueuedEdit extends ResidentEdit {
  household: string;
  /** Set when the server refused the edit: shown on the household's page until corrected. */
  refused?: string;
}

export type Tx = IDBPTransaction<UserDb, ('docs' | 'summaries' | 'meta' | 'edits' | 'drafts')[], 'readwrite'>;
type Am = Awaited<ReturnType<typeof automerge>>;

export class Store {
  private summaries = new Map<string, Summary>();
  private loaded: Promise<void> | null = null;
  private readonly listeners = new Set<() => void>();
  /** Other tabs of the same user hear about writes and refresh their summaries. */
  private readonly channel: BroadcastChannel;

  private constructor(
    readonly userId: number,
    private readonly db: IDBPDatabase<UserDb>,
  ) {
    this.channel = new BroadcastChannel(`${userDbName(userId)}-changes`);
    this.channel.onmessage = (e: MessageEvent<string[]>) => void this.reloadSummaries(e.data);
  }

  static async open(userId: number): Promise<Store> {
    const db = await openDB<UserDb>(userDbName(userId), 4, {
      upgrade(database, oldVersion) {
        if (oldVersion < 1) {
          database.createObjectStore('docs', { keyPath: 'id' });
          database.createObjectStore('summaries', { keyPath: 'id' }).createIndex('sync', 'sync');
          database.createObjectStore('meta');
        }
        if (oldVersion < 2) {
          database.createObjectStore('residents', { keyPath: 'pid' });
          database.createObjectStore('access', { autoIncrement: true });
        }
        if (oldVersion < 3) database.createObjectStore('edits', { keyPath: 'pid' });
        if (oldVersion < 4) database.createObjectStore('drafts', { keyPath: 'id' });
      },
    });
    return new Store(userId, db);
  }

  close(): void {
    this.channel.close();
    this.db.close();
  }

  // ── summaries, for the list and the counts ───────────────────────────────────

  /** Loads all summaries once; later writes keep the in-memory copy current. */
  ready(): Promise<void> {
    this.loaded ??= Promise.all([
      this.db.getAll('summaries'),
      this.db.getAll('drafts'),
      this.db.get('meta', 'news') as Promise<NewsMarks | undefined>,
    ]).then(async ([all, drafts, marks]) => {
      this.summaries = new Map(all.map((s) => [s.id, s]));
      this.draftList = new Map(drafts.map((d) => [d.id, d]));
      // What happened before this phone first opened the store is history, not news.
      if (!marks) {
        marks = { since: Date.now(), read: {} };
        await this.db.put('meta', marks, 'news');
      }
      this.newsMarks = marks;
      this.emit();
    });
    return this.loaded;
  }

  // ── news on home ───────────────────────────────────────────────────────────────

  private newsMarks: NewsMarks = { since: Date.now(), read: {} };

  /** Steps others took on this user's records since they last saw them (`news.ts`). */
  news(): News[] {
    return newsOf(this.all(), this.userId, this.newsMarks);
  }

  /** Marks records' news as seen up to their latest step; marks for records gone are dropped. */
  async markNewsRead(ids: string[]): Promise<void> {
    const read: Record<string, number> = {};
    for (const [id, at] of Object.entries(this.newsMarks.read)) if (this.summaries.has(id)) read[id] = at;
    let changed = false;
    for (const id of ids) {
      const at = this.summaries.get(id)?.last?.at;
      if (at !== undefined && (read[id] ?? 0) < at) {
        read[id] = at;
        changed = true;
      }
    }
    if (!changed) return;
    this.newsMarks = { ...this.newsMarks, read };
    await this.db.put('meta', this.newsMarks, 'news');
    this.emit();
  }

  // ── drafts of the report form ─────────────────────────────────────────────────

  private draftList = new Map<string, SavedDraft>();

  /** The drafts on this phone, latest first (after `ready`). */
  drafts(): SavedDraft[] {
    return Array.from(this.draftList.values()).sort((a, b) => b.updated - a.updated);
  }

  draft(id: string): SavedDraft | undefined {
    return this.draftList.get(id);
  }

  async saveDraft(draft: SavedDraft): Promise<void> {
    await this.db.put('drafts', draft);
    this.draftList.set(draft.id, draft);
    this.emit();
  }

  async discardDraft(id: string): Promise<void> {
    await this.db.delete('drafts', id);
    if (this.draftList.delete(id)) this.emit();
  }

  /** Every photo a draft holds, so that no clean-up drops one. */
  draftPhotos(): Set<string> {
    return new Set(Array.from(this.draftList.values()).flatMap((d) => d.photos));
  }

  /** The records' summaries: what the record list, the schedule and duplicates read. */
  all(): Summary[] {
    return Array.from(this.summaries.values()).filter((s) => (s.type ?? 'record') === 'record');
  }

  summary(id: string): Summary | undefined {
    return this.summaries.get(id);
  }

  counts(): { pending: number; refused: number } {
    let pending = 0;
    let refused = 0;
    for (const s of this.summaries.values()) {
      if (s.sync === 'pending') pending++;
      else if (s.sync === 'refused') refused++;
    }
    return { pending, refused };
  }

  subscribe(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Counts the changes announced to subscribers, so a late subscriber can tell it missed one. */
  version = 0;

  private emit(): void {
    this.version++;
    for (const fn of this.listeners) fn();
  }

  private async reloadSummaries(ids: string[]): Promise<void> {
    const tx = this.db.transaction('summaries');
    for (const id of ids) {
      const s = await tx.store.get(id);
      if (s) this.summaries.set(id, s);
      else this.summaries.delete(id);
    }
    this.emit();
  }

  /** Applies the summaries a committed transaction wrote, here and in other tabs. */
  private published(changed: Map<string, Summary | null>): void {
    for (const [id, s] of changed) {
      if (s) this.summaries.set(id, s);
      else this.summaries.delete(id);
    }
    if (changed.size > 0) {
      this.emit();
      this.channel.postMessage(Array.from(changed.keys()));
    }
  }

  // ── the household registry ───────────────────────────────────────────────────

  private householdCache: { version: number; list: HouseholdData[] } | null = null;

  /** The households pulled for the user's patch, read from their documents. */
  async households(): Promise<HouseholdData[]> {
    const version = this.version;
    if (this.householdCache?.version === version) return this.householdCache.list;
    const [A, entries] = await Promise.all([automerge(), this.db.getAll('docs')]);
    const list: HouseholdData[] = [];
    for (const e of entries) {
      if (e.type !== 'household') continue;
      try {
        list.push(readHousehold(A.load(e.bytes)));
      } catch (err) {
        console.warn(`household ${e.id} does not load`, err);
      }
    }
    list.sort((a, b) => a.number.localeCompare(b.number, 'zh-CN'));
    this.householdCache = { version, list };
    return list;
  }

  // The residents and the queued edits are read by every visit screen; kept in memory
  // between the writes that change them (this tab's: another tab's sync replaces the
  // residents in its own store, and this one reads them again at its next sync).
  private residentsCache: Promise<Resident[]> | null = null;
  private editsCache: Promise<QueuedEdit[]> | null = null;

  residents(): Promise<Resident[]> {
    this.residentsCache ??= this.db.getAll('residents');
    return this.residentsCache;
  }

  /** Replaces the whole cache: a person corrected or erased on the server changes or goes here too. */
  async replaceResidents(residents: Resident[], version: string): Promise<void> {
    const tx = this.db.transaction(['residents', 'meta'], 'readwrite');
    await tx.objectStore('residents').clear();
    await Promise.all(residents.map((r) => tx.objectStore('residents').put(r)));
    await tx.objectStore('meta').put(version, 'residents-version');
    await tx.done;
    this.residentsCache = null;
    this.emit();
  }

  /** Logs a reveal made on the phone; it goes to the server's access log at the next sync. */
  async logAccess(entry: AccessEntry): Promise<void> {
    await this.db.add('access', entry);
  }

  async pendingAccess(): Promise<{ keys: number[]; entries: AccessEntry[] }> {
    const tx = this.db.transaction('access');
    const [keys, entries] = await Promise.all([tx.store.getAllKeys(), tx.store.getAll()]);
    return { keys, entries };
  }

  /**
   * Registers a household made on the phone and queues its people's personal fields, in
   * one transaction: the household goes out with the next sync, the fields right after.
   */
  async createHousehold(fields: NewHouseholdFields, people: ResidentEdit[]): Promise<void> {
    const [A, actor] = await Promise.all([automerge(), this.actor()]);
    const doc = newHousehold(A, actor, fields);
    await this.write(async (tx, put) => {
      await put({ id: fields.id, type: 'household', bytes: A.save(doc), acked: [] }, doc, A);
      for (const p of people) await tx.objectStore('edits').put({ ...p, household: fields.id });
    });
  }

  /** Adds people to a household and queues their fields, in one transaction. */
  async addPeople(household: string, people: { edit: ResidentEdit; relation: Relation }[]): Promise<boolean> {
    const [A, actor] = await Promise.all([automerge(), this.actor()]);
    let found = false;
    await this.write(async (tx, put) => {
      const entry = await tx.objectStore('docs').get(household);
      if (!entry) return;
      found = true;
      const doc = addMembers(A, A.load(entry.bytes, { actor }), people.map((p) => ({ pid: p.edit.pid, relation: p.relation })), Date.now());
      await put({ ...entry, bytes: A.save(doc) }, doc, A);
      for (const p of people) await tx.objectStore('edits').put({ ...p.edit, household });
    });
    return found;
  }

  setMemberStatus(household: string, pid: string, status: ResidentStatus): Promise<boolean> {
    return this.edit(household, (A, doc) => setMemberStatus(A, doc, pid, status));
  }

  /** Queues a correction of a person's fields, merged into one still waiting for them. */
  async queueEdit(edit: ResidentEdit, household: string): Promise<void> {
    const tx = this.db.transaction('edits', 'readwrite');
    const waiting = await tx.store.get(edit.pid);
    const tags = (a: string[] | undefined, b: string[] | undefined, drop: string[] | undefined) =>
      [...new Set([...(a ?? []), ...(b ?? [])])].filter((t) => !drop?.includes(t));
    const merged: QueuedEdit = {
      ...waiting,
      ...edit,
      household,
      tags_add: tags(waiting?.tags_add, edit.tags_add, edit.tags_remove),
      tags_remove: tags(waiting?.tags_remove, edit.tags_remove, edit.tags_add),
    };
    delete merged.refused;
    await tx.store.put(merged);
    await tx.done;
    this.editsCache = null;
    this.emit();
  }

  pendingEdits(): Promise<QueuedEdit[]> {
    this.editsCache ??= this.db.getAll('edits');
    return this.editsCache;
  }

  /**
   * The server's answers: a taken edit leaves the queue; a refused one stays with the
   * reason, for its user to see and correct. `not_found` (the household has not reached
   * the server yet) stays as it is, for the next sync.
   */
  async settleEdits(sent: QueuedEdit[], results: ResidentEditResult[]): Promise<void> {
    const tx = this.db.transaction('edits', 'readwrite');
    for (const [i, r] of results.entries()) {
      const edit = sent[i];
      if (!edit) continue;
      const current = await tx.store.get(edit.pid);
      // Edited again while the upload was on its way: the newer edit waits for the next sync.
      if (JSON.stringify(current) !== JSON.stringify(edit)) continue;
      if (r.ok) await tx.store.delete(edit.pid);
      else if (r.code !== 'not_found') await tx.store.put({ ...edit, refused: r.message ?? r.code ?? '' });
    }
    await tx.done;
    this.editsCache = null;
    this.emit();
  }

  async dropAccess(keys: number[]): Promise<void> {
    const tx = this.db.transaction('access', 'readwrite');
    await Promise.all(keys.map((k) => tx.store.delete(k)));
    await tx.done;
  }

  // ── meta ─────────────────────────────────────────────────────────────────────

  async meta<T extends MetaValue>(key: MetaKey): Promise<T | undefined> {
    return (await this.db.get('meta', key)) as T | undefined;
  }

  async setMeta(key: MetaKey, value: MetaValue): Promise<void> {
    await this.db.put('meta', value, key);
  }

  /**
   * The Automerge actor id for this user's edits on this device. A new one is
   * made at each sign-in (PROTOCOL.md, "Actor ids"); all of them are remembered
   * so the history can name this user as the author of their older changes.
   */
  async actor(): Promise<string> {
    return (await this.meta<string>('actor')) ?? this.newActor();
  }

  async newActor(): Promise<string> {
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    const actor = Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
    const tx = this.db.transaction('meta', 'readwrite');
    const actors = ((await tx.store.get('actors')) as string[] | undefined) ?? [];
    await tx.store.put([...actors, actor], 'actors');
    await tx.store.put(actor, 'actor');
    await tx.done;
    return actor;
  }

  // ── documents ────────────────────────────────────────────────────────────────

  async entry(id: string): Promise<DocEntry | undefined> {
    return this.db.get('docs', id);
  }

  /** Several entries in one transaction, the reads all in flight at once. */
  async entries(ids: string[]): Promise<(DocEntry | undefined)[]> {
    const tx = this.db.transaction('docs');
    const got = await Promise.all(ids.map((id) => tx.store.get(id)));
    await tx.done;
    return got;
  }

  /** Loads a record for reading and editing, with this user's actor id. */
  async load(id: string): Promise<{ A: Am; doc: Doc<unknown>; entry: DocEntry } | undefined> {
    const [A, actor, entry] = await Promise.all([automerge(), this.actor(), this.entry(id)]);
    if (!entry) return undefined;
    return { A, doc: A.load(entry.bytes, { actor }), entry };
  }

  /**
   * Creates a record and stores it as waiting to sync. Resolves only after the
   * transaction has committed: the caller may then tell the user it is saved.
   */
  /**
   * Saves a new record. `fromDraft`: the draft it was filled in as, deleted in the same
   * transaction, so that a crash leaves either the draft or the record, never both.
   */
  async create(
    fields: NewRecordFields,
    then?: (A: Am, doc: Doc<unknown>) => Doc<unknown>,
    fromDraft?: string,
  ): Promise<void> {
    const [A, actor] = await Promise.all([automerge(), this.actor()]);
    let doc: Doc<unknown> = newRecord(A, actor, fields);
    // A further change saved with the record in the same transaction (its photos).
    if (then) doc = then(A, doc);
    await this.write(async (tx, put) => {
      await put({ id: fields.id, bytes: A.save(doc), acked: [] }, doc, A);
      if (fromDraft) await tx.objectStore('drafts').delete(fromDraft);
    });
    if (fromDraft && this.draftList.delete(fromDraft)) this.emit();
  }

  /** Creates many records in one transaction (seeding for the performance check). */
  async createMany(records: NewRecordFields[]): Promise<void> {
    const [A, actor] = await Promise.all([automerge(), this.actor()]);
    await this.write(async (_tx, put) => {
      for (const fields of records) {
        const doc = newRecord(A, actor, fields);
        await put({ id: fields.id, bytes: A.save(doc), acked: [] }, doc, A);
      }
    });
  }

  addNote(id: string, by: number, text: string): Promise<boolean> {
    return this.edit(id, (A, doc) => addNote(A, doc, { by, at: Date.now(), text }));
  }

  editText(id: string, field: TextField, value: string): Promise<boolean> {
    return this.edit(id, (A, doc) => editText(A, doc, field, value, Date.now()));
  }

  /**
   * Applies a local change in one transaction that reads the latest stored
   * document (another tab or a sync may have written it since it was shown),
   * so nothing written meanwhile is overwritten. False if the record is gone.
   */
  async edit(id: string, change: (A: Am, doc: Doc<unknown>) => Doc<unknown>): Promise<boolean> {
    const [A, actor] = await Promise.all([automerge(), this.actor()]);
    let found = false;
    await this.write(async (tx, put) => {
      const entry = await tx.objectStore('docs').get(id);
      if (!entry) return;
      found = true;
      const before = A.load(entry.bytes, { actor });
      const after = change(A, before);
      if (A.getHeads(after).join() === A.getHeads(before).join()) return;
      await put({ ...entry, bytes: A.save(after) }, after, A);
    });
    return found;
  }

  /**
   * Asks the next sync to replace this record with the server's version. The
   * refused text is kept with the record first, so the reset loses nothing.
   */
  async requestReset(id: string): Promise<void> {
    const A = await automerge();
    await this.write(async (tx) => {
      const entry = await tx.objectStore('docs').get(id);
      if (!entry) return;
      const r = readRecord(A.load(entry.bytes));
      const copy: KeptCopy = {
        at: Date.now(),
        code: entry.refusal?.code ?? '',
        message: entry.refusal?.message ?? '',
        text: recordText(r),
      };
      await tx.objectStore('docs').put({ ...entry, reset: true, kept: [...(entry.kept ?? []), copy] });
      const want = ((await tx.objectStore('meta').get('want')) as string[] | undefined) ?? [];
      if (!want.includes(id)) await tx.objectStore('meta').put([...want, id], 'want');
    });
  }

  /** Drops a record the server no longer shows this user, once they have taken what they need from it. */
  async discard(id: string): Promise<void> {
    await this.write(async (tx, _put, remove) => {
      const entry = await tx.objectStore('docs').get(id);
      if (entry?.evicted) await remove(id);
    });
  }

  /** Ids of records whose changes should go out in the next sync. */
  async pendingIds(): Promise<string[]> {
    return this.db.getAllKeysFromIndex('summaries', 'sync', 'pending');
  }

  /**
   * Runs `fn` in one read-write transaction over all stores and publishes the
   * summaries it wrote once the transaction has committed. `fn` may only await
   * IndexedDB requests of `tx`, or the transaction closes under it.
   */
  async write(
    fn: (
      tx: Tx,
      put: (entry: DocEntry, doc: Doc<unknown>, A: Am) => Promise<void>,
      remove: (id: string) => Promise<void>,
    ) => Promise<void>,
  ): Promise<void> {
    const changed = new Map<string, Summary | null>();
    const tx = this.db.transaction(['docs', 'summaries', 'meta', 'edits', 'drafts'], 'readwrite');
    const put = async (entry: DocEntry, doc: Doc<unknown>, A: Am) => {
      const type = entryFor(entry);
      if (!type?.listing) {
        // A type this app does not know: kept for the version that does, never listed or
        // pushed; or one the record list does not show.
        changed.set(entry.id, null);
        await Promise.all([tx.objectStore('docs').put(entry), tx.objectStore('summaries').delete(entry.id)]);
        return;
      }
      const summary = summarize(A, entry, doc, type.listing(doc));
      if (summary.sync === 'synced') delete entry.refusal;
      changed.set(entry.id, summary);
      await Promise.all([tx.objectStore('docs').put(entry), tx.objectStore('summaries').put(summary)]);
    };
    const remove = async (id: string) => {
      await tx.objectStore('docs').delete(id);
      await tx.objectStore('summaries').delete(id);
      changed.set(id, null);
    };
    try {
      await fn(tx, put, remove);
    } catch (err) {
      tx.abort();
      await tx.done.catch(() => undefined);
      throw err;
    }
    await tx.done;
    // After the commit: a read in between would cache what the transaction replaced.
    this.editsCache = null;
    this.householdCache = null;
    this.published(changed);
  }
}

/** Local changes the server has not confirmed: everything after the acked heads it knows of. */
export function unconfirmed(A: Am, doc: Doc<unknown>, acked: string[]): Uint8Array[] {
  // The common case, and every record of a first pull: the server has exactly this.
  const heads = A.getHeads(doc);
  if (heads.length === acked.length && heads.every((h) => acked.includes(h))) return [];
  // Heads of changes this copy has not seen yet (another phone's, confirmed in
  // the same push) cannot be a starting point; leaving them out only means
  // sending a little more, which the server skips.
  const known = acked.filter((h) => A.hasHeads(doc, [h]));
  return A.getChangesSince(doc, known);
}

function summarize(A: Am, entry: DocEntry, doc: Doc<unknown>, listing: Listing): Summary {
  const heads = A.getHeads(doc);
  const waiting = unconfirmed(A, doc, entry.acked).length > 0;
  let sync: SyncState = 'synced';
  if (waiting) {
    // A refused record waits for the user: it goes out again once it has been edited.
    sync = entry.refusal && entry.refusal.heads.join() === heads.join() ? 'refused' : 'pending';
  }
  return {
    id: entry.id,
    type: knownType(entry),
    ...listing,
    sync,
    on_server: entry.acked.length > 0,
  };
}

/**
 * What a pulled `evict` does to the local copy (mutating `entry`): a copy with edits the
 * server never confirmed, or text kept from a reset, stays on the phone marked as out of
 * the user's area, so nothing the user recorded vanishes without them seeing it. Returns
 * false when the copy holds nothing of the user's and can simply go.
 */
export function keepEvicted(A: Am, entry: DocEntry, doc: Doc<unknown>): boolean {
  // A reset already put the refused text into `kept`.
  const waiting = !entry.reset && unconfirmed(A, doc, entry.acked).length > 0;
  if (!waiting && !entry.kept?.length) return false;
  const now = Date.now();
  entry.evicted = now;
  delete entry.reset;
  if (waiting) {
    entry.refusal = {
      code: 'out_of_scope' satisfies RefusalCode,
      message: entry.refusal?.code === 'out_of_scope' ? entry.refusal.message : 'the record has left your area on the server',
      at: now,
      heads: A.getHeads(doc),
    };
  }
  return true;
}

/** The record's words as one block of text, for copying out and for the kept copy. */
export function recordText(r: RecordData): string {
  const lines = [r.title, r.address, r.household ?? '', r.description, ...r.notes.map((n) => n.text)];
  return lines.filter((l) => l.trim() !== '').join('\n\n');
}

const opened = new Map<number, Promise<Store>>();

/** The user's store, opened once per page and shared by every screen. */
export function getStore(userId: number): Promise<Store> {
  let store = opened.get(userId);
  if (!store) {
    store = Store.open(userId);
    opened.set(userId, store);
    store.catch(() => opened.delete(userId));
  }
  return store;
}

export type { NewRecordFields, RecordData } from './record/core.mjs';
