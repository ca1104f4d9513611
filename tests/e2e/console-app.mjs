// Steps through the supervisor console the way a supervisor does, for console*.test.mjs.
import assert from 'node:assert/strict';
import { submitLogin, waitUntil } from './harness.mjs';

export const DESKTOP = { viewport: { width: 1280, height: 800 }, locale: 'zh-CN' };
export const TABLET = { viewport: { width: 800, height: 1024 }, locale: 'zh-CN', hasTouch: true };

/** Signs in on a fresh page and waits for the console and its cached catalogue. */
export async function consoleSignIn(page, url, username) {
  await page.goto(url);
  await page.locator('#username').waitFor();
  const response = await submitLogin(page, username, 'demo');
  assert.equal(response.status(), 200);
  await page.locator('[data-console="true"]').waitFor();
  await waitUntil(page, async () => {
    const store = window.haitang?.store;
    // Fetched and cached, if empty: a department handler has no units of the org tree.
    return Boolean(store && (await store.meta('catalogue'))?.length && (await store.meta('units')) !== undefined);
  });
}

/** Shows a bucket, searches for `title` and opens its row; resolves once the record is loaded. */
export async function openCase(page, title, bucket) {
  await page.getByTestId('tab-inbox').click();
  if (bucket) await page.getByTestId(`bucket-${bucket}`).click();
  await page.getByTestId('inbox-search').fill(title);
  const row = page.getByTestId('case-row').filter({ hasText: title });
  await row.getByTestId('case-open').click();
  await page.locator('[data-testid="record-pane"][data-status]').waitFor();
  return row;
}

/** Waits until the open record has this status and nothing of it waits to upload. */
export async function waitRecord(page, status, { sync = 'synced', conflict } = {}) {
  let sel = `[data-testid="record-pane"][data-status="${status}"]`;
  if (sync) sel += `[data-sync="${sync}"]`;
  if (conflict !== undefined) sel += `[data-conflict="${conflict}"]`;
  await page.locator(sel).waitFor();
}

/** The actions the open record offers, by their action names. */
export async function offered(page) {
  await page.getByTestId('actions').waitFor();
  const ids = await page.locator('[data-testid="actions"] [data-testid^="action-"]').evaluateAll((els) =>
    els.map((e) => e.getAttribute('data-testid')).filter((id) => !['action-form', 'action-confirm', 'action-message'].includes(id)),
  );
  return ids.map((id) => id.slice('action-'.length)).sort();
}

/** Takes an action on the open record, filling what it needs. */
export async function takeAction(page, action, { note, department, assignee, duplicateOf } = {}) {
  await page.getByTestId(`action-${action}`).click();
  const form = page.locator(`[data-testid="action-form"][data-action="${action}"]`);
  await form.waitFor();
  if (department) await form.getByTestId('param-department').selectOption(department);
  if (assignee !== undefined) {
    // A picker when the console knows the grid's staff, a number field otherwise.
    const field = form.getByTestId('param-assignee');
    const tag = await field.evaluate((el) => el.tagName);
    if (tag === 'SELECT') await field.selectOption(String(assignee));
    else await field.fill(String(assignee));
  }
  if (duplicateOf) await form.getByTestId('param-duplicate').fill(duplicateOf);
  if (note) await form.getByTestId('param-note').fill(note);
  await form.getByTestId('action-confirm').click();
  await form.waitFor({ state: 'detached' });
}

/** The timeline actions of the open record, in order. */
export function timelineActions(page) {
  return page.locator('[data-testid="record-timeline"] [data-testid="timeline-entry"]').evaluateAll((els) =>
    els.map((e) => e.getAttribute('data-action')),
  );
}
