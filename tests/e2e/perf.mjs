// `npm run perf`: the field app's performance figures, printed (not a timed test).
//
// - JS budget of the app shell (pwa/scripts/size.mjs; Automerge's wasm excluded);
// - opening the app offline to an interactive list of 2,000 local records under
//   4× CPU throttling (budget 1.5 s), seeded through the app's own storage code;
// - the list with 2,000 records: searching, and frame times while scrolling all of it;
// - a first sign-in on a fresh phone whose grid holds 5,000 records on the server: the
//   time until all of them are in IndexedDB and listed, as is and on a slow phone;
// - a building leader's visit list over 300 people and 600 visits, offline, 4× throttled.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { signIn } from './app.mjs';
import { launchBrowser, newPhone, REPO_ROOT, startServer, submitLogin, waitUntil } from './harness.mjs';
import { login, pullAll, syncOnce } from './interop/client.mjs';
import { A, makeRecord } from './interop/make-record.mjs';
import { addNote } from '../../pwa/src/record/core.mjs';

const RECORDS = 2000;
const THROTTLE = 4;
const OPEN_BUDGET_MS = 1500;
const RUNS = 5;
const PULLED = 5000;
const SLOW_RTT_MS = 150;

const ms = (n) => `${Math.round(n)} ms`;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const percentile = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))];

console.log('── app shell JS (pwa/scripts/size.mjs) ──');
console.log(execFileSync('node', [join(REPO_ROOT, 'pwa', 'scripts', 'size.mjs')], { encoding: 'utf8' }).trimEnd());

const server = await startServer({ demo: true });
const browser = await launchBrowser();
let failed = false;
try {
  const context = await newPhone(browser);
  const setup = await context.newPage();
  await signIn(setup, server.url, 'lou1');
  await context.setOffline(true);
  const seeded = await setup.evaluate(async (n) => {
    const store = window.haitang.store;
    const kinds = ['event', 'need', 'visit'];
    const categories = { event: 'city.garbage_exposed', need: 'need.meal_assistance', visit: 'need.errand_help' };
    const started = performance.now();
    for (let start = 0; start < n; start += 500) {
      const batch = [];
      for (let i = start; i < Math.min(n, start + 500); i++) {
        const kind = kinds[i % 3];
        batch.push({
          id: crypto.randomUUID(),
          kind,
          grid: '/gusu/byw/ws1/jinzhu/g01',
          sector: '/gusu/byw/ws1/jinzhu/g01/b1',
          category: categories[kind],
          title: `巡查记录 ${i + 1}：金筑苑3幢${(i % 30) + 1}号门口`,
          description: '楼道内堆放纸箱和旧家具，影响通行，已提醒住户清理。'.repeat(2),
          address: `金筑苑3幢${(i % 6) + 1}单元${(i % 30) + 101}室`,
          reportedBy: 7,
          reportedAt: Date.now() - i * 60_000,
          urgency: i % 10 === 0 ? 'urgent' : 'normal',
        });
      }
      await store.createMany(batch);
    }
    return { count: store.all().length, ms: performance.now() - started };
  }, RECORDS);
  console.log(`\n── seeded ${seeded.count} records through the app's store in ${ms(seeded.ms)} (offline) ──`);
  await setup.close();

  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send('Emulation.setCPUThrottlingRate', { rate: THROTTLE });
  const opens = [];
  for (let run = 0; run < RUNS; run++) {
    // A blank page in between: going to the same URL with a fragment would not reload.
    await page.goto('about:blank');
    await page.goto(`${server.url}/#records`);
    // Interactive: the list's first screen of rows is rendered.
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="record-item"]').length >= 6, null, { polling: 'raf' });
    opens.push(await page.evaluate(() => performance.now()));
  }
  const openMedian = median(opens);
  console.log(`\n── open offline to the list, ${THROTTLE}× CPU throttling, ${RECORDS} records ──`);
  console.log(`runs: ${opens.map(ms).join(', ')}`);
  console.log(`median: ${ms(openMedian)} (budget ${ms(OPEN_BUDGET_MS)}) ${openMedian <= OPEN_BUDGET_MS ? 'OK' : 'OVER BUDGET'}`);
  if (openMedian > OPEN_BUDGET_MS) failed = true;

  const list = await page.evaluate(async () => {
    const frame = () => new Promise((resolve) => requestAnimationFrame(() => resolve()));
    const items = () => document.querySelectorAll('[data-testid="record-item"]').length;
    const search = document.querySelector('[data-testid="search"]');
    const t0 = performance.now();
    search.value = '1999';
    search.dispatchEvent(new Event('input', { bubbles: true }));
    while (items() !== 1) await frame();
    const searchMs = performance.now() - t0;
    search.value = '';
    search.dispatchEvent(new Event('input', { bubbles: true }));
    while (items() === 1) await frame();
    const count = document.querySelector('[data-testid="records-count"]').textContent;
    // Scroll through the whole list of 2,000 at a quick fling's pace, timing every frame.
    const frames = [];
    let last = performance.now();
    const end = document.documentElement.scrollHeight - innerHeight;
    while (scrollY < end - 1) {
      scrollBy(0, 120);
      await frame();
      const now = performance.now();
      frames.push(now - last);
      last = now;
    }
    return { searchMs, frames, count, rendered: items() };
  });
  console.log(`\n── the list of ${RECORDS} (${list.count}; ${list.rendered} rows in the DOM at the end), ${THROTTLE}× throttling ──`);
  console.log(`search over ${RECORDS} summaries to one result: ${ms(list.searchMs)}`);
  const janky = list.frames.filter((f) => f > 50).length;
  console.log(
    `scroll: ${list.frames.length} frames, median ${ms(median(list.frames))}, p95 ${ms(percentile(list.frames, 0.95))}, max ${ms(Math.max(...list.frames))}, ${janky} over 50 ms`,
  );
  await context.close();

  await firstPull();
  await dueList();
} finally {
  await browser.close();
  await server.cleanup();
}
process.exit(failed ? 1 : 0);

