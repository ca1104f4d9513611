// A record document built by the app's own code (pwa/src/record/core.mjs) with
// Node's Automerge, for tests that send records through the server.
import * as A from '@automerge/automerge';
import { newRecord } from '../../../pwa/src/record/core.mjs';

export { A };

/**
 * @param {object} f
 * @param {string} f.id lower-case UUID
 * @param {number} f.userId the reporter, who must be the user that pushes it
 * @param {string} f.grid grid path, e.g. /gusu/byw/ws1/jinzhu/g01
 * @param {string} [f.sector] sector path under the grid
 * @param {string} f.category catalogue code, e.g. city.garbage_exposed
 * @param {string} [f.actor] Automerge actor id (hex); random when absent
 * @returns {{doc: import('@automerge/automerge').Doc<unknown>, changes: Uint8Array[]}}
 */
export function makeRecord({ id, userId, grid, sector, category, actor, title = '测试记录', kind = 'event' }) {
  const doc = newRecord(A, actor ?? randomActor(), {
    id,
    kind,
    grid,
    sector,
    category,
    title,
    description: '由互通测试生成',
    address: '金筑苑3幢东门',
    location: { lat: 31.3265, lng: 120.6132, accuracy_m: 8.5 },
    reportedBy: userId,
    reportedAt: Date.now(),
    urgency: 'normal',
  });
  return { doc, changes: A.getAllChanges(doc) };
}

function randomActor() {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(16))).toString('hex');
}
