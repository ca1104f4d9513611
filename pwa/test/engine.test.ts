import './env';
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Doc } from '@automerge/automerge/slim';
import { addNote, newRecord, readRecord, type NewRecordFields } from '../src/record/core.mjs';
import { Store } from '../src/store';
import { exchange } from '../src/sync/engine';
import { ConsoleSyncer } from '../src/console/sync';
import { Syncer } from '../src/sync/syncer';
import { A, FakeServer } from './fake-server';
import { LIMITS } from '../src/generated/protocol.mjs';

// The sync engine against a real store (IndexedDB from fake-indexeddb), real Automerge and
// a fake server behind the transport.

const ME = 7;
const OTHER_PHONE = 'ab'.repeat(16);
let nextUser = 1;
const stores: Store[] = [];
after(() => stores.forEach((s) => s.close()));

async function freshStore(): Promise<Store> {
  const store = await Store.open(nextUser++);
  await store.ready();
  stores.push(store);
  return store;
}

function fields(title: string, id: string = crypto.randomUUID()): NewRecordFields {
  return {
    id,
    kind: 'event',
    grid: '/gusu/byw/ws1/jinzhu/g01',
    category: 'city.garbage_exposed',
    title,
    description: '',
    address: '',
    reportedBy: ME,
    reportedAt: Date.now(),
    urgency: 'normal',
  };
}

/** A record another phone made and the server has. */
function onServer(server: FakeServer, title: string): { id: string; doc: Doc<unknown> } {
  const f = fields(title);
  const doc = newRecord(A, OTHER_PHONE, f);
  server.docs.set(f.id, doc);
  return { id: f.id, doc };
}

/** A record on the server that the phone has pulled (cursor 1). */
async function pulledFrom(server: FakeServer, store: Store, title: string): Promise<{ id: string; doc: Doc<unknown> }> {
  const rec = onServer(server, title);
  server.script.push(() => ({ pull: [{ doc: rec.id, snapshot: A.save(rec.doc) }], cursor: 1 }));
  await exchange(store, server.transport, { pull: true });
  return rec;
}

async function titleOf(store: Store, id: string): Promise<string | undefined> {
  const got = await store.load(id);
  return got && readRecord(got.doc).title;
}

test('the field app pushes what waits, then keeps the server’s heads and the cursor', async () => {
  const store = await freshStore();
  const server = new FakeServer();
  const f = fields('井盖松动');
  await store.create(f);
  assert.equal(store.summary(f.id)?.sync, 'pending');

  server.script.push(() => ({ cursor: 42 }));
  await exchange(store, server.transport, { pull: true });
  const [req] = server.requests;
  assert.equal(req.v, 1);
  assert.equal(req.cursor, undefined, 'no cursor on the first sync');
  assert.equal(req.limit, 200);
  assert.equal(req.pull, undefined, 'a pull is the default');
  assert.deepEqual(req.push?.map((p) => p.doc), [f.id]);
  assert.equal(store.summary(f.id)?.sync, 'synced');
  assert.equal(store.summary(f.id)?.on_server, true);
  assert.deepEqual((await store.entry(f.id))?.acked, A.getHeads(server.docs.get(f.id)!));
  assert.equal(await store.meta('cursor'), 42);
  assert.ok(await store.meta<number>('last-sync'));

  await exchange(store, server.transport, { pull: true });
  assert.deepEqual(server.requests[1].push, [], 'nothing left to push');
  assert.equal(server.requests[1].cursor, 42);
});

