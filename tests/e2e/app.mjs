// Steps through the field app the way a user does, shared by the browser tests.
import assert from 'node:assert/strict';
import { screenshot, submitLogin, waitForServiceWorker, waitUntil } from './harness.mjs';

/** Signs in on a fresh page and waits for the first sync and the service worker. */
export async function signIn(page, url, username) {
  await page.goto(url);
  await page.locator('#username').waitFor();
  const response = await submitLogin(page, username, 'demo');
  assert.equal(response.status(), 200);
  await page.getByTestId('home').waitFor();
  await waitForServiceWorker(page);
  await waitSettled(page);
}

/**
 * Waits until the field app has done what it does right after sign-in: the
 * first sync, and the catalogue, units and people cached for offline use.
 * A test that then tampers with storage does not race those requests.
 */
export async function waitSettled(page) {
  await waitSynced(page);
  await waitUntil(page, async () => {
    const store = window.haitang?.store;
    return Boolean(
      store &&
        (await store.meta('catalogue'))?.length &&
        (await store.meta('units'))?.length &&
        (await store.meta('people'))?.length,
    );
  });
}

/** Waits until no sync is running and the last one ended without an error. */
export async function waitSynced(page) {
  await page.waitForFunction(() => {
    const s = window.haitang?.syncer.status;
    return s && !s.running && s.error === null && document.querySelector('[data-testid="last-sync"]') !== null;
  });
}

/** Runs a sync from the home screen's button and waits for it to finish. */
export async function syncFromHome(page) {
  await page.getByTestId('nav-home').click();
  const before = await page.getByTestId('last-sync').getAttribute('data-time');
  await page.getByTestId('sync-now').click();
  await page.waitForFunction(
    (before) => {
      const el = document.querySelector('[data-testid="last-sync"]');
      return el && el.getAttribute('data-time') !== before && !window.haitang.syncer.status.running;
    },
    before,
  );
}

export async function pendingCount(page) {
  await page.getByTestId('nav-home').click();
  return Number(await page.getByTestId('pending-count').textContent());
}

export async function waitPendingCount(page, n) {
  await page.getByTestId('nav-home').click();
  await page.waitForFunction(
    (n) => document.querySelector('[data-testid="pending-count"]')?.textContent === String(n),
    n,
  );
}

/**
 * Fills in and saves a report. Resolves once the app says it is saved, which
 * it does only after the record is in IndexedDB.
 */
export async function report(page, { kind = 'event', group = 'city.environment', category = 'city.garbage_exposed', title, description = '', address = '' }) {
  await page.getByTestId('nav-report').click();
  await page.getByTestId(`kind-${kind}`).click();
  await page.getByTestId('category-group').selectOption(group);
  if (category !== group) await page.getByTestId('category').selectOption(category);
  await page.getByTestId('title').fill(title);
  await page.getByTestId('description').fill(description);
  await page.getByTestId('address').fill(address);
  await page.getByTestId('save').click();
  await page.getByTestId('saved').waitFor();
}

/** Opens a record from the list by its title. */
export async function openRecord(page, title) {
  await page.getByTestId('nav-records').click();
  await page.getByTestId('search').fill(title);
  await page.getByTestId('record-item').filter({ hasText: title }).first().click();
  await page.getByTestId('detail').waitFor();
}

/** Titles of the records in the list (the first page). */
export async function listTitles(page) {
  await page.getByTestId('nav-records').click();
  await page.getByTestId('records').waitFor();
  return page.locator('[data-testid="record-item"] .record-title').allTextContents();
}

/** A screenshot of the screen from its top, as the user first sees it. */
export async function shot(page, name) {
  await page.evaluate(() => window.scrollTo(0, 0));
  return screenshot(page, name);
}

/**
 * Draws a test picture in the page (no fixtures, no network): a gradient with a few
 * coloured blocks, or random noise that compresses badly (for a multi-chunk upload).
 */
export async function picture(page, { width, height, hue = 0, noise = false, type = 'image/jpeg', name }) {
  const base64 = await page.evaluate(
    async ({ width, height, hue, noise, type }) => {
      const canvas = new OffscreenCanvas(width, height);
      const ctx = canvas.getContext('2d');
      if (noise) {
        const img = ctx.createImageData(width, height);
        for (let i = 0; i < img.data.length; i += 65536) {
          crypto.getRandomValues(img.data.subarray(i, Math.min(img.data.length, i + 65536)));
        }
        for (let i = 3; i < img.data.length; i += 4) img.data[i] = 255;
        ctx.putImageData(img, 0, 0);
      } else {
        const g = ctx.createLinearGradient(0, 0, width, height);
        g.addColorStop(0, `hsl(${hue}, 70%, 60%)`);
        g.addColorStop(1, `hsl(${hue + 120}, 70%, 40%)`);
        ctx.fillStyle = g;
        ctx.fillRect(0, 0, width, height);
        for (let i = 0; i < 6; i++) {
          ctx.fillStyle = `hsl(${hue + i * 50}, 80%, 50%)`;
          ctx.fillRect((i * width) / 7, (i * height) / 9, width / 8, height / 5);
        }
      }
      const blob = await canvas.convertToBlob({ type, quality: 0.95 });
      const bytes = new Uint8Array(await blob.arrayBuffer());
      let s = '';
      for (let i = 0; i < bytes.length; i += 32768) s += String.fromCharCode(...bytes.subarray(i, i + 32768));
      return btoa(s);
    },
    { width, height, hue, noise, type },
  );
  return { name, mimeType: type, buffer: Buffer.from(base64, 'base64') };
}
