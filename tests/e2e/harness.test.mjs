// The harness itself: graceful stop, restart on the same database, and a
// server without demo mode (no banner in the app).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { launchBrowser, newPhone, startServer } from './harness.mjs';

async function info(url) {
  const res = await fetch(new URL('/api/v1/info', url));
  assert.equal(res.status, 200);
  return res.json();
}

test('a server stops on SIGTERM and restarts on the same database', async () => {
  const first = await startServer({ demo: true });
  let current = first;
  try {
    assert.equal((await info(first.url)).demo, true);
    current = await first.restart({ demo: false });
    assert.equal(current.dbPath, first.dbPath);
    assert.equal((await info(current.url)).demo, false);

    // Demo accounts seeded by the first run are still in the database.
    const login = await fetch(new URL('/api/v1/auth/login', current.url), {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ username: 'grid1', password: 'demo' }),
    });
    assert.equal(login.status, 200);

    const exit = await current.stop();
    assert.deepEqual(exit, { code: 0, signal: null }, 'graceful shutdown exits 0');
  } finally {
    await current.cleanup();
  }
});

test('kill() ends the server abruptly', async () => {
  const server = await startServer();
  try {
    const exit = await server.kill();
    assert.equal(exit.signal, 'SIGKILL');
  } finally {
    await server.cleanup();
  }
});

test('without demo mode the app shows no demo banner', async () => {
  const server = await startServer({ demo: false });
  const browser = await launchBrowser();
  try {
    const page = await (await newPhone(browser)).newPage();
    const infoLoaded = page.waitForResponse((r) => r.url().endsWith('/api/v1/info'));
    await page.goto(server.url);
    assert.equal((await (await infoLoaded).json()).demo, false);
    await page.locator('#username').waitFor();
    assert.equal(await page.getByTestId('demo-banner').count(), 0);
  } finally {
    await browser.close();
    await server.cleanup();
  }
});
