// The field app end to end: recording offline, syncing when the network returns,
// two people editing one record, a refusal from the server, and a record that leaves
// the area.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, before, test } from 'node:test';
import { MANY_SIGN_INS, launchBrowser, newPhone, screenshot, startServer, submitLogin } from './harness.mjs';
import { listTitles, openRecord, shot, pendingCount, report, signIn, syncFromHome, waitPendingCount } from './app.mjs';
import { login, pullAll, syncOnce } from './interop/client.mjs';
import { A, makeRecord } from './interop/make-record.mjs';

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

async function phone(options) {
  const context = await newPhone(browser, options);
  return { context, page: await context.newPage() };
}

/** Whether the phone holds the record (its list summary is written with the document). */
async function onPhone(page, id) {
  return page.evaluate((id) => window.haitang.store.summary(id) !== undefined, id);
}

/** The community hands a record to grid 2, out of grid1's area. */
async function moveToGrid2(id) {
  const { token } = await login(server.url, 'community1');
  const doc = (await pullAll(server.url, token)).get(id);
  assert.ok(doc, 'community1 sees the record');
  const moved = A.change(doc, (d) => {
    d.grid = '/gusu/byw/ws1/jinzhu/g02';
    delete d.sector;
  });
  const res = await syncOnce(server.url, token, { push: [{ doc: id, changes: A.getChanges(doc, moved) }] });
  assert.equal(res.results[0].ok, true, JSON.stringify(res.results[0]));
}

/**
 * Cuts a record's saved state short on the server, as a crafted change once left one
 * (the server now refuses such a change), so no Automerge can load it.
 */
function damageOnServer(id) {
  execFileSync('python3', [
    '-c',
    'import sqlite3, sys\nc = sqlite3.connect(sys.argv[1], timeout=30)\nc.execute("UPDATE docs SET state = substr(state, 1, length(state) - 3) WHERE id = ?", (sys.argv[2],))\nc.commit()',
    server.dbPath,
    id,
  ]);
}

/** Titles of the records grid1 can see on the server, by id. */
async function serverTitles() {
  const { token } = await login(server.url, 'grid1');
  const docs = await pullAll(server.url, token);
  return new Map(Array.from(docs, ([id, doc]) => [id, String(doc.title)]));
}

test('three records made offline survive a reload and reach the server when back online', async () => {
  const { context, page } = await phone({ geolocation: { latitude: 31.3265, longitude: 120.6132, accuracy: 12 }, permissions: ['geolocation'] });
  try {
    await signIn(page, server.url, 'lou1');
    await shot(page, 'field-home');
    await context.setOffline(true);

    const titles = ['楼道堆放杂物', '独居老人需要助餐', '3幢门口垃圾满溢'].map((t) => `${t}-${Date.now()}`);
    await page.getByTestId('nav-report').click();
    await page.getByTestId('locate').click();
    await page.getByTestId('location').waitFor();
    assert.match(await page.getByTestId('location').textContent(), /31\.32650, 120\.61320.*12/);
    await report(page, { title: titles[0], description: '三楼到四楼之间', address: '金筑苑3幢2单元' });
    await report(page, { kind: 'need', group: 'need.elderly_care', category: 'need.meal_assistance', title: titles[1], address: '金筑苑3幢301' });
    await page.getByTestId('urgency-urgent').click();
    await report(page, { category: 'city.garbage_overflow', title: titles[2] });
    await shot(page, 'field-report-saved');
    assert.equal(await pendingCount(page), 3);

    await page.reload();
    await page.getByTestId('home').waitFor();
    assert.equal(await page.getByTestId('net-status').getAttribute('data-online'), 'false');
    await waitPendingCount(page, 3);
    assert.deepEqual(new Set(await listTitles(page)), new Set(titles));
    await shot(page, 'field-records-offline');

    await context.setOffline(false);
    await waitPendingCount(page, 0);
    const onServer = await serverTitles();
    for (const title of titles) assert.ok([...onServer.values()].includes(title), `${title} on the server`);
    await page.getByTestId('nav-records').click();
    assert.equal(await page.locator('[data-testid="record-item"][data-sync="synced"]').count(), 3);

    await openRecord(page, titles[0]);
    assert.equal(await page.getByTestId('detail-sync').getAttribute('data-sync'), 'synced');
    assert.equal(await page.getByTestId('detail-description').textContent(), '三楼到四楼之间');
    assert.equal(await page.getByTestId('history-item').count(), 1);
    await shot(page, 'field-detail');
  } finally {
    await context.close();
  }
});

