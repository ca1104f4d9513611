// Shared pieces for the browser tests: a real server process on a fresh
// database, a headless Chromium that is never downloaded (Debian's), and a
// phone-sized browser context.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const HERE = dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = join(HERE, '..', '..');
export const ARTIFACTS_DIR = join(HERE, 'artifacts');

const READY_LINE = /^Haitang listening on (http:\/\/127\.0\.0\.1:\d+)\s*$/;
const LOG_LIMIT = 64 * 1024;

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

function serverBinary() {
  return process.env.HAITANG_BIN ?? join(REPO_ROOT, 'target', 'debug', 'haitang');
}

/** Keeps the tail of a stream's text so a failure can show what the server said. */
class LogTail {
  text = '';
  push(line) {
    this.text += line + '\n';
    if (this.text.length > LOG_LIMIT) this.text = this.text.slice(-LOG_LIMIT);
  }
}

// Servers still running when the test process exits (a crash, an assertion
// thrown before cleanup) must not linger and hold ports or the database.
const running = new Set();
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/**
 * Starts `haitang serve` on a free port and resolves once it prints its
 * listening line.
 *
 * @param {object} [options]
 * @param {boolean} [options.demo=true] seed the demo district and accounts
 * @param {string} [options.db] database file to reuse; a fresh temp one by default
 * @param {Record<string,string>} [options.env] extra environment, e.g. HAITANG_ACCESS_TTL_SECS
 * @param {number} [options.timeoutMs=30000]
 */
/**
 * Sign-in limits for servers whose tests are not about them: a test file signs
 * the same demo users in many times a minute, far more than any person would.
 */
export const MANY_SIGN_INS = {
  HAITANG_LOGIN_PER_MINUTE_USER: '1000',
  HAITANG_LOGIN_PER_MINUTE_USER_TOTAL: '1000',
  HAITANG_LOGIN_PER_MINUTE_IP: '10000',
};

export async function startServer({ demo = true, db, env = {}, timeoutMs = 30_000 } = {}) {
  const tempDir = db ? null : await mkdtemp(join(tmpdir(), 'haitang-e2e-'));
  const dbPath = db ?? join(tempDir, 'haitang.db');
  let server;
  try {
    server = await spawnServer({ demo, dbPath, env, timeoutMs });
  } catch (err) {
    if (tempDir) await rm(tempDir, { recursive: true, force: true });
    throw err;
  }
  return withLifecycle(server, { demo, dbPath, env, timeoutMs, tempDir });
}

function withLifecycle(server, settings) {
  return {
    ...server,
    dbPath: settings.dbPath,
    /** Stops this process (if still running) and starts a new one on the same database. */
    async restart(overrides = {}) {
      await server.stop();
      const next = await spawnServer({ ...settings, ...overrides, dbPath: settings.dbPath });
      return withLifecycle(next, { ...settings, ...overrides });
    },
    /** Stops the server and deletes the temp directory the harness made for it. */
    async cleanup() {
      await server.stop();
      if (settings.tempDir) await rm(settings.tempDir, { recursive: true, force: true });
    },
  };
}

