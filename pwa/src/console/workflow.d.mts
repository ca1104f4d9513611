import type * as Automerge from '@automerge/automerge/slim';

type Am = typeof Automerge;

import type { Action, Level, Rules, Status } from '../generated/workflow-rules.mjs';

export type { Action, Field, Level, Status } from '../generated/workflow-rules.mjs';

export interface Who {
  user_id: number;
  role: string;
  department?: string | null;
}

export interface Facts {
  status: string;
  statuses: string[];
  level: string;
  reported_by: number | undefined;
  assignee: number | undefined;
  department: string | undefined;
  field_resolvable: boolean;
}


export type Checked = { ok: true } | { ok: false; reason: string };

export interface Workflow {
  status: string;
  statuses: string[];
  conflict: boolean;
  level: string;
  reported_by: number | undefined;
  assignee: number | undefined;
  department: string | undefined;
  due_at: number | undefined;
  urged: boolean;
  duplicate_of: string | undefined;
  urgency: string;
  category: string;
}

export interface Params {
  note?: string;
  assignee?: number;
  department?: string;
  duplicate_of?: string;
  due_at?: number;
}

export declare const RULES: Rules;
export declare const ACTIONS: Action[];
export declare const STATUSES: Status[];
export declare const LEVELS: Level[];
export declare const OPEN: Status[];
export declare const DEADLINE_RUNS: Status[];
export declare const WITH_HANDLER: Status[];
export declare const ACTION_MESSAGE_PREFIX: string;
export declare function needsNote(action: Action): boolean;
export declare function takesNote(action: Action): boolean;
export declare function roleLevel(role: string): Level | undefined;
export declare function levelUp(level: string): Level | undefined;
export declare function check(who: Who | 'server', facts: Facts, action: Action): Checked;
export declare function available(who: Who | 'server', facts: Facts): Action[];
export declare function dueAt(acceptedAt: number, handlingHours: number, urgent: boolean): number;
export declare function statusesOf(A: Am, doc: Automerge.Doc<unknown>): string[];
export declare function readWorkflow(A: Am, doc: Automerge.Doc<unknown>): Workflow;
export declare function factsOf(w: Workflow, fieldResolvable: boolean | undefined): Facts;
export declare function perform<T>(
  A: Am,
  doc: Automerge.Doc<T>,
  facts: Facts,
  action: Action,
  by: number,
  at: number,
  params?: Params,
): Automerge.Doc<T>;
