// Generated from sync/src/ (rules.rs, protocol.rs, ingest/) by `HAITANG_BLESS=1 cargo test -p haitang-sync generated`.
// Do not edit: change the Rust and run that command.

export type Action = 'report' | 'resolve_on_spot' | 'withdraw' | 'resubmit' | 'accept' | 'return' | 'assign' | 'dispatch' | 'escalate' | 'verify' | 'close' | 'close_duplicate' | 'reopen' | 'start' | 'report_back' | 'hand_back' | 'urge';
export type Status = 'reported' | 'accepted' | 'dispatched' | 'in_progress' | 'resolved' | 'verified' | 'closed' | 'returned' | 'withdrawn';
export type Level = 'community' | 'workstation' | 'street' | 'district';
export type Field = 'status' | 'level' | 'assignee' | 'department' | 'due_at' | 'urged' | 'duplicate_of';
export type Role = 'leader' | 'grid_staff' | 'community_supervisor' | 'workstation_supervisor' | 'street_supervisor' | 'district_admin' | 'department_handler';
export type Actor = 'creation' | 'supervisor' | 'supervisor_or_above' | 'reporter' | 'handler' | 'field_staff';
export type Note = 'none' | 'optional' | 'required';
export type Write = 'param' | 'clear' | 'raise' | 'mark';

export interface Rule {
  /** The statuses it may be taken from. */
  from: Status[];
  /** The status after it; null leaves it. */
  to: Status | null;
  /** The other workflow fields it writes, and how. */
  writes: [Field, Write][];
  actor: Actor;
  /** Whether the server's jobs take it too. */
  server: boolean;
  note: Note;
}

export interface Rules {
  actions: Action[];
  statuses: Status[];
  levels: Level[];
  fields: Field[];
  roles: Role[];
  field_roles: Role[];
  role_levels: Partial<Record<Role, Level>>;
  open: Status[];
  deadline_runs: Status[];
  with_handler: Status[];
  rules: Record<Action, Rule>;
}

declare const RULES: Rules;
export default RULES;