test('two people of one grid edit the same record offline and both edits survive', async () => {
  const a = await phone();
  const b = await phone();
  try {
    await signIn(a.page, server.url, 'lou1');
    await signIn(b.page, server.url, 'grid1');
    const title = `西园弄路灯不亮-${Date.now()}`;
    await report(a.page, { group: 'city.other', category: 'city.facility_damaged', title, description: '晚上很暗' });
    await waitPendingCount(a.page, 0);
    await syncFromHome(b.page);
    assert.ok((await listTitles(b.page)).includes(title), 'grid1 has lou1’s record');

    await a.context.setOffline(true);
    await b.context.setOffline(true);
    await openRecord(a.page, title);
    await a.page.getByTestId('edit-description').click();
    await a.page.getByTestId('description-input').fill('晚上很暗，老人走路不安全');
    await a.page.getByTestId('save-description').click();
    await a.page.getByTestId('detail-description').filter({ hasText: '老人走路不安全' }).waitFor();

    await openRecord(b.page, title);
    await b.page.getByTestId('note-input').fill('已报修，明天来人');
    await b.page.getByTestId('add-note').click();
    await b.page.getByTestId('note').filter({ hasText: '已报修' }).waitFor();

    await a.context.setOffline(false);
    await waitPendingCount(a.page, 0);
    await b.context.setOffline(false);
    await waitPendingCount(b.page, 0);
    // lou1 synced before grid1's note was on the server; the next sync brings it.
    await syncFromHome(a.page);

    for (const { page } of [a, b]) {
      await openRecord(page, title);
      assert.equal(await page.getByTestId('detail-description').textContent(), '晚上很暗，老人走路不安全');
      assert.deepEqual(await page.locator('[data-testid="note"] .prewrap').allTextContents(), ['已报修，明天来人']);
      assert.equal(await page.getByTestId('history-item').count(), 3);
      // Each phone names the other person, from the district's people it keeps offline.
      assert.equal(await page.getByTestId('detail-reporter').textContent(), '顾阿姨');
      assert.deepEqual(await page.getByTestId('note-by').allTextContents(), ['张伟']);
    }
    await shot(b.page, 'field-detail-merged');
  } finally {
    await a.context.close();
    await b.context.close();
  }
});

test('a refused push shows the server’s reason, copies out, and resets to the server’s version', async () => {
  const { context, page } = await phone({ permissions: ['clipboard-read', 'clipboard-write'] });
  try {
    await signIn(page, server.url, 'grid1');

    // A record the server has: an offline edit of its text plus a category the
    // server does not know, so the push is refused as a whole.
    const title = `仓库门口乱堆物料-${Date.now()}`;
    await report(page, { category: 'city.material_piled', title, description: '原来的描述' });
    await waitPendingCount(page, 0);
    await context.setOffline(true);
    await openRecord(page, title);
    await page.getByTestId('edit-description').click();
    await page.getByTestId('description-input').fill('离线时改写的描述，不能丢');
    await page.getByTestId('save-description').click();
    await page.getByTestId('detail-description').filter({ hasText: '不能丢' }).waitFor();
    const id = await page.getByTestId('detail').getAttribute('data-id');
    await page.evaluate(
      (id) => window.haitang.store.edit(id, (A, doc) => A.change(doc, (d) => { d.category = new A.ImmutableString('city.no_such_category'); })),
      id,
    );
    await context.setOffline(false);
    await page.getByTestId('refusal').waitFor();
    assert.equal(await page.getByTestId('refusal-code').textContent(), 'invalid_document');
    assert.match(await page.getByTestId('refusal-message').textContent(), /categor/);
    assert.equal(await page.getByTestId('detail-sync').getAttribute('data-sync'), 'refused');
    await shot(page, 'field-refused');

    await page.getByTestId('copy').click();
    const copied = await page.evaluate(() => navigator.clipboard.readText());
    assert.match(copied, /^invalid_document: /);
    assert.match(copied, /离线时改写的描述，不能丢/);

    await page.getByTestId('reset').click();
    await page.getByTestId('refusal').waitFor({ state: 'detached' });
    await page.getByTestId('detail-description').filter({ hasText: '原来的描述' }).waitFor();
    assert.equal(await page.getByTestId('detail-sync').getAttribute('data-sync'), 'synced');
    assert.match(await page.getByTestId('kept').textContent(), /离线时改写的描述，不能丢/);
    await shot(page, 'field-reset');
    assert.equal(await pendingCount(page), 0);
  } finally {
    await context.close();
  }
});