/** Fills grid1's grid on the server, then times a fresh phone's sign-in until it holds all of it. */
async function firstPull() {
  const { token, user } = await login(server.url, 'grid1');
  const seedStart = performance.now();
  for (let start = 0; start < PULLED; start += 500) {
    const push = [];
    for (let i = start; i < Math.min(PULLED, start + 500); i++) {
      const id = crypto.randomUUID();
      const { doc } = makeRecord({ id, userId: user.id, grid: '/gusu/byw/ws1/jinzhu/g01', sector: '/gusu/byw/ws1/jinzhu/g01/b1', category: 'city.garbage_exposed', title: `井盖松动 ${i + 1}` });
      // A record's usual life before anyone pulls it: reported, described again, noted.
      const described = A.change(doc, (d) => A.splice(d, ['description'], 0, 0, '已用锥桶围住。'));
      const noted = addNote(A, described, { by: user.id, at: Date.now(), text: '已通知物业。' });
      push.push({ doc: id, changes: A.getAllChanges(noted) });
    }
    const res = await syncOnce(server.url, token, { push });
    const refused = res.results.filter((r) => !r.ok);
    if (refused.length) throw new Error(`seeding refused: ${JSON.stringify(refused[0])}`);
  }
  const nodeStart = performance.now();
  const total = (await pullAll(server.url, token)).size;
  const nodeMs = performance.now() - nodeStart;
  console.log(`\n── first pull: ${total} records in grid1's scope (${PULLED} seeded in ${ms(nodeStart - seedStart)}) ──`);
  console.log(`Node client, Automerge.load only, no storage: ${ms(nodeMs)}`);

  const conditions = [
    ['as is', null],
    [`${THROTTLE}× CPU throttling, ${SLOW_RTT_MS} ms round trip, 20 Mbit/s`, { cpu: THROTTLE, rtt: SLOW_RTT_MS, bytesPerSec: 20e6 / 8 }],
  ];
  for (const [name, slow] of conditions) {
    const phone = await newPhone(browser);
    const page = await phone.newPage();
    if (slow) {
      const cdp = await phone.newCDPSession(page);
      await cdp.send('Emulation.setCPUThrottlingRate', { rate: slow.cpu });
      await cdp.send('Network.enable');
      await cdp.send('Network.emulateNetworkConditions', {
        offline: false,
        latency: slow.rtt,
        downloadThroughput: slow.bytesPerSec,
        uploadThroughput: slow.bytesPerSec,
      });
    }
    await page.goto(server.url);
    await page.locator('#username').waitFor();
    const t0 = performance.now();
    await submitLogin(page, 'grid1', 'demo');
    await page.waitForFunction(
      (n) => {
        const h = window.haitang;
        return Boolean(h && h.store.all().length >= n && !h.syncer.status.running);
      },
      total,
      { polling: 50, timeout: 300_000 },
    );
    const elapsed = performance.now() - t0;
    await page.getByTestId('home').waitFor();
    console.log(`PWA, sign-in to ${total} records stored and listed, ${name}: ${ms(elapsed)}`);
    await phone.close();
  }
}

