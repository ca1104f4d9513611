import { browser } from './env';
import { afterEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError, NetworkError } from '../src/api';
import { bounded, Runner, type RunStatus } from '../src/sync/runner';

// The runner with real timers and short waits: scheduling, coalescing, backoff, the online
// event, Web Locks, and giving up on a stalled request.

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const runners: Runner<RunStatus>[] = [];
afterEach(() => {
  runners.splice(0).forEach((r) => r.stop());
  browser.onLine = true;
});

interface Rounds {
  runner: Runner<RunStatus>;
  count: () => number;
}

let lockNo = 0;

function runner(round: (n: number) => Promise<void>, more: Partial<ConstructorParameters<typeof Runner>[0]> = {}): Rounds {
  let n = 0;
  const r = new Runner<RunStatus>({
    lock: `test-${lockNo++}`,
    backoff: { first: 20, max: 80 },
    initial: { running: false, error: null, retryAt: null },
    failure: (err, backoff) =>
      err instanceof ApiError && err.status === 401
        ? { error: 'auth', retryIn: null }
        : { error: err instanceof NetworkError ? 'network' : 'server', retryIn: backoff },
    round: () => round(n++),
    ...more,
  });
  runners.push(r);
  return { runner: r, count: () => n };
}

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

test('asked during a round, it runs once more after it, however often it was asked', async () => {
  const gate = deferred();
  const { runner: r, count } = runner(async (n) => {
    if (n === 0) await gate.promise;
  });
  const first = r.now();
  await sleep(1);
  assert.equal(r.status.running, true);
  const second = r.now();
  const third = r.now();
  gate.resolve();
  assert.equal(await first, null);
  await Promise.all([second, third]);
  assert.equal(count(), 2);
  assert.equal(r.status.running, false);
  await r.now();
  assert.equal(count(), 3);
});

test('a failure backs off with jitter, doubling, and the retry comes by itself', async () => {
  const { runner: r, count } = runner(async () => {
    throw new NetworkError(new Error('offline'));
  });
  const t0 = Date.now();
  assert.equal(await r.now(), 'network');
  const firstWait = r.status.retryAt! - t0;
  assert.ok(firstWait >= 15 && firstWait <= 25 + (Date.now() - t0), `first wait ${firstWait}`);
  await sleep(60);
  assert.ok(count() >= 2, 'retried without being asked');
  assert.equal(r.status.error, 'network');
  // The second wait is twice the first, within the jitter.
  const t1 = Date.now();
  await r.now();
  const wait = r.status.retryAt! - t1;
  assert.ok(wait >= 30, `a later wait ${wait} has doubled`);
});

test('a lost sign-in is not retried', async () => {
  const { runner: r, count } = runner(async () => {
    throw new ApiError(401, 'no_session', 'not signed in');
  });
  assert.equal(await r.now(), 'auth');
  assert.equal(r.status.retryAt, null);
  await sleep(60);
  assert.equal(count(), 1);
});

test('offline it waits for the online event, which starts a round at once', async () => {
  const { runner: r, count } = runner(async () => undefined);
  browser.onLine = false;
  r.start();
  await sleep(5);
  assert.equal(count(), 0);
  assert.equal(r.status.error, 'network');
  assert.equal(r.status.retryAt, null);
  browser.onLine = true;
  window.dispatchEvent(new Event('online'));
  await sleep(5);
  assert.equal(count(), 1);
  assert.equal(r.status.error, null);
});

test('after a round that went through, the next comes after the period', async () => {
  const { runner: r, count } = runner(async () => undefined, { period: 15 });
  r.start();
  await sleep(60);
  assert.ok(count() >= 3, `${count()} rounds`);
  r.stop();
  const stopped = count();
  await sleep(40);
  assert.equal(count(), stopped, 'no round after stop');
});

test('progress in a failed round makes the retry come as soon as after a first failure', async () => {
  const { runner: r } = runner(async (n) => {
    if (n >= 2) r.progressed();
    throw new NetworkError(new Error('dropped'));
  });
  await r.now();
  await r.now();
  const t = Date.now();
  await r.now();
  const wait = r.status.retryAt! - t;
  assert.ok(wait <= 25, `wait ${wait} after progress`);
});

test('with the lock held by another tab, a round is left to it, or waits for it when told to', async () => {
  const name = 'held-by-another-tab';
  const { runner: skipping, count: skipped } = runner(async () => undefined, { lock: name });
  const lock = deferred();
  const holder = navigator.locks.request(name, () => lock.promise);
  assert.equal(await skipping.now(), null);
  assert.equal(skipped(), 0, 'another tab does the work');

  const { runner: waiting, count: waited } = runner(async () => undefined, { lock: name, waitForLock: true });
  const done = waiting.now();
  await sleep(5);
  assert.equal(waited(), 0);
  lock.resolve();
  await holder;
  await done;
  assert.equal(waited(), 1);
});

test('a request that stalls is given up as a network error, and aborted', async () => {
  let signal: AbortSignal | undefined;
  await assert.rejects(
    bounded(20, (s) => {
      signal = s;
      return new Promise(() => undefined);
    }),
    NetworkError,
  );
  assert.equal(signal?.aborted, true);
  assert.equal(await bounded(1000, async () => 'answer'), 'answer');
});
