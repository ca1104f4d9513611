import type { Doc } from '@automerge/automerge/slim';
import type { User } from '../api';
import type { automerge } from '../automerge';
import { readRecord, type RecordData } from '../record/core.mjs';
import { readWorkflow, type Workflow } from './workflow.mjs';
import { ct } from './i18n';

type Am = Awaited<ReturnType<typeof automerge>>;

export interface HistoryItem {
  hash: string;
  time: number;
  /** The user the change is known to come from, when the document says. */
  by: number | undefined;
  actor: string;
  /** Top-level fields the change touched, e.g. `status`, `timeline`, `description`. */
  fields: string[];
  /** Timeline actions the change appended. */
  actions: string[];
}

export interface RecordView {
  record: RecordData;
  workflow: Workflow;
  history: HistoryItem[];
}

/**
 * The record, its workflow fields and its change history: for each change (in causal
 * order), the fields it touched, from `A.diff` between the change's dependencies and
 * the change itself. A change names only its device (actor); the person is known from
 * the `by` of a timeline entry or note it added, or, for the first change, the reporter.
 */
export function viewOf(A: Am, doc: Doc<unknown>, mine: Set<string>, me: number): RecordView {
  const record = readRecord(doc);
  const workflow = readWorkflow(A, doc);
  const metas = A.getChangesMetaSince(doc, []);
  const actorUser = new Map<string, number>();
  const items: HistoryItem[] = metas.map((m) => {
    const patches = A.diff(doc, m.deps, [m.hash]);
    const fields = new Set<string>();
    const actions: string[] = [];
    let by: number | undefined;
    for (const p of patches) {
      const top = p.path[0];
      if (typeof top === 'string') fields.add(top);
      if ((top === 'timeline' || top === 'notes') && p.action === 'put' && p.path.length === 3) {
        if (p.path[2] === 'by' && typeof p.value === 'number') by = p.value;
        if (top === 'timeline' && p.path[2] === 'action') actions.push(String(p.value));
      }
    }
    if (m.deps.length === 0) by ??= record.reported_by;
    if (mine.has(m.actor)) by ??= me;
    if (by !== undefined) actorUser.set(m.actor, by);
    return { hash: m.hash, time: m.time * 1000, by, actor: m.actor, fields: Array.from(fields), actions };
  });
  // Plain edits (text, notes without `by` …) by a device already known from another change.
  for (const h of items) h.by ??= actorUser.get(h.actor);
  return { record, workflow, history: items };
}

/** A name for a user id: this user, someone the console knows, the server (0), or a number. */
export function personName(id: number | undefined, me: User, people: User[]): string {
  if (id === undefined) return ct('person.unknown');
  if (id === 0) return ct('person.server');
  if (id === me.id) return me.name;
  const p = people.find((u) => u.id === id);
  return p ? p.name : ct('person.user', { id });
}

/** English names for the usual department codes; the server's Chinese name is the data. */
const DEPARTMENT_EN: Record<string, string> = {
  police: 'Police',
  urban: 'Urban management',
  emergency: 'Emergency management',
  environment: 'Environment',
  fire: 'Fire and rescue',
};

export interface Department {
  key: string;
  code: string;
  zh: string;
  en: string;
}

/**
 * The departments of the user's district, filled from GET /api/v1/departments when the
 * console starts (and kept for offline use by the page for as long as it is open).
 */
export const DEPARTMENTS: Department[] = [];

export function setDepartments(list: { key: string; code: string; name: string }[]): void {
  DEPARTMENTS.splice(
    0,
    DEPARTMENTS.length,
    ...list.map((d) => ({ key: d.key, code: d.code, zh: d.name, en: DEPARTMENT_EN[d.code] ?? d.name })),
  );
}
