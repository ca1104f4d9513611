// The visit cycle on a lane leader's phone (#13): the demo register and its month of
// visits, the schedule on the phone agreeing with the server's, people masked until a
// reveal with a reason (made offline, logged on the server at the next sync), and a visit
// recorded offline that moves the schedule at once and on the server after the sync.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { MANY_SIGN_INS, launchBrowser, newPhone, screenshot, startServer, waitUntil } from './harness.mjs';
import { picture, shot, signIn, syncFromHome } from './app.mjs';
import { login } from './interop/client.mjs';
import { DESKTOP, consoleSignIn } from './console-app.mjs';

let server;
let browser;

before(async () => {
  // The demo's register and its month of visits, made through the real write paths.
  server = await startServer({ demo: true, env: { ...MANY_SIGN_INS, HAITANG_DEMO_HISTORY: 'true' } });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.cleanup();
});

async function api(username, path) {
  const { token } = await login(server.url, username);
  const res = await fetch(`${server.url}/api/v1${path}`, { headers: { authorization: `Bearer ${token}` } });
  const text = await res.text();
  assert.equal(res.status, 200, `${path}: ${text}`);
  return JSON.parse(text);
}

/** The household lou1 visits in the first test, which the community then looks at. */
let lou1Household;

const number = async (page, testid) => Number(await page.getByTestId(testid).textContent());