/**
 * A building leader's patch of 300 people (120 households, a third of them on a visit
 * plan, 600 visits on the phone): the home card and the visit list, offline, 4× throttled.
 */
async function dueList() {
  const HOUSEHOLDS = 120;
  const { token } = await login(server.url, 'admin');
  let csv = '户号,网格,片区,地址,姓名,性别,出生年份,与户主关系,联系电话,关爱标签\n';
  let people = 0;
  const tags = ['独居老人', '空巢老人', '高龄老人', '残疾人', '低保户', ''];
  for (let h = 0; h < HOUSEHOLDS && people < 300; h++) {
    const size = [2, 3, 2, 3, 2][h % 5];
    for (let p = 0; p < size && people < 300; p++, people++) {
      const tag = p === 0 ? tags[h % tags.length] : '';
      csv += `P-${String(h).padStart(4, '0')},/gusu/byw/ws1/jinzhu/g01,/gusu/byw/ws1/jinzhu/g01/b1,金筑苑3幢${101 + h}室,测试${h}-${p},${p % 2 ? '男' : '女'},${1935 + ((h * 7 + p) % 60)},${p === 0 ? '户主' : '配偶'},1390000${String(h * 10 + p).padStart(4, '0')},${tag}\n`;
    }
  }
  const res = await fetch(`${server.url}/api/v1/admin/households/import`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'text/csv' },
    body: csv,
  });
  if (!res.ok) throw new Error(`importing the perf register: ${res.status} ${await res.text()}`);

  const context = await newPhone(browser);
  const setup = await context.newPage();
  await signIn(setup, server.url, 'lou1');
  await waitUntil(setup, async (n) => (await window.haitang.store.residents()).length >= n, people);
  await context.setOffline(true);
  // Visits recorded on the phone, 5 a household, over the last four weeks.
  await setup.evaluate(async () => {
    const store = window.haitang.store;
    const households = await store.households();
    const visits = [];
    households.forEach((h, i) => {
      for (let v = 0; v < 5; v++) {
        visits.push({
          id: crypto.randomUUID(),
          kind: 'visit',
          grid: h.grid,
          sector: h.sector,
          category: 'visit.elderly_alone',
          title: `入户走访 ${h.number}`,
          description: '身体状况稳定。',
          address: h.address,
          household: h.id,
          persons: h.members.map((m) => m.pid).slice(0, 1 + (v % 2)),
          reportedBy: 7,
          reportedAt: Date.now() - ((i * 3 + v * 5) % 28) * 86_400_000,
          urgency: 'normal',
        });
      }
    });
    await store.createMany(visits);
  });
  await setup.close();

  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send('Emulation.setCPUThrottlingRate', { rate: THROTTLE });
  const boots = [];
  const taps = [];
  for (let run = 0; run < RUNS; run++) {
    await page.goto('about:blank');
    await page.goto(`${server.url}/#visits`);
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="due-row"]').length > 0, null, { polling: 'raf' });
    boots.push(await page.evaluate(() => performance.now()));
    await page.getByTestId('nav-home').click();
    await page.getByTestId('visits-card').waitFor();
    taps.push(
      await page.evaluate(async () => {
        const t0 = performance.now();
        document.querySelector('[data-testid="go-visits"]').click();
        while (!document.querySelector('[data-testid="due-row"]')) await new Promise((r) => requestAnimationFrame(r));
        return performance.now() - t0;
      }),
    );
  }
  const rows = await page.locator('[data-testid="due-row"]').count();
  console.log(`\n── the visit list: ${people} people in ${HOUSEHOLDS} households, 600 visits on the phone, offline, ${THROTTLE}× CPU throttling ──`);
  console.log(`open the app at #visits to the list (boot, storage, schedule, render): median ${ms(median(boots))} (runs ${boots.map(ms).join(', ')})`);
  console.log(`tap 走访名单 on home to the list of ${rows} due (read the cache, compute the schedule, render): median ${ms(median(taps))} (runs ${taps.map(ms).join(', ')})`);
  await context.close();
}
