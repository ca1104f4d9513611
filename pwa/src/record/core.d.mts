import type * as Automerge from '@automerge/automerge/slim';

type Am = typeof Automerge;
type Doc = Automerge.Doc<unknown>;

export type Kind = 'need' | 'visit' | 'event';
export type Urgency = 'normal' | 'urgent';

export interface Location {
  lat: number;
  lng: number;
  /** Metres; absent for a pin placed by hand. */
  accuracy_m?: number;
}

export interface NewRecordFields {
  id: string;
  kind: Kind;
  grid: string;
  sector?: string;
  category: string;
  title: string;
  description: string;
  address: string;
  location?: Location;
  household?: string;
  /** For a visit: the pids of the household's people it saw. */
  persons?: string[];
  /** The record this one was raised from (a need found on a visit). */
  raisedFrom?: string;
  /** A visit's checklist: question code → answer code (`VISIT_CHECKS`). */
  checks?: Record<string, string>;
  reportedBy: number;
  /** Epoch milliseconds. */
  reportedAt: number;
  urgency: Urgency;
}

export interface Note {
  by: number;
  at: number;
  text: string;
}

export interface TimelineEntry {
  action: string;
  by: number;
  at: number;
  note?: string;
}

export interface RecordData {
  id: string;
  kind: string;
  grid: string;
  sector?: string;
  category: string;
  title: string;
  description: string;
  address: string;
  household?: string;
  persons: string[];
  raised_from?: string;
  checks: Record<string, string>;
  location?: Location;
  reported_by: number;
  reported_at: number;
  urgency: string;
  status: string;
  department?: string;
  assignee?: number;
  urged: boolean;
  timeline: TimelineEntry[];
  notes: Note[];
}

export type TextField = 'title' | 'description' | 'address';

export declare const MESSAGES: { report: string; note: string; edit: string };
export declare function newRecord<T = unknown>(A: Am, actor: string, fields: NewRecordFields): Automerge.Doc<T>;
export declare function addNote<T>(A: Am, doc: Automerge.Doc<T>, note: Note): Automerge.Doc<T>;
export declare function editText<T>(A: Am, doc: Automerge.Doc<T>, field: TextField, value: string, at: number): Automerge.Doc<T>;
export interface Correction {
  title?: string;
  description?: string;
  address?: string;
  category?: string;
  /** null removes the location. */
  location?: Location | null;
}
export declare function correct<T>(A: Am, doc: Automerge.Doc<T>, patch: Correction, at: number): Automerge.Doc<T>;
export declare function str(value: unknown): string | undefined;
export declare function readRecord(doc: Doc): RecordData;
