// Accessibility (#17): axe-core finds no serious or critical violation of WCAG 2.1 A/AA on
// any screen, at 360 px (the field app) and 1280 px (the console), in zh-CN and English.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { after, before, test } from 'node:test';
import { MANY_SIGN_INS, launchBrowser, newPhone, startServer } from './harness.mjs';
import { openRecord, signIn } from './app.mjs';
import { DESKTOP, consoleSignIn } from './console-app.mjs';

const AXE = await readFile(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

let server;
let browser;

before(async () => {
  server = await startServer({ demo: true, env: { ...MANY_SIGN_INS, HAITANG_DEMO_HISTORY: 'true' } });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.cleanup();
});

/** Serious and critical WCAG 2.1 A/AA violations on the page as it is now, as readable lines. */
async function violations(page, screen) {
  await page.addScriptTag({ content: AXE });
  const found = await page.evaluate(async () => {
    const result = await window.axe.run(document, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] },
      resultTypes: ['violations'],
    });
    return result.violations
      .filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => `${v.id} (${v.impact}): ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(' | ')}`);
  });
  // Wider than the screen, a phone zooms the page out and the bottom bar leaves the view
  // (the English visits card did, before its counts could wrap).
  const wide = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  if (wide > 1) found.push(`content ${wide} px wider than the screen`);
  return found.map((line) => `${screen}: ${line}`);
}

async function setLang(page, lang) {
  await page.evaluate((l) => localStorage.setItem('haitang.lang', l), lang);
  await page.reload();
}

for (const lang of ['zh-CN', 'en']) {
  test(`the field app at 360 px has no serious or critical violation (${lang})`, async () => {
    // The scan is a script of its own; the app's CSP would refuse it.
    const context = await newPhone(browser, { bypassCSP: true });
    const page = await context.newPage();
    const found = [];
    await page.goto(server.url);
    await setLang(page, lang);
    await page.locator('#username').waitFor();
    found.push(...(await violations(page, 'login')));
    await signIn(page, server.url, 'lou1');
    await setLang(page, lang);
    await page.getByTestId('home').waitFor();
    found.push(...(await violations(page, 'home')));
    await page.getByTestId('nav-report').click();
    await page.getByTestId('report').waitFor();
    found.push(...(await violations(page, 'report')));
    await page.getByTestId('nav-records').click();
    await page.getByTestId('record-item').first().waitFor();
    found.push(...(await violations(page, 'records')));
    await page.getByTestId('record-item').first().click();
    await page.getByTestId('detail').waitFor();
    found.push(...(await violations(page, 'detail')));
    await page.getByTestId('nav-home').click();
    await page.getByTestId('go-visits').click();
    await page.getByTestId('visits').waitFor();
    found.push(...(await violations(page, 'visits')));
    await context.close();
    assert.deepEqual(found, []);
  });

  test(`the console at 1280 px has no serious or critical violation (${lang})`, async () => {
    const context = await browser.newContext({ ...DESKTOP, bypassCSP: true });
    const page = await context.newPage();
    const found = [];
    await consoleSignIn(page, server.url, 'community1');
    await setLang(page, lang);
    await page.locator('[data-console="true"]').waitFor();
    await page.getByTestId('tab-inbox').click();
    await page.getByTestId('case-row').first().waitFor();
    found.push(...(await violations(page, 'inbox')));
    await page.getByTestId('case-row').first().getByTestId('case-open').click();
    await page.locator('[data-testid="record-pane"][data-status]').waitFor();
    found.push(...(await violations(page, 'record')));
    await page.getByTestId('tab-overview').click();
    found.push(...(await violations(page, 'overview')));
    await context.close();
    assert.deepEqual(found, []);
  });
}
