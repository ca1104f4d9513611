import { openDB, type DBSchema, type IDBPDatabase } from 'idb';
import type { ServerInfo, User } from './api-types';

/**
 * Device-wide state lives in the `haitang` database: who is signed in now and
 * what the server said about itself. Each user's own field data goes into a
 * separate database (see `userDbName`) so that several people sharing one
 * phone never see each other's records, and signing out or an expired session
 * does not delete anything they have not synced yet.
 */
export interface Session {
  user: User;
  access_token: string;
  refresh_token: string;
  /** Epoch milliseconds when the access token stops being accepted. */
  access_expires_at: number;
}

interface DeviceDb extends DBSchema {
  session: {
    key: 'current';
    value: Session;
  };
  meta: {
    key: 'server-info' | 'last-username';
    value: ServerInfo | string;
  };
}

const DB_NAME = 'haitang';
const DB_VERSION = 1;

let dbPromise: Promise<IDBPDatabase<DeviceDb>> | null = null;

function db(): Promise<IDBPDatabase<DeviceDb>> {
  dbPromise ??= openDB<DeviceDb>(DB_NAME, DB_VERSION, {
    upgrade(database) {
      database.createObjectStore('session');
      database.createObjectStore('meta');
    },
  });
  return dbPromise;
}

/** Name of the per-user database holding that user's field data. */
export function userDbName(userId: number): string {
  return `haitang-u${userId}`;
}

export async function loadSession(): Promise<Session | undefined> {
  return (await db()).get('session', 'current');
}

export async function saveSession(session: Session): Promise<void> {
  const d = await db();
  const tx = d.transaction(['session', 'meta'], 'readwrite');
  await Promise.all([
    tx.objectStore('session').put(session, 'current'),
    tx.objectStore('meta').put(session.user.username, 'last-username'),
    tx.done,
  ]);
}

/**
 * Replaces the stored user's details but not the tokens, in one transaction:
 * a refresh finishing meanwhile must not have its new tokens overwritten by
 * older ones (the server would see the old refresh token as stolen).
 */
export async function updateStoredUser(user: User): Promise<void> {
  const tx = (await db()).transaction('session', 'readwrite');
  const current = await tx.store.get('current');
  if (current && current.user.id === user.id) await tx.store.put({ ...current, user }, 'current');
  await tx.done;
}

/** Forgets the tokens only; the user's own database is left untouched. */
export async function clearSession(): Promise<void> {
  await (await db()).delete('session', 'current');
}

export async function loadLastUsername(): Promise<string | undefined> {
  const value = await (await db()).get('meta', 'last-username');
  return typeof value === 'string' ? value : undefined;
}

export async function loadServerInfo(): Promise<ServerInfo | undefined> {
  const value = await (await db()).get('meta', 'server-info');
  return typeof value === 'object' ? value : undefined;
}

export async function saveServerInfo(info: ServerInfo): Promise<void> {
  await (await db()).put('meta', info, 'server-info');
}
