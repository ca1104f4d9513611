// The browser dies in the middle of a sync, after the server has taken the
// push but before the phone has stored the answer. Started again on the same
// profile, the phone pushes again: nothing is lost and nothing is doubled.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, test } from 'node:test';
import { chromium } from 'playwright-core';
import { listTitles, report, signIn, waitPendingCount } from './app.mjs';
import { MANY_SIGN_INS, CHROMIUM_ARGS, startServer } from './harness.mjs';
import { login, pullAll } from './interop/client.mjs';

let server;
let profile;

before(async () => {
  server = await startServer({ demo: true, env: MANY_SIGN_INS });
  profile = await mkdtemp(join(tmpdir(), 'haitang-profile-'));
});

after(async () => {
  await server?.cleanup();
  if (profile) await rm(profile, { recursive: true, force: true });
});

/**
 * Chromium as its own process on a persistent profile, so the test can kill
 * it outright (SIGKILL, like a phone whose app is swiped away or whose battery dies).
 */
async function startChromium() {
  const child = spawn(
    process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    [...CHROMIUM_ARGS, `--user-data-dir=${profile}`, '--remote-debugging-port=0', 'about:blank'],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const exited = once(child, 'exit');
  const wsEndpoint = await new Promise((resolve, reject) => {
    createInterface({ input: child.stderr }).on('line', (line) => {
      const m = /DevTools listening on (ws:\/\/\S+)/.exec(line);
      if (m) resolve(m[1]);
    });
    child.once('exit', (code) => reject(new Error(`chromium exited early (${code})`)));
  });
  const browser = await chromium.connectOverCDP(wsEndpoint);
  const context = browser.contexts()[0];
  const page = context.pages()[0] ?? (await context.newPage());
  await page.setViewportSize({ width: 360, height: 740 });
  return {
    context,
    page,
    async kill() {
      child.kill('SIGKILL');
      await exited;
    },
  };
}

async function serverTitleCounts() {
  const { token } = await login(server.url, 'grid1');
  const counts = new Map();
  for (const doc of (await pullAll(server.url, token)).values()) {
    const title = String(doc.title);
    counts.set(title, (counts.get(title) ?? 0) + 1);
  }
  return counts;
}

test('killed mid-sync, the browser comes back and finishes without loss or duplicates', async () => {
  const first = await startChromium();
  let second;
  try {
    await signIn(first.page, server.url, 'lou1');
    await first.context.setOffline(true);
    const titles = [`断电前记录一-${Date.now()}`, `断电前记录二-${Date.now()}`];
    for (const title of titles) await report(first.page, { title, description: '同步中途浏览器被杀' });

    // Let the sync request reach the server, then kill the browser before it sees the answer.
    const reachedServer = new Promise((resolve) => {
      void first.page.route('**/api/v1/sync', async (route) => {
        resolve(await route.fetch());
      });
    });
    await first.context.setOffline(false);
    const response = await reachedServer;
    assert.equal(response.status(), 200);
    await first.kill();

    const afterKill = await serverTitleCounts();
    for (const title of titles) assert.equal(afterKill.get(title), 1, `${title} reached the server once`);

    second = await startChromium();
    await second.page.goto(server.url);
    await waitPendingCount(second.page, 0);
    const local = await listTitles(second.page);
    for (const title of titles) assert.equal(local.filter((t) => t === title).length, 1, `${title} once on the phone`);

    const afterRestart = await serverTitleCounts();
    for (const title of titles) assert.equal(afterRestart.get(title), 1, `${title} still once on the server`);
  } finally {
    await second?.kill();
    await first.kill().catch(() => undefined);
  }
});