async function spawnServer({ demo, dbPath, env, timeoutMs }) {
  const bin = serverBinary();
  const args = ['serve', ...(demo ? ['--demo'] : []), '--db', dbPath, '--listen', '127.0.0.1:0'];
  const child = spawn(bin, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    // Plain logs: failure messages quote them, and colour codes make them unreadable.
    env: { NO_COLOR: '1', ...process.env, ...env },
  });
  running.add(child);
  const exited = once(child, 'exit').then(([code, signal]) => {
    running.delete(child);
    return { code, signal };
  });
  // Swallow the rejection `once` gives on 'error'; spawn errors are reported below.
  exited.catch(() => undefined);

  const stdout = new LogTail();
  const stderr = new LogTail();
  const echo = process.env.HAITANG_E2E_LOG === '1';
  // Both pipes are drained for the whole life of the process: a full pipe
  // would block the server on its next log line.
  createInterface({ input: child.stderr }).on('line', (line) => {
    stderr.push(line);
    if (echo) process.stderr.write(`[haitang] ${line}\n`);
  });
  const lines = createInterface({ input: child.stdout });

  const url = await new Promise((resolve, reject) => {
    const describe = (why) =>
      new Error(
        `${why}\n  command: ${bin} ${args.join(' ')}\n  stdout:\n${indent(stdout.text)}\n  stderr:\n${indent(stderr.text)}`,
      );
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(describe(`server did not report listening within ${timeoutMs} ms`));
    }, timeoutMs);
    lines.on('line', (line) => {
      stdout.push(line);
      if (echo) process.stderr.write(`[haitang] ${line}\n`);
      const m = READY_LINE.exec(line);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.once('error', (err) => {
      clearTimeout(timer);
      const hint = err.code === 'ENOENT' ? ' (build it: cargo build -p haitang-server, or set HAITANG_BIN)' : '';
      reject(describe(`cannot start ${bin}: ${err.message}${hint}`));
    });
    // 'close' rather than 'exit': by then everything the server printed has been read.
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      reject(describe(`server exited before listening (code ${code}, signal ${signal})`));
    });
  });

  async function signalAndWait(sig, graceMs) {
    if (child.exitCode !== null || child.signalCode !== null) return exited;
    child.kill(sig);
    const result = await Promise.race([exited, timeoutPromise(graceMs)]);
    if (result === 'timeout') {
      child.kill('SIGKILL');
      await exited;
      throw new Error(`server did not exit within ${graceMs} ms of ${sig}; killed\n  stderr:\n${indent(stderr.text)}`);
    }
    return result;
  }

  return {
    url,
    pid: child.pid,
    /** SIGTERM, then wait for the graceful shutdown to finish. */
    stop: () => signalAndWait('SIGTERM', 15_000),
    /** SIGKILL: an abrupt crash, for recovery tests. */
    kill: () => signalAndWait('SIGKILL', 5_000),
    /** What the server printed so far, for assertions and failure messages. */
    logs: () => ({ stdout: stdout.text, stderr: stderr.text }),
  };
}

function timeoutPromise(ms) {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms, 'timeout');
    t.unref();
  });
}

function indent(text) {
  return text
    .trimEnd()
    .split('\n')
    .map((l) => `    ${l}`)
    .join('\n');
}

export function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    headless: true,
    args: CHROMIUM_ARGS,
  });
}

/** A browser context shaped like a small Android phone with a Chinese locale. */
export function newPhone(browser, options = {}) {
  return browser.newContext({
    viewport: { width: 360, height: 740 },
    deviceScaleFactor: 2,
    isMobile: true,
    hasTouch: true,
    locale: 'zh-CN',
    ...options,
  });
}

/** Saves `artifacts/<name>.png` for a person to look at. */
export async function screenshot(page, name) {
  await mkdir(ARTIFACTS_DIR, { recursive: true });
  const path = join(ARTIFACTS_DIR, `${name}.png`);
  await page.screenshot({ path });
  return path;
}

/**
 * Resolves once a service worker controls the page, so that going offline
 * afterwards tests the cached shell rather than a half-installed worker.
 */
export async function waitForServiceWorker(page) {
  await page.evaluate(async () => {
    await navigator.serviceWorker.ready;
    if (navigator.serviceWorker.controller) return;
    await new Promise((resolve) =>
      navigator.serviceWorker.addEventListener('controllerchange', resolve, { once: true }),
    );
  });
}

/** Fills the login form and submits it; resolves with the login response. */
export async function submitLogin(page, username, password) {
  await page.locator('#username').fill(username);
  await page.locator('#password').fill(password);
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith('/api/v1/auth/login')),
    page.getByTestId('login-submit').click(),
  ]);
  return response;
}

/**
 * Waits until `fn` (run in the page, may be async) returns something truthy. Playwright's
 * waitForFunction takes only a synchronous predicate: an async one returns a promise,
 * which is truthy, so it would pass at once whatever the condition.
 */
export async function waitUntil(page, fn, arg, { timeoutMs = 30_000, everyMs = 50 } = {}) {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await page.evaluate(fn, arg);
    if (value) return value;
    if (Date.now() > until) throw new Error(`waitUntil: still false after ${timeoutMs} ms: ${fn}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}