test('a paged pull keeps the cursor until its last page and asks for each page from resume', async () => {
  const store = await freshStore();
  const server = new FakeServer();
  const a = onServer(server, '第一页');
  const b = onServer(server, '第二页');
  server.script.push(
    () => ({ pull: [{ doc: a.id, snapshot: A.save(a.doc) }], cursor: 0, more: true, resume: 10 }),
    () => ({ pull: [{ doc: b.id, snapshot: A.save(b.doc) }], cursor: 20 }),
  );
  await exchange(store, server.transport, { pull: true });
  assert.equal(server.requests.length, 2);
  assert.equal(server.requests[1].cursor, undefined, 'the cursor holds while paging');
  assert.equal(server.requests[1].resume, 10);
  assert.equal(await store.meta('cursor'), 20);
  assert.equal(await store.meta('resume'), undefined);
  assert.equal(await titleOf(store, a.id), '第一页');
  assert.equal(await titleOf(store, b.id), '第二页');
  assert.equal(store.summary(b.id)?.sync, 'synced', 'a pulled record does not wait to be pushed');
});

test('an interrupted pull starts again from the stored cursor, its resume point kept', async () => {
  const store = await freshStore();
  const server = new FakeServer();
  const a = onServer(server, '中断');
  await store.setMeta('cursor', 5);
  server.script.push(
    () => ({ pull: [{ doc: a.id, snapshot: A.save(a.doc) }], cursor: 5, more: true, resume: 9 }),
    () => {
      throw new Error('the link drops');
    },
  );
  await assert.rejects(exchange(store, server.transport, { pull: true }));
  assert.equal(await store.meta('cursor'), 5);
  assert.equal(await store.meta('resume'), 9);
  assert.equal(await titleOf(store, a.id), '中断', 'the page that came is stored');
});

for (const pull of [true, false]) {
  test(`pushes are split at the protocol's 500 documents (${pull ? 'field app' : 'console'})`, async () => {
    const store = await freshStore();
    const server = new FakeServer();
    const records = Array.from({ length: 501 }, (_, i) => fields(`批量-${i}`));
    await store.createMany(records);
    await exchange(store, server.transport, { pull, wantPushed: !pull });
    assert.deepEqual(
      server.requests.map((r) => r.push?.length),
      [500, 1],
    );
    if (!pull) assert.ok(server.requests.every((r) => (r.want?.length ?? 0) <= 200), 'want stays within 200 ids');
    assert.equal(store.counts().pending, 0);
  });
}

test('pushes are split before 8 MiB of changes', async () => {
  const store = await freshStore();
  const server = new FakeServer();
  const ids: string[] = [];
  for (let i = 0; i < 3; i++) {
    const f = fields(`大记录-${i}`);
    ids.push(f.id);
    await store.create(f, (A, doc) =>
      A.change(doc, (d) => {
        // Random bytes do not compress: each record carries 3 MiB of changes.
        const pad = new Uint8Array(3 * 1024 * 1024);
        for (let o = 0; o < pad.length; o += 65536) crypto.getRandomValues(pad.subarray(o, o + 65536));
        (d as { padding?: Uint8Array }).padding = pad;
      }),
    );
  }
  await exchange(store, server.transport, { pull: true });
  assert.deepEqual(
    server.requests.map((r) => r.push?.length),
    [2, 1],
  );
  assert.equal(store.counts().pending, 0);
});

test('a refusal is kept with the pushed heads; busy and missing_deps are tried again', async () => {
  const store = await freshStore();
  const server = new FakeServer();
  const bad = fields('无效分类');
  const busy = fields('忙');
  await store.create(bad);
  await store.create(busy);
  server.refuse.set(bad.id, 'invalid_document');
  server.refuse.set(busy.id, 'busy');
  await exchange(store, server.transport, { pull: true });

  const entry = await store.entry(bad.id);
  assert.equal(entry?.refusal?.code, 'invalid_document');
  assert.equal(entry?.refusal?.message, 'refused: invalid_document');
  assert.deepEqual(entry?.refusal?.heads, A.getHeads(A.load(entry!.bytes)));
  assert.equal(store.summary(bad.id)?.sync, 'refused');
  assert.equal((await store.entry(busy.id))?.refusal, undefined);
  assert.equal(store.summary(busy.id)?.sync, 'pending');

  server.refuse.clear();
  await exchange(store, server.transport, { pull: true });
  assert.deepEqual(server.requests[1].push?.map((p) => p.doc), [busy.id], 'a refused record waits for an edit');
  assert.equal(store.summary(busy.id)?.sync, 'synced');

  await store.addNote(bad.id, ME, '已改正');
  assert.equal(store.summary(bad.id)?.sync, 'pending', 'edited after the refusal: worth pushing again');
});