test('a new record the server refuses cannot be reset, and says why', async () => {
  const { context, page } = await phone({ permissions: ['clipboard-read', 'clipboard-write'] });
  try {
    await signIn(page, server.url, 'grid1');
    // The phone's cached catalogue offers a category the server no longer has.
    await context.setOffline(true);
    await page.evaluate(async () => {
      const store = window.haitang.store;
      const categories = await store.meta('catalogue');
      const bogus = { code: 'city.retired', parent: null, name_zh: '已停用类别', name_en: 'Retired', kinds: ['event'], handling_hours: 24, field_resolvable: false };
      await store.setMeta('catalogue', [...categories, bogus]);
    });
    await page.reload();
    await page.getByTestId('home').waitFor();
    const title = `停用类别的记录-${Date.now()}`;
    await report(page, { group: 'city.retired', category: 'city.retired', title, description: '这段文字要能复制出来' });
    await context.setOffline(false);
    await page.getByTestId('nav-home').click();
    await page.getByTestId('refused-count').waitFor();
    // A refused sync is the phone's trouble, 同步失败; 退回 means a supervisor's return (#17, 7).
    assert.equal(await page.locator('.sync-refused span').nth(1).textContent(), '条同步失败');
    assert.equal(await page.getByTestId('pending-count').textContent(), '1');

    await openRecord(page, title);
    assert.equal(await page.getByTestId('refusal-code').textContent(), 'invalid_document');
    assert.ok(await page.getByTestId('reset').isDisabled());
    await page.getByTestId('reset-disabled').waitFor();
    await page.getByTestId('copy').click();
    assert.match(await page.evaluate(() => navigator.clipboard.readText()), /这段文字要能复制出来/);
  } finally {
    await context.close();
  }
});

test('when the session cannot be renewed, signing in again pushes what was recorded meanwhile', async () => {
  const { context, page } = await phone();
  try {
    await signIn(page, server.url, 'xiang1');
    await context.setOffline(true);
    const title = `登录过期前的记录-${Date.now()}`;
    await report(page, { title, description: '令牌失效也不能丢' });
    // Both tokens rejected: the access token expired and the refresh token was revoked.
    await page.evaluate(
      () =>
        new Promise((resolve, reject) => {
          const open = indexedDB.open('haitang');
          open.onsuccess = () => {
            const tx = open.result.transaction('session', 'readwrite');
            const store = tx.objectStore('session');
            const get = store.get('current');
            get.onsuccess = () => store.put({ ...get.result, access_token: 'expired', refresh_token: 'revoked' }, 'current');
            tx.oncomplete = () => resolve(open.result.close());
            tx.onerror = () => reject(tx.error);
          };
        }),
    );
    await context.setOffline(false);
    await page.getByTestId('expired').waitFor();
    const response = await submitLogin(page, 'xiang1', 'demo');
    assert.equal(response.status(), 200);
    await waitPendingCount(page, 0);
    assert.ok([...(await serverTitles()).values()].includes(title), 'the record reached the server');
  } finally {
    await context.close();
  }
});

test('an edit made while a sync is under way goes up right after it, not at the next periodic sync', async () => {
  const a = await phone();
  try {
    await signIn(a.page, server.url, 'grid1');
    const title = `楼道灯坏了-${Date.now()}`;
    await report(a.page, { group: 'city.other', category: 'city.facility_damaged', title });
    await waitPendingCount(a.page, 0);

    // The next sync request waits in the browser until the second note is written, so
    // that note cannot be in the sync's batch.
    let release;
    const held = new Promise((resolve) => {
      release = resolve;
    });
    let first = true;
    await a.page.route('**/api/v1/sync', async (route) => {
      if (first) {
        first = false;
        await held;
      }
      await route.continue();
    });
    await openRecord(a.page, title);
    await a.page.getByTestId('note-input').fill('第一条：已到现场');
    await a.page.getByTestId('add-note').click();
    await a.page.getByTestId('note').filter({ hasText: '第一条' }).waitFor();
    await a.page.waitForFunction(() => window.haitang.syncer.status.running);
    await a.page.getByTestId('note-input').fill('第二条：已联系物业');
    await a.page.getByTestId('add-note').click();
    await a.page.getByTestId('note').filter({ hasText: '第二条' }).waitFor();
    release();

    // The periodic sync is minutes away; the wait below gives up after 30 s.
    await waitPendingCount(a.page, 0);
    const notes = await serverNotes(title);
    assert.deepEqual(notes, ['第一条：已到现场', '第二条：已联系物业']);
  } finally {
    await a.context.close();
  }
});

