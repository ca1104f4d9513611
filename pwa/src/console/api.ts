import { getAuthed, getPeople, postAuthed, type Resident, type User } from '../api';
import type { DueState, PersonalField } from '../generated/protocol.mjs';

export type Bucket = 'new' | 'escalated' | 'awaiting_verification' | 'overdue' | 'conflicting' | 'mine' | 'all';

export interface CaseItem {
  id: string;
  kind: string;
  title: string;
  category: string;
  status: string;
  level: string;
  urgency: string;
  grid: string;
  sector: string | null;
  department: string | null;
  assignee: number | null;
  reported_by: number;
  reported_at: number;
  updated_at: number;
  due_at: number | null;
  overdue: boolean;
  urged: boolean;
  conflict: boolean;
  lat: number | null;
  lng: number | null;
}

export interface CasePage {
  total: number;
  items: CaseItem[];
  counts: Partial<Record<Exclude<Bucket, 'all'>, number>>;
}

export interface CaseQuery {
  bucket?: Bucket;
  level?: string;
  under?: string;
  category?: string;
  status?: string;
  urgency?: string;
  kind?: string;
  from?: number;
  to?: number;
  q?: string;
  sort?: 'reported_at' | 'due_at' | 'updated_at';
  limit?: number;
  offset?: number;
}

export interface Rates {
  reported: number;
  open: number;
  overdue: number;
  closed: number;
  rectification_rate: number | null;
  closure_rate: number | null;
  on_time_closure_rate: number | null;
  average_completion_hours: number | null;
  rework_rate: number | null;
}

function qs(params: object): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === null || v === '') continue;
    p.set(k, String(v));
  }
  const s = p.toString();
  return s ? `?${s}` : '';
}

/** One page of an inbox bucket, filtered and sorted on the server. */
export function listCases(query: CaseQuery): Promise<CasePage> {
  return getAuthed<CasePage>(`/cases${qs(query)}`);
}

export function getRates(from?: number, to?: number): Promise<Rates> {
  return getAuthed<Rates>(`/cases/rates${qs({ from, to })}`);
}

/**
 * People the console can name and assign: everyone in the caller's district
 * (GET /api/v1/people gives names, roles and units, nothing private).
 */
export async function listPeople(_user: User): Promise<User[]> {
  const people = await getPeople();
  return people.map((p) => ({ ...p, username: '', scope: { kind: 'subtree', path: p.unit } }) as User);
}

/** The departments of the caller's district. */
export async function listDepartments(): Promise<{ key: string; code: string; name: string }[]> {
  const body = await getAuthed<{ departments: { key: string; code: string; name: string }[] }>('/departments');
  return body.departments;
}

/** The care plan's counts (`GET /api/v1/visits/due`). */
export interface DueCounts {
  on_plan: number;
  overdue: number;
  due: number;
  soon: number;
  never_visited: number;
}

export interface DuePage {
  unit: string;
  now: number;
  total: DueCounts;
  by_sector: (DueCounts & { sector: string | null })[];
  items: (Resident & { state: DueState; grid: string; sector: string | null })[];
}

/** Who is due in `unit` (the caller's scope by default), by sector and one page of people. */
export function getDue(query: { unit?: string; state?: DueState; limit?: number; offset?: number }): Promise<DuePage> {
  return getAuthed<DuePage>(`/visits/due${qs(query)}`);
}

export interface HouseholdLine {
  id: string;
  grid: string;
  sector: string | null;
  number: string;
  address: string;
  interval_days: number | null;
  people: number;
  on_plan: number;
  overdue: number;
}

export interface HouseholdPage extends HouseholdLine {
  members: (Resident & { due_state: DueState | null })[];
  records: {
    id: string;
    kind: string;
    category: string;
    status: string;
    title: string;
    reported_by: number;
    reported_at: number;
    persons: string[];
  }[];
}

export async function searchHouseholds(query: {
  unit?: string;
  q?: string;
  tag?: string;
  overdue?: boolean;
  limit?: number;
  offset?: number;
}): Promise<HouseholdLine[]> {
  const body = await getAuthed<{ households: HouseholdLine[] }>(
    `/households${qs({ ...query, overdue: query.overdue ? 'true' : undefined })}`,
  );
  return body.households;
}

export function getHousehold(id: string): Promise<HouseholdPage> {
  return getAuthed<HouseholdPage>(`/households/${encodeURIComponent(id)}`);
}

/** A person's fields in clear, for a stated reason the server logs. */
export function revealResident(
  pid: string,
  fields: PersonalField[],
  reason: string,
): Promise<{ pid: string; name?: string; phone?: string; id_number?: string }> {
  return postAuthed(`/residents/${encodeURIComponent(pid)}/reveal`, { fields, reason });
}

/** The person with this ID number in the caller's area, masked, or null. */
export async function lookupResident(idNumber: string): Promise<Resident | null> {
  const body = await postAuthed<{ resident: Resident | null }>('/residents/lookup', { id_number: idNumber });
  return body.resident;
}

export interface VisitorLine {
  user_id: number;
  visits: number;
  households: number;
  people: number;
  /** Visits to people on a plan made by their due date, and after it. */
  on_time: number;
  late: number;
}

/** Per person who visits: their visits, households and people seen in the last `days`. */
export async function getVisitors(query: { unit?: string; days?: number }): Promise<VisitorLine[]> {
  return (await getAuthed<{ visitors: VisitorLine[] }>(`/visits/by-visitor${qs(query)}`)).visitors;
}