test('a record that does not load is refused alone: the rest of the page is stored and the cursor moves', async () => {
  const store = await freshStore();
  const server = new FakeServer();
  const good = onServer(server, '完好');
  const mine = fields('本机有副本');
  await store.create(mine);
  // The server cannot take the push now, and sends a copy of the record that does not load.
  server.refuse.set(mine.id, 'busy');
  const garbage = new Uint8Array([0x85, 0x6f, 0x4a, 0x83, 1, 2, 3]);
  const unseen = crypto.randomUUID();
  server.script.push(() => ({
    pull: [
      { doc: mine.id, snapshot: garbage },
      { doc: unseen, snapshot: garbage },
      { doc: good.id, snapshot: A.save(good.doc) },
    ],
    cursor: 30,
  }));
  await exchange(store, server.transport, { pull: true });
  assert.equal(await titleOf(store, good.id), '完好');
  assert.equal(await store.entry(unseen), undefined, 'a record never seen here is not stored');
  const entry = await store.entry(mine.id);
  assert.equal(entry?.refusal?.code, 'damaged');
  assert.equal(store.summary(mine.id)?.sync, 'refused');
  assert.equal(await titleOf(store, mine.id), '本机有副本', 'the local copy is kept');
  assert.equal(await store.meta('cursor'), 30);
});

test('an evicted copy goes unless it holds what the server lacks', async () => {
  const store = await freshStore();
  const server = new FakeServer();
  const plain = onServer(server, '已同步');
  const edited = onServer(server, '有未上传的备注');
  server.script.push(() => ({
    pull: [plain, edited].map(({ id, doc }) => ({ doc: id, snapshot: A.save(doc) })),
    cursor: 1,
  }));
  await exchange(store, server.transport, { pull: true });
  await store.addNote(edited.id, ME, '还没上传');
  server.refuse.set(edited.id, 'out_of_scope');
  server.script.push(() => ({ pull: [plain.id, edited.id].map((doc) => ({ doc, evict: true })), cursor: 2 }));
  await exchange(store, server.transport, { pull: true });

  assert.equal(await store.entry(plain.id), undefined);
  assert.equal(store.summary(plain.id), undefined);
  const kept = await store.entry(edited.id);
  assert.ok(kept?.evicted, 'marked as out of the user’s area');
  assert.equal(kept?.refusal?.code, 'out_of_scope');
  assert.equal(store.summary(edited.id)?.sync, 'refused');
});

test('pulled changes apply to the local copy and count as the server’s', async () => {
  const store = await freshStore();
  const server = new FakeServer();
  const rec = await pulledFrom(server, store, '有新备注');

  const noted = addNote(A, rec.doc, { by: 8, at: Date.now(), text: '已联系物业' });
  const changes = A.getChangesSince(noted, A.getHeads(rec.doc));
  server.script.push(() => ({ pull: [{ doc: rec.id, changes }], cursor: 2 }));
  await exchange(store, server.transport, { pull: true });
  const got = await store.load(rec.id);
  assert.deepEqual(readRecord(got!.doc).notes.map((n) => n.text), ['已联系物业']);
  assert.equal(store.summary(rec.id)?.sync, 'synced');
  assert.deepEqual(got!.entry.acked, A.getHeads(noted));
});

test('a snapshot merges into a copy with unpushed edits, which stay waiting', async () => {
  const store = await freshStore();
  const server = new FakeServer();
  const rec = await pulledFrom(server, store, '合并');
  await store.addNote(rec.id, ME, '本机备注');
  server.docs.set(rec.id, addNote(A, rec.doc, { by: 8, at: Date.now(), text: '他人备注' }));
  server.refuse.set(rec.id, 'busy');
  server.script.push(() => ({ pull: [{ doc: rec.id, snapshot: A.save(server.docs.get(rec.id)!) }], cursor: 2 }));
  await exchange(store, server.transport, { pull: true });
  const got = await store.load(rec.id);
  assert.deepEqual(readRecord(got!.doc).notes.map((n) => n.text).sort(), ['他人备注', '本机备注'].sort());
  assert.equal(store.summary(rec.id)?.sync, 'pending');
});

