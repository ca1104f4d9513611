// The app runs under its Content-Security-Policy (hardening issue 11.9): sign-in, a sync,
// a record with a photo opened on a second phone, and the supervisor console, with every
// policy violation and every console error collected and none allowed.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { MANY_SIGN_INS, launchBrowser, newPhone, startServer } from './harness.mjs';
import { openRecord, signIn, syncFromHome, waitPendingCount } from './app.mjs';
import { DESKTOP, consoleSignIn, openCase } from './console-app.mjs';

let server;
let browser;

before(async () => {
  server = await startServer({ demo: true, env: MANY_SIGN_INS });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.cleanup();
});

/**
 * A page that records what the policy refused (`securitypolicyviolation`, in the page
 * and before any of its scripts run), what the browser logged about a policy, which is
 * where a refusal in a worker or a malformed policy shows, and uncaught errors.
 */
async function watchedPage(context) {
  const problems = [];
  await context.addInitScript(() => {
    window.__cspViolations = [];
    document.addEventListener('securitypolicyviolation', (e) => {
      window.__cspViolations.push(`${e.effectiveDirective} blocked ${e.blockedURI || '(inline)'} at ${e.sourceFile}:${e.lineNumber}`);
    });
  });
  const page = await context.newPage();
  page.on('console', (msg) => {
    // A 404 the app expects (a photo not uploaded yet) is logged too; only the browser's
    // refusals count.
    if (/Content.Security.Policy|Permissions.Policy|Refused to/i.test(msg.text())) {
      problems.push(`console ${msg.type()}: ${msg.text()}`);
    }
  });
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  const policies = [];
  page.on('response', (res) => {
    if (res.request().resourceType() === 'document') policies.push(res.headers()['content-security-policy']);
  });
  const check = async (step) => {
    const violations = await page.evaluate(() => window.__cspViolations);
    assert.deepEqual([...violations, ...problems], [], `after ${step}`);
    assert.ok(policies.length > 0, 'a document was loaded');
    for (const p of policies) {
      assert.ok(p, 'the document came with a Content-Security-Policy');
      assert.match(p, /script-src 'self' 'wasm-unsafe-eval'/);
      assert.doesNotMatch(p, /unsafe-inline/);
    }
  };
  return { page, check };
}

/** A small JPEG drawn in the page, as the album would give it. */
async function photo(page) {
  const base64 = await page.evaluate(async () => {
    const canvas = new OffscreenCanvas(640, 480);
    const ctx = canvas.getContext('2d');
    ctx.fillStyle = '#c2185b';
    ctx.fillRect(0, 0, 640, 480);
    ctx.fillStyle = '#fff7fa';
    ctx.fillRect(100, 100, 200, 150);
    const bytes = new Uint8Array(await (await canvas.convertToBlob({ type: 'image/jpeg' })).arrayBuffer());
    return btoa(String.fromCharCode(...bytes));
  });
  return { name: 'csp.jpg', mimeType: 'image/jpeg', buffer: Buffer.from(base64, 'base64') };
}

test('sign-in, sync, a record with a photo and the console run without a policy violation', async () => {
  const lou = await newPhone(browser);
  const grid = await newPhone(browser);
  const desk = await browser.newContext(DESKTOP);
  try {
    // A leader signs in (the wasm loads for the first sync), reports with a photo
    // (object URLs for thumbnails), and syncs.
    const a = await watchedPage(lou);
    await signIn(a.page, server.url, 'lou1');
    await a.check('signing in');
    const title = `消防通道堵塞-${Date.now()}`;
    await a.page.getByTestId('nav-report').click();
    await a.page.getByTestId('kind-event').click();
    await a.page.getByTestId('category-group').selectOption('city.environment');
    await a.page.getByTestId('category').selectOption('city.garbage_exposed');
    await a.page.getByTestId('title').fill(title);
    await a.page.getByTestId('photo-gallery').setInputFiles([await photo(a.page)]);
    await a.page.waitForFunction(() => document.querySelector('[data-testid="draft-photo"] img')?.naturalWidth > 0);
    await a.page.getByTestId('save').click();
    await a.page.getByTestId('saved').waitFor();
    await waitPendingCount(a.page, 0);
    await a.page.waitForFunction(() => !document.querySelector('[data-testid="photos-waiting"]'));
    await openRecord(a.page, title);
    await a.check('reporting with a photo');

    // The grid's staff opens it: the record comes by sync, the photo over the API.
    const b = await watchedPage(grid);
    await signIn(b.page, server.url, 'grid1');
    await syncFromHome(b.page);
    await openRecord(b.page, title);
    await b.page.waitForFunction(() => {
      const img = document.querySelector('[data-testid="detail-photos"] [data-testid="photo"] img');
      return img?.naturalWidth > 0;
    });
    await b.check('opening the record and its photo');

    // The console is a lazy chunk with its own stylesheet.
    const c = await watchedPage(desk);
    await consoleSignIn(c.page, server.url, 'community1');
    await openCase(c.page, title, 'new');
    await c.check('opening the record in the console');
  } finally {
    await lou.close();
    await grid.close();
    await desk.close();
  }
});
