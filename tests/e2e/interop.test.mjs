// A record made by the app's record code in Node travels through the server
// (sync API, CBOR) to another user and back, with equal heads on every side.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { MANY_SIGN_INS, startServer } from './harness.mjs';
import { login, pullAll, syncOnce } from './interop/client.mjs';
import { A, makeRecord } from './interop/make-record.mjs';
import { addNote } from '../../pwa/src/record/core.mjs';

let server;

before(async () => {
  server = await startServer({ demo: true, env: MANY_SIGN_INS });
});

after(async () => {
  await server?.cleanup();
});

const sorted = (heads) => [...heads].sort();

test('a record from Node reaches a grid colleague and a note comes back', async () => {
  const lou1 = await login(server.url, 'lou1');
  const grid1 = await login(server.url, 'grid1');
  const id = crypto.randomUUID();
  const { doc, changes } = makeRecord({
    id,
    userId: lou1.user.id,
    grid: '/gusu/byw/ws1/jinzhu/g01',
    sector: '/gusu/byw/ws1/jinzhu/g01/b1',
    category: 'city.garbage_exposed',
  });

  const pushed = await syncOnce(server.url, lou1.token, { push: [{ doc: id, changes }] });
  assert.deepEqual(pushed.results.map((r) => [r.doc, r.ok, r.code]), [[id, true, undefined]]);
  assert.deepEqual(sorted(pushed.results[0].heads), sorted(A.getHeads(doc)));

  const seen = (await pullAll(server.url, grid1.token)).get(id);
  assert.ok(seen, 'grid1 pulls the record');
  assert.deepEqual(sorted(A.getHeads(seen)), sorted(A.getHeads(doc)));
  assert.equal(String(seen.title), '测试记录');
  assert.equal(String(seen.category), 'city.garbage_exposed');

  const withNote = addNote(A, A.clone(seen), { by: grid1.user.id, at: Date.now(), text: '已联系物业' });
  const noteChanges = A.getChangesSince(withNote, A.getHeads(seen));
  const back = await syncOnce(server.url, grid1.token, { push: [{ doc: id, changes: noteChanges }] });
  assert.equal(back.results[0].ok, true, JSON.stringify(back.results[0]));

  const again = (await pullAll(server.url, lou1.token)).get(id);
  assert.deepEqual(sorted(A.getHeads(again)), sorted(A.getHeads(withNote)));
  assert.equal(String(again.notes[0].text), '已联系物业');
});
