type UpdateListener = (worker: ServiceWorker) => void;

const listeners = new Set<UpdateListener>();
let waiting: ServiceWorker | null = null;
let updateRequested = false;

/** Calls `fn` whenever a new app version is installed and waiting to take over. */
export function onUpdateAvailable(fn: UpdateListener): () => void {
  listeners.add(fn);
  if (waiting) fn(waiting);
  return () => listeners.delete(fn);
}

function announce(worker: ServiceWorker): void {
  waiting = worker;
  for (const fn of listeners) fn(worker);
}

/** Lets the waiting version take over; the page reloads once it is in control. */
export function applyUpdate(worker: ServiceWorker): void {
  updateRequested = true;
  worker.postMessage({ type: 'SKIP_WAITING' });
}

export async function registerServiceWorker(): Promise<void> {
  if (!('serviceWorker' in navigator)) return;
  navigator.serviceWorker.addEventListener('controllerchange', () => {
    // The first install also claims the page; that one must not reload it.
    if (!updateRequested) return;
    updateRequested = false;
    window.location.reload();
  });

  const reg = await navigator.serviceWorker.register('/sw.js', { scope: '/' });
  if (reg.waiting && navigator.serviceWorker.controller) announce(reg.waiting);
  reg.addEventListener('updatefound', () => {
    const installing = reg.installing;
    if (!installing) return;
    installing.addEventListener('statechange', () => {
      // Without a controller this is the first install, which activates by itself.
      if (installing.state === 'installed' && navigator.serviceWorker.controller) announce(installing);
    });
  });
}
