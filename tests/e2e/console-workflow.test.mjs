// The app's interpreter of the workflow rules (pwa/src/console/workflow.mjs, reading the
// table generated from sync/src/rules.rs) against the decisions of the Rust check, plus
// `perform` writing what the Rust reader expects (checked end to end by console.test.mjs).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import * as A from '@automerge/automerge';
import { ACTIONS, LEVELS, STATUSES, available, check, dueAt, factsOf, perform, readWorkflow } from '../../pwa/src/console/workflow.mjs';
import { newRecord } from '../../pwa/src/record/core.mjs';

const REPORTER = 1;
const ASSIGNEE = 2;
const POLICE = '/gusu:police';

const facts = (status, level) => ({
  status,
  statuses: [status],
  level,
  reported_by: REPORTER,
  assignee: ASSIGNEE,
  department: POLICE,
  field_resolvable: true,
});

// What the Rust `rules::check` allows for every person and situation, generated from it
// (sync/src/generated.rs); the Rust table has its own hand-written spec in
// sync/src/workflow/tests.rs. Here the interpreter is held to the Rust answers.
const matrix = JSON.parse(readFileSync(new URL('./fixtures/workflow-matrix.json', import.meta.url), 'utf8'));

test('every person, status, conflict and level: the same answers as the Rust check', () => {
  assert.deepEqual(matrix.actions, ACTIONS, 'the matrix and the table list the same actions');
  let checked = 0;
  matrix.who.forEach((who, w) => {
    matrix.facts.forEach(([statuses, level, field_resolvable], i) => {
      const f = { ...matrix.base, status: statuses[0], statuses, level, field_resolvable };
      const mask = matrix.allowed[w][i];
      const offered = available(who, f);
      const want = ACTIONS.filter((_, bit) => (mask >> bit) & 1);
      assert.deepEqual(offered, want, `${JSON.stringify(who)} on ${JSON.stringify(f)}`);
      for (const action of ACTIONS) {
        const got = check(who, f, action);
        if (!got.ok) assert.ok(got.reason.length > 0);
        checked++;
      }
    });
  });
  // Every pair of concurrent statuses, at every level, with and without on-the-spot.
  assert.equal(matrix.facts.length, STATUSES.length ** 2 * LEVELS.length * 2);
  assert.equal(checked, matrix.who.length * matrix.facts.length * ACTIONS.length);
});

test('on the spot needs a category that allows it', () => {
  const f = { ...facts('reported', 'community'), field_resolvable: false };
  const got = check({ user_id: REPORTER, role: 'leader' }, f, 'resolve_on_spot');
  assert.equal(got.ok, false);
  assert.match(got.reason, /on the spot/);
});

test('a conflicting record lets its supervisor act from either status', () => {
  const sup = { user_id: 4, role: 'community_supervisor' };
  const f = { ...facts('closed', 'community'), statuses: ['closed', 'returned'] };
  assert.equal(check(sup, f, 'close').ok, false);
  assert.equal(check(sup, f, 'reopen').ok, true);
  assert.equal(check(sup, f, 'escalate').ok, true);
  assert.equal(check({ user_id: REPORTER, role: 'leader' }, f, 'resubmit').ok, false);
});

test('deadlines', () => {
  assert.equal(dueAt(1000, 24, false), 1000 + 24 * 3_600_000);
  assert.equal(dueAt(1000, 24, true), 1000 + 12 * 3_600_000);
});

function sample() {
  return newRecord(A, 'aa'.repeat(16), {
    id: '0f8fad5b-d9cb-469f-a165-70867728950e',
    kind: 'event',
    grid: '/gusu/byw/ws1/jinzhu/g01',
    category: 'city.garbage_exposed',
    title: '暴露垃圾',
    description: '',
    address: '3幢',
    reportedBy: REPORTER,
    reportedAt: 1_700_000_000_000,
    urgency: 'normal',
  });
}

test('perform writes the fields and the timeline entry; a supervisor action settles a conflict', () => {
  const sup = { user_id: 4, role: 'community_supervisor' };
  let doc = sample();
  const at = 1_700_000_100_000;
  const f = () => factsOf(readWorkflow(A, doc), true);
  doc = perform(A, doc, f(), 'accept', 4, at, { due_at: dueAt(at, 24, false) });
  doc = perform(A, doc, f(), 'dispatch', 4, at + 1, { department: POLICE, note: '请协助' });
  let w = readWorkflow(A, doc);
  assert.deepEqual([w.status, w.department, w.due_at], ['dispatched', POLICE, at + 24 * 3_600_000]);
  assert.ok(doc.status instanceof A.ImmutableString, 'status is an ImmutableString like the field app writes');
  assert.deepEqual(
    doc.timeline.map((e) => [String(e.action), e.by, e.note === undefined ? null : String(e.note)]),
    [['report', 1, null], ['accept', 4, null], ['dispatch', 4, '请协助']],
  );
  doc = perform(A, doc, f(), 'report_back', 8, at + 2, { note: '已处置' });
  // Two copies of the supervisor, offline: one closes, the other returns.
  let a = A.clone(doc, { actor: 'bb'.repeat(16) });
  let b = A.clone(doc, { actor: 'cc'.repeat(16) });
  a = perform(A, a, factsOf(readWorkflow(A, a), true), 'close', 4, at + 3);
  b = perform(A, b, factsOf(readWorkflow(A, b), true), 'return', 4, at + 3, { note: '整改不到位' });
  let merged = A.merge(a, b);
  w = readWorkflow(A, merged);
  assert.equal(w.conflict, true);
  assert.deepEqual(new Set(w.statuses), new Set(['closed', 'returned']));
  const offered = available(sup, factsOf(w, true));
  assert.ok(offered.includes('reopen') && offered.includes('escalate') && !offered.includes('close'), offered.join());
  merged = perform(A, merged, factsOf(w, true), 'escalate', 4, at + 4);
  w = readWorkflow(A, merged);
  assert.equal(w.conflict, false);
  assert.equal(w.level, 'workstation');
});

test('the same status written concurrently is no conflict; different statuses are', () => {
  const sup = { user_id: 4, role: 'community_supervisor' };
  const at = Date.now();
  const base = sample();
  const accept = (actor) => {
    const doc = A.clone(base, { actor });
    return perform(A, doc, factsOf(readWorkflow(A, doc), true), 'accept', sup.user_id, at, { due_at: dueAt(at, 24, false) });
  };
  const both = A.merge(accept('bb'.repeat(16)), accept('cc'.repeat(16)));
  assert.ok(A.getConflicts(both, 'status'), 'Automerge keeps both writes');
  assert.equal(readWorkflow(A, both).conflict, false);
  const returned = perform(A, A.clone(base, { actor: 'dd'.repeat(16) }), factsOf(readWorkflow(A, base), true), 'return', sup.user_id, at, { note: '信息不全' });
  const differ = A.merge(accept('ee'.repeat(16)), returned);
  assert.equal(readWorkflow(A, differ).conflict, true);
});
