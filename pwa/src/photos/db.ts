import { openDB, type DBSchema, type IDBPDatabase } from 'idb';
import { userDbName } from '../session';

/**
 * Where a photo's bytes are:
 * - `draft`: taken in a report form not saved yet (no record refers to it);
 * - `pending`: a record refers to it, the server does not have it yet;
 * - `done`: the server has it (uploaded from here, or downloaded to show it);
 * - `failed`: the server refused it for good (not an image by content).
 */
export type PhotoState = 'draft' | 'pending' | 'done' | 'failed';

/** One entry of a record's `attachments` list (docs/PROTOCOL.md). */
export interface Attachment {
  sha256: string;
  mime: string;
  bytes: number;
  width?: number;
  height?: number;
  taken_at?: number;
  by: number;
}

/** A content-addressed photo in this user's photo database, keyed by the SHA-256 of `full`. */
export interface Photo extends Attachment {
  full: Blob;
  /** A small JPEG for lists and strips. */
  thumb: Blob;
  state: PhotoState;
  created: number;
  /** The server's last refusal code, for the badge. */
  error?: string;
}

interface PhotoDb extends DBSchema {
  photos: { key: string; value: Photo; indexes: { state: PhotoState } };
}

/**
 * One user's photos, in their own database `haitang-u<id>-photos` beside the records
 * (`haitang-u<id>`). Photos are written before the record that refers to them, so a
 * reference never points at bytes this phone lost; a photo is never deleted before the
 * server has confirmed it.
 */
export class Photos {
  private readonly listeners = new Set<() => void>();
  private readonly channel: BroadcastChannel;

  private constructor(
    readonly userId: number,
    private readonly db: IDBPDatabase<PhotoDb>,
  ) {
    this.channel = new BroadcastChannel(`${userDbName(userId)}-photos`);
    this.channel.onmessage = () => this.notify();
  }

  static async open(userId: number): Promise<Photos> {
    const db = await openDB<PhotoDb>(`${userDbName(userId)}-photos`, 1, {
      upgrade(database) {
        database.createObjectStore('photos', { keyPath: 'sha256' }).createIndex('state', 'state');
      },
    });
    return new Photos(userId, db);
  }

  get(sha256: string): Promise<Photo | undefined> {
    return this.db.get('photos', sha256);
  }

  /** Stores a photo; one already held keeps its state unless this one moves it forward. */
  async put(photo: Photo): Promise<Photo> {
    const tx = this.db.transaction('photos', 'readwrite');
    const old = await tx.store.get(photo.sha256);
    const kept = old && rank(old.state) >= rank(photo.state) ? old : photo;
    if (kept !== old) await tx.store.put(kept);
    await tx.done;
    this.changed();
    return kept;
  }

  /** Moves photos to `state` (drafts to pending when their record is saved, pending to done when uploaded). */
  async setState(shas: string[], state: PhotoState, error?: string): Promise<void> {
    const tx = this.db.transaction('photos', 'readwrite');
    for (const sha of shas) {
      const p = await tx.store.get(sha);
      if (!p) continue;
      // A photo the server has never goes back to waiting.
      if (p.state === 'done' && state !== 'done') continue;
      await tx.store.put({ ...p, state, error });
    }
    await tx.done;
    this.changed();
  }

  withState(state: PhotoState): Promise<Photo[]> {
    return this.db.getAllFromIndex('photos', 'state', state);
  }

  /**
   * Drops photos of forms abandoned long ago: taken in a form that was neither saved as a
   * record nor kept as a draft (`keep`: every draft's photos).
   */
  async dropStaleDrafts(olderThanMs: number, keep: Set<string>): Promise<void> {
    const tx = this.db.transaction('photos', 'readwrite');
    let cursor = await tx.store.index('state').openCursor('draft');
    while (cursor) {
      if (cursor.value.created < Date.now() - olderThanMs && !keep.has(cursor.value.sha256)) await cursor.delete();
      cursor = await cursor.continue();
    }
    await tx.done;
  }

  /** Deletes the photos of a draft the user discarded, those no record has taken since. */
  async discardDrafts(shas: string[]): Promise<void> {
    const tx = this.db.transaction('photos', 'readwrite');
    for (const sha of shas) {
      const p = await tx.store.get(sha);
      if (p?.state === 'draft') await tx.store.delete(sha);
    }
    await tx.done;
    this.changed();
  }

  subscribe(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private changed(): void {
    this.notify();
    this.channel.postMessage(1);
  }

  private notify(): void {
    for (const fn of this.listeners) fn();
  }
}

function rank(state: PhotoState): number {
  return { draft: 0, pending: 1, failed: 2, done: 3 }[state];
}

const opened = new Map<number, Promise<Photos>>();

/** The user's photo database, opened once per page. */
export function getPhotos(userId: number): Promise<Photos> {
  let photos = opened.get(userId);
  if (!photos) {
    photos = Photos.open(userId);
    opened.set(userId, photos);
    photos.catch(() => opened.delete(userId));
  }
  return photos;
}

/** The attachment as the record stores it (no bytes). */
export function toAttachment(p: Attachment): Attachment {
  const a: Attachment = { sha256: p.sha256, mime: p.mime, bytes: p.bytes, by: p.by };
  if (p.width !== undefined) a.width = p.width;
  if (p.height !== undefined) a.height = p.height;
  if (p.taken_at !== undefined) a.taken_at = p.taken_at;
  return a;
}
