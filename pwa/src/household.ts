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
