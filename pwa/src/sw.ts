/// <reference lib="webworker" />
import { clientsClaim } from 'workbox-core';
import {
  cleanupOutdatedCaches,
  createHandlerBoundToURL,
  precacheAndRoute,
  type PrecacheEntry,
} from 'workbox-precaching';
import { NavigationRoute, registerRoute } from 'workbox-routing';

// The build (vite-plugin-pwa, injectManifest) replaces __WB_MANIFEST with the app shell file list.
declare const self: ServiceWorkerGlobalScope & { __WB_MANIFEST: Array<PrecacheEntry | string> };

precacheAndRoute(self.__WB_MANIFEST);
cleanupOutdatedCaches();

// Any page URL opens the app shell, so the app starts with no network after
// the first visit. API calls must always reach the server (or fail visibly).
registerRoute(new NavigationRoute(createHandlerBoundToURL('/index.html'), { denylist: [/^\/api\//] }));

// A new version waits until the page asks for it, so nobody loses what they
// are typing to a reload they did not choose.
self.addEventListener('message', (event) => {
  if ((event.data as { type?: unknown } | null)?.type === 'SKIP_WAITING') void self.skipWaiting();
});

// On the very first install there is no old version to protect; taking
// control at once lets the first visit work offline without a reload.
clientsClaim();
