import { postSync } from '../api';
import type { Store } from '../store';
import { exchange, MAX_WANT, type Transport } from '../sync/engine';
import { SyncRunner } from '../sync/syncer';

/**
 * The console's sync. A supervisor's scope can be a whole street, so the console never
 * pulls it: it asks for the records it opens by id (`want`, a snapshot each, `pull: false`)
 * and pushes its actions, which wait in the same per-user store as the field app's edits
 * until they are confirmed. The inbox itself comes from GET /api/v1/cases. It keeps no
 * cursor, and waits for another tab's round rather than skip its own: the records it
 * opens are this tab's.
 */
export class ConsoleSyncer extends SyncRunner {
  /** Records opened in this session, latest first: each sync asks for them again so they stay current. */
  private readonly held: string[] = [];
  /** Records being opened that no round has asked for yet. */
  private readonly asked = new Set<string>();

  constructor(store: Store, transport: Transport = postSync) {
    super(store, transport, true);
  }

  /**
   * Fetches these records (a snapshot each, merged with any local copy) together with
   * a push of whatever waits. Rejects when the sync failed (the server cannot be reached).
   */
  async open(ids: string[]): Promise<void> {
    for (const id of ids) {
      const i = this.held.indexOf(id);
      if (i >= 0) this.held.splice(i, 1);
      this.held.unshift(id);
      this.asked.add(id);
    }
    this.held.length = Math.min(this.held.length, MAX_WANT);
    const error = await this.runner.now();
    if (error) throw new Error(`sync failed: ${error}`);
  }

  protected round(): Promise<void> {
    const want = Array.from(this.asked);
    this.asked.clear();
    return exchange(this.store, this.transport, { pull: false, want, keep: this.held, wantPushed: true, progress: this.progress });
  }
}