test('a reset asks for the server’s version until it comes, keeping the refused text', async () => {
  const store = await freshStore();
  const server = new FakeServer();
  const rec = await pulledFrom(server, store, '服务器版本');
  await store.editText(rec.id, 'title', '本机改过的标题');
  server.refuse.set(rec.id, 'forbidden');
  await exchange(store, server.transport, { pull: true });
  assert.equal(store.summary(rec.id)?.sync, 'refused');

  await store.requestReset(rec.id);
  // No room for it in this response: it is asked for again.
  server.script.push(() => ({ pull: [], unsent: [rec.id], cursor: 1 }));
  await exchange(store, server.transport, { pull: true });
  assert.deepEqual(server.requests.at(-1)?.want, [rec.id]);
  assert.deepEqual(await store.meta('want'), [rec.id]);
  assert.equal((await store.entry(rec.id))?.reset, true);

  await exchange(store, server.transport, { pull: true });
  assert.deepEqual(server.requests.at(-1)?.want, [rec.id]);
  assert.equal(await titleOf(store, rec.id), '服务器版本');
  const entry = await store.entry(rec.id);
  assert.equal(entry?.reset, undefined);
  assert.match(entry?.kept?.[0].text ?? '', /本机改过的标题/);
  assert.equal(await store.meta('want'), undefined);
  assert.equal(store.summary(rec.id)?.sync, 'synced');
});

test('the console wants records by id, pulls nothing, keeps no cursor and rewrites nothing unchanged', async () => {
  const store = await freshStore();
  const server = new FakeServer();
  const x = onServer(server, '打开的记录');
  const y = onServer(server, '之前打开的记录');
  await exchange(store, server.transport, { pull: false, want: [x.id], keep: [y.id, x.id], wantPushed: true });
  const [req] = server.requests;
  assert.equal(req.pull, false);
  assert.equal(req.cursor, undefined);
  assert.equal(req.limit, undefined);
  assert.deepEqual(req.want, [x.id, y.id]);
  assert.equal(await titleOf(store, x.id), '打开的记录');
  assert.equal(await titleOf(store, y.id), '之前打开的记录');
  assert.equal(await store.meta('cursor'), undefined);

  // Held records asked for again, unchanged on the server: nothing is written.
  const version = store.version;
  const bytes = (await store.entry(x.id))?.bytes;
  await exchange(store, server.transport, { pull: false, keep: [x.id, y.id], wantPushed: true });
  assert.equal(store.version, version, 'no summary was written');
  assert.deepEqual((await store.entry(x.id))?.bytes, bytes);

  // An action taken here is pushed and wanted back, ahead of the held records.
  await store.addNote(y.id, ME, '督办意见');
  await exchange(store, server.transport, { pull: false, keep: [x.id, y.id], wantPushed: true });
  const last = server.requests.at(-1)!;
  assert.deepEqual(last.push?.map((p) => p.doc), [y.id]);
  assert.deepEqual(last.want, [y.id, x.id]);
  assert.equal(store.summary(y.id)?.sync, 'synced');
});

test('a record opened while the console syncs is fetched by the round after', async () => {
  const store = await freshStore();
  const server = new FakeServer();
  const x = onServer(server, '第一次打开');
  const y = onServer(server, '同步中打开');
  let release!: () => void;
  server.gate = new Promise((r) => (release = r));
  const syncer = new ConsoleSyncer(store, server.transport);
  const first = syncer.open([x.id]);
  while (server.requests.length === 0) await new Promise((r) => setTimeout(r, 1));
  const second = syncer.open([y.id]);
  release();
  await Promise.all([first, second]);
  syncer.stop();
  assert.deepEqual(
    server.requests.map((r) => r.want),
    [[x.id], [y.id, x.id]],
  );
  assert.equal(await titleOf(store, y.id), '同步中打开');
  assert.equal(syncer.status.running, false);
  assert.equal(syncer.status.error, null);
});

