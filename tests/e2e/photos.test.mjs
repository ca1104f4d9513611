// Photos on records (issue 6): taken offline, shown from the phone's own storage,
// uploaded apart from the record sync once the signal returns, resumed after a
// dropped chunk, and seen by others through GET /api/v1/blobs/{sha256}.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, test } from 'node:test';
import { MANY_SIGN_INS, launchBrowser, newPhone, screenshot, startServer } from './harness.mjs';
import { openRecord, picture, signIn, syncFromHome, waitPendingCount } from './app.mjs';
import { login } from './interop/client.mjs';

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

async function phone() {
  const context = await newPhone(browser);
  return { context, page: await context.newPage() };
}

/** Fills in a report, adds `files` from the album, saves, and opens the saved record. */
async function reportWithPhotos(page, title, files) {
  await page.getByTestId('nav-report').click();
  await page.getByTestId('kind-event').click();
  await page.getByTestId('category-group').selectOption('city.environment');
  await page.getByTestId('category').selectOption('city.garbage_exposed');
  await page.getByTestId('title').fill(title);
  await page.getByTestId('photo-gallery').setInputFiles(files);
  await page.waitForFunction((n) => document.querySelectorAll('[data-testid="draft-photo"] img').length === n, files.length);
  await page.getByTestId('save').click();
  await page.getByTestId('saved').waitFor();
  await page.getByTestId('saved').getByRole('button').click();
  await page.getByTestId('detail').waitFor();
}

/** Waits until the record on screen shows `n` photos, all in `state`, each thumbnail decoded. */
async function waitPhotos(page, n, state) {
  await page.waitForFunction(
    ({ n, state }) => {
      const photos = [...document.querySelectorAll('[data-testid="detail-photos"] [data-testid="photo"]')];
      return (
        photos.length === n &&
        photos.every((p) => p.getAttribute('data-state') === state) &&
        (state === 'waiting' || photos.every((p) => p.querySelector('img')?.naturalWidth > 0))
      );
    },
    { n, state },
  );
}

async function photoShas(page) {
  return page.locator('[data-testid="detail-photos"] [data-testid="photo"]').evaluateAll((els) => els.map((e) => e.getAttribute('data-sha')));
}

/** The attachments of the record on screen, as stored in its document on the phone. */
async function storedAttachments(page) {
  const id = await page.getByTestId('detail').getAttribute('data-id');
  return page.evaluate(async (id) => {
    const { doc } = await window.haitang.store.load(id);
    return Array.from(doc.attachments, (a) => ({
      sha256: String(a.sha256),
      mime: String(a.mime),
      bytes: a.bytes,
      width: a.width,
      height: a.height,
      taken_at: a.taken_at,
      by: a.by,
    }));
  }, id);
}

async function blob(token, sha, method = 'GET') {
  const res = await fetch(new URL(`/api/v1/blobs/${sha}`, server.url), {
    method,
    headers: { Authorization: `Bearer ${token}` },
  });
  return { status: res.status, type: res.headers.get('content-type'), bytes: Buffer.from(await res.arrayBuffer()) };
}

/** A screenshot with the record's photos in view. */
async function photosShot(page, name) {
  await page.getByTestId('detail-photos').evaluate((el) => el.scrollIntoView({ block: 'center' }));
  return screenshot(page, name);
}

const sha256 = (bytes) => createHash('sha256').update(bytes).digest('hex');