test('a lane leader sees who is due, reveals a phone offline with a reason, and records a visit', async () => {
  const context = await newPhone(browser);
  const page = await context.newPage();
  await signIn(page, server.url, 'lou1');
  await waitUntil(page, async () => (await window.haitang.store.residents()).length > 0);

  // The phone computes the schedule from its own copy; it must say what the server says.
  const serverDue = await api('lou1', '/visits/due');
  const card = page.getByTestId('visits-card');
  await card.waitFor();
  assert.ok(serverDue.total.overdue > 0, 'the demo has overdue visits in lou1\'s building');
  assert.equal(await number(page, 'visits-overdue'), serverDue.total.overdue);
  assert.equal(await number(page, 'visits-due'), serverDue.total.due);
  assert.equal(await number(page, 'visits-soon'), serverDue.total.soon);
  assert.match(await page.getByTestId('visits-coverage').textContent(), /本月已走访 \d+ \/ \d+ 人/);

  // Minimum necessary: no ID number reaches the phone, not even masked-off in the cache.
  const cached = await page.evaluate(async () => window.haitang.store.residents());
  assert.ok(cached.every((r) => !('id_number' in r)));
  // (The keyed hash is hex, which can hold 18 digits in a row by chance: left out.)
  const cachedText = JSON.stringify(cached.map(({ id_hash, ...rest }) => rest));
  assert.ok(!cachedText.match(/\d{17}[\dX]/), 'no ID number in clear in the cache');
  // Households are documents; the people's names and phones are never in them.
  const docs = await page.evaluate(async () => {
    const hs = await window.haitang.store.households();
    return JSON.stringify(hs);
  });
  for (const r of cached.slice(0, 10)) {
    if (r.name) assert.ok(!docs.includes(r.name), 'a name is not in a household document');
    if (r.phone) assert.ok(!docs.includes(r.phone), 'a phone is not in a household document');
  }

  await page.getByTestId('go-visits').click();
  await page.getByTestId('visits').waitFor();
  const first = page.getByTestId('due-row').first();
  assert.equal(await first.getByTestId('due-chip').getAttribute('data-state'), 'overdue');
  await shot(page, 'visits-list');
  await first.click();
  await page.getByTestId('household').waitFor();
  const householdId = await page.getByTestId('household').getAttribute('data-id');
  const doorNumber = await page.getByTestId('household-number').textContent();
  lou1Household = doorNumber;
  const overdueHere = await page.locator('[data-testid="member"] [data-state="overdue"]').count();
  assert.ok(overdueHere > 0);
  // Masked by default: 王*英 and 138****5678.
  const pid = await page.locator('[data-testid="member"]').filter({ has: page.getByTestId('reveal') }).first().getAttribute('data-pid');
  const member = page.locator(`[data-testid="member"][data-pid="${pid}"]`);
  const resident = cached.find((r) => r.pid === pid);
  assert.ok(resident?.name && resident.phone, 'a leader\'s phone keeps name and phone to call from the lane');
  assert.equal(await member.getByTestId('member-name').textContent(), resident.name_masked);
  assert.notEqual(resident.name_masked, resident.name);
  assert.match(await member.getByTestId('phone-masked').textContent(), /^\d{3}\*{4}\d{4}$/);
  assert.ok(!(await page.content()).includes(resident.phone), 'the phone number is not on the page');
  await shot(page, 'household-masked');

  // Offline: the reveal works from the cache and waits in the phone's log.
  await context.setOffline(true);
  await member.getByTestId('reveal').click();
  await member.getByTestId('reason-verify').check();
  await member.getByTestId('reveal-confirm').click();
  await member.getByTestId('revealed').waitFor();
  assert.equal(await member.getByTestId('member-name').textContent(), resident.name);
  assert.equal(await member.getByTestId('call').getAttribute('href'), `tel:${resident.phone}`);
  const queued = await page.evaluate(async () => (await window.haitang.store.pendingAccess()).entries);
  assert.equal(queued.length, 1);
  assert.deepEqual(queued[0].fields, ['name', 'phone']);
  assert.equal(queued[0].reason, '核实信息');

  // A visit recorded offline from the household: kind, household, address and the people come filled in.
  const overdueBefore = serverDue.total.overdue;
  await page.getByTestId('household-visit').click();
  await page.getByTestId('report').waitFor();
  assert.equal(await page.getByTestId('kind-visit').getAttribute('aria-checked'), 'true');
  assert.equal(await page.getByTestId('household').inputValue(), householdId);
  const boxes = page.getByTestId('person');
  assert.ok((await boxes.count()) > 0);
  for (let i = 0; i < (await boxes.count()); i++) assert.ok(await boxes.nth(i).isChecked());
  assert.notEqual(await page.getByTestId('address').inputValue(), '');
  await page.getByTestId('category-group').selectOption('visit.care');
  await page.getByTestId('category').selectOption('visit.elderly_alone');
  await page.getByTestId('title').fill('入户走访：身体好，需要换灯泡');
  await page.getByTestId('check-wellbeing-good').click();
  await page.getByTestId('check-home-tidy').click();
  await page.getByTestId('check-safety-none').click();
  await page.getByTestId('check-needs-some').click();
  await page.getByTestId('checklist').scrollIntoViewIfNeeded();
  await screenshot(page, 'visit-checklist');
  await page.getByTestId('photo-gallery').setInputFiles([await picture(page, { width: 640, height: 480, hue: 30, name: 'visit.jpg' })]);
  await page.waitForFunction(() => document.querySelectorAll('[data-testid="draft-photo"] img').length === 1);
  await shot(page, 'visit-form');
  await page.getByTestId('save').click();
  await page.getByTestId('saved').waitFor();

  // The visit found a need: raised in one tap, linked to the visit and the household.
  assert.match(await page.getByTestId('raise-need').textContent(), /需要跟进/, 'the checklist said so');
  await page.getByTestId('raise-need').click();
  await page.getByTestId('raised-from').waitFor();
  assert.equal(await page.getByTestId('kind-need').getAttribute('aria-checked'), 'true');
  assert.equal(await page.getByTestId('household').inputValue(), householdId);
  await page.getByTestId('category-group').selectOption('need.elderly_care');
  await page.getByTestId('category').selectOption('need.errand_help');
  await page.getByTestId('title').fill('需要有人帮忙换楼道灯泡');
  await page.getByTestId('save').click();
  await page.getByTestId('saved').waitFor();
  await page.getByTestId('saved').getByRole('button').first().click();
  await page.getByTestId('detail').waitFor();
  await page.getByTestId('raised-from').click();
  await page.getByTestId('raised').filter({ hasText: '需要有人帮忙换楼道灯泡' }).waitFor();
  // The visit's checklist, in words.
  assert.equal(await page.getByTestId('detail-check-needs').textContent(), '有诉求');
  assert.equal(await page.getByTestId('detail-check-wellbeing').textContent(), '良好');

  // The schedule moves on the phone at once, before any sync.
  await page.getByTestId('nav-home').click();
  await page.waitForFunction(
    (n) => Number(document.querySelector('[data-testid="visits-overdue"]')?.textContent) === n,
    overdueBefore - overdueHere,
  );

  // Online: the visit and the reveal reach the server.
  await context.setOffline(false);
  await syncFromHome(page);
  await waitUntil(page, async () => (await window.haitang.store.pendingAccess()).entries.length === 0);
  const after = await api('lou1', '/visits/due');
  assert.equal(after.total.overdue, overdueBefore - overdueHere);
  const log = await api('admin', `/admin/access-log?pid=${pid}`);
  const entry = log.entries.find((e) => e.via === 'phone');
  assert.ok(entry, JSON.stringify(log.entries));
  assert.equal(entry.reason, '核实信息');
  assert.equal(entry.role, 'leader');
  assert.equal(entry.fields, 'name,phone');

  // The household's page lists the visit, and the record names the household by its door number.
  await page.getByTestId('go-visits').click();
  await page.getByTestId('visits-tab-all').click();
  await page.getByTestId('household-search').fill(doorNumber);
  await page.getByTestId('household-row').first().click();
  await page.getByTestId('household-record').filter({ hasText: '需要有人帮忙换楼道灯泡' }).waitFor();
  const visit = page.getByTestId('household-record').filter({ hasText: '入户走访：身体好' });
  await visit.click();
  await page.getByTestId('detail').waitFor();
  assert.match(await page.getByTestId('detail-household').textContent(), new RegExp(`^${doorNumber} · `));
  await context.close();
});

