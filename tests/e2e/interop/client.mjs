// A phone in Node: signs in and speaks the sync protocol (CBOR over HTTP) the
// way the app does, so tests can check what reached the server as another user.
import { Encoder } from 'cbor-x';
import { A } from './make-record.mjs';

const cbor = new Encoder({ useRecords: false, mapsAsObjects: true, int64AsNumber: true });

export async function login(baseUrl, username, password = 'demo') {
  const res = await fetch(new URL('/api/v1/auth/login', baseUrl), {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ username, password }),
  });
  if (!res.ok) throw new Error(`login ${username}: ${res.status} ${await res.text()}`);
  const body = await res.json();
  return { token: body.access_token, user: body.user };
}

/** One sync request; returns the decoded response. */
export async function syncOnce(baseUrl, token, request) {
  const res = await fetch(new URL('/api/v1/sync', baseUrl), {
    method: 'POST',
    headers: { 'Content-Type': 'application/cbor', Authorization: `Bearer ${token}` },
    body: cbor.encode({ v: 1, ...request }),
  });
  const body = new Uint8Array(await res.arrayBuffer());
  if (!res.ok) throw new Error(`sync: ${res.status} ${new TextDecoder().decode(body)}`);
  return cbor.decode(body);
}

/** Pulls the user's whole scope from scratch: a map of record id → document. */
export async function pullAll(baseUrl, token) {
  const docs = new Map();
  let resume;
  for (;;) {
    const res = await syncOnce(baseUrl, token, { resume, limit: 1000 });
    for (const item of res.pull) {
      if (item.evict) docs.delete(item.doc);
      else if (item.snapshot) docs.set(item.doc, A.load(item.snapshot));
      else if (item.changes) docs.set(item.doc, A.applyChanges(docs.get(item.doc) ?? A.init(), item.changes)[0]);
    }
    if (!res.more) return docs;
    resume = res.resume;
  }
}