test('three photos taken offline show from the phone, upload when online and reach a supervisor', async () => {
  const lou = await phone();
  const grid = await phone();
  try {
    const { page, context } = lou;
    await signIn(page, server.url, 'lou1');
    await context.setOffline(true);

    const files = [
      await picture(page, { width: 2400, height: 1800, hue: 10, name: 'a.jpg' }),
      await picture(page, { width: 900, height: 1200, hue: 140, type: 'image/png', name: 'b.png' }),
      await picture(page, { width: 1280, height: 720, hue: 260, name: 'c.jpg' }),
    ];
    const title = `占道堆放建筑垃圾-${Date.now()}`;
    await reportWithPhotos(page, title, files);

    // Offline: thumbnails come from IndexedDB, and the record says what is still to go.
    await waitPhotos(page, 3, 'pending');
    assert.equal(await page.getByTestId('photos-waiting').getAttribute('data-count'), '3');
    assert.match(await page.getByTestId('photos-waiting').textContent(), /3 张照片待上传/);
    await photosShot(page, 'photos-offline');

    // Resized on the phone, JPEG, named by hash, referenced from the record.
    const attachments = await storedAttachments(page);
    assert.equal(attachments.length, 3);
    const shas = await photoShas(page);
    assert.deepEqual(attachments.map((a) => a.sha256), shas);
    const me = await page.evaluate(() => window.haitang.store.userId);
    for (const a of attachments) {
      assert.match(a.sha256, /^[0-9a-f]{64}$/);
      assert.equal(a.mime, 'image/jpeg');
      assert.equal(a.by, me);
      assert.ok(a.bytes > 0 && Number.isInteger(a.bytes));
      assert.ok(Math.max(a.width, a.height) <= 1600);
      assert.ok(a.taken_at > 0);
    }
    assert.deepEqual([attachments[0].width, attachments[0].height], [1600, 1200]);
    assert.deepEqual([attachments[1].width, attachments[1].height], [900, 1200]);

    // Still there after a reload with no network.
    await page.reload();
    await page.getByTestId('home').waitFor();
    await openRecord(page, title);
    await waitPhotos(page, 3, 'pending');

    // The full photo opens on tap, offline too.
    await page.locator('[data-testid="detail-photos"] [data-testid="photo"]').first().click();
    await page.waitForFunction(() => document.querySelector('[data-testid="photo-viewer"] img')?.naturalWidth === 1600);
    await page.getByTestId('photo-viewer-close').click();
    await page.getByTestId('photo-viewer').waitFor({ state: 'detached' });

    // Back online: the record syncs, then the photos go up and the notice clears.
    await context.setOffline(false);
    await waitPhotos(page, 3, 'local');
    await page.getByTestId('photos-waiting').waitFor({ state: 'detached' });
    await waitPendingCount(page, 0);

    // A supervisor of the community gets exactly the bytes the phone named.
    const { token } = await login(server.url, 'community1');
    for (const a of attachments) {
      assert.equal((await blob(token, a.sha256, 'HEAD')).status, 200);
      const got = await blob(token, a.sha256);
      assert.equal(got.status, 200);
      assert.equal(got.type, 'image/jpeg');
      assert.equal(got.bytes.length, a.bytes);
      assert.equal(sha256(got.bytes), a.sha256);
    }

    // The grid's staff member sees them on their phone, downloaded once and kept.
    await signIn(grid.page, server.url, 'grid1');
    await openRecord(grid.page, title);
    await waitPhotos(grid.page, 3, 'local');
    assert.deepEqual(await photoShas(grid.page), shas);
    assert.equal(await grid.page.getByTestId('photos-waiting').count(), 0);
    await photosShot(grid.page, 'photos-other-phone');
    await grid.context.setOffline(true);
    await grid.page.getByTestId('back').click();
    await openRecord(grid.page, title);
    await waitPhotos(grid.page, 3, 'local');
  } finally {
    await lou.context.close();
    await grid.context.close();
  }
});