/**
 * The note texts of the record titled `title`, as the server has them. Asks as the
 * community's supervisor: this file signs grid1 in often enough to meet the sign-in limit.
 */
async function serverNotes(title) {
  const { token } = await login(server.url, 'community1');
  const docs = await pullAll(server.url, token);
  const doc = Array.from(docs.values()).find((d) => String(d.title) === title);
  return (doc?.notes ?? []).map((n) => String(n.text));
}

test('a record moved out of the area while edited offline stays on the phone until its user removes it', async () => {
  const { context, page } = await phone({ permissions: ['clipboard-read', 'clipboard-write'] });
  try {
    await signIn(page, server.url, 'grid1');
    const title = `巷口井盖松动-${Date.now()}`;
    await report(page, { title, description: '上报时的描述' });
    await waitPendingCount(page, 0);
    await openRecord(page, title);
    const id = await page.getByTestId('detail').getAttribute('data-id');

    await context.setOffline(true);
    await page.getByTestId('edit-description').click();
    await page.getByTestId('description-input').fill('离线补充：井盖已用锥桶围住');
    await page.getByTestId('save-description').click();
    await page.getByTestId('detail-description').filter({ hasText: '锥桶' }).waitFor();

    // Meanwhile the community hands the record to grid 2.
    await moveToGrid2(id);

    await context.setOffline(false);
    await page.getByTestId('refusal').waitFor();
    assert.equal(await page.getByTestId('refusal-code').textContent(), 'out_of_scope');
    await page.getByTestId('evicted').waitFor();
    assert.equal(await page.getByTestId('detail-sync').getAttribute('data-sync'), 'refused');
    assert.equal(await page.getByTestId('reset').count(), 0, 'there is no server version to reset to');
    await shot(page, 'field-evicted');

    // Still there after a reload and another sync: the server does not send it again.
    await page.reload();
    await syncFromHome(page);
    assert.equal(await onPhone(page, id), true);
    await openRecord(page, title);
    await page.getByTestId('copy').click();
    assert.match(await page.evaluate(() => navigator.clipboard.readText()), /井盖已用锥桶围住/);

    page.once('dialog', (d) => d.accept());
    await page.getByTestId('discard').click();
    await page.getByTestId('detail').waitFor({ state: 'detached' });
    assert.equal(await onPhone(page, id), false, 'removed once the user chose to');
    assert.equal(await pendingCount(page), 0);
  } finally {
    await context.close();
  }
});

test('a record moved out of the area with nothing unsent simply leaves the phone', async () => {
  const { context, page } = await phone();
  try {
    await signIn(page, server.url, 'grid1');
    const title = `树枝压线-${Date.now()}`;
    await report(page, { title });
    await waitPendingCount(page, 0);
    await openRecord(page, title);
    const id = await page.getByTestId('detail').getAttribute('data-id');
    await page.getByTestId('back').click();

    await moveToGrid2(id);

    await syncFromHome(page);
    assert.equal(await onPhone(page, id), false);
  } finally {
    await context.close();
  }
});

test('a first sign-in stores each pulled record in its own bytes, not the whole response', async () => {
  const { token, user } = await login(server.url, 'grid1');
  const ids = Array.from({ length: 30 }, () => crypto.randomUUID());
  const push = ids.map((id, i) => {
    const { changes } = makeRecord({ id, userId: user.id, grid: '/gusu/byw/ws1/jinzhu/g01', category: 'city.garbage_exposed', title: `拉取存储-${i}` });
    return { doc: id, changes };
  });
  const res = await syncOnce(server.url, token, { push });
  assert.ok(res.results.every((r) => r.ok), JSON.stringify(res.results.find((r) => !r.ok)));

  const { context, page } = await phone();
  try {
    await signIn(page, server.url, 'grid1');
    const stored = await page.evaluate(async (ids) => {
      const store = window.haitang.store;
      return Promise.all(
        ids.map(async (id) => {
          const e = await store.entry(id);
          return e && { bytes: e.bytes.byteLength, buffer: e.bytes.buffer.byteLength, sync: store.summary(id)?.sync };
        }),
      );
    }, ids);
    for (const s of stored) {
      assert.ok(s, 'every record reached the phone');
      assert.equal(s.buffer, s.bytes, 'a record’s stored bytes are its own');
      assert.equal(s.sync, 'synced');
    }
  } finally {
    await context.close();
  }
});

