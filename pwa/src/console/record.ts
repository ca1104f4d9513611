import type { Doc } from '@automerge/automerge/slim';
import type { User } from '../api';
import type { automerge } from '../automerge';
import { readRecord, type RecordData } from '../record/core.mjs';
import { readWorkflow, type Workflow } from './workflow.mjs';
import { ct } from './i18n';
import { readHistory, type HistoryItem } from '../record/history';

type Am = Awaited<ReturnType<typeof automerge>>;

export interface RecordView {
  record: RecordData;
  workflow: Workflow;
  history: HistoryItem[];
}

/** The record, its workflow fields and its change history (`readHistory`). */
export function viewOf(A: Am, doc: Doc<unknown>, mine: Set<string>, me: number): RecordView {
  const record = readRecord(doc);
  return { record, workflow: readWorkflow(A, doc), history: readHistory(A, doc, mine, me, record.reported_by) };
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
