import { useEffect, useState } from 'preact/hooks';
import type { Store } from './store';
import type { SyncHandle, SyncStatus } from './sync/syncer';

/** The browser's idea of connectivity; API calls still handle failures themselves. */
export function useOnline(): boolean {
  const [online, setOnline] = useState(() => navigator.onLine);
  useEffect(() => {
    const update = () => setOnline(navigator.onLine);
    window.addEventListener('online', update);
    window.addEventListener('offline', update);
    return () => {
      window.removeEventListener('online', update);
      window.removeEventListener('offline', update);
    };
  }, []);
  return online;
}

/** Whole seconds left until `until` (epoch ms), ticking once a second; 0 when past. */
export function useCountdown(until: number | null): number {
  // Computed during render so the first frame after `until` changes is already right.
  const left = until === null ? 0 : Math.max(0, Math.ceil((until - Date.now()) / 1000));
  const [, setTick] = useState(0);
  useEffect(() => {
    if (until === null) return;
    const id = window.setInterval(() => {
      setTick((n) => n + 1);
      if (Date.now() >= until) window.clearInterval(id);
    }, 1000);
    return () => window.clearInterval(id);
  }, [until]);
  return left;
}

/**
 * A value read from a source that announces its changes. Effects run after the first
 * paint, so the value is read again once subscribed: a change in between (a sync that
 * ended, a write that committed) would otherwise go unseen until the next one.
 */
function useAnnounced<T>(source: { subscribe(fn: () => void): () => void }, read: () => T): T {
  const [value, setValue] = useState(read);
  useEffect(() => {
    const unsubscribe = source.subscribe(() => setValue(read()));
    setValue(read());
    return unsubscribe;
  }, [source]); // `read` reads only `source`
  return value;
}

/** Re-renders on every committed write to the store (this tab or another). */
export function useStoreVersion(store: Store): number {
  return useAnnounced(store, () => store.version);
}

/** The syncer's status; a screen opened mid-sync still sees the sync end. */
export function useSyncStatus(syncer: SyncHandle): SyncStatus {
  return useAnnounced(syncer, () => syncer.status);
}
