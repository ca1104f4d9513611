// Signing in on a phone: the demo server, the app shell served by the real
// binary, and what a grid staff member sees before and after losing signal.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  launchBrowser,
  newPhone,
  screenshot,
  startServer,
  submitLogin,
  waitForServiceWorker,
} from './harness.mjs';
import { waitSettled } from './app.mjs';

let server;
let browser;

before(async () => {
  server = await startServer({ demo: true });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.cleanup();
});

/** A fresh phone (own storage, own service worker) on the app's start page. */
async function openApp() {
  const context = await newPhone(browser);
  const page = await context.newPage();
  await page.goto(server.url);
  await page.locator('#username').waitFor();
  return { context, page };
}

/**
 * Signs in and waits until the app has also checked the user with /me, so a
 * test that then tampers with the stored tokens does not race that request.
 */
async function signIn(page, username) {
  const checked = page.waitForResponse((r) => r.url().endsWith('/api/v1/me'));
  const response = await submitLogin(page, username, 'demo');
  assert.equal(response.status(), 200);
  await page.getByTestId('home').waitFor();
  assert.equal((await checked).status(), 200);
}

test('grid1 signs in and sees their name, role, unit and the demo banner', async () => {
  const { context, page } = await openApp();
  try {
    await page.getByTestId('demo-banner').waitFor();
    assert.equal(await page.getByTestId('demo-banner').textContent(), '演示模式 / Demo mode');
    await screenshot(page, 'login');

    const response = await submitLogin(page, 'grid1', 'demo');
    assert.equal(response.status(), 200);
    const { user } = await response.json();
    assert.equal(user.username, 'grid1');
    assert.equal(user.role, 'grid_staff');

    await page.getByTestId('home').waitFor();
    assert.equal(await page.getByTestId('user-name').textContent(), user.name);
    assert.equal(await page.getByTestId('user-role').textContent(), '网格员');
    assert.equal(await page.getByTestId('user-unit').textContent(), user.unit_name);
    assert.equal(await page.getByTestId('net-status').getAttribute('data-online'), 'true');
    assert.ok(await page.getByTestId('demo-banner').isVisible(), 'demo banner on the home screen');
    await screenshot(page, 'home');
  } finally {
    await context.close();
  }
});

test('a department handler sees the translated role and department', async () => {
  const { context, page } = await openApp();
  try {
    await submitLogin(page, 'police1', 'demo');
    await page.getByTestId('home').waitFor();
    assert.equal(await page.getByTestId('user-role').textContent(), '部门处置人员');
    assert.equal(await page.getByTestId('user-department').textContent(), '公安');
    await screenshot(page, 'home-department');
  } finally {
    await context.close();
  }
});

test('a wrong password shows the error and stays on the login screen', async () => {
  const { context, page } = await openApp();
  try {
    const response = await submitLogin(page, 'grid2', 'not-the-password');
    assert.equal(response.status(), 401);
    assert.equal((await response.json()).code, 'bad_credentials');

    const error = page.getByTestId('error');
    await error.waitFor();
    assert.match(await error.textContent(), /用户名或密码错误/);
    assert.equal(await page.getByTestId('home').count(), 0);
    await screenshot(page, 'login-wrong-password');
  } finally {
    await context.close();
  }
});

test('too many attempts show the Retry-After wait and block the button', async () => {
  const { context, page } = await openApp();
  try {
    let response;
    // The server allows a handful of attempts per username per minute.
    for (let attempt = 0; attempt < 12; attempt++) {
      response = await submitLogin(page, 'xiang1', 'wrong');
      if (response.status() === 429) break;
      assert.equal(response.status(), 401);
    }
    assert.equal(response.status(), 429);
    const retryAfter = Number(response.headers()['retry-after']);
    assert.ok(retryAfter > 0, `Retry-After header: ${response.headers()['retry-after']}`);

    await page.getByTestId('retry-after').waitFor();
    const shown = Number(/(\d+)/.exec(await page.getByTestId('retry-after').textContent())?.[1]);
    assert.ok(shown > 0 && shown <= retryAfter, `shows ${shown} s for Retry-After ${retryAfter}`);
    assert.match(await page.getByTestId('error').textContent(), /尝试次数过多/);
    assert.ok(await page.getByTestId('login-submit').isDisabled(), 'submit waits out the limit');
    await screenshot(page, 'login-rate-limited');
  } finally {
    await context.close();
  }
});

