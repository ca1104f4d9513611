import { ApiError, NetworkError } from '../api';

/** What every runner shows; each user of one adds its own fields (counts, the photo being sent). */
export interface RunStatus {
  running: boolean;
  error: string | null;
  /** When the next automatic attempt after a failure is due (epoch ms). */
  retryAt: number | null;
}

export interface RunnerOptions<S extends RunStatus> {
  /**
   * The Web Locks name: one tab of this user runs rounds at a time. The others see the
   * results through the store.
   */
  lock: string;
  /**
   * Wait for the tab holding the lock to finish, then run this round too, rather than
   * leave the work to that tab: for rounds that carry this tab's own requests.
   */
  waitForLock?: boolean;
  /** Run again this long after a round that went through; without it, only when asked. */
  period?: number;
  /** First wait after a failure, doubled with each further failure up to `max`. */
  backoff: { first: number; max: number };
  /** The status before the first round; its own fields are reset by `starting` and `ending`. */
  initial: S;
  starting?: Partial<S>;
  ending?: Partial<S>;
  /**
   * What a failed round means: the error to show, and how long to wait before the next
   * try (`backoff` is the usual wait now); `null` for no automatic retry.
   */
  failure(err: unknown, backoff: number): { error: NonNullable<S['error']>; retryIn: number | null };
  round(): Promise<void>;
}

/**
 * Runs rounds of work that needs the network (a sync, photo uploads): when started, when
 * the network comes back, periodically, and on request; one round at a time, with
 * exponential backoff after failures, one tab at a time (Web Locks).
 */
export class Runner<S extends RunStatus> {
  status: S;
  private readonly listeners = new Set<() => void>();
  private failures = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private current: Promise<S['error']> | null = null;
  /** `now` was called during the round under way. */
  private again = false;
  private halted = false;

  constructor(private readonly opts: RunnerOptions<S>) {
    this.status = opts.initial;
  }

  get stopped(): boolean {
    return this.halted;
  }

  start(): void {
    window.addEventListener('online', this.onOnline);
    this.schedule(0);
  }

  stop(): void {
    this.halted = true;
    window.removeEventListener('online', this.onOnline);
    clearTimeout(this.timer);
  }

  subscribe(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  set(patch: Partial<S>): void {
    this.status = { ...this.status, ...patch };
    for (const fn of this.listeners) fn();
  }

  /** The runner's own fields, with whatever of the user's fields `starting` or `ending` reset. */
  private patch(p: Partial<RunStatus>): void {
    this.set(p as Partial<S>);
  }

  /**
   * The round got somewhere before it failed (bytes the server took): a network that drops
   * now and then still works, so the retry comes soon rather than after a long backoff.
   */
  progressed(): void {
    this.failures = 0;
  }

  /**
   * Runs a round now; resolves when it is over, with its error (null when it went through).
   * Asked while a round is running, it runs once more after it: work that arrived meanwhile
   * (an edit, a record opened) may have missed that round, and would otherwise wait for the
   * next periodic one.
   */
  now(): Promise<S['error']> {
    if (this.current) {
      this.again = true;
      return this.current;
    }
    this.current = (async () => {
      do {
        this.again = false;
        await this.run();
      } while (this.again && !this.halted && this.status.error === null);
      return this.status.error;
    })().finally(() => {
      this.current = null;
    });
    return this.current;
  }

  private readonly onOnline = () => {
    this.failures = 0;
    this.schedule(0);
  };

  private schedule(delay: number): void {
    clearTimeout(this.timer);
    if (this.halted) return;
    this.timer = setTimeout(() => void this.now(), delay);
  }

  private async run(): Promise<void> {
    clearTimeout(this.timer);
    if (this.halted) return;
    if (!navigator.onLine) {
      // The online event starts the next attempt.
      this.patch({ error: 'network', retryAt: null });
      return;
    }
    const { starting, ending, lock, waitForLock, period, backoff } = this.opts;
    this.patch({ ...starting, running: true, error: null, retryAt: null });
    try {
      if (waitForLock) {
        await navigator.locks.request(lock, () => this.opts.round());
      } else {
        await navigator.locks.request(lock, { ifAvailable: true }, async (held) => {
          // Another tab holds the lock and is doing the same work for this user.
          if (held) await this.opts.round();
        });
      }
      this.failures = 0;
      this.patch({ ...ending, running: false });
      if (period !== undefined) this.schedule(period);
    } catch (err) {
      const { error, retryIn } = this.opts.failure(err, Math.min(backoff.max, backoff.first * 2 ** this.failures));
      if (retryIn === null) {
        this.patch({ ...ending, running: false, error, retryAt: null });
        return;
      }
      this.failures++;
      // Jitter, so phones that lost the network together do not return in step.
      const wait = Math.round(retryIn * (0.75 + Math.random() * 0.5));
      this.patch({ ...ending, running: false, error, retryAt: Date.now() + wait });
      this.schedule(wait);
      if (!(err instanceof NetworkError || err instanceof ApiError)) console.error(`${lock} failed`, err);
    }
  }
}

/**
 * How long one request may go unanswered before the link counts as stalled: 60 s plus one
 * second per 16 KB sent. A connection in a lane with a fading signal can hang without ever
 * failing, and a round that never ends blocks every later one; the allowance grows with
 * the upload at a poor 2G rate, so a big push on a slow link is not cut off.
 */
export function stallAllowanceMs(bodyBytes: number): number {
  return 60_000 + Math.ceil(bodyBytes / 16);
}

/**
 * Runs one request that may stall, giving up after `ms` with a `NetworkError` (and aborting
 * it through `signal`). Giving up is safe for our requests: a sync push the server did
 * commit is skipped when sent again, and an upload resumes from the server's offset.
 */
export function bounded<T>(ms: number, request: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const stalled = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const reason = new DOMException('request stalled', 'TimeoutError');
      controller.abort(reason);
      reject(new NetworkError(reason));
    }, ms);
  });
  return Promise.race([request(controller.signal), stalled]).finally(() => clearTimeout(timer));
}
