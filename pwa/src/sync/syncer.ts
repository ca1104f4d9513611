import { getResidents, postAccessLog, postResidentEdits, postSync } from '../api';
import type { Store } from '../store';
import { exchange, syncFailure, type SyncError, type Transport } from './engine';
import { Runner } from './runner';

/** Edits per `POST /residents`, under the server's limit per request. */
const EDITS_PER_REQUEST = 100;

export type { SyncError } from './engine';

export interface SyncStatus {
  running: boolean;
  /** Documents sent and pull items applied in the sync under way (or the last one). */
  pushed: number;
  pulled: number;
  error: SyncError | null;
  /** When the next automatic attempt after a failure is due (epoch ms). */
  retryAt: number | null;
}

/** What screens, the photo uploader and the browser tests see of a syncer, the field app's or the console's. */
export interface SyncHandle {
  readonly status: SyncStatus;
  subscribe(fn: () => void): () => void;
  /** Syncs now (or once more after the sync under way); resolves when it is over, failed or not. */
  syncNow(): Promise<void>;
}

/**
 * One user's sync rounds (sync/engine.ts) under the runner: on start, when the network
 * comes back, every 3 minutes and on request, with backoff from 5 s to 5 min, one tab at a
 * time. What a round asks for is the subclass's.
 */
export abstract class SyncRunner implements SyncHandle {
  protected readonly runner: Runner<SyncStatus>;

  constructor(
    protected readonly store: Store,
    protected readonly transport: Transport,
    waitForLock: boolean,
  ) {
    this.runner = new Runner<SyncStatus>({
      lock: `haitang-sync-u${store.userId}`,
      waitForLock,
      period: 3 * 60_000,
      backoff: { first: 5_000, max: 5 * 60_000 },
      initial: { running: false, pushed: 0, pulled: 0, error: null, retryAt: null },
      starting: { pushed: 0, pulled: 0 },
      failure: syncFailure,
      round: () => this.round(),
    });
  }

  protected abstract round(): Promise<void>;

  protected readonly progress = (pushed: number, pulled: number): void => this.runner.set({ pushed, pulled });

  get status(): SyncStatus {
    return this.runner.status;
  }

  subscribe(fn: () => void): () => void {
    return this.runner.subscribe(fn);
  }

  async syncNow(): Promise<void> {
    await this.runner.now();
  }

  start(): void {
    this.runner.start();
  }

  stop(): void {
    this.runner.stop();
  }
}

/**
 * The field app's sync: pushes what waits and pulls the user's scope from the stored
 * cursor. Another tab of the same user already syncing the same database is left to it.
 */
export class Syncer extends SyncRunner {
  /**
   * `residents`: the user is a field worker, whose phone keeps the residents of their patch
   * (the households come with the documents; the people's personal fields never do).
   */
  constructor(
    store: Store,
    transport: Transport = postSync,
    private readonly residents = false,
  ) {
    super(store, transport, false);
  }

  protected async round(): Promise<void> {
    await exchange(this.store, this.transport, { pull: true, progress: this.progress });
    if (!this.residents) return;
    // Reveals made offline first: the log must not wait for anything else to succeed.
    const { keys, entries } = await this.store.pendingAccess();
    if (entries.length > 0) {
      await postAccessLog(entries);
      await this.store.dropAccess(keys);
    }
    // People's fields entered on the phone: after the exchange, which pushed the households
    // that list them, and in parts the server takes.
    const edits = (await this.store.pendingEdits()).filter((e) => !e.refused);
    for (let i = 0; i < edits.length; i += EDITS_PER_REQUEST) {
      const part = edits.slice(i, i + EDITS_PER_REQUEST);
      const results = await postResidentEdits(part.map(({ household: _h, refused: _r, ...edit }) => edit));
      await this.store.settleEdits(part, results);
    }
    const version = await this.store.meta<string>('residents-version');
    const fresh = await getResidents(version);
    if (fresh) await this.store.replaceResidents(fresh.residents, fresh.version);
  }
}