test('a sync whose connection stalls is given up and tried again, so later syncs are not blocked', async () => {
  const { context, page } = await phone();
  try {
    // A fake clock that still runs on its own: the test moves it past the stall allowance.
    await page.clock.install();
    await signIn(page, server.url, 'grid1');
    // The link hangs: requests leave and nothing ever comes back.
    const stalled = [];
    await page.route('**/api/v1/sync', (route) => stalled.push(route));
    const title = `信号不好时的上报-${Date.now()}`;
    await report(page, { title, description: '连接卡住也不能一直转圈' });
    await page.getByTestId('nav-home').click();
    await page.waitForFunction(() => window.haitang.syncer.status.running);
    assert.ok(stalled.length >= 1, 'the sync went out');
    assert.ok(await page.getByTestId('sync-now').isDisabled());

    await page.clock.fastForward(2 * 60_000);
    await page.waitForFunction(() => {
      const s = window.haitang.syncer.status;
      return !s.running && s.error === 'network' && s.retryAt !== null;
    });
    assert.equal(await pendingCount(page), 1, 'the record still waits, nothing lost');

    // The signal is back: the next attempt goes through.
    await page.unroute('**/api/v1/sync');
    await page.getByTestId('sync-now').click();
    await waitPendingCount(page, 0);
    assert.ok([...(await serverTitles()).values()].includes(title), 'the record reached the server');
  } finally {
    await context.close();
  }
});

test('a record whose copy on the server is damaged does not stop a first sign-in from storing the rest', async () => {
  const { token, user } = await login(server.url, 'grid1');
  const ids = Array.from({ length: 5 }, () => crypto.randomUUID());
  const push = ids.map((id, i) => {
    const { changes } = makeRecord({ id, userId: user.id, grid: '/gusu/byw/ws1/jinzhu/g01', category: 'city.garbage_exposed', title: `损坏隔离-${i}` });
    return { doc: id, changes };
  });
  const res = await syncOnce(server.url, token, { push });
  assert.ok(res.results.every((r) => r.ok), JSON.stringify(res.results.find((r) => !r.ok)));
  // A record damaged before the server checked that every push loads back: its saved
  // state is cut short, as a crafted change once left one, so no Automerge can load it.
  const damaged = ids[2];
  damageOnServer(damaged);

  const { context, page } = await phone();
  try {
    await signIn(page, server.url, 'grid1');
    const stored = await page.evaluate(
      (ids) => Promise.all(ids.map(async (id) => Boolean(await window.haitang.store.entry(id)))),
      ids,
    );
    assert.deepEqual(stored, ids.map((id) => id !== damaged), 'every record but the damaged one is on the phone');
  } finally {
    await context.close();
  }
});

test('a note on a record damaged on the server stays on the phone, with the reason, in Chinese and English', async () => {
  const { context, page } = await phone();
  try {
    await signIn(page, server.url, 'lou1');
    const title = `楼道堆物-${Date.now()}`;
    await report(page, { title, description: '三楼楼道堆放纸箱' });
    await waitPendingCount(page, 0);
    await openRecord(page, title);
    damageOnServer(await page.getByTestId('detail').getAttribute('data-id'));
    await page.getByTestId('note-input').fill('已提醒住户清理');
    await page.getByTestId('add-note').click();
    await page.getByTestId('refusal').waitFor();
    assert.equal(await page.getByTestId('refusal-code').textContent(), 'damaged');
    assert.match(await page.getByTestId('refusal').textContent(), /服务器上这条记录的副本已损坏/);
    assert.ok(await page.getByTestId('note').filter({ hasText: '已提醒住户清理' }).count(), 'the note is kept');
    assert.equal(await page.getByTestId('reset').count(), 0, 'no server version to go back to');
    await shot(page, 'field-damaged-zh');
    await page.getByTestId('refusal').scrollIntoViewIfNeeded();
    await screenshot(page, 'field-damaged-zh-reason');

    await page.evaluate(() => localStorage.setItem('haitang.lang', 'en'));
    await page.reload();
    await openRecord(page, title);
    await page.getByTestId('refusal').waitFor();
    assert.match(await page.getByTestId('refusal').textContent(), /server's copy of this record is damaged/);
    await shot(page, 'field-damaged-en');
    await page.getByTestId('refusal').scrollIntoViewIfNeeded();
    await screenshot(page, 'field-damaged-en-reason');
  } finally {
    await context.close();
  }
});
