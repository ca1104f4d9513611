// The household document (schema 1, docs/PROTOCOL.md "Household schema 1") read into plain
// data, and the visit schedule computed from what is on the phone: the households and
// visit records pulled for the user's patch and the residents' cache. The schedule's rule
// is the server's (`sync::care`): the next visit is due one interval after the latest
// visit that saw the person (or after they were added); the thresholds come generated.

import type { Doc } from '@automerge/automerge/slim';
import type { Resident } from './api-types';
import { CARE, type DueState, type Relation, type ResidentStatus } from './generated/protocol.mjs';
import { str } from './record/core.mjs';

export interface Member {
  pid: string;
  relation: Relation;
  status: ResidentStatus;
  since: number;
  interval_days?: number;
}

export interface HouseholdData {
  id: string;
  grid: string;
  sector?: string;
  number: string;
  address: string;
  notes: string;
  created_by: number;
  created_at: number;
  members: Member[];
}

/** The household as plain data, tolerant of how the server or another phone stored it. */
export function readHousehold(doc: Doc<unknown>): HouseholdData {
  const d = doc as Record<string, unknown>;
  const members = (d.members ?? {}) as Record<string, Record<string, unknown>>;
  return {
    id: str(d.id) ?? '',
    grid: str(d.grid) ?? '',
    sector: str(d.sector),
    number: str(d.number) ?? '',
    address: str(d.address) ?? '',
    notes: str(d.notes) ?? '',
    created_by: Number(d.created_by ?? 0),
    created_at: Number(d.created_at ?? 0),
    members: Object.entries(members).map(([pid, m]) => ({
      pid,
      relation: (str(m.relation) ?? 'other') as Relation,
      status: (str(m.status) ?? 'living') as ResidentStatus,
      since: Number(m.since ?? 0),
      interval_days: m.interval_days == null ? undefined : Number(m.interval_days),
    })),
  };
}

/** A visit as the schedule needs it: which household, whom it saw, when. */
export interface VisitFact {
  household?: string;
  persons?: string[];
  reported_at: number;
  status: string;
}

export interface DueItem {
  resident: Resident;
  household: string;
  due_at: number;
  state: DueState;
  last_visit_at: number | null;
}

export function dueState(dueAt: number, now: number): DueState {
  if (dueAt < now) return 'overdue';
  if (dueAt < now + CARE.day_ms) return 'due';
  if (dueAt < now + CARE.soon_days * CARE.day_ms) return 'soon';
  return 'later';
}

/**
 * Everyone on a schedule in the cache, with their due date as of the visits on the phone
 * (a visit recorded offline moves it at once), earliest first.
 */
export function schedule(residents: Resident[], households: HouseholdData[], visits: VisitFact[], now: number): DueItem[] {
  const byHousehold = new Map<string, VisitFact[]>();
  for (const v of visits) {
    if (!v.household || v.status === 'withdrawn') continue;
    const list = byHousehold.get(v.household) ?? [];
    list.push(v);
    byHousehold.set(v.household, list);
  }
  const members = new Map<string, Member>();
  for (const h of households) for (const m of h.members) members.set(m.pid, m);
  const out: DueItem[] = [];
  for (const r of residents) {
    const member = members.get(r.pid);
    const status = member?.status ?? r.status;
    if (status !== 'living' || r.interval_days == null) continue;
    let last = r.last_visit_at;
    for (const v of byHousehold.get(r.household) ?? []) {
      const saw = !v.persons?.length || v.persons.includes(r.pid);
      if (saw && (last === null || v.reported_at > last)) last = v.reported_at;
    }
    const since = member?.since ?? now;
    const due = (last ?? since) + r.interval_days * CARE.day_ms;
    out.push({ resident: r, household: r.household, due_at: due, state: dueState(due, now), last_visit_at: last });
  }
  return out.sort((a, b) => a.due_at - b.due_at);
}

/** This month's coverage: people visited this month of those whose visit fell due by its end. */
export function coverage(items: DueItem[], now: number): { done: number; due: number } {
  const start = new Date(now);
  start.setDate(1);
  start.setHours(0, 0, 0, 0);
  const end = new Date(start);
  end.setMonth(end.getMonth() + 1);
  let done = 0;
  let due = 0;
  for (const i of items) {
    const visited = i.last_visit_at !== null && i.last_visit_at >= start.getTime();
    if (visited) {
      done++;
      due++;
    } else if (i.due_at < end.getTime()) due++;
  }
  return { done, due };
}

// ── writing: the phone's side of `sync::household` (docs/PROTOCOL.md "Household schema 1") ──

type Am = typeof import('@automerge/automerge/slim');

export interface NewHouseholdFields {
  id: string;
  grid: string;
  sector?: string;
  number: string;
  address: string;
  notes: string;
  createdBy: number;
  createdAt: number;
  members: { pid: string; relation: Relation }[];
}

/** A new household in one change, as `sync::household::new_household` writes it. */
export function newHousehold(A: Am, actor: string, f: NewHouseholdFields): Doc<unknown> {
  const doc = A.init<Record<string, unknown>>({ actor });
  return A.change(doc, { message: '登记住户', time: Math.floor(f.createdAt / 1000) }, (d) => {
    const s = (v: string) => new A.ImmutableString(v);
    d.schema = 1;
    d.id = s(f.id);
    d.grid = s(f.grid);
    if (f.sector) d.sector = s(f.sector);
    d.number = s(f.number);
    d.address = f.address;
    if (f.notes) d.notes = f.notes;
    d.created_by = f.createdBy;
    d.created_at = f.createdAt;
    const members: Record<string, unknown> = {};
    for (const m of f.members) members[m.pid] = { relation: s(m.relation), status: s('living'), since: f.createdAt };
    d.members = members;
  });
}

/** Adds people (living, from `since`) to a household; a member is never removed. */
export function addMembers(A: Am, doc: Doc<unknown>, people: { pid: string; relation: Relation }[], since: number): Doc<unknown> {
  return A.change(doc, { message: '添加成员' }, (d) => {
    const members = (d as Record<string, Record<string, unknown>>).members;
    for (const p of people) {
      members[p.pid] = { relation: new A.ImmutableString(p.relation), status: new A.ImmutableString('living'), since };
    }
  });
}

/** Moved out, deceased, or back: a status, never a deletion. */
export function setMemberStatus(A: Am, doc: Doc<unknown>, pid: string, status: ResidentStatus): Doc<unknown> {
  return A.change(doc, { message: '更新成员状态' }, (d) => {
    const m = (d as Record<string, Record<string, Record<string, unknown>>>).members[pid];
    if (m) m.status = new A.ImmutableString(status);
  });
}

/** The household's address or notes, edited as text so that concurrent typing merges. */
export function setHouseholdText(A: Am, doc: Doc<unknown>, field: 'address' | 'notes', value: string): Doc<unknown> {
  return A.change(doc as Doc<Record<string, unknown>>, { message: '修改住户信息' }, (d) => {
    if (typeof d[field] === 'string') A.updateText(d, [field], value);
    else d[field] = value;
  });
}

/**
 * A person's visit interval set by a supervisor (`null`: back to the default from their
 * care tags). Only supervisors may; the server refuses it from anyone else.
 */
export function setMemberInterval(A: Am, doc: Doc<unknown>, pid: string, days: number | null): Doc<unknown> {
  return A.change(doc, { message: '调整走访周期' }, (d) => {
    const m = (d as Record<string, Record<string, Record<string, unknown>>>).members[pid];
    if (!m) return;
    if (days === null) delete m.interval_days;
    else m.interval_days = days;
  });
}
