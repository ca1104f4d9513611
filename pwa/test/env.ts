// What the browser gives the code under test and Node 20 lacks: IndexedDB (fake-indexeddb,
// in memory), `window` as an event target for `online`, and `navigator` with `onLine` and
// Web Locks. Imported first by every test file.
import 'fake-indexeddb/auto';

type LockCallback = (lock: { name: string } | null) => unknown;

/** Web Locks within one process: exclusive locks granted in request order, `ifAvailable` honoured. */
class Locks {
  private readonly queues = new Map<string, Promise<unknown>>();

  async request(name: string, a: { ifAvailable?: boolean } | LockCallback, b?: LockCallback): Promise<unknown> {
    const [options, fn] = typeof a === 'function' ? [{}, a] : [a, b as LockCallback];
    const ahead = this.queues.get(name);
    if (options.ifAvailable && ahead) return fn(null);
    const mine = (ahead ?? Promise.resolve()).catch(() => undefined).then(() => fn({ name }));
    const tail = mine.catch(() => undefined);
    this.queues.set(name, tail);
    void tail.then(() => {
      if (this.queues.get(name) === tail) this.queues.delete(name);
    });
    return mine;
  }
}

export const browser = { onLine: true, locks: new Locks() };
Object.defineProperty(globalThis, 'navigator', { value: browser, configurable: true, writable: true });
Object.defineProperty(globalThis, 'window', { value: new EventTarget(), configurable: true, writable: true });
