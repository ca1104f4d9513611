import './env';
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Resident } from '../src/api-types';
import { coverage, dueState, schedule, type HouseholdData } from '../src/household';
import { CARE } from '../src/generated/protocol.mjs';
import { Store } from '../src/store';

// The visit schedule as the phone computes it: the same rule as `sync::care` (due one
// interval after the latest visit that saw the person, or after they were added).

const DAY = CARE.day_ms;
const NOW = Date.UTC(2026, 11, 15, 4); // mid-month, so "this month" has room either side

function resident(pid: string, patch: Partial<Resident> = {}): Resident {
  return {
    pid,
    household: 'h1',
    relation: 'head',
    status: 'living',
    name_masked: '王*英',
    gender: 'female',
    birth_year: 1940,
    phone_masked: null,
    id_number_masked: null,
    id_hash: null,
    tags: ['elderly_alone'],
    erased: false,
    interval_days: 7,
    last_visit_at: NOW - 10 * DAY,
    due_at: NOW - 3 * DAY,
    ...patch,
  };
}

const household: HouseholdData = {
  id: 'h1',
  grid: '/d/s/w/c/g',
  number: '3-101',
  address: '金筑苑3幢101',
  notes: '',
  created_by: 7,
  created_at: NOW - 100 * DAY,
  members: [
    { pid: 'a', relation: 'head', status: 'living', since: NOW - 100 * DAY },
    { pid: 'b', relation: 'spouse', status: 'living', since: NOW - 100 * DAY },
    { pid: 'c', relation: 'child', status: 'moved_out', since: NOW - 100 * DAY },
  ],
};

test('the thresholds: overdue before now, due within a day, soon within the week', () => {
  assert.equal(dueState(NOW - 1, NOW), 'overdue');
  assert.equal(dueState(NOW + DAY - 1, NOW), 'due');
  assert.equal(dueState(NOW + DAY, NOW), 'soon');
  assert.equal(dueState(NOW + CARE.soon_days * DAY, NOW), 'later');
});

test('a visit recorded on the phone moves the people it saw, not the others', () => {
  const people = [resident('a'), resident('b')];
  const before = schedule(people, [household], [], NOW);
  assert.deepEqual(
    before.map((i) => [i.resident.pid, i.state]),
    [
      ['a', 'overdue'],
      ['b', 'overdue'],
    ],
  );
  const after = schedule(people, [household], [{ household: 'h1', persons: ['a'], reported_at: NOW - DAY, status: 'reported' }], NOW);
  const byPid = new Map(after.map((i) => [i.resident.pid, i]));
  // Seen yesterday, every 7 days: due again in 6, within the week.
  assert.equal(byPid.get('a')?.state, 'soon');
  assert.equal(byPid.get('a')?.due_at, NOW - DAY + 7 * DAY);
  assert.equal(byPid.get('b')?.state, 'overdue');
  // Earliest first: the one still overdue leads.
  assert.equal(after[0].resident.pid, 'b');
});

test('a withdrawn visit does not count; a visit naming nobody counts for everyone', () => {
  const people = [resident('a'), resident('b')];
  const withdrawn = schedule(people, [household], [{ household: 'h1', persons: ['a'], reported_at: NOW, status: 'withdrawn' }], NOW);
  assert.ok(withdrawn.every((i) => i.state === 'overdue'));
  const everyone = schedule(people, [household], [{ household: 'h1', persons: [], reported_at: NOW, status: 'closed' }], NOW);
  assert.ok(everyone.every((i) => i.state === 'later'));
});

test('people who moved out or have no interval are not on the schedule', () => {
  const people = [resident('a', { interval_days: null }), resident('c')];
  assert.deepEqual(schedule(people, [household], [], NOW), []);
});

test('never visited: due one interval after being registered', () => {
  const [item] = schedule([resident('a', { last_visit_at: null })], [household], [], NOW);
  assert.equal(item.due_at, NOW - 100 * DAY + 7 * DAY);
  assert.equal(item.last_visit_at, null);
});

test('coverage counts this month\'s visits over those due by its end', () => {
  const people = [resident('a', { last_visit_at: NOW - DAY }), resident('b', { last_visit_at: NOW - 40 * DAY })];
  const items = schedule(people, [household], [], NOW);
  assert.deepEqual(coverage(items, NOW), { done: 1, due: 2 });
});

const stores: Store[] = [];
after(() => stores.forEach((s) => s.close()));

test('a household made on the phone waits to sync; its people wait in the queue, merged per person', async () => {
  const store = await Store.open(9_001);
  stores.push(store);
  await store.ready();
  const id = '5a1f3c2e-8d4b-4e6f-9a7b-0c1d2e3f4a5b';
  const [a, b] = ['6b2f3c2e-8d4b-4e6f-9a7b-0c1d2e3f4a5b', '7c3f3c2e-8d4b-4e6f-9a7b-0c1d2e3f4a5b'];
  await store.createHousehold(
    {
      id,
      grid: '/gusu/byw/ws1/jinzhu/g01',
      sector: '/gusu/byw/ws1/jinzhu/g01/b1',
      number: 'JZ-9',
      address: '金筑苑3幢601室',
      notes: '',
      createdBy: 7,
      createdAt: NOW,
      members: [
        { pid: a, relation: 'head' },
        { pid: b, relation: 'grandchild' },
      ],
    },
    [
      { pid: a, name: '钱阿婆', tags_add: ['living_alone'] },
      { pid: b, name: '钱小明' },
    ],
  );
  // Waiting like a record, but not in the record list.
  assert.equal(store.summary(id)?.sync, 'pending');
  assert.equal(store.summary(id)?.type, 'household');
  assert.equal(store.all().length, 0);
  assert.deepEqual(store.counts(), { pending: 1, refused: 0 });
  const [h] = await store.households();
  assert.deepEqual(
    h.members.map((m) => [m.pid, m.relation, m.status]),
    [
      [a, 'head', 'living'],
      [b, 'grandchild', 'living'],
    ],
  );

  // A second correction before the sync merges into the first: one edit a person.
  await store.queueEdit({ pid: a, phone: '13800001111', tags_add: ['very_old'], tags_remove: ['living_alone'] }, id);
  const edits = await store.pendingEdits();
  const mine = edits.find((e) => e.pid === a);
  assert.equal(mine?.name, '钱阿婆');
  assert.equal(mine?.phone, '13800001111');
  assert.deepEqual(mine?.tags_add, ['very_old']);
  assert.deepEqual(mine?.tags_remove, ['living_alone']);

  // Taken, refused (kept with the reason), and not yet placeable (kept for the next sync).
  const sent = await store.pendingEdits();
  await store.settleEdits(sent, [
    { pid: sent[0].pid, ok: true },
    { pid: sent[1].pid, ok: false, code: 'invalid_resident', message: 'bad phone' },
  ]);
  const left = await store.pendingEdits();
  assert.equal(left.length, 1);
  assert.equal(left[0].refused, 'bad phone');
  await store.queueEdit({ pid: left[0].pid, phone: null }, id);
  const again = await store.pendingEdits();
  assert.equal(again[0].refused, undefined, 'a correction sends it again');
  await store.settleEdits(again, [{ pid: again[0].pid, ok: false, code: 'not_found', message: 'push the household first' }]);
  assert.equal((await store.pendingEdits())[0].refused, undefined);
});
