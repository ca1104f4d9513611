import { useEffect, useState } from 'preact/hooks';
import type { Store } from './store';
import type { Syncer, SyncStatus } from './sync';

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

/** Re-renders on every committed write to the store (this tab or another). */
export function useStoreVersion(store: Store): number {
  const [version, setVersion] = useState(store.version);
  useEffect(() => {
    const unsubscribe = store.subscribe(() => setVersion(store.version));
    // Effects run after the first paint: a write committed in between would otherwise
    // go unseen until the next one.
    setVersion(store.version);
    return unsubscribe;
  }, [store]);
  return version;
}

export function useSyncStatus(syncer: Syncer): SyncStatus {
  const [status, setStatus] = useState(syncer.status);
  useEffect(() => {
    const unsubscribe = syncer.subscribe(() => setStatus(syncer.status));
    // A sync that ended between the first paint and this subscription would otherwise
    // leave the screen saying "syncing" (and the button disabled) until the next one.
    setStatus(syncer.status);
    return unsubscribe;
  }, [syncer]);
  return status;
}