test('the field syncer counts what it sent and applied', async () => {
  const store = await freshStore();
  const server = new FakeServer();
  const rec = onServer(server, '计数');
  await store.create(fields('本机上报'));
  server.script.push(() => ({ pull: [{ doc: rec.id, snapshot: A.save(rec.doc) }], cursor: 3 }));
  const syncer = new Syncer(store, server.transport);
  await syncer.syncNow();
  syncer.stop();
  assert.deepEqual(
    { pushed: syncer.status.pushed, pulled: syncer.status.pulled, error: syncer.status.error },
    { pushed: 1, pulled: 1, error: null },
  );
});

test('document types: a record is pushed as one, an untyped pull is a record, an unknown type is kept unlisted', async () => {
  const store = await freshStore();
  const server = new FakeServer();
  const mine = fields('路灯不亮');
  await store.create(mine);
  const theirs = onServer(server, '垃圾满溢');
  // A document of a type this app does not know, from a newer server.
  const future = A.change(A.init<Record<string, unknown>>(), (d) => {
    d.schema = 1;
    d.id = 'f'.repeat(8);
  });
  const futureId = crypto.randomUUID();
  server.script.push(() => ({
    pull: [
      { doc: theirs.id, snapshot: A.save(theirs.doc) },
      // (Households are known now; a campaign is not yet.)
      { doc: futureId, type: 'campaign' as never, snapshot: A.save(future) },
    ],
    cursor: 5,
  }));
  await exchange(store, server.transport, { pull: true });
  assert.deepEqual(
    server.requests[0].push?.map((p) => [p.doc, p.type]),
    [[mine.id, 'record']],
  );
  assert.equal((await store.entry(theirs.id))?.type, undefined, 'stored as it came: a record');
  assert.equal(store.summary(theirs.id)?.title, '垃圾满溢');
  const kept = await store.entry(futureId);
  assert.equal(kept?.type, 'campaign');
  assert.ok(kept && kept.bytes.byteLength > 0, 'its bytes are kept');
  assert.equal(store.summary(futureId), undefined, 'not listed');
  assert.equal(await store.meta('cursor'), 5, 'the cursor moved past it');
  // It is never pushed, and an untyped entry (as older versions wrote) still syncs as a record.
  await store.edit(theirs.id, (A, doc) => addNote(A, doc, { by: ME, at: Date.now(), text: '已转物业' }));
  await exchange(store, server.transport, { pull: true });
  assert.deepEqual(
    server.requests[1].push?.map((p) => [p.doc, p.type]),
    [[theirs.id, 'record']],
  );
});

test('a record with more waiting changes than one push may carry goes out oldest first, in parts', async () => {
  const store = await freshStore();
  const server = new FakeServer();
  const f = fields('长期离线');
  await store.create(f);
  // As a phone that saved every keystroke for months would hold it.
  await store.edit(f.id, (A, doc) => {
    for (let i = 0; i < LIMITS.max_changes_per_doc + 50; i++) {
      doc = A.change(doc, (d) => {
        (d as { n?: number }).n = i;
      });
    }
    return doc;
  });
  await exchange(store, server.transport, { pull: true });
  const sizes = server.requests.map((r) => r.push?.[0]?.changes.length ?? 0);
  assert.ok(
    sizes.every((n) => n <= LIMITS.max_changes_per_doc),
    `no push over the limit: ${sizes}`,
  );
  assert.equal(sizes.reduce((a, b) => a + b, 0), LIMITS.max_changes_per_doc + 51, 'every change, once');
  assert.equal(store.summary(f.id)?.sync, 'synced', 'all taken in one sync');
  assert.deepEqual(A.getHeads(server.docs.get(f.id)!), (await store.load(f.id))!.entry.acked);
});
