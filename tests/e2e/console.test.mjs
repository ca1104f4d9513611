// The supervisor console and the workflow-aware field app, end to end in Chromium against
// the real server: the whole loop, return for correction, escalation and forbidden
// transitions, and a concurrent close and return that converge flagged.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { MANY_SIGN_INS, launchBrowser, newPhone, screenshot, startServer } from './harness.mjs';
import { openRecord, report, signIn, syncFromHome, waitPendingCount } from './app.mjs';
import { login } from './interop/client.mjs';
import { DESKTOP, TABLET, consoleSignIn, offered, openCase, takeAction, timelineActions, waitRecord } from './console-app.mjs';

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

async function open(kind, username) {
  const context = kind === 'phone' ? await newPhone(browser) : await browser.newContext(kind === 'tablet' ? TABLET : DESKTOP);
  const page = await context.newPage();
  if (kind === 'phone') await signIn(page, server.url, username);
  else await consoleSignIn(page, server.url, username);
  return { context, page };
}

const unique = (title) => `${title}-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;

/** lou1 reports a record (offline when asked) and waits until it reached the server. */
async function lou1Reports(phone, title, { offline = false } = {}) {
  if (offline) await phone.context.setOffline(true);
  await report(phone.page, { title, description: '门口堆放', address: '金筑苑3幢' });
  if (offline) await phone.context.setOffline(false);
  await waitPendingCount(phone.page, 0);
}

test('the whole loop: report offline → accept → dispatch → report back → verify → close → the phone sees it', async () => {
  const lou = await open('phone', 'lou1');
  const desk = await open('desktop', 'community1');
  const police = await open('desktop', 'police1');
  try {
    const title = unique('占道堆物');
    await lou1Reports(lou, title, { offline: true });

    // community1: the new record waits in "new"; only a supervisor's actions are offered.
    await openCase(desk.page, title, 'new');
    assert.deepEqual(await offered(desk.page), ['accept', 'close_duplicate', 'escalate', 'return', 'urge']);
    assert.equal(await desk.page.getByTestId('count-new').count(), 1);
    await screenshot(desk.page, 'console-inbox-desktop');
    await takeAction(desk.page, 'accept');
    await waitRecord(desk.page, 'accepted');
    assert.ok(await desk.page.getByTestId('fact-due').textContent(), 'accept sets the deadline');
    assert.deepEqual(await offered(desk.page), ['assign', 'close_duplicate', 'dispatch', 'escalate', 'return', 'urge']);
    await takeAction(desk.page, 'dispatch', { department: '/gusu:police', note: '占道堆物，请派出所协助' });
    await waitRecord(desk.page, 'dispatched');
    assert.equal(await desk.page.getByTestId('fact-department').textContent(), '公安姑苏分局');
    await screenshot(desk.page, 'console-record-desktop');

    // police1 finds it in "mine", starts and reports back.
    await openCase(police.page, title, 'mine');
    assert.deepEqual(await offered(police.page), ['hand_back', 'report_back', 'start']);
    await takeAction(police.page, 'start');
    await waitRecord(police.page, 'in_progress');
    await takeAction(police.page, 'report_back', { note: '已清理，现场恢复通行' });
    await waitRecord(police.page, 'resolved');
    assert.deepEqual(await offered(police.page), []);

    // community1 verifies and closes from "awaiting verification".
    await openCase(desk.page, title, 'awaiting_verification');
    await waitRecord(desk.page, 'resolved');
    // #17 item 9: 处置 → 反馈 → 核查 → 结案. Closing is not offered before verifying, and
    // verifying is not offered twice.
    assert.deepEqual(await offered(desk.page), ['return', 'verify'].sort());
    await takeAction(desk.page, 'verify', { note: '现场核实' });
    await waitRecord(desk.page, 'verified');
    await desk.page.locator('[data-testid="timeline-entry"][data-action="verify"]').waitFor();
    assert.deepEqual(await offered(desk.page), ['close']);
    await takeAction(desk.page, 'close');
    await waitRecord(desk.page, 'closed');
    assert.deepEqual(await timelineActions(desk.page), ['report', 'accept', 'dispatch', 'start', 'report_back', 'verify', 'close']);
    assert.ok((await desk.page.getByTestId('history-entry').count()) >= 7, 'the change history lists every change');

    // The overview's rates count it.
    await desk.page.getByTestId('tab-overview').click();
    await desk.page.locator('[data-testid="rate-closed"][data-value="1"]').waitFor();
    await screenshot(desk.page, 'console-overview-desktop');

    // lou1 sees "closed" and the timeline on the phone.
    await syncFromHome(lou.page);
    await openRecord(lou.page, title);
    assert.equal(await lou.page.getByTestId('wf-status').textContent(), '已结案');
    const steps = await lou.page.locator('[data-testid="timeline"] li strong').allTextContents();
    assert.deepEqual(steps, ['上报', '受理', '派遣', '开始处置', '处置反馈', '核查', '结案']);
    assert.equal(await lou.page.locator('[data-testid^="wf-"][data-testid$="withdraw"]').count(), 0);
    await lou.page.evaluate(() => window.scrollTo(0, 0));
    await screenshot(lou.page, 'field-closed');
  } finally {
    await Promise.all([lou.context.close(), desk.context.close(), police.context.close()]);
  }
});

test('return for correction reaches the phone; the reporter corrects and resubmits', async () => {
  const lou = await open('phone', 'lou1');
  const tablet = await open('tablet', 'community1');
  try {
    const title = unique('井盖缺失');
    await lou1Reports(lou, title);

    // On the phone, while still reported: withdraw is offered (and resolve on the spot if the category allows it).
    await openRecord(lou.page, title);
    await lou.page.getByTestId('wf-withdraw').waitFor();

    await tablet.page.getByTestId('inbox-search').fill(title);
    await tablet.page.getByTestId('case-row').filter({ hasText: title }).waitFor();
    await screenshot(tablet.page, 'console-inbox-tablet');
    await openCase(tablet.page, title, 'new');
    await screenshot(tablet.page, 'console-record-tablet');
    await takeAction(tablet.page, 'return', { note: '请补充具体位置（几号门）' });
    await waitRecord(tablet.page, 'returned');
    await tablet.page.getByTestId('record-back').click();
    await tablet.page.getByTestId('inbox').waitFor();

    await syncFromHome(lou.page);
    await openRecord(lou.page, title);
    assert.equal(await lou.page.getByTestId('wf-reason').textContent(), '请补充具体位置（几号门）');
    await lou.page.evaluate(() => window.scrollTo(0, 0));
    await screenshot(lou.page, 'field-returned');
    // #17: a returned record is corrected in every field the reporter set, in one change.
    await lou.context.grantPermissions(['geolocation']);
    await lou.context.setGeolocation({ latitude: 31.3301, longitude: 120.5912, accuracy: 8 });
    await lou.page.getByTestId('edit-description').click();
    await lou.page.getByTestId('correct-title').fill(`${title}（2号门）`);
    await lou.page.getByTestId('correct-address').fill('金筑苑3幢东门');
    await lou.page.getByTestId('category-group').selectOption('city.other');
    await lou.page.getByTestId('category').selectOption('city.manhole_damaged');
    await lou.page.getByTestId('correct-locate').click();
    await lou.page.getByTestId('correct-location').filter({ hasText: '31.33010' }).waitFor();
    await lou.page.getByTestId('description-input').fill('金筑苑3幢东门（2号门）门口堆放');
    await lou.page.getByTestId('save-description').click();
    await lou.page.getByTestId('detail-description').waitFor();
    assert.equal(await lou.page.getByTestId('detail-title').textContent(), `${title}（2号门）`);
    assert.equal(await lou.page.getByTestId('detail-address').textContent(), '金筑苑3幢东门');
    const lines = await lou.page.getByTestId('history-item').locator('strong').allTextContents();
    assert.match(lines[lines.length - 1], /^顾阿姨修改了(标题|类别|描述|地址|位置)(、(标题|类别|描述|地址|位置)){4}$/);
    await lou.page.getByTestId('wf-resubmit').click();
    await lou.page.locator('[data-testid="workflow"][data-status="reported"]').waitFor();
    await waitPendingCount(lou.page, 0);

    // Back in community1's "new", with the correction and both steps on the timeline.
    await tablet.page.getByTestId('bucket-all').click();
    await openCase(tablet.page, title, 'new');
    await waitRecord(tablet.page, 'reported');
    assert.deepEqual(await timelineActions(tablet.page), ['report', 'return', 'resubmit']);
    assert.equal(await tablet.page.getByTestId('fact-address').textContent(), '金筑苑3幢东门');
    assert.match(await tablet.page.getByTestId('record-pane').textContent(), /31\.330100, 120\.591200/);
  } finally {
    await Promise.all([lou.context.close(), tablet.context.close()]);
  }
});

test('escalation by hand; only allowed actions are offered; a crafted forbidden action shows the server reason', async () => {
  const lou = await open('phone', 'lou1');
  const desk = await open('desktop', 'community1');
  const ws = await open('desktop', 'ws1');
  const street = await open('desktop', 'street1');
  try {
    const title = unique('违章搭建');
    await lou1Reports(lou, title);

    await openCase(desk.page, title, 'new');
    await takeAction(desk.page, 'escalate', { note: '涉及多部门' });
    await waitRecord(desk.page, 'reported');
    assert.equal(await desk.page.getByTestId('fact-level').textContent(), '联动工作站');
    // Held at the workstation now: the community has nothing left to do with it.
    assert.deepEqual(await offered(desk.page), []);
    await desk.page.getByTestId('actions-none').waitFor();

    // The street may only urge; the workstation takes it from "escalated to me".
    await openCase(street.page, title, 'all');
    assert.deepEqual(await offered(street.page), ['urge']);
    await openCase(ws.page, title, 'escalated');
    assert.deepEqual(await offered(ws.page), ['accept', 'close_duplicate', 'escalate', 'return', 'urge']);
    await takeAction(ws.page, 'accept');
    await waitRecord(ws.page, 'accepted');

    // community1 crafts a close through the store anyway: the server refuses it with its reason.
    await desk.page.getByTestId('console-sync-now').click();
    await waitRecord(desk.page, 'accepted');
    const id = await desk.page.getByTestId('record-pane').getAttribute('data-id');
    await desk.page.evaluate(async (id) => {
      const { store } = window.haitang;
      await store.edit(id, (A, doc) =>
        A.change(doc, (d) => {
          d.status = new A.ImmutableString('closed');
          d.timeline.push({ action: new A.ImmutableString('close'), by: store.userId, at: Date.now() });
        }),
      );
    }, id);
    await desk.page.getByTestId('console-sync-now').click();
    await desk.page.getByTestId('record-refusal').waitFor();
    assert.equal(await desk.page.getByTestId('refusal-code').textContent(), 'forbidden_transition');
    const message = await desk.page.getByTestId('refusal-message').textContent();
    assert.match(message, /may not close|cannot close/, message);
    await screenshot(desk.page, 'console-refused-desktop');
    await desk.page.getByTestId('discard').click();
    await waitRecord(desk.page, 'accepted');
    assert.equal(await desk.page.getByTestId('record-refusal').count(), 0);
  } finally {
    await Promise.all([lou.context.close(), desk.context.close(), ws.context.close(), street.context.close()]);
  }
});

test('a concurrent close and return (two offline copies of community1) converge, are flagged, and an action settles it', async () => {
  const lou = await open('phone', 'lou1');
  const a = await open('desktop', 'community1');
  const b = await open('tablet', 'community1');
  const police = await open('desktop', 'police1');
  try {
    const title = unique('路灯不亮');
    await lou1Reports(lou, title);
    await openCase(a.page, title, 'new');
    await takeAction(a.page, 'accept');
    await waitRecord(a.page, 'accepted');
    await takeAction(a.page, 'dispatch', { department: '/gusu:police' });
    await waitRecord(a.page, 'dispatched');
    await openCase(police.page, title, 'mine');
    await takeAction(police.page, 'report_back', { note: '已处置' });
    await waitRecord(police.page, 'resolved');

    // Both copies hold the resolved record, then go offline: one verifies and closes, the
    // other returns.
    await a.page.getByTestId('console-sync-now').click();
    await waitRecord(a.page, 'resolved');
    await openCase(b.page, title, 'awaiting_verification');
    await waitRecord(b.page, 'resolved');
    await a.context.setOffline(true);
    await b.context.setOffline(true);
    await takeAction(a.page, 'verify');
    await waitRecord(a.page, 'verified', { sync: 'pending' });
    await takeAction(a.page, 'close');
    await waitRecord(a.page, 'closed', { sync: 'pending' });
    await takeAction(b.page, 'return', { note: '整改不到位' });
    await waitRecord(b.page, 'returned', { sync: 'pending' });

    await a.context.setOffline(false);
    await waitRecord(a.page, 'closed');
    await b.context.setOffline(false);
    await b.page.locator('[data-testid="record-pane"][data-conflict="true"][data-sync="synced"]').waitFor();
    await a.page.getByTestId('console-sync-now').click();
    await a.page.locator('[data-testid="record-pane"][data-conflict="true"][data-sync="synced"]').waitFor();

    // Flagged in the detail and in the list, with both events on the timeline.
    for (const p of [a.page, b.page]) {
      await p.getByTestId('record-conflict').waitFor();
      const actions = await timelineActions(p);
      assert.ok(actions.includes('close') && actions.includes('return'), actions.join());
    }
    assert.deepEqual(
      new Set(await a.page.getByTestId('conflict-status').allTextContents()),
      new Set(['已结案', '已退回']),
    );
    await a.page.getByTestId('bucket-conflicting').click();
    await a.page.getByTestId('row-conflict').first().waitFor();
    assert.equal(await a.page.getByTestId('count-conflicting').textContent(), '1');
    await screenshot(a.page, 'console-conflict-desktop');

    // The supervisor's next action settles it.
    assert.ok((await offered(a.page)).includes('reopen'));
    await takeAction(a.page, 'reopen', { note: '重新派遣处置' });
    await a.page.locator('[data-testid="record-pane"][data-conflict="false"][data-status="accepted"][data-sync="synced"]').waitFor();
    await a.page.getByTestId('bucket-all').click();
    await a.page.getByTestId('bucket-conflicting').click();
    await a.page.getByTestId('inbox-empty').waitFor();
  } finally {
    await Promise.all([lou.context.close(), a.context.close(), b.context.close(), police.context.close()]);
  }
});

test('bulk accept and dispatch on a selection', async () => {
  const lou = await open('phone', 'lou1');
  const desk = await open('desktop', 'community1');
  try {
    const tag = unique('批量');
    for (const n of [1, 2, 3]) await report(lou.page, { title: `${tag}-${n}` });
    await waitPendingCount(lou.page, 0);
    await desk.page.getByTestId('bucket-new').click();
    await desk.page.getByTestId('inbox-search').fill(tag);
    await desk.page.locator('[data-testid="inbox-total"][data-total="3"]').waitFor();
    await desk.page.getByTestId('select-page').check();
    await desk.page.getByTestId('bulk-action').selectOption('accept');
    await desk.page.getByTestId('bulk-apply').click();
    assert.match(await desk.page.getByTestId('bulk-result').textContent(), /已完成 3 条/);
    await desk.page.getByTestId('bucket-all').click();
    await desk.page.locator('[data-testid="case-row"][data-status="accepted"]').nth(2).waitFor();
    await desk.page.getByTestId('select-page').check();
    await desk.page.getByTestId('bulk-action').selectOption('dispatch');
    await desk.page.getByTestId('bulk-department').selectOption('/gusu:police');
    await desk.page.getByTestId('bulk-apply').click();
    await desk.page.getByTestId('bulk-result').filter({ hasText: '已完成 3 条' }).waitFor();
    await desk.page.locator('[data-testid="case-row"][data-status="dispatched"]').nth(2).waitFor();
  } finally {
    await Promise.all([lou.context.close(), desk.context.close()]);
  }
});

test('a case assigned to grid staff shows on their phone with start and report back', async () => {
  const lou = await open('phone', 'lou1');
  const desk = await open('desktop', 'community1');
  const grid = await open('phone', 'grid1');
  try {
    const { user: grid1 } = await login(server.url, 'grid1');
    const title = unique('楼道灯坏');
    await lou1Reports(lou, title);
    await openCase(desk.page, title, 'new');
    await takeAction(desk.page, 'accept');
    await waitRecord(desk.page, 'accepted');
    await takeAction(desk.page, 'assign', { assignee: grid1.id, note: '请网格员现场处理' });
    await waitRecord(desk.page, 'dispatched');

    await syncFromHome(grid.page);
    await openRecord(grid.page, title);
    await grid.page.locator('[data-testid="workflow"][data-status="dispatched"]').waitFor();
    await grid.page.getByTestId('wf-start').click();
    await grid.page.locator('[data-testid="workflow"][data-status="in_progress"]').waitFor();
    await grid.page.getByTestId('wf-report_back').click();
    await grid.page.getByTestId('wf-note').fill('已更换灯泡');
    await grid.page.getByTestId('wf-confirm').click();
    await grid.page.locator('[data-testid="workflow"][data-status="resolved"]').waitFor();
    await waitPendingCount(grid.page, 0);

    await openCase(desk.page, title, 'awaiting_verification');
    await waitRecord(desk.page, 'resolved');
    assert.deepEqual(await timelineActions(desk.page), ['report', 'accept', 'assign', 'start', 'report_back']);
  } finally {
    await Promise.all([lou.context.close(), desk.context.close(), grid.context.close()]);
  }
});

test('a supervisor’s note from the console reaches the reporter’s phone', async () => {
  const lou = await open('phone', 'lou1');
  const desk = await open('desktop', 'community1');
  try {
    const title = unique('井盖缺失');
    await lou1Reports(lou, title);
    await openCase(desk.page, title, 'new');
    await desk.page.getByTestId('note-input').fill('已通知市政，请先设置警示');
    await desk.page.getByTestId('add-note').click();
    await desk.page.getByTestId('note').filter({ hasText: '已通知市政' }).waitFor();
    await waitRecord(desk.page, 'reported');

    await syncFromHome(lou.page);
    await openRecord(lou.page, title);
    await lou.page.getByTestId('note').filter({ hasText: '已通知市政' }).waitFor();
    assert.deepEqual(await lou.page.getByTestId('note-by').allTextContents(), ['李秀英']);
  } finally {
    await Promise.all([lou.context.close(), desk.context.close()]);
  }
});