test('an upload cut off mid-photo resumes from the server’s offset; others see it as waiting until then', async () => {
  const lou = await phone();
  const grid = await phone();
  try {
    const { page } = lou;
    await signIn(page, server.url, 'lou1');

    // First no photo gets through; later the second chunk reaches the server but its answer is lost.
    let blocked = true;
    let cutSecond = false;
    const puts = [];
    await page.route('**/api/v1/blobs/*', async (route) => {
      const req = route.request();
      if (blocked) return route.abort('internetdisconnected');
      if (req.method() !== 'PUT') return route.continue();
      const range = req.headers()['content-range'] ?? null;
      puts.push(range);
      if (cutSecond && puts.length === 2) {
        cutSecond = false;
        const response = await route.fetch();
        puts.cut = { range, status: response.status(), offset: response.headers()['upload-offset'] };
        return route.abort('connectionreset');
      }
      return route.continue();
    });

    const title = `井盖缺失-${Date.now()}`;
    await reportWithPhotos(page, title, [await picture(page, { width: 1600, height: 1200, noise: true, name: 'noise.jpg' })]);
    await waitPendingCount(page, 0); // the record is on the server, its photo is not
    await openRecord(page, title);
    await waitPhotos(page, 1, 'pending');
    const [attachment] = await storedAttachments(page);
    assert.ok(attachment.bytes > 3 * 256 * 1024, `a photo of several chunks (${attachment.bytes} bytes)`);

    // Another phone sees a photo that is not on the server yet as waiting, not broken.
    await signIn(grid.page, server.url, 'grid1');
    await openRecord(grid.page, title);
    await waitPhotos(grid.page, 1, 'waiting');
    assert.equal(await grid.page.getByTestId('photos-waiting').getAttribute('data-count'), '1');

    blocked = false;
    cutSecond = true;
    await syncFromHome(page); // an upload round follows every sync
    await openRecord(page, title);
    await waitPhotos(page, 1, 'local');

    // Chunk 1 accepted, chunk 2 stored by the server but its answer lost, then the
    // phone asked (HEAD) and went on from the server's offset, not from its own.
    const total = attachment.bytes;
    assert.equal(puts[0], `bytes 0-262143/${total}`);
    assert.deepEqual(puts.cut, { range: `bytes 262144-524287/${total}`, status: 202, offset: '524288' });
    assert.equal(puts[2], `bytes 524288-786431/${total}`);
    assert.equal(puts.at(-1), `bytes ${Math.floor((total - 1) / 262144) * 262144}-${total - 1}/${total}`);
    // Every chunk went once: the one whose answer was lost was not sent again.
    assert.equal(puts.length, Math.ceil(total / 262144));

    const { token } = await login(server.url, 'community1');
    const got = await blob(token, attachment.sha256);
    assert.equal(got.status, 200);
    assert.equal(sha256(got.bytes), attachment.sha256);

    // The other phone shows it once it looks again.
    await grid.page.getByTestId('back').click();
    await openRecord(grid.page, title);
    await waitPhotos(grid.page, 1, 'local');
    await grid.page.getByTestId('photos-waiting').waitFor({ state: 'detached' });
  } finally {
    await lou.context.close();
    await grid.context.close();
  }
});

test('a photo added on a record’s detail is stored with the record and uploaded', async () => {
  const { context, page } = await phone();
  try {
    await signIn(page, server.url, 'lou1');
    const title = `路灯不亮-${Date.now()}`;
    await reportWithPhotos(page, title, [await picture(page, { width: 800, height: 600, hue: 60, name: 'first.jpg' })]);
    await waitPhotos(page, 1, 'local');

    await context.setOffline(true);
    await page.getByTestId('photo-camera').setInputFiles([await picture(page, { width: 600, height: 800, hue: 200, name: 'camera.jpg' })]);
    await page.waitForFunction(
      () => document.querySelectorAll('[data-testid="detail-photos"] [data-testid="photo"][data-state="pending"] img').length === 1,
    );
    assert.equal(await page.getByTestId('photos-waiting').getAttribute('data-count'), '1');
    const stored = await storedAttachments(page);
    assert.equal(stored.length, 2);
    assert.ok((await page.getByTestId('history-item').allTextContents()).some((t) => t.includes('添加了照片')));

    await context.setOffline(false);
    await waitPhotos(page, 2, 'local');
    await waitPendingCount(page, 0);
    const { token } = await login(server.url, 'community1');
    for (const a of stored) assert.equal(sha256((await blob(token, a.sha256)).bytes), a.sha256);
  } finally {
    await context.close();
  }
});