test('after signing in once, the app opens offline straight to Home', async () => {
  const { context, page } = await openApp();
  try {
    await submitLogin(page, 'grid1', 'demo');
    await page.getByTestId('home').waitFor();
    const name = await page.getByTestId('user-name').textContent();
    await waitForServiceWorker(page);

    await context.setOffline(true);
    await page.reload();
    await page.getByTestId('home').waitFor();
    assert.equal(await page.getByTestId('user-name').textContent(), name);
    assert.equal(await page.getByTestId('net-status').getAttribute('data-online'), 'false');
    assert.ok(await page.getByTestId('demo-banner').isVisible(), 'demo banner remembered offline');
    await screenshot(page, 'home-offline');

    // Any app URL opens the cached shell, not the browser's offline page.
    await page.goto(new URL('/some/deep/link', server.url).href);
    await page.getByTestId('home').waitFor();

    await context.setOffline(false);
    await page.waitForFunction(
      () => document.querySelector('[data-testid="net-status"]')?.getAttribute('data-online') === 'true',
    );
  } finally {
    await context.close();
  }
});

test('the English switch translates the app and is remembered', async () => {
  const { context, page } = await openApp();
  try {
    await page.getByTestId('lang-switch').click();
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    assert.equal(await page.locator('label[for="username"]').textContent(), 'Username');
    assert.equal(await page.evaluate(() => document.documentElement.lang), 'en');
    await screenshot(page, 'login-en');

    await page.reload();
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();

    await submitLogin(page, 'grid1', 'demo');
    await page.getByTestId('home').waitFor();
    assert.equal(await page.getByTestId('user-role').textContent(), 'Grid staff');
    assert.equal(await page.getByTestId('logout').textContent(), 'Sign out');
    await screenshot(page, 'home-en');

    await page.getByTestId('lang-switch').click();
    assert.equal(await page.getByTestId('user-role').textContent(), '网格员');
  } finally {
    await context.close();
  }
});

test('an expired access token is refreshed without bothering the user', async () => {
  const { context, page } = await openApp();
  try {
    await signIn(page, 'lou1');
    // The field app's own first requests must not meet the tampered tokens before the reload.
    await waitSettled(page);
    await setStoredTokens(page, { access_token: 'expired.or.forged' });

    const refreshed = page.waitForResponse((r) => r.url().endsWith('/api/v1/auth/refresh'));
    const me = page.waitForResponse((r) => r.url().endsWith('/api/v1/me') && r.status() === 200);
    await page.reload();
    assert.equal((await refreshed).status(), 200);
    await me;
    await page.getByTestId('home').waitFor();
    assert.notEqual((await storedSession(page)).access_token, 'expired.or.forged');
  } finally {
    await context.close();
  }
});

test('a rejected refresh token sends the user to sign in again, keeping the username', async () => {
  const { context, page } = await openApp();
  try {
    await signIn(page, 'yuan1');
    // The field app's own first requests must not meet the tampered tokens before the reload.
    await waitSettled(page);
    await setStoredTokens(page, { access_token: 'bad', refresh_token: 'revoked' });

    await page.reload();
    await page.getByTestId('expired').waitFor();
    // The last username is filled in from storage just after the form appears.
    await page.waitForFunction(() => document.querySelector('#username')?.value === 'yuan1');
    assert.equal(await storedSession(page), undefined);
  } finally {
    await context.close();
  }
});

test('signing out returns to the login screen and forgets the tokens', async () => {
  const { context, page } = await openApp();
  try {
    await signIn(page, 'community1');
    const { refresh_token } = await storedSession(page);

    const loggedOut = page.waitForResponse((r) => r.url().endsWith('/api/v1/auth/logout'));
    await page.getByTestId('logout').click();
    assert.equal((await loggedOut).status(), 204);
    await page.locator('#username').waitFor();
    assert.equal(await storedSession(page), undefined);

    // The server revoked the refresh token, so it cannot be used again.
    const res = await fetch(new URL('/api/v1/auth/refresh', server.url), {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ refresh_token }),
    });
    assert.equal(res.status, 401);
  } finally {
    await context.close();
  }
});

function storedSession(page) {
  return page.evaluate(
    () =>
      new Promise((resolve, reject) => {
        const open = indexedDB.open('haitang');
        open.onerror = () => reject(open.error);
        open.onsuccess = () => {
          const get = open.result.transaction('session').objectStore('session').get('current');
          get.onerror = () => reject(get.error);
          get.onsuccess = () => {
            open.result.close();
            resolve(get.result);
          };
        };
      }),
  );
}

/** Overwrites tokens in the stored session, as if time or the server had invalidated them. */
function setStoredTokens(page, tokens) {
  return page.evaluate(
    (tokens) =>
      new Promise((resolve, reject) => {
        const open = indexedDB.open('haitang');
        open.onerror = () => reject(open.error);
        open.onsuccess = () => {
          const tx = open.result.transaction('session', 'readwrite');
          const store = tx.objectStore('session');
          const get = store.get('current');
          get.onsuccess = () => store.put({ ...get.result, ...tokens }, 'current');
          tx.oncomplete = () => {
            open.result.close();
            resolve();
          };
          tx.onerror = () => reject(tx.error);
        };
      }),
    tokens,
  );
}