test('the community sees the plan per sector, opens a household and reveals a person for a logged reason', async () => {
  const context = await browser.newContext(DESKTOP);
  const page = await context.newPage();
  await consoleSignIn(page, server.url, 'community1');
  await page.getByTestId('tab-care').click();
  const total = page.getByTestId('care-total');
  await total.waitFor();
  const serverDue = await api('community1', '/visits/due');
  assert.equal(Number(await total.getAttribute('data-overdue')), serverDue.total.overdue);
  // Every sector's row adds up to the unit's count.
  const rows = page.getByTestId('care-sector');
  let sum = 0;
  for (let i = 0; i < (await rows.count()); i++) sum += Number(await rows.nth(i).getAttribute('data-overdue'));
  assert.equal(sum, serverDue.total.overdue);
  // Who visited in the last 30 days: lou1 among them, with the visit just recorded.
  const lou1Row = page.getByTestId('care-visitor').filter({ hasText: '顾阿姨' });
  assert.ok(Number(await lou1Row.getAttribute('data-visits')) >= 1);

  // The visit and the need lou1 recorded offline are in the household's history.
  await page.getByTestId('care-search').fill(lou1Household);
  await page.getByTestId('care-household').filter({ hasText: lou1Household }).getByRole('button').click();
  const household = page.getByTestId('care-household-page');
  await household.waitFor();
  await household.getByTestId('care-record').filter({ hasText: '入户走访：身体好' }).waitFor();
  await household.getByTestId('care-record').filter({ hasText: '需要有人帮忙换楼道灯泡' }).waitFor();
  const member = household.getByTestId('care-member').first();
  const pid = await member.getAttribute('data-pid');
  // Masked until revealed, the ID number too.
  assert.match(await member.getByTestId('care-member-name').textContent(), /\*/);
  const id = await member.getByTestId('care-member-id').textContent();
  if (id) assert.match(id, /\*{10}/);
  await screenshot(page, 'console-care');
  await member.getByTestId('care-reveal').click();
  await member.getByTestId('care-reason').fill('核对低保复审材料');
  await member.getByTestId('care-reveal-confirm').click();
  await page.waitForFunction(
    (pid) => !document.querySelector(`[data-testid="care-member"][data-pid="${pid}"] [data-testid="care-member-name"]`)?.textContent?.includes('*'),
    pid,
  );
  const log = await api('admin', `/admin/access-log?pid=${pid}`);
  const entry = log.entries.find((e) => e.reason === '核对低保复审材料');
  assert.ok(entry, JSON.stringify(log.entries));
  assert.equal(entry.via, 'server');
  assert.equal(entry.role, 'community_supervisor');

  // The community sets this person's visits to every 30 days: a change to the household
  // document, pushed from the console; the plan on the server follows.
  const householdId = await household.getAttribute('data-id');
  const interval = member.getByTestId('care-interval');
  await page.waitForFunction(
    (pid) => !document.querySelector(`[data-testid="care-member"][data-pid="${pid}"] [data-testid="care-interval"]`)?.disabled,
    pid,
  );
  await interval.selectOption('30');
  // Polled: the push goes out with the console's sync, on its own schedule.
  let after;
  for (let i = 0; i < 100; i++) {
    after = await api('community1', `/households/${householdId}`);
    if (after.members.find((m) => m.pid === pid)?.interval_days === 30) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(after.members.find((m) => m.pid === pid).interval_days, 30, JSON.stringify(after.members));
  await context.close();
});

test('a leader registers a household offline with its people, corrects one, and the server takes it all', async () => {
  const context = await newPhone(browser);
  const page = await context.newPage();
  await signIn(page, server.url, 'lou1');
  await waitUntil(page, async () => (await window.haitang.store.residents()).length > 0);
  await context.setOffline(true);
  await page.getByTestId('go-visits').click();
  await page.getByTestId('visits-tab-all').click();
  await page.getByTestId('new-household').click();
  await page.getByTestId('household-form').waitFor();
  const number = `JZ-NEW-${Date.now().toString(36)}`;
  await page.getByTestId('hh-number').fill(number);
  await page.getByTestId('hh-address').fill('金筑苑3幢601室');
  const people = page.getByTestId('person-fields');
  await people.nth(0).getByTestId('person-name').fill('钱阿婆');
  await people.nth(0).getByTestId('person-gender-female').click();
  await people.nth(0).getByTestId('person-year').fill('1938');
  await people.nth(0).getByTestId('person-phone').fill('139 1234 5678');
  await people.nth(0).getByTestId('person-tag-living_alone').check();
  await page.getByTestId('hh-add-person').click();
  await people.nth(1).getByTestId('person-name').fill('钱小明');
  await people.nth(1).getByTestId('person-relation').selectOption('grandchild');
  await people.nth(1).getByTestId('person-year').fill('abc');
  await page.getByTestId('hh-save').click();
  // A wrong year is caught on the phone, before anything is saved.
  assert.match(await page.getByTestId('hh-error').textContent(), /出生年份/);
  await people.nth(1).getByTestId('person-year').fill('2012');
  await shot(page, 'household-form');
  await page.getByTestId('hh-save').click();
  await page.getByTestId('household').waitFor();
  assert.equal(await page.getByTestId('household-number').textContent(), number);
  assert.equal(await page.getByTestId('household-sync').getAttribute('data-sync'), 'pending');
  assert.equal(await page.locator('[data-testid="member"]').count(), 2);
  // The names wait in the phone's queue, not in the household document.
  const local = await page.evaluate(async () => {
    const s = window.haitang.store;
    const id = document.querySelector('[data-testid="household"]').getAttribute('data-id');
    const entry = await s.entry(id);
    return { edits: await s.pendingEdits(), bytes: Array.from(entry.bytes), id };
  });
  assert.equal(local.edits.length, 2);
  const docText = Buffer.from(local.bytes).toString('utf8');
  assert.ok(!docText.includes('钱阿婆') && !docText.includes('13912345678'), 'no name or phone in the document');

  await context.setOffline(false);
  await syncFromHome(page);
  await waitUntil(page, async () => (await window.haitang.store.pendingEdits()).length === 0);
  const onServer = await api('community1', `/households/${local.id}`);
  assert.equal(onServer.number, number);
  const names = onServer.members.map((m) => m.name_masked).sort();
  assert.deepEqual(names, ['钱*婆', '钱*明'].sort());
  const grandma = onServer.members.find((m) => m.name_masked === '钱*婆');
  assert.equal(grandma.phone_masked, '139****5678');
  assert.deepEqual(grandma.tags, ['living_alone']);
  assert.equal(grandma.interval_days, 7, 'a weekly visit plan from the tag');

  // A correction offline: the phone number, and the grandson moved out.
  await page.getByTestId('go-visits').click();
  await page.getByTestId('visits-tab-all').click();
  await page.getByTestId('household-search').fill(number);
  await page.getByTestId('household-row').first().click();
  await context.setOffline(true);
  const row = page.locator(`[data-testid="member"][data-pid="${grandma.pid}"]`);
  await row.getByTestId('person-edit-open').click();
  await row.getByTestId('person-phone').fill('13800001111');
  await row.getByTestId('person-save').click();
  const grandson = onServer.members.find((m) => m.name_masked === '钱*明');
  page.once('dialog', (d) => d.accept());
  await page.locator(`[data-testid="member"][data-pid="${grandson.pid}"]`).getByTestId('person-status').selectOption('moved_out');
  // And the door number was wrong.
  await page.getByTestId('household-edit').click();
  await page.getByTestId('he-address').fill('金筑苑3幢602室');
  await page.getByTestId('he-save').click();
  await context.setOffline(false);
  await syncFromHome(page);
  await waitUntil(page, async () => (await window.haitang.store.pendingEdits()).length === 0);
  const corrected = await api('community1', `/households/${local.id}`);
  assert.equal(corrected.members.find((m) => m.pid === grandma.pid).phone_masked, '138****1111');
  assert.equal(corrected.members.find((m) => m.pid === grandson.pid).status, 'moved_out');
  assert.equal(corrected.address, '金筑苑3幢602室');
  // Opening the edit form showed the name and phone in clear: logged like any reveal.
  const log = await api('admin', `/admin/access-log?pid=${grandma.pid}`);
  assert.ok(log.entries.some((e) => e.via === 'phone' && e.reason === '修改信息'), JSON.stringify(log.entries));
  await context.close();
});
